/**
 * The detection source's part of `-check` (docs/detections.md): one Host List
 * Detection call with `truncation_limit=1` and one KnowledgeBase call (nothing is launched or
 * saved), and what the sync state says the next run will do.
 *
 * @module
 */

import type { QualysConfig } from "../../config/read_config.ts";
import { ExitCode, LocalIoError } from "../../errors.ts";
import type { QualysClient } from "../../qualys/client.ts";
import { ConcurrencyLimit } from "../../qualys/concurrency.ts";
import { fetchParsed, Traffic } from "../../qualys/fetch_parsed.ts";
import { destinationKey, stateDirOf } from "../../state/destination_key.ts";
import { dirOf } from "../../util/atomic_file.ts";
import { DetectionPageParser } from "./pages/detection_page.ts";
import { KbPageParser } from "./pages/kb_page.ts";
import { readSyncState, statePath } from "./state/sync_state.ts";
import { queryHash, queryParams } from "./sync/query.ts";

/** One `-check` step of the detection source. */
export interface SyncCheckStep {
  /** Passed, failed, or did not apply. */
  ok: boolean | "skip";
  /** What was checked. */
  what: string;
  /** The result, or what to fix. */
  detail: string;
  /** The exit status a failure means. */
  code?: number;
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
  const what = `Qualys login of ${config.account.userId} and a ${client.title("detections")} call`;
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
  cli: {
    csvfile?: string | undefined;
    server?: string | undefined;
    port: number;
    full: boolean;
  },
  config: QualysConfig,
): Promise<SyncCheckStep> {
  const dir = stateDirOf(config.file, config.source.stateDir);
  const what = `sync state in ${dir}`;
  if (cli.csvfile === undefined && cli.server === undefined) {
    return { ok: "skip", what, detail: "no destination given (-server or -csvfile)" };
  }
  const destination = destinationKey(cli, config.output);
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
