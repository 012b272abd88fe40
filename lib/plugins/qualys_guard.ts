/**
 * The `QualysGuard` input plugin (the default): reads the plugin YAML, then either reads a saved
 * report (`-report`) or has Qualys generate one from a report template and downloads it; with
 * `-multiinfo`, one job per template. Each report is parsed whole before any command is written,
 * then encoded into the job's sink, with a summary of what was kept and skipped. With
 * `source: detections` in the YAML, the one job is the detection source's
 * (`lib/sources/detections/`).
 *
 * @module
 */

import { checkQualys } from "../qualys/check.ts";
import { clientOptionsFromConfig, QualysClient } from "../qualys/client.ts";
import { downloadTemplateReport } from "../sources/report/download_report.ts";
import { readReport } from "../sources/report/read_report.ts";
import { reportDelivery } from "../sources/report/report_delivery.ts";
import { defaultConfig, type QualysConfig, readConfig } from "../config/read_config.ts";
import { ConfigError, ExitCode, exitCodeOf, UsageError } from "../errors.ts";
import { ProgressLine } from "../log/progress.ts";
import { checkDetectionCalls, checkSyncState } from "../sources/detections/check.ts";
import { collectDetectionRun } from "../sources/detections/sync/detection_run.ts";
import { type DeliveryTarget, openDestinationState } from "../state/destination_state.ts";
import { dayNumber } from "../ledger/refresh.ts";
import type { ParsedReport } from "../sources/report/parse_report.ts";
import type { Delivery } from "../pipeline/delivery.ts";
import { readStateHead, STATE_FILE, statePath } from "../sources/detections/state/sync_state.ts";
import { besideYaml, destinationKey, stateDirOf } from "../state/destination_key.ts";
import { checkOptionRules } from "../cli/rules.ts";
import { OPTIONS } from "../cli/options.ts";
import type {
  Checked,
  CheckStep,
  DcTrust,
  InputPlugin,
  Job,
  PluginContext,
  Prepared,
  RecordingSettings,
  StatusPlace,
} from "./plugin.ts";

/** The default plugin configuration path. */
export const DEFAULT_PLUGININFO = "InputPlugins/QualysGuard.yaml";

/**
 * Reads and validates the plugin YAML for this run; registers its secrets with the logger.
 * `offline` (a saved report, `-status`): no credentials or template needed, and no YAML at the
 * default path is the defaults.
 */
async function loadConfig(
  context: PluginContext,
  offline = context.cli.report !== undefined,
): Promise<QualysConfig> {
  const { cli, log } = context;
  const requirements = {
    credentials: !offline,
    templateId: !offline && !cli.multiinfo,
    onWarning: (m: string) => log.warn(m),
    commandLine: OPTIONS, // a server: key is said to be -server
  };
  const config: QualysConfig = cli.plugininfo !== undefined
    ? await readConfig(cli.plugininfo, requirements)
    : await readConfig(DEFAULT_PLUGININFO, { ...requirements, missingIsDefault: offline });
  log.addSecret(config.account.password);
  log.addSecret(config.account.proxyPassword);
  if (config.file === defaultConfig().file) {
    log.debug(`No ${DEFAULT_PLUGININFO}: using the default settings`);
  } else log.info(`Read the plugin configuration from ${config.file}`);
  return config;
}

/** The PEM text of `ca_file`, when one is set. */
async function readCaFile(config: QualysConfig): Promise<string | undefined> {
  if (!config.account.caFile) return undefined;
  let pem: string;
  try {
    pem = await Deno.readTextFile(config.account.caFile);
  } catch (error) {
    throw new ConfigError(
      `cannot read ca_file ${config.account.caFile}: ${(error as Error).message}`,
      {
        file: config.file,
        cause: error,
      },
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(
      `ca_file ${config.account.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      { file: config.file },
    );
  }
  return pem;
}

/** `-timeout` in ms: the time limit of each network step; the client's defaults without it. */
function timeoutMs(context: PluginContext): number | undefined {
  return context.cli.timeout === undefined ? undefined : context.cli.timeout * 1000;
}

/**
 * Where a job's commands go and how they are compared with what the destination holds: a
 * Defense Center (what changed, and the rolling refresh), a file (everything, recorded), stdout.
 */
function targetOf(context: PluginContext, config: QualysConfig): DeliveryTarget {
  const { cli } = context;
  return {
    kind: cli.csvfile === undefined
      ? "dc"
      : cli.csvfile === "-" || cli.csvfile === "/dev/stdout"
      ? "stdout"
      : "file",
    refreshDays: config.output.refreshDays,
    full: cli.full,
    today: dayNumber(context.now()),
    dryRun: cli.dryRun,
  };
}

/**
 * A report job's delivery: the destination's lock and record first (before the long download),
 * then the report. Without a plugin YAML, or to stdout, nothing is kept: every host is sent.
 * With `-multiinfo`, each template's file has its own record; a Defense Center has one for all
 * of them (a host's results are replaced by whichever template sends it last).
 */
async function reportJob(
  context: PluginContext,
  config: QualysConfig,
  o: { variant?: string | undefined; read: () => Promise<ParsedReport> },
): Promise<Delivery> {
  const { cli, log } = context;
  const target = targetOf(context, config);
  if (config.file === defaultConfig().file || target.kind === "stdout") {
    log.debug(
      "No record of what the destination holds is kept (" +
        (target.kind === "stdout" ? "stdout" : "no plugin YAML") + "): every host is sent",
    );
    return reportDelivery(await o.read(), config, log);
  }
  const dest = await openDestinationState(stateDirOf(config.file, config.source.stateDir), {
    destination: destinationKey(cli, config.output),
    variant: target.kind === "file" ? o.variant : undefined,
    dryRun: target.dryRun,
    onDamaged: (m) => log.warn(m),
  });
  try {
    const record = {
      file: dest.ledger!,
      today: target.today,
      refreshDays: target.refreshDays,
      sendAll: target.kind === "file" || target.full,
      whole: target.kind === "file",
    };
    return reportDelivery(await o.read(), config, log, { record, release: dest.release });
  } catch (error) {
    dest.release();
    throw error;
  }
}

/** A template's report, downloaded and parsed, handed over. */
function templateJob(
  context: PluginContext,
  client: QualysClient,
  o: { templateId: string; config: QualysConfig; variant?: string },
): Promise<Delivery> {
  const { config } = o, log = context.log;
  return reportJob(context, config, {
    variant: o.variant,
    read: () => downloadTemplateReport(client, o.templateId, { config, log }),
  });
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
    async collect() {
      const line = new ProgressLine();
      try {
        return await collectDetectionRun({
          client,
          config,
          destination: destinationKey(cli, config.output),
          stateDir: stateDirOf(config.file, config.source.stateDir),
          full: cli.full,
          target: targetOf(context, config),
          maxConcurrency: maxConcurrency(env),
          log,
          onProgress: (detail) => line.update(`Host List Detection: ${detail}`),
        });
      } finally {
        line.done();
        // Collected: nothing more is asked of Qualys this run, so its connections and their
        // buffers go before the encoding and the send.
        await client.close();
      }
    },
  };
}

/** What the YAML says of the Defense Center: the domain of the commands, the certificate to
 * trust. */
function dcTrustOf(config: QualysConfig): DcTrust {
  return { domain: config.output.domain, fingerprint: config.dcTrust.fingerprint };
}

/** The options that do not go with the source: a usage error. */
function checkSourceOptions(context: PluginContext, config: QualysConfig): void {
  const { cli } = context;
  if (cli.report !== undefined) return;
  if (config.source.kind === "detections" && cli.multiinfo) {
    throw new UsageError(
      "-multiinfo downloads one report per template: it does not apply with source: detections",
    );
  }
}

/** The jobs of a run: a saved report's, a template's (or one per `-multiinfo` template), or the
 * detection source's; the Qualys client they share is closed when the iteration ends. */
async function* jobsOf(context: PluginContext, config: QualysConfig): AsyncGenerator<Job> {
  const { cli, log } = context;
  if (cli.report !== undefined) {
    const path = cli.report;
    yield {
      collect: () => reportJob(context, config, { read: () => readReport(path, config, log) }),
    };
    return;
  }
  const client = QualysClient.open({
    ...clientOptionsFromConfig(config.account, await readCaFile(config)),
    log,
    timeoutMs: timeoutMs(context),
    traffic: context.traffic,
  });
  try {
    if (config.source.kind === "detections") {
      yield detectionJob(context, config, client);
      return;
    }
    if (!cli.multiinfo) {
      const templateId = config.source.templateId!;
      yield { collect: () => templateJob(context, client, { templateId, config }) };
      return;
    }
    // -multiinfo (process_multiple): one job per template; the agent tries every one.
    for (const id of cli.multiinfo) {
      yield {
        name: `template ${id}`,
        intro: `Template ${id}: downloading its report`,
        variant: id,
        collect: () => templateJob(context, client, { templateId: id, config, variant: id }),
      };
    }
  } finally {
    await client.close();
  }
}

/**
 * The state directory of a run with this configuration: `state_dir`, or beside the YAML; none
 * without a YAML (a saved report read with the defaults keeps no state in the current directory).
 */
function stateDirFor(config: QualysConfig): string | undefined {
  if (config.file === defaultConfig().file) return undefined;
  return stateDirOf(config.file, config.source.stateDir);
}

/** What a run with this configuration records at its end (README: Monitoring). */
function recordingOf(context: PluginContext, config: QualysConfig): RecordingSettings {
  const stateDir = stateDirFor(config);
  const beside = (path: string | undefined) =>
    path === undefined ? undefined : besideYaml(config.file, path);
  const source = context.cli.report !== undefined ? "report" : config.source.kind;
  return {
    source,
    stateDir,
    jsonFile: beside(config.monitor.jsonFile),
    metricsFile: beside(config.monitor.metricsFile),
    checkpoint: source === "detections" && stateDir !== undefined
      ? async (destination) =>
        (await readStateHead(await statePath(stateDir, destination)))?.checkpoint ?? null
      : undefined,
  };
}

/** The `QualysGuard` plugin. */
export const qualysGuardPlugin: InputPlugin = {
  name: "QualysGuard",

  async prepare(context: PluginContext): Promise<Prepared> {
    checkOptionRules(context.cli, { phase: "QualysGuard", warn: (m) => context.log.warn(m) });
    const config = await loadConfig(context);
    checkSourceOptions(context, config); // before the Defense Center is checked
    return {
      dcTrust: dcTrustOf(config),
      jobs: jobsOf(context, config),
      recording: recordingOf(context, config),
    };
  },

  async status(context: PluginContext): Promise<StatusPlace> {
    const config = await loadConfig(context, true);
    const stateDir = stateDirFor(config) ?? stateDirOf(DEFAULT_PLUGININFO, undefined);
    const checkpoints = new Map<string, string>();
    try {
      for await (const entry of Deno.readDir(stateDir)) {
        if (!STATE_FILE.test(entry.name)) continue;
        const head = await readStateHead(`${stateDir}/${entry.name}`);
        if (head) checkpoints.set(head.destination, head.checkpoint);
      }
    } catch { /* no directory: -status says so */ }
    return { stateDir, refreshDays: config.output.refreshDays, checkpoints };
  },

  async check(context: PluginContext): Promise<Checked> {
    let config: QualysConfig;
    let caPem: string | undefined;
    try {
      config = await loadConfig(context);
      caPem = await readCaFile(config);
    } catch (error) {
      return {
        steps: [{
          ok: false,
          what: "configuration",
          detail: (error as Error).message,
          code: exitCodeOf(error),
          fatal: true,
        }],
        dcTrust: {},
      };
    }
    const dcTrust = dcTrustOf(config);
    const steps: CheckStep[] = [{ ok: true, what: "configuration", detail: config.file }];
    if (context.cli.report !== undefined) {
      steps.push({
        ok: "skip",
        what: "Qualys",
        detail: "-report reads a saved report, so no Qualys login is needed",
      });
      return { steps, dcTrust };
    }
    const detections = config.source.kind === "detections";
    const login = detections ? (c: QualysClient) => checkDetectionCalls(c, config) : undefined;
    const qualys = await checkQualys(config.account, {
      caPem,
      timeoutMs: timeoutMs(context),
      login,
    });
    for (const step of qualys) steps.push({ ...step, code: ExitCode.Qualys });
    if (detections) steps.push(await checkSyncState(context.cli, config));
    return { steps, dcTrust };
  },
};
