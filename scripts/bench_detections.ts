/**
 * The detection source's part of `deno task bench` (`scripts/bench.ts` runs it; alone:
 * `deno run -A scripts/bench_detections.ts [--hosts N] [--detections N] [--qids N]
 * [--latency-ms N] [--runs N]`). Against the Qualys API simulator in its own process (so the connector's
 * peak RSS is its own), with a subscription of 100,000 hosts × 40 detections and 20,000 QIDs,
 * pages of 1,000 hosts, 1 s of server time per page and a concurrency limit of 2:
 *
 * 1. a full sync with pages fetched at once (up to the limit): wall time, hosts/s, peak RSS;
 * 2. the same full sync with pages fetched one after another (`QC_MAX_CONCURRENCY=1`).
 *
 * Each full sync starts from an empty state directory (no KnowledgeBase cache); the two full
 * syncs take turns, `--runs N` times (default 3). The connector runs as `deno task run` does
 * (the compiled binary's permissions and V8 flags) and writes a CSV, removed after each run.
 * Prints each figure's spread and the targets (`bench_report.ts`); exits 1 on a missed target.
 *
 * The incremental run a day later (its bytes and calls against the full sync's) is measured by
 * the record's case, `bench_ledger.ts`: since issue 20 a run to a CSV gets the whole picture, a
 * full sync every time, so an incremental run needs a Defense Center that a full sync went to
 * first; that case makes both nights to the Defense Center simulator, and takes the incremental
 * download from a `-dry-run` of the second night (which fetches what the real run would).
 *
 * @module
 */

import { connectorArgs } from "./connector_command.ts";
import { measure } from "./bench_measure.ts";
import { BenchReport, spread } from "./bench_report.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const args = Deno.args;
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const HOSTS = flag("hosts", 100_000);
const DETECTIONS = flag("detections", 40);
const QIDS = flag("qids", 20_000);
const LATENCY = flag("latency-ms", 1000);
const RUNS = flag("runs", 3);

interface Run {
  seconds: number;
  rssMiB: number;
  hosts: number;
  pages: number;
  calls: number;
  bytes: number;
  concurrency: number;
  log: string;
}

/** Runs the connector once under getrusage; reads its figures from its log file. The command
 * file (≈940 MB for a full sync) is removed after each run. */
async function connector(dir: string, env: Record<string, string> = {}): Promise<Run> {
  const logfile = `${dir}/run-${Date.now()}.log`;
  const cmd = [
    Deno.execPath(),
    ...connectorArgs([
      "-plugininfo",
      `${dir}/QualysGuard.yaml`,
      "-csvfile",
      `${dir}/out.csv`,
      "-logfile",
      logfile,
    ]),
  ];
  const m = await measure(cmd, { cwd: dir, env, check: false });
  const log = await Deno.readTextFile(logfile);
  await Deno.remove(`${dir}/out.csv`).catch(() => {});
  if (m.code !== 0) {
    const error = /\[ERROR\] (.*)$/m.exec(log)?.[1] ?? "";
    throw new Error(`the connector exited with ${m.code}: ${error}\n${log}`);
  }
  const hld = /Host List Detection: (\d+) pages, (\d+) hosts.*up to (\d+) calls at once/.exec(log);
  const sum = /(\d+) API calls, (\d+) bytes downloaded/.exec(log);
  return {
    seconds: m.seconds,
    rssMiB: m.rssMiB,
    pages: Number(hld?.[1]),
    hosts: Number(hld?.[2]),
    concurrency: Number(hld?.[3]),
    calls: Number(sum?.[1]),
    bytes: Number(sum?.[2]),
    log,
  };
}

async function readLine(reader: ReadableStreamDefaultReader<string>, buf: { text: string }) {
  for (;;) {
    const nl = buf.text.indexOf("\n");
    if (nl >= 0) {
      const line = buf.text.slice(0, nl);
      buf.text = buf.text.slice(nl + 1);
      return line;
    }
    const r = await reader.read();
    if (r.done) throw new Error("the simulator stopped");
    buf.text += r.value;
  }
}

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

console.log(
  `\n== Detection source: ${HOSTS} hosts × ${DETECTIONS} detections, ${QIDS} QIDs, pages of ` +
    `1,000 hosts, ${LATENCY} ms server time per page, concurrency limit 2; ${RUNS} runs of each ==`,
);
const report = new BenchReport("detections");
const started = performance.now();
const sim = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    `${ROOT}scripts/sim/qualys/serve.ts`,
    "--hosts",
    String(HOSTS),
    "--detections",
    String(DETECTIONS),
    "--qids",
    String(QIDS),
    "--latency-ms",
    String(LATENCY),
    "--concurrency",
    "2",
    // each run stands for a night (a rate-limit window of its own): 2 × RUNS full syncs of 100
    // pages would pass Qualys's 300 calls an hour
    "--rate-limit",
    "100000",
  ],
  cwd: ROOT,
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const lines = sim.stdout.pipeThrough(new TextDecoderStream()).getReader();
const buf = { text: "" };
const dirs: string[] = [];
try {
  await report.part("syncs", async () => {
    const info = JSON.parse(await readLine(lines, buf));
    console.log(
      `simulator ready in ${((performance.now() - started) / 1000).toFixed(1)} s on ${info.url}`,
    );
    const setup = async () => {
      const dir = await Deno.makeTempDir({ prefix: "qc-bench-detections-" });
      dirs.push(dir);
      await Deno.writeTextFile(
        `${dir}/QualysGuard.yaml`,
        `user_id: ${info.user_id}\npassword: '${info.password}'\nurl: ${info.url}\n` +
          `ca_file: ${info.ca_file}\nsource: detections\n`,
        { mode: 0o600 },
      );
      return dir;
    };
    // the two ways take turns, so that each ratio compares runs a minute or two apart
    const full: Run[] = [];
    const serial: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = await setup();
      full.push(await connector(a));
      await Deno.remove(a, { recursive: true });
      const b = await setup();
      serial.push(await connector(b, { QC_MAX_CONCURRENCY: "1" }));
      await Deno.remove(b, { recursive: true });
    }
    const f = full[0]!;
    const w = sim.stdin.getWriter();
    await w.write(new TextEncoder().encode("quit\n"));
    await w.close().catch(() => {});

    const secs = (r: Run[]) => spread(r.map((x) => x.seconds));
    const rss = (r: Run[]) => spread(r.map((x) => x.rssMiB));
    const hostsPerSecond = (r: Run[]) => spread(r.map((x) => x.hosts / x.seconds));
    console.log(
      `full sync, pages at once (${f.pages} pages, up to ${f.concurrency} at once; ${f.calls} ` +
        `calls, ${mb(f.bytes)}):`,
    );
    report.figure("wall time", secs(full), { digits: 1, unit: " s" });
    report.figure("hosts/s", hostsPerSecond(full));
    report.figure("peak RSS", rss(full), { digits: 1, unit: " MiB" });
    console.log("full sync, one page after another (QC_MAX_CONCURRENCY=1):");
    report.figure("wall time", secs(serial), { digits: 1, unit: " s" });
    report.figure("hosts/s", hostsPerSecond(serial));
    report.figure("peak RSS", rss(serial), { digits: 1, unit: " MiB" });
    console.log("\ntargets of the detection source:");
    report.target("peak RSS of a full sync", rss(full), {
      atMost: 100,
      judge: "worst",
      digits: 1,
      unit: " MiB",
    });
    report.target(
      "wall time, pages at once / one after another",
      spread(full.map((x, i) => x.seconds / serial[i]!.seconds)),
      { atMost: 0.6, prefix: "×", digits: 2 },
    );
  });
} finally {
  try {
    sim.kill("SIGTERM");
  } catch { /* gone */ }
  await sim.status;
  for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
}
Deno.exit(await report.end());
