/**
 * `deno task bench`: speed and memory of report file → command file, on synthetic reports of
 * ≈25 MB and ≈250 MB (12,500 hosts × 40 findings, glossary after the hosts; `--big` adds
 * ≈2.5 GB), measured side by side in the same rounds with `xmlwf -r` (expat, parse only; installed
 * with apt when missing) and saxes (parse only). Then the memory cases: a glossary of 100,000
 * QIDs, each found once, and one host with 100,000 findings; the ≈250 MB report downloaded from
 * the Qualys simulator; and the send to the Defense Center simulator. Then the detection source's
 * sync (`bench_detections.ts`), one text block of 100 MB (`bench_big_text.ts`) and the record of
 * what a destination holds, two nights of each source to the Defense Center simulator
 * (`bench_ledger.ts`), each in its own process; `--detections`, `--big-text` or `--ledger` runs
 * that part alone.
 *
 * Each figure is the median of several runs, printed with its min–max: `--runs N` (default 5,
 * after one warm-up run) for the runs on report files, `--long-runs N` (default 3) for the
 * download, the send and the detection source's syncs; `--ledger-runs N` rounds of two nights
 * for the record (default 1 in the whole bench, `--long-runs` with `--ledger`). The whole bench
 * takes about 15 minutes on 2 cores. It says on what machine it ran and how busy that was,
 * before and after (`bench_machine.ts`), states the targets (docs/platform.md, "The bench's targets") and exits 1
 * when one is missed, 2 when a part failed to run (`bench_report.ts`). Its inputs, written to
 * `bench-data/` (≈540 MB), are removed at the end unless `--keep` (or `QC_BENCH_KEEP=1`): a kept
 * `bench-data/` is used again.
 *
 * A new case in its own file plugs in with one line at the end: `report.add(await
 * runCase("bench_x.ts", [...]))` (see `bench_report.ts`).
 *
 * @module
 */

import { connectorArgs } from "./connector_command.ts";
import { type GenerateOptions, writeReport } from "./gen_report.ts";
import { formatMachine, machineState } from "./bench_machine.ts";
import { type Measure, measure, spreads } from "./bench_measure.ts";
import { BenchReport, mapSpread, runCase, type Spread, spread } from "./bench_report.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DATA = `${ROOT}bench-data`;
const args = Deno.args;
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
// Five runs: the median steadies the disk noise of the final fsync on these VMs; three of the
// long runs (a detection sync takes one to two minutes) keep the whole bench near 15 minutes.
const runs = flag("runs", 5);
const longRuns = flag("long-runs", 3);
// One round of the record's two nights in the whole bench (four minutes: each source's first
// night sends everything); `--ledger` alone makes `--long-runs` of them.
const ledgerRuns = flag("ledger-runs", args.includes("--ledger") ? longRuns : 1);
const big = args.includes("--big");
const keep = args.includes("--keep") || Deno.env.get("QC_BENCH_KEEP") === "1";
const report = new BenchReport("reports");
const deno = Deno.execPath();
// The connector as the binary runs it: the compile task's permissions and V8 flags.
const connectorCmd = (...a: string[]) => [deno, ...connectorArgs(a)];
const toCsv = (reportFile: string, out: string) =>
  connectorCmd("-report", reportFile, "-csvfile", out, "-level", "1");
const saxesCmd = (reportFile: string, direct = false) => [
  deno,
  "run",
  "--allow-read",
  `${ROOT}scripts/bench_saxes.ts`,
  reportFile,
  ...(direct ? ["--direct"] : []),
];
const mbps = (mb: number, seconds: Spread) => mapSpread(seconds, (s) => mb / s);
const MIB = { digits: 0, unit: " MiB" };

async function haveCommand(name: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`] }).output();
    return out.code === 0;
  } catch {
    return false;
  }
}

async function ensureXmlwf(): Promise<boolean> {
  if (await haveCommand("xmlwf")) return true;
  console.log("xmlwf is missing: installing Debian's expat package (apt-get install -y expat)");
  for (const cmd of [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "expat"]]) {
    try {
      await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdout: "null", stderr: "null" })
        .output();
    } catch { /* reported below */ }
  }
  return await haveCommand("xmlwf");
}

async function ensureReport(
  name: string,
  options: GenerateOptions,
): Promise<{ path: string; bytes: number }> {
  const path = `${DATA}/${name}.xml`;
  try {
    const st = await Deno.stat(`${path}.done`);
    if (st.isFile) return { path, bytes: (await Deno.stat(path)).size };
  } catch { /* generate it */ }
  await Deno.mkdir(DATA, { recursive: true });
  console.log(
    `generating ${path} (${options.hosts} hosts × ${options.findingsPerHost} findings, ` +
      `${options.qids} QIDs${options.cycleQids ? " in turn" : ""}, glossary after the hosts)...`,
  );
  const counts = await writeReport(path, { seed: 3, ...options });
  await Deno.writeTextFile(`${path}.done`, JSON.stringify(counts));
  return { path, bytes: counts.bytes };
}

/** `n` runs of `cmd` after one warm-up run (page cache, Deno's transpile cache). */
async function runsOf(cmd: string[], n: number): Promise<Measure[]> {
  await measure(cmd);
  const all: Measure[] = [];
  for (let i = 0; i < n; i++) all.push(await measure(cmd));
  return all;
}

/** Run by run, how many times longer `other` took than `ours`. */
const ratios = (ours: Measure[], other: Measure[]) =>
  spread(other.slice(0, ours.length).map((m, i) => m.seconds / ours[i]!.seconds));

/** The figures the targets are stated on. */
const at250: {
  mbps?: Spread;
  vsXmlwf?: Spread;
  vsSaxes?: Spread;
  rss: [string, Spread][];
  manyRss: [string, Spread][];
  linesPerSecond?: Spread;
} = { rss: [], manyRss: [] };

async function reportFiles(xmlwf: boolean): Promise<void> {
  const sizes: [string, number][] = [["r25", 1250], ["r250", 12500]];
  if (big) sizes.push(["r2500", 125000]);
  for (const [name, hosts] of sizes) {
    const { path, bytes } = await ensureReport(name, { hosts, findingsPerHost: 40, qids: 5000 });
    const mb = bytes / 1e6;
    const out = `${DATA}/${name}.csv`;
    // the tools take turns, round after round, so that each ratio compares runs a few seconds
    // apart (this VM's speed drifts from one minute to the next)
    const saxesRuns = name === "r2500" ? 1 : runs;
    const cmds = {
      ours: toCsv(path, out),
      xmlwf: ["xmlwf", "-r", path],
      saxes: saxesCmd(path),
      direct: saxesCmd(path, true),
    };
    const got: Record<keyof typeof cmds, Measure[]> = {
      ours: [],
      xmlwf: [],
      saxes: [],
      direct: [],
    };
    for (const cmd of [cmds.ours, ...(xmlwf ? [cmds.xmlwf] : []), cmds.saxes, cmds.direct]) {
      await measure(cmd); // warm-up
    }
    for (let i = 0; i < runs; i++) {
      got.ours.push(await measure(cmds.ours));
      if (xmlwf) got.xmlwf.push(await measure(cmds.xmlwf));
      if (i < saxesRuns) {
        got.saxes.push(await measure(cmds.saxes));
        got.direct.push(await measure(cmds.direct));
      }
    }
    const outBytes = (await Deno.stat(out)).size;
    await Deno.remove(out);
    const ours = spreads(got.ours);
    console.log(`${name}: ${mb.toFixed(0)} MB in, ${(outBytes / 1e6).toFixed(0)} MB out`);
    report.figure("connector, report → command file", mbps(mb, ours.seconds), { unit: " MB/s" });
    report.figure("connector's peak RSS", ours.rssMiB, MIB);
    const vsXmlwf = xmlwf ? ratios(got.ours, got.xmlwf) : undefined;
    if (vsXmlwf) {
      report.figure("xmlwf -r (parse only)", mbps(mb, spreads(got.xmlwf).seconds), {
        unit: " MB/s",
      });
      report.figure("connector vs xmlwf -r", vsXmlwf, { prefix: "×", digits: 2 });
    } else console.log("  xmlwf -r: not measured (xmlwf missing)");
    const vsSaxes = ratios(got.ours, got.saxes);
    const sx = spreads(got.saxes);
    report.figure("saxes fed as a stream (parse only)", mbps(mb, sx.seconds), { unit: " MB/s" });
    report.figure("its peak RSS", sx.rssMiB, MIB);
    report.figure("connector vs saxes fed as a stream", vsSaxes, { prefix: "×", digits: 2 });
    report.figure("connector vs saxes fed by direct 1 MiB reads", ratios(got.ours, got.direct), {
      prefix: "×",
      digits: 2,
    });
    at250.rss.push([name, ours.rssMiB]);
    if (name === "r250") Object.assign(at250, { mbps: mbps(mb, ours.seconds), vsXmlwf, vsSaxes });
  }
}

// The memory cases of the hardening issue (#10): peak RSS must not grow with the number of
// distinct QIDs, nor with the findings of one host.
async function memoryCases(): Promise<void> {
  const cases: [string, string, GenerateOptions][] = [
    ["q100k", "100,000 QIDs, each found once", {
      hosts: 2500,
      findingsPerHost: 40,
      qids: 100_000,
      cycleQids: true,
    }],
    ["h100k", "one host with 100,000 findings", {
      hosts: 1,
      findingsPerHost: 100_000,
      qids: 5000,
      cycleQids: true,
    }],
  ];
  for (const [name, what, options] of cases) {
    const { path, bytes } = await ensureReport(name, options);
    const out = `${DATA}/${name}.csv`;
    const m = spreads(await runsOf(toCsv(path, out), runs));
    const outBytes = (await Deno.stat(out)).size;
    await Deno.remove(out);
    console.log(
      `${name}: ${what}: ${(bytes / 1e6).toFixed(0)} MB in, ${(outBytes / 1e6).toFixed(0)} MB out`,
    );
    report.figure("connector", mbps(bytes / 1e6, m.seconds), { unit: " MB/s" });
    report.figure("its peak RSS", m.rssMiB, MIB);
    at250.manyRss.push([what, m.rssMiB]);
  }
}

// Download → parse → command file, the ≈250 MB report served by the Qualys API simulator
// (HTTPS on loopback, streamed from disk) in this process; the connector in a child process.
async function download(): Promise<void> {
  const { startQualysSim } = await import("./sim/qualys/mod.ts");
  const { path: r250, bytes } = await ensureReport("r250", {
    hosts: 12500,
    findingsPerHost: 40,
    qids: 5000,
  });
  const sim = await startQualysSim({ reports: { "1": r250 }, runningPolls: 0 });
  const work = await Deno.makeTempDir({ prefix: "qc-bench-" });
  try {
    await Deno.mkdir(`${work}/InputPlugins`);
    await Deno.writeTextFile(`${work}/ca.pem`, sim.caPem);
    await Deno.writeTextFile(
      `${work}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: sim_pass\ntemplate_id: 1\nurl: ${sim.url}\n` +
        `ca_file: ${work}/ca.pem\npoll_interval: 0.01\n`,
      { mode: 0o600 },
    );
    const cmd = connectorCmd(
      "-plugininfo",
      `${work}/InputPlugins/QualysGuard.yaml`,
      "-csvfile",
      `${work}/out.csv`,
      "-level",
      "1",
    );
    const m = spreads(await runsOf(cmd, longRuns));
    console.log(
      `\ndownload from the Qualys simulator → parse → command file, ${(bytes / 1e6).toFixed(0)} ` +
        `MB report (launched ${sim.launched.length}, deleted ${sim.deleted.length}):`,
    );
    report.figure("end to end", mbps(bytes / 1e6, m.seconds), { unit: " MB/s" });
    report.figure("peak RSS", m.rssMiB, MIB);
    at250.rss.push(["the download", m.rssMiB]);
  } finally {
    await sim.shutdown();
    await Deno.remove(work, { recursive: true });
  }
}

// Send to the Defense Center simulator (mutual TLS, MAX_SIZE 64 KiB) in this process: lines/s of
// the send phase, from the connector's own summary line, and the connector's peak RSS. Each run
// in a fresh directory, so that nothing a run keeps changes what the next one sends.
async function send(): Promise<void> {
  const { startDcSim } = await import("./sim/fmc/mod.ts");
  const r250 = `${DATA}/r250.xml`;
  const dc = await startDcSim({ maxSize: 65536, storeResults: false });
  const work = await Deno.makeTempDir({ prefix: "qc-bench-dc-" });
  try {
    await Deno.writeFile(`${work}/c.pkcs12`, dc.issueClient({ password: "b" }));
    const perSecond: number[] = [];
    const rss: number[] = [];
    let last = "";
    for (let i = 0; i < longRuns; i++) {
      const cwd = `${work}/run-${i}`;
      await Deno.mkdir(cwd);
      const m = await measure(
        connectorCmd(
          "-report",
          r250,
          `-server=${dc.host}`,
          `-port=${dc.port}`,
          `-pkcs12=${work}/c.pkcs12`,
          "-password=b",
        ),
        { cwd, capture: true },
      );
      const sent =
        /Sent (\d+) lines in (\d+) messages? .* processed (\d+) of the \d+ commands?, (\d+) of them rejected; (\d+) reconnects?; ([\d.]+) s/
          .exec(m.output);
      const findings = Number(
        /(\d+) AddScanResult lines? and \d+ hosts? cleared, sent to the Defense Center/.exec(
          m.output,
        )?.[1] ?? 0,
      );
      if (!sent) throw new Error(`the send run's summary is missing:\n${m.output.slice(-2000)}`);
      perSecond.push(findings / Number(sent[6]));
      rss.push(m.rssMiB);
      last = `${findings} AddScanResult lines (${sent[1]} lines, ${sent[2]} messages); the DC ` +
        `processed ${sent[3]} commands, rejected ${sent[4]}`;
    }
    console.log(`\nsend to the DC simulator (MAX_SIZE 64 KiB): ${last}:`);
    const lines = spread(perSecond);
    report.figure("send phase", lines, { unit: " AddScanResult lines/s" });
    report.figure("connector's peak RSS (parse + spool + send)", spread(rss), MIB);
    at250.rss.push(["the send run", spread(rss)]);
    at250.linesPerSecond = lines;
  } finally {
    await dc.shutdown();
    await Deno.remove(work, { recursive: true });
  }
}

function reportTargets(xmlwf: boolean): void {
  console.log('\ntargets on the ≈250 MB report (docs/platform.md, "The bench\'s targets"):');
  report.target("end to end", at250.mbps, { atLeast: 150, unit: " MB/s" });
  report.target("speed against xmlwf -r", xmlwf ? at250.vsXmlwf : NaN, {
    atLeast: 0.7,
    prefix: "×",
    digits: 2,
  });
  report.target("speed against saxes fed as a stream", at250.vsSaxes, {
    atLeast: 2.5,
    prefix: "×",
    digits: 2,
  });
  for (const [what, rss] of at250.rss) {
    report.target(`peak RSS, ${what}`, rss, { atMost: 100, judge: "worst", ...MIB });
  }
  report.target("AddScanResult lines/s sent to the DC", at250.linesPerSecond, {
    atLeast: 100_000,
  });
  for (const [what, rss] of at250.manyRss) {
    report.target(`peak RSS, ${what}`, rss, { atMost: 150, judge: "worst", ...MIB });
  }
  if (!big) console.log("  (run `deno task bench --big` for the ≈2.5 GB report)");
}

async function dataSize(): Promise<number> {
  let bytes = 0;
  try {
    for await (const e of Deno.readDir(DATA)) {
      if (e.isFile) bytes += (await Deno.stat(`${DATA}/${e.name}`)).size;
    }
  } catch { /* none */ }
  return bytes;
}

/** The record's case's arguments: its rounds, and `--keep` (its reports in `bench-data/`). */
function ledgerArgs(): string[] {
  return ["--runs", String(ledgerRuns), ...(keep ? ["--keep"] : [])];
}

/** Removes `bench-data/` unless asked to keep it; says which. */
async function cleanUp(): Promise<void> {
  const bytes = await dataSize();
  if (bytes === 0) return;
  const mb = `${(bytes / 1e6).toFixed(0)} MB`;
  if (keep) {
    console.log(`kept bench-data/ (${mb}) for the next run (--keep)`);
    return;
  }
  await Deno.remove(DATA, { recursive: true }).catch(() => {});
  console.log(`removed bench-data/ (${mb}); \`deno task bench --keep\` keeps it for the next run`);
}

if (import.meta.main) {
  const started = performance.now();
  console.log(
    `deno task bench: each figure is the median of its runs, with (min–max, runs)\nmachine: ${
      formatMachine(await machineState())
    }`,
  );
  Deno.addSignalListener("SIGINT", async () => {
    await cleanUp();
    Deno.exit(130);
  });
  try {
    if (args.includes("--detections")) {
      report.add(await runCase("bench_detections.ts", ["--runs", String(longRuns)]));
    } else if (args.includes("--big-text")) {
      report.add(await runCase("bench_big_text.ts", ["--runs", String(longRuns)]));
    } else if (args.includes("--ledger")) {
      report.add(await runCase("bench_ledger.ts", ledgerArgs()));
    } else {
      const xmlwf = await ensureXmlwf();
      if (!xmlwf) console.log("SKIP: xmlwf could not be installed: no expat ratio");
      console.log(`\nreport file → command file (${runs} runs after a warm-up)\n`);
      await report.part("report files", () => reportFiles(xmlwf));
      console.log("");
      await report.part("memory cases", memoryCases);
      await report.part("download", download);
      await report.part("send", send);
      reportTargets(xmlwf);
      // the cases in their own files, one line each
      report.add(await runCase("bench_detections.ts", ["--runs", String(longRuns)]));
      report.add(await runCase("bench_big_text.ts", ["--runs", String(longRuns)]));
      report.add(await runCase("bench_ledger.ts", ledgerArgs()));
    }
  } finally {
    await cleanUp();
  }
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  console.log(`\nafter ${minutes} minutes: ${formatMachine(await machineState())}`);
  Deno.exit(await report.end());
}
