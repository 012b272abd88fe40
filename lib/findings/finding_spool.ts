/**
 * A compact spool of per-host findings: 8 bytes per finding plus the host's IP. It lives in
 * memory up to a limit, then in a 0600 temp file, so memory stays flat whatever the report size.
 * Hosts are replayed in order once the report (and so the glossary) has been read.
 *
 * @module
 */

import { onCleanup, systemTempDir, tempFileError } from "../cleanup.ts";
import { grow, writeAllSync } from "../util/bytes.ts";

/** The name prefix of finding spool files (the random part and nothing else follows). */
export const FINDING_SPOOL_PREFIX = "qualys_connector-spool-";

/** One host's findings, as views that are valid only during the callback that receives them. */
export interface HostFindings {
  /** The host's address, validated and canonical: a dotted quad, or RFC 5952 text for IPv6. */
  ip: string;
  /** Number of findings. */
  count: number;
  /** QID of each finding. */
  qids: Uint32Array;
  /** Port of each finding (0: none). */
  ports: Uint16Array;
  /** Protocol of each finding: 0 none, 1 tcp, 2 udp. */
  protos: Uint8Array;
}

const CHUNK = 1 << 20;
const EMPTY = new Uint8Array(0);

/** Options for {@linkcode FindingSpool}. */
export interface FindingSpoolOptions {
  /** Bytes kept in memory before spilling to a temp file. @default {2097152} */
  memoryLimit?: number;
  /** Directory for the temp file. @default the system temp directory */
  tempDir?: string;
}

/**
 * Per-host findings, 8 bytes each, in memory up to a limit and then in a 0600 temp file. A
 * failure to create, write or read that file is a `LocalIoError` (exit 7) naming it.
 */
export class FindingSpool {
  #chunks: Uint8Array[] = [];
  #chunkSize: number;
  #cur: Uint8Array;
  #curLen = 0;
  #memBytes = 0;
  #memoryLimit: number;
  #tempDir: string | undefined;
  #file: Deno.FsFile | undefined;
  #path: string | undefined;
  #fileBytes = 0;
  #unregister: (() => void) | undefined;
  #encoder = new TextEncoder();
  /** Number of hosts spooled. */
  hosts = 0;

  /** Creates an empty spool. */
  constructor(options: FindingSpoolOptions = {}) {
    this.#memoryLimit = options.memoryLimit ?? 2 << 20;
    this.#chunkSize = Math.min(CHUNK, this.#memoryLimit);
    this.#cur = new Uint8Array(this.#chunkSize);
    this.#tempDir = options.tempDir;
  }

  /** Path of the temp file, once the spool has spilled to disk. */
  get path(): string | undefined {
    return this.#path;
  }

  /** Appends one host record. */
  addHost(ip: string, count: number, qids: Uint32Array, ports: Uint16Array, protos: Uint8Array) {
    const ipBytes = this.#encoder.encode(ip);
    const need = 8 + ((ipBytes.length + 3) & ~3) + count * 8;
    this.#reserve(need);
    const view = new DataView(this.#cur.buffer, this.#cur.byteOffset + this.#curLen, need);
    view.setUint32(0, ipBytes.length, true);
    view.setUint32(4, count, true);
    this.#cur.set(ipBytes, this.#curLen + 8);
    let off = 8 + ((ipBytes.length + 3) & ~3);
    for (let k = 0; k < count; k++, off += 8) {
      view.setUint32(off, qids[k]!, true);
      view.setUint16(off + 4, ports[k]!, true);
      view.setUint8(off + 6, protos[k]!);
      view.setUint8(off + 7, 0);
    }
    this.#curLen += need;
    this.hosts++;
  }

  #reserve(need: number): void {
    if (this.#curLen + need <= this.#cur.length) return;
    const sealed = this.#sealCurrent();
    // Once on disk, the chunk was written synchronously and can be reused: no garbage.
    if (sealed === "memory" || need > this.#cur.length) {
      this.#cur = new Uint8Array(Math.max(this.#chunkSize, need));
    }
  }

  #sealCurrent(): "memory" | "file" | "empty" {
    if (this.#curLen === 0) return "empty";
    const chunk = this.#cur.subarray(0, this.#curLen);
    this.#curLen = 0;
    if (this.#file === undefined && this.#memBytes + chunk.length <= this.#memoryLimit) {
      this.#chunks.push(chunk);
      this.#memBytes += chunk.length;
      return "memory";
    }
    if (this.#file === undefined) {
      try {
        this.#path = Deno.makeTempFileSync({
          prefix: FINDING_SPOOL_PREFIX,
          ...(this.#tempDir ? { dir: this.#tempDir } : {}),
        });
      } catch (error) {
        throw tempFileError(
          "create the finding spool there",
          this.#tempDir ?? systemTempDir(),
          error,
        );
      }
      this.#unregister = onCleanup(() => this.dispose());
      try {
        Deno.chmodSync(this.#path, 0o600);
        this.#file = Deno.openSync(this.#path, { read: true, write: true });
      } catch (error) {
        throw tempFileError("open the finding spool", this.#path, error);
      }
      for (const c of this.#chunks) this.#writeAll(c);
      this.#chunks = [];
      this.#memBytes = 0;
    }
    this.#writeAll(chunk);
    return "file";
  }

  #writeAll(bytes: Uint8Array): void {
    try {
      writeAllSync(this.#file!, bytes);
    } catch (error) {
      throw tempFileError("write the finding spool", this.#path!, error);
    }
    this.#fileBytes += bytes.length;
  }

  /** Calls `onHost` for every host, in the order they were added. */
  async replay(onHost: (host: HostFindings) => Promise<void> | void): Promise<void> {
    this.#sealCurrent();
    const reader = new RecordReader();
    let qids = new Uint32Array(256), ports = new Uint16Array(256), protos = new Uint8Array(256);
    const decoder = new TextDecoder();
    const emit = async (rec: Uint8Array) => {
      const view = new DataView(rec.buffer, rec.byteOffset, rec.length);
      const ipLen = view.getUint32(0, true), count = view.getUint32(4, true);
      if (count > qids.length) {
        qids = new Uint32Array(count);
        ports = new Uint16Array(count);
        protos = new Uint8Array(count);
      }
      let off = 8 + ((ipLen + 3) & ~3);
      for (let k = 0; k < count; k++, off += 8) {
        qids[k] = view.getUint32(off, true);
        ports[k] = view.getUint16(off + 4, true);
        protos[k] = view.getUint8(off + 6);
      }
      const ip = decoder.decode(rec.subarray(8, 8 + ipLen));
      await onHost({ ip, count, qids, ports, protos });
    };
    if (this.#file) {
      await this.#file.seek(0, Deno.SeekMode.Start);
      const file = this.#file;
      const path = this.#path!;
      await reader.drain(
        (buf) =>
          file.read(buf).catch((error) => {
            throw tempFileError("read the finding spool back", path, error);
          }),
        emit,
      );
    }
    for (const c of this.#chunks) {
      let off = 0;
      await reader.drain((into) => {
        if (off >= c.length) return Promise.resolve(null);
        const n = Math.min(into.length, c.length - off);
        into.set(c.subarray(off, off + n));
        off += n;
        return Promise.resolve(n);
      }, emit);
    }
    if (!reader.empty) throw new Error("Internal error: the finding spool ends inside a record");
  }

  /** Closes and removes the temp file, if any. Safe to call twice. */
  dispose(): void {
    this.#unregister?.();
    this.#unregister = undefined;
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = undefined;
    if (this.#path) {
      try {
        Deno.removeSync(this.#path);
      } catch { /* already gone */ }
      this.#path = undefined;
    }
    this.#chunks = [];
    this.#cur = EMPTY;
    this.#curLen = 0;
  }
}

// Splits a byte stream of host records into whole records, in one reusable buffer.
class RecordReader {
  #buf = new Uint8Array(CHUNK * 2);
  #fill = 0;
  get empty(): boolean {
    return this.#fill === 0;
  }
  async drain(
    read: (into: Uint8Array) => Promise<number | null>,
    emit: (record: Uint8Array) => Promise<void>,
  ): Promise<void> {
    for (;;) {
      this.#buf = grow(this.#buf, this.#fill + CHUNK, this.#fill);
      const n = await read(this.#buf.subarray(this.#fill));
      if (n === null) return;
      this.#fill += n;
      let off = 0;
      while (this.#fill - off >= 8) {
        const view = new DataView(this.#buf.buffer, this.#buf.byteOffset + off, 8);
        const ipLen = view.getUint32(0, true), count = view.getUint32(4, true);
        const len = 8 + ((ipLen + 3) & ~3) + count * 8;
        if (this.#fill - off < len) break;
        await emit(this.#buf.subarray(off, off + len));
        off += len;
      }
      this.#buf.copyWithin(0, off, this.#fill);
      this.#fill -= off;
    }
  }
}
