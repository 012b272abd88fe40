/**
 * The encoder's store of each QID's encoded text, of bounded size: the bytes live in one arena,
 * written in turn as a ring, so the oldest QIDs are dropped first when it wraps. What is kept
 * per QID is a map entry and three numbers in typed arrays; the views handed out by `get` and
 * `put` are made on demand. One arena and no object per QID keep the process's memory at what
 * the arena holds: a buffer per QID fragments the C heap, and an object per QID, promoted and
 * dropped in turn, grows the JS heap.
 *
 * @module
 */

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
  readonly #index = new Map<number, number>(); // QID → its entry in the queue
  // The queue of QIDs in the arena, oldest first: [#first, #last) of a sequence number space;
  // entry e lives at (e - #base) in the arrays.
  #qids = new Float64Array(1024);
  #starts = new Int32Array(1024); // where `<qid>,` starts
  #mids = new Int32Array(1024); // where the tail starts
  #ends = new Int32Array(1024);
  #base = 0;
  #first = 0;
  #last = 0;

  /** A cache of at most `bytes` bytes of text. */
  constructor(bytes: number) {
    this.#size = Math.max(0, Math.floor(bytes));
  }

  /** Number of QIDs held. */
  get size(): number {
    return this.#index.size;
  }

  /** The QID's text (new views of the held bytes), if held. */
  get(qid: number): QidText | undefined {
    const e = this.#index.get(qid);
    if (e === undefined) return undefined;
    const i = e - this.#base;
    return this.#views(this.#starts[i]!, this.#mids[i]!, this.#ends[i]!);
  }

  /**
   * Copies `text` into the arena, dropping the oldest QIDs in its way (each is passed to
   * `onDrop`), and returns views of the copy; undefined (nothing dropped) when it is larger than
   * the whole cache.
   */
  put(qid: number, text: QidText, onDrop: (qid: number) => void): QidText | undefined {
    const n = text.head.length + text.tail.length;
    if (n > this.#size || this.#index.has(qid)) return undefined;
    const arena = this.#arena ??= new Uint8Array(this.#size);
    if (this.#pos + n > arena.length) {
      // The QIDs from here to the end are the oldest: drop them and start again at 0.
      this.#dropFrom(this.#pos, arena.length, onDrop);
      this.#pos = 0;
    }
    const from = this.#pos, mid = from + text.head.length, to = from + n;
    this.#dropFrom(from, to, onDrop);
    arena.set(text.head, from);
    arena.set(text.tail, mid);
    this.#push(qid, from, mid, to);
    this.#pos = to;
    return this.#views(from, mid, to);
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
      const qid = this.#qids[i]!;
      this.#index.delete(qid);
      this.#first++;
      onDrop(qid);
    }
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
    this.#index.set(qid, this.#last++);
  }
}

// A new array of `length` elements holding `count` of `array`'s elements from `from` on, at 0.
function grow<T extends Float64Array | Int32Array>(
  array: T,
  length: number,
  from: number,
  count: number,
): T {
  const bigger = new (array.constructor as new (n: number) => T)(length);
  bigger.set(array.subarray(from, from + count));
  return bigger;
}
