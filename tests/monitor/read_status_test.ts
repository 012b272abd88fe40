import assert from "node:assert/strict";
import { LedgerFile } from "../../lib/ledger/ledger_file.ts";
import { dayNumber, dueForRefresh } from "../../lib/ledger/refresh.ts";
import { memoryLog } from "../../lib/log/log.ts";
import { nextRunDay, readStatus, statusText } from "../../lib/monitor/read_status.ts";
import { recordRun } from "../../lib/monitor/run_history.ts";
import { runRecord } from "../../lib/monitor/run_record.ts";
import { NoStateDirectoryError } from "../../lib/monitor/status.ts";
import { workDir } from "../_workdir.ts";

const now = new Date(2026, 7, 3, 10, 0); // local time, as the ledger's days are
const today = dayNumber(now);

Deno.test("readStatus() joins each destination's history, checkpoint and ledger; a sync state alone is a destination too", async () => {
  await using dir = await workDir();
  const ran = new Date(2026, 7, 3, 2, 30);
  await recordRun(
    dir.path,
    runRecord({
      destination: "dc a:8307",
      source: "detections",
      started: ran,
      finished: ran,
      exitCode: 0,
    }),
  );
  await recordRun(
    dir.path,
    runRecord({
      destination: "csv /o.csv",
      source: "report",
      started: ran,
      finished: ran,
      exitCode: 3,
    }),
    { variant: "424242" },
  );
  // what dc a holds: 200 hosts, sent 3 days ago
  const file = await LedgerFile.open(dir.path, { destination: "dc a:8307" });
  const next = file.ledger.builder({ today: today - 3 });
  const addresses = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  for (const ip of addresses) next.set(ip, { digest: new Uint8Array(8), fingerprints: [1, 2] });
  await file.save(next);

  const statuses = await readStatus(dir.path, {
    refreshDays: 7,
    checkpoints: new Map([["dc a:8307", "2026-08-03T01:59:00Z"], ["dc b:8307", ""]]),
    now,
  });
  const byName = new Map(statuses.map((s) => [`${s.destination}|${s.variant ?? ""}`, s]));
  assert.deepEqual([...byName.keys()].sort(), ["csv /o.csv|424242", "dc a:8307|", "dc b:8307|"]);
  const a = byName.get("dc a:8307|")!;
  assert.equal(a.history?.last.exit_code, 0);
  assert.equal(a.checkpoint, "2026-08-03T01:59:00Z");
  // a run ended today: the next one is tomorrow's
  const day = today + 1;
  const due =
    addresses.filter((ip) =>
      dueForRefresh(ip, { lastSentDay: today - 3, today: day, refreshDays: 7 })
    ).length;
  assert.deepEqual(a.ledger, { hosts: 200, results: 400, uncertain: 0, due, refreshDays: 7 });
  assert.ok(due > 0 && due < 200, String(due));
  assert.equal(byName.get("dc b:8307|")?.checkpoint, "");
  assert.equal(byName.get("dc b:8307|")?.history, undefined);
  assert.equal(byName.get("csv /o.csv|424242")?.history?.last.exit_code, 3);
  assert.equal(byName.get("csv /o.csv|424242")?.ledger, undefined);
});

Deno.test("readStatus(): a damaged history is told and left out; no directory is NoStateDirectoryError naming it", async () => {
  await using dir = await workDir();
  await Deno.writeTextFile(`${dir.path}/run-0123456789abcdef.json`, "{ not json");
  const damaged: string[] = [];
  const statuses = await readStatus(dir.path, {
    refreshDays: 7,
    now,
    onDamaged: (m) => damaged.push(m),
  });
  assert.deepEqual(statuses, []);
  assert.match(
    damaged[0]!,
    /run-0123456789abcdef\.json: the run history cannot be read \(not JSON\)/,
  );
  await assert.rejects(
    readStatus(`${dir.path}/none`, { refreshDays: 7, now }),
    (e: NoStateDirectoryError) => {
      assert.ok(e instanceof NoStateDirectoryError);
      assert.equal(e.stateDir, `${dir.path}/none`);
      assert.equal(e.exitCode, 2);
      return true;
    },
  );
});

Deno.test("nextRunDay(): today, or tomorrow once a run ended today", () => {
  assert.equal(nextRunDay(now, undefined), today);
  assert.equal(nextRunDay(now, new Date(2026, 7, 2, 23, 0).toISOString()), today);
  assert.equal(nextRunDay(now, new Date(2026, 7, 3, 0, 5).toISOString()), today + 1);
});

Deno.test("statusText() prints the blocks, warning what it cannot read", async () => {
  await using dir = await workDir();
  await recordRun(
    dir.path,
    runRecord({
      destination: "dc a:8307",
      source: "report",
      started: new Date(now.getTime() - 3_600_000),
      finished: new Date(now.getTime() - 3_000_000),
      exitCode: 5,
      error: "refused",
    }),
  );
  await Deno.writeTextFile(`${dir.path}/run-0123456789abcdef.json`, "[]");
  const log = memoryLog();
  const text = await statusText(
    { stateDir: dir.path, refreshDays: 7, checkpoints: new Map() },
    { log, now },
  );
  assert.match(text, /^State directory .*: 1 destination\n\ndc a:8307\n/);
  assert.match(text, /last run: +\S+ \(50 min ago\), exit 5 after 10 min 00 s: refused\n/);
  assert.match(text, /last success: +never\n/);
  assert.equal(log.lines.warn.length, 1);
});

Deno.test("readStatus(): a file gets the whole picture every run: every host it holds is one the next run sends", async () => {
  await using dir = await workDir();
  const ran = new Date(2026, 7, 3, 2, 30);
  const destination = "csv /var/out.csv";
  await recordRun(
    dir.path,
    runRecord({ destination, source: "report", started: ran, finished: ran, exitCode: 0 }),
  );
  const file = await LedgerFile.open(dir.path, { destination });
  const next = file.ledger.builder({ today });
  const addresses = Array.from({ length: 50 }, (_, i) => `10.1.0.${i}`);
  for (const ip of addresses) next.set(ip, { digest: new Uint8Array(8), fingerprints: [1] });
  await file.save(next);
  const [status] = await readStatus(dir.path, { refreshDays: 7, now });
  // sent today: not one would be due for the rolling refresh, yet the file is written whole
  assert.deepEqual(status?.ledger, {
    hosts: 50,
    results: 50,
    uncertain: 0,
    due: 50,
    refreshDays: 7,
  });
});
