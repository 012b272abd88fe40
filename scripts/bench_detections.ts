/**
 * The detection source's part of `deno task bench` (`scripts/bench.ts` runs it; alone:
 * `deno run -A scripts/bench_detections.ts [--hosts N] [--detections N] [--qids N]
 * [--latency-ms N]`). Against the Qualys API simulator in its own process (so the connector's
 * peak RSS is its own), with a subscription of 100,000 hosts × 40 detections and 20,000 QIDs,
 * pages of 1,000 hosts, 1 s of server time per page and a concurrency limit of 2:
 *
 * 1. a full sync with pages fetched at once (up to the limit): wall time, hosts/s, peak RSS;
 * 2. the same full sync with pages fetched one after another (`QC_MAX_CONCURRENCY=1`);
 * 3. a day later (2 % of the hosts scanned and changed, 0.1 % purged), an incremental run from
 *    the first run's state: bytes downloaded (with the list of the hosts in scope, and without
 *    it) and API calls, against the full sync's.
 *
 * Each full sync starts from an empty state directory (no KnowledgeBase cache). The connector
 * runs as `deno task run` does (the compiled binary's permissions and V8 flags) and writes a CSV.
 * Prints the figures and the targets; never fails on a missed target.
 *
 * @module
 */

import { connectorArgs } from "./connector_command.ts";

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

const RUSAGE = "import resource,subprocess,sys,time\n" +
  "t=time.perf_counter();rc=subprocess.call(sys.argv[1:],stdout=subprocess.DEVNULL)\n" +
  "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)";

interface Run {
  seconds: number;
  rssMiB: number;
  hosts: number;
  pages: number;
  calls: number;
  bytes: number;
  concurrency: number;
  /** Bytes of the list of the hosts in scope (an incremental run's). */
  scopeBytes: number;
  log: string;
}

/** Runs the connector once under getrusage; reads its figures from its log file. */
async function connector(dir: string, extra: string[], env: Record<string, string> = {}) {
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
      ...extra,
    ]),
  ];
  const out = await new Deno.Command("python3", {
    args: ["-c", RUSAGE, ...cmd],
    cwd: dir,
    env: { ...Deno.env.toObject(), ...env },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const [seconds, rssKiB, rc] = new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
  const log = await Deno.readTextFile(logfile);
  if (rc !== 0) throw new Error(`the connector exited with ${rc}:\n${log}`);
  const hld = /Host List Detection: (\d+) pages, (\d+) hosts.*up to (\d+) calls at once/.exec(log);
  const sum = /(\d+) API calls, (\d+) bytes downloaded/.exec(log);
  const scope = /Host List: \d+ hosts in scope \((\d+) bytes\)/.exec(log);
  return {
    seconds: seconds!,
    rssMiB: rssKiB! / 1024,
    pages: Number(hld?.[1]),
    hosts: Number(hld?.[2]),
    concurrency: Number(hld?.[3]),
    calls: Number(sum?.[1]),
    bytes: Number(sum?.[2]),
    scopeBytes: Number(scope?.[1] ?? 0),
    log,
  } satisfies Run;
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
    `1,000 hosts, ${LATENCY} ms server time per page, concurrency limit 2 ==`,
);
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
    "--scan-share",
    "0.02",
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
  const a = await setup();
  const full = await connector(a, []);
  console.log(
    `full sync, pages at once:          ${full.seconds.toFixed(1)} s, ` +
      `${Math.round(full.hosts / full.seconds)} hosts/s, peak RSS ${full.rssMiB.toFixed(1)} MiB ` +
      `(${full.pages} pages, up to ${full.concurrency} at once; ${full.calls} calls, ${
        mb(full.bytes)
      })`,
  );
  const b = await setup();
  const serial = await connector(b, [], { QC_MAX_CONCURRENCY: "1" });
  console.log(
    `full sync, one page after another: ${serial.seconds.toFixed(1)} s, ` +
      `${Math.round(serial.hosts / serial.seconds)} hosts/s, peak RSS ${
        serial.rssMiB.toFixed(1)
      } MiB`,
  );
  const w = sim.stdin.getWriter();
  await w.write(new TextEncoder().encode("advance\n"));
  const day = JSON.parse(await readLine(lines, buf));
  const inc = await connector(a, []);
  console.log(
    `incremental after a day (${day.scannedHosts} hosts scanned, ${day.purgedHostIds.length} ` +
      `purged): ${inc.seconds.toFixed(1)} s, ${inc.calls} calls, ${mb(inc.bytes)} (the list of ` +
      `the hosts in scope: ${mb(inc.scopeBytes)}), peak RSS ${inc.rssMiB.toFixed(1)} MiB`,
  );
  const ratio = full.seconds / serial.seconds;
  const bytes = inc.bytes / full.bytes;
  const without = (inc.bytes - inc.scopeBytes) / full.bytes;
  console.log(
    `\ntargets: peak RSS ≤ 100 MiB: ${full.rssMiB.toFixed(1)} MiB ${
      full.rssMiB <= 100 ? "met" : "MISSED"
    }; wall time ≤ 0.6× one after another: ×${ratio.toFixed(2)} ${
      ratio <= 0.6 ? "met" : "MISSED"
    }; incremental bytes ≤ 5 % of the full sync's: ${(bytes * 100).toFixed(2)} % ${
      bytes <= 0.05 ? "met" : "MISSED"
    } (${
      (without * 100).toFixed(2)
    } % without the list of the hosts in scope; calls: ${inc.calls} ` +
      `vs ${full.calls}, ×${(inc.calls / full.calls).toFixed(2)})`,
  );
  await w.write(new TextEncoder().encode("quit\n"));
  await w.close().catch(() => {});
} finally {
  try {
    sim.kill("SIGTERM");
  } catch { /* gone */ }
  await sim.status;
  for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
}
