/**
 * The encoder's store of each QID's encoded text, of bounded size: the bytes live in one arena,
 * written in turn as a ring, so the oldest QIDs are dropped first when it wraps. What is kept
 * per QID is a slot of an open-addressing table and a few numbers, all in typed arrays; the
 * views handed out by `get` and `put` are made on demand. One arena and no object per QID keep the process's memory at what
 * the arena holds: a buffer per QID fragments the C heap, and an object per QID, promoted and
 * dropped in turn, grows the JS heap.
 *
 * With `spool`, a QID's text dropped from the arena the first time goes to a 0600 temp file, and
 * comes back from there (one read into the arena) when the QID is found again: building it anew
 * decodes the glossary entry and cleans its HTML, about ten times the cost, and makes garbage.
 * When the file cannot be made or written, the texts are built again instead.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
import { makeTempFileSync } from "../util/temp_files.ts";
import { readAtSync, writeAllSync } from "../util/bytes.ts";

/** A QID's part of an AddScanResult line: `<qid>,` before the port, the rest after it. */
export interface QidText {
  /** `<qid>,` */
  head: Uint8Array;
  /** `,"<title>","<description>","cve_ids: …","bugtraq_ids: …"\n` */
  tail: Uint8Array;
}

/** QID → encoded text, at most `bytes` bytes of it, first in first out. */
export class QidTextCache {
  readonly #size: number;
  #arena: Uint8Array | undefined; // allocated on first use; its pages are touched as it fills
  #pos = 0;
  // Each QID met: where its text is, in the arena (its queue entry) and in the text spool.
  readonly #places = new QidPlaces();
  // The queue of QIDs in the arena, oldest first: [#first, #last) of a sequence number space;
  // entry e lives at (e - #base) in the arrays.
  #qids = new Uint32Array(1024); // QIDs below NO_QID only (`put` keeps no other)
  #starts = new Int32Array(1024); // where `<qid>,` starts
  #mids = new Int32Array(1024); // where the tail starts
  #ends = new Int32Array(1024);
  #base = 0;
  #first = 0;
  #last = 0;

  // The text spool: record r is at #recOffsets[r], #recLengths[r] bytes, its tail from #recMids[r].
  readonly #spool: { tempDir?: string | undefined } | undefined;
  #file: Deno.FsFile | undefined;
  #path: string | undefined;
  #fileBytes = 0; // -1: the text spool is off for good
  #records = 0;
  #unregister: (() => void) | undefined;
  #recOffsets = new Float64Array(256);
  #recLengths = new Int32Array(256);
  #recMids = new Int32Array(256);

  /** A cache of at most `bytes` bytes of text; with `spool`, texts dropped go to a temp file. */
  constructor(bytes: number, options: { spool?: { tempDir?: string | undefined } } = {}) {
    this.#size = Math.max(0, Math.floor(bytes));
    this.#spool = options.spool;
  }

  /** Closes and removes the text spool, if any; the texts in it are forgotten. Safe twice. */
  dispose(): void {
    this.#unregister?.();
    this.#unregister = undefined;
    try {
      this.#file?.close();
    } catch { /* closed */ }
    this.#file = undefined;
    if (this.#path) {
      try {
        Deno.removeSync(this.#path);
      } catch { /* gone */ }
      this.#path = undefined;
    }
    this.#fileBytes = -1; // and it stays off
  }

  /** Number of QIDs held in memory. */
  get size(): number {
    return this.#last - this.#first;
  }

  /**
   * The QID's text (new views of the held bytes), if held: in the arena, or in the text spool
   * (read back into the arena, dropping the oldest QIDs in its way, each passed to `onDrop`).
   */
  get(qid: number, onDrop: (qid: number) => void): QidText | undefined {
    const places = this.#places, s = places.find(qid);
    if (s < 0) return undefined;
    const e = places.entry[s]!;
    if (e >= 0) {
      const i = e - this.#base;
      return this.#views(this.#starts[i]!, this.#mids[i]!, this.#ends[i]!);
    }
    const r = places.record[s]!;
    if (r < 0 || !this.#file) return undefined;
    const n = this.#recLengths[r]!, from = this.#region(n, onDrop);
    if (!this.#readAt(this.#recOffsets[r]!, this.#arena!.subarray(from, from + n))) {
      return undefined; // the text spool is off now: the caller builds the text again
    }
    const mid = from + this.#recMids[r]!;
    this.#push(qid, from, mid, from + n);
    this.#pos = from + n;
    return this.#views(from, mid, from + n);
  }

  /**
   * Copies `text` into the arena, dropping the oldest QIDs in its way (each is passed to
   * `onDrop`), and returns views of the copy; undefined (nothing dropped) when it is larger than
   * the whole cache.
   */
  put(qid: number, text: QidText, onDrop: (qid: number) => void): QidText | undefined {
    const n = text.head.length + text.tail.length;
    if (n > this.#size || qid >= NO_QID || this.#places.entry[this.#places.find(qid)]! >= 0) {
      return undefined; // too big, a QID the table cannot key (built each time), or held
    }
    const from = this.#region(n, onDrop), mid = from + text.head.length, to = from + n;
    const arena = this.#arena!;
    arena.set(text.head, from);
    arena.set(text.tail, mid);
    this.#push(qid, from, mid, to);
    this.#pos = to;
    return this.#views(from, mid, to);
  }

  // Where the next `n` bytes (at most the arena's size) go: the QIDs there are dropped first.
  #region(n: number, onDrop: (qid: number) => void): number {
    const arena = this.#arena ??= new Uint8Array(this.#size);
    if (this.#pos + n > arena.length) {
      // The QIDs from here to the end are the oldest: drop them and start again at 0.
      this.#dropFrom(this.#pos, arena.length, onDrop);
      this.#pos = 0;
    }
    this.#dropFrom(this.#pos, this.#pos + n, onDrop);
    return this.#pos;
  }

  #views(start: number, mid: number, end: number): QidText {
    const arena = this.#arena!;
    return { head: arena.subarray(start, mid), tail: arena.subarray(mid, end) };
  }

  // Drops the oldest QIDs while they start in [from, to): the ones the next write overwrites.
  #dropFrom(from: number, to: number, onDrop: (qid: number) => void): void {
    while (this.#first < this.#last) {
      const i = this.#first - this.#base, start = this.#starts[i]!;
      if (start < from || start >= to) return;
      const qid = this.#qids[i]!, s = this.#places.find(qid);
      if (this.#spool && this.#places.record[s]! < 0) {
        this.#places.record[s] = this.#spoolOut(start, this.#mids[i]! - start, this.#ends[i]!);
      }
      this.#places.entry[s] = -1;
      this.#first++;
      onDrop(qid);
    }
  }

  // Appends a text about to be overwritten to the text spool (made on first use); returns its
  // record, or -1 when the text spool is off.
  #spoolOut(start: number, head: number, end: number): number {
    if (!this.#file) {
      if (this.#fileBytes < 0) return -1; // the text spool failed before, or was disposed of
      try {
        const { path, file } = makeTempFileSync("qidTexts", { tempDir: this.#spool!.tempDir });
        this.#path = path;
        this.#file = file;
        this.#unregister = onCleanup(() => this.dispose());
      } catch {
        this.#fileBytes = -1;
        return -1;
      }
    }
    const r = this.#records;
    if (r === this.#recOffsets.length) {
      this.#recOffsets = grow(this.#recOffsets, 2 * r, 0, r);
      this.#recLengths = grow(this.#recLengths, 2 * r, 0, r);
      this.#recMids = grow(this.#recMids, 2 * r, 0, r);
    }
    try {
      this.#file.seekSync(this.#fileBytes, Deno.SeekMode.Start);
      writeAllSync(this.#file, this.#arena!.subarray(start, end));
    } catch {
      this.dispose();
      return -1;
    }
    this.#recOffsets[r] = this.#fileBytes;
    this.#recLengths[r] = end - start;
    this.#recMids[r] = head;
    this.#fileBytes += end - start;
    return this.#records++;
  }

  // Reads a record into `into`; false (and the text spool off) when the file fails.
  #readAt(offset: number, into: Uint8Array): boolean {
    try {
      if (readAtSync(this.#file!, offset, into) === into.length) return true;
    } catch { /* below */ }
    this.dispose();
    return false;
  }

  #push(qid: number, start: number, mid: number, end: number): void {
    let i = this.#last - this.#base;
    if (i === this.#qids.length) {
      const live = this.#last - this.#first, off = this.#first - this.#base;
      if (live * 2 > this.#qids.length) {
        this.#qids = grow(this.#qids, this.#qids.length * 2, off, live);
        this.#starts = grow(this.#starts, this.#starts.length * 2, off, live);
        this.#mids = grow(this.#mids, this.#mids.length * 2, off, live);
        this.#ends = grow(this.#ends, this.#ends.length * 2, off, live);
      } else {
        for (const a of [this.#qids, this.#starts, this.#mids, this.#ends]) {
          a.copyWithin(0, off, off + live);
        }
      }
      this.#base = this.#first;
      i = live;
    }
    this.#qids[i] = qid;
    this.#starts[i] = start;
    this.#mids[i] = mid;
    this.#ends[i] = end;
    const s = this.#places.slot(qid); // first: it may grow the table, and its arrays
    this.#places.entry[s] = this.#last++;
  }
}

// A new array of `length` elements holding `count` of `array`'s elements from `from` on, at 0.
function grow<T extends Float64Array | Int32Array | Uint32Array>(
  array: T,
  length: number,
  from: number,
  count: number,
): T {
  const bigger = new (array.constructor as new (n: number) => T)(length);
  bigger.set(array.subarray(from, from + count));
  return bigger;
}

/** QIDs are 32-bit; the encoder's tables key QID + 1, so the largest one cannot be kept. */
export const NO_QID = 0xffffffff;

/**
 * QID → its queue entry in the arena and its record in the text spool (each -1 when none): an
 * open-addressing table of typed arrays, 12 bytes a slot, at most 75 % full. A QID, once met,
 * keeps its slot: the table grows with the QIDs a run names (a `Map` of two would take about
 * four times as much, on the JS heap).
 */
class QidPlaces {
  #bits = 10;
  #keys = new Uint32Array(1 << 10); // QID + 1; 0: empty
  entry = new Int32Array(1 << 10).fill(-1);
  record = new Int32Array(1 << 10).fill(-1);
  #count = 0;

  /** The QID's slot, or -1 (the arrays read `undefined` there: not >= 0). */
  find(qid: number): number {
    const keys = this.#keys, mask = keys.length - 1, key = qid + 1;
    for (let i = hash(key, this.#bits);; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) return i;
      if (k === 0) return -1;
    }
  }

  /** The QID's slot, made when it has none. */
  slot(qid: number): number {
    const found = this.find(qid);
    if (found >= 0) return found;
    if ((this.#count + 1) * 4 > this.#keys.length * 3) this.#grow();
    const keys = this.#keys, mask = keys.length - 1, key = qid + 1;
    let i = hash(key, this.#bits);
    while (keys[i] !== 0) i = (i + 1) & mask;
    keys[i] = key;
    this.#count++;
    return i;
  }

  #grow(): void {
    const { entry, record } = this, keys = this.#keys;
    const bits = ++this.#bits, size = 1 << bits, mask = size - 1;
    this.#keys = new Uint32Array(size);
    this.entry = new Int32Array(size).fill(-1);
    this.record = new Int32Array(size).fill(-1);
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j]!;
      if (key === 0) continue;
      let i = hash(key, bits);
      while (this.#keys[i] !== 0) i = (i + 1) & mask;
      this.#keys[i] = key;
      this.entry[i] = entry[j]!;
      this.record[i] = record[j]!;
    }
  }
}

// A slot in a table of 2^bits for the key (Fibonacci hashing: the product's top bits).
function hash(key: number, bits: number): number {
  return Math.imul(key, 0x9e3779b1) >>> (32 - bits);
}
