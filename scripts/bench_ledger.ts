/**
 * The record of what a destination holds (issue 20, "Speed and memory"), in `deno task bench`
 * (alone: `deno task bench --ledger`, or `deno run -A scripts/bench_ledger.ts [--runs N]
 * [--hosts N] [--source report|detections] [--keep]`). Two nights to the Defense Center
 * simulator in its own process (`scripts/sim/fmc/serve.ts`, MAX_SIZE 65535), the connector run
 * as the binary runs it (`connector_command.ts`) under getrusage (`bench_measure.ts`), with
 * `refresh_days: 7`, for each source:
 *
 * - **The report source**: a generated report of 100,000 hosts × 40 findings (`gen_report.ts`,
 *   ≈2.3 GB), sent with a plugin YAML (so a record is kept); night 2 is the same estate with
 *   2 % of the hosts changed (a finding added, removed or moved to another port: exactly 2,000
 *   hosts, the same each time).
 * - **The detection source**: the Qualys API simulator in its own process
 *   (`scripts/sim/qualys/serve.ts`: 100,000 hosts × 40 detections, 20,000 QIDs, pages of 1,000
 *   hosts with 1 s of server time each, 2 % of the hosts scanned a day, its rate limit raised as
 *   in `bench_detections.ts`); night 1 a full sync, then the simulator advances a day (an
 *   `advance` line), night 2 an incremental sync.
 *
 * **A day later.** The rolling refresh resends, each night, the unchanged hosts whose slot is
 * that day (1/7 of them), but never on the day they were sent: a second night on the same day
 * sends the changed hosts only. So that night 2 is what a real second night sends, the record
 * night 1 left is made a day older before it (`ageRecord` in `bench_ledger_timing.ts`: every
 * address's last send moved back a day, through the ledger's own reader and writer): the
 * record's days are all a run reads of the clock for the refresh, so nothing in the connector
 * needs a clock of its own for the bench. What a night 2 on the same day would send is shown
 * too: a `-dry-run` before the record is aged (for the detection source, the same dry run gives
 * the incremental download: on the same day no host is due, so it fetches the changed hosts
 * only; it replaces `bench_detections.ts`'s incremental runs, which since issue 20 cannot be
 * made to a CSV: a run to a file is a full sync).
 *
 * **The record's work** (its time against the run's): timed in a process of its own with the
 * connector's permissions and V8 flags (`bench_ledger_timing.ts`), on the night's hosts and the
 * record as it was before the night: the record read, each host's block digested and compared
 * with it, the due addresses listed (the detection source's incremental run), the pending list
 * and the new record written and synced; the replay of the hosts, which a run makes anyway to
 * encode them, is left out. Its share is that time over the night's wall time without it:
 * `t / (wall − t)`. The report's hosts are parsed from the night's report as the connector
 * parses it; the detection source's are the simulator's subscription rebuilt from the same
 * options on the same day, every host with open detections on both nights (a night-2 run
 * compares only the hosts it fetched: this is more than its work).
 *
 * **Targets** (`bench_report.ts`; each source): night 2's command lines ≤ 20 % of night 1's
 * (median); the record's work adds ≤ 10 % to a night's time (median of each round's larger
 * share of the two nights); peak RSS ≤ 100 MiB (every run of both nights); the record ≤ 10 MB
 * (`ledger-*.bin` in the state directory, after each night); and for the detection source the
 * incremental download (the same-day dry run) ≤ 5 % of the full sync's bytes. `--runs N`
 * (default 3) rounds of two nights, each from an empty state directory; the record's work is
 * timed `--runs` times per night. The reports go to `bench-data/` and are removed at the end
 * unless `--keep` (or `QC_BENCH_KEEP=1`); a kept pair is used again.
 *
 * @module
 */

import { connectorArgs, RUN_FLAGS } from "./connector_command.ts";
import { writeReport } from "./gen_report.ts";
import { formatMachine, machineState } from "./bench_machine.ts";
import { type Measure, measure } from "./bench_measure.ts";
import { BenchReport, spread } from "./bench_report.ts";
import {
  ageRecord,
  type ComparisonNight,
  recordFile,
  type TimingAnswer,
  type TimingJob,
} from "./bench_ledger_timing.ts";

import type { RunRecord } from "../lib/monitor/run_record.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DATA = `${ROOT}bench-data`;
const args = Deno.args;
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const HOSTS = flag("hosts", 100_000);
const FINDINGS = flag("findings", 40);
const SHARE = flag("share", 0.02);
const RUNS = flag("runs", 3);
const LATENCY = flag("latency-ms", 1000);
const REFRESH_DAYS = 7;
const SOURCES = option("source") ? [option("source")!] : ["report", "detections"];
const KEEP = args.includes("--keep") || Deno.env.get("QC_BENCH_KEEP") === "1";
const MIB = { digits: 1, unit: " MiB" };

/** A simulator in its own process, speaking JSON lines on its stdin and stdout. */
class SimProcess {
  readonly #child: Deno.ChildProcess;
  readonly #lines: ReadableStreamDefaultReader<string>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #buf = "";

  constructor(script: string, simArgs: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}${script}`, ...simArgs],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    this.#stdin = this.#child.stdin.getWriter();
  }

  /** The next JSON line it prints. */
  async next<T>(): Promise<T> {
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        return JSON.parse(line);
      }
      const r = await this.#lines.read();
      if (r.done) throw new Error("the simulator stopped");
      this.#buf += r.value;
    }
  }

  /** Sends a command line; resolves to its answer. */
  async ask<T>(command: string): Promise<T> {
    await this.#stdin.write(new TextEncoder().encode(`${command}\n`));
    return await this.next<T>();
  }

  /** Stops it (SIGTERM) and waits for it. */
  async stop(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    await this.#child.status;
    await this.#lines.cancel().catch(() => {});
  }
}

/** The Defense Center simulator's JSON line. */
interface DcInfo {
  host: string;
  port: number;
  pkcs12: string;
  password: string;
}

/** One night: the connector's figures, its run record, the record's size after it. */
interface Night {
  m: Measure;
  run: RunRecord;
  recordBytes: number;
}

/** What a dry run says it would send, and (detections) what it downloaded. */
interface DryRun {
  lines: number;
  calls: number;
  bytes: number;
}

/**
 * The numbers of a dry run's log: `a real run would send N lines`, and the detection source's
 * `N API calls, M bytes downloaded` (0 when absent).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const log = "[INFO] Summary: ...; 6 API calls, 61900000 bytes downloaded\n" +
 *   "[INFO] Dry run: a real run would send 1537 lines (1109920 bytes): 40 changed\n";
 * assert.deepEqual(dryRunFigures(log), { lines: 1537, calls: 6, bytes: 61900000 });
 * ```
 */
export function dryRunFigures(log: string): DryRun {
  const lines = /Dry run: a real run would send (\d+) lines/.exec(log);
  if (!lines) throw new Error(`the dry run's totals are missing:\n${log.slice(-2000)}`);
  const traffic = /(\d+) API calls, (\d+) bytes downloaded/.exec(log);
  return {
    lines: Number(lines[1]),
    calls: Number(traffic?.[1] ?? 0),
    bytes: Number(traffic?.[2] ?? 0),
  };
}

/** The share a cost `t` adds to a run that took `wall` with it: t / (wall − t). */
export function addedShare(t: number, wall: number): number {
  return t / (wall - t);
}

class Nights {
  readonly dir: string;
  readonly #env: Record<string, string>;
  readonly #dcArgs: string[];

  constructor(dir: string, dc: DcInfo) {
    this.dir = dir;
    this.#env = { QC_PKCS12_PASSWORD: dc.password };
    this.#dcArgs = [`-server=${dc.host}`, `-port=${dc.port}`, `-pkcs12=${dc.pkcs12}`];
  }

  /** One night: the connector to the Defense Center, with its run record. */
  async night(connector: string[], stateDir: string): Promise<Night> {
    const json = `${this.dir}/run.json`;
    const m = await this.#run([...connector, "-json", json]);
    const run: RunRecord = JSON.parse(await Deno.readTextFile(json));
    const record = await recordFile(stateDir);
    if (!record) throw new Error(`no record in ${stateDir} after the night`);
    return { m, run, recordBytes: (await Deno.stat(record)).size };
  }

  /** The same run with `-dry-run`: what it would send. */
  async dryRun(connector: string[]): Promise<DryRun> {
    return dryRunFigures((await this.#run([...connector, "-dry-run"])).output);
  }

  async #run(connector: string[]): Promise<Measure> {
    const cmd = [Deno.execPath(), ...connectorArgs([...this.#dcArgs, ...connector])];
    const m = await measure(cmd, { cwd: this.dir, env: this.#env, capture: true, check: false });
    if (m.code !== 0) {
      const error = /\[ERROR\] (.*)$/m.exec(m.output)?.[1] ?? "";
      throw new Error(`the connector exited with ${m.code}: ${error}\n${m.output.slice(-3000)}`);
    }
    return m;
  }
}

/** Times the record's work in a child process with the connector's flags. */
async function timeRecord(job: TimingJob): Promise<TimingAnswer> {
  const file = await Deno.makeTempFile({ prefix: "qc-bench-timing-", suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(job));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...RUN_FLAGS, `${ROOT}scripts/bench_ledger_timing.ts`, file],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (out.code !== 0) throw new Error(`the record's timing exited with ${out.code}`);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/** The figures of the rounds of one source, and its targets. */
interface Rounds {
  night1: Night[];
  night2: Night[];
  sameDay: DryRun[];
  timing: TimingAnswer;
}

const ratios = (a: number[], b: number[]) => spread(a.map((x, i) => x / b[i]!));
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function printRounds(report: BenchReport, name: string, r: Rounds): void {
  const lines1 = r.night1.map((n) => n.run.lines_sent);
  const lines2 = r.night2.map((n) => n.run.lines_sent);
  const n2 = r.night2[0]!.run;
  const secs = (ns: Night[]) => spread(ns.map((n) => n.m.seconds));
  console.log(`night 1 (${r.night1[0]!.run.hosts_sent} hosts sent):`);
  report.figure("command lines", spread(lines1));
  report.figure("wall time", secs(r.night1), { digits: 1, unit: " s" });
  report.figure("peak RSS", spread(r.night1.map((n) => n.m.rssMiB)), MIB);
  report.figure("record", spread(r.night1.map((n) => n.recordBytes / 1e6)), {
    digits: 2,
    unit: " MB",
  });
  console.log("night 2 on the same day (a dry run: no host is due for the refresh yet):");
  report.figure("command lines", spread(r.sameDay.map((d) => d.lines)));
  report.figure("of night 1's", ratios(r.sameDay.map((d) => d.lines), lines1), {
    digits: 1,
    scale: 100,
    unit: " %",
  });
  console.log(
    `night 2, a day later (${n2.hosts_sent - n2.hosts_refreshed} hosts changed or added, ` +
      `${n2.hosts_refreshed} refreshed, ${n2.hosts_cleared} cleared, ${n2.hosts_unchanged} ` +
      "unchanged and not sent):",
  );
  report.figure("command lines", spread(lines2));
  report.figure("wall time", secs(r.night2), { digits: 1, unit: " s" });
  report.figure("peak RSS", spread(r.night2.map((n) => n.m.rssMiB)), MIB);
  report.figure("record", spread(r.night2.map((n) => n.recordBytes / 1e6)), {
    digits: 2,
    unit: " MB",
  });
  const work = r.timing.map((runs) => runs.map((t) => t.seconds - t.replaySeconds));
  const share = (night: number, ns: Night[]) =>
    work[night]!.map((t, i) => addedShare(t, ns[i % ns.length]!.m.seconds));
  const [s1, s2] = [share(0, r.night1), share(1, r.night2)];
  const [t1, t2] = r.timing;
  console.log(
    `the record's work (read, ${t1![0]!.hosts} and ${t2![0]!.hosts} hosts digested and ` +
      `compared, written: ${mb(t2![0]!.recordBytes)}; the replay of the hosts apart, ` +
      `${t2![0]!.replaySeconds.toFixed(1)} s):`,
  );
  report.figure("night 1", spread(work[0]!), { digits: 2, unit: " s" });
  report.figure("its share of night 1", spread(s1), { digits: 1, scale: 100, unit: " %" });
  report.figure("night 2", spread(work[1]!), { digits: 2, unit: " s" });
  report.figure("its share of night 2", spread(s2), { digits: 1, scale: 100, unit: " %" });

  console.log(`\ntargets of the record, ${name}:`);
  report.target(`${name}: command lines, night 2 / night 1`, ratios(lines2, lines1), {
    atMost: 0.2,
    digits: 1,
    scale: 100,
    unit: " %",
  });
  const rounds = Math.min(s1.length, s2.length);
  report.target(
    `${name}: the record's work adds to a night (the larger of the two)`,
    spread(Array.from({ length: rounds }, (_, i) => Math.max(s1[i]!, s2[i]!))),
    { atMost: 0.1, digits: 1, scale: 100, unit: " %" },
  );
  report.target(
    `${name}: peak RSS, each night`,
    spread([...r.night1, ...r.night2].map((n) => n.m.rssMiB)),
    { atMost: 100, judge: "worst", ...MIB },
  );
  report.target(
    `${name}: the record's file`,
    spread([...r.night1, ...r.night2].map((n) => n.recordBytes / 1e6)),
    { atMost: 10, judge: "worst", digits: 2, unit: " MB" },
  );
}

/** Generates a night's report into bench-data/ unless a finished one is there. */
async function ensureNight(name: string, change?: { share: number }): Promise<string> {
  const path = `${DATA}/${name}.xml`;
  try {
    if ((await Deno.stat(`${path}.done`)).isFile) return path;
  } catch { /* generate it */ }
  await Deno.mkdir(DATA, { recursive: true });
  console.log(`generating ${path} (${HOSTS} hosts × ${FINDINGS} findings)...`);
  const counts = await writeReport(path, {
    hosts: HOSTS,
    findingsPerHost: FINDINGS,
    qids: 5000,
    seed: 3,
    ...(change ? { change: { ...change, seed: 1 } } : {}),
  });
  await Deno.writeTextFile(`${path}.done`, JSON.stringify(counts));
  return path;
}

const owned: string[] = [];

/**
 * A dry run of the night's command in a directory of its own, unmeasured, before the rounds:
 * `deno run` transpiles each module the first time it runs it (and keeps the result in its
 * cache), which a compiled binary never does. (Before the connector ran with `--no-code-cache`,
 * the first run also wrote V8's code cache: a report night 1 at 113.9 MiB, 104.3 after it.)
 */
async function warmUp(
  work: string,
  dc: DcInfo,
  connector: string[],
  yamlPath: string,
  yaml: string,
): Promise<void> {
  const dir = `${work}/warm`;
  await Deno.mkdir(`${dir}/InputPlugins`, { recursive: true });
  await Deno.writeTextFile(`${dir}/${yamlPath}`, yaml || `refresh_days: ${REFRESH_DAYS}\n`, {
    mode: 0o600,
  });
  const started = performance.now();
  await new Nights(dir, dc).dryRun(connector);
  console.log(
    `warm-up (a dry run, not measured): ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  await Deno.remove(dir, { recursive: true });
}

async function reportSource(report: BenchReport, dc: DcInfo, work: string): Promise<void> {
  const tag = `${HOSTS}x${FINDINGS}`;
  const night1 = await ensureNight(`ledger-night1-${tag}`);
  const night2 = await ensureNight(`ledger-night2-${tag}`, { share: SHARE });
  owned.push(night1, `${night1}.done`, night2, `${night2}.done`);
  console.log(
    `\n== The record, report source: ${HOSTS} hosts × ${FINDINGS} findings ` +
      `(${mb((await Deno.stat(night1)).size)}), ${SHARE * 100} % of the hosts changed on ` +
      `night 2, refresh_days: ${REFRESH_DAYS}; ${RUNS} rounds of two nights ==`,
  );
  const r: Rounds = { night1: [], night2: [], sameDay: [], timing: [] };
  const before2 = `${work}/report-record-before-night2`, empty = `${work}/empty`;
  await Deno.mkdir(empty, { recursive: true });
  let destination = "";
  await warmUp(work, dc, ["-r", night1], "InputPlugins/QualysGuard.yaml", "");
  for (let i = 0; i < RUNS; i++) {
    const dir = `${work}/report-${i}`;
    await Deno.mkdir(`${dir}/InputPlugins`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `refresh_days: ${REFRESH_DAYS}\n`,
    );
    const state = `${dir}/InputPlugins/QualysGuard.state`;
    const nights = new Nights(dir, dc);
    r.night1.push(await nights.night(["-r", night1], state));
    destination = r.night1[i]!.run.destination;
    r.sameDay.push(await nights.dryRun(["-r", night2]));
    await ageRecord(state, { destination });
    if (i === 0) {
      await Deno.mkdir(before2);
      await Deno.copyFile((await recordFile(state))!, `${before2}/ledger-copy.bin`);
    }
    r.night2.push(await nights.night(["-r", night2], state));
    await Deno.remove(dir, { recursive: true });
  }
  const base = { destination, refreshDays: REFRESH_DAYS, listDue: false, whole: false };
  const nights: ComparisonNight[] = [
    { ...base, recordDir: empty },
    { ...base, recordDir: before2 },
  ];
  r.timing = await timeRecord({
    source: { kind: "report", reports: [night1, night2] },
    nights,
    runs: RUNS,
  });
  printRounds(report, "report source", r);
}

async function detectionSource(report: BenchReport, dc: DcInfo, work: string): Promise<void> {
  const detections = flag("detections", 40), qids = flag("qids", 20_000);
  console.log(
    `\n== The record, detection source: ${HOSTS} hosts × ${detections} detections, ${qids} ` +
      `QIDs, pages of 1,000 hosts, ${LATENCY} ms per page, ${SHARE * 100} % of the hosts ` +
      `scanned a day, refresh_days: ${REFRESH_DAYS}; ${RUNS} rounds of two nights ==`,
  );
  const subscription = {
    seed: 1,
    hosts: HOSTS,
    detectionsPerHost: detections,
    qids,
    changes: { scanShare: SHARE },
  };
  const sim = new SimProcess("scripts/sim/qualys/serve.ts", [
    ...["--seed", "1", "--hosts", String(HOSTS), "--detections", String(detections)],
    ...["--qids", String(qids), "--latency-ms", String(LATENCY), "--concurrency", "2"],
    ...["--scan-share", String(SHARE)],
    // each run stands for a night (a rate-limit window of its own), as in bench_detections.ts
    ...["--rate-limit", "100000"],
  ]);
  try {
    const q = await sim.next<{ url: string; user_id: string; password: string; ca_file: string }>();
    const r: Rounds = { night1: [], night2: [], sameDay: [], timing: [] };
    const before2 = `${work}/detections-record-before-night2`, empty = `${work}/empty`;
    await Deno.mkdir(empty, { recursive: true });
    let destination = "";
    const days: number[] = [];
    const yamlText = (dir: string) =>
      `user_id: ${q.user_id}\npassword: '${q.password}'\nurl: ${q.url}\nca_file: ` +
      `${q.ca_file}\nsource: detections\nrefresh_days: ${REFRESH_DAYS}\n` +
      `state_dir: ${dir}/state\n`;
    await warmUp(work, dc, ["-pl", "Detections.yaml"], "Detections.yaml", yamlText(`${work}/warm`));
    for (let i = 0; i < RUNS; i++) {
      const dir = `${work}/detections-${i}`;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(`${dir}/Detections.yaml`, yamlText(dir), { mode: 0o600 });
      const state = `${dir}/state`, yaml = ["-pl", `${dir}/Detections.yaml`];
      const nights = new Nights(dir, dc);
      r.night1.push(await nights.night(yaml, state));
      destination = r.night1[i]!.run.destination;
      const day = await sim.ask<{ day: number; scannedHosts: number }>("advance");
      if (i === 0) days.push(day.day - 1, day.day);
      r.sameDay.push(await nights.dryRun(yaml));
      await ageRecord(state, { destination });
      if (i === 0) {
        await Deno.mkdir(before2);
        await Deno.copyFile((await recordFile(state))!, `${before2}/ledger-copy.bin`);
      }
      r.night2.push(await nights.night(yaml, state));
      await Deno.remove(dir, { recursive: true });
    }
    r.timing = await timeRecord({
      source: { kind: "detections", subscription, days },
      nights: [
        { destination, refreshDays: REFRESH_DAYS, recordDir: empty, whole: true, listDue: false },
        { destination, refreshDays: REFRESH_DAYS, recordDir: before2, whole: false, listDue: true },
      ],
      runs: RUNS,
    });
    const full = r.night1.map((n) => n.run.bytes_downloaded);
    const n1 = r.night1[0]!.run, d0 = r.sameDay[0]!, n2 = r.night2[0]!.run;
    console.log(
      `\ndownloads: night 1 (a full sync from an empty state directory) ${n1.api_calls} calls, ` +
        `${mb(n1.bytes_downloaded)}; the same-day dry run (incremental) ${d0.calls} calls, ` +
        `${mb(d0.bytes)}; night 2 a day later (incremental, and the hosts due for the ` +
        `refresh fetched by ID) ${n2.api_calls} calls, ${mb(n2.bytes_downloaded)}:`,
    );
    report.figure(
      "night 2's download / night 1's",
      ratios(r.night2.map((n) => n.run.bytes_downloaded), full),
      { digits: 1, scale: 100, unit: " %" },
    );
    printRounds(report, "detection source", r);
    report.target(
      "detection source: incremental bytes / the full sync's",
      ratios(r.sameDay.map((d) => d.bytes), full),
      { atMost: 0.05, scale: 100, digits: 2, unit: " %" },
    );
  } finally {
    await sim.stop();
  }
}

if (import.meta.main) {
  const report = new BenchReport("ledger");
  const started = performance.now();
  console.log(`\nmachine before the record's case: ${formatMachine(await machineState())}`);
  const work = await Deno.makeTempDir({ prefix: "qc-bench-ledger-" });
  const dc = new SimProcess("scripts/sim/fmc/serve.ts", ["--max-size", "65535"]);
  try {
    const info = await dc.next<DcInfo>();
    if (SOURCES.includes("report")) {
      await report.part("report source", () => reportSource(report, info, work));
      console.log(`\nmachine: ${formatMachine(await machineState())}`);
    }
    if (SOURCES.includes("detections")) {
      await report.part("detection source", () => detectionSource(report, info, work));
    }
  } finally {
    await dc.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
    if (!KEEP) { for (const f of owned) await Deno.remove(f).catch(() => {}); }
  }
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  console.log(
    `\nthe record's case took ${minutes} minutes; machine after it: ${
      formatMachine(await machineState())
    }`,
  );
  Deno.exit(await report.end());
}
