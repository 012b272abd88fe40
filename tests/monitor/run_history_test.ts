import assert from "node:assert/strict";
import { stateFileStem } from "../../lib/ledger/ledger_file.ts";
import {
  nextRunHistory,
  readRunHistory,
  recordRun,
  RUN_FILE,
  RUN_TEMP_FILE,
  runHistoryPath,
} from "../../lib/monitor/run_history.ts";
import { runRecord } from "../../lib/monitor/run_record.ts";

const at = (s: number) => new Date(Date.UTC(2026, 7, 1, 2, 0, s));
const run = (exitCode: number, s: number, destination = "dc 10.0.0.1:8307") =>
  runRecord({
    destination,
    source: "report",
    started: at(s),
    finished: at(s + 30),
    exitCode,
    error: exitCode ? `failed with ${exitCode}` : undefined,
  });

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qc-history-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("nextRunHistory(): the last run is always the new one; the last success only on exit 0", () => {
  let h = nextRunHistory(undefined, run(5, 0));
  assert.equal(h.last.exit_code, 5);
  assert.equal(h.last_success, null);
  h = nextRunHistory(h, run(0, 100));
  assert.equal(h.last_success?.finished, "2026-08-01T02:02:10Z");
  h = nextRunHistory(h, run(6, 200));
  assert.deepEqual(h.last, {
    started: "2026-08-01T02:03:20Z",
    finished: "2026-08-01T02:03:50Z",
    duration_seconds: 30,
    exit_code: 6,
    error: "failed with 6",
  });
  assert.equal(h.last_success?.finished, "2026-08-01T02:02:10Z");
});

Deno.test("recordRun() writes run-<stem>.json, 0600, beside the ledger's stem, at every run", async () => {
  await withDir(async (dir) => {
    const owner = { destination: "dc 10.0.0.1:8307" };
    await recordRun(dir, run(0, 0));
    await recordRun(dir, run(3, 100));
    const path = await runHistoryPath(dir, owner);
    assert.equal(path, `${dir}/run-${await stateFileStem(owner)}.json`);
    assert.match(path.slice(dir.length + 1), RUN_FILE);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const h = await readRunHistory(path, owner);
    assert.equal(h?.last.exit_code, 3);
    assert.equal(h?.last_success?.exit_code, 0);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [
      path.slice(dir.length + 1),
    ]);
    // a variant has its own
    await recordRun(dir, run(0, 200), { variant: "42" });
    const v = await readRunHistory(await runHistoryPath(dir, { ...owner, variant: "42" }), {
      ...owner,
      variant: "42",
    });
    assert.equal(v?.variant, "42");
    assert.equal(v?.last.exit_code, 0);
  });
});

Deno.test("readRunHistory(): a damaged or foreign file is reported and read as none; recordRun() replaces it", async () => {
  await withDir(async (dir) => {
    const owner = { destination: "dc 10.0.0.1:8307" };
    const path = await runHistoryPath(dir, owner);
    const cases: [string, string][] = [
      ["{", "not JSON"],
      ['{"format":"something else"}', "not a run history"],
      [
        JSON.stringify({ ...JSON.parse(JSON.stringify(nextRunHistory(undefined, run(0, 0)))) }),
        "not a run history",
      ],
    ];
    for (const [text, why] of cases) {
      await Deno.writeTextFile(path, text);
      const said: string[] = [];
      assert.equal(
        await readRunHistory(path, { ...owner, onDamaged: (m) => said.push(m) }),
        undefined,
      );
      assert.deepEqual(said, [`${path}: the run history is damaged (${why}): read as none`]);
    }
    await recordRun(dir, run(0, 0, "csv /x.csv"));
    const other = await runHistoryPath(dir, { destination: "csv /x.csv" });
    await Deno.copyFile(other, path);
    const said: string[] = [];
    assert.equal(
      await readRunHistory(path, { ...owner, onDamaged: (m) => said.push(m) }),
      undefined,
    );
    assert.match(said[0]!, /it is another destination's \(csv \/x\.csv\)/);
    const h = await recordRun(dir, run(4, 10), { onDamaged: () => {} });
    assert.equal(h.last.exit_code, 4);
    assert.equal(h.last_success, null);
  });
});

Deno.test("RUN_TEMP_FILE matches the temp file of the history's write", async () => {
  await withDir(async (dir) => {
    const temps: string[] = [];
    const rename = Deno.rename;
    Deno.rename = (from, to) => {
      temps.push(String(from).slice(String(from).lastIndexOf("/") + 1));
      return rename(from, to);
    };
    try {
      await recordRun(dir, run(0, 0));
    } finally {
      Deno.rename = rename;
    }
    assert.equal(temps.length, 1);
    assert.match(temps[0]!, RUN_TEMP_FILE);
  });
});
