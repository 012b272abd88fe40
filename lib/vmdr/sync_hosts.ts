/**
 * The host record of a detection sync: each listing (a page's HOST, replayed once the page has
 * parsed whole) goes through the host record into the finding spool, and on the way the sync
 * notes what it needs later: the QIDs named (for the KnowledgeBase), and the addresses listed
 * (a full run clears the hosts it had sent before and no longer lists).
 *
 * The record itself (duplicates, the address check, `ip_ranges`, hosts without open findings)
 * is {@linkcode HostRecord}, behind the `ListingSink` interface.
 *
 * @module
 */

import { type IpRangeSet, parseHostAddress } from "../config/ip_ranges.ts";
import type { FindingSpool } from "../findings/finding_spool.ts";
import { grow } from "../util/bytes.ts";
import type { ListingInfo, ListingSink } from "./listings.ts";
import { AddressSet } from "./sync_state.ts";

/** Counts of the host record. */
export interface HostRecordStats {
  /** Hosts with findings to send. */
  hostsKept: number;
  /** Listings outside `ip_ranges`. */
  hostsOutOfRange: number;
  /** Listings without a valid address. */
  hostsInvalid: number;
  /** Hosts listed without an open finding: cleared. */
  hostsEmpty: number;
  /** Findings kept (one AddScanResult each). */
  findings: number;
  /** Findings that repeat (host, QID, port, protocol) within a listing. */
  duplicates: number;
}

/**
 * The host record: a listing's findings without duplicates, its address checked and inside
 * `ip_ranges`, spooled; a valid host without open findings is noted to be cleared.
 */
export class HostRecord implements ListingSink {
  readonly #spool: FindingSpool;
  readonly #ipRanges: IpRangeSet | undefined;
  readonly #warn: (message: string) => void;
  /** Counts. */
  readonly stats: HostRecordStats = {
    hostsKept: 0,
    hostsOutOfRange: 0,
    hostsInvalid: 0,
    hostsEmpty: 0,
    findings: 0,
    duplicates: 0,
  };
  /** Hosts to clear (canonical addresses), in listing order. */
  readonly clears: string[] = [];
  #count = 0;
  #qids = new Uint32Array(256);
  #ports = new Uint16Array(256);
  #protos = new Uint8Array(256);
  #seen = new Set<number>();
  #warnings = 0;

  /** A record that spools into `spool`. */
  constructor(
    spool: FindingSpool,
    options: { ipRanges?: IpRangeSet | undefined; warn: (message: string) => void },
  ) {
    this.#spool = spool;
    this.#ipRanges = options.ipRanges;
    this.#warn = options.warn;
  }

  /** Starts a listing. */
  start(): void {
    this.#count = 0;
    this.#seen.clear();
  }

  /** Adds a finding unless the listing has it. */
  add(qid: number, port: number, proto: number): void {
    if (this.#isDuplicate(qid, port, proto)) {
      this.stats.duplicates++;
      return;
    }
    if (this.#count === this.#qids.length) {
      this.#qids = grow(this.#qids, this.#count + 1);
      this.#ports = grow(this.#ports, this.#count + 1);
      this.#protos = grow(this.#protos, this.#count + 1);
    }
    const k = this.#count++;
    this.#qids[k] = qid;
    this.#ports[k] = port;
    this.#protos[k] = proto;
  }

  // Small listings are checked by a scan of their findings; big ones through a Set (whose keys,
  // beyond 2^31, would each be a heap number: kept off the common path).
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

  /** Ends the listing of the host `raw`. */
  end(raw: string | undefined, _info: ListingInfo): void {
    const addr = raw === undefined ? undefined : parseHostAddress(raw);
    if (!addr) {
      this.stats.hostsInvalid++;
      if (++this.#warnings <= 20) {
        this.#warn(
          raw === undefined
            ? `A host without an IP address is skipped (${this.#count} finding(s))`
            : `Host ${JSON.stringify(raw.slice(0, 60))} is not a valid IP address: skipped`,
        );
      }
      return;
    }
    if (this.#ipRanges && !this.#ipRanges.contains(addr)) {
      this.stats.hostsOutOfRange++;
      return;
    }
    if (this.#count === 0) {
      this.stats.hostsEmpty++;
      this.clears.push(addr.text);
      return;
    }
    this.stats.hostsKept++;
    this.stats.findings += this.#count;
    this.#spool.addHost(addr.text, this.#count, this.#qids, this.#ports, this.#protos);
  }
}

/**
 * What a sync notes about the listings on their way to the host record: the QIDs named and the
 * addresses listed (valid and inside `ip_ranges`).
 */
export class SyncHosts implements ListingSink {
  readonly #record: ListingSink;
  readonly #ipRanges: IpRangeSet | undefined;
  /** QIDs of the open findings listed. */
  readonly qids = new Set<number>();
  /** Addresses listed, when asked to note them (a full run that may have hosts to clear). */
  readonly listed: AddressSet | undefined;

  readonly #onQid: ((qid: number) => void) | undefined;

  /**
   * Notes what goes into `record` (and the addresses listed, with `noteListed`); `onQid` hears
   * of each QID the first time it is named.
   */
  constructor(
    record: ListingSink,
    options: {
      ipRanges?: IpRangeSet | undefined;
      noteListed?: boolean;
      onQid?: ((qid: number) => void) | undefined;
    },
  ) {
    this.#record = record;
    this.#ipRanges = options.ipRanges;
    this.listed = options.noteListed ? new AddressSet() : undefined;
    this.#onQid = options.onQid;
  }

  /** Starts a listing. */
  start(): void {
    this.#record.start();
  }

  /** Adds a finding. */
  add(qid: number, port: number, proto: number): void {
    if (!this.qids.has(qid)) {
      this.qids.add(qid);
      this.#onQid?.(qid);
    }
    this.#record.add(qid, port, proto);
  }

  /** Ends a listing. */
  end(raw: string | undefined, info: ListingInfo): void {
    if (this.listed && raw !== undefined) {
      const addr = parseHostAddress(raw);
      if (addr && (!this.#ipRanges || this.#ipRanges.contains(addr))) this.listed.add(addr.text);
    }
    this.#record.end(raw, info);
  }

  /** Lists `ip` (canonical) without findings, so that it is cleared. */
  clear(ip: string): void {
    this.start();
    this.end(ip, {});
  }
}
