/**
 * qualys_connector: command-line entry. Wiring only: run the agent; on SIGINT/SIGTERM/SIGHUP (a
 * closed terminal or SSH session) report the signal and clean up temp files; exit with the agent's
 * status.
 *
 * @module
 */

import { run } from "./lib/agent.ts";
import { runCleanups, stopOnSignal } from "./lib/cleanup.ts";

if (import.meta.main) {
  const programName = (Deno.execPath().endsWith("/deno") || Deno.execPath().endsWith("/deno.exe"))
    ? "qualys_connector"
    : Deno.execPath().split("/").pop()!.replace(/\.exe$/, "");
  let stopping = false;
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    Deno.addSignalListener(signal, async () => {
      // A second signal while the first is reported (a syslog child that hangs) ends it at once.
      if (!stopping) {
        stopping = true;
        await stopOnSignal(signal, code); // logged, temp files removed
      }
      runCleanups();
      Deno.exit(code);
    });
  }
  const env = Deno.env.toObject();
  const code = await run(Deno.args, {
    programName: env.QC_PROGRAM_NAME ?? programName,
    env,
  });
  runCleanups();
  Deno.exit(code);
}
