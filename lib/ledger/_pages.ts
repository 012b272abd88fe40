/**
 * A typed array in pages of a fixed size, for the ledger's builder: growing it adds a page and
 * never copies what is there, so it holds what it holds plus less than a page, never the old and
 * the new array of a doubling at once. Only the last page grows (by doubling, up to the page
 * size), so that a small ledger stays small.
 *
 * @module
 */

import { grow, type GrowableArray } from "../util/bytes.ts";

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

/** 16-bit values, in pages of 1 MiB, read and written as one run of values. */
export class U16Pages extends Pages<Uint16Array> {
  #scratch = new Uint16Array(64);

  /** Pages of 2 ** 19 values. */
  constructor() {
    super((n) => new Uint16Array(n), { shift: 19 });
  }

  /** Writes `values` from value `from` on (room made for them first). */
  write(from: number, values: Uint16Array): void {
    this.reserve(from + values.length);
    for (let done = 0; done < values.length;) {
      const page = this.page(from + done), at = this.at(from + done);
      const n = Math.min(values.length - done, page.length - at);
      page.set(values.subarray(done, done + n), at);
      done += n;
    }
  }

  /** Values `from` to `to`: a view of a page, or a copy when they cross pages (valid until the
   * next call). */
  view(from: number, to: number): Uint16Array {
    if (to === from) return NONE;
    const page = this.page(from), at = this.at(from);
    if (at + (to - from) <= page.length) return page.subarray(at, at + to - from);
    this.#scratch = grow(this.#scratch, to - from, 0);
    const out = this.#scratch.subarray(0, to - from);
    for (let done = 0; done < out.length;) {
      const p = this.page(from + done), a = this.at(from + done);
      const n = Math.min(out.length - done, p.length - a);
      out.set(p.subarray(a, a + n), done);
      done += n;
    }
    return out;
  }
}
