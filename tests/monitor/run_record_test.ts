import assert from "node:assert/strict";
import { LocalIoError } from "../../lib/errors.ts";
import { oneLine, runRecord, writeRunRecord } from "../../lib/monitor/run_record.ts";

const facts = {
  destination: "dc 10.0.0.1:8307",
  source: "detections",
  started: new Date("2026-08-01T02:00:00.100Z"),
  finished: new Date("2026-08-01T02:00:42.600Z"),
};

Deno.test("runRecord() has exactly the fields of issue 20, in its order", () => {
  const record = runRecord({
    ...facts,
    exitCode: 0,
    counts: {
      hosts_sent: 1,
      results_sent: 2,
      hosts_cleared: 3,
      hosts_unchanged: 4,
      hosts_refreshed: 5,
      lines_sent: 6,
      bytes_sent: 7,
      api_calls: 8,
      bytes_downloaded: 9,
    },
    checkpoint: "2026-08-01T01:59:00Z",
  });
  assert.deepEqual(Object.entries(record), [
    ["destination", "dc 10.0.0.1:8307"],
    ["source", "detections"],
    ["started", "2026-08-01T02:00:00Z"],
    ["finished", "2026-08-01T02:00:42Z"],
    ["duration_seconds", 42.5],
    ["exit_code", 0],
    ["error", null],
    ["hosts_sent", 1],
    ["results_sent", 2],
    ["hosts_cleared", 3],
    ["hosts_unchanged", 4],
    ["hosts_refreshed", 5],
    ["lines_sent", 6],
    ["bytes_sent", 7],
    ["api_calls", 8],
    ["bytes_downloaded", 9],
    ["checkpoint", "2026-08-01T01:59:00Z"],
  ]);
});

Deno.test("runRecord(): error is null on exit 0, one line otherwise (also exit 6); checkpoint null when none", () => {
  const ok = runRecord({ ...facts, exitCode: 0, error: new Error("ignored") });
  assert.equal(ok.error, null);
  assert.equal(ok.checkpoint, null);
  const rejected = runRecord({
    ...facts,
    exitCode: 6,
    error: new Error("the Defense Center rejected 2 commands:\n  line 7: bad QID"),
  });
  assert.equal(rejected.error, "the Defense Center rejected 2 commands: line 7: bad QID");
  assert.equal(runRecord({ ...facts, exitCode: 1 }).error, "unknown error");
  assert.equal(oneLine("x".repeat(2000)).length, 1000);
});

Deno.test("writeRunRecord() replaces a file atomically: a new one 0644, an existing one keeps its mode, nothing else left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-record-" });
  try {
    const path = `${dir}/run.json`;
    const record = runRecord({ ...facts, exitCode: 3, error: "login failed" });
    await writeRunRecord(path, record);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    const text = await Deno.readTextFile(path);
    assert.ok(text.endsWith("}\n"));
    assert.deepEqual(JSON.parse(text), record);
    await Deno.chmod(path, 0o600);
    await writeRunRecord(path, { ...record, exit_code: 0, error: null });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(JSON.parse(await Deno.readTextFile(path)).exit_code, 0);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["run.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeRunRecord('-') writes the record to standard output", async () => {
  const chunks: Uint8Array[] = [];
  const stdout = { write: (p: Uint8Array) => Promise.resolve(chunks.push(p.slice()) && p.length) };
  const record = runRecord({ ...facts, exitCode: 0 });
  await writeRunRecord("-", record, { stdout });
  const text = new TextDecoder().decode(chunks[0]);
  assert.deepEqual(JSON.parse(text), record);
  const broken = { write: () => Promise.reject(new Deno.errors.BrokenPipe("Broken pipe")) };
  await assert.rejects(writeRunRecord("-", record, { stdout: broken }), (error) => {
    assert.ok(error instanceof LocalIoError);
    assert.equal(error.path, "stdout");
    return true;
  });
});

Deno.test("writeRunRecord() to a directory that does not exist is a LocalIoError naming the file (exit 7)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-record-" });
  try {
    const path = `${dir}/no/run.json`;
    await assert.rejects(writeRunRecord(path, runRecord({ ...facts, exitCode: 0 })), (error) => {
      assert.ok(error instanceof LocalIoError);
      assert.equal(error.path, path);
      assert.equal(error.exitCode, 7);
      assert.match(error.message, /cannot write the run record \(-json, json_file\): /);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
