/**
 * Local files and streams, end to end: what `-csvfile` names (links, FIFOs, devices), failures
 * to read or write (exit 7, or 2 for a wrong path), a closed stdout pipe, errors on stderr,
 * SIGHUP and the temp files of killed runs. A full disk is simulated with RLIMIT_FSIZE (`ulimit
 * -f`, SIGXFSZ ignored): a write past the limit fails with EFBIG, as one on a full disk fails
 * with ENOSPC.
 */

import assert from "node:assert/strict";
import { type CliResult, MAIN, runMain } from "../_cli.ts";

const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-env", "--allow-net", "--allow-run"];
const decoder = new TextDecoder();

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qc-localio-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs main.ts in a shell that first applies `setup` (e.g. `ulimit -f 1`). */
async function runInShell(
  setup: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  await runMain(["-version"]); // compiled and cached before any limit applies to Deno itself
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      `${setup}; exec "$@"`,
      "sh",
      Deno.execPath(),
      "run",
      ...PERMISSIONS,
      MAIN,
      ...args,
    ],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

const FULL_DISK = "trap '' XFSZ; ulimit -f 1"; // 1 KiB: the sample's commands take 4.6 KB

function commandFile(hosts: number): string {
  const lines = ["SetSource,Bulk"];
  for (let i = 0; i < hosts; i++) {
    lines.push(`AddHost,10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  }
  return `${lines.join("\n")}\n`;
}

// ---- local I/O failures: exit 7 with the file and the fix ----

Deno.test("main exits 7 naming the spool and TMPDIR when the temp directory is full", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/tmp`);
    await Deno.writeTextFile(`${dir}/cmds.csv`, commandFile(200));
    const r = await runInShell(FULL_DISK, ["csv", "-pl", "cmds.csv", "-c", "-"], {
      cwd: dir,
      env: { TMPDIR: `${dir}/tmp` },
    });
    assert.equal(r.code, 7, r.stderr);
    assert.match(
      r.stderr,
      /\/tmp\/qualys_connector-commands-\w+: cannot write the command spool: File too large \(os error 27\): set TMPDIR to a writable directory on a file system with more free space/,
    );
    assert.equal(r.stdout, "");
    assert.deepEqual([...Deno.readDirSync(`${dir}/tmp`)], [], "the spool is removed");
  });
});

Deno.test("main exits 7 when TMPDIR cannot take the spool at all", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/cmds.csv`, commandFile(2));
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    const r = await runMain(["csv", "-pl", "cmds.csv", "-c", "-"], {
      cwd: dir,
      env: { TMPDIR: `${dir}/not-a-dir` },
    });
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /not-a-dir: cannot create the command spool there: .*set TMPDIR/);
  });
});

Deno.test("main -report DIRECTORY and csv -plugininfo DIRECTORY are usage errors naming it", async () => {
  await withTempDir(async (dir) => {
    for (
      const [args, message] of [
        [
          ["-r", dir, "-c", "-"],
          /: cannot read the report: Is a directory .*check the -report path/,
        ],
        [["csv", "-pl", dir, "-c", "-"], /: cannot read the command file: Is a directory/],
      ] as const
    ) {
      const r = await runMain([...args], { cwd: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.ok(r.stderr.includes(dir), r.stderr);
    }
  });
});
