import assert from "node:assert/strict";
import { createAtomicFile } from "../../lib/util/atomic_file.ts";

const enc = new TextEncoder();

Deno.test("createAtomicFile: nothing at the target until commit; the old file stays until then; a mode is kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/out.csv`;
    await Deno.writeTextFile(path, "old\n");
    const file = await createAtomicFile(path, { mode: 0o640, syncEvery: 4 });
    for (const part of ["a\n", "bb\n", "ccc\n"]) await file.write(enc.encode(part));
    assert.equal(file.bytes, 9);
    assert.equal(await Deno.readTextFile(path), "old\n");
    assert.match(file.tempPath, /\/\.out\.csv\.[^/]+\.tmp$/);
    await file.commit();
    await file.commit(); // a second call does nothing
    assert.equal(await Deno.readTextFile(path), "a\nbb\nccc\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.csv"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createAtomicFile: discard leaves the old file and no temp file; a missing directory is the OS's error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/state.json`;
    await Deno.writeTextFile(path, "{}");
    const file = await createAtomicFile(path);
    await file.write(enc.encode('{"half":'));
    assert.equal((await Deno.stat(file.tempPath)).mode! & 0o777, 0o600);
    await file.discard();
    await file.discard();
    await file.commit(); // after discard: nothing
    assert.equal(await Deno.readTextFile(path), "{}");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["state.json"]);
    await assert.rejects(createAtomicFile(`${dir}/no/state.json`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
