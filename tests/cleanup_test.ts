import assert from "node:assert/strict";
import { onCleanup, runCleanups } from "../lib/cleanup.ts";
import { openCsvFileSink } from "../lib/sinks/csv_file_sink.ts";

Deno.test("runCleanups removes the CSV temp file of a sink that was never closed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = await openCsvFileSink(`${dir}/out.csv`);
    await sink.write(new TextEncoder().encode("SetSource,x\n"));
    assert.equal([...Deno.readDirSync(dir)].length, 1);
    runCleanups();
    assert.deepStrictEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("onCleanup actions run once and can be unregistered", () => {
  let runs = 0;
  onCleanup(() => runs++);
  const off = onCleanup(() => runs += 100);
  off();
  runCleanups();
  runCleanups();
  assert.equal(runs, 1);
});
