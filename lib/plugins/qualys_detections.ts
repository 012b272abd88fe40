/**
 * The detection source of the `QualysGuard` plugin (`source: detections` in the plugin YAML):
 * VMDR Host List Detection joined with the KnowledgeBase, synced incrementally per destination
 * from a saved checkpoint (`lib/vmdr/`; README: "The detection source"). `qualys_guard.ts` hands
 * over to it once the YAML says so; this file names the destination and the state directory,
 * runs the one job, and does the source's part of `-check` (one detection call with
 * `truncation_limit=1` and one KnowledgeBase call; nothing is launched or saved).
 *
 * @module
 */

import type { CliOptions } from "../cli/parse_argv.ts";
import type { QualysConfig } from "../config/read_config.ts";
import { ExitCode, LocalIoError, UsageError } from "../errors.ts";
import { Level } from "../log/logger.ts";
import { ProgressLine } from "../log/progress.ts";
import type { QualysClient } from "../qualys/client.ts";
import { dirOf } from "../util/atomic_file.ts";
import { DetectionPageParser } from "../vmdr/detection_page.ts";
import { ConcurrencyLimit, fetchParsed, Traffic } from "../vmdr/fetch_pages.ts";
import { KbPageParser } from "../vmdr/kb_page.ts";
import { queryHash, queryParams, runDetectionSync } from "../vmdr/sync.ts";
import { readSyncState, statePath } from "../vmdr/sync_state.ts";
import type { CheckStep, Job, PluginContext } from "./plugin.ts";

function absolute(path: string): string {
  if (path.startsWith("/")) return path;
  const cwd = Deno.cwd();
  return `${cwd === "/" ? "" : cwd}/${path.replace(/^\.\//, "")}`;
}

/**
 * The destination's name, which keys its sync state: the CSV's absolute path (`csv -` for
 * stdout), or the Defense Center's host and port (and domain, on a multi-domain FMC).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(destinationKey({ server: "10.0.0.1", port: 8307 }, {}), "dc 10.0.0.1:8307");
 * assert.equal(destinationKey({ csvfile: "/var/out.csv", port: 8307 }, {}), "csv /var/out.csv");
 * assert.equal(destinationKey({ server: "fmc", port: 8307 }, { domain: "Global \\ East" }),
 *   "dc fmc:8307 domain Global \\ East");
 * ```
 */
export function destinationKey(
  cli: Pick<CliOptions, "csvfile" | "server" | "port">,
  config: Pick<QualysConfig, "domain">,
): string {
  if (cli.csvfile !== undefined) return `csv ${cli.csvfile === "-" ? "-" : absolute(cli.csvfile)}`;
  return `dc ${cli.server}:${cli.port}${config.domain ? ` domain ${config.domain}` : ""}`;
}

/**
 * The state directory: `state_dir` (relative to the YAML's directory), else `<YAML name>.state`
 * beside the YAML (`InputPlugins/QualysGuard.state` for `InputPlugins/QualysGuard.yaml`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(stateDirOf({ file: "/etc/qc/QualysGuard.yaml" }), "/etc/qc/QualysGuard.state");
 * assert.equal(stateDirOf({ file: "/etc/qc/q.yml", stateDir: "state" }), "/etc/qc/state");
 * ```
 */
export function stateDirOf(config: Pick<QualysConfig, "file" | "stateDir">): string {
  const yaml = absolute(config.file);
  const dir = dirOf(yaml);
  if (config.stateDir !== undefined) {
    return config.stateDir.startsWith("/") ? config.stateDir : `${dir}/${config.stateDir}`;
  }
  return `${dir}/${yaml.slice(dir.length + 1).replace(/\.ya?ml$/i, "")}.state`;
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
export function detectionJob(
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

/**
 * The detection source's `-check` steps after the login's DNS and TLS: one Host List Detection
 * call with `truncation_limit=1` (the filters included, so a wrong `asset_group_ids` shows), and
 * one KnowledgeBase call for a QID it named. Stops at the first failure.
 */
export async function checkDetectionCalls(
  client: QualysClient,
  config: QualysConfig,
): Promise<{ ok: boolean; what: string; detail: string }[]> {
  const traffic = new Traffic();
  const limit = new ConcurrencyLimit();
  const what = `Qualys login of ${config.userId} and a ${client.title("detections")} call`;
  let qid = 6; // DNS Host Name: in every KnowledgeBase
  try {
    const { params } = queryParams(config, undefined);
    const page = await fetchParsed(
      client,
      { endpoint: "detections", params: { action: "list", ...params, truncation_limit: "1" } },
      () => new DetectionPageParser(),
      { what: "a host detection page", traffic, limit, maxFetches: 1 },
    );
    page.listings.replay({ start() {}, add: (q) => (qid = q), end() {} });
    const concurrency = limit.known ? `, ${limit.value} calls at once allowed` : "";
    return [
      {
        ok: true,
        what,
        detail: `accepted: ${page.stats.hosts} host(s) on the first page, Qualys's clock ` +
          `${page.datetime}${concurrency}`,
      },
      await checkKb(client, qid, traffic),
    ];
  } catch (error) {
    return [{ ok: false, what, detail: (error as Error).message }];
  }
}

async function checkKb(
  client: QualysClient,
  qid: number,
  traffic: Traffic,
): Promise<{ ok: boolean; what: string; detail: string }> {
  const what = `${client.title("knowledge_base")} call (QID ${qid})`;
  try {
    const kb = await fetchParsed(
      client,
      {
        endpoint: "knowledge_base",
        params: { action: "list", details: "Basic", ids: String(qid) },
      },
      () => new KbPageParser(),
      { what: "a KnowledgeBase answer", traffic, maxFetches: 1 },
    );
    return {
      ok: true,
      what,
      detail: (kb.qids.length ? "answered" : "answered (the QID is not in the KnowledgeBase)") +
        (client.usesToken("knowledge_base") ? ", with a token of the API gateway" : ""),
    };
  } catch (error) {
    return { ok: false, what, detail: (error as Error).message };
  }
}

/** The `-check` step of the sync state: where it is, and what the next run will do. */
export async function checkSyncState(
  context: PluginContext,
  config: QualysConfig,
): Promise<CheckStep> {
  const { cli } = context;
  const dir = stateDirOf(config);
  const what = `sync state in ${dir}`;
  if (cli.csvfile === undefined && cli.server === undefined) {
    return { ok: "skip", what, detail: "no destination given (-server or -csvfile)" };
  }
  const destination = destinationKey(cli, config);
  try {
    // Writable? A temp file in the directory, or in its parent when it does not exist yet.
    let where = dir;
    try {
      await Deno.stat(dir);
    } catch {
      where = dirOf(dir);
    }
    await Deno.remove(await Deno.makeTempFile({ dir: where, prefix: ".qualys_connector-check-" }));
  } catch (error) {
    return {
      ok: false,
      what,
      detail: `cannot write there (${(error as Error).message}): fix its permissions, or set ` +
        "state_dir in the plugin YAML",
      code: ExitCode.LocalIo,
    };
  }
  let problem = "";
  let state: Awaited<ReturnType<typeof readSyncState>>;
  try {
    state = await readSyncState(await statePath(dir, destination), destination, (m) => problem = m);
  } catch (error) {
    if (!(error instanceof LocalIoError)) throw error;
    return { ok: false, what, detail: error.message, code: ExitCode.LocalIo }; // a directory
  }
  if (state?.checkpoint === "") problem = "no earlier run for this destination ended well";
  else if (state && state.query !== await queryHash(config)) {
    problem = "the account, filters, ip_ranges or scanner_name changed since the last run";
  }
  return {
    ok: true,
    what,
    detail: state && !problem
      ? `${destination}: the next run is incremental, from ${state.checkpoint}` +
        (cli.full ? " (a full one with -full)" : "")
      : `${destination}: the next run is a full sync (${problem || "no earlier run"})`,
  };
}
