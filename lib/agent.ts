/**
 * The agent core: the command line, the logger, choosing the input plugin (the plugin word:
 * `QualysGuard` or `csv`) and the destination (a CSV file, stdout or a Defense Center), driving
 * the plugin's jobs into sinks, `-check`, and turning errors into exit statuses.
 *
 * @module
 */

import { type CliOptions, parseArgv } from "./cli/parse_argv.ts";
import type { PluginName } from "./cli/options.ts";
import { usage } from "./cli/options.ts";
import { onSignalReport } from "./cleanup.ts";
import { checkDc } from "./dc/check.ts";
import { ExitCode, exitCodeOf, LocalIoError, UsageError } from "./errors.ts";
import { Level, Logger } from "./log/logger.ts";
import { deliver } from "./pipeline/deliver.ts";
import { csvPlugin } from "./plugins/csv.ts";
import type { CheckStep, InputPlugin, PluginContext } from "./plugins/plugin.ts";
import { qualysGuardPlugin } from "./plugins/qualys_guard.ts";
import * as sinks from "./sinks/open_sink.ts";
import { chooseDestination, type DcSettings, withDcSettings } from "./sinks/destination.ts";
import { writeAllSync } from "./util/bytes.ts";
import { VERSION } from "./version.ts";

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** How the program was invoked (`process_multiple` behaves as `-multiinfo`). @default {"qualys_connector"} */
  programName?: string;
  /** Environment variables. @default {{}} */
  env?: Record<string, string>;
}

/** The input plugins, by plugin word. */
const PLUGINS: Record<PluginName, InputPlugin> = {
  QualysGuard: qualysGuardPlugin,
  csv: csvPlugin,
};

const encoder = new TextEncoder();

function print(stream: "stdout" | "stderr", text: string): void {
  try {
    const to = stream === "stdout" ? Deno.stdout : Deno.stderr;
    writeAllSync(to, encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
  } catch { /* a closed stream: there is nobody left to tell */ }
}

/**
 * The version line, as the original printed it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.match(versionLine(), /^qualys_connector Ver\. \d+\.\d+\.\d+$/);
 * ```
 */
export function versionLine(program = "qualys_connector"): string {
  return `${program} Ver. ${VERSION}`;
}

/**
 * Runs the connector with `argv` (without the program name) and resolves to the exit status;
 * never exits the process. Logs go where the options say (stdout by default).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const status = await run(["-report", "fixtures/sample_report.xml", "-c", `${dir}/out.csv`, "-le", "0"]);
 * assert.equal(status, 0);
 * assert.match(await Deno.readTextFile(`${dir}/out.csv`), /^SetSource,QualysGuard Scan Report\n/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const program = options.programName ?? "qualys_connector";
  const env = options.env ?? {};
  if (argv.length === 0 && !program.startsWith("process_multiple")) {
    print("stdout", `${versionLine(program)}\n${usage(program)}`);
    return ExitCode.Ok;
  }
  let cli: CliOptions;
  try {
    cli = parseArgv(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    print("stderr", `${program}: ${error.message}\n\n${usage(program)}`);
    return error.exitCode;
  }
  if (cli.help) {
    print("stdout", usage(program));
    return ExitCode.Ok;
  }
  if (cli.version) {
    print("stdout", versionLine(program));
    return ExitCode.Ok;
  }
  if (program.startsWith("process_multiple") && !cli.multiinfo) {
    print(
      "stderr",
      `${program}: -multiinfo <template_id1,template_id2,...> is required when invoked as ${program}`,
    );
    return ExitCode.Usage;
  }

  const csvToStdout = cli.csvfile === "-" || cli.csvfile === "/dev/stdout";
  let log: Logger;
  try {
    log = new Logger({
      level: cli.level,
      stdout: false,
      stderr: cli.stderr || (csvToStdout && !cli.logfile && !cli.syslog),
      logfile: cli.logfile,
      syslog: cli.syslog,
      tag: program,
    });
  } catch (error) {
    print("stderr", `${program}: ${(error as Error).message}`);
    return exitCodeOf(error);
  }
  log.addSecret(cli.password);
  log.addSecret(env.QC_PKCS12_PASSWORD);
  const unreport = onSignalReport((signal, code, notes) => {
    log.fatal(`Stopped by ${signal} (exit ${code})${notes.map((n) => ` ${n}`).join(";")}`);
    return log.close();
  });
  const fail = (error: unknown, prefix = "") => {
    const message = (error as Error)?.message ?? String(error);
    // A reader that closed the pipe (`-c - | head`) ends the run quietly, as SIGPIPE would: exit 7.
    if (error instanceof LocalIoError && error.brokenPipe) log.debug(`Stopped: ${message}`);
    else log.fatal(message, prefix);
    if (exitCodeOf(error) === ExitCode.Internal) log.debug(String((error as Error)?.stack ?? ""));
    return exitCodeOf(error);
  };
  try {
    return (await drive({ cli, log, env }, fail)) || (log.failure?.exitCode ?? ExitCode.Ok);
  } catch (error) {
    return fail(error);
  } finally {
    unreport();
    await log.close();
  }
}

/**
 * Runs the plugin's jobs, each through the delivery pipeline into the destination's sink;
 * resolves to the exit status. The plugin hands over the Defense Center settings of its
 * configuration (`useDcSettings`) when it reads it, before it opens a sink or finishes its checks.
 */
async function drive(
  outer: PluginContext,
  fail: (error: unknown, prefix: string) => number,
): Promise<number> {
  let dc: DcSettings = {};
  const context: PluginContext = { ...outer, useDcSettings: (s) => void (dc = s) };
  const { cli, log, env } = context;
  if (cli.csvfile !== undefined && cli.server !== undefined) {
    log.warn("Both -csvfile and -server are given: -server is ignored, commands go to the CSV");
  }
  const plugin = PLUGINS[cli.plugin];
  if (cli.check) return await check(plugin, context, () => dc);
  if (cli.csvfile === undefined && cli.server === undefined) {
    throw new UsageError(
      "Say where the commands go: -server <Defense Center> or -csvfile <file> (- = stdout)",
    );
  }
  const destination = await chooseDestination({ ...dcTarget(cli), ...cli, env, log });
  if (cli.multiinfo && "csvfile" in destination) {
    await sinks.checkMultiinfoTarget(destination.csvfile);
  }
  await sinks.removeStaleTempFiles(destination, { log });
  let worst: number = ExitCode.Ok;
  for await (const job of plugin.jobs(context)) {
    const run = async () => {
      await sinks.probeSink(destination, { variant: job.variant }); // before the long work
      const delivery = await job.collect();
      const to = withDcSettings(destination, dc);
      await deliver(delivery, {
        openSink: () => sinks.openSink(to, { variant: job.variant, log }),
        log: {
          info: (m) => log.info(m),
          warn: (m) => log.warn(m),
          debug: log.enabled(Level.Debug) ? (m) => log.debug(m) : undefined,
        },
      });
    };
    if (job.name === undefined) {
      await run();
      continue;
    }
    // One of several independent jobs (-multiinfo): every one is tried; the worst status wins.
    try {
      log.info(
        `${job.intro ?? job.name}; commands go to ${
          sinks.destinationName(destination, { variant: job.variant })
        }`,
      );
      await run();
    } catch (error) {
      worst = Math.max(worst, fail(error, job.name));
    }
  }
  return worst;
}

/** The Defense Center of the command line: -server, -port, -ipv6, -insecure, -timeout. */
function dcTarget(cli: CliOptions) {
  const { port, ipv6, insecure, timeout } = cli;
  return { host: cli.server!, port, ipv6, insecure, timeoutMs: timeout && timeout * 1000 };
}

/** `-check`: one line per step with OK, FAIL or SKIP; resolves to the worst failure's status. */
async function check(
  plugin: InputPlugin,
  context: PluginContext,
  dc: () => DcSettings,
): Promise<number> {
  const { cli, log, env } = context;
  let worst: number = ExitCode.Ok;
  const show = (step: CheckStep, code: number) => {
    const mark = step.ok === "skip" ? "SKIP" : step.ok ? "OK  " : "FAIL";
    print("stdout", log.clean(`${mark} ${step.what}: ${step.detail}`));
    if (step.ok === false) worst = Math.max(worst, step.code ?? code);
  };
  for (const step of await plugin.check(context)) {
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
    const { domain, fingerprint } = dc();
    const pin = cli.pin ?? fingerprint;
    const steps = await checkDc({ ...dcTarget(cli), pkcs12, password, env, log, pin, domain });
    for (const step of steps) show(step, ExitCode.Dc);
  }
  return worst;
}

export { usage };
