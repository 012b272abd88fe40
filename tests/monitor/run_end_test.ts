import assert from "node:assert/strict";
import { parseArgv } from "../../lib/cli/parse_argv.ts";
import { DcError, QualysApiError } from "../../lib/errors.ts";
import { memoryLog, NO_LOG } from "../../lib/log/log.ts";
import { Logger } from "../../lib/log/logger.ts";
import { parseMetrics } from "../../lib/monitor/metrics_file.ts";
import { recorderFor, RunRecorder } from "../../lib/monitor/run_end.ts";
import { readRunHistory, runHistoryPath } from "../../lib/monitor/run_history.ts";
import { workDir } from "../_workdir.ts";

const counts = (results: number) => ({
  hostsSent: 1,
  resultsSent: results,
  hostsCleared: 0,
  hostsUnchanged: 2,
  hostsRefreshed: 1,
  linesSent: results + 2,
  bytesSent: 100 * results,
});

/** A clock that moves a second each time it is read. */
function clock(): () => Date {
  let t = Date.UTC(2026, 7, 1, 2, 0, 0);
  return () => new Date(t += 1000);
}

Deno.test("RunRecorder with -multiinfo: one record for the run (worst status, sums, the first error), one history per template", async () => {
  await using dir = await workDir();
  const state = `${dir.path}/state`;
  const recorder = new RunRecorder({
    destination: "csv /out/Output.csv",
    jsonFile: `${dir.path}/run.json`,
    metricsFile: `${dir.path}/qc.prom`,
    now: clock(),
  });
  await recorder.configure({ source: "report", stateDir: state }, { log: NO_LOG });
  recorder.jobStarted("1");
  recorder.traffic.calls += 4;
  recorder.counted(counts(10));
  recorder.jobStarted("2");
  recorder.failed(new QualysApiError("Qualys said no"), { prefix: "template 2", inJob: true });
  recorder.jobStarted("3");
  recorder.counted(counts(5));
  recorder.failed(new DcError("refused"), { prefix: "template 3", inJob: true });
  assert.equal(await recorder.end(5, NO_LOG), 5);

  const record = JSON.parse(await Deno.readTextFile(`${dir.path}/run.json`));
  assert.equal(record.exit_code, 5);
  assert.equal(record.error, "template 2: Qualys said no");
  assert.equal(record.results_sent, 15);
  assert.equal(record.hosts_unchanged, 4);
  assert.equal(record.hosts_refreshed, 2);
  assert.equal(record.api_calls, 4);
  assert.equal(record.duration_seconds, 7); // the clock moves a second at each reading
  const families = parseMetrics(await Deno.readTextFile(`${dir.path}/qc.prom`));
  assert.deepEqual(families.get("qualys_connector_last_exit_code")?.samples.map((s) => s.value), [
    "5",
  ]);
  const history = async (variant: string) =>
    await readRunHistory(
      await runHistoryPath(state, { destination: record.destination, variant }),
      {
        destination: record.destination,
        variant,
      },
    );
  assert.deepEqual(
    await Promise.all(["1", "2", "3"].map(async (v) => (await history(v))?.last.exit_code)),
    [0, 3, 5],
  );
  assert.equal((await history("2"))?.last.error, "Qualys said no");
  assert.equal((await history("1"))?.last.duration_seconds, 1);
});

Deno.test("RunRecorder: a signal during a template's job ends it with the signal; end() twice writes once", async () => {
  await using dir = await workDir();
  const recorder = new RunRecorder({
    destination: "csv /o.csv",
    jsonFile: `${dir.path}/run.json`,
    now: clock(),
  });
  await recorder.configure({ source: "report", stateDir: dir.path }, { log: NO_LOG });
  recorder.jobStarted("7");
  const [a, b] = await Promise.all([
    recorder.end(143, NO_LOG, "Stopped by SIGTERM (exit 143)"),
    recorder.end(0, NO_LOG),
  ]);
  assert.deepEqual([a, b], [143, 143]);
  const record = JSON.parse(await Deno.readTextFile(`${dir.path}/run.json`));
  assert.equal(record.error, "Stopped by SIGTERM (exit 143)");
  const history = await readRunHistory(
    await runHistoryPath(dir.path, { destination: "csv /o.csv", variant: "7" }),
    { destination: "csv /o.csv", variant: "7" },
  );
  assert.equal(history?.last.exit_code, 143);
  assert.equal(history?.last_success, null);
});

Deno.test("RunRecorder: the YAML's files, the command line's winning; the Defense Center's domain in its name; a name without .prom warned", async () => {
  await using dir = await workDir();
  const cli = parseArgv(["-server", "fmc", "-json", `${dir.path}/cli.json`]);
  const recorder = recorderFor(cli);
  const log = memoryLog();
  await recorder.configure({
    source: "detections",
    jsonFile: `${dir.path}/yaml.json`,
    metricsFile: `${dir.path}/qc.txt`,
    checkpoint: (destination) =>
      Promise.resolve(
        destination === "dc fmc:8307 domain Global \\ East" ? "2026-08-01T01:00:00Z" : null,
      ),
  }, { domain: "Global \\ East", log });
  assert.match(log.lines.warn[0]!, /qc\.txt does not end in \.prom: node_exporter's textfile/);
  assert.equal(await recorder.end(0, NO_LOG), 0);
  const record = JSON.parse(await Deno.readTextFile(`${dir.path}/cli.json`));
  assert.equal(record.destination, "dc fmc:8307 domain Global \\ East");
  assert.equal(record.checkpoint, "2026-08-01T01:00:00Z");
  assert.equal(record.source, "detections");
  assert.throws(() => Deno.statSync(`${dir.path}/yaml.json`));
  assert.match(await Deno.readTextFile(`${dir.path}/qc.txt`), /domain Global \\\\ East/);
});

Deno.test("recorderFor(): no destination, -check, -status and -dry-run record nothing", async () => {
  await using dir = await workDir();
  const json = `${dir.path}/run.json`;
  for (
    const argv of [
      ["-json", json],
      ["-c", "-", "-check", "-json", json],
      ["-c", "o.csv", "-status", "-json", json],
      ["-c", "o.csv", "-dry-run", "-json", json],
    ]
  ) {
    const recorder = recorderFor(parseArgv(argv));
    await recorder.configure({ source: "report", stateDir: dir.path }, { log: NO_LOG });
    assert.equal(await recorder.end(3, NO_LOG, "failed"), 3);
    assert.deepEqual([...Deno.readDirSync(dir.path)], [], argv.join(" "));
  }
});

Deno.test("RunRecorder: what killed runs left a day ago goes: the history's temp files in the state directory, the record's and the metrics' beside them", async () => {
  await using dir = await workDir();
  const state = `${dir.path}/state`;
  await Deno.mkdir(state);
  const old = new Date(Date.now() - 2 * 86_400_000);
  const leftovers = [
    `${state}/.run-0123456789abcdef.json.0a1b2c3d4e5f6789.tmp`,
    `${dir.path}/.run.json.0a1b2c3d4e5f6789.tmp`,
    `${dir.path}/.qc.prom.0a1b2c3d4e5f6789.tmp`,
  ];
  const fresh = `${dir.path}/.qc.prom.ffffffffffffffff.tmp`; // a run writing it now
  for (const path of [...leftovers, fresh]) await Deno.writeTextFile(path, "half");
  for (const path of leftovers) await Deno.utime(path, old, old);
  const recorder = new RunRecorder({
    destination: "csv /o.csv",
    jsonFile: `${dir.path}/run.json`,
    metricsFile: `${dir.path}/qc.prom`,
  });
  await recorder.configure({ source: "report", stateDir: state }, { log: NO_LOG });
  assert.equal(await recorder.end(0, NO_LOG), 0);
  for (const path of leftovers) assert.throws(() => Deno.statSync(path), path);
  assert.ok(Deno.statSync(fresh).isFile);
});

Deno.test("recorderFor(): a secret the log masks is masked in the record's and the history's error too", async () => {
  await using dir = await workDir();
  const log = new Logger({ level: 0, logfile: `${dir.path}/qc.log` });
  log.addSecret("s3cr3t!pass");
  try {
    const recorder = recorderFor(
      parseArgv(["-c", "o.csv", "-json", `${dir.path}/run.json`]),
      log,
    );
    await recorder.configure({ source: "report", stateDir: dir.path }, { log: NO_LOG });
    recorder.failed(new Error("the proxy said s3cr3t!pass is wrong"));
    await recorder.end(3, NO_LOG);
    const written = await Deno.readTextFile(`${dir.path}/run.json`);
    assert.equal(JSON.parse(written).error, "the proxy said **** is wrong");
    for (const e of Deno.readDirSync(dir.path)) {
      assert.ok(!Deno.readTextFileSync(`${dir.path}/${e.name}`).includes("s3cr3t"), e.name);
    }
  } finally {
    await log.close();
  }
});

Deno.test("recorderFor() with -multiinfo to a Defense Center: one history for the run, as the DC keeps one record for all the templates", async () => {
  await using dir = await workDir();
  const recorder = recorderFor(parseArgv(["-server", "fmc", "-m", "1,2"]));
  await recorder.configure({ source: "report", stateDir: dir.path }, { log: NO_LOG });
  recorder.jobStarted("1");
  recorder.failed(new QualysApiError("no such template"), { prefix: "template 1", inJob: true });
  recorder.jobStarted("2");
  assert.equal(await recorder.end(3, NO_LOG), 3);
  const names = [...Deno.readDirSync(dir.path)].map((e) => e.name);
  assert.deepEqual(names, [
    (await runHistoryPath(dir.path, { destination: "dc fmc:8307" })).slice(dir.path.length + 1),
  ]);
  const history = await readRunHistory(`${dir.path}/${names[0]}`, { destination: "dc fmc:8307" });
  assert.equal(history?.last.exit_code, 3);
  assert.equal(history?.last.error, "template 1: no such template");
});
