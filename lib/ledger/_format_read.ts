/**
 * Reading the ledger's two files (format 1, `_format.ts`): the frame checked (magic, version,
 * length, CRC-32, owner), then the columns; a record held whole, or read from its file with its
 * fingerprints left there.
 *
 * @module
 */

import { KEY_WORDS } from "./_address.ts";
import {
  type Columns,
  crc32,
  DIGEST_BYTES,
  type FileKind,
  type FileOwner,
  type FingerprintColumn,
  HEAD,
  LITTLE_ENDIAN,
  MAGIC,
  memoryColumn,
  NO_VARIANT,
  type Pending,
  TRAILER,
  UNCERTAIN,
  UNRECORDED,
  VERSION,
} from "./_format.ts";

/** Why a file cannot be used: a short phrase, as "the record is damaged (…)" shows it. */
export class FormatProblem extends Error {
  /** The error's name. */
  override name = "FormatProblem";
  /** The file is another destination's. */
  readonly foreign: boolean;

  /** Creates the problem. */
  constructor(message: string, foreign = false) {
    super(message);
    this.foreign = foreign;
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

// A file's bytes as read: all of them, or (a record read by `readLedgerFile`) those before its
// fingerprints, with the file's size, the CRC-32 of its bytes before the trailer, and the trailer.
interface Frame {
  bytes: Uint8Array;
  size: number;
  crc: () => number;
  trailer: DataView;
}

// The frame of bytes held whole.
function wholeFrame(bytes: Uint8Array): Frame {
  const size = bytes.length;
  return {
    bytes,
    size,
    crc: () => crc32(0, bytes.subarray(0, size - TRAILER)),
    trailer: new DataView(bytes.buffer, bytes.byteOffset + Math.max(0, size - TRAILER)),
  };
}

// Checks the frame (magic, version, length, CRC, owner) and returns the header's numbers.
function readHead(frame: Frame, kind: FileKind, owner: FileOwner) {
  if (!LITTLE_ENDIAN) throw new FormatProblem("this machine is big-endian");
  const { bytes, size } = frame;
  if (size < HEAD + TRAILER) throw new FormatProblem("cut short");
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC[kind]) {
    throw new FormatProblem(`not a ${kind === "ledger" ? "ledger" : "pending list"} file`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = view.getUint32(8, true);
  if (version !== VERSION) {
    throw new FormatProblem(`format ${version}, written by another version of the connector`);
  }
  const length = frame.trailer.getUint32(4, true);
  if (length !== size) throw new FormatProblem(length > size ? "cut short" : "damaged (length)");
  if (frame.trailer.getUint32(0, true) !== frame.crc()) {
    throw new FormatProblem("damaged (checksum)");
  }
  const head = view.getUint32(12, true), dLen = view.getUint32(16, true);
  const vLen = view.getUint32(20, true);
  const strings = dLen + (vLen === NO_VARIANT ? 0 : vLen);
  if (head !== HEAD + Math.ceil(strings / 8) * 8 || head > size - TRAILER) {
    throw new FormatProblem("damaged (header)");
  }
  let destination: string, variant: string | undefined;
  try {
    destination = decoder.decode(bytes.subarray(HEAD, HEAD + dLen));
    variant = vLen === NO_VARIANT
      ? undefined
      : decoder.decode(bytes.subarray(HEAD + dLen, HEAD + dLen + vLen));
  } catch {
    throw new FormatProblem("damaged (header)");
  }
  if (destination !== owner.destination || variant !== owner.variant) {
    const whose = variant === undefined ? destination : `${destination} (${variant})`;
    throw new FormatProblem(`it is the record of another destination, ${whose}`, true);
  }
  return {
    head,
    token: bytes.slice(24, 32),
    n4: view.getUint32(32, true),
    n6: view.getUint32(36, true),
    nfp: view.getUint32(40, true),
    nvar: view.getUint32(44, true),
  };
}

const pad8 = (n: number) => Math.ceil(n / 8) * 8;

// The offsets of the columns of the given sizes from `head`, or undefined when they do not
// fill a file of `size` bytes exactly.
function offsets(size: number, head: number, sizes: number[]): number[] | undefined {
  const out: number[] = [];
  let off = head;
  for (const n of sizes) {
    out.push(off);
    off += pad8(n);
  }
  return off + TRAILER === size ? out : undefined;
}

// The offsets of the columns, and a check that they fill the file exactly.
function layout(size: number, head: number, sizes: number[]): number[] {
  const out = offsets(size, head, sizes);
  if (!out) throw new FormatProblem("damaged (sizes)");
  return out;
}

// The sizes of a record's columns.
function recordSizes(h: { n4: number; n6: number; nfp: number; nvar: number }): number[] {
  const n = h.n4 + h.n6;
  return [4 * h.n4, 16 * h.n6, DIGEST_BYTES * n, 2 * n, n, h.nvar, 2 * h.nfp];
}

// Views `bytes` as 8-aligned (a copy when it is not).
function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
}

/** Reads a record held whole: its columns, or a {@linkcode FormatProblem}. */
export function readLedger(input: Uint8Array, owner: FileOwner): Columns {
  const bytes = aligned(input);
  return readColumns(wholeFrame(bytes), owner, (offset, nfp) => {
    return memoryColumn(new Uint16Array(bytes.buffer, bytes.byteOffset + offset, nfp));
  });
}

/** Reads of a record's file at an offset: what `readLedgerFile` needs of it. */
export interface RecordBytes {
  /** The file's size. */
  readonly size: number;
  /** Reads into `into` from `offset`; returns the bytes read (fewer at the end of the file). */
  read(offset: number, into: Uint8Array): number;
}

/**
 * Reads a record from a file, leaving its fingerprints there when they are more than
 * `memoryBytes` (they are read when asked for, through `column`): its columns, or a
 * {@linkcode FormatProblem}. The whole file is read once, for its CRC.
 */
export function readLedgerFile(
  file: RecordBytes,
  owner: FileOwner,
  options: {
    memoryBytes: number;
    column: (offset: number, nfp: number) => FingerprintColumn;
  },
): Columns {
  const size = file.size, whole = () => readLedger(readAll(file, 0, size), owner);
  if (size < HEAD + TRAILER) return whole();
  const first = readAll(file, 0, HEAD), view = new DataView(first.buffer);
  const h = {
    n4: view.getUint32(32, true),
    n6: view.getUint32(36, true),
    nfp: view.getUint32(40, true),
    nvar: view.getUint32(44, true),
  };
  // A small record, or one whose header does not fit its size: read whole (it says what is wrong)
  const at = offsets(size, view.getUint32(12, true), recordSizes(h));
  if (2 * h.nfp <= options.memoryBytes || !at || at[6]! % 8 !== 0) return whole();
  const oFp = at[6]!, bytes = readAll(file, 0, oFp);
  let crc = crc32(0, bytes);
  const chunk = new Uint8Array(1 << 18);
  for (let off = oFp; off < size - TRAILER;) {
    const n = Math.min(chunk.length, size - TRAILER - off);
    crc = crc32(crc, readAll(file, off, n, chunk));
    off += n;
  }
  const trailer = new DataView(readAll(file, size - TRAILER, TRAILER).buffer);
  return readColumns({ bytes, size, crc: () => crc, trailer }, owner, options.column);
}

// `n` bytes of `file` from `offset` (into `into` when given), or a cut-short problem.
function readAll(file: RecordBytes, offset: number, n: number, into?: Uint8Array): Uint8Array {
  const out = into ? into.subarray(0, n) : new Uint8Array(n);
  if (file.read(offset, out) !== n) throw new FormatProblem("cut short");
  return out;
}

// A record's columns from its frame; its fingerprints through `column(offset, nfp)`.
function readColumns(
  frame: Frame,
  owner: FileOwner,
  column: (offset: number, nfp: number) => FingerprintColumn,
): Columns {
  const h = readHead(frame, "ledger", owner), bytes = frame.bytes;
  const n = h.n4 + h.n6;
  const [o4, o6, oDig, oDay, oFlag, oVar, oFp] = layout(frame.size, h.head, recordSizes(h));
  const buf = bytes.buffer, base = bytes.byteOffset;
  const v4 = new Uint32Array(buf, base + o4!, h.n4);
  const v6 = new Uint32Array(buf, base + o6!, 4 * h.n6);
  checkAscending(v4, v6);
  const flags = bytes.subarray(oFlag!, oFlag! + n);
  for (let i = 0; i < n; i++) {
    const f = flags[i]!;
    if (f & ~(UNCERTAIN | UNRECORDED) || (f & UNRECORDED && !(f & UNCERTAIN))) {
      throw new FormatProblem("damaged (flags)");
    }
  }
  const starts = new Uint32Array(n + 1);
  let p = oVar!, total = 0;
  const end = oVar! + h.nvar;
  for (let i = 0; i < n; i++) {
    let count = 0, scale = 1, b = 128;
    while (b & 128) {
      if (p >= end || scale > 2 ** 28) throw new FormatProblem("damaged (counts)");
      b = bytes[p++]!;
      count += (b & 127) * scale;
      scale *= 128;
    }
    total += count;
    if (total > h.nfp) throw new FormatProblem("damaged (counts)");
    starts[i + 1] = total;
  }
  if (total !== h.nfp || p !== end) throw new FormatProblem("damaged (counts)");
  const fps = column(oFp!, h.nfp);
  // Each entry's ascending, read in runs of whole entries of about 32,768 values.
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && starts[j + 1]! - starts[i]! <= 2 ** 15) j++;
    const run = fps.view(starts[i]!, starts[j]!), base = starts[i]!;
    for (let e = i; e < j; e++) {
      for (let k = starts[e]! + 1 - base; k < starts[e + 1]! - base; k++) {
        if (run[k - 1]! > run[k]!) throw new FormatProblem("damaged (fingerprints)");
      }
    }
    i = j;
  }
  return {
    destination: owner.destination,
    variant: owner.variant,
    v4,
    v6,
    digests: bytes.subarray(oDig!, oDig! + DIGEST_BYTES * n),
    days: new Uint16Array(buf, base + oDay!, n),
    flags,
    starts,
    fps,
    settles: h.token,
  };
}

/** Reads a pending list, or throws a {@linkcode FormatProblem}. */
export function readPending(input: Uint8Array, owner: FileOwner): Pending {
  const bytes = aligned(input);
  const h = readHead(wholeFrame(bytes), "pending", owner);
  if (h.nfp !== 0 || h.nvar !== 0) throw new FormatProblem("damaged (header)");
  const [o4, o6] = layout(bytes.length, h.head, [4 * h.n4, 16 * h.n6]);
  const v4 = new Uint32Array(bytes.buffer, bytes.byteOffset + o4!, h.n4);
  const v6 = new Uint32Array(bytes.buffer, bytes.byteOffset + o6!, 4 * h.n6);
  checkAscending(v4, v6);
  const keys = new Uint32Array((h.n4 + h.n6) * KEY_WORDS);
  for (let i = 0; i < h.n4; i++) {
    keys[i * KEY_WORDS] = 4;
    keys[i * KEY_WORDS + 1] = v4[i]!;
  }
  for (let j = 0; j < h.n6; j++) {
    const at = (h.n4 + j) * KEY_WORDS;
    keys[at] = 6;
    keys.set(v6.subarray(4 * j, 4 * j + 4), at + 1);
  }
  return { token: h.token, keys };
}

function checkAscending(v4: Uint32Array, v6: Uint32Array): void {
  for (let i = 1; i < v4.length; i++) {
    if (v4[i - 1]! >= v4[i]!) throw new FormatProblem("damaged (addresses out of order)");
  }
  for (let j = 4; j < v6.length; j += 4) {
    let d = 0;
    for (let k = 0; k < 4 && d === 0; k++) d = v6[j - 4 + k]! - v6[j + k]!;
    if (d >= 0) throw new FormatProblem("damaged (addresses out of order)");
  }
}
