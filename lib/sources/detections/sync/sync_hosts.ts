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

import type { ListingInfo, ListingSink } from "../pages/listings.ts";
import { AddressSet } from "../state/address_set.ts";

/** The host record a sync's listings go to (`HostCollector`): it says what became of each. */
export interface HostRecord extends ListingSink {
  /** The canonical address of the last listing when it was kept (valid, inside `ip_ranges`, or
   * a clear); undefined when it was skipped. */
  readonly lastAddress: string | undefined;
}

/** Hears of each listing of a Qualys host: its ID, its address (canonical; undefined when it
 * has none that is valid and inside `ip_ranges`) and how many open findings it listed. */
export type ListingNote = (hostId: number, address: string | undefined, open: number) => void;

/**
 * What a sync notes about the listings on their way to the host record: the QIDs named and the
 * addresses listed (valid and inside `ip_ranges`).
 */
export class SyncHosts implements ListingSink {
  readonly #record: HostRecord;
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
    record: HostRecord,
    options: {
      noteListed?: boolean;
      onQid?: ((qid: number) => void) | undefined;
      onListing?: ListingNote | undefined;
    },
  ) {
    this.#record = record;
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
    this.#record.end(raw, info);
    const address = this.#record.lastAddress;
    if (address !== undefined) this.listed?.add(address);
    if (info.hostId !== undefined) this.#onListing?.(info.hostId, address, this.#open);
  }

  /** Lists `ip` (canonical) without findings, so that it is cleared, inside `ip_ranges` or not. */
  clear(ip: string): void {
    this.start();
    this.end(ip, { clear: true });
  }
}
