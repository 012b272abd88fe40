/**
 * A compact spool of per-host records: 8 bytes per finding plus a 16-byte header, the host's IP
 * and (when collected) its OS text and CPE. It lives in memory up to a limit, then in a 0600 temp
 * file, so memory stays flat whatever the report size. Hosts are replayed once the report (and
 * so the glossary) has been read: first every host with open findings, in report order, then
 * every host without (the hosts to clear).
 *
 * A host address listed more than once is one host: a later listing is spooled as a follower of
 * the first (only its findings that are new to the host, see {@linkcode FindingSpool.addListing})
 * and the replay gives the host once, at its first listing, with the findings of all its
 * listings. The listings of a host are chained in the spool itself (each record holds the offset
 * of the host's next listing, patched in place when one comes), so a repeated address costs no
 * memory beyond the `HostIndex` entry every host has.
 *
 * Record layout (little endian): u8 ipLen, u8 osLen, u8 cpeLen, u8 flags (1: a later listing;
 * 2: has later listings; 4: the host has findings, in any listing, valid with 2), u32 count,
 * u32 network id (0xffffffff: none), u32 the host's next listing (offset / 4; 0: none), the IP,
 * OS and CPE bytes padded to 4, then per finding u32 QID, u16 port, u8 protocol, u8 0.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
import { REPORT_MEMORY } from "../util/memory.ts";
import { makeTempFileSync, tempFileError } from "../util/temp_files.ts";
import { grow, writeAllSync } from "../util/bytes.ts";

/**
 * One host's findings, as views that are valid only during the callback that receives them.
 * A host with no finding (`count` 0) is one the source lists without any open finding: its
 * results from this scanner are to be cleared (docs/output.md).
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
// The replay reads the spool this much at a time (its buffer is twice that, grown for a larger
// record). Reading 1 MiB at a time was no faster (the ≈281 MB report to a file: 1.1–1.3 s either
// way) and peaked 2 MiB higher.
const READ_CHUNK = 128 << 10;
const EMPTY = new Uint8Array(0);
const HEADER = 16;
const FOLLOWER = 1; // a later listing of a host
const REPEATED = 2; // the first listing of a host listed again
const MERGED_FINDINGS = 4; // with REPEATED: one of the host's listings has findings
const NO_NETWORK = 0xffffffff;
const MAX_TEXT = 255;

/** Options for {@linkcode FindingSpool}. */
export interface FindingSpoolOptions {
  /** Bytes kept in memory before going to a temp file. @default {REPORT_MEMORY.findingBytes} */
  memoryLimit?: number;
  /** Directory for the temp file. @default the system temp directory */
  tempDir?: string;
}

/**
 * Per-host records, in memory up to a limit and then in a 0600 temp file. A failure to create,
 * write or read that file is a `LocalIoError` (exit 7) naming it.
 */
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
  #seen = new Set<number>(); // addListing's findings of the earlier listings
  #keep = new Uint32Array(256); // addListing's new findings (indexes)
  #reader: Deno.FsFile | undefined; // a second handle on the file, for reads and patches
  #scratch = new Uint8Array(4096); // what #readRecord read from the file
  /** Number of records spooled (listings, a repeated address's included). */
  hosts = 0;
  /** Hosts (distinct addresses) with open findings. */
  withFindings = 0;
  /** Hosts (distinct addresses) without any open finding. */
  clean = 0;

  /** Creates an empty spool. */
  constructor(options: FindingSpoolOptions = {}) {
    this.#memoryLimit = options.memoryLimit ?? REPORT_MEMORY.findingBytes;
    this.#chunkSize = Math.min(CHUNK, this.#memoryLimit);
    this.#cur = new Uint8Array(this.#chunkSize);
    this.#tempDir = options.tempDir;
  }

  /** Path of the temp file, once the spool went to disk. */
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
    const seen = this.#seen;
    seen.clear();
    const networkIds: number[] = [];
    let hadFindings = false, last = first, firstFlags = 0;
    // first, then its later listings (never at offset 0, which is no later listing's: "none")
    for (let at = first; at >= 0;) {
      const rec = this.#readRecord(at);
      if (at === first) firstFlags = rec[3]!;
      last = at;
      at = nextListing(rec) || -1;
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
    this.#keep = grow(this.#keep, host.count);
    let kept = 0;
    for (let k = 0; k < host.count; k++) {
      const key = findingKey(host.qids[k]!, host.ports[k]!, host.protos[k]!);
      if (!seen.has(key)) {
        seen.add(key);
        this.#keep[kept++] = k;
      }
    }
    const at = this.#append(host, kept, this.#keep, FOLLOWER);
    if (at / 4 > 0xffffffff) throw new RangeError("FindingSpool: the spool passed 16 GiB");
    this.#patch(last, 12, at / 4, 4);
    this.#patch(
      first,
      3,
      firstFlags | REPEATED | (hadFindings || kept > 0 ? MERGED_FINDINGS : 0),
      1,
    );
    if (!hadFindings && kept > 0) {
      this.clean--;
      this.withFindings++;
    }
    return { added: kept, duplicates: host.count - kept, hadFindings, networkIds };
  }

  // Writes one record: the listing's findings, or those at the indexes `pick`.
  #append(
    host: HostListing,
    count: number,
    pick: Uint32Array | undefined,
    flags: number,
  ): number {
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
    view.setUint32(12, 0, true);
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
      const made = makeTempFileSync("findings", { tempDir: this.#tempDir });
      this.#path = made.path;
      this.#file = made.file;
      this.#unregister = onCleanup(() => this.dispose());
      for (const c of this.#chunks) this.#writeAll(c);
      this.#chunks = [];
      this.#chunkStarts = [];
      this.#memBytes = 0;
    }
    this.#writeAll(chunk);
    return "file";
  }

  #writeAll(bytes: Uint8Array): void {
    try {
      writeAllSync(this.#file!, bytes);
    } catch (error) {
      throw tempFileError("write the finding spool", this.#path!, error);
    }
    this.#fileBytes += bytes.length;
  }

  // Where the byte at `offset` is: the buffer holding it and its index there; undefined when it
  // is in the file.
  #locate(offset: number): [Uint8Array, number] | undefined {
    const sealed = this.#sealedBytes();
    if (offset >= sealed) return [this.#cur, offset - sealed];
    if (this.#file) return undefined;
    let lo = 0, hi = this.#chunkStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#chunkStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return [this.#chunks[lo]!, offset - this.#chunkStarts[lo]!];
  }

  // The second handle on the file: reads and patches at an offset do not move the position of
  // the one that appends (or of a replay reading in sequence).
  #fileAt(offset: number): Deno.FsFile {
    const file = this.#reader ??= Deno.openSync(this.#path!, { read: true, write: true });
    file.seekSync(offset, Deno.SeekMode.Start);
    return file;
  }

  // The whole record at `offset`, wherever it is: a view, valid until the next call.
  #readRecord(offset: number): Uint8Array {
    const where = this.#locate(offset);
    if (where) return wholeRecord(where[0], where[1]);
    try {
      const file = this.#fileAt(offset);
      let got = readSomeSync(file, this.#scratch, HEADER);
      const length = recordLength(this.#scratch, 0);
      if (length > this.#scratch.length) this.#scratch = grow(this.#scratch, length, got);
      if (got < length) got += readSomeSync(file, this.#scratch.subarray(got), length - got);
      return this.#scratch.subarray(0, length);
    } catch (error) {
      throw tempFileError("read the finding spool back", this.#path!, error);
    }
  }

  // Writes a header field of the record at `offset`, in memory or in the file.
  #patch(offset: number, field: number, value: number, size: 1 | 4): void {
    const bytes = new Uint8Array(size);
    for (let k = 0; k < size; k++) bytes[k] = (value >>> (8 * k)) & 255;
    const where = this.#locate(offset);
    if (where) where[0].set(bytes, where[1] + field);
    else {
      try {
        writeAllSync(this.#fileAt(offset + field), bytes);
      } catch (error) {
        throw tempFileError("write the finding spool", this.#path!, error);
      }
    }
  }

  /**
   * Calls `onHost` for every host: first those with open findings, then those without, each
   * group in the order of the hosts' first listings.
   */
  async replay(onHost: (host: HostFindings) => Promise<void> | void): Promise<void> {
    this.#sealCurrent();
    this.#cur = EMPTY; // the chunk being filled (1 MiB) is not held through the replay
    let qids = new Uint32Array(256), ports = new Uint16Array(256), protos = new Uint8Array(256);
    const decoder = new TextDecoder();
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
    const emit = async (rec: Uint8Array) => {
      const flags = rec[3]!;
      if ((flags & FOLLOWER) !== 0) return;
      const repeated = (flags & REPEATED) !== 0;
      const hasFindings = repeated
        ? (flags & MERGED_FINDINGS) !== 0
        : new DataView(rec.buffer, rec.byteOffset, 8).getUint32(4, true) > 0;
      if (hasFindings !== (pass === 1)) return;
      const ipLen = rec[0]!;
      let count = take(rec, 0);
      let os = text(rec, ipLen, rec[1]!), osCpe = text(rec, ipLen + rec[1]!, rec[2]!);
      const ip = decoder.decode(rec.subarray(HEADER, HEADER + ipLen));
      // the host's later listings, chained from its first
      for (let next = repeated ? nextListing(rec) : 0; next !== 0;) {
        const f = this.#readRecord(next);
        next = nextListing(f);
        count = take(f, count);
        if (os === undefined && osCpe === undefined) {
          os = text(f, f[0]!, f[1]!);
          osCpe = text(f, f[0]! + f[1]!, f[2]!);
        }
      }
      await onHost({ ip, count, qids, ports, protos, os, osCpe });
    };
    for (; pass <= 2; pass++) {
      if (pass === 2 && this.clean === 0) break;
      const reader = new RecordReader(Math.min(this.#chunkSize, READ_CHUNK));
      if (this.#file) {
        await this.#file.seek(0, Deno.SeekMode.Start);
        const file = this.#file;
        const path = this.#path!;
        await reader.drain(
          (buf) =>
            file.read(buf).catch((error) => {
              throw tempFileError("read the finding spool back", path, error);
            }),
          emit,
        );
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
    try {
      this.#reader?.close();
    } catch { /* already closed */ }
    this.#reader = undefined;
    if (this.#path) {
      try {
        Deno.removeSync(this.#path);
      } catch { /* already gone */ }
      this.#path = undefined;
    }
    this.#chunks = [];
    this.#chunkStarts = [];

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

// The offset of the host's next listing (0: none).
function nextListing(rec: Uint8Array): number {
  return ((rec[12]! | (rec[13]! << 8) | (rec[14]! << 16) | (rec[15]! << 24)) >>> 0) * 4;
}

function bodyStart(rec: Uint8Array): number {
  return HEADER + ((rec[0]! + rec[1]! + rec[2]! + 3) & ~3);
}

function wholeRecord(chunk: Uint8Array, at: number): Uint8Array {
  return chunk.subarray(at, at + recordLength(chunk, at));
}

// Reads at least `need` bytes into `into` (more when they come); returns the count.
function readSomeSync(file: Deno.FsFile, into: Uint8Array, need: number): number {
  let got = 0;
  while (got < need) {
    const n = file.readSync(into.subarray(got));
    if (n === null) throw new Error("Internal error: the finding spool file ends inside a record");
    got += n;
  }
  return got;
}

// Splits a byte stream of host records into whole records, in one reusable buffer. It reads
// `chunk` bytes at a time: the spool's chunk size (smaller under a smaller memory limit).
class RecordReader {
  readonly #chunk: number;
  #buf: Uint8Array;
  constructor(chunk: number) {
    this.#chunk = chunk;
    this.#buf = new Uint8Array(chunk * 2);
  }
  #fill = 0;
  get empty(): boolean {
    return this.#fill === 0;
  }
  async drain(
    read: (into: Uint8Array) => Promise<number | null>,
    emit: (record: Uint8Array) => Promise<void>,
  ): Promise<void> {
    for (;;) {
      this.#buf = grow(this.#buf, this.#fill + this.#chunk, this.#fill);
      const n = await read(this.#buf.subarray(this.#fill));
      if (n === null) return;
      this.#fill += n;
      let off = 0;
      while (this.#fill - off >= HEADER) {
        const len = recordLength(this.#buf, off);
        if (this.#fill - off < len) break;
        await emit(this.#buf.subarray(off, off + len));
        off += len;
      }
      this.#buf.copyWithin(0, off, this.#fill);
      this.#fill -= off;
    }
  }
}
