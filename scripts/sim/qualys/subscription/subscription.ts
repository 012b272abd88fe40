/**
 * A simulated Qualys VMDR subscription for the Qualys API simulator: hosts with their detections
 * (Host List Detection data, `hosts.ts`) and the KnowledgeBase (`knowledge_base.ts`), generated
 * deterministically from a seed (`random.ts`, over the tables of `catalog.ts`), held in typed
 * arrays (a 100,000-host × 40-detection subscription is ≈17 bytes per detection, not millions of
 * objects), and advanced one simulated day at a time (`day_changes.ts`): fixes, re-openings, new
 * detections, hosts whose findings are all fixed, new hosts, hosts purged or moved to other asset
 * groups, new and modified QIDs. The time model is `timeline.ts`'s.
 *
 * It also answers the ground truth a test compares a connector's output with: the open detections
 * (New, Active, Re-Opened) of the current day per host address, under the same filters the API
 * takes. The XML is written by `../vmdr_xml.ts`, the HTTP side is `../vmdr_routes.ts`.
 *
 * @module
 */

import { ASSET_GROUPS, CATEGORIES, NETWORKS } from "./catalog.ts";
import { advanceDay, type DayChanges, type DayReport } from "./day_changes.ts";
import { formatIpv4, inRanges, parseQualysDate } from "./dates_addresses.ts";
import { HostStore } from "./hosts.ts";
import { KnowledgeBase } from "./knowledge_base.ts";
import {
  allDetections,
  type AssetGroup,
  type DetectionRecord,
  type HostRecord,
  type KbRecord,
  OPEN_STATUSES,
  type OpenDetection,
  type VmdrQuery,
} from "./records.ts";
import { Timeline } from "./timeline.ts";

/** How to generate a subscription. */
export interface VmdrSubscriptionOptions {
  /** Seed: the same seed and options give the same subscription, day after day. @default {1} */
  seed?: number;
  /** Hosts at day 0. @default {200} */
  hosts?: number;
  /** Mean detections per host (all statuses and types). @default {12} */
  detectionsPerHost?: number;
  /** Distinct QIDs in the KnowledgeBase at day 0 (detections use them all). @default {500} */
  qids?: number;
  /** The server clock on day 0 (`YYYY-MM-DDTHH:MM:SSZ`). @default {"2026-03-02T06:00:00Z"} */
  start?: string;
  /** Share of hosts with only an IPv6 address. @default {0.03} */
  ipv6OnlyShare?: number;
  /** Share of hosts with both an IPv4 and an IPv6 address. @default {0.08} */
  dualStackShare?: number;
  /** Share of QIDs that hosts have but the KnowledgeBase does not return (at least 1). @default {0.004} */
  kbMissingShare?: number;
  /** Default changes for {@linkcode VmdrSubscription.advanceDay}. */
  changes?: DayChanges;
}

/** The simulated subscription. */
export class VmdrSubscription {
  /** The seed it was generated from. */
  readonly seed: number;
  /** Its asset groups. */
  readonly assetGroups: readonly AssetGroup[] = ASSET_GROUPS;
  /** Its network IDs (0 is the default network). */
  readonly networkIds: readonly number[] = [...new Set(NETWORKS)];
  readonly #opts: Required<Omit<VmdrSubscriptionOptions, "changes">>;
  readonly #changes: DayChanges;
  #day = 0;
  readonly #time: Timeline;
  readonly #kb: KnowledgeBase;
  readonly #hosts: HostStore;

  /** Generates the subscription of day 0.
   * @param options Sizes, seed, start clock and change rates.
   * @throws {RangeError} When a size is out of range.
   */
  constructor(options: VmdrSubscriptionOptions = {}) {
    this.#opts = {
      seed: options.seed ?? 1,
      hosts: options.hosts ?? 200,
      detectionsPerHost: options.detectionsPerHost ?? 12,
      qids: options.qids ?? 500,
      start: options.start ?? "2026-03-02T06:00:00Z",
      ipv6OnlyShare: options.ipv6OnlyShare ?? 0.03,
      dualStackShare: options.dualStackShare ?? 0.08,
      kbMissingShare: options.kbMissingShare ?? 0.004,
    };
    this.#changes = options.changes ?? {};
    this.seed = this.#opts.seed | 0;
    const start = parseQualysDate(this.#opts.start);
    if (start === undefined) throw new RangeError(`Cannot read start "${this.#opts.start}"`);
    const { hosts, detectionsPerHost: perHost, qids } = this.#opts;
    if (!(hosts >= 0 && hosts <= 4_000_000)) throw new RangeError(`hosts ${hosts} out of range`);
    if (!(perHost >= 1 && perHost <= 2000)) {
      throw new RangeError(`detectionsPerHost ${perHost} out of range`);
    }
    const universe = CATEGORIES.reduce((n, c) => n + c.hi - c.lo + 1, 0);
    if (!(qids >= 1 && qids <= universe / 2)) {
      throw new RangeError(`qids ${qids} out of range 1..${Math.floor(universe / 2)}`);
    }
    this.#time = new Timeline(this.seed, start);
    this.#kb = new KnowledgeBase(this.#time, { qids, missingShare: this.#opts.kbMissingShare });
    this.#hosts = new HostStore(this.#time, this.#kb, {
      hosts,
      detectionsPerHost: perHost,
      ipv6OnlyShare: this.#opts.ipv6OnlyShare,
      dualStackShare: this.#opts.dualStackShare,
    });
  }

  // ------------------------------------------------------------------------- public: state

  /** The current simulated day (0 at start). */
  get day(): number {
    return this.#day;
  }

  /** The server clock of the current day, epoch seconds (the API's `DATETIME`). */
  get clock(): number {
    return this.#time.clockOf(this.#day);
  }

  /** Number of hosts. */
  get hostCount(): number {
    return this.#hosts.count;
  }

  /** Number of detections, all statuses and types. */
  get detectionCount(): number {
    const st = this.#hosts;
    let n = 0;
    for (let h = 0; h < st.count; h++) n += st.hCount[h]!;
    return n;
  }

  /** Number of distinct QIDs, including those the KnowledgeBase does not return. */
  get qidCount(): number {
    return this.#kb.size;
  }

  // ------------------------------------------------------------------------- public: hosts

  /** The index of the first host whose ID is at least `id` (the host count when none is).
   * @param id A host ID.
   * @returns A host index.
   */
  hostIndexFrom(id: number): number {
    return this.#hosts.indexFrom(id);
  }

  /** The index of the host with this ID, or -1.
   * @param id A host ID.
   * @returns Its index.
   */
  hostIndexById(id: number): number {
    const i = this.hostIndexFrom(id);
    return i < this.#hosts.count && this.#hosts.hId[i] === id ? i : -1;
  }

  /** A host's ID.
   * @param index A host index.
   * @returns Its ID.
   */
  hostId(index: number): number {
    return this.#hosts.hId[index]!;
  }

  /** A host, as the API describes it.
   * @param index A host index.
   * @returns Its record (a new object).
   */
  host(index: number): HostRecord {
    return this.#hosts.record(index);
  }

  /** When a host's VM data was last processed (what `vm_processed_after` compares).
   * @param index A host index.
   * @returns Epoch seconds.
   */
  hostProcessed(index: number): number {
    return this.#time.processedTime(index, this.#hosts.hScan[index]!);
  }

  /** Whether a host was purged (it is then in no answer and no ground truth).
   * @param index A host index.
   * @returns True once purged.
   */
  isPurged(index: number): boolean {
    return this.#hosts.hGone[index] === 1;
  }

  /** Purges a host from now on, as Qualys does (its ID is never used again).
   * @param index A host index.
   */
  purge(index: number): void {
    this.#hosts.hGone[index] = 1;
  }

  /** Puts a host in other asset groups from now on (its VM data is not processed again).
   * @param index A host index.
   * @param agIds Asset group IDs of {@linkcode assetGroups}.
   * @throws {RangeError} When an ID is not one of them.
   */
  setAssetGroups(index: number, agIds: readonly number[]): void {
    let mask = 0;
    for (const id of agIds) {
      const b = ASSET_GROUPS.findIndex((g) => g.id === id);
      if (b < 0) throw new RangeError(`no asset group ${id}`);
      mask |= 1 << b;
    }
    this.#hosts.hAg[index] = mask;
  }

  /** The key the ground truth uses for a host: its IPv4 address, else its IPv6 address.
   * @param index A host index.
   * @returns The address.
   */
  hostAddress(index: number): string {
    const st = this.#hosts;
    return st.hAddr[index]! & 1 ? formatIpv4(st.hIp[index]!) : st.ipv6Of(index);
  }

  /** Whether a host passes the host-level filters of a query (IDs, addresses, asset groups,
   * networks, processing time).
   * @param index A host index.
   * @param query The filters.
   * @returns True when it does.
   */
  hostMatches(index: number, query: VmdrQuery): boolean {
    const st = this.#hosts;
    if (st.hGone[index]) return false; // a purged host is in no answer
    const id = st.hId[index]!;
    if (query.idMin !== undefined && id < query.idMin) return false;
    if (query.idMax !== undefined && id > query.idMax) return false;
    if (query.ids && !inRanges(id, query.ids)) return false;
    if (query.ipv4 && !(st.hAddr[index]! & 1 && inRanges(st.hIp[index]!, query.ipv4))) {
      return false;
    }
    if (query.ipv6 && !(st.hAddr[index]! & 2 && query.ipv6.includes(st.ipv6Of(index)))) {
      return false;
    }
    if (query.agIds && !(st.hAg[index]! & st.compile(query).agMask)) return false;
    if (query.networkIds && !query.networkIds.includes(NETWORKS[st.hNet[index]!]!)) return false;
    if (query.vmProcessedAfter !== undefined || query.vmProcessedBefore !== undefined) {
      const p = this.hostProcessed(index);
      if (query.vmProcessedAfter !== undefined && !(p > query.vmProcessedAfter)) return false;
      if (query.vmProcessedBefore !== undefined && !(p < query.vmProcessedBefore)) return false;
    }
    return true;
  }

  /** Counts a host's detections that pass the detection-level filters of a query (host-level
   * filters are not applied: see {@linkcode hostMatches}).
   * @param index A host index.
   * @param query The filters.
   * @returns The count.
   */
  countDetections(index: number, query: VmdrQuery): number {
    return this.#hosts.countDetections(index, query);
  }

  /** Calls `visit` for each of a host's detections that pass the detection-level filters, in
   * QID order, with one reused record object.
   * @param index A host index.
   * @param query The filters.
   * @param visit Receives the record; copy what you keep.
   */
  forEachDetection(index: number, query: VmdrQuery, visit: (d: DetectionRecord) => void): void {
    return this.#hosts.forEachDetection(index, query, visit);
  }

  /** A host's detections that pass the detection-level filters (for tests: allocates).
   * @param index A host index.
   * @param query The filters. @default all statuses and types
   * @returns Copies of the records.
   */
  detections(index: number, query: VmdrQuery = allDetections()): DetectionRecord[] {
    const out: DetectionRecord[] = [];
    this.forEachDetection(index, query, (d) => out.push({ ...d }));
    return out;
  }

  /** The ground truth: every open detection (New, Active, Re-Opened) of the current day that
   * passes the filters, per host address (IPv4, else IPv6), hosts in ID order. Hosts with none
   * are absent. `query.statuses` is ignored.
   * @param query Filters: types (default Confirmed, Potential), severities, asset groups, IPv4
   *   ranges, and any other field of {@linkcode VmdrQuery}.
   * @returns Address → open detections in QID order.
   */
  openDetections(query: VmdrQuery = {}): Map<string, OpenDetection[]> {
    const out = new Map<string, OpenDetection[]>();
    const q: VmdrQuery = { ...query, statuses: OPEN_STATUSES };
    for (let h = 0; h < this.#hosts.count; h++) {
      if (!this.hostMatches(h, q)) continue;
      const list: OpenDetection[] = [];
      this.forEachDetection(h, q, (d) =>
        list.push({
          qid: d.qid,
          port: d.protocol ? d.port : null,
          protocol: d.protocol,
          type: d.type,
          severity: d.severity,
          status: d.status,
        }));
      if (list.length) out.set(this.hostAddress(h), list);
    }
    return out;
  }

  /** The ground truth as a set of `address|qid|port|protocol` strings (port and protocol empty
   * for a detection without a port), for comparing with what a connector sent.
   * @param query As for {@linkcode openDetections}.
   * @returns The keys.
   */
  openDetectionKeys(query: VmdrQuery = {}): Set<string> {
    const keys = new Set<string>();
    for (const [ip, list] of this.openDetections(query)) {
      for (const d of list) keys.add(`${ip}|${d.qid}|${d.port ?? ""}|${d.protocol ?? ""}`);
    }
    return keys;
  }

  // ------------------------------------------------------------------------- public: KB

  /** A KnowledgeBase entry with its texts, or undefined for a QID the subscription never had.
   * Entries with `inKb: false` are QIDs hosts have but the KnowledgeBase does not return.
   * @param qid A QID.
   * @returns The entry.
   */
  kbEntry(qid: number): KbRecord | undefined {
    return this.#kb.entry(qid);
  }

  /** The QIDs the KnowledgeBase returns, ascending.
   * @returns QIDs.
   */
  kbQids(): number[] {
    return this.#kb.qids();
  }

  /** The QIDs hosts may have but the KnowledgeBase does not return, ascending.
   * @returns QIDs.
   */
  missingKbQids(): number[] {
    return this.#kb.missingQids();
  }

  /** Calls `visit` with each QID the KnowledgeBase returns, ascending, with its modification and
   * publication times (no texts are generated).
   * @param visit Receives QID, last modified and published, epoch seconds.
   */
  forEachKbQid(visit: (qid: number, lastModified: number, published: number) => void): void {
    this.#kb.forEachQid(visit);
  }

  // ------------------------------------------------------------------------- public: time

  /** Moves the subscription one day on: hosts are scanned, detections fixed, re-opened and
   * found, hosts added, all of one host's findings fixed, QIDs added to and modified in the
   * KnowledgeBase; the clock moves one day. Deterministic: day N of a seed is always the same.
   * @param changes Overrides of the rates given at construction.
   * @returns What changed.
   */
  advanceDay(changes: DayChanges = {}): DayReport {
    const d = this.#day + 1;
    const report = advanceDay(
      {
        time: this.#time,
        kb: this.#kb,
        hosts: this.#hosts,
        sizes: { hosts: this.#opts.hosts, qids: this.#opts.qids },
      },
      { day: d, changes: { ...this.#changes, ...changes } },
    );
    this.#day = d;
    return report;
  }
}
