/**
 * One run of the detection source for one destination (docs/detections.md: "What a run does"):
 *
 * - **Full** (no state for the destination, `-full`, a damaged state, other filters than the
 *   last run's, or a checkpoint later than Qualys's clock now): every host with open detections
 *   (New, Active, Re-Opened) → its AddScanResults and ScanFlush; the hosts the destination got
 *   results for before and that are no longer listed → cleared (`DeleteScanResult,<ip>,
 *   "<scanner>"` + ScanUpdate). Without that list (no state, or one not to be trusted) it asks
 *   for Fixed detections too, and clears the hosts listed with all of them fixed.
 * - **Incremental**: the hosts processed after the checkpoint (`vm_processed_after`, statuses
 *   including Fixed): with open detections → AddScanResults + ScanFlush (the host's results
 *   become exactly the current set); with none → cleared. As a full run merges the hosts that
 *   share an address, the other hosts the state has at the addresses these hosts are at or left
 *   are fetched too (their open detections); an address a host left and no host is at now is
 *   cleared.
 * - **Every run** lists the host IDs in scope (`fetch/host_scope.ts`; a full run's own Host List
 *   call is that list): a host the state knows that is no longer listed (purged, or out of the
 *   filters) leaves the state, and in an incremental run its address is cleared unless another
 *   listed host is at it (a full run clears every address no page listed anyway).
 *
 * The run is decided once ({@linkcode planSync}), every page is fetched and parsed and the
 * KnowledgeBase joined ({@linkcode collectDetections}), and what was collected is handed to the
 * delivery pipeline as a {@linkcode Delivery}: nothing is written or sent before the last page
 * has parsed. The state (checkpoint: the earliest DATETIME of the run's answers; the filters'
 * hash; the hosts with results) is saved only when the destination took everything: the sink
 * closed, or the Defense Center processed the data and rejected some commands (exit 6). Any
 * other failure once the sink was open notes the hosts it may have sent, and leaves the
 * checkpoint as it was.
 *
 * @module
 */

import type { QualysConfig } from "../../../config/read_config.ts";
import type { FindingSource } from "../../../findings/finding_source.ts";
import { FindingSpool } from "../../../findings/finding_spool.ts";
import { GlossaryStore } from "../../../findings/glossary_store.ts";
import { emptyHostStats, type HostStats } from "../../../findings/host_collector.ts";
import type { Delivery, DeliveryRecord, WriteSummary } from "../../../pipeline/delivery.ts";
import { plural } from "../../../util/text.ts";
import { Traffic } from "../../../qualys/fetch_parsed.ts";
import {
  type DeliveryTarget,
  type DestinationState,
  openDestinationState,
} from "../../../state/destination_state.ts";
import { DETECTION_MEMORY } from "../../../util/memory.ts";
import { ClockWentBack } from "../fetch/fetch_detections.ts";
import { AddressSet } from "../state/address_set.ts";
import { readSyncState, statePath, type SyncState } from "../state/sync_state.ts";
import {
  collectDetections,
  type Collected,
  type CollectOptions,
  nextHostMap,
  type RecordAddresses,
  type SyncLog,
} from "./collect.ts";
import { planAfterClockWentBack, planSync, type SyncPlan } from "./plan.ts";
import { queryHash } from "./query.ts";
import { saveAttempt, saveState } from "./save_state.ts";
import type { LedgerFile } from "../../../ledger/ledger_file.ts";
import type { Ledger } from "../../../ledger/ledger.ts";
import { dayNumber } from "../../../ledger/refresh.ts";
import { collectGarbage } from "../../../util/memory.ts";

export type { SyncLog, SyncPlan };

/** Options for {@linkcode collectDetectionRun}. */
export interface DetectionRunOptions extends CollectOptions {
  /** The destination's name, which keys its state: `dc 10.0.0.1:8307`, `csv /var/out.csv`. */
  destination: string;
  /** `-full`: a full sync whatever the state says. @default {false} */
  full?: boolean;
  /**
   * What the destination is and how it is compared with its record: a file (or stdout) gets a
   * full sync every run; a Defense Center gets what changed, and the hosts due for the rolling
   * refresh (fetched by their host IDs). @default a Defense Center, every block sent each run
   * (`refresh_days: 0`), on the clock's day
   */
  target?: DeliveryTarget | undefined;
  /** Directory of the finding spool. @default the system temp directory */
  tempDir?: string | undefined;
}

/** What a run did. */
export interface SyncSummary {
  /** Full or incremental. */
  mode: "full" | "incremental";
  /** The checkpoint saved (or that would have been). */
  checkpoint: string;
  /** Hosts sent with results. */
  hostsSent: number;
  /** Hosts cleared. */
  hostsCleared: number;
  /** Hosts the destination held results of that Qualys no longer lists in scope (purged, or out
   * of the filters): they left the state, their addresses cleared unless another host is there. */
  hostsGone: number;
  /** AddScanResult lines. */
  findings: number;
  /** API calls made. */
  calls: number;
  /** Bytes downloaded. */
  bytes: number;
}

/** A collected detection run, as the pipeline takes it, and what it did once written. */
export interface DetectionRun extends Delivery {
  /** The run as it was made (full after all, when Qualys's clock went back). */
  readonly plan: SyncPlan;
  /** What the run did, once its commands were written. */
  summarize(written: WriteSummary): SyncSummary;
}

/** What a run found in the state directory and decided. */
interface Start {
  path: string;
  state: SyncState | undefined;
  query: string;
  plan: SyncPlan;
  target: DeliveryTarget;
  /** What the destination holds (none for stdout). */
  ledger: LedgerFile | undefined;
}

/**
 * Collects one sync of the detection source: takes the destination's lock, reads its state,
 * decides the run, fetches every page and joins the KnowledgeBase. Resolves to what the delivery
 * pipeline writes into the destination's sink; the lock is held until the pipeline is done.
 *
 * @throws {QualysApiError} A call failed for good (exit 3): nothing is sent, the state stays.
 * @throws {LocalIoError} Another run holds the destination, or a local file failed (exit 7).
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "../../../config/read_config.ts";
 * import { NO_LOG } from "../../../log/log.ts";
 * import { QualysClient } from "../../../qualys/client.ts";
 * // A Qualys API that cannot be reached: exit 3 before anything is collected, and no state.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const url = `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
 * listener.close();
 * const dir = await Deno.makeTempDir();
 * const config = await parseConfig(`user_id: u\npassword: p\nurl: ${url}\nsource: detections\n`,
 *   `${dir}/QualysGuard.yaml`);
 * const client = QualysClient.open({ url, userId: "u", password: "p", maxRetries: 0 });
 * try {
 *   const run = collectDetectionRun({ client, config, destination: "csv -", log: NO_LOG,
 *     stateDir: `${dir}/state` });
 *   await assert.rejects(run, { name: "QualysApiError", exitCode: 3 });
 *   assert.ok(![...Deno.readDirSync(`${dir}/state`)].some((e) => /^sync-.*\.json$/.test(e.name)));
 * } finally {
 *   await client.close();
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function collectDetectionRun(options: DetectionRunOptions): Promise<DetectionRun> {
  const target = options.target ?? defaultTarget(options);
  let damagedRecord = false;
  const dest = await openDestinationState(options.stateDir, {
    destination: options.destination,
    record: target.kind !== "stdout",
    dryRun: target.dryRun,
    onDamaged: (m) => {
      damagedRecord = true;
      options.log.warn(m);
    },
  });
  const path = await statePath(options.stateDir, options.destination);
  const temp = options.tempDir ? { tempDir: options.tempDir } : {};
  const spool = new FindingSpool({ memoryLimit: DETECTION_MEMORY.findingBytes, ...temp });
  const glossary = new GlossaryStore({ memoryLimit: DETECTION_MEMORY.glossaryBytes, ...temp });
  const release = () => {
    spool.dispose();
    glossary.dispose();
    dest.release();
  };
  try {
    const start = await begin(options, { path, target, dest, damagedRecord });
    // What reading the sync state and the record left (their text, parsed): 13 MiB of heap on an
    // incremental night of the bench's 100,000 hosts, that night's peak until the first answer.
    collectGarbage();
    const stats = emptyHostStats(), traffic = new Traffic();
    const into = { spool, glossary, stats, traffic };
    const collected = await collectOrReplan(options, start, into);
    logCollected(options, start, collected);
    return handOver(options, { ...start, ...collected, ...into, release });
  } catch (error) {
    release();
    throw error;
  }
}

/** Without a target: a Defense Center, every block sent each run (as before the record). */
function defaultTarget(options: DetectionRunOptions): DeliveryTarget {
  return {
    kind: "dc",
    refreshDays: 0,
    full: options.full ?? false,
    today: dayNumber(new Date()),
    dryRun: false,
  };
}

/** Reads the state, decides the run and says which it is. */
async function begin(
  options: DetectionRunOptions,
  o: { path: string; target: DeliveryTarget; dest: DestinationState; damagedRecord: boolean },
): Promise<Start> {
  const { config, log } = options;
  const { path, target, dest } = o;
  let damaged = false;
  const state = await readSyncState(path, options.destination, (m) => {
    damaged = true;
    log.warn(`${m}: this run is a full sync`);
  });
  const query = await queryHash(config);
  const ledger = dest.ledger?.ledger;
  const plan = planSync(state, {
    full: options.full ?? target.full,
    query,
    damaged,
    scannerName: config.output.scannerName,
    wholePicture: target.kind !== "dc",
    // Only what changed goes to a Defense Center: its record must know every host it holds (a
    // record lost or made under refresh_days 0 may know only the hosts sent since).
    // A damaged record loses which hosts' delivery was uncertain too: a full sync, whatever
    // refresh_days says.
    noRecord: target.kind === "dc" && (o.damagedRecord ||
      (target.refreshDays > 0 && ledger !== undefined && unrecorded(state, ledger))),
  });
  log.info(
    plan.kind === "full"
      ? `Full sync of ${options.destination} (${plan.reason})`
      : `Incremental sync of ${options.destination}: hosts processed after ${plan.since}`,
  );
  if (!config.output.clearCleanHosts) {
    log.warn(
      "clear_clean_hosts: n: hosts whose findings are all fixed keep them at the destination " +
        "(set it to y, or leave it out, for the destination to match Qualys)",
    );
  }
  return { path, state, query, plan, target, ledger: dest.ledger };
}

/** Whether the state says the destination holds results at an address its record does not know. */
function unrecorded(state: SyncState | undefined, ledger: Ledger): boolean {
  for (const ip of state?.hosts ?? []) if (!ledger.has(ip)) return true;
  return false;
}

/**
 * Collects by the plan; when Qualys's clock is earlier than the checkpoint (said by the run's
 * first answer, before any page), the run goes on as a full one.
 */
async function collectOrReplan(
  options: DetectionRunOptions,
  start: Start,
  into: { spool: FindingSpool; glossary: GlossaryStore; stats: HostStats; traffic: Traffic },
): Promise<Collected & { plan: SyncPlan }> {
  const { plan } = start;
  try {
    const o = { ...options, dryRun: start.target.dryRun };
    return { ...await collectDetections(o, into, plan, recordOf(start, plan)), plan };
  } catch (error) {
    if (!(error instanceof ClockWentBack) || plan.kind !== "incremental") throw error;
    const full = planAfterClockWentBack(plan);
    options.log.warn(
      `${error.message}: Qualys's clock went back, or the checkpoint was edited, and what ` +
        "changed since may be dated before the checkpoint: this run is a full sync",
    );
    options.log.info(`Full sync of ${options.destination} (${full.reason})`);
    const o = { ...options, dryRun: start.target.dryRun };
    return { ...await collectDetections(o, into, full, recordOf(start, full)), plan: full };
  }
}

/**
 * What the destination's record adds to a run: a full one clears every address the record says
 * holds our results and no page lists (so a lost or damaged sync state forgets none); an
 * incremental one to a Defense Center also fetches, by their host IDs, the hosts at the
 * addresses due for the rolling refresh or whose last delivery is uncertain.
 */
function recordOf(start: Start, plan: SyncPlan): RecordAddresses {
  const ledger = start.ledger?.ledger, { target } = start;
  if (!ledger) return {};
  if (plan.kind === "full") return { holding: ledger.holding() };
  if (target.kind !== "dc") return {};
  // refresh_days 0 sends every block the run fetches: only the uncertain ones are fetched too
  // (an exit 6 moved the checkpoint past them).
  if (target.refreshDays === 0) {
    const uncertain = [...ledger].filter((e) => e.uncertain).map((e) => e.address);
    return uncertain.length ? { due: uncertain } : {};
  }
  return { due: ledger.due({ day: target.today, refreshDays: target.refreshDays }) };
}

/** Logs what the KnowledgeBase join did, and a scanner_name change. */
function logCollected(
  options: DetectionRunOptions,
  start: Start,
  collected: Collected & {
    plan: SyncPlan;
  },
): void {
  const { log } = options;
  const { kb } = collected;
  log.info(
    `KnowledgeBase: ${kb.needed} QIDs, ${kb.cached} from the cache, ${kb.fetched} fetched, ` +
      `${kb.missing.length} not in the KnowledgeBase; ${kb.modified} modified since the cache's ` +
      "last run",
  );
  if (kb.missing.length) {
    log.warn(
      `${plural(kb.missing.length, "QID")} ${kb.missing.length === 1 ? "is" : "are"} not in ` +
        `the KnowledgeBase (${kb.missing.slice(0, 10).join(", ")}${
          kb.missing.length > 10 ? ", ..." : ""
        }): their findings go without title or IDs`,
    );
  }
  const { oldScanner } = collected.plan;
  if (oldScanner) {
    log.info(
      `scanner_name changed from ${JSON.stringify(oldScanner)}: its results on ` +
        `${start.state!.hosts.size} hosts at ${options.destination} are cleared first`,
    );
  }
}

/** Everything a collected run hands over. */
interface Gathered extends Start, Collected {
  spool: FindingSpool;
  glossary: GlossaryStore;
  stats: HostStats;
  traffic: Traffic;
  release: () => void;
}

/**
 * The run as the delivery pipeline takes it: the findings (noting, as they are replayed, the
 * hosts sent and cleared), the summary line, and the state: saved once the destination took
 * everything, or the attempt noted when it may hold part of it.
 */
function handOver(options: DetectionRunOptions, run: Gathered): DetectionRun {
  const { config, log, destination } = options;
  const { plan, state, path, query, spool, glossary, stats } = run;
  // Hosts sent with results, and hosts cleared (the encoder clears the hosts listed without
  // open findings, after the others, unless clear_clean_hosts is n).
  const sent = new AddressSet();
  const cleared: string[] = [];
  const findings: FindingSource = {
    glossary,
    forEachHost: (onHost) =>
      spool.replay((host) => {
        if (host.count > 0) sent.add(host.ip);
        else if (config.output.clearCleanHosts) cleared.push(host.ip);
        return onHost(host);
      }),
    dispose: () => {
      spool.dispose();
      glossary.dispose();
    },
  };
  // Made once the destination has taken everything: until then the state's list stays as it
  // was (a failure notes the attempt on it, cleared addresses included: they may hold results).
  // After exit 6 ("partial") what the destination took of each host is unknown: an address this
  // run cleared may still hold results, so it stays on the list (a later full run clears it
  // again), even if the record that also knows it is lost.
  const known = (outcome: "all" | "partial") => {
    if (plan.kind === "full") {
      if (outcome === "partial") { for (const ip of cleared) sent.add(ip); }
      return sent; // the hosts sent now are all the destination holds
    }
    for (const ip of sent) plan.state.hosts.add(ip);
    if (outcome === "all") { for (const ip of cleared) plan.state.hosts.delete(ip); }
    return plan.state.hosts;
  };
  // Once the destination has taken everything (the host map is then updated in place).
  const next = (outcome: "all" | "partial"): SyncState => ({
    destination,
    checkpoint: run.fetched.datetime,
    query,
    scanner: config.output.scannerName,
    hosts: known(outcome),
    ids: nextHostMap(run.hostMap),
  });
  const summarize = (written: WriteSummary): SyncSummary => ({
    mode: plan.kind,
    checkpoint: run.fetched.datetime,
    hostsSent: written.hosts,
    hostsCleared: written.cleared,
    hostsGone: run.gone.length,
    findings: written.results,
    calls: run.traffic.calls,
    bytes: run.traffic.bytes,
  });
  const { target, ledger } = run;
  const record: DeliveryRecord | undefined = ledger && {
    file: ledger,
    today: target.today,
    refreshDays: target.refreshDays,
    sendAll: target.kind !== "dc" || (options.full ?? target.full),
    // A full run names every address the destination holds from us: listed, or cleared.
    whole: plan.kind === "full",
  };
  return {
    plan,
    summarize,
    record,
    content: {
      kind: "findings",
      findings,
      encode: {
        ...config.output,
        memory: DETECTION_MEMORY,
        ...(options.tempDir ? { tempDir: options.tempDir } : {}),
        clearFirst: plan.oldScanner === undefined
          ? undefined
          : { scanner: plan.oldScanner, ips: state!.hosts },
      },
    },
    summary: (written) => ({
      details: summaryDetails(summarize(written), { config, stats }),
      // Nothing changed since the checkpoint is normal; a full run in which Qualys lists no host
      // (or every one is dropped) is not.
      noHost: plan.kind === "full" ? noHost({ config, stats }) : undefined,
    }),
    onTaken: (outcome) => saveState(path, () => next(outcome), log),
    // Whatever becomes of the run now, the destination may hold results of these hosts: a later
    // full run must be able to clear them, and a later run to clear those Qualys no longer lists,
    // so they are noted even when the checkpoint stays.
    onUncertain: () =>
      saveAttempt(path, {
        destination,
        query,
        scanner: config.output.scannerName,
        old: state,
        sent,
        hostMap: run.hostMap,
      }, log),
    dispose: findings.dispose,
    release: run.release,
  };
}

/** The detection source's part of the summary line (docs/output.md, "The summary"). */
function summaryDetails(
  summary: SyncSummary,
  run: { config: QualysConfig; stats: HostStats },
): string[] {
  const { config, stats } = run;
  return [
    `skipped: ${plural(stats.hostsOutOfRange, "host")} outside ip_ranges, ` +
    `${plural(stats.hostsInvalid, "host")} without a valid address, ` +
    `${plural(stats.duplicates, "duplicate finding")}` +
    (config.output.clearCleanHosts
      ? ""
      : `, ${plural(stats.hostsEmpty, "host")} without open findings`),
    `${plural(summary.hostsGone, "host")} no longer in Qualys, ${
      config.output.clearCleanHosts ? "cleared" : "not cleared (clear_clean_hosts: n)"
    }`,
    ...(stats.hostsMerged ? [`${plural(stats.hostsMerged, "repeated host listing")} merged`] : []),
    `${plural(summary.calls, "API call")}, ${plural(summary.bytes, "byte")} downloaded`,
  ];
}

/** What left a full run without a host to send or clear, as a warning that says what to check. */
function noHost(run: { config: QualysConfig; stats: HostStats }): string {
  const { config, stats } = run;
  const source = config.source;
  const filters = [
    source.severities && `severities ${source.severities.join(", ")}`,
    `vuln_types ${source.vulnTypes.join(", ")}`,
    source.assetGroupIds && `asset_group_ids ${source.assetGroupIds.join(", ")}`,
    source.ipRanges && `ip_ranges ${source.ipRanges.source}`,
  ].filter((f) => f);
  const dropped: string[] = [], keys: string[] = [];
  if (stats.hostsOutOfRange > 0) {
    dropped.push(`${stats.hostsOutOfRange} outside ip_ranges (${source.ipRanges?.source})`);
    keys.push("ip_ranges");
  }
  if (stats.hostsInvalid > 0) dropped.push(`${stats.hostsInvalid} without a valid address`);
  if (!config.output.clearCleanHosts && stats.hostsEmpty > 0) {
    dropped.push(`${stats.hostsEmpty} without open findings (clear_clean_hosts: n)`);
    keys.push("clear_clean_hosts");
  }
  if (dropped.length === 0) {
    return `Nothing to send: Qualys lists no host with open detections of ` +
      `${filters.join("; ")}: check these filters in ${config.file}`;
  }
  const listed = stats.hostsOutOfRange + stats.hostsInvalid + stats.hostsEmpty;
  return `Nothing to send: of the ${plural(listed, "host")} Qualys listed, ${
    dropped.join(", ")
  }: ` +
    (keys.length ? `check ${keys.join(" and ")} in ${config.file}` : "check the hosts in Qualys");
}
