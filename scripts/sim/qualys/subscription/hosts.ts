/**
 * The simulated subscription's hosts and their detections, in columns: per host its ID,
 * addresses, OS, tracking and name attributes, asset groups, network, last scan and whether it
 * was purged; the detections in an arena of per-host blocks kept sorted by (QID, port,
 * protocol), each with its status, type, port, SSL flag, days found, updated and fixed, and times
 * found. Hosts are generated from the seed (a history for day 0's, all New for later ones) and
 * only ever appended, so a host's index is its place in ID order. The filters of the Host List
 * Detection API are applied here too, next to the columns they read.
 *
 * @module
 */

import {
  ASSET_GROUPS,
  CATEGORIES,
  CATEGORY_PLATFORM,
  DOMAINS,
  NETWORKS,
  OS_TABLE,
  OS_WEIGHTED,
  PLATFORM_CODE,
  type Port,
  TRACKING,
} from "./catalog.ts";
import { grow } from "./columns.ts";
import { formatIpv4, formatIpv6, inRanges } from "./dates_addresses.ts";
import type { KnowledgeBase } from "./knowledge_base.ts";
import { hash, Rng } from "./random.ts";
import {
  DETECTION_STATUSES,
  DETECTION_TYPES,
  type DetectionRecord,
  type HostRecord,
  type IdRange,
  OPEN_STATUSES,
  type VmdrQuery,
} from "./records.ts";
import type { Timeline } from "./timeline.ts";

/** A stored day is the simulated day + DAY_BIAS; 0 means "none". */
export const DAY_BIAS = 8192;
/** Status codes of the detection flags (bits 0-1), in the order of DETECTION_STATUSES. */
export const ST_NEW = 0, ST_ACTIVE = 1, ST_FIXED = 2, ST_REOPENED = 3;

/** A query's detection-level filters as masks (a query is compiled once). */
export interface Compiled {
  /** Asset groups, one bit per ASSET_GROUPS index. */
  agMask: number;
  /** Statuses, one bit per status code. */
  statusMask: number;
  /** Types, one bit per DETECTION_TYPES index. */
  typeMask: number;
  /** Severities, bit N for severity N (62: all five). */
  sevMask: number;
  /** QID ranges. */
  qids?: readonly IdRange[];
  /** LAST_UPDATE_DATETIME at or after, epoch seconds. */
  updatedSince?: number;
  /** LAST_UPDATE_DATETIME strictly before, epoch seconds. */
  updatedBefore?: number;
}

/** What the hosts are generated with. */
export interface HostStoreOptions {
  /** Hosts at day 0. */
  hosts: number;
  /** Mean detections per host. */
  detectionsPerHost: number;
  /** Share of hosts with only an IPv6 address. */
  ipv6OnlyShare: number;
  /** Share of hosts with both an IPv4 and an IPv6 address. */
  dualStackShare: number;
}

/** The hosts, by index (= ID order), and their detections. */
export class HostStore {
  // hosts, by index (= ID order)
  /** Number of hosts. */
  count = 0;
  hId = new Uint32Array(0);
  hIp = new Uint32Array(0); // 0: no IPv4
  hAddr = new Uint8Array(0); // bit 0: IPv4, bit 1: IPv6
  hOs = new Uint8Array(0);
  hAttr = new Uint8Array(0); // bits 0-1 tracking, 2 cpe, 3 dns, 4 cloud, 5 auth
  hAg = new Uint8Array(0); // asset group bitmask
  hNet = new Uint8Array(0);
  hScan = new Int16Array(0); // last scan, simulated day
  hStart = new Uint32Array(0);
  hCount = new Uint16Array(0);
  hCap = new Uint16Array(0);
  hGone = new Uint8Array(0); // 1: purged

  // detections, an arena of per-host blocks kept sorted by (QID, port, protocol)
  dLen = 0;
  dQid = new Uint32Array(0);
  dPort = new Uint16Array(0);
  dFlags = new Uint8Array(0); // bits 0-1 status, 2-3 proto, 4-5 type, 6 ssl
  dFirst = new Uint16Array(0);
  dFound = new Uint16Array(0);
  dUpdate = new Uint16Array(0);
  dFixed = new Uint16Array(0);
  dTimes = new Uint16Array(0);
  readonly #time: Timeline;
  readonly #kb: KnowledgeBase;
  readonly #opts: HostStoreOptions;
  #compiled = new WeakMap<VmdrQuery, Compiled>(); // queries are not mutated once given

  /** Generates the hosts of day 0 over the KnowledgeBase `kb`. */
  constructor(time: Timeline, kb: KnowledgeBase, options: HostStoreOptions) {
    this.#time = time;
    this.#kb = kb;
    this.#opts = options;
    const { hosts, detectionsPerHost: perHost } = options;
    this.#reserveHosts(hosts);
    this.#reserveDetections(Math.ceil(hosts * (perHost + 4) * 1.02) + 64);
    for (let i = 0; i < hosts; i++) this.addHost(0, true);
  }

  /** The index of the first host whose ID is at least `id` (the host count when none is). */
  indexFrom(id: number): number {
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.hId[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Host `index`, as the API describes it (a new object). */
  record(index: number): HostRecord {
    const attr = this.hAttr[index]!;
    const os = OS_TABLE[this.hOs[index]!]!;
    const family = os[2];
    const day = this.hScan[index]!;
    const name = `${
      family === "win"
        ? (os[0].includes("Server") ? "srv" : "ws")
        : family === "cisco"
        ? "rtr"
        : family
    }-${String(index).padStart(6, "0")}`;
    const domain = DOMAINS[hash(this.#time.seed, index, 77) % DOMAINS.length]!;
    const scan = this.#time.scanTime(index, day);
    const agIds: number[] = [];
    for (let b = 0; b < 8; b++) if (this.hAg[index]! & (1 << b)) agIds.push(ASSET_GROUPS[b]!.id);
    return {
      index,
      id: this.hId[index]!,
      assetId: 30000000 + this.hId[index]! % 70000000,
      ip: this.hAddr[index]! & 1 ? formatIpv4(this.hIp[index]!) : null,
      ipv6: this.hAddr[index]! & 2 ? this.ipv6Of(index) : null,
      trackingMethod: TRACKING[attr & 3]!,
      networkId: NETWORKS[this.hNet[index]!]!,
      os: os[0],
      osCpe: attr & 4 ? os[1] : null,
      fqdn: attr & 8 ? `${name}.${domain}` : null,
      netbios: family === "win" && attr & 8 ? name.toUpperCase() : null,
      agIds,
      lastScan: scan,
      scanDuration: this.#time.scanDuration(index, day),
      processed: this.#time.processedTime(index, day),
      authenticated: (attr & 32) !== 0,
      cloudInstance: attr & 16
        ? `i-0${(hash(this.#time.seed, index, 5) >>> 0).toString(16).padStart(8, "0")}${
          (hash(this.#time.seed, index, 6) >>> 0).toString(16).padStart(8, "0")
        }`.slice(0, 19)
        : null,
      criticality: 1 + hash(this.#time.seed, index, 9) % 5,
    };
  }

  /** When a host's VM data was last processed (what `vm_processed_after` compares).
   * @param index A host index.
   * @returns Epoch seconds.

  /** The IPv6 address of host `h` (whether it has one or not). */
  ipv6Of(h: number): string {
    const sub = Math.floor(h / 250);
    return formatIpv6([
      0x2001,
      0x0db8,
      0x100 + ((sub >>> 16) & 0xff),
      sub & 0xffff,
      0,
      0,
      0,
      1 + h % 250,
    ]);
  }

  #reserveHosts(n: number): void {
    if (n <= this.hId.length) return;
    const cap = Math.max(n, Math.ceil(this.hId.length * 1.25) + 16);
    this.hId = grow(this.hId, cap);
    this.hIp = grow(this.hIp, cap);
    this.hAddr = grow(this.hAddr, cap);
    this.hOs = grow(this.hOs, cap);
    this.hAttr = grow(this.hAttr, cap);
    this.hAg = grow(this.hAg, cap);
    this.hNet = grow(this.hNet, cap);
    this.hScan = grow(this.hScan, cap);
    this.hStart = grow(this.hStart, cap);
    this.hCount = grow(this.hCount, cap);
    this.hCap = grow(this.hCap, cap);
    this.hGone = grow(this.hGone, cap);
  }

  #reserveDetections(n: number): void {
    if (n <= this.dQid.length) return;
    const cap = Math.max(n, Math.ceil(this.dQid.length * 1.25) + 1024);
    this.dQid = grow(this.dQid, cap);
    this.dPort = grow(this.dPort, cap);
    this.dFlags = grow(this.dFlags, cap);
    this.dFirst = grow(this.dFirst, cap);
    this.dFound = grow(this.dFound, cap);
    this.dUpdate = grow(this.dUpdate, cap);
    this.dFixed = grow(this.dFixed, cap);
    this.dTimes = grow(this.dTimes, cap);
  }

  /** Appends a host; `initial` hosts get a history, later ones are new (all detections New). */
  addHost(day: number, initial: boolean): number {
    this.#reserveHosts(this.count + 1);
    const h = this.count++;
    const rng = new Rng(hash(this.#time.seed, 0x4057, h));
    const prev = h ? this.hId[h - 1]! : 143_100_000 + hash(this.#time.seed, 1) % 90000;
    this.hId[h] = prev + (rng.chance(0.6) ? 1 : 2 + rng.int(40));
    const sub = Math.floor(h / 250);
    this.hIp[h] = ((10 << 24) >>> 0) + ((sub & 0xffff) << 8) + 1 + h % 250;
    const v = rng.next();
    const { ipv6OnlyShare, dualStackShare } = this.#opts;
    this.hAddr[h] = v < ipv6OnlyShare ? 2 : v < ipv6OnlyShare + dualStackShare ? 3 : 1;
    const os = rng.weighted(OS_WEIGHTED);
    this.hOs[h] = os;
    const family = OS_TABLE[os]![2];
    const tracking = family !== "cisco" && rng.chance(0.2)
      ? 3
      : family === "win" && rng.chance(0.2)
      ? 2
      : rng.chance(0.25)
      ? 1
      : 0;
    const auth = tracking === 3 || rng.chance(0.5);
    const cpe = OS_TABLE[os]![1] !== "" && (auth || rng.chance(0.3));
    const dns = family === "cisco" ? rng.chance(0.5) : rng.chance(0.85);
    const cloud = rng.chance(0.1);
    this.hAttr[h] = tracking | (cpe ? 4 : 0) | (dns ? 8 : 0) | (cloud ? 16 : 0) |
      (auth ? 32 : 0);
    let ag = 1 << (cloud ? 6 : family === "cisco" ? 5 : rng.int(8));
    if (rng.chance(0.3)) ag |= 1 << rng.int(8);
    this.hAg[h] = ag;
    this.hNet[h] = rng.int(NETWORKS.length);
    const lastScan = initial ? -rng.int(14) : day;
    this.hScan[h] = lastScan;

    // detections: a spread around the mean; a few hosts with very few
    const mean = this.#opts.detectionsPerHost;
    let n = rng.chance(0.03) ? 1 + rng.int(3) : Math.round(mean * (0.5 + rng.next()));
    n = Math.max(1, Math.min(n, 4000));
    const cap = n + 4;
    this.#reserveDetections(this.dLen + cap);
    this.hStart[h] = this.dLen;
    this.hCount[h] = 0;
    this.hCap[h] = cap;
    this.dLen += cap;
    // key = ((QID × 65536 + port) × 4 + protocol) × 2 + ssl; unique per host without the ssl bit
    const keys = new Float64Array(n), bare = new Float64Array(n);
    let got = 0;
    for (let tries = 0; got < n && tries < n * 20; tries++) {
      const k = this.#drawQid(rng, family);
      const [port, proto, ssl] = this.#drawPort(rng, k);
      const key = ((this.#kb.kQid[k]! * 65536 + (proto ? port : 0)) * 4 + proto) * 2;
      let dup = false;
      for (let i = 0; i < got; i++) {
        if (bare[i] === key) {
          dup = true;
          break;
        }
      }
      if (dup) continue;
      bare[got] = key;
      keys[got++] = key + ssl;
    }
    for (const key of keys.subarray(0, got).sort()) {
      const ssl = key % 2, proto = Math.floor(key / 2) % 4, portQid = Math.floor(key / 8);
      this.#writeDetection(
        h,
        Math.floor(portQid / 65536),
        portQid % 65536,
        proto,
        ssl === 1,
        rng,
        lastScan,
        initial,
      );
    }
    return h;
  }

  /** Draws a QID entry index, favouring popular ones and the host's platform. */
  #drawQid(rng: Rng, family: string): number {
    const n = this.#kb.byRank.length;
    const platform = PLATFORM_CODE[family] ?? 0;
    for (;;) {
      const k = this.#kb.byRank[Math.min(n - 1, Math.floor(n * rng.next() ** 1.6))]!;
      const needs = CATEGORY_PLATFORM[this.#kb.kCat[k]!]!;
      if (needs === 0 || needs === platform || rng.chance(0.05)) return k;
    }
  }

  #drawPort(rng: Rng, k: number): Port {
    const ports = CATEGORIES[this.#kb.kCat[k]!]!.ports;
    const canonical = ports[hash(this.#time.seed, this.#kb.kQid[k]!, 0x9a) % ports.length]!;
    return rng.chance(0.85) ? canonical : rng.pick(ports);
  }

  /** Appends a detection to host `h`'s block (the caller keeps QID order). */
  #writeDetection(
    h: number,
    qid: number,
    port: number,
    proto: number,
    ssl: boolean,
    rng: Rng,
    lastScan: number,
    history: boolean,
  ): void {
    const det = this.hStart[h]! + this.hCount[h]!++;
    const k = this.#kb.byQid.get(qid)!;
    const kt = this.#kb.kType[k]!;
    const type = kt === 3 ? rng.int(2) : kt;
    let status = ST_NEW, first = lastScan, found = lastScan, update = lastScan, fixed = 0;
    if (history) {
      first = lastScan - rng.int(700);
      const span = lastScan - first;
      const r = rng.next();
      if (span >= 1 && r < 0.1) {
        status = ST_FIXED;
        fixed = first + 1 + rng.int(span);
        found = first + rng.int(fixed - first);
        update = fixed;
      } else if (span >= 2 && r < 0.14) {
        status = ST_REOPENED;
        fixed = first + 1 + rng.int(span - 1);
        update = lastScan;
      } else if (span >= 1) {
        status = ST_ACTIVE;
        update = Math.min(lastScan, first + 1 + rng.int(7));
        if (rng.chance(0.05)) fixed = first + rng.int(span); // fixed once, found again since
        if (fixed === 0 || fixed >= update) fixed = 0;
      }
    }
    this.dQid[det] = qid;
    this.dPort[det] = proto ? port : 0;
    this.dFlags[det] = status | (proto << 2) | (type << 4) | (ssl ? 64 : 0);
    this.dFirst[det] = first + DAY_BIAS;
    this.dFound[det] = found + DAY_BIAS;
    this.dUpdate[det] = update + DAY_BIAS;
    this.dFixed[det] = fixed ? fixed + DAY_BIAS : 0;
    this.dTimes[det] = Math.min(65535, 1 + Math.floor((found - first) / 3));
  }

  /** Adds a New detection found on day `day` to host `h` in QID order; false when it has it. */
  addDetection(h: number, rng: Rng, day: number): boolean {
    const family = OS_TABLE[this.hOs[h]!]![2];
    const k = this.#kb.fresh.length && rng.chance(0.3)
      ? rng.pick(this.#kb.fresh)
      : this.#drawQid(rng, family);
    const [port, proto, ssl] = this.#drawPort(rng, k);
    const qid = this.#kb.kQid[k]!;
    const key = qid * 262144 + (proto ? port : 0) * 4 + proto;
    const s = this.hStart[h]!, n = this.hCount[h]!;
    let pos = 0;
    for (; pos < n; pos++) {
      const other = this.dQid[s + pos]! * 262144 + this.dPort[s + pos]! * 4 +
        ((this.dFlags[s + pos]! >> 2) & 3);
      if (other === key) return false;
      if (other > key) break;
    }
    if (n === this.hCap[h]) this.#relocate(h, n + Math.max(4, n >> 1));
    const base = this.hStart[h]!;
    for (let i = n; i > pos; i--) this.#copyDetection(base + i - 1, base + i);
    const det = base + pos;
    const kt = this.#kb.kType[k]!;
    const type = kt === 3 ? rng.int(2) : kt;
    this.dQid[det] = qid;
    this.dPort[det] = proto ? port : 0;
    this.dFlags[det] = ST_NEW | (proto << 2) | (type << 4) | (ssl ? 64 : 0);
    this.dFirst[det] = day + DAY_BIAS;
    this.dFound[det] = day + DAY_BIAS;
    this.dUpdate[det] = day + DAY_BIAS;
    this.dFixed[det] = 0;
    this.dTimes[det] = 1;
    this.hCount[h] = n + 1;
    return true;
  }

  #relocate(h: number, cap: number): void {
    this.#reserveDetections(this.dLen + cap);
    const from = this.hStart[h]!, n = this.hCount[h]!, to = this.dLen;
    for (let i = 0; i < n; i++) this.#copyDetection(from + i, to + i);
    this.hStart[h] = to;
    this.hCap[h] = cap;
    this.dLen += cap;
  }

  #copyDetection(from: number, to: number): void {
    this.dQid[to] = this.dQid[from]!;
    this.dPort[to] = this.dPort[from]!;
    this.dFlags[to] = this.dFlags[from]!;
    this.dFirst[to] = this.dFirst[from]!;
    this.dFound[to] = this.dFound[from]!;
    this.dUpdate[to] = this.dUpdate[from]!;
    this.dFixed[to] = this.dFixed[from]!;
    this.dTimes[to] = this.dTimes[from]!;
  }

  /** Sets the status code (ST_*) of detection `det`. */
  setStatus(det: number, status: number): void {
    this.dFlags[det] = (this.dFlags[det]! & ~3) | status;
  }

  /** Whether host `h` has a detection that is not Fixed. */
  hasOpen(h: number): boolean {
    const s = this.hStart[h]!, e = s + this.hCount[h]!;
    for (let d = s; d < e; d++) if ((this.dFlags[d]! & 3) !== ST_FIXED) return true;
    return false;
  }

  // ------------------------------------------------------------------------- filters
  // The simulator's hot loop: it reads the columns above directly.

  /** Counts a host's detections that pass the detection-level filters of a query (host-level
   * filters are not applied: see {@linkcode hostMatches}).
   * @param index A host index.
   * @param query The filters.
   * @returns The count.
   */
  countDetections(index: number, query: VmdrQuery): number {
    const c = this.compile(query);
    let n = 0;
    const s = this.hStart[index]!, e = s + this.hCount[index]!;
    for (let d = s; d < e; d++) if (this.#matches(d, c, index)) n++;
    return n;
  }

  /** Calls `visit` for each of a host's detections that pass the detection-level filters, in
   * QID order, with one reused record object.
   * @param index A host index.
   * @param query The filters.
   * @param visit Receives the record; copy what you keep.
   */
  forEachDetection(index: number, query: VmdrQuery, visit: (d: DetectionRecord) => void): void {
    const c = this.compile(query);
    const kb = this.#kb;
    const s = this.hStart[index]!, e = s + this.hCount[index]!;
    const scanDay = this.hScan[index]!;
    const rec: DetectionRecord = {
      host: index,
      qid: 0,
      type: "Confirmed",
      severity: 0,
      port: 0,
      protocol: null,
      ssl: false,
      status: "New",
      firstFound: 0,
      lastFound: 0,
      lastTest: this.#time.scanTime(index, scanDay),
      lastUpdate: 0,
      lastFixed: 0,
      timesFound: 0,
      lastProcessed: this.#time.processedTime(index, scanDay),
      uniqueId: 0,
    };
    for (let d = s; d < e; d++) {
      if (!this.#matches(d, c, index)) continue;
      const f = this.dFlags[d]!;
      rec.qid = this.dQid[d]!;
      rec.type = DETECTION_TYPES[(f >> 4) & 3]!;
      rec.severity = kb.kSev[kb.byQid.get(rec.qid)!]!;
      rec.port = this.dPort[d]!;
      rec.protocol = (f >> 2) & 3 ? ((f >> 2) & 3) === 1 ? "tcp" : "udp" : null;
      rec.ssl = (f & 64) !== 0;
      rec.status = DETECTION_STATUSES[f & 3]!;
      rec.firstFound = this.#time.scanTime(index, this.dFirst[d]! - DAY_BIAS);
      rec.lastFound = this.#time.scanTime(index, this.dFound[d]! - DAY_BIAS);
      rec.lastUpdate = this.#time.processedTime(index, this.dUpdate[d]! - DAY_BIAS);
      rec.lastFixed = this.dFixed[d] ? this.#time.scanTime(index, this.dFixed[d]! - DAY_BIAS) : 0;
      rec.timesFound = this.dTimes[d]!;
      rec.uniqueId = 1 +
        hash(this.#time.seed, this.hId[index]!, rec.qid, rec.port * 4 + ((f >> 2) & 3)) %
          2_000_000_000;
      visit(rec);
    }
  }

  /** The masks of a query's detection-level filters (compiled once per query object). */
  compile(q: VmdrQuery): Compiled {
    const cached = this.#compiled.get(q);
    if (cached) return cached;
    let agMask = 0, statusMask = 0, typeMask = 0, sevMask = 0;
    ASSET_GROUPS.forEach((g, b) => {
      if (q.agIds?.includes(g.id)) agMask |= 1 << b;
    });
    for (const s of q.statuses ?? OPEN_STATUSES) statusMask |= 1 << DETECTION_STATUSES.indexOf(s);
    for (const t of q.types ?? ["Confirmed", "Potential"] as const) {
      typeMask |= 1 << DETECTION_TYPES.indexOf(t);
    }
    for (const s of q.severities ?? [1, 2, 3, 4, 5]) sevMask |= 1 << s;
    const c: Compiled = {
      agMask,
      statusMask,
      typeMask,
      sevMask,
      qids: q.qids,
      updatedSince: q.detectionUpdatedSince,
      updatedBefore: q.detectionUpdatedBefore,
    };
    this.#compiled.set(q, c);
    return c;
  }
  /** Whether detection `d` of host `h` passes the detection-level filters `c`. */
  #matches(d: number, c: Compiled, h: number): boolean {
    const f = this.dFlags[d]!;
    if (!(c.statusMask & (1 << (f & 3)))) return false;
    if (!(c.typeMask & (1 << ((f >> 4) & 3)))) return false;
    const qid = this.dQid[d]!;
    if (c.sevMask !== 62 && !(c.sevMask & (1 << this.#kb.kSev[this.#kb.byQid.get(qid)!]!))) {
      return false;
    }
    if (c.qids && !inRanges(qid, c.qids)) return false;
    if (c.updatedSince !== undefined || c.updatedBefore !== undefined) {
      const t = this.#time.processedTime(h, this.dUpdate[d]! - DAY_BIAS);
      if (c.updatedSince !== undefined && t < c.updatedSince) return false;
      if (c.updatedBefore !== undefined && !(t < c.updatedBefore)) return false;
    }
    return true;
  }
}
