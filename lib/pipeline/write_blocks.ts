/**
 * The block writer: parsed findings → command text → a writer (the pipeline's only way to
 * encode). The encoder's output is handed over in chunks of about the budget's buffer size (a
 * buffer is written once it holds all but 64 KiB: 960 KiB for a report, 192 KiB for the
 * detection source), and one buffer fills while the writer takes the other. A host whose lines
 * fill a buffer is handed over in parts (the same bytes, its ScanFlush last), so the buffers stay
 * at their size whatever the host.
 *
 * @module
 */

import { plural } from "../util/text.ts";
import type { FindingSource } from "../findings/finding_source.ts";
import { ByteBuffer, CommandEncoder } from "../encode/encoder.ts";
import { sanitizeField } from "../encode/sanitize.ts";
import { clearHostLines } from "../host_input/grammar.ts";
import { Level, type Log } from "../log/log.ts";
import { collectGarbage, HeapWatch, type MemoryBudget, REPORT_MEMORY } from "../util/memory.ts";
import type { BlockComparer, CompareCounts } from "./compare_blocks.ts";

/** What the commands say besides the findings: the plugin YAML's output settings. */
export interface OutputSettings {
  /** Emit `AddHost,<ip>` before each host's results. @default {false} */
  addHost?: boolean;
  /** The AddScanResult scanner id. @default {"QualysGuard"} */
  scannerName?: string;
  /** The `SetSource` name. @default {"QualysGuard Scan Report"} */
  sourceName?: string;
  /** Emit `SetOS` for each host with results whose OS the table knows. @default {false} */
  setOs?: boolean;
  /** Clear the hosts listed without open findings. @default {true} */
  clearCleanHosts?: boolean;
  /** The Defense Center domain: `SetDomain,<domain>` heads the commands. @default none */
  domain?: string | undefined;
}

/** Options for {@linkcode writeBlocks}. */
export interface WriteBlocksOptions extends OutputSettings {
  /**
   * Where to log: summaries (shortened texts), problems (QIDs without a glossary entry), and at
   * `-level 3` every vulnerability imported (built only when that level is written).
   * @default nowhere
   */
  log?: Pick<Log, "info" | "warn" | "debug" | "enabled"> | undefined;
  /**
   * Addresses whose results from another scanner go first, right after the header: each
   * `DeleteScanResult,<ip>,"<scanner>"` and `ScanUpdate` (the detection source, after a
   * `scanner_name` change, for the addresses that hold the old scanner's results).
   */
  clearFirst?: { scanner: string; ips: Iterable<string> } | undefined;
  /** Where the encoder's texts go (see `EncodeOptions.textSpool`). @default the system's */
  tempDir?: string | undefined;
  /** The QID text cache, the buffers, and when to collect garbage. @default {REPORT_MEMORY} */
  memory?: MemoryBudget | undefined;
  /**
   * Compares each host's block with what the destination holds (its digest, before a byte of it
   * is written): only the blocks it says go are written. @default none: every block
   */
  compare?: BlockComparer | undefined;
}

const textEncoder = new TextEncoder();

/** Something that takes command text, as every `CommandSink` does. */
export interface CommandWriter {
  /** Writes bytes (whole lines); resolves once written. */
  write(bytes: Uint8Array): Promise<void>;
}

/** What {@linkcode writeBlocks} wrote. */
export interface WriteSummary {
  /** Bytes written. */
  bytes: number;
  /** Hosts with results (AddScanResult … ScanFlush). */
  hosts: number;
  /** Hosts without open findings cleared (DeleteScanResult, ScanUpdate). */
  cleared: number;
  /** With `setOs`: hosts given a SetOS, hosts whose OS is not in the table, hosts without OS data. */
  os: { set: number; unknown: number; missing: number };
  /** Lines written. */
  lines: number;
  /** AddScanResult lines written. */
  results: number;
  /** With `compare`: what became of the blocks. */
  compared?: CompareCounts | undefined;
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
 * await writeBlocks(findings, { write: (b) => Promise.resolve(void chunks.push(b.slice())) });
 * assert.equal(new TextDecoder().decode(chunks[0]),
 *   "SetSource,QualysGuard Scan Report\n" +
 *   'AddScanResult,10.0.0.1,"QualysGuard",6,,,"","","cve_ids:","bugtraq_ids:"\nScanFlush\n');
 * ```
 */
export async function writeBlocks(
  findings: FindingSource,
  out: CommandWriter,
  options: WriteBlocksOptions = {},
): Promise<WriteSummary> {
  const { log } = options;
  const memory = options.memory ?? REPORT_MEMORY;
  // what the fetching left (the pages', the KnowledgeBase's), before the encoder's buffers
  if (memory.collectAroundEncode) collectGarbage();
  const enc = new CommandEncoder(findings.glossary, {
    addHost: options.addHost ?? false,
    clearCleanHosts: options.clearCleanHosts ?? true,
    setOs: options.setOs ?? false,
    scannerName: options.scannerName ?? "QualysGuard",
    sourceName: options.sourceName ?? "QualysGuard Scan Report",
    qidCacheBytes: memory.qidCacheBytes,
    domain: options.domain,
    textSpool: { tempDir: options.tempDir },
  });
  // Two byte arrays: one is written (asynchronously) while the other fills. They trade places
  // under the one ByteBuffer, which the encoder may hold across a pause inside a host.
  const size = memory.bufferBytes;
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
  const debug = log?.enabled(Level.Debug) ? (m: string) => log.debug(m) : undefined;
  const { compare } = options;
  const digest = new Uint8Array(8);
  let lines = 0, results = 0;
  const heap = new HeapWatch(memory);
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
    const header = enc.header();
    buffer.append(header);
    for (const b of header) if (b === 10) lines++;
    if (options.clearFirst) {
      const scanner = sanitizeField(options.clearFirst.scanner);
      for (const ip of options.clearFirst.ips) {
        buffer.append(textEncoder.encode(clearHostLines(ip, scanner)));
        lines += 2;
        if (buffer.length >= flushAt) await flush();
      }
    }
    await findings.forEachHost(async (host) => {
      heap.tick();
      // Compared before a byte of it is written: a block not sent is not encoded at all.
      if (compare && !(enc.hostDigest(host, digest) && compare.decide(host, digest))) return;
      results += host.count;
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
  if (memory.collectAroundEncode) collectGarbage(); // the encoder's, before the sink's own work
  if (enc.missingGlossary > 0) {
    const n = enc.missingGlossary;
    log?.warn(
      `${plural(n, "QID")} ${n === 1 ? "has" : "have"} findings but no glossary entry: they ` +
        "were sent without title, description, CVE or Bugtraq IDs",
    );
  }
  const shortened = `${plural(enc.shortened, "QID")} had text shortened`;
  if (enc.shortened > 0) log?.info(`${shortened} to keep lines within 4000 bytes`);
  if (enc.unknownOs.size > 0) {
    debug?.(
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
    lines: lines + enc.lines,
    results,
    compared: compare && { ...compare.counts },
  };
}
