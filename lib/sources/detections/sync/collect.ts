/**
 * The collecting phase of a detection run (docs/detections.md: "What a run does"): every page
 * of the plan's query fetched and parsed into the finding spool (through the host record), the
 * KnowledgeBase joined for the QIDs they name, the hosts in scope listed, the hosts no longer in
 * Qualys found, and in an incremental run the other hosts at the addresses it touched fetched
 * too. Nothing is written or sent here.
 *
 * @module
 */

import type { QualysConfig } from "../../../config/read_config.ts";
import type { Log } from "../../../log/log.ts";
import type { FindingSpool } from "../../../findings/finding_spool.ts";
import { HostCollector, type HostStats } from "../../../findings/host_collector.ts";
import type { GlossaryStore } from "../../../findings/glossary_store.ts";
import type { QualysClient } from "../../../qualys/client.ts";
import type { Traffic } from "../../../qualys/fetch_parsed.ts";
import { shortHash } from "../../../state/state_dir.ts";
import { collectGarbage } from "../../../util/memory.ts";
import { type DetectionFetchResult, fetchDetections } from "../fetch/fetch_detections.ts";
import { type GoneHost, listHostScope, nameGone, takeGone } from "../fetch/host_scope.ts";
import { type KbJoinResult, KnowledgeBaseJoin } from "../knowledge_base/knowledge_base.ts";
import { HostMap } from "../state/host_map.ts";
import { AddressSet } from "../state/address_set.ts";
import { completeAddresses, type Seen } from "./complete_addresses.ts";
import type { SyncPlan } from "./plan.ts";
import { queryParams } from "./query.ts";
import { type ListingNote, SyncHosts } from "./sync_hosts.ts";

/** Where a detection run reports: steps and totals, problems, and details at `-level 3`. */
export type SyncLog = Pick<Log, "info" | "warn" | "debug" | "enabled">;

/** What {@linkcode collectDetections} needs of the run's options. */
export interface CollectOptions {
  /** The Qualys API client. */
  client: QualysClient;
  /** The plugin configuration (account, filters, names). */
  config: QualysConfig;
  /** The state directory (the KnowledgeBase cache is kept there). */
  stateDir: string;
  /** Where to log. */
  log: SyncLog;
  /** Most calls of one API at once, even when Qualys allows more. @default no cap */
  maxConcurrency?: number | undefined;
  /** Hosts per Host List Detection page. @default {1000} */
  pageSize?: number;
  /** QIDs per KnowledgeBase call. @default {500} */
  kbBatchSize?: number;
  /** Progress lines (on a terminal). */
  onProgress?: ((detail: string) => void) | undefined;
  /** `-dry-run`: the KnowledgeBase cache is read, not written. @default {false} */
  dryRun?: boolean | undefined;
}

/** What the destination's record adds to a run's addresses (see `detection_run.ts`). */
export interface RecordAddresses {
  /** A full run: the addresses that may hold our results, each cleared unless a page lists it. */
  holding?: Iterable<string> | undefined;
  /**
   * An incremental run: addresses to make whole again (the hosts the state has there fetched
   * by their IDs; cleared when none is listed there now).
   */
  due?: Iterable<string> | undefined;
}

/** What the collecting phase found: data only (see the end of {@linkcode collectDetections}). */
export interface Collected {
  /** What the pages held, and the checkpoint candidate (their earliest DATETIME). */
  fetched: DetectionFetchResult;
  /** What the KnowledgeBase join did. */
  kb: KbJoinResult;
  /** What the next state's host map is made of. */
  hostMap: NextHostMap;
  /** The hosts the destination holds results of that Qualys no longer lists. */
  gone: GoneHost[];
}

/**
 * Fetches every page into the spool (through the host record) while the KnowledgeBase is joined
 * for the QIDs they name (each asked for as soon as a page names it); in a full run, the hosts of
 * the plan's list that no page listed are cleared. What only this phase needs (the host index, the
 * QID sets) is unreachable once it returns.
 */
export async function collectDetections(
  options: CollectOptions,
  into: { spool: FindingSpool; glossary: GlossaryStore; stats: HostStats; traffic: Traffic },
  plan: SyncPlan,
  record: RecordAddresses = {},
): Promise<Collected> {
  const { client, config, log } = options;
  const run = {
    ...into,
    query: queryParams(
      config,
      plan.kind === "incremental" ? plan.since : undefined,
      plan.kind === "incremental" || plan.askFixed,
    ),
    checkpoint: plan.kind === "incremental" ? plan.since : undefined,
    // A full run replaces everything: hosts sent before and not listed now lose their results.
    toClear: plan.kind === "full" ? union(plan.clear, record.holding) : undefined,
    known: plan.kind === "incremental" ? plan.state.ids : undefined,
    // The state's host map, whatever the run (to count the hosts no longer in scope).
    before: plan.state?.ids,
  };
  const warn = (m: string) => log.warn(m);
  const kbJoin = await KnowledgeBaseJoin.start(client, {
    cachePath: `${options.stateDir}/kb-${await shortHash(
      `${config.account.url}\n${config.account.userId}`,
    )}.jsonl`,
    traffic: run.traffic,
    glossary: run.glossary,
    afterBatch: collectGarbage, // a batch's entries, once parsed and packed, are garbage
    readOnly: options.dryRun,
    ...(options.kbBatchSize ? { batchSize: options.kbBatchSize } : {}),
    maxConcurrency: options.maxConcurrency,
    onWarning: warn,
  });
  try {
    const collector = new HostCollector(run.spool, run.stats, {
      ipRanges: config.source.ipRanges,
      warn,
    });
    // Each Qualys host's address and open findings: a full run makes the host map anew; an
    // incremental one notes what it saw, to complete addresses and, once the run has gone
    // through, to update the map.
    const fresh = run.known ? undefined : new HostMap();
    const seen = new Map<number, Seen>();
    const onListing: ListingNote = (id, address, open) => {
      if (!fresh) seen.set(id, { address, open });
      else if (address !== undefined && open > 0) fresh.set(id, address);
    };
    const hosts = new SyncHosts(collector, {
      noteListed: (run.toClear?.size ?? 0) > 0 || run.known !== undefined,
      onQid: (qid) => kbJoin.need(qid),
      onListing,
    });
    // The hosts in scope (fetch/host_scope.ts): an incremental run asks for them; a full run's own
    // host ID list (its first call, without vm_processed_after) is that list.
    let scope: Uint32Array | undefined;
    const fetch = (query: typeof run.query, checkpoint?: string) =>
      fetchDetections(client, hosts, {
        ...query,
        traffic: run.traffic,
        ...(options.pageSize ? { pageSize: options.pageSize } : {}),
        maxConcurrency: options.maxConcurrency,
        types: config.source.vulnTypes,
        collectOs: config.output.setOs,
        signal: kbJoin.failed, // a KnowledgeBase call that failed for good ends the run
        onWarning: warn,
        onProgress: options.onProgress,
        onHostIds: (n) => fresh?.reserve(n),
        checkpoint,
        onHostIdList: (ids) => scope ??= ids,
      });
    let scopeBytes: number | undefined; // what an incremental run's list of them cost
    if (run.known) {
      scopeBytes = -run.traffic.bytes;
      scope = await listHostScope(client, {
        hostParams: queryParams(config, undefined).hostParams,
        traffic: run.traffic,
        onWarning: warn,
      });
      scopeBytes += run.traffic.bytes;
    }
    const fetched = await fetch(run.query, run.checkpoint);
    log.info(
      `Host List Detection: ${fetched.pages} pages, ${fetched.hosts} hosts, ${fetched.open} ` +
        `open and ${fetched.fixed} fixed detections, up to ${fetched.concurrency} calls at ` +
        `once; Qualys's clock ${fetched.datetime}`,
    );
    if (run.toClear) { for (const ip of run.toClear) if (!hosts.listed?.has(ip)) hosts.clear(ip); }
    const gone = takeGone(run.before, scope!, run.known ? seen : undefined, { log, scopeBytes });
    if (run.known) {
      // gone: its address is left, like a host's that moved (cleared unless a listed host is there)
      for (const g of gone) seen.set(g.id, { address: undefined, open: 0 });
      const cleared = await completeAddresses(run.known, seen, hosts, {
        log,
        due: record.due,
        fetch: (ids) => {
          const q = queryParams(config, undefined, false);
          return fetch({ params: { ...q.params, ids }, hostParams: { ...q.hostParams, ids } });
        },
      });
      nameGone(gone, log, { cleared, clearCleanHosts: config.output.clearCleanHosts });
    } else nameGone(gone, log, {});
    collectGarbage(); // what the pages left
    fresh?.compact(); // before the encoder's buffers
    // Data only, no closure: one made here would keep this phase's whole scope (the host index,
    // the QID sets) alive under the encoder.
    return {
      fetched,
      kb: await kbJoin.finish(),
      hostMap: fresh ?? { known: run.known!, seen },
      gone,
    };
  } catch (error) {
    await kbJoin.abort();
    throw error;
  }
}

/** The addresses of the state's list and of the record's, once each. */
function union(
  clear: AddressSet | undefined,
  holding: Iterable<string> | undefined,
): AddressSet | undefined {
  if (holding === undefined) return clear;
  const all = new AddressSet();
  for (const ip of clear ?? []) all.add(ip);
  for (const ip of holding) all.add(ip);
  return all;
}

/** The next state's host map: a full run's, made anew; or the last one and what changed. */
export type NextHostMap = HostMap | { known: HostMap; seen: Map<number, Seen> };

/** The next state's host map, once the destination took everything (updated in place). */
export function nextHostMap(next: NextHostMap): HostMap {
  if (next instanceof HostMap) return next;
  for (const [id, s] of next.seen) {
    if (s.address !== undefined && s.open > 0) next.known.set(id, s.address);
    else next.known.delete(id);
  }
  return next.known;
}
