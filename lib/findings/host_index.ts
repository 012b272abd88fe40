/**
 * Which host addresses a source has listed already, and where in the finding spool the first
 * listing of each went: the parsers look every host up here, so the findings of an address
 * listed twice (overlapping networks, agent and IP tracking) are merged into one host.
 *
 * IPv4 addresses live in an open-addressing table of two `Uint32Array`s (the address, and the
 * spool offset / 4 + 1): 8 bytes a slot, at most 80 % full, so 10-20 bytes a host (2 MiB for
 * 200,000 hosts) and no object per host. IPv6 addresses, rare in reports, are kept in a `Map`
 * by their RFC 5952 text. Addresses come as `hostAddress` makes them: an IPv4-mapped IPv6
 * address (`::ffff:10.0.0.1`) is already the IPv4 host, as the Defense Center stores it.
 *
 * @module
 */

import type { HostAddress } from "../config/ip_ranges.ts";

const MAX_LOAD = 0.8;

/**
 * Host address → spool offset of its first listing.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostAddress } from "../config/ip_ranges.ts";
 * const index = new HostIndex();
 * index.set(hostAddress("10.0.0.1")!, 64);
 * assert.equal(index.get(hostAddress("::ffff:10.0.0.1")!), 64);
 * assert.equal(index.get(hostAddress("10.0.0.2")!), undefined);
 * ```
 */
export class HostIndex {
  #bits = 10;
  #keys = new Uint32Array(1 << 10);
  #vals = new Uint32Array(1 << 10); // offset / 4 + 1; 0 = empty
  #size = 0;
  #v6 = new Map<string, number>();

  /** Number of addresses held. */
  get size(): number {
    return this.#size + this.#v6.size;
  }

  /** Bytes of typed arrays held for IPv4 addresses (for the memory figures of docs/bench.md). */
  get v4Bytes(): number {
    return this.#keys.byteLength + this.#vals.byteLength;
  }

  /** The spool offset recorded for `addr`, or undefined when it was not listed before. */
  get(addr: HostAddress): number | undefined {
    const v4 = v4Of(addr);
    if (v4 === undefined) return this.#v6.get(addr.text);
    const mask = (1 << this.#bits) - 1;
    for (let i = hash(v4, this.#bits);; i = (i + 1) & mask) {
      const v = this.#vals[i]!;
      if (v === 0) return undefined;
      if (this.#keys[i] === v4) return (v - 1) * 4;
    }
  }

  /**
   * Records the spool offset (a multiple of 4) of `addr`'s first listing.
   *
   * @throws {RangeError} When the offset does not fit (a spool beyond 16 GiB).
   */
  set(addr: HostAddress, offset: number): void {
    const v4 = v4Of(addr);
    if (v4 === undefined) {
      this.#v6.set(addr.text, offset);
      return;
    }
    if (offset % 4 !== 0 || offset / 4 + 1 > 0xffffffff) {
      throw new RangeError(`HostIndex: spool offset ${offset} cannot be recorded`);
    }
    if (this.#size + 1 > MAX_LOAD * this.#keys.length) this.#grow();
    this.#put(v4, offset / 4 + 1);
  }

  #put(key: number, val: number): void {
    const mask = (1 << this.#bits) - 1;
    for (let i = hash(key, this.#bits);; i = (i + 1) & mask) {
      if (this.#vals[i] === 0) {
        this.#keys[i] = key;
        this.#vals[i] = val;
        this.#size++;
        return;
      }
      if (this.#keys[i] === key) {
        this.#vals[i] = val;
        return;
      }
    }
  }

  #grow(): void {
    const keys = this.#keys, vals = this.#vals;
    this.#bits++;
    this.#keys = new Uint32Array(1 << this.#bits);
    this.#vals = new Uint32Array(1 << this.#bits);
    this.#size = 0;
    for (let i = 0; i < keys.length; i++) if (vals[i] !== 0) this.#put(keys[i]!, vals[i]!);
  }
}

function hash(key: number, bits: number): number {
  return Math.imul(key, 0x9e3779b1) >>> (32 - bits);
}

// The 32-bit value of an IPv4 address, or of an IPv4-mapped IPv6 one; undefined for IPv6.
function v4Of(addr: HostAddress): number | undefined {
  return addr.family === 4 ? addr.value as number : undefined;
}
