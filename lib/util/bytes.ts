/**
 * Byte helpers shared by every writer and buffer: write a whole buffer to a writer that may
 * take part of it, and grow a typed array.
 *
 * @module
 */

/** Something to read bytes from, as `Deno.FsFile` and `Deno.stdin` are. */
export interface ByteReader {
  /** Reads into `p`; resolves to the count read, or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * `reader` with each failed read turned into the error `toError` makes of it (one that names
 * the file and the fix).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const broken = { read: () => Promise.reject(new Error("Is a directory (os error 21)")) };
 * const reader = guardReads(broken, (e) => new Error(`r.xml: ${(e as Error).message}`));
 * await assert.rejects(reader.read(new Uint8Array(1)), { message: "r.xml: Is a directory (os error 21)" });
 * ```
 */
export function guardReads(reader: ByteReader, toError: (error: unknown) => Error): ByteReader {
  return {
    read: (p) =>
      reader.read(p).catch((error) => {
        throw toError(error);
      }),
  };
}

/** Something that takes bytes and says how many it took, as `Deno.FsFile` and `Deno.Conn` do. */
export interface ByteWriter {
  /** Writes from `p`; resolves to the number of bytes taken. */
  write(p: Uint8Array): Promise<number>;
}

/** The synchronous form of {@linkcode ByteWriter}, as `Deno.stdout` is. */
export interface SyncByteWriter {
  /** Writes from `p`; returns the number of bytes taken. */
  writeSync(p: Uint8Array): number;
}

/**
 * Writes all of `bytes`, however many calls the writer needs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const taken: number[] = [];
 * await writeAll({ write: (p) => Promise.resolve(taken.push(p[0]!) && 1) }, new Uint8Array([7, 8]));
 * assert.deepEqual(taken, [7, 8]);
 * ```
 */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await writer.write(bytes.subarray(off));
}

/**
 * Writes `text` as UTF-8 a part at a time, from one buffer of 48 KiB: a text of megabytes
 * (a state's host lists) never becomes a buffer of megabytes, which would grow the C heap for
 * the rest of the run. The writer must be done with the bytes when its promise resolves (the
 * buffer is written again next).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const parts: string[] = [];
 * const writer = { write: (b: Uint8Array) => Promise.resolve(void parts.push(new TextDecoder().decode(b))) };
 * await writeText(writer, "é".repeat(40_000));
 * assert.equal(parts.join(""), "é".repeat(40_000));
 * assert.equal(parts.length, 3);
 * ```
 */
export async function writeText(
  writer: { write(bytes: Uint8Array): Promise<unknown> },
  text: string,
): Promise<void> {
  const buffer = new Uint8Array(TEXT_PART * 3);
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + TEXT_PART);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--; // a surrogate pair whole
    const { written } = utf8.encodeInto(text.substring(at, end), buffer);
    await writer.write(buffer.subarray(0, written));
    at = end;
  }
}

const TEXT_PART = 16384; // UTF-16 code units a part: at most 3 bytes each
const utf8 = new TextEncoder();

/** Writes all of `bytes` synchronously. */
export function writeAllSync(writer: SyncByteWriter, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writer.writeSync(bytes.subarray(off));
}

/**
 * Fills `into` from `file` at `offset` (a seek, then reads); returns the bytes read, fewer only
 * when the file ends first.
 */
export function readAtSync(file: Deno.FsFile, offset: number, into: Uint8Array): number {
  file.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < into.length) {
    const n = file.readSync(into.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/** A typed array of one of the kinds the connector grows. */
export type GrowableArray = Uint8Array | Uint16Array | Uint32Array | Int32Array;

/**
 * Returns `array` if it holds at least `need` elements, else a new array of the same kind, at
 * least twice as long, with the first `keep` elements copied.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const a = grow(new Uint16Array([1, 2]), 3, 2);
 * assert.equal(a.length, 4);
 * assert.deepEqual([...a.subarray(0, 2)], [1, 2]);
 * ```
 */
export function grow<T extends GrowableArray>(array: T, need: number, keep = array.length): T {
  if (need <= array.length) return array;
  const bigger = new (array.constructor as new (n: number) => T)(
    Math.max(array.length * 2, need),
  );
  bigger.set(array.subarray(0, keep));
  return bigger;
}
