/**
 * One run of the detection source for one destination (README: "How the detection source
 * works"):
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
 * - **Every run** lists the host IDs in scope (`fetch/host_scope.ts`; a full run's own Host List call
 *   is that list): a host the state knows that is no longer listed (purged, or out of the
 *   filters) leaves the state, and in an incremental run its address is cleared unless another
 *   listed host is at it (a full run clears every address no page listed anyway).
 *
 * Every page is fetched and parsed, and the KnowledgeBase joined, before the sink is opened:
 * nothing is written or sent before the last page has parsed. The state (checkpoint: the earliest
 * DATETIME of the run's answers; the filters' hash; the hosts with results) is saved only when
 * the destination took everything: the sink closed, or the Defense Center processed the data
 * and rejected some commands (exit 6). Any other failure leaves it as it was.
 *
 * @module
 */

import { commandOptions, type QualysConfig } from "../../../config/read_config.ts";
import { writeCommands, type WriteLog, type WriteSummary } from "../../../pipeline/write_blocks.ts";
import { DcRejectedError, LocalIoError } from "../../../errors.ts";
import { FindingSpool } from "../../../findings/finding_spool.ts";
import { emptyHostStats, HostCollector, type HostStats } from "../../../findings/host_collector.ts";
import type { FindingSource } from "../../../findings/finding_source.ts";
import { GlossaryStore } from "../../../findings/glossary_store.ts";
import type { QualysClient } from "../../../qualys/client.ts";
import type { CommandSink } from "../../../sinks/sink.ts";
import {
  ClockWentBack,
  type DetectionFetchResult,
  fetchDetections,
} from "../fetch/fetch_detections.ts";
import { Traffic } from "../../../qualys/fetch_parsed.ts";
import { type KbJoinResult, KnowledgeBaseJoin } from "../knowledge_base/knowledge_base.ts";
import { prepareStateDir, shortHash, tryLock } from "../../../state/state_dir.ts";
import { HostMap } from "../state/host_map.ts";
import { type GoneHost, listHostScope, nameGone, takeGone } from "../fetch/host_scope.ts";
import { type ListingNote, SyncHosts } from "./sync_hosts.ts";
import { AddressSet } from "../state/address_set.ts";
import {
  OVERLAP_SECONDS,
  readSyncState,
  secondsBefore,
  statePath,
  type SyncState,
  writeSyncState,
} from "../state/sync_state.ts";

/** Where a sync reports. */
export interface SyncLog extends WriteLog {
  /** Steps and totals. */
  info(message: string): void;
  /** Problems that did not stop the run. */
  warn(message: string): void;
}

/** Options for {@linkcode runDetectionSync}. */
export interface DetectionSyncOptions {
  /** The Qualys API client. */
  client: QualysClient;
  /** The plugin configuration (account, filters, names). */
  config: QualysConfig;
  /** The destination's name, which keys its state: `dc 10.0.0.1:8307`, `csv /var/out.csv`. */
  destination: string;
  /** The state directory. */
  stateDir: string;
  /** `-full`: a full sync whatever the state says. @default {false} */
  full?: boolean;
  /** Opens the destination's sink, once everything has parsed. */
  openSink: () => Promise<CommandSink>;
  /** Where to log. */
  log: SyncLog;
  /** Most calls of one API at once, even when Qualys allows more. @default no cap */
  maxConcurrency?: number | undefined;
  /** Hosts per Host List Detection page. @default {1000} */
  pageSize?: number;
  /** QIDs per KnowledgeBase call. @default {500} */
  kbBatchSize?: number;
  /** Directory of the finding spool. @default the system temp directory */
  tempDir?: string | undefined;
  /** Progress lines (on a terminal). */
  onProgress?: ((detail: string) => void) | undefined;
}

/** What a run did. */
export interface SyncSummary {
  /** Full or incremental, and why. */
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
  /** API calls and bytes downloaded. */
  calls: number;
  /** Bytes downloaded. */
  bytes: number;
}

/** The hash of what a run asks for: a state made under another one means a full sync. */
export function queryHash(config: QualysConfig): Promise<string> {
  return shortHash(JSON.stringify({
    url: config.url,
    user: config.userId ?? "",
    severities: config.severities ?? "all",
    types: config.vulnTypes,
    agIds: config.assetGroupIds ?? "all",
    ipRanges: config.ipRanges?.source.replace(/\s+/g, "") ?? "all",
    scanner: config.scannerName,
  }));
}

/**
 * The Host List Detection and Host List parameters of a run: incremental from `since` (less
 * {@linkcode OVERLAP_SECONDS}), else
 * full; `fixed` asks for Fixed detections too (always in an incremental run; in a full run
 * whose list of the hosts the destination holds was lost with a damaged state, so that hosts
 * whose findings are all fixed are cleared all the same).
 */
export function queryParams(
  config: QualysConfig,
  since: string | undefined,
  fixed = since !== undefined,
): { params: Record<string, string>; hostParams: Record<string, string> } {
  const hostParams: Record<string, string> = {};
  const ips = config.ipRanges?.ipv4Ranges();
  if (ips) hostParams.ips = ips.join(",");
  if (config.assetGroupIds) hostParams.ag_ids = config.assetGroupIds.join(",");
  if (since !== undefined) {
    hostParams.vm_processed_after = secondsBefore(since, OVERLAP_SECONDS);
  }
  const params: Record<string, string> = {
    ...hostParams,
    show_results: "0",
    status: fixed ? "New,Active,Re-Opened,Fixed" : "New,Active,Re-Opened",
  };
  const types = config.vulnTypes;
  const confirmed = types.includes("confirmed"), potential = types.includes("potential");
  if (confirmed !== potential) params.include_vuln_type = confirmed ? "confirmed" : "potential";
  if (types.includes("info")) params.show_igs = "1";
  if (config.severities) params.severities = config.severities.join(",");
  return { params, hostParams };
}

/**
 * Runs one sync of the detection source into the destination's sink; resolves to what it did.
 *
 * @throws {QualysApiError} A call failed for good (exit 3): nothing is sent, the state stays.
 * @throws {DcRejectedError} The Defense Center rejected commands (exit 6): the state is saved.
 * @throws {LocalIoError} Another run holds the destination, or a local file failed (exit 7).
 */
export async function runDetectionSync(options: DetectionSyncOptions): Promise<SyncSummary> {
  const { config, log } = options;
  await prepareStateDir(options.stateDir);
  const path = await statePath(options.stateDir, options.destination);
  const unlock = await tryLock(`${path.slice(0, -".json".length)}.lock`);
  if (!unlock) {
    throw new LocalIoError(
      `another run is syncing ${options.destination} now: this one stops (nothing was sent)`,
      { path },
    );
  }
  // The pages' sockets and buffers leave less room under the 100 MiB the bench holds a full sync
  // of 100,000 hosts to than a report has: the findings spill to disk past 512 KiB, the QID
  // texts (a KnowledgeBase join may name tens of thousands) past 256 KiB, and the encoder keeps
  // 4 MiB of encoded texts instead of 16 (the rest it reads back from its spill file: 5 s to
  // encode the bench's 100,000 hosts, against 4 s with all of them in memory and 12 s building
  // them again) and writes in parts of 256 KiB.
  const temp = options.tempDir ? { tempDir: options.tempDir } : {};
  const spool = new FindingSpool({ memoryLimit: 512 << 10, ...temp });
  const glossary = new GlossaryStore({ memoryLimit: 256 << 10, ...temp });
  try {
    let damaged = false;
    const state = await readSyncState(path, options.destination, (m) => {
      damaged = true;
      log.warn(`${m}: this run is a full sync`);
    });
    const query = await queryHash(config);
    let why: string | undefined;
    if (options.full) why = "-full";
    else if (!state) why = "no earlier run for this destination";
    else if (state.checkpoint === "") why = "no earlier run for this destination ended well";
    else if (state.query !== query) {
      why = "the account, filters, ip_ranges or scanner_name changed since the last run";
    }
    const since = why ? undefined : state!.checkpoint;
    log.info(
      why
        ? `Full sync of ${options.destination} (${why})`
        : `Incremental sync of ${options.destination}: hosts processed after ${since}`,
    );

    const warn = (m: string) => log.warn(m);
    if (!config.clearCleanHosts) {
      warn(
        "clear_clean_hosts: n: hosts whose findings are all fixed keep them at the destination " +
          "(set it to y, or leave it out, for the destination to match Qualys)",
      );
    }
    const traffic = new Traffic();
    const stats: HostStats = emptyHostStats();
    // Without the list of the hosts the destination holds (no state: a first run, or the state
    // directory was deleted; a damaged state), a full run asks for Fixed detections too: a host
    // listed with all of them fixed is then cleared. A first run pays for it (each Fixed
    // detection costs about what an open one does: 25 % more bytes with 20 % of them Fixed) to
    // leave nothing that an earlier, lost state had sent.
    const plan = (since: string | undefined) => ({
      spool,
      glossary,
      stats,
      traffic,
      query: queryParams(config, since, since !== undefined || damaged || !state),
      checkpoint: since,
      // A full run replaces everything: hosts sent before and not listed now lose their results.
      toClear: since === undefined ? state?.hosts : undefined,
      known: since === undefined ? undefined : state!.ids,
      before: state?.ids,
    });
    let collected: Awaited<ReturnType<typeof collect>>;
    try {
      collected = await collect(options, plan(since));
    } catch (error) {
      // Said by the run's first answer, before any page: the run goes on as a full one, with
      // the damaged-state rule (the checkpoint is not to be trusted, nor what was made with it).
      if (!(error instanceof ClockWentBack)) throw error;
      why = "Qualys's clock is earlier than the checkpoint";
      damaged = true;
      log.warn(
        `${error.message}: Qualys's clock went back, or the checkpoint was edited, and what ` +
          "changed since may be dated before the checkpoint: this run is a full sync",
      );
      log.info(`Full sync of ${options.destination} (${why})`);
      collected = await collect(options, plan(undefined));
    }
    const { fetched, kb, hostMap, gone } = collected;
    log.info(
      `KnowledgeBase: ${kb.needed} QIDs, ${kb.cached} from the cache, ${kb.fetched} fetched, ` +
        `${kb.missing.length} not in the KnowledgeBase; ${kb.modified} modified since the cache's ` +
        "last run",
    );
    if (kb.missing.length) {
      log.warn(
        `${kb.missing.length} QID(s) are not in the KnowledgeBase (${
          kb.missing.slice(0, 10).join(", ")
        }${kb.missing.length > 10 ? ", ..." : ""}): their findings go without title or IDs`,
      );
    }

    // Hosts sent with results, and hosts cleared (the encoder clears the hosts listed without
    // open findings, after the others, unless clear_clean_hosts is n).
    const sent = new AddressSet();
    const cleared: string[] = [];
    const source: FindingSource = {
      glossary,
      forEachHost: (onHost) => {
        // Encoding leaves garbage (a QID's text built from its glossary entry, the hosts read
        // back) that V8, with the small young generation the binary runs with, lets grow the
        // old generation to several times what is live (at 30,000 hosts, 141 MiB instead of
        // 97). So every 250 hosts the heap is looked at, and collected once it has grown 1 MiB
        // since the last collection (3 MiB: 2 MiB more at the peak, 1 s less to encode); a
        // fixed rhythm (every 1,000 hosts) kept the same peak but took 60 % longer.
        let base = 0, hosts = 0;
        const slack = 1 << 20;
        return spool.replay((host) => {
          if (host.count > 0) sent.add(host.ip);
          else if (config.clearCleanHosts) cleared.push(host.ip);
          if (++hosts % 250 === 0) {
            const used = Deno.memoryUsage().heapUsed;
            if (used - base > slack) {
              collectGarbage();
              base = Deno.memoryUsage().heapUsed;
            }
          }
          return onHost(host);
        });
      },
      dispose: () => {
        spool.dispose();
        glossary.dispose();
      },
    };
    // After a scanner_name change the destination's results are under the old name, which the
    // clears of this (full) run do not touch: every address that holds them is cleared first.
    const oldScanner = state?.scanner !== undefined && state.scanner !== config.scannerName &&
        state.hosts.size > 0
      ? state.scanner
      : undefined;
    if (oldScanner) {
      log.info(
        `scanner_name changed from ${JSON.stringify(oldScanner)}: its results on ` +
          `${state!.hosts.size} hosts at ${options.destination} are cleared first`,
      );
    }
    const sink = await options.openSink();
    // Whatever becomes of the run now, the destination may hold results of these hosts: a later
    // full run must be able to clear them, and a later run to clear those Qualys no longer lists,
    // so they are noted even when the checkpoint stays.
    const noteAttempt = () =>
      saveAttempt(path, {
        destination: options.destination,
        query,
        scanner: config.scannerName,
        old: state,
        sent,
        hostMap,
      }, log);
    let written: WriteSummary;
    try {
      collectGarbage(); // the pages' and the KnowledgeBase's, before the encoder's buffers
      written = await writeCommands(source, sink, {
        qidCacheBytes: 4 << 20,
        bufferBytes: 256 << 10,
        ...temp,
        ...commandOptions(config),
        log,
        clearFirst: oldScanner === undefined
          ? undefined
          : { scanner: oldScanner, ips: state!.hosts },
      });
      collectGarbage(); // the encoder's, before the sink's own work
    } catch (error) {
      await sink.abort();
      await noteAttempt();
      throw error;
    }
    // Made once the destination has taken everything: until then the state's list stays as it
    // was (a failure notes the attempt on it, cleared addresses included: they may hold results).
    const known = () => {
      if (why) return sent; // a full run: the hosts sent now are all the destination holds of ours
      for (const ip of sent) state!.hosts.add(ip);
      for (const ip of cleared) state!.hosts.delete(ip);
      return state!.hosts;
    };
    const summary: SyncSummary = {
      mode: why ? "full" : "incremental",
      checkpoint: fetched.datetime,
      hostsSent: written.hosts,
      hostsCleared: written.cleared,
      hostsGone: gone.length,
      findings: stats.findings,
      calls: traffic.calls,
      bytes: traffic.bytes,
    };
    // Once the destination has taken everything (the host map is then updated in place).
    const next = (): SyncState => ({
      destination: options.destination,
      checkpoint: fetched.datetime,
      query,
      scanner: config.scannerName,
      hosts: known(),
      ids: nextHostMap(hostMap),
    });
    const details = [
      `skipped: ${stats.hostsOutOfRange} hosts outside ip_ranges, ${stats.hostsInvalid} ` +
      `without a valid address, ${stats.duplicates} duplicate findings` +
      (config.clearCleanHosts ? "" : `, ${stats.hostsEmpty} hosts without open findings`),
      `${gone.length} hosts no longer in Qualys, ${
        config.clearCleanHosts ? "cleared" : "not cleared (clear_clean_hosts: n)"
      }`,
      ...(stats.hostsMerged ? [`${stats.hostsMerged} repeated host listings merged`] : []),
      ...(config.setOs
        ? [
          `SetOS on ${written.os.set} hosts, ${written.os.unknown} with an OS not in the table, ` +
          `${written.os.missing} without OS data`,
        ]
        : []),
    ].join("; ");
    try {
      await sink.close({
        onComplete(where) {
          log.info(
            `Summary: ${summary.hostsSent} hosts with ${summary.findings} AddScanResult lines and ` +
              `${summary.hostsCleared} hosts cleared ${where}; ${details}; ${summary.calls} API ` +
              `calls, ${summary.bytes} bytes downloaded`,
          );
          source.dispose(); // sending needs none of it
        },
      });
    } catch (error) {
      if (!(error instanceof DcRejectedError)) {
        await noteAttempt();
        throw error;
      }
      // The Defense Center has the data, and said no to some lines: the next run goes on from here.
      await saveState(path, next, log);
      throw error;
    }
    await saveState(path, next, log);
    return summary;
  } finally {
    spool.dispose();
    glossary.dispose();
    unlock();
  }
}

/**
 * Fetches every page into the spool (through the host record) while the KnowledgeBase is joined
 * for the QIDs they name (each asked for as soon as a page names it); with `toClear`, the hosts
 * of that list that no page listed are cleared. What only this phase needs (the host index, the
 * QID sets) is unreachable once it returns.
 */
async function collect(
  options: DetectionSyncOptions,
  run: {
    spool: FindingSpool;
    glossary: GlossaryStore;
    stats: HostStats;
    traffic: Traffic;
    query: { params: Record<string, string>; hostParams: Record<string, string> };
    checkpoint: string | undefined;
    toClear: AddressSet | undefined;
    known: HostMap | undefined;
    /** The state's host map, whatever the run (to count the hosts no longer in scope). */
    before: HostMap | undefined;
  },
): Promise<
  { fetched: DetectionFetchResult; kb: KbJoinResult; hostMap: NextHostMap; gone: GoneHost[] }
> {
  const { client, config, log } = options;
  const warn = (m: string) => log.warn(m);
  const kbJoin = await KnowledgeBaseJoin.start(client, {
    cachePath: `${options.stateDir}/kb-${await shortHash(`${config.url}\n${config.userId}`)}.jsonl`,
    traffic: run.traffic,
    glossary: run.glossary,
    afterBatch: collectGarbage, // a batch's entries, once parsed and packed, are garbage
    ...(options.kbBatchSize ? { batchSize: options.kbBatchSize } : {}),
    maxConcurrency: options.maxConcurrency,
    onWarning: warn,
  });
  try {
    const record = new HostCollector(run.spool, run.stats, { ipRanges: config.ipRanges, warn });
    // Each Qualys host's address and open findings: a full run makes the host map anew; an
    // incremental one notes what it saw, to complete addresses and, once the run has gone
    // through, to update the map.
    const fresh = run.known ? undefined : new HostMap();
    const seen = new Map<number, Seen>();
    const onListing: ListingNote = (id, address, open) => {
      if (!fresh) seen.set(id, { address, open });
      else if (address !== undefined && open > 0) fresh.set(id, address);
    };
    const hosts = new SyncHosts(record, {
      noteListed: (run.toClear?.size ?? 0) > 0 || run.known !== undefined,
      onQid: (qid) => kbJoin.need(qid),
      onListing,
    });
    // The hosts in scope (host_scope.ts): an incremental run asks for them; a full run's own host
    // ID list (its first call, without vm_processed_after) is that list.
    let scope: Uint32Array | undefined;
    const fetch = (query: typeof run.query, checkpoint?: string) =>
      fetchDetections(client, hosts, {
        ...query,
        traffic: run.traffic,
        ...(options.pageSize ? { pageSize: options.pageSize } : {}),
        maxConcurrency: options.maxConcurrency,
        types: config.vulnTypes,
        collectOs: config.setOs,
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
        fetch: (ids) => {
          const q = queryParams(config, undefined, false);
          return fetch({ params: { ...q.params, ids }, hostParams: { ...q.hostParams, ids } });
        },
      });
      nameGone(gone, log, { cleared, clearCleanHosts: config.clearCleanHosts });
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

/** The next state's host map: a full run's, made anew; or the last one and what changed. */
type NextHostMap = HostMap | { known: HostMap; seen: Map<number, Seen> };

function nextHostMap(next: NextHostMap): HostMap {
  if (next instanceof HostMap) return next;
  for (const [id, s] of next.seen) {
    if (s.address !== undefined && s.open > 0) next.known.set(id, s.address);
    else next.known.delete(id);
  }
  return next.known;
}

/** A Qualys host as this run saw it: its address (none: not valid, or outside `ip_ranges`) and
 * its open findings. */
interface Seen {
  address: string | undefined;
  open: number;
}

/**
 * An incremental run lists only the hosts processed since the checkpoint. A full run merges the
 * hosts that share an address into one block, and a host's old address keeps its results until
 * something clears it. So the other hosts the state has at the addresses the listed hosts are at,
 * or left, are fetched too (their open detections, as a full run asks), for as long as that
 * brings in more addresses (at most 4 rounds); an address a host left and no host listed now is
 * at is cleared.
 */
async function completeAddresses(
  known: HostMap,
  seen: Map<number, Seen>,
  hosts: SyncHosts,
  io: { log: SyncLog; fetch: (ids: string) => Promise<unknown> },
): Promise<Set<string>> {
  const affected = new Set<string>(), vacated = new Set<string>();
  const note = (id: number, s: Seen) => {
    if (s.address !== undefined) affected.add(s.address);
    const old = known.get(id);
    if (old !== undefined && old !== s.address) {
      affected.add(old);
      vacated.add(old);
    }
  };
  for (const [id, s] of seen) note(id, s);
  for (let round = 0; round < 4; round++) {
    const others = known.idsAt(affected).filter((id) => !seen.has(id));
    if (others.length === 0) break;
    io.log.info(
      `${others.length} more host(s) are at the addresses of the hosts processed since the ` +
        "checkpoint, or were: their open detections are fetched too, so that each address gets " +
        "all its hosts' findings",
    );
    await io.fetch(others.join(","));
    for (const id of others) {
      let s = seen.get(id);
      if (!s) seen.set(id, s = { address: undefined, open: 0 }); // none open now, or gone
      note(id, s);
    }
  }
  const cleared = new Set<string>();
  for (const ip of vacated) if (!hosts.listed!.has(ip)) cleared.add(ip);
  for (const ip of cleared) hosts.clear(ip);
  return cleared;
}

// After a failure once the sink was open: the checkpoint (and filters) stay as they were, the
// hosts sent are added to the list a full run clears, and the Qualys hosts whose results went to
// them and that the host map lacks are added to it (so that one purged before the next run is
// cleared; a host the map has at another address keeps it: the next run lists it again, and
// clears that address when it has moved). Best effort: the run's own error is what the user sees.
async function saveAttempt(
  path: string,
  run: {
    destination: string;
    query: string;
    scanner: string;
    old: SyncState | undefined;
    sent: AddressSet;
    hostMap: NextHostMap;
  },
  log: SyncLog,
): Promise<void> {
  const hosts = run.old?.hosts ?? new AddressSet();
  const before = hosts.size;
  for (const ip of run.sent) hosts.add(ip);
  const ids = run.old?.ids ?? new HostMap();
  let added = 0;
  const note = (id: number, ip: string) => {
    if (run.sent.has(ip) && ids.get(id) === undefined) {
      ids.set(id, ip);
      added++;
    }
  };
  if (run.hostMap instanceof HostMap) { for (const [id, ip] of run.hostMap) note(id, ip); }
  else {
    for (const [id, s] of run.hostMap.seen) {
      if (s.address !== undefined && s.open > 0) note(id, s.address);
    }
  }
  if (hosts.size === before && added === 0) return;
  try {
    await writeSyncState(path, {
      destination: run.destination,
      checkpoint: run.old?.checkpoint ?? "",
      query: run.old?.query ?? run.query,
      scanner: run.old ? run.old.scanner : run.scanner,
      hosts,
      ids,
    });
  } catch (error) {
    log.warn(`Could not note the hosts this run sent in ${path}: ${(error as Error).message}`);
  }
}

/** A full collection when the runtime offers one (`--expose-gc`, as the binary is built). */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function saveState(path: string, state: () => SyncState, log: SyncLog): Promise<void> {
  collectGarbage(); // what sending left: the state's host lists are made and written next
  let saved: SyncState;
  try {
    await writeSyncState(path, saved = state());
  } catch (error) {
    throw new LocalIoError(
      `the destination took every command, but the sync state could not be saved ` +
        `(${(error as Error).message}): the next run repeats this one's changes`,
      { path, cause: error },
    );
  }
  log.debug?.(`Saved the sync state ${path}: checkpoint ${saved!.checkpoint}`);
}
