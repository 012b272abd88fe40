/**
 * A compact spool of per-host records: 8 bytes per finding plus a 12-byte header, the host's IP
 * and (when collected) its OS text and CPE. It lives in memory up to a limit, then in a 0600 temp
 * file, so memory stays flat whatever the report size. Hosts are replayed once the report (and
 * so the glossary) has been read: first every host with open findings, in report order, then
 * every host without (the hosts to clear).
 *
 * A host address listed more than once is one host: a later listing is spooled as a follower of
 * the first (only its findings that are new to the host, see {@linkcode FindingSpool.addListing})
 * and the replay gives the host once, at its first listing, with the findings of all its
 * listings. Only repeated addresses cost memory: one map entry per repeated address.
 *
 * Record layout (little endian): u8 ipLen, u8 osLen, u8 cpeLen, u8 flags (1: a follower),
 * u32 count, u32 network id (0xffffffff: none), the IP, OS and CPE bytes padded to 4, then per
 * finding u32 QID, u16 port, u8 protocol, u8 0.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
import { grow, writeAllSync } from "../util/bytes.ts";

/**
 * One host's findings, as views that are valid only during the callback that receives them.
 * A host with no finding (`count` 0) is one the source lists without any open finding: its
 * results from this scanner are to be cleared (README: What is written).
 */
export interface HostFindings {
  /** The host's address, validated and canonical: a dotted quad, or RFC 5952 text for IPv6. */
  ip: string;
  /** Number of findings; 0 for a host listed without open findings. */
  count: number;
  /** QID of each finding. */
  qids: Uint32Array;
  /** Port of each finding (0: none). */
  ports: Uint16Array;
  /** Protocol of each finding: 0 none, 1 tcp, 2 udp. */
  protos: Uint8Array;
  /** The operating system as the source names it (report `OPERATING_SYSTEM`/`OS`), if collected. */
  os?: string | undefined;
  /** Its CPE name (`OS_CPE`), if collected. */
  osCpe?: string | undefined;
}

/** One listing of a host, as a source hands it to {@linkcode FindingSpool.addHost}. */
export interface HostListing {
  /** The address, canonical (as {@linkcode HostFindings.ip}). */
  ip: string;
  /** Number of findings (the first `count` entries of the arrays). */
  count: number;
  /** QIDs. */
  qids: Uint32Array;
  /** Ports (0: none). */
  ports: Uint16Array;
  /** Protocols: 0 none, 1 tcp, 2 udp. */
  protos: Uint8Array;
  /** OS text; kept up to 255 UTF-8 bytes. */
  os?: string | undefined;
  /** OS CPE name; kept up to 255 UTF-8 bytes. */
  osCpe?: string | undefined;
  /** The Qualys network the listing belongs to (`network_id`), when the source gives it. */
  networkId?: number | undefined;
}

/** What {@linkcode FindingSpool.addListing} did with a later listing of a host. */
export interface MergeResult {
  /** Findings new to the host, spooled. */
  added: number;
  /** Findings the host already had from its earlier listings, dropped. */
  duplicates: number;
  /** The host had open findings before this listing. */
  hadFindings: boolean;
  /** The network ids of the earlier listings that gave one (distinct). */
  networkIds: number[];
}

const CHUNK = 1 << 20;
const EMPTY = new Uint8Array(0);
const HEADER = 12;
const FOLLOWER = 1;
const NO_NETWORK = 0xffffffff;
const MAX_TEXT = 255;

/** Options for {@linkcode FindingSpool}. */
export interface FindingSpoolOptions {
  /** Bytes kept in memory before spilling to a temp file. @default {2097152} */
  memoryLimit?: number;
  /** Directory for the temp file. @default the system temp directory */
  tempDir?: string;
}

interface Merged {
  followers: number[];
  hasFindings: boolean;
}

/** Per-host records, in memory up to a limit and then in a 0600 temp file. */
export class FindingSpool {
  #chunks: Uint8Array[] = [];
  #chunkStarts: number[] = [];
  #chunkSize: number;
  #cur: Uint8Array;
  #curLen = 0;
  #memBytes = 0;
  #memoryLimit: number;
  #tempDir: string | undefined;
  #file: Deno.FsFile | undefined;
  #path: string | undefined;
  #fileBytes = 0;
  #unregister: (() => void) | undefined;
  #encoder = new TextEncoder();
  #merged = new Map<number, Merged>();
  /** Number of records spooled (listings, a repeated address's included). */
  hosts = 0;
  /** Hosts (distinct addresses) with open findings. */
  withFindings = 0;
  /** Hosts (distinct addresses) without any open finding. */
  clean = 0;

  /** Creates an empty spool. */
  constructor(options: FindingSpoolOptions = {}) {
    this.#memoryLimit = options.memoryLimit ?? 2 << 20;
    this.#chunkSize = Math.min(CHUNK, this.#memoryLimit);
    this.#cur = new Uint8Array(this.#chunkSize);
    this.#tempDir = options.tempDir;
  }

  /** Path of the temp file, once the spool has spilled to disk. */
  get path(): string | undefined {
    return this.#path;
  }

  /** Appends the first listing of a host; returns its offset (for a `HostIndex`). */
  addHost(host: HostListing): number {
    const offset = this.#append(host, host.count, undefined, 0);
    if (host.count > 0) this.withFindings++;
    else this.clean++;
    return offset;
  }

  /**
   * Appends a later listing of the host whose first listing is at `first`: its findings are
   * compared with those of the earlier listings and only the new ones are spooled, so the
   * merged host has no duplicate (host, QID, port, protocol).
   */
  addListing(first: number, host: HostListing): MergeResult {
    const merged = this.#merged.get(first) ?? { followers: [], hasFindings: false };
    const seen = new Set<number>();
    const networkIds: number[] = [];
    let hadFindings = false;
    for (const at of [first, ...merged.followers]) {
      const rec = this.#readRecord(at);
      const view = new DataView(rec.buffer, rec.byteOffset, rec.length);
      const count = view.getUint32(4, true), network = view.getUint32(8, true);
      if (count > 0) hadFindings = true;
      if (network !== NO_NETWORK && !networkIds.includes(network)) networkIds.push(network);
      for (let k = 0, off = bodyStart(rec); k < count; k++, off += 8) {
        seen.add(
          findingKey(view.getUint32(off, true), view.getUint16(off + 4, true), rec[off + 6]!),
        );
      }
    }
    const keep: number[] = [];
    for (let k = 0; k < host.count; k++) {
      const key = findingKey(host.qids[k]!, host.ports[k]!, host.protos[k]!);
      if (!seen.has(key)) {
        seen.add(key);
        keep.push(k);
      }
    }
    merged.followers.push(this.#append(host, keep.length, keep, FOLLOWER));
    merged.hasFindings = hadFindings || keep.length > 0;
    this.#merged.set(first, merged);
    if (!hadFindings && keep.length > 0) {
      this.clean--;
      this.withFindings++;
    }
    return { added: keep.length, duplicates: host.count - keep.length, hadFindings, networkIds };
  }

  // Writes one record: the listing's findings, or those at the indexes `pick`.
  #append(host: HostListing, count: number, pick: number[] | undefined, flags: number): number {
    const ipBytes = this.#encoder.encode(host.ip);
    const osBytes = textBytes(this.#encoder, host.os);
    const cpeBytes = textBytes(this.#encoder, host.osCpe);
    if (ipBytes.length > MAX_TEXT) throw new RangeError(`FindingSpool: "${host.ip}" is no address`);
    const texts = ipBytes.length + osBytes.length + cpeBytes.length;
    const need = HEADER + ((texts + 3) & ~3) + count * 8;
    this.#reserve(need);
    const offset = this.#sealedBytes() + this.#curLen;
    const cur = this.#cur, at = this.#curLen;
    const view = new DataView(cur.buffer, cur.byteOffset + at, need);
    cur[at] = ipBytes.length;
    cur[at + 1] = osBytes.length;
    cur[at + 2] = cpeBytes.length;
    cur[at + 3] = flags;
    view.setUint32(4, count, true);
    view.setUint32(8, host.networkId ?? NO_NETWORK, true);
    cur.set(ipBytes, at + HEADER);
    cur.set(osBytes, at + HEADER + ipBytes.length);
    cur.set(cpeBytes, at + HEADER + ipBytes.length + osBytes.length);
    let off = HEADER + ((texts + 3) & ~3);
    const { qids, ports, protos } = host;
    for (let j = 0; j < count; j++, off += 8) {
      const k = pick ? pick[j]! : j;
      view.setUint32(off, qids[k]!, true);
      view.setUint16(off + 4, ports[k]!, true);
      view.setUint8(off + 6, protos[k]!);
      view.setUint8(off + 7, 0);
    }
    this.#curLen += need;
    this.hosts++;
    return offset;
  }

  #sealedBytes(): number {
    return this.#file ? this.#fileBytes : this.#memBytes;
  }

  #reserve(need: number): void {
    if (this.#curLen + need <= this.#cur.length) return;
    const sealed = this.#sealCurrent();
    // Once on disk, the chunk was written synchronously and can be reused: no garbage.
    if (sealed === "memory" || need > this.#cur.length) {
      this.#cur = new Uint8Array(Math.max(this.#chunkSize, need));
    }
  }

  #sealCurrent(): "memory" | "file" | "empty" {
    if (this.#curLen === 0) return "empty";
    const chunk = this.#cur.subarray(0, this.#curLen);
    this.#curLen = 0;
    if (this.#file === undefined && this.#memBytes + chunk.length <= this.#memoryLimit) {
      this.#chunks.push(chunk);
      this.#chunkStarts.push(this.#memBytes);
      this.#memBytes += chunk.length;
      return "memory";
    }
    if (this.#file === undefined) {
      this.#path = Deno.makeTempFileSync({
        prefix: "qualys_connector-spool-",
        ...(this.#tempDir ? { dir: this.#tempDir } : {}),
      });
      Deno.chmodSync(this.#path, 0o600);
      this.#unregister = onCleanup(() => this.dispose());
      this.#file = Deno.openSync(this.#path, { read: true, write: true });
      for (const c of this.#chunks) this.#writeAll(c);
      this.#chunks = [];
      this.#chunkStarts = [];
      this.#memBytes = 0;
    }
    this.#writeAll(chunk);
    return "file";
  }

  #writeAll(bytes: Uint8Array): void {
    writeAllSync(this.#file!, bytes);
    this.#fileBytes += bytes.length;
  }

  // The whole record at `offset`, wherever it is (the current chunk, a memory chunk, the file).
  // The file's position is restored, so a replay reading it in sequence is not disturbed.
  #readRecord(offset: number): Uint8Array {
    const sealed = this.#sealedBytes();
    if (offset >= sealed) return wholeRecord(this.#cur, offset - sealed);
    if (!this.#file) {
      let lo = 0, hi = this.#chunkStarts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.#chunkStarts[mid]! <= offset) lo = mid;
        else hi = mid - 1;
      }
      return wholeRecord(this.#chunks[lo]!, offset - this.#chunkStarts[lo]!);
    }
    const file = this.#file;
    const pos = file.seekSync(0, Deno.SeekMode.Current);
    try {
      const head = new Uint8Array(HEADER);
      file.seekSync(offset, Deno.SeekMode.Start);
      readFullSync(file, head);
      const rec = new Uint8Array(recordLength(head, 0));
      rec.set(head);
      readFullSync(file, rec.subarray(HEADER));
      return rec;
    } finally {
      file.seekSync(pos, Deno.SeekMode.Start);
    }
  }

  /**
   * Calls `onHost` for every host: first those with open findings, then those without, each
   * group in the order of the hosts' first listings.
   */
  async replay(onHost: (host: HostFindings) => Promise<void> | void): Promise<void> {
    this.#sealCurrent();
    let qids = new Uint32Array(256), ports = new Uint16Array(256), protos = new Uint8Array(256);
    const decoder = new TextDecoder();
    const hasMerges = this.#merged.size > 0;
    let pass = 1;
    // Appends a record's findings at `n`; returns the new count.
    const take = (rec: Uint8Array, n: number): number => {
      const view = new DataView(rec.buffer, rec.byteOffset, rec.length);
      const count = view.getUint32(4, true);
      qids = grow(qids, n + count, n);
      ports = grow(ports, n + count, n);
      protos = grow(protos, n + count, n);
      for (let k = 0, off = bodyStart(rec); k < count; k++, off += 8) {
        qids[n + k] = view.getUint32(off, true);
        ports[n + k] = view.getUint16(off + 4, true);
        protos[n + k] = rec[off + 6]!;
      }
      return n + count;
    };
    const text = (rec: Uint8Array, from: number, len: number) =>
      len === 0 ? undefined : decoder.decode(rec.subarray(HEADER + from, HEADER + from + len));
    const emit = async (rec: Uint8Array, offset: number) => {
      if ((rec[3]! & FOLLOWER) !== 0) return;
      const merged = hasMerges ? this.#merged.get(offset) : undefined;
      const hasFindings = merged
        ? merged.hasFindings
        : new DataView(rec.buffer, rec.byteOffset, 8).getUint32(4, true) > 0;
      if (hasFindings !== (pass === 1)) return;
      const ipLen = rec[0]!;
      let count = take(rec, 0);
      let os = text(rec, ipLen, rec[1]!), osCpe = text(rec, ipLen + rec[1]!, rec[2]!);
      for (const at of merged?.followers ?? []) {
        const f = this.#readRecord(at);
        count = take(f, count);
        if (os === undefined && osCpe === undefined) {
          os = text(f, f[0]!, f[1]!);
          osCpe = text(f, f[0]! + f[1]!, f[2]!);
        }
      }
      const ip = decoder.decode(rec.subarray(HEADER, HEADER + ipLen));
      await onHost({ ip, count, qids, ports, protos, os, osCpe });
    };
    for (; pass <= 2; pass++) {
      if (pass === 2 && this.clean === 0) break;
      const reader = new RecordReader();
      if (this.#file) {
        await this.#file.seek(0, Deno.SeekMode.Start);
        const file = this.#file;
        await reader.drain((buf) => file.read(buf), emit);
      }
      for (const c of this.#chunks) {
        let off = 0;
        await reader.drain((into) => {
          if (off >= c.length) return Promise.resolve(null);
          const n = Math.min(into.length, c.length - off);
          into.set(c.subarray(off, off + n));
          off += n;
          return Promise.resolve(n);
        }, emit);
      }
      if (!reader.empty) throw new Error("Internal error: the finding spool ends inside a record");
    }
  }

  /** Closes and removes the temp file, if any. Safe to call twice. */
  dispose(): void {
    this.#unregister?.();
    this.#unregister = undefined;
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = undefined;
    if (this.#path) {
      try {
        Deno.removeSync(this.#path);
      } catch { /* already gone */ }
      this.#path = undefined;
    }
    this.#chunks = [];
    this.#chunkStarts = [];
    this.#merged.clear();
    this.#cur = EMPTY;
    this.#curLen = 0;
    this.withFindings = this.clean = 0;
  }
}

function findingKey(qid: number, port: number, proto: number): number {
  return qid * 262144 + port * 4 + proto;
}

// A text field's bytes, cut to 255 bytes at a character boundary.
function textBytes(encoder: TextEncoder, text: string | undefined): Uint8Array {
  if (!text) return EMPTY;
  let bytes = encoder.encode(text);
  if (bytes.length > MAX_TEXT) {
    let end = MAX_TEXT;
    while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
    bytes = bytes.subarray(0, end);
  }
  return bytes;
}

function recordLength(b: Uint8Array, at: number): number {
  const texts = b[at]! + b[at + 1]! + b[at + 2]!;
  const count = b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24);
  return HEADER + ((texts + 3) & ~3) + (count >>> 0) * 8;
}

function bodyStart(rec: Uint8Array): number {
  return HEADER + ((rec[0]! + rec[1]! + rec[2]! + 3) & ~3);
}

function wholeRecord(chunk: Uint8Array, at: number): Uint8Array {
  return chunk.subarray(at, at + recordLength(chunk, at));
}

function readFullSync(file: Deno.FsFile, into: Uint8Array): void {
  for (let got = 0; got < into.length;) {
    const n = file.readSync(into.subarray(got));
    if (n === null) throw new Error("Internal error: the finding spool file ends inside a record");
    got += n;
  }
}

// Splits a byte stream of host records into whole records, in one reusable buffer, and tells
// each record's offset in the stream.
class RecordReader {
  #buf = new Uint8Array(CHUNK * 2);
  #fill = 0;
  #base = 0; // stream offset of #buf[0]
  get empty(): boolean {
    return this.#fill === 0;
  }
  async drain(
    read: (into: Uint8Array) => Promise<number | null>,
    emit: (record: Uint8Array, offset: number) => Promise<void>,
  ): Promise<void> {
    for (;;) {
      this.#buf = grow(this.#buf, this.#fill + CHUNK, this.#fill);
      const n = await read(this.#buf.subarray(this.#fill));
      if (n === null) return;
      this.#fill += n;
      let off = 0;
      while (this.#fill - off >= HEADER) {
        const len = recordLength(this.#buf, off);
        if (this.#fill - off < len) break;
        await emit(this.#buf.subarray(off, off + len), this.#base + off);
        off += len;
      }
      this.#buf.copyWithin(0, off, this.#fill);
      this.#fill -= off;
      this.#base += off;
    }
  }
}
