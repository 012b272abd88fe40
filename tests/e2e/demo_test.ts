/**
 * `deno task demo`, both jobs, as a user runs them: each ends with exit 0, and what it prints
 * shows the Defense Center simulator holding what Qualys said.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname;

async function demo(...args: string[]): Promise<{ code: number; out: string }> {
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task = (tasks.demo as string).split(/\s+/).slice(1); // "run", its flags, the script
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...task, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/**
 * A demo removes its temp directory at the end: it names no path in it (a user would look there
 * and find nothing), and points at `deno task sim` for a directory that stays.
 */
function assertNoDeletedPath(out: string): void {
  assert.doesNotMatch(out, /qualys_connector-demo-/);
  assert.match(out, /removed at the end; `deno task sim` keeps one/);
}

Deno.test("deno task demo: the report job against both simulators ends with exit 0 and fills the DC's map", async () => {
  const { code, out } = await demo();
  assert.equal(code, 0, out);
  assert.match(out, /reports launched 1, deleted 1\. The DC processed \d+ messages; exit status 0/);
  assert.match(out, /^ {2}\S+ {2}QualysGuard: [1-9]\d* results$/m);
  assertNoDeletedPath(out);
});

Deno.test("deno task demo -- --detections: the second night removes fixed findings and a purged host's, and the map equals Qualys", async () => {
  const { code, out } = await demo("--detections");
  assert.equal(code, 0, out);
  assert.match(
    out,
    /demo: [1-9]\d* fixed findings removed, [1-9]\d* of the purged host removed, \d+ added; .* \(the same\)/,
  );
  assert.match(out, /host \d+ \(\S+\) purged from Qualys/);
  assert.match(
    out,
    /the purged host's address \S+: [1-9]\d* results before night 2, 0 after \(cleared\)/,
  );
  assert.match(out, /Summary: .*; 1 hosts no longer in Qualys, cleared;/);
  assert.match(out, /sync-.*\.json \(\d+ bytes, mode 600\): dc .*, checkpoint \d{4}-/);
  assertNoDeletedPath(out);
});
