/**
 * The ledger's files in the state directory, and the protocol that keeps them true when a run
 * dies at any point (issue 20, item 1):
 *
 * - `ledger-<stem>.bin`: the record ({@linkcode Ledger}), 0600, replaced atomically (a temp file
 *   beside it, synced, renamed over it, the directory synced), with a header (magic, format
 *   version, the destination, so a foreign file is recognised) and a CRC-32 and length at its
 *   end, so that a damaged or cut file is detected. A damaged record is reported
 *   (`onDamaged`) and read as empty: the run sends every host, never crashes.
 * - `ledger-<stem>.pending`: before the first byte of a run leaves, the addresses it is about to
 *   send or clear ({@linkcode LedgerFile.markUncertain}), written the same way. Once the
 *   destination took the run's data (exit 0 or 6), {@linkcode LedgerFile.save} writes the new
 *   record, which names the pending list it settles (a random token), then removes the list.
 *   When a record is read with a pending list it does not settle, every address in the list is
 *   uncertain: sent again by the next run, and cleared if it left.
 *
 * So a kill at any moment leaves the old record and a pending list (what may have been sent is
 * sent again), or the new record (with or without its settled list): never an address recorded
 * as sent that was not. The caller holds the destination's lock while it uses these files.
 *
 * @module
 */

import { fileErrorReason, LocalIoError } from "../errors.ts";
import { createAtomicFile, dirOf } from "../util/atomic_file.ts";
import { compareKeys, formatKey, KEY_WORDS, parseKey } from "./_address.ts";
import { type FileOwner, ledgerChunks, type Pending, pendingChunks, UNCERTAIN } from "./_format.ts";
import { FormatProblem, readLedgerFile, readPending } from "./_format_read.ts";
import { RecordFingerprints } from "./_pages.ts";
import { Ledger, LedgerBuilder, ledgerColumns, type LedgerOwner } from "./ledger.ts";
import { grow, readAtSync } from "../util/bytes.ts";

/**
 * The temp files this folder's writers leave when killed (`.ledger-<stem>.bin.<random>.tmp`,
 * `.ledger-<stem>.pending.<random>.tmp`): for the state directory's stale-file sweep.
 */
export const LEDGER_TEMP_FILE: RegExp = /^\.ledger-[0-9a-f]{16}\.(?:bin|pending)\.[^/]+\.tmp$/;

/**
 * The stem of a destination's state files: 16 hex digits of the SHA-256 of the destination
 * key, followed by a NUL and the variant when there is one. Without a variant it is the stem
 * of the detection source's `sync-<stem>.json`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const stem = await stateFileStem({ destination: "dc 10.0.0.1:8307" });
 * assert.match(stem, /^[0-9a-f]{16}$/);
 * assert.notEqual(await stateFileStem({ destination: "dc 10.0.0.1:8307", variant: "42" }), stem);
 * ```
 */
export async function stateFileStem(owner: LedgerOwner): Promise<string> {
  const text = owner.variant === undefined
    ? owner.destination
    : `${owner.destination}\0${owner.variant}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest).subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Options of {@linkcode LedgerFile.open}. */
export interface LedgerFileOptions extends LedgerOwner {
  /**
   * Told, in a sentence that names the file, when the record or the pending list cannot be
   * read or is damaged (the run then sends every host, or every uncertain one): a warning.
   * @default {() => {}}
   */
  onDamaged?: (message: string) => void;
  /**
   * Bytes of fingerprints read into memory; a record with more leaves them in its file, open
   * until {@linkcode LedgerFile.close}, and reads them when asked for.
   * @default {RECORD_FINGERPRINT_BYTES}
   */
  fingerprintsInMemory?: number | undefined;
}

/**
 * The fingerprints of a record read into memory, at most: 1 MiB (a record of 13,000 hosts of 40
 * results). Those of a larger one stay in its file (100,000 hosts of 40 results: 8 MB), read
 * when a changed host's `+N −M` is counted and when the next record is written.
 */
export const RECORD_FINGERPRINT_BYTES = 1 << 20;

/**
 * A destination's ledger as read from the state directory, with the two writes of a run:
 * {@linkcode LedgerFile.markUncertain} before sending, {@linkcode LedgerFile.save} once the
 * destination took the data.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const owner = { destination: "dc 10.0.0.1:8307" };
 * const night1 = await LedgerFile.open(dir, owner);
 * assert.equal(night1.ledger.size, 0);
 * await night1.markUncertain(["10.0.0.1"]); // then send
 * const next = night1.ledger.builder({ today: 20000 });
 * next.set("10.0.0.1", { digest: new Uint8Array(8), fingerprints: [5, 1] });
 * await night1.save(next); // the destination took it
 * const night2 = await LedgerFile.open(dir, owner);
 * assert.equal(night2.ledger.get("10.0.0.1")?.results, 2);
 * assert.equal(night2.ledger.get("10.0.0.1")?.uncertain, false);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class LedgerFile {
  /** The record's path. */
  readonly path: string;
  /** The pending list's path. */
  readonly pendingPath: string;
  /** What the destination holds, as read (uncertain addresses flagged). */
  readonly ledger: Ledger;
  readonly #owner: FileOwner;
  readonly #token = crypto.getRandomValues(new Uint8Array(8));
  // The token of the pending list on disk, when one is there (undefined: none, or unreadable).
  #diskToken: Uint8Array | undefined;
  #wrote = false;
  #saved = false;
  // The addresses marked uncertain by this run: given, and the first `n` set in a builder.
  #marked = new Uint32Array(16 * KEY_WORDS);
  #nMarked = 0;
  #markedBuilder: { builder: LedgerBuilder; n: number } | undefined;

  // The record's fingerprints left in its file, open until close().
  readonly #fingerprints: RecordFingerprints | undefined;

  private constructor(
    paths: { path: string; pendingPath: string },
    state: {
      owner: FileOwner;
      ledger: Ledger;
      diskToken: Uint8Array | undefined;
      fingerprints: RecordFingerprints | undefined;
    },
  ) {
    this.path = paths.path;
    this.pendingPath = paths.pendingPath;
    this.ledger = state.ledger;
    this.#owner = state.owner;
    this.#diskToken = state.diskToken;
    this.#fingerprints = state.fingerprints;
  }

  /**
   * Closes the record's file, when its fingerprints were left there (a large record): the
   * ledger is not to be used after it. Safe to call twice.
   */
  close(): void {
    this.#fingerprints?.close();
  }

  /** {@linkcode LedgerFile.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Reads the ledger of a destination from `dir` (the state directory, which exists): empty
   * when there is none yet, or when it is damaged (said through `onDamaged`).
   *
   * @throws {LocalIoError} When a directory stands where a file belongs (exit 7, before any
   * call: no run could save there).
   */
  static async open(dir: string, options: LedgerFileOptions): Promise<LedgerFile> {
    const owner = { destination: options.destination, variant: options.variant };
    const onDamaged = options.onDamaged ?? (() => {});
    const stem = await stateFileStem(owner);
    const path = `${dir}/ledger-${stem}.bin`, pendingPath = `${dir}/ledger-${stem}.pending`;
    const whose = owner.variant === undefined
      ? owner.destination
      : `${owner.destination} (${owner.variant})`;
    const what = `the record of what ${whose} holds`;
    const memoryBytes = options.fingerprintsInMemory ?? RECORD_FINGERPRINT_BYTES;
    let { ledger, fingerprints } = await readRecord(path, owner, { what, memoryBytes, onDamaged });
    const read = ledger;
    let pending: Pending | undefined;
    try {
      const pendingText = `the list of addresses a run was sending to ${whose}`;
      const listed = await readIfThere(pendingPath, pendingText, onDamaged, () => {
        onDamaged(`${pendingPath}: cannot read ${pendingText}: every host recorded is sent again`);
      });
      let unreadable = listed === null;
      if (listed) {
        try {
          pending = readPending(listed, owner);
        } catch (error) {
          if (!(error instanceof FormatProblem)) throw error;
          unreadable = true;
          const problem = problemText(error);
          onDamaged(
            `${pendingPath}: ${pendingText} is ${problem}: every host recorded is sent again`,
          );
        }
      }
      const columns = ledgerColumns(ledger);
      if (unreadable) {
        for (let i = 0; i < columns.flags.length; i++) columns.flags[i]! |= UNCERTAIN;
      } else if (pending && !sameToken(pending.token, columns.settles)) {
        ledger = applyPending(ledger, pending.keys);
      }
    } catch (error) {
      fingerprints?.close();
      throw error;
    }
    if (ledger !== read) {
      fingerprints?.close(); // the ledger was built again, in memory
      fingerprints = undefined;
    }
    return new LedgerFile({ path, pendingPath }, {
      owner,
      ledger,
      diskToken: pending?.token,
      fingerprints,
    });
  }

  /**
   * Records, before any byte of them leaves, the addresses a run is about to send or clear
   * (given, or those `set` in the next ledger's builder; with those of earlier calls of this
   * run, and those already uncertain): if the run dies
   * before {@linkcode LedgerFile.save}, the next run sends them again. Resolves once the list
   * is on disk.
   *
   * @throws {LocalIoError} When the list cannot be written (exit 7: send nothing then).
   * @throws {RangeError} When an address is not an IP address.
   */
  async markUncertain(addresses: Iterable<string> | LedgerBuilder): Promise<void> {
    if (addresses instanceof LedgerBuilder) {
      // Its keys are read from it as they are written (a builder only appends): no copy.
      const was = this.#markedBuilder;
      if (was && was.builder !== addresses) this.#markKeys(was.builder, was.n);
      this.#markedBuilder = { builder: addresses, n: addresses.setCount };
    } else {
      for (const address of addresses) {
        const at = this.#nMarked * KEY_WORDS;
        this.#marked = grow(this.#marked, at + KEY_WORDS, at);
        if (!parseKey(address, this.#marked, at)) {
          throw new RangeError(`Not an IP address: "${address}"`);
        }
        this.#nMarked++;
      }
    }
    const marked = sortedKeys(this.#marked.subarray(0, this.#nMarked * KEY_WORDS));
    const by = this.#markedBuilder, ledger = this.ledger;
    const flags = ledgerColumns(ledger).flags;
    const lists = () => [
      keysOf(marked),
      by ? by.builder.sortedSetKeys(by.n) : [],
      (function* () {
        const key = new Uint32Array(KEY_WORDS);
        for (let i = 0; i < flags.length; i++) {
          if (!(flags[i]! & UNCERTAIN)) continue;
          ledger.keyAt(i, key, 0);
          yield key;
        }
      })(),
    ];
    let n4 = 0, n6 = 0;
    for (const key of mergeKeys(lists())) key[0] === 4 ? n4++ : n6++;
    const keys = { n4, n6, keys: () => mergeKeys(lists()) };
    const chunks = pendingChunks(this.#owner, { token: this.#token, keys });
    await writeFileAtomically(this.pendingPath, chunks, "write the list of addresses being sent");
    this.#wrote = true;
  }

  // Adds the first `n` keys set in `builder` to the addresses marked.
  #markKeys(builder: LedgerBuilder, n: number): void {
    const at = this.#nMarked * KEY_WORDS;
    this.#marked = grow(this.#marked, at + n * KEY_WORDS, at);
    for (let k = 0; k < n; k++) builder.setKey(k, this.#marked, at + k * KEY_WORDS);
    this.#nMarked += n;
  }

  /**
   * Writes the next ledger (`next`, built from this one), settling the pending list, then
   * removes the list. Call it once the destination took the run's data (exit 0 or 6), once.
   * Resolves to the bytes written.
   *
   * @throws {TypeError} When `next` was not started from this file's ledger, or on a second
   * call.
   * @throws {LocalIoError} When the record cannot be written (the old one stays whole).
   */
  async save(next: LedgerBuilder): Promise<number> {
    if (next.base !== this.ledger) {
      throw new TypeError("The next ledger must be built from the one this file read");
    }
    if (this.#saved) throw new TypeError("This ledger was saved already");
    const settles = this.#wrote ? this.#token : this.#diskToken ?? new Uint8Array(8);
    const chunks = ledgerChunks(this.#owner, { source: next.plan(), settles });
    const bytes = await writeFileAtomically(this.path, chunks, "write the record of what was sent");
    this.#saved = true;
    next.dispose();
    try {
      await Deno.remove(this.pendingPath);
    } catch { /* none, or left: the record settles it */ }
    return bytes;
  }
}

function problemText(problem: FormatProblem): string {
  return problem.foreign ? `not its own (${problem.message})` : problem.message;
}

function sameToken(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// The ledger with every key of `keys` uncertain (recorded as unknown when it had no entry).
function applyPending(ledger: Ledger, keys: Uint32Array): Ledger {
  const flags = ledgerColumns(ledger).flags;
  let missing: LedgerBuilder | undefined;
  for (let at = 0; at < keys.length; at += KEY_WORDS) {
    const i = ledger.indexOfKey(keys, at);
    if (i >= 0) flags[i]! |= UNCERTAIN;
    else (missing ??= ledger.builder({ today: 0 })).unsure(formatKey(keys, at));
  }
  return missing ? missing.build() : ledger;
}

// Keys sorted, once each.
function sortedKeys(keys: Uint32Array): Uint32Array {
  const n = keys.length / KEY_WORDS, order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  order.sort((x, y) => compareKeys(keys, x * KEY_WORDS, keys, y * KEY_WORDS));
  const out = new Uint32Array(keys.length);
  let m = 0;
  for (let k = 0; k < n; k++) {
    const at = order[k]! * KEY_WORDS;
    if (m > 0 && compareKeys(keys, at, out, (m - 1) * KEY_WORDS) === 0) continue;
    out.set(keys.subarray(at, at + KEY_WORDS), m++ * KEY_WORDS);
  }
  return out.slice(0, m * KEY_WORDS);
}

// Each key of `keys` (`KEY_WORDS` words each) in turn.
function* keysOf(keys: Uint32Array): Generator<Uint32Array, void, undefined> {
  for (let at = 0; at < keys.length; at += KEY_WORDS) yield keys.subarray(at, at + KEY_WORDS);
}

// The keys of ascending lists (each key yielded in an array valid until its list's next), once
// each, ascending; each yielded in the same array, valid until the next.
function* mergeKeys(lists: Iterable<Uint32Array>[]): Generator<Uint32Array, void, undefined> {
  const its = lists.map((list) => list[Symbol.iterator]());
  const heads = its.map((it) => it.next());
  const out = new Uint32Array(KEY_WORDS);
  for (;;) {
    let min = -1;
    for (let s = 0; s < heads.length; s++) {
      const h = heads[s]!;
      if (
        !h.done && (min < 0 || compareKeys(h.value, 0, heads[min]!.value as Uint32Array, 0) < 0)
      ) {
        min = s;
      }
    }
    if (min < 0) return;
    out.set((heads[min]!.value as Uint32Array).subarray(0, KEY_WORDS));
    for (let s = 0; s < heads.length; s++) {
      while (!heads[s]!.done && compareKeys(heads[s]!.value as Uint32Array, 0, out, 0) === 0) {
        heads[s] = its[s]!.next();
      }
    }
    yield out;
  }
}

// The record at `path`: empty when there is none, or when it cannot be read or is damaged
// (said); its fingerprints left in the file past `memoryBytes` (the file stays open for them).
async function readRecord(
  path: string,
  owner: FileOwner,
  o: { what: string; memoryBytes: number; onDamaged: (message: string) => void },
): Promise<{ ledger: Ledger; fingerprints: RecordFingerprints | undefined }> {
  const record = await openIfThere(path, o.what, o.onDamaged);
  if (!record) return { ledger: Ledger.empty(owner), fingerprints: undefined };
  let readFailed: unknown, fingerprints: RecordFingerprints | undefined;
  const reader = {
    size: record.size,
    read(at: number, into: Uint8Array): number {
      try {
        return readAtSync(record.file, at, into);
      } catch (error) {
        throw readFailed = error;
      }
    },
  };
  try {
    const columns = readLedgerFile(reader, owner, {
      memoryBytes: o.memoryBytes,
      column: (offset, count) =>
        fingerprints = new RecordFingerprints(record.file, { path, offset, count }),
    });
    if (!fingerprints) record.file.close();
    return { ledger: new Ledger(columns), fingerprints };
  } catch (error) {
    record.file.close();
    if (error instanceof FormatProblem) {
      o.onDamaged(`${path}: ${o.what} is ${problemText(error)}: this run sends every host again`);
    } else if (error === readFailed) {
      o.onDamaged(`${path}: cannot read ${o.what} (${fileErrorReason(error)}): read as empty`);
    } else throw error;
    return { ledger: Ledger.empty(owner), fingerprints: undefined };
  }
}

// A directory where a file belongs: no run could save there (exit 7, before any call).
function directoryError(path: string, what: string, cause: unknown): LocalIoError {
  return new LocalIoError(
    `a directory stands where ${what} belongs: remove it (rm -r ${path}) and run again ` +
      "(nothing was sent)",
    { path, cause },
  );
}

// The record's file, open, with its size; undefined when there is none, or when it cannot be
// opened (said).
async function openIfThere(
  path: string,
  what: string,
  onDamaged: (message: string) => void,
): Promise<{ file: Deno.FsFile; size: number } | undefined> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (info.isDirectory) throw new Deno.errors.IsADirectory(`${path} is a directory`);
    return { file, size: info.size };
  } catch (error) {
    file?.close();
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.IsADirectory) throw directoryError(path, what, error);
    onDamaged(`${path}: cannot read ${what} (${fileErrorReason(error)}): read as empty`);
    return undefined;
  }
}

// The file's bytes, in a buffer of their size (8-aligned, as the reader wants them); undefined
// when there is no file; null when it cannot be read (said).
async function readIfThere(
  path: string,
  what: string,
  onDamaged: (message: string) => void,
  onUnreadable?: () => void,
): Promise<Uint8Array | undefined | null> {
  try {
    return await readWhole(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.IsADirectory) throw directoryError(path, what, error);
    if (onUnreadable) onUnreadable();
    else onDamaged(`${path}: cannot read ${what} (${fileErrorReason(error)}): read as empty`);
    return null;
  }
}

// A file's bytes, read into a buffer of its size: `Deno.readFile` holds them twice at its peak.
async function readWhole(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const bytes = new Uint8Array(size + 1);
  let got = 0;
  while (got < bytes.length) {
    const n = await file.read(bytes.subarray(got));
    if (n === null) return bytes.subarray(0, got);
    got += n;
  }
  return await Deno.readFile(path); // it grew as it was read
}

// Writes `chunks` to `path` atomically (0600), and syncs the directory so the rename is on
// disk before anything that follows. Resolves to the bytes written.
async function writeFileAtomically(
  path: string,
  chunks: Iterable<Uint8Array>,
  what: string,
): Promise<number> {
  const fail = (error: unknown) =>
    new LocalIoError(
      `cannot ${what}: ${fileErrorReason(error)}: check that the state directory is ` +
        "writable and its file system has space (state_dir names another one)",
      { path, cause: error },
    );
  let file;
  try {
    file = await createAtomicFile(path, { syncEvery: 1 << 22 });
  } catch (error) {
    throw fail(error);
  }
  try {
    for (const chunk of chunks) await file.write(chunk);
    await file.commit();
  } catch (error) {
    await file.discard();
    throw fail(error);
  }
  await syncDirectory(dirOf(path));
  return file.bytes;
}

// Makes a rename in `dir` durable (a power cut after it keeps it). Best effort: where a
// directory cannot be opened or synced, the rename stands as the system keeps it.
async function syncDirectory(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    /* not supported here */
  } finally {
    handle?.close();
  }
}
