/**
 * Which address each Qualys host's results went to at a destination (host ID → canonical
 * address), kept in the sync state. An incremental run needs it when a host changes address (its
 * old address must lose its results) or shares one with hosts that were not processed (their
 * findings must be sent with it, as a full run merges them). Packed: 100,000 hosts are 800 KB of
 * typed arrays, not a `Map` of several MB; IPv6 addresses as text.
 *
 * @module
 */

import { hostAddress, parseHostAddress } from "../../../config/ip_ranges.ts";
import { grow } from "../../../util/bytes.ts";

/**
 * Host ID → address. Changes are appended and merged into the sorted arrays when read.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const map = new HostMap();
 * map.set(7, "10.0.0.7");
 * map.set(3, "2001:db8::3");
 * map.set(9, "10.0.0.7");
 * map.set(7, "10.0.0.8");
 * map.delete(9);
 * assert.equal(map.get(7), "10.0.0.8");
 * assert.deepEqual(map.idsAt(new Set(["10.0.0.8", "2001:db8::3"])), [3, 7]);
 * assert.deepEqual([...HostMap.fromJSON(JSON.parse(JSON.stringify(map)))], [...map]);
 * ```
 */
export class HostMap {
  // Sorted by ID, one entry per ID. An IPv6 host has 0 in #v4 and its address in #v6.
  #ids = new Uint32Array(0);
  #v4 = new Uint32Array(0);
  #v6 = new Map<number, string>();
  // Changes not yet merged: appended (the last one of an ID wins), and deletions.
  #addIds = new Uint32Array(64);
  #addV4 = new Uint32Array(64);
  #addV6 = new Map<number, string>();
  #added = 0;
  #deleted = new Set<number>();

  /** Number of hosts. */
  get size(): number {
    this.#merge();
    return this.#ids.length;
  }

  /** Sets host `id`'s address (canonical text). */
  set(id: number, ip: string): void {
    this.#deleted.delete(id);
    if (this.#added === this.#addIds.length) {
      this.#addIds = grow(this.#addIds, this.#added + 1);
      this.#addV4 = grow(this.#addV4, this.#added + 1);
    }
    const v4 = ipv4Value(ip);
    this.#addIds[this.#added] = id;
    this.#addV4[this.#added++] = v4 ?? 0;
    if (v4 === undefined) this.#addV6.set(id, ip);
    else this.#addV6.delete(id);
  }

  /** Makes room for `n` more hosts before they come: no growing (and garbage) on the way. */
  reserve(n: number): void {
    const need = this.#added + n;
    if (need <= this.#addIds.length) return;
    this.#addIds = grow(this.#addIds, need, this.#added);
    this.#addV4 = grow(this.#addV4, need, this.#added);
  }

  /** Merges the changes now, into arrays of the size they need. */
  compact(): void {
    this.#merge();
    this.#addIds = new Uint32Array(64);
    this.#addV4 = new Uint32Array(64);
  }

  /** Forgets host `id`. */
  delete(id: number): void {
    this.#deleted.add(id);
  }

  /** Host `id`'s address, if known. */
  get(id: number): string | undefined {
    this.#merge();
    const ids = this.#ids;
    let lo = 0, hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo < ids.length && ids[lo] === id ? this.#address(lo) : undefined;
  }

  /** The IDs of the hosts at any of `addresses`, ascending. */
  idsAt(addresses: ReadonlySet<string>): number[] {
    this.#merge();
    const out: number[] = [];
    if (addresses.size === 0) return out;
    const v4 = new Set<number>();
    for (const ip of addresses) {
      const v = ipv4Value(ip);
      if (v !== undefined) v4.add(v);
    }
    for (let i = 0; i < this.#ids.length; i++) {
      const id = this.#ids[i]!;
      const v6 = this.#v6.get(id);
      if (v6 !== undefined ? addresses.has(v6) : v4.has(this.#v4[i]!)) out.push(id);
    }
    return out;
  }

  /** Every `[id, address]`, by ID. */
  *[Symbol.iterator](): IterableIterator<[number, string]> {
    this.#merge();
    for (let i = 0; i < this.#ids.length; i++) yield [this.#ids[i]!, this.#address(i)];
  }

  /** JSON-ready data: IDs and IPv4 addresses packed (big-endian u32, base64), IPv6 as pairs. */
  toJSON(): { ids: string; v4: string; v6: [number, string][] } {
    this.#merge();
    return { ids: pack(this.#ids), v4: pack(this.#v4), v6: [...this.#v6] };
  }

  /** Reads what `toJSON` wrote; throws a `TypeError` on anything else. */
  static fromJSON(data: unknown): HostMap {
    const d = data as { ids?: unknown; v4?: unknown; v6?: unknown };
    if (typeof d?.ids !== "string" || typeof d.v4 !== "string" || !Array.isArray(d.v6)) {
      throw new TypeError("bad host IDs");
    }
    const ids = unpack(d.ids), v4 = unpack(d.v4);
    if (ids.length !== v4.length) throw new TypeError("bad host IDs");
    for (let i = 1; i < ids.length; i++) {
      if (ids[i]! <= ids[i - 1]!) throw new TypeError("bad host IDs");
    }
    const map = new HostMap();
    map.#ids = ids;
    map.#v4 = v4;
    for (const pair of d.v6) {
      const [id, ip] = Array.isArray(pair) ? pair : [];
      if (
        typeof id !== "number" || typeof ip !== "string" || parseHostAddress(ip)?.text !== ip
      ) throw new TypeError("bad host IDs");
      const addr = hostAddress(ip)!;
      // an IPv4-mapped one, as older states kept it, is the IPv4 host
      if (addr.family === 4) map.set(id, addr.text);
      else map.#v6.set(id, ip);
    }
    return map;
  }

  #address(i: number): string {
    return this.#v6.get(this.#ids[i]!) ?? formatV4(this.#v4[i]!);
  }

  // Merges the changes into the sorted arrays.
  #merge(): void {
    const n = this.#added;
    if (n === 0 && this.#deleted.size === 0) return;
    // The changes by ID, the last of each ID kept.
    const order = new Uint32Array(n);
    for (let k = 0; k < n; k++) order[k] = k;
    const addIds = this.#addIds;
    order.sort((a, b) => addIds[a]! - addIds[b]! || a - b);
    let m = 0;
    for (let k = 0; k < n; k++) {
      if (k + 1 < n && addIds[order[k + 1]!] === addIds[order[k]!]) continue;
      order[m++] = order[k]!;
    }
    const ids = new Uint32Array(this.#ids.length + m), v4 = new Uint32Array(ids.length);
    const v6 = new Map<number, string>();
    let w = 0, i = 0, k = 0;
    const put = (id: number, v: number, ip6: string | undefined) => {
      if (this.#deleted.has(id)) return;
      ids[w] = id;
      v4[w++] = v;
      if (ip6 !== undefined) v6.set(id, ip6);
    };
    while (i < this.#ids.length || k < m) {
      const a = i < this.#ids.length ? this.#ids[i]! : Infinity;
      const b = k < m ? addIds[order[k]!]! : Infinity;
      if (b <= a) {
        const j = order[k++]!;
        put(b, this.#addV4[j]!, this.#addV6.get(b));
        if (a === b) i++;
      } else {
        put(a, this.#v4[i]!, this.#v6.get(a));
        i++;
      }
    }
    this.#ids = ids.slice(0, w);
    this.#v4 = v4.slice(0, w);
    this.#v6 = v6;
    this.#added = 0;
    this.#addV6 = new Map();
    this.#deleted = new Set();
  }
}

/** Big-endian u32s as base64 (native: no binary string in between). */
export function pack(values: Uint32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setUint32(i * 4, values[i]!);
  return bytes.toBase64();
}

/** What {@linkcode pack} wrote; a `TypeError` on anything else. */
export function unpack(text: string): Uint32Array<ArrayBuffer> {
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(text);
  } catch {
    throw new TypeError("bad packed numbers");
  }
  if (bytes.length % 4 !== 0) throw new TypeError("bad packed numbers");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4);
  return out;
}

/** A canonical dotted quad's value; undefined for anything else (IPv6). */
export function ipv4Value(ip: string): number | undefined {
  let value = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + part;
      part = digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + c - 48;
      if (++digits > 3 || part > 255) return undefined;
    } else return undefined;
  }
  return dots === 3 && digits > 0 ? value * 256 + part : undefined;
}

/** The dotted quad of a value. */
export function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}
