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
  assert.match(
    out,
    /reports launched 1, deleted 1\. The DC processed \d+ messages?; exit status 0/,
  );
  assert.match(out, /^ {2}\S+ {2}QualysGuard: [1-9]\d* results?$/m);
  assertNoDeletedPath(out);
});

Deno.test("deno task demo -- --detections: the second night removes fixed findings and a purged host's, and the map equals Qualys", async () => {
  const { code, out } = await demo("--detections");
  assert.equal(code, 0, out);
  // The figures add up: what the DC's map lost and gained is what Qualys fixed and added of the
  // severities the YAML imports, and the reason for the difference from all severities is said.
  const day =
    /demo: a day passes in Qualys: \d+ hosts scanned, (\d+) open findings fixed .*, (\d+) new or re-opened;/
      .exec(out);
  const scope =
    /demo: the connector imports severities 2-5 \(its YAML says severities: 2-5\): (\d+) of the (\d+) fixed and (\d+) of the (\d+) new are of those severities; the others never reach the DC/
      .exec(out);
  assert.ok(day && scope, out);
  assert.deepEqual([scope[2], scope[4]], [day[1], day[2]]);
  assert.match(
    out,
    new RegExp(
      `demo: ${scope[1]} fixed findings removed \\(the ${scope[1]} fixed of severity 2-5\\), ` +
        `[1-9]\\d* of the purged host removed, ${scope[3]} added \\(the ${scope[3]} new of ` +
        "severity 2-5\\); .* \\(the same\\)",
    ),
  );
  // the simulated clock is near today: night 2's checkpoint is this morning (UTC)
  const today = new Date().toISOString().slice(0, 10);
  assert.match(out, new RegExp(`checkpoint ${today}T06:00:00Z`));
  // long titles cut at a word's end (shorten's own example checks where)
  assert.ok(out.split("\n").some((l) => /^ {2}[-+] .*\S\u2026$/.test(l)), out);
  assert.match(out, /host \d+ \(\S+\) purged from Qualys/);
  assert.match(
    out,
    /the purged host's address \S+: [1-9]\d* results before night 2, 0 after \(cleared\)/,
  );
  assert.match(out, /Summary: .*; 1 host no longer in Qualys, cleared;/);
  assert.match(out, /sync-.*\.json \(\d+ bytes, mode 600\): dc .*, checkpoint \d{4}-/);
  assertNoDeletedPath(out);
});
