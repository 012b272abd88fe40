/**
 * The bytes of the ledger's two files, format 1 (little-endian throughout):
 *
 * ```
 * 0   magic           8  "QCLEDGER" (the record) or "QCPENDNG" (the pending list)
 * 8   version         4  1
 * 12  header bytes    4  H: where the first column starts (a multiple of 8)
 * 16  destination     4  its UTF-8 length D
 * 20  variant         4  its UTF-8 length V, or 0xffffffff for none
 * 24  token           8  the record: the pending list it settles (zeros: none);
 *                        the pending list: its own, random
 * 32  n4, n6          8  IPv4 and IPv6 addresses (u32 each)
 * 40  nfp, nvar       8  fingerprints, bytes of the result counts (0 in a pending list)
 * 48  destination, variant, zeros to H
 * then columns, each padded with zeros to a multiple of 8 bytes:
 *     IPv4 addresses  4 × n4, ascending          IPv6 addresses 16 × n6, ascending (4 u32
 *                                                words each, the most significant first)
 *   the record only, per entry (IPv4 ones first, in address order; n = n4 + n6):
 *     digests 8 × n, last-sent days 2 × n (u16), flags 1 × n (1 uncertain, 2 not recorded),
 *     result counts (LEB128, nvar bytes), fingerprints 2 × nfp (u16, each entry's ascending)
 * end CRC-32 of everything before (4), the file's length (4)
 * ```
 *
 * 100,000 IPv4 hosts with 40 results each are 8,000,000 bytes of fingerprints and 1,600,000 of
 * the rest. The columns are read in place (typed arrays over the file's bytes), without a copy.
 *
 * @module
 */

import { KEY_WORDS } from "./_address.ts";

/** Bytes in a digest. */
export const DIGEST_BYTES = 8;
/** Entry flag: a send to it was under way when a run ended without saving: resent. */
export const UNCERTAIN = 1;
/** Entry flag: known only from a pending list: nothing recorded (it also has UNCERTAIN). */
export const UNRECORDED = 2;

/** The format. */
export const VERSION = 1;
/** Bytes of the fixed header. */
export const HEAD = 48;
/** The variant length that says there is none. */
export const NO_VARIANT = 0xffffffff;
/** Bytes of the trailer: the CRC-32 and the length. */
export const TRAILER = 8;
/** Whether this machine is little-endian, as the files are. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Which file. */
export type FileKind = "ledger" | "pending";
/** Each file's magic. */
export const MAGIC: Record<FileKind, string> = { ledger: "QCLEDGER", pending: "QCPENDNG" };

/** Whose file it is. */
export interface FileOwner {
  /** The destination key. */
  destination: string;
  /** The variant, if any. */
  variant: string | undefined;
}

/** The record's columns, as held in memory. */
export interface Columns extends FileOwner {
  /** IPv4 addresses, ascending. */
  v4: Uint32Array;
  /** IPv6 addresses, 4 words each, ascending. */
  v6: Uint32Array;
  /** 8 bytes per entry. */
  digests: Uint8Array;
  /** Last-sent day per entry. */
  days: Uint16Array;
  /** Flags per entry. */
  flags: Uint8Array;
  /** Entry i's fingerprints are fps[starts[i], starts[i + 1]). */
  starts: Uint32Array;
  /** Fingerprints: in memory, or left in the record's file. */
  fps: FingerprintColumn;
  /** The pending list this record settles (8 bytes, zeros for none). */
  settles: Uint8Array;
}

/**
 * A record's fingerprints, where they are: in memory ({@linkcode memoryColumn}), or left in the
 * record's file and read when asked for (`readLedgerFile`).
 */
export interface FingerprintColumn {
  /** Number of fingerprints. */
  readonly length: number;
  /**
   * Fingerprints `from` to `to`: valid until the next call.
   *
   * @throws {LocalIoError} When they are in a file that cannot be read.
   */
  view(from: number, to: number): Uint16Array;
}

/** The column of fingerprints held in `fps`. */
export function memoryColumn(fps: Uint16Array): FingerprintColumn {
  return { length: fps.length, view: (from, to) => fps.subarray(from, to) };
}

/** A pending list, as read. */
export interface Pending {
  /** Its token. */
  token: Uint8Array;
  /** Keys, `KEY_WORDS` words each. */
  keys: Uint32Array;
}

/** What the writer asks of the entries it writes, in order (IPv4 first, ascending). */
export interface EntrySource {
  /** Entries. */
  n: number;
  /** Of which IPv4. */
  n4: number;
  /** Total fingerprints. */
  nfp: number;
  /** Writes entry o's key at `out[0]`. */
  key(o: number, out: Uint32Array): void;
  /** Entry o's digest (8 bytes). */
  digest(o: number): Uint8Array;
  /** Entry o's last-sent day. */
  day(o: number): number;
  /** Entry o's flags. */
  flags(o: number): number;
  /** Entry o's number of fingerprints. */
  count(o: number): number;
  /** Entry o's fingerprints, ascending (valid until the next call). */
  fps(o: number): Uint16Array;
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Continues a CRC-32 (ISO-HDLC, as zlib's) over `bytes`; start with 0. */
export function crc32(crc: number, bytes: Uint8Array): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 255]! ^ (c >>> 8);
  return ~c >>> 0;
}

// Bytes out, through one buffer of 256 KiB, with the CRC and the count kept as they go. The
// writing generators check for room before each put (`free`) and yield the full buffer
// (`flush`): each chunk they yield is a view of that one buffer, valid until the next is asked
// for, so a record of any size needs 256 KiB to write, not a copy of each chunk.
class Writer {
  #buf = new Uint8Array(1 << 18);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;
  #crc = 0;
  #total = 0;

  get total(): number {
    return this.#total + this.#pos;
  }

  /** Bytes left in the buffer. */
  get free(): number {
    return this.#buf.length - this.#pos;
  }

  /** The buffer's bytes so far (counted, in the CRC), and an empty buffer after them. */
  flush(): Uint8Array {
    const chunk = this.#buf.subarray(0, this.#pos);
    this.#crc = crc32(this.#crc, chunk);
    this.#total += this.#pos;
    this.#pos = 0;
    return chunk;
  }

  /** Puts `b`, which fits (`free`). */
  bytes(b: Uint8Array): void {
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  /** Puts `b`, of any size, flushing as the buffer fills. */
  *allBytes(b: Uint8Array): Generator<Uint8Array, void, undefined> {
    for (let off = 0; off < b.length;) {
      if (this.free === 0) yield this.flush();
      const n = Math.min(b.length - off, this.free);
      this.bytes(b.subarray(off, off + n));
      off += n;
    }
  }

  u32(v: number): void {
    this.#view.setUint32(this.#pos, v, true);
    this.#pos += 4;
  }

  u16(v: number): void {
    this.#view.setUint16(this.#pos, v, true);
    this.#pos += 2;
  }

  u8(v: number): void {
    this.#buf[this.#pos++] = v;
  }

  /** Zeros to a multiple of 8 bytes. */
  *pad(): Generator<Uint8Array, void, undefined> {
    if (this.free < 8) yield this.flush();
    while (this.total % 8 !== 0) this.u8(0);
  }

  /** The last chunk, and the trailer: the CRC of everything before it, and the file's length. */
  *end(): Generator<Uint8Array, void, undefined> {
    if (this.#pos > 0) yield this.flush();
    const crc = this.#crc, length = this.#total + TRAILER;
    this.u32(crc);
    this.u32(length);
    yield this.flush();
  }
}

const encoder = new TextEncoder();

function* writeHead(
  w: Writer,
  kind: FileKind,
  owner: FileOwner,
  fields: { token: Uint8Array; n4: number; n6: number; nfp: number; nvar: number },
): Generator<Uint8Array, void, undefined> {
  if (!LITTLE_ENDIAN) throw new Error("The ledger's files are written on little-endian machines");
  const dest = encoder.encode(owner.destination);
  const variant = owner.variant === undefined ? undefined : encoder.encode(owner.variant);
  const strings = dest.length + (variant?.length ?? 0);
  w.bytes(encoder.encode(MAGIC[kind]));
  w.u32(VERSION);
  w.u32(HEAD + Math.ceil(strings / 8) * 8);
  w.u32(dest.length);
  w.u32(variant === undefined ? NO_VARIANT : variant.length);
  w.bytes(fields.token);
  for (const v of [fields.n4, fields.n6, fields.nfp, fields.nvar]) w.u32(v);
  yield* w.allBytes(dest);
  if (variant) yield* w.allBytes(variant);
  yield* w.pad();
}

/** Bytes of `n` as LEB128. */
export function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/**
 * The bytes of a record of `source`'s entries, for `owner`, settling the pending list
 * `settles`, in chunks of at most 256 KiB, made as they are asked for. Each chunk is a view of
 * one buffer, valid until the next is asked for: write it (or copy it) before asking.
 */
export function* ledgerChunks(
  owner: FileOwner,
  entries: { source: EntrySource; settles: Uint8Array },
): Generator<Uint8Array, void, undefined> {
  const { source: s, settles } = entries;
  let nvar = 0;
  for (let o = 0; o < s.n; o++) nvar += varintBytes(s.count(o));
  const w = new Writer();
  yield* writeHead(w, "ledger", owner, {
    token: settles,
    n4: s.n4,
    n6: s.n - s.n4,
    nfp: s.nfp,
    nvar,
  });
  const key = new Uint32Array(KEY_WORDS);
  for (let o = 0; o < s.n4; o++) {
    if (w.free < 4) yield w.flush();
    s.key(o, key);
    w.u32(key[1]!);
  }
  yield* w.pad();
  for (let o = s.n4; o < s.n; o++) {
    if (w.free < 16) yield w.flush();
    s.key(o, key);
    for (let k = 1; k < KEY_WORDS; k++) w.u32(key[k]!);
  }
  yield* w.pad();
  for (let o = 0; o < s.n; o++) {
    if (w.free < DIGEST_BYTES) yield w.flush();
    w.bytes(s.digest(o));
  }
  yield* w.pad();
  for (let o = 0; o < s.n; o++) {
    if (w.free < 2) yield w.flush();
    w.u16(s.day(o));
  }
  yield* w.pad();
  for (let o = 0; o < s.n; o++) {
    if (w.free < 1) yield w.flush();
    w.u8(s.flags(o));
  }
  yield* w.pad();
  for (let o = 0; o < s.n; o++) {
    if (w.free < 5) yield w.flush();
    let n = s.count(o);
    while (n >= 128) {
      w.u8(n % 128 | 128);
      n = Math.floor(n / 128);
    }
    w.u8(n);
  }
  yield* w.pad();
  for (let o = 0; o < s.n; o++) {
    const fps = s.fps(o);
    const bytes = new Uint8Array(fps.buffer, fps.byteOffset, fps.byteLength);
    if (bytes.length <= w.free) w.bytes(bytes);
    else yield* w.allBytes(bytes);
  }
  yield* w.pad();
  yield* w.end();
}

/** The keys of a pending list, ascending, IPv4 first, once each: `n4` IPv4, `n6` IPv6. */
export interface PendingKeys {
  /** IPv4 keys. */
  n4: number;
  /** IPv6 keys. */
  n6: number;
  /** Each key in turn (`KEY_WORDS` words, at index 0 of what it yields). */
  keys(): Iterable<Uint32Array>;
}

/**
 * The bytes of a pending list of `keys`, with `token`, in chunks as {@linkcode ledgerChunks}
 * makes them (each valid until the next is asked for).
 */
export function* pendingChunks(
  owner: FileOwner,
  pending: { token: Uint8Array; keys: PendingKeys },
): Generator<Uint8Array, void, undefined> {
  const { n4, n6 } = pending.keys;
  const w = new Writer();
  yield* writeHead(w, "pending", owner, { token: pending.token, n4, n6, nfp: 0, nvar: 0 });
  let i = 0;
  for (const key of pending.keys.keys()) {
    if (i++ === n4) yield* w.pad();
    if (w.free < 16) yield w.flush();
    if (key[0] === 4) w.u32(key[1]!);
    else for (let k = 1; k < KEY_WORDS; k++) w.u32(key[k]!);
  }
  if (i !== n4 + n6) throw new RangeError(`A pending list of ${n4 + n6} keys was given ${i}`);
  yield* w.pad(); // the end of the IPv6 column (of the IPv4 one too, when there is no IPv6)
  yield* w.end();
}

/** The chunks, end to end (each copied as it comes: a writer's chunks are reused views). */
export function concat(chunks: Iterable<Uint8Array>): Uint8Array {
  const copies: Uint8Array[] = [];
  for (const chunk of chunks) copies.push(chunk.slice());
  const out = new Uint8Array(copies.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const chunk of copies) {
    out.set(chunk, off);
    off += chunk.length;
  }
  return out;
}
