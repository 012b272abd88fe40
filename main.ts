/**
 * qualys_connector: command-line entry. Wiring only: run the agent, clean up temp files on
 * SIGINT/SIGTERM/SIGHUP (a closed terminal or SSH session), exit with the agent's status.
 *
 * @module
 */

import { run } from "./lib/agent.ts";
import { runCleanups } from "./lib/cleanup.ts";

if (import.meta.main) {
  const programName = (Deno.execPath().endsWith("/deno") || Deno.execPath().endsWith("/deno.exe"))
    ? "qualys_connector"
    : Deno.execPath().split("/").pop()!.replace(/\.exe$/, "");
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    Deno.addSignalListener(signal, () => {
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
