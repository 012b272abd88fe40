/**
 * The host input wire protocol on TCP 8307 (docs/host_input.md, section 7): big-endian TLV
 * messages (type u32, length u32, value), VERSION 1 from the client, MAX_SIZE from the server,
 * then DATA messages of whole command lines, one response per DATA message. Plus packing lines
 * into messages (reading the answers is `answers.ts`).
 *
 * @module
 */

import { commandOf, shortenLine } from "../host_input/grammar.ts";
import { DcError } from "../errors.ts";
import { grow, writeAll } from "../util/bytes.ts";

export { writeAll };

/** Message types. */
export const MsgType = { MaxSize: 1, Version: 2, Data: 3, Error: 4 } as const;

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/** A byte stream: the `node:tls` adapter in `dc_client.ts` is one, and so is a `Deno.Conn`. */
export interface ByteStream {
  /** Reads into `p`; null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the stream. */
  close(): void;
  /** Up to `max` bytes that have arrived and not been read, without reading them (for messages). */
  buffered?(max: number): Uint8Array;
}

/** The connection ended where a message was due. */
export class EndOfStream extends Error {
  /** The error's name, "EndOfStream". */
  override name = "EndOfStream";
}

/**
 * A payload over the MAX_SIZE the Defense Center announced: one packed for an earlier connection
 * whose MAX_SIZE was larger. Nothing of it was sent; `sendMessages` packs it again to `maxSize`.
 */
export class OverMaxSize extends DcError {
  /** The error's name, "OverMaxSize". */
  override name = "OverMaxSize";
  /** The payload's size in bytes. */
  readonly size: number;
  /** The largest payload the DC takes now (its MAX_SIZE, at most 1 MiB). */
  readonly maxSize: number;

  /** Creates the error for `payload` and the DC's current limit. */
  constructor(payload: Uint8Array, maxSize: number) {
    super(`A message of ${payload.length} bytes is over the DC's MAX_SIZE ${maxSize}`);
    this.size = payload.length;
    this.maxSize = maxSize;
  }
}

/** Frames one message. */
export function frame(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + value.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, false);
  view.setUint32(4, value.length, false);
  out.set(value, 8);
  return out;
}

/** Writes a message: its 8-byte header, then the value as it is (no copy of a large value). */
export async function writeMessage(
  conn: ByteStream,
  type: number,
  value: Uint8Array,
): Promise<void> {
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint32(0, type, false);
  view.setUint32(4, value.length, false);
  await writeAll(conn, head);
  await writeAll(conn, value);
}

/** Reads exactly `n` bytes (short reads handled); EOF first is an {@linkcode EndOfStream}. */
export async function readExact(conn: ByteStream, n: number, what: string): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(buf.subarray(got));
    if (r === null) {
      throw new EndOfStream(
        `the connection closed while ${what} was due (after ${got} of ${n} bytes)`,
      );
    }
    got += r;
  }
  return buf;
}

/**
 * The longest answer to a DATA message taken as host input: the DC's text is a line or two per
 * failed command and the "Done processing" line, so it stays near the size of the message.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(answerLimit(65535), 1 << 20);
 * assert.equal(answerLimit(1 << 20), 4 << 20);
 * ```
 */
export function answerLimit(maxSize: number): number {
  return Math.max(1 << 20, maxSize * 4);
}

/**
 * Bytes a peer sent, for a message: quoted, control characters and bytes that are not UTF-8
 * made visible (`\r`, `\n`, `\t`, `\xNN`), shortened to about `max` characters.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const page = new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n");
 * assert.equal(showBytes(page, 30), '"HTTP/1.1 400 Bad Request\\r\\nSe..." (43 bytes)');
 * assert.equal(showBytes(new Uint8Array([0, 0, 0, 7, 104, 105])), '"\\x00\\x00\\x00\\x07hi"');
 * ```
 */
export function showBytes(bytes: Uint8Array, max = 160): string {
  let chars: string[];
  try {
    chars = [...new TextDecoder("utf-8", { fatal: true }).decode(bytes)];
  } catch { // not UTF-8: byte by byte, anything but printable ASCII as \xNN
    chars = Array.from(bytes, (b) => String.fromCharCode(b < 0x7f ? b : 0));
    chars = chars.map((ch, i) => (bytes[i]! >= 0x7f ? `\\x${bytes[i]!.toString(16)}` : ch));
  }
  let out = "";
  for (const ch of chars) {
    const c = ch.length === 1 ? ch.charCodeAt(0) : 0x20;
    const shown = ch === "\n"
      ? "\\n"
      : ch === "\r"
      ? "\\r"
      : ch === "\t"
      ? "\\t"
      : ch === '"' || ch === "\\"
      ? `\\${ch}`
      : c < 0x20 || (c >= 0x7f && c < 0xa0)
      ? `\\x${c.toString(16).padStart(2, "0")}`
      : ch;
    if (out.length + shown.length > max) return `"${out}..." (${bytes.length} bytes)`;
    out += shown;
  }
  return `"${out}"`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A Set* header line, repeated at the top of every DATA message. */
export const HEADER = /^(SetSource|SetSourceType|SetMap|SetDomain)\s*,/;

const GROUP_END = /^(ScanFlush|ScanUpdate)\s*(,.*)?$/;
const SET_DOMAIN = /^SetDomain\s*,/;

/** One DATA payload. */
export interface Payload {
  /** The payload bytes: whole lines. */
  bytes: Uint8Array;
  /** It starts inside a host's group (the previous payload ended before that host's ScanFlush). */
  continuesGroup: boolean;
}

/** Options for {@linkcode MessagePacker}. */
export interface PackOptions {
  /** Largest DATA payload, from the DC's MAX_SIZE. */
  maxSize: number;
  /** Called for a line shortened to fit. */
  onShortened?: (line: string) => void;
  /** Called for a line that cannot be made to fit (it is not sent). */
  onDropped?: (line: string) => void;
}

/** Whether `b` holds `SetMap:` at `i`, after an optional `"`: a line's per-line map prefix. */
export function mapPrefixAt(b: Uint8Array, i: number): boolean {
  const at = b[i] === 34 ? i + 1 : i;
  return b[at] === 83 && b[at + 1] === 101 && b[at + 2] === 116 && b[at + 3] === 77 &&
    b[at + 4] === 97 && b[at + 5] === 112 && b[at + 6] === 58; // SetMap:
}

const HEADER_COMMANDS = new Set(["SetSource", "SetSourceType", "SetMap", "SetDomain"]);

// The kind of a line, from its first bytes: 0 body, 1 header (Set*), 2 group end, 3 skip. A line
// with a `SetMap:<map>` prefix is what its command after the prefix is (a prefixed SetSource
// still sets the source, a prefixed ScanFlush still ends the host's group).
function lineKind(b: Uint8Array, s: number, e: number): number {
  let i = s;
  while (i < e && (b[i] === 32 || b[i] === 9)) i++;
  if (i === e || b[i] === 35) return 3; // blank or # comment
  const c = b[i];
  if ((c === 83 || c === 34) && mapPrefixAt(b, i)) {
    const command = commandOf(decoder.decode(b.subarray(s, e)))?.command ?? "";
    return HEADER_COMMANDS.has(command) ? 1 : GROUP_END.test(command) ? 2 : 0;
  }
  if (c === 83 && b[i + 1] === 101 && b[i + 2] === 116) { // "Set"
    return HEADER.test(decoder.decode(b.subarray(s, Math.min(e, s + 32)))) ? 1 : 0;
  }
  if (c === 83 && b[i + 1] === 99 && b[i + 2] === 97 && b[i + 3] === 110) { // "Scan"
    return GROUP_END.test(decoder.decode(b.subarray(i, e)).trimEnd()) ? 2 : 0;
  }
  return 0;
}

/**
 * Packs command lines into DATA payloads (docs/host_input.md, "Packing lines into messages"):
 * whole lines, each payload at most `maxSize` bytes, the Set* header lines repeated at the top of
 * every payload (a SetDomain line before the others of its group, as the module applies SetSource
 * and SetMap in the domain current at the time), and a host's lines up to its ScanFlush kept in
 * one payload when they fit. Works
 * on bytes (no strings but for a line that must be shortened), and memory stays within a few
 * payloads.
 */
export class MessagePacker {
  readonly #max: number;
  readonly #options: PackOptions;
  #header = new Uint8Array(0);
  #headerLines: Uint8Array[] = [];
  #sawBody = false;
  #cur: Uint8Array;
  #curLen = 0;
  #group: Uint8Array;
  #groupLen = 0;
  #groupEnds: number[] = []; // end offset (after the newline) of each line in #group
  #out: Payload[] = [];
  #open = false; // the last payload ended inside a group
  #carry = new Uint8Array(0);
  #pool: Uint8Array[] = []; // payload buffers handed back with release()

  /** Creates a packer. */
  constructor(options: PackOptions) {
    this.#max = options.maxSize;
    this.#options = options;
    this.#cur = new Uint8Array(options.maxSize);
    this.#group = new Uint8Array(Math.min(options.maxSize * 2, 1 << 20));
  }

  /** Adds one line given as text (without its newline). */
  add(line: string): void {
    const b = encoder.encode(line);
    this.addLine(b, 0, b.length);
  }

  /** Adds the lines of a chunk of command text; a last partial line waits for the next chunk. */
  push(chunk: Uint8Array): void {
    let s = 0;
    if (this.#carry.length > 0) { // only the one line cut by the chunk boundary is copied
      const nl = chunk.indexOf(10);
      const part = nl === -1 ? chunk : chunk.subarray(0, nl);
      const joined = new Uint8Array(this.#carry.length + part.length);
      joined.set(this.#carry);
      joined.set(part, this.#carry.length);
      if (nl === -1) {
        this.#carry = joined;
        return;
      }
      this.#carry = new Uint8Array(0);
      const e = joined.length > 0 && joined[joined.length - 1] === 13
        ? joined.length - 1
        : joined.length;
      this.addLine(joined, 0, e);
      s = nl + 1;
    }
    for (let nl = chunk.indexOf(10, s); nl !== -1; nl = chunk.indexOf(10, s)) {
      this.addLine(chunk, s, nl > s && chunk[nl - 1] === 13 ? nl - 1 : nl);
      s = nl + 1;
    }
    this.#carry = chunk.slice(s);
  }

  /** Adds one line: bytes `[s, e)` of `b`, without its newline. */
  addLine(b: Uint8Array, s: number, e: number): void {
    const kind = lineKind(b, s, e);
    if (kind === 3) return;
    if (kind === 1) {
      this.#flushGroup();
      this.#flushCur();
      if (this.#sawBody) this.#headerLines = [];
      // SetDomain first: the module runs SetSource (and SetMap) in the domain current at the time.
      const line = b.slice(s, e);
      const at = SET_DOMAIN.test(decoder.decode(line.subarray(0, 16)))
        ? this.#headerLines.findIndex((l) => !SET_DOMAIN.test(decoder.decode(l.subarray(0, 16))))
        : -1;
      this.#headerLines.splice(at < 0 ? this.#headerLines.length : at, 0, line);
      this.#header = new Uint8Array(this.#headerLines.reduce((n, l) => n + l.length + 1, 0));
      let off = 0;
      for (const l of this.#headerLines) {
        this.#header.set(l, off);
        this.#header[off + l.length] = 10;
        off += l.length + 1;
      }
      this.#sawBody = false;
      return;
    }
    this.#sawBody = true;
    let line = b.subarray(s, e);
    if (this.#header.length + line.length + 1 > this.#max) {
      const text = decoder.decode(line);
      const fitted = encoder.encode(shortenLine(text, this.#max - this.#header.length));
      if (this.#header.length + fitted.length + 1 > this.#max) {
        this.#options.onDropped?.(text);
        return;
      }
      this.#options.onShortened?.(text);
      line = fitted;
    }
    this.#appendGroup(line);
    if (kind === 2) this.#flushGroup();
    else if (this.#header.length + this.#groupLen > this.#max) this.#overflowGroup();
  }

  /** Ends the input. */
  finish(): void {
    if (this.#carry.length > 0) {
      const last = this.#carry;
      this.#carry = new Uint8Array(0);
      this.addLine(last, 0, last.length);
    }
    this.#flushGroup();
    this.#flushCur();
  }

  /** Takes the payloads made so far. */
  take(): Payload[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Hands a sent payload's buffer back for reuse (no garbage per message). */
  release(payload: Payload): void {
    if (payload.bytes.buffer.byteLength === this.#max && this.#pool.length < 64) {
      this.#pool.push(new Uint8Array(payload.bytes.buffer));
    }
  }

  #appendGroup(line: Uint8Array): void {
    const need = this.#groupLen + line.length + 1;
    this.#group = grow(this.#group, need, this.#groupLen);
    this.#group.set(line, this.#groupLen);
    this.#group[this.#groupLen + line.length] = 10;
    this.#groupLen = need;
    this.#groupEnds.push(need);
  }

  // A complete group: into the current payload if it fits, else a payload of its own, else split.
  #flushGroup(): void {
    if (this.#groupLen === 0) return;
    const h = this.#header.length;
    if (h + this.#curLen + this.#groupLen > this.#max) {
      this.#flushCur();
      if (h + this.#groupLen > this.#max) this.#overflowGroup();
    }
    this.#cur.set(this.#group.subarray(0, this.#groupLen), this.#curLen);
    this.#curLen += this.#groupLen;
    this.#groupLen = 0;
    this.#groupEnds = [];
  }

  // A group too big for one payload: emit full payloads from its start, keep the rest.
  #overflowGroup(): void {
    this.#flushCur();
    const h = this.#header.length;
    while (this.#groupLen > 0 && h + this.#groupLen > this.#max) {
      let cut = 0, k = 0;
      while (k < this.#groupEnds.length && h + this.#groupEnds[k]! <= this.#max) {
        cut = this.#groupEnds[k++]!;
      }
      this.#emit(this.#group.subarray(0, cut), true);
      this.#group.copyWithin(0, cut, this.#groupLen);
      this.#groupLen -= cut;
      this.#groupEnds = this.#groupEnds.slice(k).map((x) => x - cut);
    }
  }

  #flushCur(): void {
    if (this.#curLen === 0) return;
    this.#emit(this.#cur.subarray(0, this.#curLen), false);
    this.#curLen = 0;
  }

  #emit(body: Uint8Array, endsInsideGroup: boolean): void {
    const buffer = this.#pool.pop() ?? new Uint8Array(this.#max);
    const bytes = buffer.subarray(0, this.#header.length + body.length);
    bytes.set(this.#header);
    bytes.set(body, this.#header.length);
    this.#out.push({ bytes, continuesGroup: this.#open });
    this.#open = endsInsideGroup;
  }
}

/**
 * Turns the first ScanFlush of a payload into ScanUpdate: the end of a host whose first lines
 * went on a connection that has since dropped (the DC applied them as an update when it
 * dropped, so a replace now would lose them).
 */
export function flushToUpdate(payload: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(payload);
  const i = text.search(/^ScanFlush\s*$/m);
  return i < 0
    ? payload
    : encoder.encode(`${text.slice(0, i)}ScanUpdate${text.slice(i + "ScanFlush".length)}`);
}
