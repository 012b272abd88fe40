import assert from "node:assert/strict";
import { LocalIoError } from "../../lib/errors.ts";
import { FindingSpool } from "../../lib/findings/finding_spool.ts";
import { FULL_DISK, runInShell } from "../_shell.ts";

const one = [new Uint32Array([6]), new Uint16Array([0]), new Uint8Array([0])] as const;

Deno.test("FindingSpool names the temp directory and the fix when it cannot spill there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-fspool-" });
  try {
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    const spool = new FindingSpool({ memoryLimit: 64, tempDir: `${dir}/not-a-dir` });
    assert.throws(
      () => {
        for (let i = 0; i < 100; i++) spool.addHost(`10.0.0.${i}`, 1, ...one);
      },
      (e: LocalIoError) => {
        assert.ok(e instanceof LocalIoError);
        assert.match(e.message, /not-a-dir: cannot create the finding spool there: .*set TMPDIR/);
        assert.equal(e.exitCode, 7);
        return true;
      },
    );
    spool.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FindingSpool says which file and what to do when the file system is full", async () => {
  // A child process on a full disk (see tests/_shell.ts).
  const dir = await Deno.makeTempDir({ prefix: "qc-fspool-" });
  try {
    const module = new URL("../../lib/findings/finding_spool.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/child.ts`,
      `import { FindingSpool } from "${module}";
      const spool = new FindingSpool({ memoryLimit: 64, tempDir: "${dir}" });
      const q = new Uint32Array([6]), p = new Uint16Array([0]), t = new Uint8Array([0]);
      try {
        for (let i = 0; i < 1000; i++) spool.addHost("10.0.0.1", 1, q, p, t);
      } catch (e) {
        console.log(JSON.stringify({ name: e.name, message: e.message, code: e.exitCode }));
      } finally {
        spool.dispose();
      }`,
    );
    const { stdout } = await runInShell(FULL_DISK, [
      Deno.execPath(),
      "run",
      "--allow-read",
      "--allow-write",
      `${dir}/child.ts`,
    ]);
    const got = JSON.parse(stdout);
    assert.equal(got.name, "LocalIoError");
    assert.equal(got.code, 7);
    assert.match(
      got.message,
      /qualys_connector-spool-\w+: cannot write the finding spool: File too large .*set TMPDIR/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["child.ts"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
