/**
 * Parsed findings → command text → a writer: the encoder's output is handed over in chunks of
 * about 1 MiB (a buffer is written once it holds 960 KiB; the detection source uses half), and
 * one buffer fills while the writer takes the other. A host whose lines fill a buffer is handed
 * over in parts (the same bytes, its ScanFlush last), so the buffers stay at their size whatever
 * the host.
 *
 * @module
 */

import type { FindingSource } from "../findings/finding_source.ts";
import { ByteBuffer, CommandEncoder, type EncodeOptions } from "../encode/encoder.ts";
import { sanitizeField } from "../encode/sanitize.ts";

/** Where {@linkcode writeCommands} reports what it did. */
export interface WriteLog {
  /** Summaries (shortened texts). */
  info(message: string): void;
  /** Problems that did not stop the run (QIDs without a glossary entry). */
  warn(message: string): void;
  /** Every vulnerability imported (-level 3); leave out to skip the cost of building the lines. */
  debug?: ((message: string) => void) | undefined;
}

/** Options for {@linkcode writeCommands}. */
export interface WriteCommandsOptions extends
  Pick<
    EncodeOptions,
    | "addHost"
    | "scannerName"
    | "sourceName"
    | "qidCacheBytes"
    | "domain"
    | "clearCleanHosts"
    | "setOs"
  > {
  /** Where to log. @default nowhere */
  log?: WriteLog | undefined;
  /**
   * Addresses whose results from another scanner go first, right after the header: each
   * `DeleteScanResult,<ip>,"<scanner>"` and `ScanUpdate` (the detection source, after a
   * `scanner_name` change, for the addresses that hold the old scanner's results).
   */
  clearFirst?: { scanner: string; ips: Iterable<string> } | undefined;
  /** Where the encoder's texts spill (see `EncodeOptions.spillTexts`). @default the system's */
  tempDir?: string | undefined;
  /** Bytes of each of the two buffers; a write is made once one holds all but 64 KiB of them.
   * @default {BUFFER_BYTES} */
  bufferBytes?: number | undefined;
}

/** Bytes of each of the two buffers, by default. */
export const BUFFER_BYTES = 1 << 20;
const textEncoder = new TextEncoder();

/** Something that takes command text, as every `CommandSink` does. */
export interface CommandWriter {
  /** Writes bytes (whole lines); resolves once written. */
  write(bytes: Uint8Array): Promise<void>;
}

/** What {@linkcode writeCommands} wrote. */
export interface WriteSummary {
  /** Bytes written. */
  bytes: number;
  /** Hosts with results (AddScanResult … ScanFlush). */
  hosts: number;
  /** Hosts without open findings cleared (DeleteScanResult, ScanUpdate). */
  cleared: number;
  /** With `setOs`: hosts given a SetOS, hosts whose OS is not in the table, hosts without OS data. */
  os: { set: number; unknown: number; missing: number };
}

/**
 * Encodes every host of `findings` into `out`, after the `SetSource` header. Resolves to what
 * was written; finishing (or abandoning) the output is the caller's.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const host = { ip: "10.0.0.1", count: 1, qids: Uint32Array.of(6), ports: new Uint16Array(1),
 *   protos: new Uint8Array(1) };
 * const findings = { glossary: new Map(), forEachHost: (on: (h: typeof host) => void) =>
 *   Promise.resolve(on(host)), dispose() {} };
 * const chunks: Uint8Array[] = [];
 * await writeCommands(findings, { write: (b) => Promise.resolve(void chunks.push(b.slice())) });
 * assert.equal(new TextDecoder().decode(chunks[0]),
 *   "SetSource,QualysGuard Scan Report\n" +
 *   'AddScanResult,10.0.0.1,"QualysGuard",6,,,"","","cve_ids:","bugtraq_ids:"\nScanFlush\n');
 * ```
 */
export async function writeCommands(
  findings: FindingSource,
  out: CommandWriter,
  options: WriteCommandsOptions = {},
): Promise<WriteSummary> {
  const { log } = options;
  const enc = new CommandEncoder(findings.glossary, {
    addHost: options.addHost ?? false,
    clearCleanHosts: options.clearCleanHosts ?? true,
    setOs: options.setOs ?? false,
    scannerName: options.scannerName ?? "QualysGuard",
    sourceName: options.sourceName ?? "QualysGuard Scan Report",
    ...(options.qidCacheBytes !== undefined ? { qidCacheBytes: options.qidCacheBytes } : {}),
    domain: options.domain,
    spillTexts: { tempDir: options.tempDir },
  });
  // Two byte arrays: one is written (asynchronously) while the other fills. They trade places
  // under the one ByteBuffer, which the encoder may hold across a pause inside a host.
  const size = options.bufferBytes ?? BUFFER_BYTES;
  const flushAt = size - (64 << 10);
  const buffer = new ByteBuffer(size);
  let spare: Uint8Array = new Uint8Array(size);
  let pending: Promise<void> = Promise.resolve();
  let written = 0;
  const flush = async () => {
    await pending;
    written += buffer.length;
    pending = out.write(buffer.view());
    [buffer.bytes, spare] = [spare, buffer.bytes];
    buffer.clear();
  };
  const debug = log?.debug;
  // A glossary decodes a whole entry on each get: the titles -level 3 logs are kept a while.
  const titles = new Map<number, string>();
  const titleOf = (qid: number): string => {
    let title = titles.get(qid);
    if (title === undefined) {
      if (titles.size >= 8192) titles.clear();
      titles.set(qid, title = findings.glossary.get(qid)?.title ?? "");
    }
    return title;
  };
  try {
    buffer.append(enc.header());
    if (options.clearFirst) {
      const scanner = sanitizeField(options.clearFirst.scanner);
      for (const ip of options.clearFirst.ips) {
        buffer.append(textEncoder.encode(`DeleteScanResult,${ip},"${scanner}"\nScanUpdate\n`));
        if (buffer.length >= flushAt) await flush();
      }
    }
    await findings.forEachHost(async (host) => {
      if (debug) {
        if (host.count === 0 && (options.clearCleanHosts ?? true)) {
          debug(`Clearing ${host.ip}: the report lists it without open findings`);
        }
        for (let k = 0; k < host.count; k++) {
          const qid = host.qids[k]!;
          const where = host.protos[k]
            ? ` ${host.ports[k]}/${host.protos[k] === 1 ? "tcp" : "udp"}`
            : "";
          debug(`Importing QID ${qid}${where} on ${host.ip}: ${titleOf(qid)}`);
        }
      }
      // The encoder pauses inside a host whose lines fill the buffer.
      for (const _ of enc.encodeHostInParts(host, buffer, { flushAt })) await flush();
      if (buffer.length >= flushAt) await flush();
    });
    await pending;
    written += buffer.length;
    await out.write(buffer.view());
  } catch (error) {
    await pending.catch(() => {});
    throw error;
  } finally {
    enc.dispose();
  }
  if (enc.missingGlossary > 0) {
    log?.warn(
      `${enc.missingGlossary} QID(s) have findings but no glossary entry: they were sent ` +
        "without title, description, CVE or Bugtraq IDs",
    );
  }
  if (enc.shortened > 0) {
    log?.info(`${enc.shortened} QID(s) had text shortened to keep lines within 4000 bytes`);
  }
  if (enc.unknownOs.size > 0) {
    log?.debug?.(
      `No SetOS for operating systems the table does not know: ${
        [...enc.unknownOs].map((o) => JSON.stringify(o)).join(", ")
      }`,
    );
  }
  return {
    bytes: written,
    hosts: enc.hostsWithResults,
    cleared: enc.hostsCleared,
    os: { ...enc.os },
  };
}
