/**
 * The Qualys API simulator run alone (`deno run -A scripts/sim/qualys/serve.ts --hosts 1000`), to
 * point a client at it: it serves a simulated VMDR subscription, prints the URL, the login and
 * the CA file as one JSON line, advances a day on each `advance` line read from stdin (printing
 * what changed), and stops on `quit`, SIGINT or SIGTERM. Flags: `--seed`, `--hosts`,
 * `--detections` (per host), `--qids`, `--days` (advanced before serving), `--latency-ms` (per
 * page), `--kb-latency-ms` (per KnowledgeBase call), `--concurrency`, `--scan-share` (the share
 * of hosts scanned, and so changed, each day), `--rate-limit` (calls of one API an hour: Qualys's
 * 300 by default; the bench, whose runs each stand for a night, raises it), `--v2-pages` (pages
 * without what 5.0 answers add).
 * The detection bench runs it in its own process (`scripts/bench_detections.ts`).
 *
 * @module
 */

import { startQualysSim } from "./server.ts";
import { formatDateTime, VmdrSubscription } from "./subscription/mod.ts";

if (import.meta.main) {
  const flag = (name: string, dflt: number): number => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
  };
  const subscription = new VmdrSubscription({
    seed: flag("seed", 1),
    hosts: flag("hosts", 1000),
    detectionsPerHost: flag("detections", 40),
    qids: flag("qids", 2000),
    changes: { scanShare: flag("scan-share", 0.1) },
  });
  for (let d = flag("days", 0); d > 0; d--) subscription.advanceDay();
  const sim = await startQualysSim({
    vmdr: {
      subscription,
      pageLatencyMs: flag("latency-ms", 0),
      kbLatencyMs: flag("kb-latency-ms", 0),
      concurrencyLimit: flag("concurrency", 2),
      rateLimit: flag("rate-limit", 300),
      // --v2-pages: without what 5.0 answers add (to compare with figures taken before them)
      v5Elements: !Deno.args.includes("--v2-pages"),
    },
  });
  const caFile = await Deno.makeTempFile({ prefix: "qualys_sim_ca_", suffix: ".pem" });
  await Deno.writeTextFile(caFile, sim.caPem);
  console.log(JSON.stringify({
    url: sim.url,
    user_id: "sim_user",
    password: "sim_pass",
    ca_file: caFile,
    clock: formatDateTime(subscription.clock),
  }));
  const stop = async () => {
    await sim.shutdown();
    await Deno.remove(caFile).catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // commands on stdin; at its end the simulator goes on serving until SIGINT or SIGTERM
  for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    for (const cmd of line.split("\n").map((l) => l.trim()).filter(Boolean)) {
      if (cmd === "advance") {
        const r = subscription.advanceDay();
        console.log(JSON.stringify({ ...r, clock: formatDateTime(r.clock) }));
      } else if (cmd === "quit") await stop();
      else console.log(JSON.stringify({ error: `unknown command ${cmd}: advance or quit` }));
    }
  }
}
