/**
 * A set of host addresses, packed: what a destination holds results of (the sync state's
 * `hosts`), the addresses a run listed or sent.
 *
 * @module
 */

import { hostAddress, parseHostAddress } from "../../../config/ip_ranges.ts";
import { grow } from "../../../util/bytes.ts";
import { formatV4, ipv4Value, pack, unpack } from "./host_map.ts";

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
