/**
 * The Defense Center simulator run alone (`deno run -A scripts/sim/fmc/serve.ts`), so that a
 * connector pointed at it is measured apart from it (the ledger bench,
 * `scripts/bench_ledger.ts`): it starts the simulator of `defense_center.ts` (whose behaviours
 * are cited there; nothing new here) with a test CA of its own, issues one client `.pkcs12` as
 * the Host Input Client page does, and prints one JSON line: `host`, `port`, `pkcs12` (the
 * file), `password`. On a `stats` line read from stdin it prints what it saw (DATA messages
 * processed, connections accepted), once no connection is open; it stops on `quit`, SIGINT or
 * SIGTERM, removing the `.pkcs12`.
 *
 * Flags: `--max-size N` (the MAX_SIZE it announces; 65535 by default), `--store-results`
 * (keep every result in the network map: without it the map keeps the hosts only, as the send
 * bench's simulator does, so that millions of results do not fill the machine's memory).
 *
 * @module
 */

import { startDcSim } from "./defense_center.ts";

if (import.meta.main) {
  const flag = (name: string, dflt: number): number => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
  };
  const dc = await startDcSim({
    maxSize: flag("max-size", 65535),
    storeResults: Deno.args.includes("--store-results"),
  });
  const dir = await Deno.makeTempDir({ prefix: "dc_sim_" });
  const password = Array.from(crypto.getRandomValues(new Uint8Array(8)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const pkcs12 = `${dir}/client.pkcs12`;
  await Deno.writeFile(pkcs12, dc.issueClient({ password }), { mode: 0o600 });
  console.log(JSON.stringify({ host: dc.host, port: dc.port, pkcs12, password }));
  const stop = async () => {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // commands on stdin; at its end the simulator goes on serving until SIGINT or SIGTERM
  for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    for (const cmd of line.split("\n").map((l) => l.trim()).filter(Boolean)) {
      if (cmd === "stats") {
        await dc.idle();
        console.log(JSON.stringify({ messages: dc.messages, connections: dc.connections }));
      } else if (cmd === "quit") await stop();
      else console.log(JSON.stringify({ error: `unknown command ${cmd}: stats or quit` }));
    }
  }
}
