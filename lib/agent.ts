/**
 * The agent core: the command line, the logger, choosing the input plugin (the plugin word:
 * `QualysGuard` or `csv`) and the destination (a CSV file, stdout or a Defense Center), running
 * the plugin's jobs through the delivery pipeline, `-check`, and turning errors into exit
 * statuses (docs/architecture.md).
 *
 * @module
 */

import { type CliOptions, parseArgv, secretsOf } from "./cli/parse_argv.ts";
import type { PluginName } from "./cli/options.ts";
import { usage } from "./cli/options.ts";
import { checkOptionRules } from "./cli/rules.ts";
import { ExitCode, exitCodeOf, LocalIoError, UsageError } from "./errors.ts";
import { Logger } from "./log/logger.ts";
import { statusText } from "./monitor/read_status.ts";
import { recorderFor, type RunRecorder } from "./monitor/run_end.ts";
import { deliver } from "./pipeline/deliver.ts";
import { csvPlugin } from "./plugins/csv.ts";
import type { InputPlugin, PluginContext } from "./plugins/plugin.ts";
import { qualysGuardPlugin } from "./plugins/qualys_guard.ts";
import * as sinks from "./sinks/open_sink.ts";
import { loadDcIdentity, resolveDestination } from "./sinks/destination.ts";
import type { ClientIdentity } from "./dc/pkcs12.ts";
import { print } from "./cli/print.ts";
import { check, dcTarget } from "./check.ts";
import { versionLine } from "./version.ts";
import { plural } from "./util/text.ts";

export { versionLine };

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** How the program was invoked (`process_multiple` behaves as `-multiinfo`). @default {"qualys_connector"} */
  programName?: string;
  /** Environment variables. @default {{}} */
  env?: Record<string, string>;
  /** The clock: the day each destination's record keeps (tests set it). @default the system's */
  now?: () => Date;
}

/** The input plugins, by plugin word. */
const PLUGINS: Record<PluginName, InputPlugin> = {
  QualysGuard: qualysGuardPlugin,
  csv: csvPlugin,
};

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
  const started = performance.now(); // the summary's time is the whole run's
  const program = options.programName ?? "qualys_connector";
  const env = options.env ?? {};
  if (argv.length === 0 && !program.startsWith("process_multiple")) {
    print("stdout", `${versionLine(program)}\n${usage(program)}`);
    return ExitCode.Ok;
  }
  let cli: CliOptions;
  try {
    cli = parseArgv(argv, { env });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    print("stderr", usageErrorLine(error.message, program));
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

  // What the run writes to stdout (commands, its JSON record, -status) moves the log to stderr.
  const toStdout = cli.csvfile === "-" || cli.csvfile === "/dev/stdout" || cli.json === "-" ||
    cli.status;
  let log: Logger;
  try {
    log = new Logger({
      level: cli.level,
      stdout: false,
      stderr: cli.stderr || (toStdout && !cli.logfile && !cli.syslog),
      logfile: cli.logfile,
      syslog: cli.syslog,
      tag: program,
    });
  } catch (error) {
    print("stderr", `${program}: ${(error as Error).message}`);
    return exitCodeOf(error);
  }
  for (const secret of secretsOf(cli, env)) log.addSecret(secret);
  const recorder = recorderFor(cli, log); // the run's records, written at its end (README: Monitoring)
  const unreport = recorder.reportSignals(log); // a signal is logged, and ends the records too
  const fail = (error: unknown, prefix = "", inJob = false) => {
    recorder.failed(error, { prefix, inJob });
    const message = (error as Error)?.message ?? String(error);
    // A reader that closed the pipe (`-c - | head`) ends the run quietly, as SIGPIPE would: exit 7.
    if (error instanceof LocalIoError && error.brokenPipe) log.debug(`Stopped: ${message}`);
    else log.fatal(message, prefix);
    if (exitCodeOf(error) === ExitCode.Internal) log.debug(String((error as Error)?.stack ?? ""));
    return exitCodeOf(error);
  };
  const now = options.now ?? (() => new Date());
  const context = { cli, log, env, now, traffic: recorder.traffic };
  const code = await runJobs(context, { recorder, fail, started })
    .then((worst) => worst || (log.failure?.exitCode ?? ExitCode.Ok), (error) => fail(error));
  try {
    return await recorder.end(code, log);
  } finally {
    unreport();
    await log.close();
  }
}

/**
 * A command-line mistake as one line, and where the options are told: the hint is not buried
 * under the whole usage text.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(usageErrorLine('Unknown option "-bogus"', "qc"),
 *   'qc: Unknown option "-bogus": run "qc -help" for the options');
 * ```
 */
export function usageErrorLine(message: string, program: string): string {
  const help = `"${program} -help" for the options`;
  return `${program}: ${message}${message.endsWith("?") ? ` Run ${help}` : `: run ${help}`}`;
}

/**
 * Runs the plugin's jobs, each through the delivery pipeline into the destination's sink;
 * resolves to the exit status. A Defense Center's client identity is loaded first (its log
 * lines and errors come before the plugin's), the plugin then reads its configuration, and the
 * destination is chosen with the plugin's trust in the Defense Center, and checked (a DC
 * connected to as by -check), before any job runs.
 */
async function runJobs(
  context: PluginContext,
  o: {
    recorder: RunRecorder;
    fail: (error: unknown, prefix: string, inJob: boolean) => number;
    /** When the run started (`performance.now()`). */
    started: number;
  },
): Promise<number> {
  const { cli, log } = context;
  const { recorder, fail } = o;
  checkOptionRules(cli, { phase: "start", warn: (m) => log.warn(m) });
  const plugin = PLUGINS[cli.plugin];
  if (cli.check) return await check(plugin, context);
  if (cli.status) {
    print("stdout", await statusText(await plugin.status(context), { log }));
    return ExitCode.Ok;
  }
  let identity: ClientIdentity | undefined;
  if (cli.csvfile === undefined) {
    identity = await loadDcIdentity({ pkcs12: cli.pkcs12, password: cli.password, log });
    checkOptionRules(cli, { phase: "dc", warn: (m) => log.warn(m) });
  }
  if (cli.multiinfo && cli.csvfile !== undefined) await sinks.checkMultiinfoTarget(cli.csvfile);
  if (!cli.dryRun) await sinks.removeStaleTempFiles(cli.csvfile, { log });
  const { dcTrust, jobs, recording } = await plugin.prepare(context);
  if (recording) await recorder.configure(recording, { domain: dcTrust.domain, log });
  const destination = resolveDestination(dcTarget(cli), { identity, trust: dcTrust });
  await sinks.checkDestination(destination, { domain: dcTrust.domain, log });
  let worst: number = ExitCode.Ok, named = 0;
  const failed: string[] = [];
  for await (const job of jobs) {
    const run = async (since: { what: string; started: number }) => {
      // before the long work (a dry run writes nothing, not even a probe: it only looks)
      await sinks.probeSink(destination, { variant: job.variant, readOnly: cli.dryRun });
      const delivery = await job.collect();
      await deliver(delivery, {
        openSink: () => sinks.openSink(destination, { variant: job.variant, log }),
        log,
        onCounts: (counts) => recorder.counted(counts),
        dryRun: cli.dryRun,
        since,
      });
    };
    if (job.name === undefined) {
      await run({ what: "the run", started: o.started });
      continue;
    }
    // One of several independent jobs (-multiinfo): every one is tried; the worst status wins.
    recorder.jobStarted(job.variant ?? job.name);
    named++;
    try {
      log.info(
        `${job.intro ?? job.name}; commands go to ${
          sinks.destinationName(destination, { variant: job.variant })
        }`,
      );
      await run({ what: "this template", started: performance.now() });
    } catch (error) {
      const code = fail(error, job.name, true);
      failed.push(`${job.variant ?? job.name} (exit ${code})`);
      worst = Math.max(worst, code);
    }
  }
  if (named > 0) multiinfoTally(log, { jobs: named, failed });
  return worst;
}

/**
 * The last line of a `-multiinfo` run: how many of its templates failed, and which (an error),
 * or that none did (the summary heartbeat).
 */
function multiinfoTally(log: Logger, o: { jobs: number; failed: readonly string[] }): void {
  const of = `${o.failed.length} of ${plural(o.jobs, "template")}`;
  if (o.failed.length) log.error(`-multiinfo: ${of} failed: ${o.failed.join(", ")}`);
  else log.summary(`-multiinfo: ${of} failed`);
}
