/**
 * The detection source's sync state for one destination (README: "The state files"): the
 * checkpoint (Qualys's clock when the last run that the destination took whole began), a hash of
 * what was asked (account, filters, ip_ranges, scanner name: when it changes, the next run is a
 * full one), the addresses that hold this connector's results there (a full run clears those
 * it no longer lists), and the address each Qualys host's results went to (`host_map.ts`). One JSON file per destination, `sync-<hash of the destination>.json`,
 * 0600, replaced atomically; a file that cannot be read or makes no sense is reported and
 * treated as absent (a full sync), never fatal.
 *
 * @module
 */

import { hostAddress, parseHostAddress } from "../config/ip_ranges.ts";
import { grow } from "../util/bytes.ts";
import { formatDateTime, parseDateTime } from "./datetime.ts";
import { formatV4, HostMap, ipv4Value, pack, unpack } from "./host_map.ts";
import { directoryInTheWay, shortHash, writeAtomic } from "./state_dir.ts";

/**
 * A set of host addresses (canonical text): IPv4 packed in a typed array (4 bytes each, sorted
 * and deduplicated when read: a list of 100,000 hosts is 400 KB, not a `Set` of several MB),
 * IPv6 as text.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const set = new AddressSet();
 * for (const ip of ["10.0.0.2", "2001:db8::1", "10.0.0.1", "10.0.0.2"]) set.add(ip);
 * set.delete("10.0.0.1");
 * assert.deepEqual([...set], ["10.0.0.2", "2001:db8::1"]);
 * assert.deepEqual([...AddressSet.fromJSON(JSON.parse(JSON.stringify(set)))], [...set]);
 * ```
 */
export class AddressSet {
  #v4 = new Uint32Array(256);
  #n = 0;
  #sorted = true; // [0, #n) ascending without repeats
  #deleted = new Set<number>(); // not yet removed from #v4
  #v6 = new Set<string>();

  /** Number of addresses. */
  get size(): number {
    return this.#tidy() + this.#v6.size;
  }

  /** Adds a canonical address (a dotted quad, or RFC 5952 IPv6). */
  add(ip: string): void {
    const v4 = ipv4Value(ip);
    if (v4 === undefined) {
      this.#v6.add(ip);
      return;
    }
    if (this.#deleted.size) this.#deleted.delete(v4);
    if (this.#n === this.#v4.length) this.#v4 = grow(this.#v4, this.#n + 1);
    if (this.#n > 0 && this.#v4[this.#n - 1]! >= v4) this.#sorted = false;
    this.#v4[this.#n++] = v4;
  }

  /** Whether it holds the canonical address `ip`. */
  has(ip: string): boolean {
    const v4 = ipv4Value(ip);
    if (v4 === undefined) return this.#v6.has(ip);
    const a = this.#v4;
    let lo = 0, hi = this.#tidy();
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < v4) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.#n && a[lo] === v4;
  }

  /** Removes `ip`. */
  delete(ip: string): void {
    const v4 = ipv4Value(ip);
    if (v4 === undefined) this.#v6.delete(ip);
    else this.#deleted.add(v4);
  }

  // Sorts, removes repeats and deleted addresses; returns the IPv4 count.
  #tidy(): number {
    if (this.#sorted && this.#deleted.size === 0) return this.#n;
    const a = this.#v4.subarray(0, this.#n);
    if (!this.#sorted) a.sort();
    let w = 0;
    for (let r = 0; r < a.length; r++) {
      const v = a[r]!;
      if ((w > 0 && a[w - 1] === v) || this.#deleted.has(v)) continue;
      a[w++] = v;
    }
    this.#n = w;
    this.#sorted = true;
    this.#deleted.clear();
    return w;
  }

  /** Every address, IPv4 ascending first, then IPv6 in insertion order. */
  *[Symbol.iterator](): IterableIterator<string> {
    const n = this.#tidy();
    for (let i = 0; i < n; i++) yield formatV4(this.#v4[i]!);
    yield* this.#v6;
  }

  /** The set as JSON-ready data: IPv4 packed (big-endian u32, base64), IPv6 as a list. */
  toJSON(): { v4: string; v6: string[] } {
    return { v4: pack(this.#v4.subarray(0, this.#tidy())), v6: [...this.#v6] };
  }

  /** Reads what `toJSON` wrote; throws a `TypeError` on anything else. */
  static fromJSON(data: unknown): AddressSet {
    const d = data as { v4?: unknown; v6?: unknown };
    if (typeof d?.v4 !== "string" || !Array.isArray(d.v6)) throw new TypeError("bad hosts");
    const set = new AddressSet();
    let v4: Uint32Array<ArrayBuffer>;
    try {
      v4 = unpack(d.v4);
    } catch {
      throw new TypeError("bad hosts");
    }
    set.#v4 = v4.length >= 256 ? v4 : grow(v4, 256);
    set.#n = v4.length;
    set.#sorted = false;
    for (const ip of d.v6) {
      if (typeof ip !== "string" || parseHostAddress(ip)?.text !== ip) {
        throw new TypeError("bad hosts");
      }
      set.add(hostAddress(ip)!.text); // an IPv4-mapped one, as older states kept it
    }
    return set;
  }
}

const FORMAT = "qualys_connector detection sync state";

/**
 * How far before a checkpoint a run asks from (`vm_processed_after`, and the KnowledgeBase's
 * `last_modified_after`). A checkpoint is a whole second of Qualys's clock, and "after" means
 * strictly after it: a host Qualys processed (or a QID it modified) in that second, after the
 * last run's answers were made, would be in neither run. What is listed twice is harmless: a
 * host is sent as it is now, a QID fetched again.
 */
export const OVERLAP_SECONDS = 300;

/**
 * `datetime` (`YYYY-MM-DDThh:mm:ssZ`) `seconds` earlier, in the same form.
 *
 * @throws {RangeError} When `datetime` is not a real UTC time (checkpoints are checked when read).
 */
export function secondsBefore(datetime: string, seconds: number): string {
  const ms = parseDateTime(datetime);
  if (ms === undefined) throw new RangeError(`Not a UTC time: ${JSON.stringify(datetime)}`);
  return formatDateTime(ms - seconds * 1000);
}

/** What is kept for one destination. */
export interface SyncState {
  /** The destination, as the connector names it (`dc 10.0.0.1:8307`, `csv /var/out.csv`). */
  destination: string;
  /**
   * Qualys's DATETIME at the start of the last run the destination took whole; "" when none did
   * yet (the state then only lists hosts that may hold results: the next run is a full one).
   */
  checkpoint: string;
  /** Hash of the account, the filters and the scanner name of that run. */
  query: string;
  /** The scanner name the results were sent with (undefined: not known). */
  scanner?: string | undefined;
  /** Addresses that hold this connector's results at the destination. */
  hosts: AddressSet;
  /** The address each Qualys host's results went to, for the hosts with results there. */
  ids: HostMap;
}

/** The state file of `destination` in `dir`. */
export async function statePath(dir: string, destination: string): Promise<string> {
  return `${dir}/sync-${await shortHash(destination)}.json`;
}

/**
 * Reads the state of `destination`: undefined when there is none (a first run), or when the file
 * cannot be read or makes no sense (`onProblem` says why; the run is then a full one).
 *
 * @throws {LocalIoError} When a directory stands where the file belongs: no run could save its
 * state there (exit 7, before any call).
 */
export async function readSyncState(
  path: string,
  destination: string,
  onProblem: (message: string) => void,
): Promise<SyncState | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.IsADirectory) {
      throw directoryInTheWay(path, `the sync state of ${destination}`, error);
    }
    onProblem(`${path}: cannot read the sync state (${(error as Error).message})`);
    return undefined;
  }
  try {
    const d = JSON.parse(text);
    if (d?.format !== FORMAT || d.version !== 1) throw new TypeError("not a sync state");
    if (d.destination !== destination) throw new TypeError("it is another destination's");
    if (
      typeof d.checkpoint !== "string" ||
      !(d.checkpoint === "" || parseDateTime(d.checkpoint) !== undefined)
    ) {
      throw new TypeError("bad checkpoint");
    }
    if (typeof d.query !== "string") throw new TypeError("bad query");
    if (d.scanner !== undefined && typeof d.scanner !== "string") {
      throw new TypeError("bad scanner");
    }
    return {
      destination,
      checkpoint: d.checkpoint,
      query: d.query,
      scanner: d.scanner,
      hosts: AddressSet.fromJSON(d.hosts),
      ids: HostMap.fromJSON(d.ids),
    };
  } catch (error) {
    onProblem(
      `${path}: the sync state is damaged (${
        error instanceof SyntaxError ? "not JSON" : (error as Error).message
      })`,
    );
    return undefined;
  }
}

/**
 * Writes the state atomically (0600), a part at a time: the host lists of 100,000 hosts are a few
 * MB of text, which the run should not hold all at once at its end.
 */
export async function writeSyncState(path: string, state: SyncState): Promise<void> {
  const head = JSON.stringify(
    {
      format: FORMAT,
      version: 1,
      destination: state.destination,
      checkpoint: state.checkpoint,
      query: state.query,
      scanner: state.scanner,
      saved: new Date().toISOString(),
    },
    null,
    1,
  );
  const enc = new TextEncoder();
  const file = await writeAtomic(path);
  await file.write(enc.encode(`${head.slice(0, -2)},\n "hosts": `)); // head ends "\n}"
  await file.write(enc.encode(JSON.stringify(state.hosts)));
  await file.write(enc.encode(`,\n "ids": `));
  await file.write(enc.encode(JSON.stringify(state.ids)));
  await file.write(enc.encode("\n}\n"));
  await file.commit();
}
