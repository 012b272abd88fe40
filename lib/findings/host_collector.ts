/**
 * Collects one host listing at a time (its findings, without duplicates), then checks its
 * address (valid, inside `ip_ranges`; `::ffff:a.b.c.d` is the IPv4 host, `hostAddress`) and hands
 * it to the finding spool: as a new host, or merged
 * into the host its address was listed as before (`HostIndex`). What a source parser (the report
 * parser, the host detection source) shares: the XML is theirs, the host record is this.
 *
 * @module
 */

import { plural } from "../util/text.ts";
import { type HostAddress, hostAddress, type IpRangeSet } from "../config/ip_ranges.ts";
import { grow } from "../util/bytes.ts";
import type { FindingSpool, HostListing } from "./finding_spool.ts";
import { HostIndex } from "./host_index.ts";

/** The counts a {@linkcode HostCollector} keeps (a source's summary has them and more). */
export interface HostStats {
  /** Hosts (distinct addresses) with findings that will be sent. */
  hostsKept: number;
  /** Listings outside `ip_ranges`. */
  hostsOutOfRange: number;
  /** Listings whose address is missing or invalid. */
  hostsInvalid: number;
  /** Hosts (distinct addresses) listed without any open finding: the hosts to clear. */
  hostsEmpty: number;
  /** Listings whose address an earlier one listed already: merged into that host. */
  hostsMerged: number;
  /** Findings kept (one AddScanResult each). */
  findings: number;
  /** Findings that repeat (host, QID, port, protocol), within a listing or across a host's. */
  duplicates: number;
}

/** Counters that start at zero. */
export function emptyHostStats(): HostStats {
  return {
    hostsKept: 0,
    hostsOutOfRange: 0,
    hostsInvalid: 0,
    hostsEmpty: 0,
    hostsMerged: 0,
    findings: 0,
    duplicates: 0,
  };
}

/** What a listing says besides its findings. */
export interface ListingInfo {
  /** OS text, if collected. */
  os?: string | undefined;
  /** OS CPE name, if collected. */
  osCpe?: string | undefined;
  /** The Qualys network of the listing (`network_id`). */
  networkId?: number | undefined;
  /** The Qualys host ID (detection pages' `HOST/ID`). */
  hostId?: number | undefined;
  /** A clear the sync asks for, of an address that holds its results at the destination: kept
   * even outside `ip_ranges` (the address was inside when its results were sent). */
  clear?: boolean | undefined;
}

/** Options for {@linkcode HostCollector}. */
export interface HostCollectorOptions {
  /** Only hosts inside these ranges are kept. @default all */
  ipRanges?: IpRangeSet | undefined;
  /** Receives warnings (invalid addresses, one address in different networks). */
  warn: (message: string) => void;
}

/**
 * The current listing's findings and what becomes of each listing.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FindingSpool } from "./finding_spool.ts";
 * const spool = new FindingSpool();
 * const stats = { hostsKept: 0, hostsOutOfRange: 0, hostsInvalid: 0, hostsEmpty: 0,
 *   hostsMerged: 0, findings: 0, duplicates: 0 };
 * const hosts = new HostCollector(spool, stats, { warn: () => {} });
 * hosts.start();
 * hosts.add(1, 80, 1);
 * hosts.add(1, 80, 1);
 * hosts.end("10.0.0.1", {});
 * hosts.start();
 * hosts.end("10.0.0.1", {});
 * assert.deepEqual([stats.hostsKept, stats.findings, stats.duplicates, stats.hostsMerged], [1, 1, 1, 1]);
 * spool.dispose();
 * ```
 */
export class HostCollector {
  readonly #spool: FindingSpool;
  readonly #stats: HostStats;
  readonly #options: HostCollectorOptions;
  readonly #index = new HostIndex();
  #count = 0;
  #qids = new Uint32Array(256);
  #ports = new Uint16Array(256);
  #protos = new Uint8Array(256);
  #seen = new Set<number>();
  /** The canonical address of the last listing, when it was kept (valid, inside `ip_ranges`, or
   * a clear); undefined when it was skipped. */
  lastAddress: string | undefined;
  #listing: HostListing = {
    ip: "",
    count: 0,
    qids: this.#qids,
    ports: this.#ports,
    protos: this.#protos,
    os: undefined,
    osCpe: undefined,
    networkId: undefined,
  };

  /** A collector that spools into `spool` and counts into `stats`. */
  constructor(spool: FindingSpool, stats: HostStats, options: HostCollectorOptions) {
    this.#spool = spool;
    this.#stats = stats;
    this.#options = options;
  }

  /** Findings of the current listing so far. */
  get count(): number {
    return this.#count;
  }

  /** Starts a listing. */
  start(): void {
    this.#count = 0;
    this.#seen.clear();
  }

  /** Adds a finding (port 0 and protocol 0: none) unless the listing has it; counts duplicates. */
  add(qid: number, port: number, proto: number): void {
    if (this.#isDuplicate(qid, port, proto)) {
      this.#stats.duplicates++;
      return;
    }
    if (this.#count === this.#qids.length) this.#grow();
    const k = this.#count++;
    this.#qids[k] = qid;
    this.#ports[k] = port;
    this.#protos[k] = proto;
  }

  // Small hosts are checked by a scan of their findings; big ones through a Set.
  #isDuplicate(qid: number, port: number, proto: number): boolean {
    const count = this.#count;
    if (count < 64) {
      const q = this.#qids, p = this.#ports, r = this.#protos;
      for (let k = 0; k < count; k++) {
        if (q[k] === qid && p[k] === port && r[k] === proto) return true;
      }
      return false;
    }
    if (this.#seen.size === 0) {
      for (let k = 0; k < count; k++) {
        this.#seen.add(this.#qids[k]! * 262144 + this.#ports[k]! * 4 + this.#protos[k]!);
      }
    }
    const key = qid * 262144 + port * 4 + proto;
    if (this.#seen.has(key)) return true;
    this.#seen.add(key);
    return false;
  }

  #grow(): void {
    const need = this.#qids.length + 1;
    this.#qids = grow(this.#qids, need);
    this.#ports = grow(this.#ports, need);
    this.#protos = grow(this.#protos, need);
  }

  /** Ends the listing of the host with address `raw` (undefined: the listing gave none). */
  end(raw: string | undefined, info: ListingInfo): void {
    this.lastAddress = undefined;
    let addr: HostAddress | undefined;
    if (raw === undefined || !(addr = hostAddress(raw))) {
      this.#stats.hostsInvalid++;
      this.#options.warn(
        raw === undefined
          ? `A host without an IP address is skipped (${plural(this.#count, "finding")})`
          : `Host ${JSON.stringify(raw.slice(0, 60))} is not a valid IP address: skipped`,
      );
      return;
    }
    if (this.#options.ipRanges && !this.#options.ipRanges.contains(addr) && !info.clear) {
      this.#stats.hostsOutOfRange++;
      return;
    }
    this.lastAddress = addr.text;
    this.#keep(addr, info);
  }

  // A valid host inside ip_ranges: spooled, or merged into the host its address listed before.
  #keep(addr: HostAddress, info: ListingInfo): void {
    const stats = this.#stats, count = this.#count;
    const listing = this.#listing; // one object for every listing: no garbage per host
    listing.ip = addr.text;
    listing.count = count;
    listing.qids = this.#qids;
    listing.ports = this.#ports;
    listing.protos = this.#protos;
    listing.os = info.os || undefined;
    listing.osCpe = info.osCpe || undefined;
    listing.networkId = info.networkId;
    const first = this.#index.get(addr);
    if (first === undefined) {
      this.#index.set(addr, this.#spool.addHost(listing));
      if (count > 0) stats.hostsKept++;
      else stats.hostsEmpty++;
      stats.findings += count;
      return;
    }
    const merged = this.#spool.addListing(first, listing);
    stats.hostsMerged++;
    stats.findings += merged.added;
    stats.duplicates += merged.duplicates;
    if (!merged.hadFindings && merged.added > 0) {
      stats.hostsEmpty--;
      stats.hostsKept++;
    }
    const id = info.networkId;
    if (id !== undefined && merged.networkIds.some((n) => n !== id)) {
      this.#options.warn(
        `Host ${addr.text} is listed more than once, in different networks (network_id ` +
          `${[...merged.networkIds.filter((n) => n !== id), id].join(", ")}): the Defense ` +
          "Center has one host per address, so their findings are merged into one",
      );
    }
  }
}
