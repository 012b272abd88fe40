/**
 * `deno task bench`: speed and memory of report file → command file, on synthetic reports of
 * ≈25 MB and ≈250 MB (12,500 hosts × 40 findings, glossary after the hosts; `--big` adds
 * ≈2.5 GB), measured side by side in the same run with `xmlwf -r` (expat, parse only; installed
 * with apt when missing) and saxes (parse only). Then the memory cases: a glossary of 100,000
 * QIDs, each found once, and one host with 100,000 findings. Medians of 5 (`--runs N`). Prints
 * figures, ratios and the targets (docs/platform.md, "The bench's targets"); it never fails on a
 * missed target. Then the detection source's sync (`bench_detections.ts`, in its own process);
 * `--detections` runs that part alone. Last, one text block of 100 MB in a detection page and in
 * a report (`bench_big_text.ts`, in its own processes); `--big-text` runs that part alone.
 *
 * Peak RSS is read with getrusage(RUSAGE_CHILDREN) through python3, so no extra tool is needed.
 *
 * @module
 */

import { connectorArgs } from "./connector_command.ts";
import { type GenerateOptions, writeReport } from "./gen_report.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DATA = `${ROOT}bench-data`;
const args = Deno.args;
// Five runs by default: the median steadies the disk noise of the final fsync on these VMs.
const runs = args.includes("--runs") ? Number(args[args.indexOf("--runs") + 1]) : 5;
const big = args.includes("--big");

/** The detection source's part of the bench, in its own process (its own simulator, too). */
async function detectionsBench(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/bench_detections.ts`],
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) console.log(`the detection source's bench exited with ${out.code}`);
}
if (args.includes("--detections")) {
  await detectionsBench();
  Deno.exit(0);
}

/** One 100 MB text block in a detection page and in a report (`bench_big_text.ts`). */
async function bigTextBench(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/bench_big_text.ts`],
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) console.log(`the big-text bench exited with ${out.code}`);
}
if (args.includes("--big-text")) {
  await bigTextBench();
  Deno.exit(0);
}

interface Measure {
  seconds: number;
  rssMiB: number; // the largest of the runs
  rssMedianMiB?: number;
}

const RUSAGE = "import resource,subprocess,sys,time\n" +
  "t=time.perf_counter();rc=subprocess.call(sys.argv[1:],stdout=subprocess.DEVNULL)\n" +
  "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)";

async function measure(cmd: string[]): Promise<Measure> {
  const out = await new Deno.Command("python3", { // getrusage of the child, no extra tool
    args: ["-c", RUSAGE, ...cmd],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const [seconds, rssKiB, rc] = new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
  if (rc !== 0) throw new Error(`${cmd.join(" ")} exited with ${rc}`);
  return { seconds: seconds!, rssMiB: rssKiB! / 1024 };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function medianOf(cmd: string[], n: number): Promise<Measure> {
  await measure(cmd); // warm-up: page cache, Deno's transpile cache
  const all: Measure[] = [];
  for (let i = 0; i < n; i++) all.push(await measure(cmd));
  return {
    seconds: median(all.map((m) => m.seconds)),
    rssMiB: Math.max(...all.map((m) => m.rssMiB)),
    rssMedianMiB: median(all.map((m) => m.rssMiB)),
  };
}

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
  console.log(
    `generating ${path} (${options.hosts} hosts × ${options.findingsPerHost} findings, ` +
      `${options.qids} QIDs${options.cycleQids ? " in turn" : ""}, glossary after the hosts)...`,
  );
  const counts = await writeReport(path, { seed: 3, ...options });
  await Deno.writeTextFile(`${path}.done`, JSON.stringify(counts));
  return { path, bytes: counts.bytes };
}

const deno = Deno.execPath();
// The connector as the binary runs it: the compile task's permissions and V8 flags.
const connectorCmd = (...args: string[]) => [deno, ...connectorArgs(args)];
const connector = (report: string, out: string) =>
  connectorCmd("-report", report, "-csvfile", out, "-level", "1");
const saxes = (report: string, direct = false) => [
  deno,
  "run",
  "--allow-read",
  `${ROOT}scripts/bench_saxes.ts`,
  report,
  ...(direct ? ["--direct"] : []),
];

await Deno.mkdir(DATA, { recursive: true });
const xmlwf = await ensureXmlwf();
if (!xmlwf) console.log("SKIP: xmlwf could not be installed: no expat ratio");

const sizes: [string, number][] = [["r25", 1250], ["r250", 12500]];
if (big) sizes.push(["r2500", 125000]);

console.log(
  `\nreport file → command file, medians of ${runs} (peak RSS: the largest of the runs)\n`,
);
const rows: string[] = [];
const rss: number[] = [];
let ratios = { mbps: 0, vsXmlwf: 0, vsSaxes: 0, vsSaxesDirect: 0 };
for (const [name, hosts] of sizes) {
  const { path, bytes } = await ensureReport(name, { hosts, findingsPerHost: 40, qids: 5000 });
  const mb = bytes / 1e6;
  const out = `${DATA}/${name}.csv`;
  const ours = await medianOf(connector(path, out), runs);
  const outBytes = (await Deno.stat(out)).size;
  await Deno.remove(out);
  const ex = xmlwf ? await medianOf(["xmlwf", "-r", path], runs) : undefined;
  const sx = await medianOf(saxes(path), name === "r2500" ? 1 : runs);
  const sxd = await medianOf(saxes(path, true), name === "r2500" ? 1 : runs);
  const mbps = mb / ours.seconds;
  rss.push(ours.rssMiB);
  rows.push(
    `${name.padEnd(6)} ${mb.toFixed(0).padStart(5)} MB in, ${
      (outBytes / 1e6).toFixed(0).padStart(5)
    } MB out | ` +
      `connector ${mbps.toFixed(0).padStart(4)} MB/s, ${ours.rssMedianMiB!.toFixed(0)}/${
        ours.rssMiB.toFixed(0)
      } MiB (median/max) | ` +
      (ex
        ? `xmlwf -r ${(mb / ex.seconds).toFixed(0).padStart(4)} MB/s (×${
          (ex.seconds / ours.seconds).toFixed(2)
        }) | `
        : "xmlwf -r n/a | ") +
      `saxes ${(mb / sx.seconds).toFixed(0).padStart(3)} MB/s, ${sx.rssMiB.toFixed(0)} MiB (×${
        (sx.seconds / ours.seconds).toFixed(2)
      }) | ` +
      `saxes direct ${(mb / sxd.seconds).toFixed(0).padStart(3)} MB/s (×${
        (sxd.seconds / ours.seconds).toFixed(2)
      })`,
  );
  console.log(rows[rows.length - 1]);
  if (name === "r250") {
    ratios = {
      mbps,
      vsXmlwf: ex ? ex.seconds / ours.seconds : NaN,
      vsSaxes: sx.seconds / ours.seconds,
      vsSaxesDirect: sxd.seconds / ours.seconds,
    };
  }
}

// The memory cases of the hardening issue (#10): peak RSS must not grow with the number of
// distinct QIDs, nor with the findings of one host.
const memoryCases: [string, string, GenerateOptions][] = [
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
const manyRss: number[] = [];
console.log("");
for (const [name, what, options] of memoryCases) {
  const { path, bytes } = await ensureReport(name, options);
  const out = `${DATA}/${name}.csv`;
  const m = await medianOf(connector(path, out), runs);
  const outBytes = (await Deno.stat(out)).size;
  await Deno.remove(out);
  manyRss.push(m.rssMiB);
  console.log(
    `${name.padEnd(6)} ${(bytes / 1e6).toFixed(0).padStart(5)} MB in, ${
      (outBytes / 1e6).toFixed(0).padStart(5)
    } MB out | connector ${(bytes / 1e6 / m.seconds).toFixed(0).padStart(4)} MB/s, ${
      m.rssMedianMiB!.toFixed(0)
    }/${m.rssMiB.toFixed(0)} MiB (median/max) | ${what}`,
  );
}

// Download → parse → command file, the ≈250 MB report served by the Qualys API simulator
// (HTTPS on loopback, streamed from disk) in this process; the connector in a child process.
const { startQualysSim } = await import("./sim/qualys/mod.ts");
const r250 = `${DATA}/r250.xml`;
const sim = await startQualysSim({ reports: { "1": r250 }, runningPolls: 0 });
const work = await Deno.makeTempDir({ prefix: "qc-bench-" });
try {
  await Deno.mkdir(`${work}/InputPlugins`);
  await Deno.writeTextFile(`${work}/ca.pem`, sim.caPem);
  await Deno.writeTextFile(
    `${work}/InputPlugins/QualysGuard.yaml`,
    `user_id: sim_user\npassword: sim_pass\ntemplate_id: 1\nurl: ${sim.url}\nca_file: ${work}/ca.pem\npoll_interval: 0.01\n`,
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
  const dl = await medianOf(cmd, Math.min(runs, 3));
  const mb = (await Deno.stat(r250)).size / 1e6;
  rss.push(dl.rssMiB);
  console.log(
    `\ndownload from the Qualys simulator → parse → command file, ${mb.toFixed(0)} MB report: ` +
      `${(mb / dl.seconds).toFixed(0)} MB/s, peak RSS ${dl.rssMiB.toFixed(0)} MiB ` +
      `(launched ${sim.launched.length}, deleted ${sim.deleted.length})`,
  );
} finally {
  await sim.shutdown();
  await Deno.remove(work, { recursive: true });
}

// Send to the Defense Center simulator (mutual TLS, MAX_SIZE 64 KiB) in this process: lines/s of
// the send phase, from the connector's own summary line, and the connector's peak RSS.
const { startDcSim } = await import("./sim/fmc/mod.ts");
const dc = await startDcSim({ maxSize: 65536, storeResults: false });
const dcWork = await Deno.makeTempDir({ prefix: "qc-bench-dc-" });
let linesPerSecond = 0;
try {
  await Deno.writeFile(`${dcWork}/c.pkcs12`, dc.issueClient({ password: "b" }));
  const out = await new Deno.Command("python3", {
    args: [
      "-c",
      RUSAGE.replace("stdout=subprocess.DEVNULL", "stdout=sys.stderr"),
      ...connectorCmd(
        "-report",
        r250,
        `-server=${dc.host}`,
        `-port=${dc.port}`,
        `-pkcs12=${dcWork}/c.pkcs12`,
        "-password=b",
      ),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(out.stderr);
  const [, rssKiB] = new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
  const m =
    /Sent (\d+) lines in (\d+) messages .* processed (\d+) of the \d+ commands sent, rejected (\d+); (\d+) reconnects; ([\d.]+) s/
      .exec(log);
  const findings = Number(/(\d+) AddScanResult lines to send/.exec(log)?.[1] ?? 0);
  if (!m) throw new Error(`the send run failed:\n${log.slice(-2000)}`);
  linesPerSecond = findings / Number(m[6]);
  rss.push(rssKiB! / 1024);
  console.log(
    `send to the DC simulator (MAX_SIZE 64 KiB): ${findings} AddScanResult lines (${m[1]} lines, ` +
      `${m[2]} messages) in ${m[6]} s = ${Math.round(linesPerSecond)} AddScanResult lines/s; ` +
      `the DC processed ${m[3]} commands, rejected ${m[4]}; connector peak RSS ${
        (rssKiB! / 1024).toFixed(0)
      } MiB ` +
      `(whole run: parse + spool + send)`,
  );
} finally {
  await dc.shutdown();
  await Deno.remove(dcWork, { recursive: true });
}

const flat = Math.max(...rss) <= 100;
console.log('\ntargets on the ≈250 MB report (docs/platform.md, "The bench\'s targets"):');
console.log(
  `  end to end ≥ 150 MB/s:        ${ratios.mbps.toFixed(0)} MB/s ${
    ratios.mbps >= 150 ? "MET" : "MISSED"
  }`,
);
console.log(
  `  ≥ 0.7× xmlwf -r:              ×${ratios.vsXmlwf.toFixed(2)} ${
    ratios.vsXmlwf >= 0.7 ? "MET" : "MISSED"
  }`,
);
console.log(
  `  ≥ 2.5× saxes (fed as a stream: readable → TextDecoderStream): ×${ratios.vsSaxes.toFixed(2)} ${
    ratios.vsSaxes >= 2.5 ? "MET" : "MISSED"
  }; against saxes fed by direct 1 MiB reads: ×${ratios.vsSaxesDirect.toFixed(2)}`,
);
console.log(
  `  peak RSS ≤ 100 MiB, every size and the download: ${
    rss.map((r) => r.toFixed(0)).join(" / ")
  } MiB ${flat ? "MET" : "MISSED"}`,
);
console.log(
  `  ≥ 100,000 AddScanResult lines/s to the DC: ${Math.round(linesPerSecond)} ${
    linesPerSecond >= 100_000 ? "MET" : "MISSED"
  }`,
);
console.log(
  `  peak RSS ≤ 150 MiB with 100,000 QIDs and with one host of 100,000 findings: ${
    manyRss.map((r) => r.toFixed(0)).join(" / ")
  } MiB ${Math.max(...manyRss) <= 150 ? "MET" : "MISSED"}`,
);
if (!big) console.log("  (run `deno task bench --big` for the ≈2.5 GB report)");
await detectionsBench();
await bigTextBench();
