/**
 * The `QualysGuard` input plugin (the default): reads the plugin YAML, then either reads a saved
 * report (`-report`) or has Qualys generate one from a report template and downloads it; with
 * `-multiinfo`, one job per template. Each report is parsed whole before any command is written,
 * then encoded into the job's sink, with a summary of what was kept and skipped. With
 * `source: detections` in the YAML, the one job is the detection source's (`lib/sources/detections/`).
 *
 * @module
 */

import { checkQualys } from "../qualys/check.ts";
import { clientOptionsFromConfig, QualysClient } from "../qualys/client.ts";
import { downloadReport } from "../sources/report/download_report.ts";
import {
  commandOptions,
  defaultConfig,
  type QualysConfig,
  readConfig,
} from "../config/read_config.ts";
import {
  ConfigError,
  ExitCode,
  exitCodeOf,
  isWrongPath,
  LocalIoError,
  ReportSyntaxError,
  UsageError,
} from "../errors.ts";
import { writeCommands, type WriteSummary } from "../pipeline/write_blocks.ts";
import { Level, type Logger } from "../log/logger.ts";
import { ProgressLine, withProgress } from "../log/progress.ts";
import { type ParsedReport, parseReport, ReportParser } from "../sources/report/parse_report.ts";
import { guardReads } from "../util/bytes.ts";
import { checkDetectionCalls, checkSyncState } from "../sources/detections/check.ts";
import { runDetectionSync } from "../sources/detections/sync/detection_run.ts";
import { destinationKey, stateDirOf } from "../state/destination_key.ts";
import type { CheckStep, CommandSink, InputPlugin, Job, PluginContext } from "./plugin.ts";

/** The default plugin configuration path. */
export const DEFAULT_PLUGININFO = "InputPlugins/QualysGuard.yaml";

/** Reads and validates the plugin YAML for this run; registers its secrets with the logger. */
async function loadConfig(context: PluginContext): Promise<QualysConfig> {
  const { cli, log } = context;
  const offline = cli.report !== undefined;
  const requirements = {
    credentials: !offline,
    templateId: !offline && !cli.multiinfo,
    onWarning: (m: string) => log.warn(m),
  };
  const config: QualysConfig = cli.plugininfo !== undefined
    ? await readConfig(cli.plugininfo, requirements)
    : await readConfig(DEFAULT_PLUGININFO, { ...requirements, missingIsDefault: offline });
  log.addSecret(config.password);
  log.addSecret(config.proxyPassword);
  context.useDcSettings?.({ domain: config.domain, fingerprint: config.dcFingerprint });
  if (config.file === defaultConfig().file) {
    log.debug(`No ${DEFAULT_PLUGININFO}: using the default settings`);
  } else log.info(`Read the plugin configuration from ${config.file}`);
  return config;
}

/** The PEM text of `ca_file`, when one is set. */
async function readCaFile(config: QualysConfig): Promise<string | undefined> {
  if (!config.caFile) return undefined;
  let pem: string;
  try {
    pem = await Deno.readTextFile(config.caFile);
  } catch (error) {
    throw new ConfigError(`cannot read ca_file ${config.caFile}: ${(error as Error).message}`, {
      file: config.file,
      cause: error,
    });
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(
      `ca_file ${config.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      { file: config.file },
    );
  }
  return pem;
}

/** `-timeout` in ms: the time limit of each network step; the client's defaults without it. */
function timeoutMs(context: PluginContext): number | undefined {
  return context.cli.timeout === undefined ? undefined : context.cli.timeout * 1000;
}

function parseOptions(config: QualysConfig, log: Logger) {
  return {
    ipRanges: config.ipRanges,
    collectOs: config.setOs,
    onWarning: (m: string) => log.warn(m),
  };
}

function cannotRead(path: string) {
  return (error: unknown) =>
    new LocalIoError(
      `cannot read the report: ${(error as Error).message}: check the -report path`,
      {
        path,
        cause: error,
        usage: isWrongPath(error),
      },
    );
}

/** Parses a saved report (`-report PATH`, `-` = stdin). */
async function readReport(path: string, config: QualysConfig, log: Logger): Promise<ParsedReport> {
  const options = parseOptions(config, log);
  if (path === "-") {
    log.info("Reading the Qualys report from standard input");
    const stdin = guardReads(Deno.stdin, cannotRead("stdin"));
    const progress = withProgress(stdin, { label: "Parsing the report from stdin" });
    try {
      return await parseReport(progress.reader, options);
    } finally {
      progress.done();
    }
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (!isWrongPath(error)) throw cannotRead(path)(error);
    throw new UsageError(
      `Cannot open the report ${path}: ${(error as Error).message}: check the -report path`,
      { cause: error },
    );
  }
  log.info(`Reading the Qualys report ${path}`);
  const size = (await file.stat()).size;
  const progress = withProgress(guardReads(file, cannotRead(path)), {
    label: `Parsing ${path}`,
    total: size,
  });
  try {
    return await parseReport(progress.reader, options);
  } catch (error) {
    throw error instanceof ReportSyntaxError ? error.inFile(path) : error;
  } finally {
    progress.done();
    file.close();
  }
}

/** Launches the template's report, waits for it, and parses it as it downloads. */
async function download(
  client: QualysClient,
  templateId: string,
  config: QualysConfig,
  log: Logger,
): Promise<ParsedReport> {
  log.info(`Launching a report of template ${templateId} on ${client.host}`);
  const line = new ProgressLine();
  try {
    const report = await downloadReport(client, templateId, {
      parser: () => new ReportParser(parseOptions(config, log)),
      onWarning: (m) => log.warn(m),
      maxWaitMs: config.maxReportWaitMinutes * 60_000,
      firstPollMs: config.pollIntervalSeconds * 1000,
      onProgress: (phase, detail) =>
        line.update(phase === "wait" ? `Waiting: ${detail}` : `Downloading ${detail}`),
    });
    log.info(`Downloaded the report of template ${templateId} (${report.stats.bytes} bytes)`);
    return report;
  } finally {
    line.done();
  }
}

/** Encodes a parsed report into the sink the job opens, and logs the summary. */
async function deliver(
  report: ParsedReport,
  config: QualysConfig,
  openSink: () => Promise<CommandSink>,
  log: Logger,
): Promise<void> {
  const started = performance.now();
  try {
    const s = report.stats;
    log.info("QualysGuard Report Processing Complete");
    log.info(
      `Parsed an ${report.format} report of ${s.bytes} bytes: ${s.hosts} hosts, ` +
        `${s.findings} findings to import on ${s.hostsKept} hosts, ${s.hostsEmpty} hosts ` +
        `without open findings, ${s.glossary} QIDs in the glossary`,
    );
    const sink = await openSink();
    let written: WriteSummary;
    try {
      written = await writeCommands(report, sink, {
        ...commandOptions(config),
        log: {
          info: (m) => log.info(m),
          warn: (m) => log.warn(m),
          debug: log.enabled(Level.Debug) ? (m) => log.debug(m) : undefined,
        },
      });
    } catch (error) {
      await sink.abort();
      throw error;
    }
    await sink.close({
      onComplete(where, delivered) {
        log.info(
          `Summary: ${s.hostsKept} hosts and ${s.findings} AddScanResult lines ${where}; ` +
            `${summaryDetails(report, config, written)}${
              delivered ? `; ${((performance.now() - started) / 1000).toFixed(2)} s` : ""
            }`,
        );
        report.dispose(); // what is left to do needs none of the parse's memory
      },
    });
  } finally {
    report.dispose();
  }
}

/**
 * The summary's middle part (README: What is written, "The summary"): hosts cleared, what was
 * skipped, what was merged or sent differently, and the operating systems.
 */
function summaryDetails(report: ParsedReport, config: QualysConfig, w: WriteSummary): string {
  const s = report.stats;
  const parts: string[] = [];
  if (config.clearCleanHosts) parts.push(`${w.cleared} hosts cleared: no open findings`);
  parts.push(
    `skipped: ${s.hostsOutOfRange} hosts outside ip_ranges, ${s.hostsInvalid} hosts with an ` +
      `invalid address, ${
        config.clearCleanHosts ? "" : `${s.hostsEmpty} hosts without open findings, `
      }${s.fixed} fixed findings, ${s.duplicates} duplicates`,
  );
  if (s.hostsMerged > 0) parts.push(`${s.hostsMerged} repeated host listings merged`);
  if (s.invalidPorts > 0) {
    parts.push(`${s.invalidPorts} findings with an invalid port sent without a port`);
  }
  if (config.setOs) {
    parts.push(
      `SetOS on ${w.os.set} hosts, ${w.os.unknown} with an OS not in the table, ` +
        `${w.os.missing} without OS data`,
    );
  }
  return parts.join("; ");
}

/** `QC_MAX_CONCURRENCY`: the most calls of one API at once, below Qualys's own limit. */
function maxConcurrency(env: Readonly<Record<string, string>>): number | undefined {
  const text = env.QC_MAX_CONCURRENCY;
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,3}$/.test(text) || Number(text) < 1) {
    throw new UsageError(`QC_MAX_CONCURRENCY must be a whole number from 1, not "${text}"`);
  }
  return Number(text);
}

/** The one job of a detection run. */
function detectionJob(
  context: PluginContext,
  config: QualysConfig,
  client: QualysClient,
): Job {
  const { cli, log, env } = context;
  return {
    async run(openSink) {
      const line = new ProgressLine();
      try {
        await runDetectionSync({
          client,
          config,
          destination: destinationKey(cli, config),
          stateDir: stateDirOf(config),
          full: cli.full,
          openSink,
          maxConcurrency: maxConcurrency(env),
          log: {
            info: (m) => log.info(m),
            warn: (m) => log.warn(m),
            debug: log.enabled(Level.Debug) ? (m) => log.debug(m) : undefined,
          },
          onProgress: (detail) => line.update(`Host List Detection: ${detail}`),
        });
      } finally {
        line.done();
      }
    },
  };
}

/** The `QualysGuard` plugin. */
export const qualysGuardPlugin: InputPlugin = {
  name: "QualysGuard",

  async *jobs(context: PluginContext): AsyncGenerator<Job> {
    const { cli, log } = context;
    if (cli.multiinfo && cli.report !== undefined) {
      throw new UsageError(
        "-multiinfo downloads one report per template: it cannot be used with -report",
      );
    }
    const config = await loadConfig(context);
    if (cli.report !== undefined) {
      const path = cli.report;
      yield {
        run: async (openSink) =>
          deliver(await readReport(path, config, log), config, openSink, log),
      };
      return;
    }
    if (config.source === "detections" && cli.multiinfo) {
      throw new UsageError(
        "-multiinfo downloads one report per template: it does not apply with source: detections",
      );
    }
    if (config.source !== "detections" && cli.full) {
      log.warn("-full applies only with source: detections: it is ignored");
    }
    const client = QualysClient.open({
      ...clientOptionsFromConfig(config, await readCaFile(config)),
      log,
      timeoutMs: timeoutMs(context),
    });
    try {
      if (config.source === "detections") {
        yield detectionJob(context, config, client);
        return;
      }
      if (!cli.multiinfo) {
        const templateId = config.templateId!;
        yield {
          run: async (openSink) =>
            deliver(await download(client, templateId, config, log), config, openSink, log),
        };
        return;
      }
      // -multiinfo (process_multiple): one job per template; the agent tries every one.
      for (const id of cli.multiinfo) {
        yield {
          name: `template ${id}`,
          intro: `Template ${id}: downloading its report`,
          variant: id,
          run: async (openSink) =>
            deliver(await download(client, id, config, log), config, openSink, log),
        };
      }
    } finally {
      await client.close();
    }
  },

  async check(context: PluginContext): Promise<CheckStep[]> {
    let config: QualysConfig;
    let caPem: string | undefined;
    try {
      config = await loadConfig(context);
      caPem = await readCaFile(config);
    } catch (error) {
      return [{
        ok: false,
        what: "configuration",
        detail: (error as Error).message,
        code: exitCodeOf(error),
        fatal: true,
      }];
    }
    const steps: CheckStep[] = [{ ok: true, what: "configuration", detail: config.file }];
    if (context.cli.report !== undefined) {
      steps.push({
        ok: "skip",
        what: "Qualys",
        detail: "-report reads a saved report, so no Qualys login is needed",
      });
      return steps;
    }
    const detections = config.source === "detections";
    const login = detections ? (c: QualysClient) => checkDetectionCalls(c, config) : undefined;
    const qualys = await checkQualys(config, { caPem, timeoutMs: timeoutMs(context), login });
    for (const step of qualys) steps.push({ ...step, code: ExitCode.Qualys });
    if (detections) steps.push(await checkSyncState(context.cli, config));
    return steps;
  },
};
