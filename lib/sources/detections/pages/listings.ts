/**
 * Host listings as the detection source hands them on: one listing per HOST of a page (its
 * address as written, its open findings, what else it says), kept in a compact
 * {@linkcode ListingBuffer} until the whole page has parsed, then replayed into a
 * {@linkcode ListingSink}: the host record that checks addresses, removes duplicates and merges
 * into the finding spool. A page that fails half-way is thrown away whole, so no host of it
 * reaches the spool twice when it is fetched again.
 *
 * @module
 */

import type { ListingInfo } from "../../../findings/host_collector.ts";
import { grow } from "../../../util/bytes.ts";

export type { ListingInfo };

/**
 * Takes one listing at a time: `start`, its findings with `add`, then `end` with its address
 * (the host record, `HostCollector`, is one).
 */
export interface ListingSink {
  /** Starts a listing. */
  start(): void;
  /** Adds a finding: QID, port (0: none), protocol (0 none, 1 tcp, 2 udp). */
  add(qid: number, port: number, proto: number): void;
  /** Ends the listing of the host with address `raw` as written (undefined: none given). */
  end(raw: string | undefined, info: ListingInfo): void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const HEAD = 28; // ip, os, cpe bytes; address given; network id + 1; host ID; finding count (u32)

/**
 * One page's listings, packed: a 28-byte header, the texts (padded to 4 bytes), then 8 bytes per
 * finding (u32 QID, u16 port, u8 protocol, u8 0).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const page = new ListingBuffer();
 * page.start();
 * page.add(38170, 443, 1);
 * page.end("10.0.0.1", { os: "Linux 3.13" });
 * const seen: string[] = [];
 * page.replay({
 *   start: () => seen.push("start"),
 *   add: (q, p, r) => seen.push(`${q}/${p}/${r}`),
 *   end: (ip, info) => seen.push(`${ip} ${info.os}`),
 * });
 * assert.deepEqual(seen, ["start", "38170/443/1", "10.0.0.1 Linux 3.13"]);
 * ```
 */
export class ListingBuffer implements ListingSink {
  #bytes = new Uint8Array(64 << 10);
  #length = 0;
  #view = new DataView(this.#bytes.buffer);
  #qids = new Uint32Array(256);
  #ports = new Uint16Array(256);
  #protos = new Uint8Array(256);
  #count = 0;
  /** Listings held. */
  listings = 0;

  /** Bytes held. */
  get byteLength(): number {
    return this.#length;
  }

  /** Forgets every listing, keeping the memory for the next page. */
  clear(): void {
    this.#length = 0;
    this.#count = 0;
    this.listings = 0;
  }

  /** Starts a listing. */
  start(): void {
    this.#count = 0;
  }

  /** Adds a finding to the current listing. */
  add(qid: number, port: number, proto: number): void {
    if (this.#count === this.#qids.length) {
      const need = this.#count + 1;
      this.#qids = grow(this.#qids, need);
      this.#ports = grow(this.#ports, need);
      this.#protos = grow(this.#protos, need);
    }
    const k = this.#count++;
    this.#qids[k] = qid;
    this.#ports[k] = port;
    this.#protos[k] = proto;
  }

  /** Ends the current listing and packs it. */
  end(raw: string | undefined, info: ListingInfo): void {
    const ip = enc.encode(raw ?? "");
    const os = enc.encode(info.os ?? "");
    const cpe = enc.encode(info.osCpe ?? "");
    const texts = (ip.length + os.length + cpe.length + 3) & ~3;
    const count = this.#count;
    this.#reserve(HEAD + texts + count * 8);
    const v = this.#view;
    let o = this.#length;
    v.setUint32(o, ip.length, true);
    v.setUint32(o + 4, os.length, true);
    v.setUint32(o + 8, cpe.length, true);
    v.setUint32(o + 12, raw === undefined ? 0 : 1, true);
    v.setUint32(o + 16, info.networkId === undefined ? 0 : info.networkId + 1, true);
    v.setUint32(o + 20, info.hostId ?? 0, true);
    v.setUint32(o + 24, count, true);
    o += HEAD;
    this.#bytes.set(ip, o);
    this.#bytes.set(os, o + ip.length);
    this.#bytes.set(cpe, o + ip.length + os.length);
    o += texts;
    for (let k = 0; k < count; k++, o += 8) {
      v.setUint32(o, this.#qids[k]!, true);
      v.setUint16(o + 4, this.#ports[k]!, true);
      v.setUint8(o + 6, this.#protos[k]!);
      v.setUint8(o + 7, 0);
    }
    this.#length = o;
    this.listings++;
  }

  #reserve(n: number): void {
    if (this.#length + n <= this.#bytes.length) return;
    this.#bytes = grow(this.#bytes, this.#length + n, this.#length);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Replays every listing, in order, into `sink`. */
  replay(sink: ListingSink): void {
    const v = this.#view, b = this.#bytes;
    for (let o = 0; o < this.#length;) {
      const ipLen = v.getUint32(o, true), osLen = v.getUint32(o + 4, true);
      const cpeLen = v.getUint32(o + 8, true), given = v.getUint32(o + 12, true);
      const net = v.getUint32(o + 16, true), id = v.getUint32(o + 20, true);
      const count = v.getUint32(o + 24, true);
      o += HEAD;
      const raw = given ? dec.decode(b.subarray(o, o + ipLen)) : undefined;
      const os = osLen ? dec.decode(b.subarray(o + ipLen, o + ipLen + osLen)) : undefined;
      const cpe = cpeLen
        ? dec.decode(b.subarray(o + ipLen + osLen, o + ipLen + osLen + cpeLen))
        : undefined;
      o += (ipLen + osLen + cpeLen + 3) & ~3;
      sink.start();
      for (let k = 0; k < count; k++, o += 8) {
        sink.add(v.getUint32(o, true), v.getUint16(o + 4, true), v.getUint8(o + 6));
      }
      sink.end(raw, {
        os,
        osCpe: cpe,
        networkId: net ? net - 1 : undefined,
        hostId: id || undefined,
      });
    }
  }
}
