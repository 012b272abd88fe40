/**
 * On the way of each listing (a page's HOST, replayed once the page has parsed whole) to the
 * host record (`HostCollector`: duplicates, the address check, `ip_ranges`, one host per
 * address, hosts without open findings kept to clear), the sync notes what it needs later: the
 * QIDs named (for the KnowledgeBase), the addresses listed (a full run clears the hosts it
 * had sent before and no longer lists), and each Qualys host's address and open findings (the
 * sync state's host map).
 *
 * @module
 */

import { type IpRangeSet, parseHostAddress } from "../config/ip_ranges.ts";
import type { ListingInfo, ListingSink } from "./listings.ts";
import { AddressSet } from "./sync_state.ts";

/** Hears of each listing of a Qualys host: its ID, its address (canonical; undefined when it
 * has none that is valid and inside `ip_ranges`) and how many open findings it listed. */
export type ListingNote = (hostId: number, address: string | undefined, open: number) => void;

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
  readonly #onListing: ListingNote | undefined;
  #open = 0;

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
      onListing?: ListingNote | undefined;
    },
  ) {
    this.#record = record;
    this.#ipRanges = options.ipRanges;
    this.listed = options.noteListed ? new AddressSet() : undefined;
    this.#onQid = options.onQid;
    this.#onListing = options.onListing;
  }

  /** Starts a listing. */
  start(): void {
    this.#open = 0;
    this.#record.start();
  }

  /** Adds a finding. */
  add(qid: number, port: number, proto: number): void {
    if (!this.qids.has(qid)) {
      this.qids.add(qid);
      this.#onQid?.(qid);
    }
    this.#open++;
    this.#record.add(qid, port, proto);
  }

  /** Ends a listing. */
  end(raw: string | undefined, info: ListingInfo): void {
    let address: string | undefined;
    if ((this.listed || this.#onListing) && raw !== undefined) {
      const addr = parseHostAddress(raw);
      if (addr && (!this.#ipRanges || this.#ipRanges.contains(addr))) address = addr.text;
    }
    if (address !== undefined) this.listed?.add(address);
    if (info.hostId !== undefined) this.#onListing?.(info.hostId, address, this.#open);
    this.#record.end(raw, info);
  }

  /** Lists `ip` (canonical) without findings, so that it is cleared, inside `ip_ranges` or not. */
  clear(ip: string): void {
    this.start();
    this.end(ip, { clear: true });
  }
}
