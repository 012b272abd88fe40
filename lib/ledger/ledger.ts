/**
 * The ledger: what one destination holds from us, per address (issue 20, item 1). Each entry
 * is the 64-bit digest of the block last sent there, the day it was sent, and one 16-bit
 * fingerprint per result it carried (sorted; a clear is an entry with none). It is held in
 * typed arrays, one column per field (the file's columns, read in place), with one
 * open-addressing index: 100,000 hosts × 40 results are about 10 MB, not a `Map` of objects.
 *
 * A {@linkcode Ledger} is read-only; the next one is made with a {@linkcode LedgerBuilder}
 * (`ledger.builder({ today })`): `set` the hosts sent this run, `keep` the unchanged ones,
 * `drop` the addresses that left; an address neither set, kept nor dropped is kept as it was
 * (a host missing from tonight's report still holds its results at the destination), and
 * `untouched()` lists them for a caller that clears them. `LedgerFile` reads and writes it.
 *
 * @module
 */

import { compareKeys, formatKey, hashKey, KEY_WORDS, parseKey } from "./_address.ts";
import {
  type Columns,
  concat,
  DIGEST_BYTES,
  type EntrySource,
  ledgerChunks,
  memoryColumn,
  UNCERTAIN,
  UNRECORDED,
} from "./_format.ts";
import { readLedger } from "./_format_read.ts";
import { FingerprintStore, type FingerprintStoreOptions, Pages } from "./_pages.ts";
import { planEntries } from "./_plan.ts";
import { dueKey } from "./refresh.ts";
import { grow } from "../util/bytes.ts";

export { DIGEST_BYTES };

/** What a ledger records of one address. */
export interface LedgerEntry {
  /** The address (canonical: a dotted quad, or RFC 5952 IPv6). */
  readonly address: string;
  /**
   * False when the ledger knows the address only because a run that died was about to send to
   * it: nothing about it is recorded (digest zeros, no results), and it is sent as new.
   */
  readonly recorded: boolean;
  /**
   * The last send to it may or may not have arrived (a run died after it began): the next run
   * sends it again, whatever its digest says.
   */
  readonly uncertain: boolean;
  /** The digest of the block last sent (8 bytes). */
  readonly digest: Uint8Array;
  /** The day it was last sent (`dayNumber`). */
  readonly lastSentDay: number;
  /** The results it carried (AddScanResult lines); 0 for a clear. */
  readonly results: number;
  /** One fingerprint per result, ascending (`resultFingerprint`). */
  readonly fingerprints: Uint16Array;
}

/** Whose ledger it is: the destination key, and a variant (a `-multiinfo` template id). */
export interface LedgerOwner {
  /** The destination as the connector names it (`dc 10.0.0.1:8307`, `csv /abs/out.csv`). */
  destination: string;
  /** What else tells apart the ledgers of one destination (a template id). @default {undefined} */
  variant?: string | undefined;
}

/** What a ledger holds, in numbers, for `-status`. */
export interface LedgerSummary {
  /** Addresses recorded (those known only as uncertain included). */
  hosts: number;
  /** Results recorded. */
  results: number;
  /** Addresses whose last delivery is uncertain: the next run sends them again. */
  uncertain: number;
  /** Of the others, those due for the rolling refresh on the day asked. */
  due: number;
}

let columnsOf: (ledger: Ledger) => Columns;

/**
 * What a destination holds from us, by address.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const digest = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
 * const b = Ledger.empty({ destination: "dc 10.0.0.1:8307" }).builder({ today: 20000 });
 * b.set("10.0.0.9", { digest, fingerprints: new Uint16Array([7, 3]) });
 * b.set("2001:db8::9", { digest, fingerprints: new Uint16Array() });
 * const ledger = b.build();
 * assert.equal(ledger.size, 2);
 * assert.equal(ledger.get("10.0.0.9")?.lastSentDay, 20000);
 * assert.deepEqual([...ledger.get("10.0.0.9")!.fingerprints], [3, 7]);
 * assert.equal(ledger.get("2001:DB8::9")?.results, 0);
 * assert.equal(ledger.get("10.0.0.8"), undefined);
 * ```
 */
export class Ledger {
  /** The destination key. */
  readonly destination: string;
  /** The variant, if any. */
  readonly variant: string | undefined;
  readonly #c: Columns;
  #index: Int32Array | undefined;
  #mask = 0;

  static {
    columnsOf = (ledger) => ledger.#c;
  }

  /** Wraps read columns (see `LedgerFile`, {@linkcode Ledger.empty}, `LedgerBuilder.build`). */
  constructor(columns: Columns) {
    this.#c = columns;
    this.destination = columns.destination;
    this.variant = columns.variant;
  }

  /** An empty ledger of `owner`: nothing sent yet. */
  static empty(owner: LedgerOwner): Ledger {
    return new Ledger({
      destination: owner.destination,
      variant: owner.variant,
      v4: new Uint32Array(0),
      v6: new Uint32Array(0),
      digests: new Uint8Array(0),
      days: new Uint16Array(0),
      flags: new Uint8Array(0),
      starts: new Uint32Array(1),
      fps: memoryColumn(new Uint16Array(0)),
      settles: new Uint8Array(8),
    });
  }

  /** Number of addresses. */
  get size(): number {
    return this.#c.days.length;
  }

  /** Number of results recorded, all addresses together. */
  get results(): number {
    return this.#c.fps.length;
  }

  /** The entry of `address` (any IPv4 or IPv6 text), if any. */
  get(address: string): LedgerEntry | undefined {
    const i = this.indexOf(address);
    return i < 0 ? undefined : this.#entry(i);
  }

  /** Whether `address` has an entry. */
  has(address: string): boolean {
    return this.indexOf(address) >= 0;
  }

  /** Every entry, IPv4 first, by address. */
  *[Symbol.iterator](): IterableIterator<LedgerEntry> {
    for (let i = 0; i < this.size; i++) yield this.#entry(i);
  }

  /**
   * The numbers `-status` shows: hosts, results, uncertain addresses, and how many of the
   * others are due for their rolling refresh on `day` (the next run's) with `refreshDays`.
   */
  summary(options: { day: number; refreshDays: number }): LedgerSummary {
    const c = this.#c, key = new Uint32Array(KEY_WORDS);
    let uncertain = 0, due = 0;
    for (let i = 0; i < this.size; i++) {
      if (c.flags[i]! & UNCERTAIN) {
        uncertain++;
        continue;
      }
      this.keyAt(i, key, 0);
      const when = {
        lastSentDay: c.days[i]!,
        today: options.day,
        refreshDays: options.refreshDays,
      };
      if (dueKey(key, 0, when)) due++;
    }
    return { hosts: this.size, results: this.results, uncertain, due };
  }

  /**
   * The addresses the next run is to send again although the source says nothing new of them:
   * those whose last delivery is uncertain, and those due for their rolling refresh on `day`
   * with `refreshDays` (0: all of them). Ascending, IPv4 first.
   */
  *due(options: { day: number; refreshDays: number }): IterableIterator<string> {
    const c = this.#c, key = new Uint32Array(KEY_WORDS);
    for (let i = 0; i < this.size; i++) {
      this.keyAt(i, key, 0);
      const when = {
        lastSentDay: c.days[i]!,
        today: options.day,
        refreshDays: options.refreshDays,
      };
      if (c.flags[i]! & UNCERTAIN || dueKey(key, 0, when)) yield formatKey(key, 0);
    }
  }

  /**
   * The addresses that may hold our results at the destination: those recorded with results,
   * and those whose last delivery is uncertain. Ascending, IPv4 first.
   */
  *holding(): IterableIterator<string> {
    const c = this.#c, key = new Uint32Array(KEY_WORDS);
    for (let i = 0; i < this.size; i++) {
      if (!(c.flags[i]! & UNCERTAIN) && c.starts[i + 1] === c.starts[i]) continue;
      this.keyAt(i, key, 0);
      yield formatKey(key, 0);
    }
  }

  /**
   * Starts the next ledger from this one, for a run on day `today` (`dayNumber`); the results'
   * fingerprints past `fingerprints.memoryValues` go to a temp file.
   */
  builder(options: BuilderOptions): LedgerBuilder {
    return new LedgerBuilder(this, options);
  }

  /** Entry `i`'s key, written at `out[at]`. */
  keyAt(i: number, out: Uint32Array, at: number): void {
    const c = this.#c, n4 = c.v4.length;
    if (i < n4) {
      out[at] = 4;
      out[at + 1] = c.v4[i]!;
      out[at + 2] = out[at + 3] = out[at + 4] = 0;
    } else {
      out[at] = 6;
      out.set(c.v6.subarray(4 * (i - n4), 4 * (i - n4) + 4), at + 1);
    }
  }

  /** The index of `address`'s entry; -1 when none (or when it is not an address). */
  indexOf(address: string): number {
    return parseKey(address, probe) ? this.indexOfKey(probe, 0) : -1;
  }

  /** The index of the entry of the key at `key[at]`; -1 when none. */
  indexOfKey(key: Uint32Array, at: number): number {
    if (this.size === 0) return -1;
    const index = this.#index ?? this.#buildIndex(), mask = this.#mask;
    for (let s = hashKey(key, at) & mask;; s = (s + 1) & mask) {
      const e = index[s]!;
      if (e === 0) return -1;
      this.keyAt(e - 1, other, 0);
      if (compareKeys(key, at, other, 0) === 0) return e - 1;
    }
  }

  #buildIndex(): Int32Array {
    let size = 8;
    while (size < this.size * 2) size *= 2;
    const index = new Int32Array(size), mask = size - 1, key = new Uint32Array(KEY_WORDS);
    for (let i = 0; i < this.size; i++) {
      this.keyAt(i, key, 0);
      let s = hashKey(key, 0) & mask;
      while (index[s] !== 0) s = (s + 1) & mask;
      index[s] = i + 1;
    }
    this.#mask = mask;
    return this.#index = index;
  }

  #entry(i: number): LedgerEntry {
    const c = this.#c, key = new Uint32Array(KEY_WORDS);
    this.keyAt(i, key, 0);
    const flags = c.flags[i]!, from = c.starts[i]!, to = c.starts[i + 1]!;
    return {
      address: formatKey(key, 0),
      recorded: !(flags & UNRECORDED),
      uncertain: (flags & UNCERTAIN) !== 0,
      digest: c.digests.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES),
      lastSentDay: c.days[i]!,
      results: to - from,
      // read when asked for (a changed host's +N −M): they may be in the record's file
      get fingerprints() {
        return c.fps.view(from, to).slice();
      },
    };
  }
}

const probe = new Uint32Array(KEY_WORDS), other = new Uint32Array(KEY_WORDS);

/** The columns of `ledger`, for `LedgerFile` (this folder only). */
export function ledgerColumns(ledger: Ledger): Columns {
  return columnsOf(ledger);
}

/** Options of {@linkcode Ledger.builder}. */
export interface BuilderOptions {
  /** The day of the run (`dayNumber`). */
  today: number;
  /**
   * Where the fingerprints of the blocks set go past the memory they may use (in values of 2
   * bytes, whole MiB), and the directory of their temp file. @default {all in memory}
   */
  fingerprints?: FingerprintStoreOptions | undefined;
}

/** A block as sent to an address this run, for {@linkcode LedgerBuilder.set}. */
export interface SentBlock {
  /** Its digest (`blockDigest`): 8 bytes. */
  digest: Uint8Array;
  /** Its results' fingerprints (`fingerprintResults`), in any order; empty for a clear. */
  fingerprints: ArrayLike<number>;
}

const KEEP = 1, DROP = 2, SET = 3;

/**
 * The next ledger, built from the last one. Calls come in any order. `set` records a block
 * sent this run (it wins over `keep` and `drop` of the same address; of two `set`s the last
 * wins); `keep` keeps an unchanged address as recorded; `drop` forgets an address (it left, and
 * its clear was sent, or it is out of scope); `unsure` marks an address whose delivery this run
 * is not known (it is kept, or recorded as unknown, and resent next run). An address of the
 * last ledger with none of these calls is kept.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const d = (n: number) => new Uint8Array(8).fill(n);
 * const b0 = Ledger.empty({ destination: "dc 10.0.0.1:8307" }).builder({ today: 20000 });
 * for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) b0.set(ip, { digest: d(1), fingerprints: [1, 2] });
 * const night1 = b0.build();
 * const b1 = night1.builder({ today: 20001 });
 * b1.set("10.0.0.1", { digest: d(2), fingerprints: [1] }); // changed
 * b1.keep("10.0.0.2"); // unchanged
 * b1.drop("10.0.0.4"); // never recorded: nothing to do
 * assert.deepEqual([...b1.untouched()], ["10.0.0.3"]);
 * const night2 = b1.build();
 * assert.equal(night2.get("10.0.0.1")?.lastSentDay, 20001);
 * assert.equal(night2.get("10.0.0.2")?.lastSentDay, 20000);
 * assert.equal(night2.get("10.0.0.3")?.results, 2); // kept as it was
 * ```
 */
export class LedgerBuilder {
  readonly #old: Ledger;
  readonly #today: number;
  readonly #marks: Uint8Array;
  // Blocks set this run, in pages (growth never copies them): entry k's key, digest, and the
  // end of its fingerprints (they run from the end of entry k - 1's).
  readonly #keys = new Pages((n) => new Uint32Array(n), { shift: 16, width: KEY_WORDS });
  readonly #digests = new Pages((n) => new Uint8Array(n), { shift: 16, width: DIGEST_BYTES });
  readonly #fpEnd = new Pages((n) => new Uint32Array(n), { shift: 16 });
  readonly #fps: FingerprintStore;
  #sorting = new Uint16Array(64);
  #n = 0;
  // The order of the first `n` keys set (one per address, the last set), when asked for.
  #order: { n: number; order: Uint32Array } | undefined;
  // Addresses marked unsure.
  #unsure = new Uint32Array(16 * KEY_WORDS);
  #nUnsure = 0;

  /** Starts from `old` for a run on day `today` (use `ledger.builder()`). */
  constructor(old: Ledger, options: BuilderOptions) {
    if (!Number.isInteger(options.today) || options.today < 0 || options.today > 0xffff) {
      throw new RangeError(`Not a day the ledger can record: ${options.today}`);
    }
    this.#old = old;
    this.#today = options.today;
    this.#marks = new Uint8Array(old.size);
    this.#fps = new FingerprintStore(options.fingerprints);
  }

  /**
   * Removes the temp file of the fingerprints past their memory, if any, and lets go of the
   * blocks set (2 MiB for 100,000 hosts, held at the end of a run otherwise, as its sync state is
   * written): once the ledger is saved, or not to be. Safe to call twice; the builder is not to
   * be used after it.
   */
  dispose(): void {
    this.#fps.dispose();
    this.#keys.clear();
    this.#digests.clear();
    this.#fpEnd.clear();
    this.#order = undefined;
    this.#n = 0;
  }

  /** The ledger this one starts from. */
  get base(): Ledger {
    return this.#old;
  }

  /** The number of `set` calls so far (an address set twice counts twice). */
  get setCount(): number {
    return this.#n;
  }

  /**
   * Records that `block` was sent to `address` this run.
   *
   * @throws {RangeError} When `address` is not an IP address or the digest is not 8 bytes.
   */
  set(address: string, block: SentBlock): void {
    if (block.digest.length !== DIGEST_BYTES) {
      throw new RangeError(`A block digest is ${DIGEST_BYTES} bytes, not ${block.digest.length}`);
    }
    const n = this.#n, count = block.fingerprints.length;
    this.#keys.reserve(n + 1);
    const keys = this.#keys.page(n), at = this.#keys.at(n);
    if (!parseKey(address, keys, at)) throw new RangeError(`Not an IP address: "${address}"`);
    this.#sorting = grow(this.#sorting, count, 0);
    const sorted = this.#sorting.subarray(0, count);
    for (let k = 0; k < count; k++) sorted[k] = block.fingerprints[k]!;
    sorted.sort();
    const from = this.#fps.length;
    this.#fps.append(sorted);
    this.#digests.reserve(n + 1);
    this.#digests.page(n).set(block.digest, this.#digests.at(n));
    this.#fpEnd.reserve(n + 1);
    this.#fpEnd.page(n)[this.#fpEnd.at(n)] = from + count;
    this.#n = n + 1;
    const i = this.#old.indexOfKey(keys, at);
    if (i >= 0) this.#marks[i] = SET;
  }

  /** Keeps `address`'s entry as recorded; false when there is none. */
  keep(address: string): boolean {
    return this.#mark(address, KEEP);
  }

  /** Forgets `address`; false when it had no entry. */
  drop(address: string): boolean {
    return this.#mark(address, DROP);
  }

  /**
   * Marks `address` as one whose delivery this run is unknown: its entry (the block `set`, else
   * the one recorded, even if dropped) is flagged uncertain, or, with neither, it is recorded as
   * unknown; the next run sends it again.
   *
   * @throws {RangeError} When `address` is not an IP address.
   */
  unsure(address: string): void {
    const at = this.#nUnsure * KEY_WORDS;
    this.#unsure = grow(this.#unsure, at + KEY_WORDS, at);
    if (!parseKey(address, this.#unsure, at)) {
      throw new RangeError(`Not an IP address: "${address}"`);
    }
    this.#nUnsure++;
  }

  /**
   * Marks every address `set` so far as one whose delivery is unknown (as `unsure` does): the
   * destination answered, but not what it took of them (exit 6), so the next run sends them
   * again.
   */
  unsureSet(): void {
    const n = this.#n, at = this.#nUnsure * KEY_WORDS;
    this.#unsure = grow(this.#unsure, at + n * KEY_WORDS, at);
    for (let k = 0; k < n; k++) this.setKey(k, this.#unsure, at + k * KEY_WORDS);
    this.#nUnsure += n;
  }

  /** Forgets every address of the last ledger with no `set`, `keep` or `drop` yet. */
  dropUntouched(): void {
    const marks = this.#marks;
    for (let i = 0; i < marks.length; i++) if (marks[i] === 0) marks[i] = DROP;
  }

  /** Writes the key of the `k`th `set` at `out[at]` (this folder only). */
  setKey(k: number, out: Uint32Array, at: number): void {
    const page = this.#keys.page(k), from = this.#keys.at(k);
    out.set(page.subarray(from, from + KEY_WORDS), at);
  }

  /**
   * The keys of the first `n` `set`s (all by default), ascending, once each, each yielded in
   * the same array (`KEY_WORDS` words; valid until the next): this folder only.
   */
  *sortedSetKeys(n: number = this.#n): Generator<Uint32Array, void, undefined> {
    const order = this.#sortedSet(n), key = new Uint32Array(KEY_WORDS);
    for (let j = 0; j < order.length; j++) {
      this.setKey(order[j]!, key, 0);
      yield key;
    }
  }

  /** The addresses of the last ledger with no `set`, `keep` or `drop` yet (those that left). */
  *untouched(): IterableIterator<string> {
    const key = new Uint32Array(KEY_WORDS);
    for (let i = 0; i < this.#marks.length; i++) {
      if (this.#marks[i] !== 0) continue;
      this.#old.keyAt(i, key, 0);
      yield formatKey(key, 0);
    }
  }

  /** The next ledger, in memory (`LedgerFile.save` writes it without building it). */
  build(): Ledger {
    // The file's bytes, read back: one way to lay out a ledger.
    const owner = { destination: this.#old.destination, variant: this.#old.variant };
    const chunks = ledgerChunks(owner, { source: this.plan(), settles: new Uint8Array(8) });
    return new Ledger(readLedger(concat(chunks), owner));
  }

  #mark(address: string, mark: number): boolean {
    const i = this.#old.indexOf(address);
    if (i < 0) return false;
    if (this.#marks[i] !== SET) this.#marks[i] = mark;
    return true;
  }

  #fpStart(k: number): number {
    return k === 0 ? 0 : this.#fpEnd.page(k - 1)[this.#fpEnd.at(k - 1)]!;
  }

  // The indices of the first `n` keys set, in key order, one per key: the last set of each.
  #sortedSet(n: number): Uint32Array {
    if (this.#order?.n === n) return this.#order.order;
    const keys = this.#keys, order = new Uint32Array(n);
    for (let k = 0; k < n; k++) order[k] = k;
    const compare = (x: number, y: number) =>
      compareKeys(keys.page(x), keys.at(x), keys.page(y), keys.at(y));
    order.sort((x, y) => compare(x, y) || x - y);
    let m = 0;
    for (let k = 0; k < n; k++) {
      if (k + 1 < n && compare(order[k]!, order[k + 1]!) === 0) continue;
      order[m++] = order[k]!;
    }
    this.#order = { n, order: order.subarray(0, m) };
    return this.#order.order;
  }

  /** The entries of the next ledger, in order, for the writer (this folder only). */
  plan(): EntrySource {
    const digests = this.#digests, fpEnd = this.#fpEnd, fps = this.#fps, marks = this.#marks;
    return planEntries({
      old: this.#old,
      oldColumns: columnsOf(this.#old),
      dropped: (i) => marks[i] === DROP,
      today: this.#today,
      set: {
        n: this.#n,
        order: this.#sortedSet(this.#n),
        key: (k, out) => this.setKey(k, out, 0),
        digest: (k) => digests.page(k).subarray(digests.at(k), digests.at(k) + DIGEST_BYTES),
        start: (k) => this.#fpStart(k),
        end: (k) => fpEnd.page(k)[fpEnd.at(k)]!,
        fps: (from, to) => fps.view(from, to),
      },
      unsure: this.#unsure.subarray(0, this.#nUnsure * KEY_WORDS),
    });
  }
}
