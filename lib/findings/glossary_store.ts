/**
 * A compact glossary: each QID's title, description and CVE and Bugtraq IDs packed as UTF-8 into
 * large chunks with an offset index, in memory up to a limit and then in a 0600 temp file, so
 * memory stays flat however many QIDs a report (or a KnowledgeBase) describes. Entries are
 * decoded when read.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
import { REPORT_MEMORY } from "../util/memory.ts";
import { makeTempFileSync, tempFileError } from "../util/temp_files.ts";
import { grow, readAtSync, writeAllSync } from "../util/bytes.ts";
import type { Glossary, GlossaryEntry } from "./finding_source.ts";

/** An entry to add: a {@linkcode GlossaryEntry} whose description may be UTF-8 bytes. */
export interface GlossaryInput {
  /** The QID. */
  qid: number;
  /** TITLE. */
  title: string;
  /** The description, HTML included: text, or its UTF-8 bytes (copied). */
  description: string | Uint8Array;
  /** CVE IDs as written. */
  cves: readonly string[];
  /** Bugtraq IDs as written. */
  bugtraqs: readonly string[];
}

/** Options for {@linkcode GlossaryStore}. */
export interface GlossaryStoreOptions {
  /**
   * Bytes of packed entries kept in memory before going to a temp file.
   * @default {REPORT_MEMORY.glossaryBytes}
   */
  memoryLimit?: number;
  /** Directory for the temp file. @default the system temp directory */
  tempDir?: string;
}

const CHUNK = 1 << 20;
const HEADER = 16; // title bytes, description bytes, CVE count, Bugtraq count (u32 each)
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();
const toUtf8 = new TextEncoder();

/**
 * QID → {@linkcode GlossaryEntry}, packed. Each record is
 * `u32 title bytes, u32 description bytes, u32 CVE count, u32 Bugtraq count, u32 bytes of each
 * ID, then the title, the description and the IDs` (little-endian), appended to 1 MiB chunks; an
 * index keeps each record's offset and length. Chunks stay in memory up to `memoryLimit` bytes,
 * then all of them go to a 0600 temp file (removed by {@linkcode GlossaryStore.dispose}, and on
 * exit or a signal), and later ones are written there as they fill. Adding never reads the
 * file; `get()` reads one record (one seek and one read once on disk) and decodes a new entry
 * each time, so callers cache what they reuse (the encoder does). A failure to create, write or
 * read the temp file is a `LocalIoError` (exit 7) naming it.
 *
 * It reads like a `ReadonlyMap<number, GlossaryEntry>` (`get`, `has`, `size`, iteration in the
 * order the QIDs were added); the first entry added for a QID wins.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const store = new GlossaryStore({ memoryLimit: 1 << 20 });
 * store.add({ qid: 38170, title: "SSL, weak", description: "<P>caf\u00e9</P>",
 *   cves: ["CVE-2014-0160"], bugtraqs: [] });
 * store.add({ qid: 6, title: "DNS", description: new TextEncoder().encode("<P>x</P>"),
 *   cves: [], bugtraqs: ["66690"] });
 * assert.equal(store.add({ qid: 6, title: "again", description: "", cves: [], bugtraqs: [] }), false);
 * assert.equal(store.size, 2);
 * assert.deepEqual(store.get(38170), { qid: 38170, title: "SSL, weak",
 *   description: "<P>caf\u00e9</P>", cves: ["CVE-2014-0160"], bugtraqs: [] });
 * assert.equal(store.get(6)?.title, "DNS");
 * assert.equal(store.get(7), undefined);
 * assert.deepEqual([...store.keys()], [38170, 6]);
 * store.dispose(); // removes the temp file, if it went to disk; the store is then empty
 * assert.equal(store.size, 0);
 * ```
 */
export class GlossaryStore implements Glossary {
  #index = new QidIndex(); // QID → record number
  #offsets: Float64Array = new Float64Array(1024); // record number → offset in the packed stream
  #lengths = new Uint32Array(1024); // record number → record bytes
  #chunks: Uint8Array[] = []; // sealed in-memory chunks, contiguous from offset 0
  #chunkStarts: number[] = [];
  #cur: Uint8Array = EMPTY;
  #curView: DataView = new DataView(EMPTY.buffer);
  #curStart = 0; // offset of #cur in the packed stream
  #curLen = 0;
  #memBytes = 0;
  #memoryLimit: number;
  #chunkSize: number;
  #tempDir: string | undefined;
  #file: Deno.FsFile | undefined;
  #path: string | undefined;
  #fileBytes = 0;
  #fileAtEnd = true; // false after a read moved the file position
  #unregister: (() => void) | undefined;
  #scratch = new Uint8Array(4096);

  /** Creates an empty store. */
  constructor(options: GlossaryStoreOptions = {}) {
    this.#memoryLimit = options.memoryLimit ?? REPORT_MEMORY.glossaryBytes;
    this.#chunkSize = Math.min(CHUNK, this.#memoryLimit);
    this.#tempDir = options.tempDir;
  }

  /** Number of QIDs. */
  get size(): number {
    return this.#index.size;
  }

  /** Bytes of packed entries, in memory and on disk. */
  get bytes(): number {
    return this.#curStart + this.#curLen;
  }

  /** Path of the temp file, once the store went to disk. */
  get path(): string | undefined {
    return this.#path;
  }

  /** Adds an entry unless its QID is already there; returns whether it was added. */
  add(entry: GlossaryInput): boolean {
    const { qid, title, description, cves, bugtraqs } = entry;
    if (this.#index.get(qid) >= 0) return false;
    const ids = cves.length + bugtraqs.length;
    let need = HEADER + 4 * ids + 3 * title.length +
      (typeof description === "string" ? 3 * description.length : description.length);
    for (const id of cves) need += 3 * id.length;
    for (const id of bugtraqs) need += 3 * id.length;
    this.#reserve(need);
    const cur = this.#cur, view = this.#curView, start = this.#curLen;
    let p = start + HEADER + 4 * ids;
    const titleBytes = toUtf8.encodeInto(title, cur.subarray(p)).written;
    p += titleBytes;
    let descBytes: number;
    if (typeof description === "string") {
      descBytes = toUtf8.encodeInto(description, cur.subarray(p)).written;
    } else {
      cur.set(description, p);
      descBytes = description.length;
    }
    p += descBytes;
    view.setUint32(start, titleBytes, true);
    view.setUint32(start + 4, descBytes, true);
    view.setUint32(start + 8, cves.length, true);
    view.setUint32(start + 12, bugtraqs.length, true);
    let h = start + HEADER;
    for (const list of [cves, bugtraqs]) {
      for (const id of list) {
        const n = toUtf8.encodeInto(id, cur.subarray(p)).written;
        view.setUint32(h, n, true);
        h += 4;
        p += n;
      }
    }
    const record = this.#index.add(qid);
    if (record === this.#offsets.length) {
      this.#offsets = growFloat64(this.#offsets, record + 1);
      this.#lengths = grow(this.#lengths, record + 1);
    }
    this.#offsets[record] = this.#curStart + start;
    this.#lengths[record] = p - start;
    this.#curLen = p;
    return true;
  }

  /** Whether the QID has an entry. */
  has(qid: number): boolean {
    return this.#index.get(qid) >= 0;
  }

  /** The QID's entry, decoded anew on each call, or undefined. */
  get(qid: number): GlossaryEntry | undefined {
    const record = this.#index.get(qid);
    return record < 0 ? undefined : this.#decode(qid, this.#record(record));
  }

  /** The QIDs, in the order they were added. */
  keys(): IterableIterator<number> {
    return this.#index.keys();
  }

  /** The entries, in the order they were added (each decoded as it is reached). */
  *values(): Generator<GlossaryEntry, undefined> {
    const index = this.#index;
    for (let r = 0; r < index.size; r++) yield this.#decode(index.qid(r), this.#record(r));
  }

  /** `[qid, entry]` pairs, in the order they were added. */
  *entries(): Generator<[number, GlossaryEntry], undefined> {
    const index = this.#index;
    for (let r = 0; r < index.size; r++) {
      const qid = index.qid(r);
      yield [qid, this.#decode(qid, this.#record(r))];
    }
  }

  /** The same as {@linkcode GlossaryStore.entries}. */
  [Symbol.iterator](): Generator<[number, GlossaryEntry], undefined> {
    return this.entries();
  }

  /** Empties the store: closes and removes the temp file, if any. Safe to call twice. */
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
    this.#index = new QidIndex();
    this.#offsets = new Float64Array(1024);
    this.#lengths = new Uint32Array(1024);
    this.#chunks = [];
    this.#chunkStarts = [];
    this.#cur = EMPTY;
    this.#curView = new DataView(EMPTY.buffer);
    this.#curStart =
      this.#curLen =
      this.#memBytes =
      this.#fileBytes =
        0;
    this.#fileAtEnd = true;
  }

  // Makes room for `need` bytes in the current chunk, sealing it first when it is too full.
  #reserve(need: number): void {
    if (this.#curLen + need <= this.#cur.length) return;
    const reuse = this.#seal();
    if (!reuse || need > this.#cur.length) {
      this.#cur = new Uint8Array(Math.max(this.#chunkSize, need));
      this.#curView = new DataView(this.#cur.buffer);
    }
  }

  // Moves the current chunk to memory or to the file; returns whether its buffer is free again.
  #seal(): boolean {
    const len = this.#curLen;
    if (len === 0) return true;
    const chunk = this.#cur.subarray(0, len);
    this.#curStart += len;
    this.#curLen = 0;
    if (this.#file === undefined && this.#memBytes + len <= this.#memoryLimit) {
      this.#chunks.push(chunk);
      this.#chunkStarts.push(this.#curStart - len);
      this.#memBytes += len;
      return false;
    }
    if (this.#file === undefined) {
      const made = makeTempFileSync("glossary", { tempDir: this.#tempDir });
      this.#path = made.path;
      this.#file = made.file;
      this.#unregister = onCleanup(() => this.dispose());
      for (const c of this.#chunks) this.#write(c);
      this.#chunks = [];
      this.#chunkStarts = [];
      this.#memBytes = 0;
    }
    this.#write(chunk);
    return true;
  }

  // Appends bytes to the file, after those already there (a read may have moved the position).
  #write(bytes: Uint8Array): void {
    try {
      if (!this.#fileAtEnd) {
        this.#file!.seekSync(this.#fileBytes, Deno.SeekMode.Start);
        this.#fileAtEnd = true;
      }
      writeAllSync(this.#file!, bytes);
    } catch (error) {
      throw tempFileError("write the glossary store", this.#path!, error);
    }
    this.#fileBytes += bytes.length;
  }

  // The bytes of a record: a view into memory, or into the scratch buffer read from the file.
  #record(record: number): Uint8Array {
    const off = this.#offsets[record]!, len = this.#lengths[record]!;
    if (off >= this.#curStart) {
      const at = off - this.#curStart;
      return this.#cur.subarray(at, at + len);
    }
    if (this.#file) return this.#readAt(off, len);
    const starts = this.#chunkStarts;
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= off) lo = mid;
      else hi = mid - 1;
    }
    const at = off - starts[lo]!;
    return this.#chunks[lo]!.subarray(at, at + len);
  }

  #readAt(off: number, len: number): Uint8Array {
    if (len > this.#scratch.length) {
      this.#scratch = new Uint8Array(Math.max(len, 2 * this.#scratch.length));
    }
    const into = this.#scratch.subarray(0, len);
    let got = 0;
    try {
      this.#fileAtEnd = false;
      got = readAtSync(this.#file!, off, into);
    } catch (error) {
      throw tempFileError("read the glossary store back", this.#path!, error);
    }
    if (got < len) throw new Error("Internal error: the glossary temp file ends inside a record");
    return into;
  }

  #decode(qid: number, rec: Uint8Array): GlossaryEntry {
    const view = new DataView(rec.buffer, rec.byteOffset, rec.length);
    const titleBytes = view.getUint32(0, true), descBytes = view.getUint32(4, true);
    const nCves = view.getUint32(8, true), nBids = view.getUint32(12, true);
    let p = HEADER + 4 * (nCves + nBids);
    const title = utf8.decode(rec.subarray(p, p += titleBytes));
    const description = utf8.decode(rec.subarray(p, p += descBytes));
    const cves: string[] = [], bugtraqs: string[] = [];
    for (let k = 0, h = HEADER; k < nCves + nBids; k++, h += 4) {
      const n = view.getUint32(h, true);
      (k < nCves ? cves : bugtraqs).push(utf8.decode(rec.subarray(p, p += n)));
    }
    return { qid, title, description, cves, bugtraqs };
  }
}

/**
 * QID → record number, the records numbered in the order their QIDs were added: the QIDs in a
 * typed array by record, and an open-addressing table of record numbers over them, at most 75 %
 * full. For 20,000 QIDs 0.4 MB, where a `Map` took 0.9 MB of the JS heap for the whole run.
 */
class QidIndex {
  #qids: Float64Array = new Float64Array(1024); // record → QID
  #slots = new Int32Array(2048); // record + 1; 0: empty
  #bits = 11;
  #count = 0;

  /** Number of QIDs. */
  get size(): number {
    return this.#count;
  }

  /** The QID's record; -1 when it has none. */
  get(qid: number): number {
    const slots = this.#slots, mask = slots.length - 1, qids = this.#qids;
    for (let i = hashQid(qid, this.#bits);; i = (i + 1) & mask) {
      const r = slots[i]! - 1;
      if (r < 0 || qids[r] === qid) return r;
    }
  }

  /** Gives a QID that has no record the next one, and returns it. */
  add(qid: number): number {
    const r = this.#count++;
    if (r === this.#qids.length) this.#qids = growFloat64(this.#qids, r + 1);
    this.#qids[r] = qid;
    if (this.#count * 4 > this.#slots.length * 3) this.#rehash(this.#bits + 1);
    else this.#place(r);
    return r;
  }

  /** The QID of record `r`. */
  qid(r: number): number {
    return this.#qids[r]!;
  }

  /** The QIDs, in the order they were added. */
  *keys(): Generator<number, undefined> {
    for (let r = 0; r < this.#count; r++) yield this.#qids[r]!;
  }

  #place(r: number): void {
    const slots = this.#slots, mask = slots.length - 1;
    let i = hashQid(this.#qids[r]!, this.#bits);
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = r + 1;
  }

  #rehash(bits: number): void {
    this.#bits = bits;
    this.#slots = new Int32Array(1 << bits);
    for (let r = 0; r < this.#count; r++) this.#place(r);
  }
}

// A slot in a table of 2^bits for the QID (Fibonacci hashing of its low and high 32 bits).
function hashQid(qid: number, bits: number): number {
  return Math.imul((qid | 0) ^ ((qid / 4294967296) | 0), 0x9e3779b1) >>> (32 - bits);
}

function growFloat64(array: Float64Array, need: number): Float64Array {
  const bigger = new Float64Array(Math.max(array.length * 2, need));
  bigger.set(array);
  return bigger;
}
