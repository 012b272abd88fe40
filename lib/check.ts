/**
 * `-check`, the agent's other face: the plugin's steps (configuration, Qualys) and the Defense
 * Center's (TLS, version, domain), one line each with OK, FAIL or SKIP, without a run.
 *
 * @module
 */

import type { CliOptions } from "./cli/parse_argv.ts";
import { print } from "./cli/print.ts";
import { checkDc } from "./dc/check.ts";
import { ExitCode } from "./errors.ts";
import type { CheckStep, InputPlugin, PluginContext } from "./plugins/plugin.ts";

/** The destination of the command line: -csvfile, or -server with -port, -pin and the rest. */
export function dcTarget(cli: CliOptions) {
  const { csvfile, server, port, ipv6, insecure, pin, timeout } = cli;
  return { csvfile, server, port, ipv6, insecure, pin, timeoutMs: timeout && timeout * 1000 };
}

/** `-check`: one line per step with OK, FAIL or SKIP; resolves to the worst failure's status. */
export async function check(plugin: InputPlugin, context: PluginContext): Promise<number> {
  const { cli, log } = context;
  let worst: number = ExitCode.Ok;
  const show = (step: CheckStep, code: number) => {
    const mark = step.ok === "skip" ? "SKIP" : step.ok ? "OK  " : "FAIL";
    print("stdout", log.clean(`${mark} ${step.what}: ${step.detail}`));
    if (step.ok === false) worst = Math.max(worst, step.code ?? code);
  };
  const { steps, dcTrust } = await plugin.check(context);
  for (const step of steps) {
    show(step, ExitCode.Usage);
    if (step.ok === false && step.fatal) return worst;
  }
  if (cli.csvfile !== undefined) {
    show(
      { ok: "skip", what: "Defense Center", detail: "-csvfile is given, so nothing is sent" },
      0,
    );
  } else if (cli.server === undefined) {
    show({
      ok: false,
      what: "Defense Center",
      detail: "give -server <Defense Center> (or -csvfile to write a file)",
    }, ExitCode.Usage);
  } else {
    const { pkcs12, password } = cli;
    const pin = cli.pin ?? dcTrust.fingerprint, domain = dcTrust.domain;
    const steps = await checkDc({
      ...dcTarget(cli),
      host: cli.server,
      pkcs12,
      password,
      log,
      pin,
      domain,
    });
    for (const step of steps) show(step, ExitCode.Dc);
  }
  return worst;
}
