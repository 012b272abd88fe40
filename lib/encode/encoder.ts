/**
 * Host input command encoding (docs/output.md; docs/host_input.md, sections 2, 3 and 5):
 * `SetSource`, then per host with findings an optional `AddHost`, an optional `SetOS`, one
 * `AddScanResult` per finding and `ScanFlush`; per host listed without open findings (they come
 * last) `DeleteScanResult` and `ScanUpdate`. Written as bytes into a reusable buffer. No clock
 * or logging; no I/O but the optional text spool (a temp file) (`textSpool`).
 *
 * Each QID's glossary part (`,"title","description","cve_ids: …","bugtraq_ids: …"\n`) is built
 * once and reused while it stays in a cache of bounded size (`qidCacheBytes`, oldest out
 * first), so memory does not grow with the number of distinct QIDs; a QID that left the cache
 * is read back from the text spool, or else built again, to the same bytes. It is fitted so that the line stays within `maxLineBytes`
 * even for the longest possible prefix (an IPv6 address, a 5-digit port), so a QID reads the
 * same on every host: the description is shortened first, then CVE and Bugtraq IDs are dropped
 * (from the end of the longer list), then the title is shortened.
 *
 * @module
 */

import type { Glossary, HostFindings } from "../findings/finding_source.ts";
import { clearHostLines } from "../host_input/grammar.ts";
import { grow } from "../util/bytes.ts";
import { REPORT_MEMORY } from "../util/memory.ts";
import { mapOs } from "./os_map.ts";
import { cleanBugtraqIds, cleanCveIds, sanitizeField, sanitizeHtml } from "./sanitize.ts";
import { type QidText, QidTextCache } from "./_qid_text_cache.ts";
import { QidDigests } from "./_qid_digests.ts";
import { Murmur128 } from "../util/murmur.ts";

/** Options for {@linkcode CommandEncoder}. */
export interface EncodeOptions {
  /** The `SetSource` name. @default {"QualysGuard Scan Report"} */
  sourceName?: string;
  /** The AddScanResult scanner id. @default {"QualysGuard"} */
  scannerName?: string;
  /** Emit `AddHost,<ip>` before each host's results. @default {false} */
  addHost?: boolean;
  /**
   * A host without open findings (`count` 0) loses this scanner's results on the Defense
   * Center: `DeleteScanResult,<ip>,"<scanner>"` and `ScanUpdate`. @default {true}
   */
  clearCleanHosts?: boolean;
  /** Emit `SetOS` for each host with results whose OS the mapping table knows. @default {false} */
  setOs?: boolean;
  /** Longest line in bytes, newline included. @default {4000} */
  maxLineBytes?: number;
  /**
   * Bytes of encoded QID text kept for reuse; past it the QIDs built first are dropped, and
   * read back from the text spool (`textSpool`) or built again (to the same bytes) when next found.
   * @default {REPORT_MEMORY.qidCacheBytes}
   */
  qidCacheBytes?: number;
  /**
   * Keep the texts dropped from that cache in a 0600 temp file in `tempDir`, to read them back
   * instead of building them again (ten times faster); {@linkcode CommandEncoder.dispose}
   * removes it. @default none: they are built again
   */
  textSpool?: { tempDir?: string | undefined } | undefined;
  /** The Defense Center domain: `SetDomain,<domain>` heads the commands. @default none */
  domain?: string | undefined;
}

/** Options for {@linkcode CommandEncoder.encodeHostInParts}. */
export interface EncodeInPartsOptions {
  /** Pause after a line that leaves `out` holding at least this many bytes. @default {983040} */
  flushAt?: number;
}

/**
 * The layout of a host block, in every digest the record of a destination keeps
 * (`hostDigest`): when a change to this module writes other bytes for the same findings, this
 * number goes up, so that the next run sends every host once (their digests all differ) instead
 * of leaving the old lines at the destination until the rolling refresh.
 * `tests/encode/host_digest_test.ts` pins one block's bytes with its digest to catch a change
 * that forgets it.
 */
export const BLOCK_FORMAT = 1;
const encoder = new TextEncoder();
const MAX_IP = 39; // longest IPv6 text without zone

/** A growable byte buffer for command text. */
export class ByteBuffer {
  /** The bytes; only `[0, length)` is meaningful. */
  bytes: Uint8Array;
  /** Number of bytes written. */
  length = 0;

  /** Creates a buffer of the given initial capacity. */
  constructor(capacity = 1 << 20) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n > this.bytes.length) {
      this.bytes = grow(this.bytes, this.length + n, this.length);
    }
  }

  /** Appends bytes. */
  append(b: Uint8Array): void {
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }

  /** The written bytes as a view (valid until the next write or `clear`). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  /** Forgets the content. */
  clear(): void {
    this.length = 0;
  }
}

/**
 * Encodes hosts into command text: the lines of one host at a time, appended to a
 * {@linkcode ByteBuffer}, with each QID's and each port's bytes built once per run.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const enc = new CommandEncoder(new Map(), { addHost: true });
 * const out = new ByteBuffer(1024);
 * out.append(enc.header());
 * enc.encodeHost({ ip: "10.0.0.1", count: 1, qids: new Uint32Array([82003]),
 *   ports: new Uint16Array([0]), protos: new Uint8Array([0]) }, out);
 * assert.equal(new TextDecoder().decode(out.view()),
 *   "SetSource,QualysGuard Scan Report\nAddHost,10.0.0.1\n" +
 *   'AddScanResult,10.0.0.1,"QualysGuard",82003,,,"","","cve_ids:","bugtraq_ids:"\n' +
 *   "ScanFlush\n");
 * ```
 */
export class CommandEncoder {
  readonly #glossary: Glossary;
  readonly #scanner: string;
  readonly #source: string;
  readonly #addHost: boolean;
  readonly #clear: boolean;
  readonly #setOs: boolean;
  readonly #maxLine: number;
  // QID → text, at most `qidCacheBytes` of it, in one arena (oldest out first).
  readonly #qidText: QidTextCache;
  // QIDs already counted in `shortened` or `missingGlossary`, so that one built again is not.
  readonly #counted = new Set<number>();
  readonly #domain: string | undefined;
  readonly #portText = new Map<number, Uint8Array>();
  // Direct-mapped caches in front of the two maps (a Map lookup per line showed in profiles).
  // A QID in #qidKeys is always in #qidText too: dropped from there, it is dropped here. A slot
  // holds the text's tail only (`<qid>,` is written from the number): one view of the arena a
  // QID, not an object and two views (8,192 slots: 1.4 MiB less heap).
  readonly #qidKeys = new Float64Array(QID_CACHE).fill(-1);
  readonly #qidVals: (Uint8Array | undefined)[] = new Array(QID_CACHE);
  readonly #portKeys = new Int32Array(PORT_CACHE).fill(-1);
  readonly #portVals: Uint8Array[] = new Array(PORT_CACHE);
  readonly #addScanResult = encoder.encode("AddScanResult,");
  readonly #addHostBytes = encoder.encode("AddHost,");
  readonly #scanFlush = encoder.encode("ScanFlush\n");
  readonly #scannerPart: Uint8Array;
  #prefix: Uint8Array;
  /** Number of QIDs whose text had to be shortened to fit a line. */
  shortened = 0;
  /** Number of QIDs that have findings but no glossary entry (sent without text or IDs). */
  missingGlossary = 0;
  /** Hosts encoded with results. */
  hostsWithResults = 0;
  /** Hosts without open findings that were cleared (DeleteScanResult and ScanUpdate). */
  hostsCleared = 0;
  /** Lines of the hosts encoded (not the header's). */
  lines = 0;
  /** Operating systems: hosts with SetOS, hosts whose OS the table does not know, hosts without OS data. */
  readonly os: { set: number; unknown: number; missing: number } = {
    set: 0,
    unknown: 0,
    missing: 0,
  };
  /** Some OS texts the table does not know (at most 20, for the log). */
  readonly unknownOs: Set<string> = new Set();
  readonly #osText = new Map<string, Uint8Array | null>();
  // hostDigest's: the hash, the QID texts' digests, what every block shares, room for an IP.
  readonly #hash = new Murmur128();
  readonly #tailDigests = new QidDigests();
  #shared: number[] | undefined;
  readonly #ipBytes = new Uint8Array(MAX_IP * 3);

  /** Creates an encoder over a parsed report's glossary (a `Map` will do). */
  constructor(glossary: Glossary, options: EncodeOptions = {}) {
    this.#glossary = glossary;
    this.#qidText = new QidTextCache(options.qidCacheBytes ?? REPORT_MEMORY.qidCacheBytes, {
      spool: options.textSpool,
    });
    this.#scanner = sanitizeField(options.scannerName ?? "QualysGuard");
    this.#source = sanitizeField(options.sourceName ?? "QualysGuard Scan Report");
    this.#addHost = options.addHost ?? false;
    this.#clear = options.clearCleanHosts ?? true;
    this.#setOs = options.setOs ?? false;
    this.#maxLine = options.maxLineBytes ?? 4000;
    this.#domain = options.domain;
    this.#scannerPart = encoder.encode(`,"${this.#scanner}",`);
    this.#prefix = this.#newPrefix(MAX_IP);
  }

  /** Removes the text spool (`textSpool`), if one was made. Safe to call twice. */
  dispose(): void {
    this.#qidText.dispose();
  }

  /**
   * The first lines: `SetDomain,<domain>\n` when a domain is set (before SetSource: the module
   * looks the source up in the current domain), then `SetSource,<source name>\n`.
   */
  header(): Uint8Array {
    const domain = this.#domain === undefined ? "" : `SetDomain,${this.#domain}\n`;
    return encoder.encode(`${domain}SetSource,${this.#source}\n`);
  }

  /**
   * Appends one host's lines to `out`: AddHost?, SetOS?, AddScanResult…, ScanFlush; for a host
   * without findings DeleteScanResult and ScanUpdate (or nothing, when clearing is off).
   */
  encodeHost(host: HostFindings, out: ByteBuffer): void {
    const parts = this.encodeHostInParts(host, out, { flushAt: Infinity });
    while (!parts.next().done) { /* it never pauses */ }
  }

  /**
   * Appends one host's lines as {@linkcode CommandEncoder.encodeHost} does, pausing (yielding)
   * after each line that leaves `out` holding `flushAt` bytes or more, so that the caller can
   * hand those bytes on and clear `out` before it resumes: a host with 100,000 findings needs
   * no 200 MB buffer. The bytes are the same however often it pauses, and the host's
   * `ScanFlush` comes after its last line.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * const enc = new CommandEncoder(new Map());
   * const host = { ip: "10.0.0.1", count: 3, qids: new Uint32Array([1, 2, 3]),
   *   ports: new Uint16Array(3), protos: new Uint8Array(3) };
   * const out = new ByteBuffer(1024);
   * const parts: string[] = [];
   * for (const _ of enc.encodeHostInParts(host, out, { flushAt: 1 })) {
   *   parts.push(new TextDecoder().decode(out.view())); // a sink would write these bytes
   *   out.clear();
   * }
   * parts.push(new TextDecoder().decode(out.view()));
   * assert.equal(parts.length, 3);
   * assert.equal(parts.join(""), new TextDecoder().decode(
   *   (() => { const all = new ByteBuffer(); enc.encodeHost(host, all); return all.view(); })()));
   * assert.ok(parts[2]!.endsWith("ScanFlush\n"));
   * ```
   */
  *encodeHostInParts(
    host: HostFindings,
    out: ByteBuffer,
    options: EncodeInPartsOptions = {},
  ): Generator<void, void, void> {
    const { flushAt = 960 << 10 } = options;
    if (host.count === 0) {
      this.#encodeClear(host, out);
      return;
    }
    this.hostsWithResults++;
    // `AddScanResult,<ip>,"<scanner>",` once per host
    let prefix = this.#prefix;
    if (host.ip.length > MAX_IP) prefix = this.#prefix = this.#newPrefix(host.ip.length * 3);
    let p = this.#addScanResult.length;
    p += encoder.encodeInto(host.ip, prefix.subarray(p)).written;
    prefix.set(this.#scannerPart, p);
    p += this.#scannerPart.length;
    if (this.#addHost) {
      out.append(this.#addHostBytes);
      out.append(prefix.subarray(this.#addScanResult.length, p - this.#scannerPart.length));
      out.append(NEWLINE);
    }
    const setOs = this.#setOs && this.#encodeSetOs(host, out);
    for (let k = 0; k < host.count;) {
      k = this.#addScanResults(host, out, { from: k, prefixBytes: p, flushAt });
      if (k < host.count) yield;
    }
    out.append(this.#scanFlush);
    this.lines += host.count + 1 + (this.#addHost ? 1 : 0) + (setOs ? 1 : 0);
  }

  /**
   * Writes at `out[at]` the 8-byte digest of the block {@linkcode CommandEncoder.encodeHost}
   * writes for `host`, without writing it: what the ledger records and compares. It is made of
   * everything that fixes the block's bytes (the header, the address, the scanner name,
   * `AddHost`, the `SetOS` text, and per line the QID, the port and protocol, and the digest of
   * the QID's text), so it changes whenever a byte of the block would, and it costs a few
   * multiplications a line. A clear's is its two lines' (not the `SetSourceType` that may come
   * before the first one). Counts nothing. Returns false when the host has no block (a host
   * without findings while clearing is off).
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * const enc = new CommandEncoder(new Map([[6, { qid: 6, title: "t", description: "", cves: [],
   *   bugtraqs: [] }]]));
   * const host = (port: number) => ({ ip: "10.0.0.1", count: 1, qids: Uint32Array.of(6),
   *   ports: Uint16Array.of(port), protos: Uint8Array.of(port ? 1 : 0) });
   * const a = new Uint8Array(8), b = new Uint8Array(8), c = new Uint8Array(8);
   * assert.equal(enc.hostDigest(host(22), a), true);
   * enc.hostDigest(host(22), b);
   * enc.hostDigest(host(23), c);
   * assert.deepEqual(a, b);
   * assert.notDeepEqual(a, c);
   * ```
   */
  hostDigest(host: HostFindings, out: Uint8Array, at = 0): boolean {
    const m = this.#hash;
    const shared = this.#shared ??= this.#sharedWords();
    m.reset(0);
    if (host.count === 0) {
      if (!this.#clear) return false;
      m.words4(shared[0]!, shared[1]!, shared[2]!, shared[3]!);
      m.word(1);
      m.update(encoder.encode(clearHostLines(host.ip, this.#scanner)));
      m.digestInto(out, at);
      return true;
    }
    const ip = host.ip.length <= MAX_IP
      ? this.#ipBytes.subarray(0, encoder.encodeInto(host.ip, this.#ipBytes).written)
      : encoder.encode(host.ip);
    m.words4(shared[4]!, shared[5]!, shared[6]!, shared[7]!);
    m.word(2);
    m.word(ip.length);
    m.update(ip);
    const os = this.#setOs ? this.#osTail(host) : null;
    m.word(os === null ? 0 : os.length + 1);
    if (os) m.update(os);
    m.word(host.count);
    m.pad();
    const digests = this.#tailDigests;
    const qidKeys = this.#qidKeys;
    for (let k = 0; k < host.count; k++) {
      const qid = host.qids[k]!;
      const s = digests.find(qid);
      let d1: number, d2: number;
      if (s >= 0) {
        d1 = digests.first(s);
        d2 = digests.second(s);
      } else {
        const qs = qid & (QID_CACHE - 1);
        const tail = qidKeys[qs] === qid ? this.#qidVals[qs]! : this.#qidTextOf(qid, qs).tail;
        [d1, d2] = this.#tailHash(tail) as [number, number];
        digests.set(qid, d1, d2);
      }
      const proto = host.protos[k]!; // no protocol: no port either (#makePortText)
      m.words4(qid, proto ? host.ports[k]! * 4 + proto : 0, d1, d2);
    }
    m.digestInto(out, at);
    return true;
  }

  // What the blocks of this encoder share: a clear's the header (its lines name their scanner);
  // a block with results's the header, the scanner name and AddHost (whether a SetOS line is
  // written, and the texts as fitted to the line length, are each block's own).
  #sharedWords(): number[] {
    const m = new Murmur128(0);
    m.word(BLOCK_FORMAT);
    m.update(this.header());
    const clears = m.words();
    m.word(0);
    m.update(this.#scannerPart);
    m.word(this.#addHost ? 1 : 0);
    return [...clears, ...m.words()];
  }

  #tailHash(tail: Uint8Array): number[] {
    const m = new Murmur128(0x51f15e);
    m.update(tail);
    return m.words();
  }

  // Appends the host's AddScanResult lines from finding `from` on, up to the end or to the first
  // line that leaves `out` holding `flushAt` bytes; returns the next finding. The hot loop stays
  // a plain method, out of the generator.
  #addScanResults(
    host: HostFindings,
    out: ByteBuffer,
    { from, prefixBytes: p, flushAt }: { from: number; prefixBytes: number; flushAt: number },
  ): number {
    const prefix = this.#prefix;
    const qidKeys = this.#qidKeys, qidVals = this.#qidVals;
    const portKeys = this.#portKeys, portVals = this.#portVals;
    for (let k = from; k < host.count; k++) {
      const qid = host.qids[k]!;
      const qs = qid & (QID_CACHE - 1);
      const tail = qidKeys[qs] === qid ? qidVals[qs]! : this.#qidTextOf(qid, qs).tail;
      const portKey = host.ports[k]! * 4 + host.protos[k]!;
      const ps = portKey & (PORT_CACHE - 1);
      const port = portKeys[ps] === portKey ? portVals[ps]! : this.#portTextOf(portKey, ps);
      out.reserve(p + QID_BYTES + port.length + tail.length);
      const b = out.bytes;
      let n = out.length;
      for (let j = 0; j < p; j++) b[n++] = prefix[j]!;
      n = putQid(b, n, qid);
      for (let j = 0; j < port.length; j++) b[n++] = port[j]!;
      b.set(tail, n);
      out.length = n + tail.length;
      if (out.length >= flushAt) return k + 1;
    }
    return host.count;
  }

  /**
   * Encodes a host to lines of text (without newlines); convenient for tests and logs.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * const glossary = new Map([[38170, { qid: 38170, title: "SSL, weak", description: "<P>Bad</P>",
   *   cves: ["CVE-2014-0160"], bugtraqs: ["66690"] }]]);
   * const enc = new CommandEncoder(glossary);
   * const lines = enc.encodeHostToLines({ ip: "10.1.2.3", count: 1,
   *   qids: new Uint32Array([38170]), ports: new Uint16Array([443]), protos: new Uint8Array([1]) });
   * assert.deepEqual(lines, [
   *   'AddScanResult,10.1.2.3,"QualysGuard",38170,443,tcp,"SSL weak","Bad","cve_ids: CVE-2014-0160","bugtraq_ids: 66690"',
   *   "ScanFlush",
   * ]);
   * ```
   */
  encodeHostToLines(host: HostFindings): string[] {
    const out = new ByteBuffer(4096);
    this.encodeHost(host, out);
    return new TextDecoder().decode(out.view()).split("\n").slice(0, -1);
  }

  // `DeleteScanResult,<ip>,"<scanner>"` and `ScanUpdate`: the host's results from this scanner
  // go (docs/host_input.md, section 5: ScanUpdate runs the queued deletes). Before the first one,
  // when no host with results came before it in this run, `SetSourceType,Scanner` and
  // `SetSource,<scanner>`: the FMC creates a scanner it does not know with the kind of the first
  // command that names it, and a DeleteScanResult would make it one without vulnerability
  // results, whose vulnerabilities later deletes would never remove; SetSource makes it one with.
  #encodeClear(host: HostFindings, out: ByteBuffer): void {
    if (!this.#clear) return;
    if (this.hostsCleared++ === 0 && this.hostsWithResults === 0) {
      out.append(encoder.encode(`SetSourceType,Scanner\nSetSource,${this.#scanner}\n`));
    }
    out.append(encoder.encode(clearHostLines(host.ip, this.#scanner)));
    this.lines += this.hostsCleared === 1 && this.hostsWithResults === 0 ? 4 : 2;
  }

  // `SetOS,<ip>,"<vendor>","<product>"[,"<version>"]` from the host's OS text or CPE
  // (`os_map.ts`); nothing when the table does not know it. Returns whether a line was written.
  #encodeSetOs(host: HostFindings, out: ByteBuffer): boolean {
    if (host.os === undefined && host.osCpe === undefined) {
      this.os.missing++;
      return false;
    }
    const tail = this.#osTail(host);
    if (tail === null) {
      this.os.unknown++;
      if (this.unknownOs.size < 20) this.unknownOs.add(host.os ?? host.osCpe ?? "");
      return false;
    }
    this.os.set++;
    out.append(SET_OS);
    out.append(encoder.encode(host.ip));
    out.append(tail);
    return true;
  }

  // The SetOS line after `SetOS,<ip>`: `,"<vendor>","<product>"[,"<version>"]\n`; null when the
  // host has no OS data or the table does not know it.
  #osTail(host: HostFindings): Uint8Array | null {
    if (host.os === undefined && host.osCpe === undefined) return null;
    const key = `${host.osCpe ?? ""}\n${host.os ?? ""}`;
    let tail = this.#osText.get(key);
    if (tail === undefined) {
      const name = mapOs(host.os, host.osCpe);
      const fields = name && [name.vendor, name.product, name.version ?? ""]
        .map((f) => sanitizeField(f).slice(0, 100));
      tail = fields && fields[0] && fields[1]
        ? encoder.encode(
          `,"${fields[0]}","${fields[1]}"${fields[2] ? `,"${fields[2]}"` : ""}\n`,
        )
        : null;
      if (this.#osText.size >= 4096) this.#osText.clear();
      this.#osText.set(key, tail);
    }
    return tail;
  }

  // Room for `AddScanResult,<ip>,"<scanner>",` with an IP of up to `ipBytes` bytes.
  #newPrefix(ipBytes: number): Uint8Array {
    const prefix = new Uint8Array(this.#addScanResult.length + ipBytes + this.#scannerPart.length);
    prefix.set(this.#addScanResult);
    return prefix;
  }

  #qidTextOf(qid: number, slot: number): QidText {
    const text = this.#qidText.get(qid, this.#dropSlot);
    if (text === undefined) {
      const shortened = this.shortened, missing = this.missingGlossary;
      const built = this.#makeQidText(qid);
      if (this.shortened !== shortened || this.missingGlossary !== missing) {
        if (this.#counted.has(qid)) { // built before and dropped since: counted then
          this.shortened = shortened;
          this.missingGlossary = missing;
        } else this.#counted.add(qid);
      }
      // Kept in the cache, but in a slot only from its second line on: a QID found once (in a
      // report of many QIDs, many are) then leaves no object behind to outlive the young
      // generation, and the JS heap does not grow with the number of QIDs.
      return this.#qidText.put(qid, built, this.#dropSlot) ?? built;
    }
    this.#qidKeys[slot] = qid;
    this.#qidVals[slot] = text.tail;
    return text;
  }

  readonly #dropSlot = (qid: number): void => {
    const slot = qid & (QID_CACHE - 1);
    if (this.#qidKeys[slot] === qid) {
      this.#qidKeys[slot] = -1;
      this.#qidVals[slot] = undefined;
    }
  };

  #portTextOf(key: number, slot: number): Uint8Array {
    const text = this.#portText.get(key) ?? this.#makePortText(key);
    this.#portKeys[slot] = key;
    this.#portVals[slot] = text;
    return text;
  }

  // `<port>,<protocol>` or `,` (what goes between `<qid>,` and the tail's `,"<title>"…`)
  #makePortText(key: number): Uint8Array {
    const proto = key & 3, port = key >> 2;
    const text = encoder.encode(proto === 0 ? "," : `${port},${proto === 1 ? "tcp" : "udp"}`);
    this.#portText.set(key, text);
    return text;
  }

  #makeQidText(qid: number): QidText {
    const entry = this.#glossary.get(qid);
    if (!entry) this.missingGlossary++;
    let title = sanitizeField(entry?.title ?? "");
    let desc = sanitizeHtml(entry?.description ?? "");
    const cves = cleanCveIds(entry?.cves ?? []);
    const bids = cleanBugtraqIds(entry?.bugtraqs ?? []);
    // Worst-case prefix: AddScanResult,<ip>,"<scanner>",<qid>,<65535>,<tcp>
    const prefix = this.#addScanResult.length + MAX_IP + this.#scannerPart.length +
      String(qid).length + 1 + 5 + 1 + 3;
    const fixed = () =>
      prefix + 2 + title.length + 3 + desc.length + 3 + idField("cve_ids:", cves).length + 3 +
      idField("bugtraq_ids:", bids).length + 2; // `,"` … `","` … `"\n`
    const over = fixed() - this.#maxLine;
    if (over > 0) {
      this.shortened++;
      desc = shorten(desc, over);
      // Then IDs, from the end of the longer list (CVEs on a tie), until the line fits: the title
      // is what a person reads the finding by, so it goes last. Each drop takes its ID and one
      // space off the line: counted, not re-joined, so that 40,000 IDs take one pass.
      let excess = fixed() - this.#maxLine, c = cves.length, b = bids.length;
      while (excess > 0 && (c > 0 || b > 0)) {
        excess -= (c >= b ? cves[--c]! : bids[--b]!).length + 1;
      }
      cves.length = c;
      bids.length = b;
      title = shorten(title, fixed() - this.#maxLine);
    }
    const tail = encoder.encode(
      `,"${title}","${desc}","${idField("cve_ids:", cves)}","${idField("bugtraq_ids:", bids)}"\n`,
    );
    return { head: encoder.encode(`${qid},`), tail };
  }
}

const NEWLINE = new Uint8Array([10]);
const SET_OS = encoder.encode("SetOS,");
const QID_CACHE = 1 << 13;
const QID_BYTES = 11; // `4294967295,`

// `<qid>,` (a 32-bit QID in decimal) at `b[n]`; returns where it ends.
function putQid(b: Uint8Array, n: number, qid: number): number {
  let end = n + 1;
  for (let v = qid; v >= 10; v = Math.floor(v / 10)) end++;
  for (let v = qid, i = end - 1; i >= n; i--, v = Math.floor(v / 10)) b[i] = 48 + v % 10;
  b[end] = 44;
  return end + 1;
}
const PORT_CACHE = 1 << 10;

function idField(header: string, ids: readonly string[]): string {
  return ids.length === 0 ? header : `${header} ${ids.join(" ")}`;
}

// Cuts `over` characters (plus room for "...") from the end of an ASCII string.
function shorten(s: string, over: number): string {
  if (over <= 0) return s;
  const keep = s.length - over - 3;
  return keep > 0 ? `${s.slice(0, keep).trimEnd()}...` : "";
}
