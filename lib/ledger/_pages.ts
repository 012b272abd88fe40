/**
 * A typed array in pages of a fixed size, for the ledger's builder: growing it adds a page and
 * never copies what is there, so it holds what it holds plus less than a page, never the old and
 * the new array of a doubling at once. Only the last page grows (by doubling, up to the page
 * size), so that a small ledger stays small.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
import { grow, type GrowableArray, readAtSync, writeAllSync } from "../util/bytes.ts";
import { makeTempFileSync, tempFileError } from "../util/temp_files.ts";
import { fileErrorReason, LocalIoError } from "../errors.ts";
import type { FingerprintColumn } from "./_format.ts";

/** Items of `width` elements each, in pages of `2 ** shift` items. */
export class Pages<T extends GrowableArray> {
  /** The pages; each full but the last. */
  readonly pages: T[] = [];
  readonly #make: (n: number) => T;
  readonly #shift: number;
  readonly #per: number;
  readonly #width: number;
  #capacity = 0;

  /** Pages of `2 ** shift` items of `width` elements, made by `make(elements)`. */
  constructor(make: (n: number) => T, options: { shift: number; width?: number }) {
    this.#make = make;
    this.#shift = options.shift;
    this.#per = 2 ** options.shift;
    this.#width = options.width ?? 1;
  }

  /** Makes room for `n` items. */
  reserve(n: number): void {
    while (this.#capacity < n) {
      const pages = this.pages, last = pages.length - 1, per = this.#per, width = this.#width;
      const full = (pages.length - 1) * per;
      if (last >= 0 && pages[last]!.length < per * width) {
        const items = Math.min(per, Math.max(2 * pages[last]!.length / width, n - full));
        pages[last] = grow(pages[last]!, items * width);
        this.#capacity = full + items;
      } else {
        // The first page starts small; the next ones are made whole.
        const items = last < 0 ? Math.min(per, Math.max(64, n)) : per;
        pages.push(this.#make(items * width));
        this.#capacity += items;
      }
    }
  }

  /** Lets go of every page: the pages hold nothing after it. */
  clear(): void {
    this.pages.length = 0;
    this.#capacity = 0;
  }

  /** The page that holds item `i`. */
  page(i: number): T {
    return this.pages[i >>> this.#shift]!;
  }

  /** Where item `i` starts in its page. */
  at(i: number): number {
    return (i & (this.#per - 1)) * this.#width;
  }
}

const NONE = new Uint16Array(0);
/** Values in a page of {@linkcode FingerprintStore}: 256 KiB. */
const PAGE_VALUES = 2 ** 17;

/** Options of {@linkcode FingerprintStore}. */
export interface FingerprintStoreOptions {
  /**
   * Values kept in memory (whole pages of 2 ** 17, at least one); those past them go to a temp
   * file, through a buffer of one page. @default {Infinity}
   */
  memoryValues?: number | undefined;
  /** Directory of the temp file. @default the system temp directory */
  tempDir?: string | undefined;
}

/**
 * 16-bit values, appended as runs and read back as runs in any order: in pages of 256 KiB up to
 * `memoryValues`, then in a 0600 temp file (`qualys_connector-record-*`, removed by
 * {@linkcode FingerprintStore.dispose} and on exit) written a page at a time. A run read from
 * the file is read alone, or with what follows it when the reads go in the order written. A
 * failure to make, write or read the file is a `LocalIoError` (exit 7) that names it.
 */
export class FingerprintStore {
  readonly #memory = new Pages((n) => new Uint16Array(n), { shift: 19 });
  readonly #memoryValues: number;
  readonly #tempDir: string | undefined;
  // The file: values [memoryValues, #tailFrom) are in it; [#tailFrom, #tailFrom + #tailLength)
  // in #tail, waiting for it.
  #file: { path: string; file: Deno.FsFile; unregister: () => void } | undefined;
  #tail: Uint16Array | undefined;
  #tailFrom = 0;
  #tailLength = 0;
  // Values read from the file.
  #window: ValueWindow | undefined;
  #scratch = new Uint16Array(64);
  #length = 0;

  /** An empty store. */
  constructor(options: FingerprintStoreOptions = {}) {
    const pages = Math.max(1, Math.floor((options.memoryValues ?? Infinity) / PAGE_VALUES));
    this.#memoryValues = Math.min(pages * PAGE_VALUES, 2 ** 32);
    this.#tempDir = options.tempDir;
    this.#tailFrom = this.#memoryValues;
  }

  /** Values stored. */
  get length(): number {
    return this.#length;
  }

  /** The temp file's path, once values went to it. */
  get path(): string | undefined {
    return this.#file?.path;
  }

  /** Appends `values`. @throws {LocalIoError} When the temp file cannot be made or written. */
  append(values: Uint16Array): void {
    let done = 0;
    const inMemory = Math.min(values.length, Math.max(0, this.#memoryValues - this.#length));
    if (inMemory > 0) {
      const from = this.#length;
      this.#memory.reserve(from + inMemory);
      while (done < inMemory) {
        const page = this.#memory.page(from + done), at = this.#memory.at(from + done);
        const n = Math.min(inMemory - done, page.length - at);
        page.set(values.subarray(done, done + n), at);
        done += n;
      }
    }
    while (done < values.length) {
      this.#tail ??= new Uint16Array(PAGE_VALUES);
      if (this.#tailLength === this.#tail.length) this.#flush();
      const n = Math.min(values.length - done, this.#tail.length - this.#tailLength);
      this.#tail.set(values.subarray(done, done + n), this.#tailLength);
      this.#tailLength += n;
      done += n;
    }
    this.#length += values.length;
  }

  /**
   * Values `from` to `to`: a view of a page, or a copy (valid until the next call).
   *
   * @throws {LocalIoError} When the temp file cannot be read.
   */
  view(from: number, to: number): Uint16Array {
    if (to === from) return NONE;
    const mem = this.#memoryValues, tail = this.#tailFrom;
    if (to <= mem) {
      const page = this.#memory.page(from), at = this.#memory.at(from);
      if (at + (to - from) <= page.length) return page.subarray(at, at + to - from);
    } else if (from >= tail) return this.#tail!.subarray(from - tail, to - tail);
    this.#scratch = grow(this.#scratch, to - from, 0);
    const out = this.#scratch.subarray(0, to - from);
    for (let p = from; p < to;) {
      let part: Uint16Array;
      if (p < mem) {
        const page = this.#memory.page(p), at = this.#memory.at(p);
        part = page.subarray(at, at + Math.min(to, mem) - p);
        part = part.subarray(0, Math.min(part.length, page.length - at));
      } else if (p < tail) part = this.#fromFile(p, Math.min(to, tail));
      else part = this.#tail!.subarray(p - tail, to - tail);
      out.set(part, p - from);
      p += part.length;
    }
    return out;
  }

  /** Closes and removes the temp file, if any. Safe to call twice. */
  dispose(): void {
    const made = this.#file;
    if (!made) return;
    this.#file = undefined;
    made.unregister();
    try {
      made.file.close();
    } catch { /* closed */ }
    try {
      Deno.removeSync(made.path);
    } catch { /* gone */ }
  }

  #flush(): void {
    if (!this.#file) {
      const made = makeTempFileSync("fingerprints", { tempDir: this.#tempDir });
      const unregister = onCleanup(() => Deno.removeSync(made.path));
      this.#file = { ...made, unregister };
    }
    const tail = this.#tail!.subarray(0, this.#tailLength), { file, path } = this.#file;
    try {
      writeAllSync(file, new Uint8Array(tail.buffer, tail.byteOffset, tail.byteLength));
    } catch (error) {
      throw tempFileError("write the record's fingerprint spool", path, error);
    }
    this.#tailFrom += this.#tailLength;
    this.#tailLength = 0;
  }

  // Values from `from` (in the file) up to at most `to`, as many as the window holds of them.
  #fromFile(from: number, to: number): Uint16Array {
    this.#window ??= new ValueWindow((index, into) => {
      let got: number;
      try {
        got = readAtSync(this.#file!.file, 2 * (index - this.#memoryValues), into);
      } catch (error) {
        throw tempFileError("read the record's fingerprint spool back", this.#file!.path, error);
      }
      if (got !== into.length) {
        const error = new Error(`it ends ${into.length - got} bytes early`);
        throw tempFileError("read the record's fingerprint spool back", this.#file!.path, error);
      }
    });
    return this.#window.values(from, to, this.#tailFrom);
  }
}

/**
 * 16-bit values in a file, read through a window: a read that starts where the last one ended
 * reads ahead (32,768 values, 64 KiB), any other only what it asks for.
 */
class ValueWindow {
  readonly #read: (index: number, into: Uint8Array) => void;
  #values = new Uint16Array(0);
  #from = 0;
  #to = 0;

  /** Reads with `read(index, into)`: the values from `index` into `into`, whole, or throws. */
  constructor(read: (index: number, into: Uint8Array) => void) {
    this.#read = read;
  }

  /** Values from `from` up to at most `to`, as many as the window holds; the file's end at `end`. */
  values(from: number, to: number, end: number): Uint16Array {
    if (from < this.#from || from >= this.#to) {
      const ahead = from === this.#to ? 2 ** 15 : 0;
      const count = Math.min(Math.max(to - from, ahead), end - from);
      this.#values = grow(this.#values, count, 0);
      this.#read(from, new Uint8Array(this.#values.buffer, 0, 2 * count));
      this.#from = from;
      this.#to = from + count;
    }
    return this.#values.subarray(from - this.#from, Math.min(to, this.#to) - this.#from);
  }
}

/**
 * The fingerprints of a record read from its file, left there (`count` values from byte
 * `offset`) and read when asked for: a record of 100,000 hosts of 40 results does not hold its
 * 8 MB of them in memory for the whole run, only a window of 64 KiB. The file stays open until
 * {@linkcode RecordFingerprints.close}; a read that fails is a `LocalIoError` (exit 7) naming it.
 */
export class RecordFingerprints implements FingerprintColumn {
  /** Number of fingerprints. */
  readonly length: number;
  readonly #file: Deno.FsFile;
  readonly #window: ValueWindow;
  #scratch = new Uint16Array(64);

  /** Over `file` (the record at `path`), whose fingerprints are `count` values from `offset`. */
  constructor(file: Deno.FsFile, where: { path: string; offset: number; count: number }) {
    this.#file = file;
    this.length = where.count;
    this.#window = new ValueWindow((index, into) => {
      let got: number, reason = "";
      try {
        got = readAtSync(file, where.offset + 2 * index, into);
      } catch (error) {
        got = -1;
        reason = fileErrorReason(error);
      }
      if (got !== into.length) {
        throw new LocalIoError(
          `cannot read the record of what was sent back (${reason || "it was cut short"}): ` +
            "check the state directory's file system; the next run sends every host again",
          { path: where.path },
        );
      }
    });
  }

  /** Fingerprints `from` to `to` (valid until the next call). @throws {LocalIoError} */
  view(from: number, to: number): Uint16Array {
    if (to === from) return NONE;
    const first = this.#window.values(from, to, this.length);
    if (first.length === to - from) return first;
    this.#scratch = grow(this.#scratch, to - from, 0);
    const out = this.#scratch.subarray(0, to - from);
    for (let p = from; p < to;) {
      const part = p === from ? first : this.#window.values(p, to, this.length);
      out.set(part, p - from);
      p += part.length;
    }
    return out;
  }

  /** Closes the file. Safe to call twice. */
  close(): void {
    try {
      this.#file.close();
    } catch { /* closed */ }
  }
}
