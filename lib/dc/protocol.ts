/**
 * The host input wire protocol on TCP 8307 (`hostinput.md` §3): big-endian TLV messages
 * (type u32, length u32, value), VERSION 1 from the client, MAX_SIZE from the server, then DATA
 * messages of whole command lines, one response per DATA message. Plus the pure parts: reading
 * the response text, and packing lines into messages.
 *
 * @module
 */

/** Message types. */
export const MsgType = { MaxSize: 1, Version: 2, Data: 3, Error: 4 } as const;

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/** A byte stream: Deno.Conn and the -insecure adapter both are one. */
export interface ByteStream {
  /** Reads into `p`; null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the stream. */
  close(): void;
}

/** The connection ended where a message was due. */
export class EndOfStream extends Error {
  override name = "EndOfStream";
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

/** Writes all of `bytes`. */
export async function writeAll(conn: ByteStream, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
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

/** Reads one message; refuses values over `limit` bytes. */
export async function readMessage(
  conn: ByteStream,
  what: string,
  limit = 64 << 20,
): Promise<{ type: number; value: Uint8Array }> {
  const head = await readExact(conn, 8, what);
  const view = new DataView(head.buffer);
  const type = view.getUint32(0, false), length = view.getUint32(4, false);
  if (length > limit) throw new Error(`${what} announces ${length} bytes, more than ${limit}`);
  return { type, value: await readExact(conn, length, what) };
}

/** What one DC response says. */
export interface DcResponse {
  /** Lines that report a failure. */
  failures: string[];
  /** N of `Done processing N commands`, when present. */
  done: number | undefined;
  /** Commands rejected: a reason line and its `Failed to Execute Command` count once. */
  rejected: number;
}

/**
 * Reads a response text (SPEC §7): failures are lines with `Failed to ...`, `Failure to ...`,
 * `Wrong ...`, `WARN: ignoring unknown key`, `Must set source`, `CSV Error`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const r = parseDcResponse("Wrong protocol 1 entered\nDone processing 3 commands.\n");
 * assert.deepEqual(r, { failures: ["Wrong protocol 1 entered"], done: 3, rejected: 1 });
 * ```
 */
export function parseDcResponse(text: string): DcResponse {
  const failures: string[] = [];
  let done: number | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^Done processing (\d+) commands?\.?$/.exec(line);
    if (m) {
      done = (done ?? 0) + Number(m[1]);
      continue;
    }
    if (
      /^(Failed to|Failure to|Wrong |WARN: ignoring unknown key|CSV Error|Text::CSV::parse\(\) failed)/
        .test(line) || /Must set source/.test(line)
    ) failures.push(line);
  }
  const standalone =
    failures.filter((l) =>
      /^(Failed to Execute Command|WARN: ignoring unknown key|Text::CSV::parse\(\) failed|Failure to Run Scan API)/
        .test(l) || /Must set source/.test(l)
    ).length;
  return { failures, done, rejected: standalone > 0 ? standalone : failures.length };
}

const HEADER = /^(SetSource|SetSourceType|SetMap|SetDomain)\s*,/;
const GROUP_END = /^(ScanFlush|ScanUpdate)\s*(,.*)?$/;
const encoder = new TextEncoder();

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

/**
 * Packs command lines into DATA payloads (SPEC §7): whole lines, each payload at most
 * `maxSize` bytes, the Set* header lines repeated at the top of every payload, and a host's
 * lines up to its ScanFlush kept in one payload when they fit. Memory stays within a few
 * payloads.
 */
export class MessagePacker {
  readonly #max: number;
  readonly #options: PackOptions;
  #header: string[] = [];
  #headerBytes = 0;
  #cur: string[] = [];
  #curBytes = 0;
  #group: string[] = [];
  #groupBytes = 0;
  #out: Payload[] = [];
  #open = false; // the last payload ended inside a group

  /** Creates a packer. */
  constructor(options: PackOptions) {
    this.#max = options.maxSize;
    this.#options = options;
  }

  /** Adds one line (without its newline). */
  add(line: string): void {
    if (line.trim() === "" || /^\s*#/.test(line)) return;
    if (HEADER.test(line)) {
      this.#flushGroup();
      this.#flushCur();
      if (this.#header.length > 0 && this.#sawBody) this.#header = [];
      this.#sawBody = false;
      this.#header.push(line);
      this.#headerBytes = this.#header.reduce((n, l) => n + bytes(l), 0);
      return;
    }
    this.#sawBody = true;
    let fitted = line;
    if (this.#headerBytes + bytes(line) > this.#max) {
      fitted = shortenLine(line, this.#max - this.#headerBytes);
      if (this.#headerBytes + bytes(fitted) > this.#max) {
        this.#options.onDropped?.(line);
        return;
      }
      this.#options.onShortened?.(line);
    }
    this.#group.push(fitted);
    this.#groupBytes += bytes(fitted);
    if (GROUP_END.test(line)) this.#flushGroup();
    else if (this.#headerBytes + this.#groupBytes > this.#max) this.#spillGroup();
  }
  #sawBody = false;

  /** Ends the input. */
  finish(): void {
    this.#flushGroup();
    this.#flushCur();
  }

  /** Takes the payloads made so far. */
  take(): Payload[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  // A complete group: into the current payload if it fits, else a payload of its own, else split.
  #flushGroup(): void {
    if (this.#group.length === 0) return;
    if (this.#headerBytes + this.#curBytes + this.#groupBytes <= this.#max) {
      this.#cur.push(...this.#group);
      this.#curBytes += this.#groupBytes;
    } else {
      this.#flushCur();
      if (this.#headerBytes + this.#groupBytes <= this.#max) {
        this.#cur = this.#group;
        this.#curBytes = this.#groupBytes;
        this.#group = [];
        this.#groupBytes = 0;
        return;
      }
      this.#spillGroup();
      this.#cur = this.#group;
      this.#curBytes = this.#groupBytes;
    }
    this.#group = [];
    this.#groupBytes = 0;
  }

  // A group too big for one payload: emit full payloads from its start, keep the rest.
  #spillGroup(): void {
    this.#flushCur();
    while (this.#group.length > 0 && this.#headerBytes + this.#groupBytes > this.#max) {
      const take: string[] = [];
      let size = this.#headerBytes;
      while (this.#group.length > 0 && size + bytes(this.#group[0]!) <= this.#max) {
        const l = this.#group.shift()!;
        take.push(l);
        size += bytes(l);
        this.#groupBytes -= bytes(l);
      }
      this.#emit(take, true);
    }
  }

  #flushCur(): void {
    if (this.#cur.length === 0) return;
    this.#emit(this.#cur);
    this.#cur = [];
    this.#curBytes = 0;
  }

  #emit(lines: string[], endsInsideGroup = false): void {
    this.#out.push({
      bytes: encoder.encode([...this.#header, ...lines].map((l) => `${l}\n`).join("")),
      continuesGroup: this.#open,
    });
    this.#open = endsInsideGroup;
  }
}

function bytes(line: string): number {
  return encoder.encode(line).length + 1;
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

/** Splits a host input line into its fields (Text::CSV rules, as the DC reads it). */
export function splitCsvLine(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    let value = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        if (line[q + 1] === '"') { // "" is a literal quote
          value += line.slice(i, q + 1);
          i = q + 2;
          continue;
        }
        value += line.slice(i, q);
        i = q + 1;
        break;
      }
      while (line[i] === " " || line[i] === "\t") i++;
      if (i < line.length && line[i] !== ",") return undefined;
    } else {
      const end = line.indexOf(",", i);
      value = line.slice(i, end < 0 ? line.length : end).trimEnd();
      if (value.includes('"')) return undefined;
      i = end < 0 ? line.length : end;
    }
    fields.push(value);
    if (i >= line.length) return fields;
    i++;
  }
}

/** Shortens an AddScanResult line to `max` bytes (newline included): description, then title. */
export function shortenLine(line: string, max: number): string {
  const f = splitCsvLine(line);
  if (!f || f[0] !== "AddScanResult" || f.length < 9) return line;
  const build = () =>
    `${f.slice(0, 2).join(",")},"${f[2]}",${f.slice(3, 6).join(",")},"${f[6]}","${f[7]}","${
      f[8]
    }","${f[9] ?? "bugtraq_ids:"}"`;
  for (const idx of [7, 6]) {
    const over = bytes(build()) - max;
    if (over <= 0) break;
    const text = f[idx]!;
    f[idx] = text.length > over + 3 ? `${text.slice(0, text.length - over - 3)}...` : "";
  }
  return build();
}
