/**
 * Streaming parser for Qualys vulnerability reports: `ASSET_DATA_REPORT` (what a report template
 * gives) and `SCAN` (scan-1.dtd). It keeps per-host findings in a compact spool and the glossary
 * in a packed store (both spill to 0600 temp files past a limit), so it does not depend on
 * whether the glossary comes before or after the hosts, nor on how many QIDs it holds; the
 * hosts are replayed once the whole report has parsed cleanly. A `SIMPLE_RETURN` /
 * `GENERIC_RETURN` body is reported as the Qualys error it is.
 *
 * @module
 */

import { QualysApiError, ReportSyntaxError } from "../errors.ts";
import { describeQualysError } from "../qualys/describe_error.ts";
import { type HostAddress, IpRangeSet, parseHostAddress } from "../config/ip_ranges.ts";
import { type ByteReader, type ScanHandler, XmlScanner } from "../xml/scanner.ts";
import { FindingSpool, type HostFindings } from "../findings/finding_spool.ts";
import type { FindingSource, Glossary, GlossaryEntry } from "../findings/finding_source.ts";
import { GlossaryStore } from "../findings/glossary_store.ts";
import { Tag } from "../xml/tags.ts";
import { grow } from "../util/bytes.ts";

export type { ByteReader, Glossary, GlossaryEntry, HostFindings };
export { IpRangeSet };

/** The two report formats. */
export type ReportFormat = "ASSET_DATA_REPORT" | "SCAN";

/** Counts gathered while parsing, for the summary line. */
export interface ReportStats {
  /** HOST (or SCAN IP) elements seen. */
  hosts: number;
  /** Hosts with findings that will be sent. */
  hostsKept: number;
  /** Hosts outside `ip_ranges`. */
  hostsOutOfRange: number;
  /** Hosts whose address is missing or invalid. */
  hostsInvalid: number;
  /** Hosts without any finding to send. */
  hostsEmpty: number;
  /** Findings kept (one AddScanResult each). */
  findings: number;
  /** Findings skipped because their VULN_STATUS is Fixed. */
  fixed: number;
  /** Findings that repeat (host, QID, port, protocol). */
  duplicates: number;
  /** Findings without a usable QID. */
  noQid: number;
  /** Glossary entries. */
  glossary: number;
  /** Bytes of report read. */
  bytes: number;
}

/** Options for {@linkcode ReportParser} and {@linkcode parseReport}. */
export interface ParseReportOptions {
  /** Only hosts inside these ranges are kept. @default all hosts */
  ipRanges?: IpRangeSet | undefined;
  /** Receives warnings (invalid host addresses, missing QIDs). @default ignore them */
  onWarning?: ((message: string) => void) | undefined;
  /** Directory for the spool's temp file. @default the system temp directory */
  tempDir?: string | undefined;
  /** Spool bytes kept in memory before spilling to disk. @default {2097152} */
  spoolMemoryLimit?: number | undefined;
  /** Packed glossary bytes kept in memory before spilling to disk. @default {16777216} */
  glossaryMemoryLimit?: number | undefined;
}

/** A fully parsed report: its glossary, counts, and the hosts to replay. */
export class ParsedReport implements FindingSource {
  /** Which format the report was. */
  readonly format: ReportFormat;
  /** QID → glossary entry (packed; each `get` decodes the entry anew). */
  readonly glossary: Glossary;
  /** Counts. */
  readonly stats: Readonly<ReportStats>;
  #spool: FindingSpool;
  #glossary: GlossaryStore;

  /** @internal Made by {@linkcode ReportParser.end}. */
  constructor(
    format: ReportFormat,
    glossary: GlossaryStore,
    stats: ReportStats,
    spool: FindingSpool,
  ) {
    this.format = format;
    this.glossary = this.#glossary = glossary;
    this.stats = stats;
    this.#spool = spool;
  }

  /** Calls `onHost` for each kept host, in report order. The views are reused between calls. */
  forEachHost(onHost: (host: HostFindings) => Promise<void> | void): Promise<void> {
    return this.#spool.replay(onHost);
  }

  /**
   * Removes the temp files of the spool and the glossary and lets go of the findings and the
   * glossary (which empties), so that their memory can be reclaimed while the commands are
   * sent. Safe to call twice.
   */
  dispose(): void {
    this.#spool.dispose();
    this.#glossary.dispose();
  }
}

const MAX_WARNINGS = 20;

// The elements each kind of document's extractor acts on: the scanner reports only these
// (and the root), not RESULT, TYPE, FIRST_FOUND and the like.
const ADR_TAGS = [
  Tag.HOST,
  Tag.IP,
  Tag.VULN_INFO,
  Tag.QID,
  Tag.PORT,
  Tag.PROTOCOL,
  Tag.VULN_STATUS,
  Tag.VULN_DETAILS,
  Tag.TITLE,
  Tag.THREAT,
  Tag.CVE_ID_LIST,
  Tag.BUGTRAQ_ID_LIST,
  Tag.ID,
];
const SCAN_TAGS = [
  Tag.IP,
  Tag.CAT,
  Tag.VULN,
  Tag.INFO,
  Tag.SERVICE,
  Tag.PRACTICE,
  Tag.QID,
  Tag.TITLE,
  Tag.DIAGNOSIS,
  Tag.CVE_ID_LIST,
  Tag.BUGTRAQ_ID_LIST,
  Tag.ID,
];
const RETURN_TAGS = [Tag.CODE, Tag.TEXT, Tag.KEY, Tag.VALUE, Tag.RETURN];
const ADR = 1, SCAN = 2, RETURN = 3;

/**
 * The push parser: `push()` chunks of any size, then `end()`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const xml = `<ASSET_DATA_REPORT><HOST_LIST><HOST><IP>10.0.0.1</IP><VULN_INFO_LIST>
 *   <VULN_INFO><QID id="qid_6">6</QID><TYPE>Ig</TYPE></VULN_INFO></VULN_INFO_LIST></HOST>
 *   </HOST_LIST></ASSET_DATA_REPORT>`;
 * const parser = new ReportParser();
 * parser.push(new TextEncoder().encode(xml));
 * const report = parser.end();
 * assert.equal(report.stats.findings, 1);
 * report.dispose();
 * ```
 */
export class ReportParser implements ScanHandler {
  #scanner: XmlScanner;
  #options: ParseReportOptions;
  #spool: FindingSpool;
  #format: ReportFormat | "SIMPLE_RETURN" | "GENERIC_RETURN" | "" = "";
  #kind = 0; // ADR, SCAN or RETURN once the root is known
  #glossary: GlossaryStore;
  #stats: ReportStats = {
    hosts: 0,
    hostsKept: 0,
    hostsOutOfRange: 0,
    hostsInvalid: 0,
    hostsEmpty: 0,
    findings: 0,
    fixed: 0,
    duplicates: 0,
    noQid: 0,
    glossary: 0,
    bytes: 0,
  };
  #warnings = 0;

  // current host
  #hostDepth = 0;
  #hostIp: string | undefined;
  #count = 0;
  #qids = new Uint32Array(256);
  #ports = new Uint16Array(256);
  #protos = new Uint8Array(256);
  #seen = new Set<number>();

  // current VULN_INFO (ADR) or CAT (SCAN)
  #viDepth = 0;
  #qid = -1;
  #port = 0;
  #proto = 0;
  #isFixed = false;
  #catDepth = 0;

  // current glossary entry (ADR VULN_DETAILS, SCAN VULN/INFO/SERVICE/PRACTICE)
  #vdDepth = 0;
  #vdQid = -1;
  #building = false;
  #title = "";
  #description = new Uint8Array(4096); // UTF-8, checked; reused from entry to entry
  #descriptionBytes = 0;
  #cves: string[] = [];
  #bugtraqs: string[] = [];
  #listKind = 0; // Tag.CVE_ID_LIST or Tag.BUGTRAQ_ID_LIST while inside one
  #cveAttr = "";

  // SIMPLE_RETURN / GENERIC_RETURN
  #code = "";
  #text = "";
  #items: [string, string][] = [];
  #itemKey = "";

  /** Creates a parser. */
  constructor(options: ParseReportOptions = {}) {
    this.#options = options;
    this.#scanner = new XmlScanner(this, { tags: [] }); // the root picks the tags
    this.#spool = new FindingSpool({
      ...(options.tempDir ? { tempDir: options.tempDir } : {}),
      ...(options.spoolMemoryLimit ? { memoryLimit: options.spoolMemoryLimit } : {}),
    });
    this.#glossary = new GlossaryStore({
      ...(options.tempDir ? { tempDir: options.tempDir } : {}),
      ...(options.glossaryMemoryLimit !== undefined
        ? { memoryLimit: options.glossaryMemoryLimit }
        : {}),
    });
  }

  /** Feeds the next chunk. */
  push(chunk: Uint8Array): void {
    this.#guard(() => this.#scanner.push(chunk));
  }

  /** Gives up on the input: lets go of the findings and glossary so far (and their temp files). */
  abort(): void {
    this.#dispose();
  }

  /** Reads `reader` to its end (into the parser's own buffer) and returns the result. */
  async readFrom(reader: ByteReader): Promise<ParsedReport> {
    try {
      await this.#scanner.readFrom(reader);
    } catch (error) {
      this.#dispose();
      throw error;
    }
    return this.end();
  }

  /** Ends the input; returns the parsed report or throws what is wrong with it. */
  end(): ParsedReport {
    this.#guard(() => this.#scanner.end());
    this.#stats.bytes = this.#scanner.offset;
    if (this.#format === "SIMPLE_RETURN" && this.#code === "") {
      // no CODE: Qualys's answer to a request that worked (report deleted, launched...)
      this.#spool.dispose();
      throw new ReportSyntaxError(
        `The input is a Qualys API answer${this.#text ? ` (${JSON.stringify(this.#text)})` : ""}` +
          ", not a report: a SIMPLE_RETURN without a CODE is what Qualys answers to a request" +
          " that succeeded",
        0,
        0,
      );
    }
    if (this.#format === "SIMPLE_RETURN" || this.#format === "GENERIC_RETURN") {
      this.#dispose();
      throw new QualysApiError(
        `${describeQualysError({ code: this.#code, text: this.#text, items: this.#items })}` +
          ` (the input is a Qualys ${this.#format} error response, not a report)`,
        { code: this.#code },
      );
    }
    this.#stats.glossary = this.#glossary.size;
    return new ParsedReport(
      this.#format as ReportFormat,
      this.#glossary,
      this.#stats,
      this.#spool,
    );
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#dispose();
      throw error;
    }
  }

  #dispose(): void {
    this.#spool.dispose();
    this.#glossary.dispose();
  }

  #warn(message: string): void {
    if (!this.#options.onWarning) return;
    this.#warnings++;
    if (this.#warnings <= MAX_WARNINGS) this.#options.onWarning(message);
    else if (this.#warnings === MAX_WARNINGS + 1) {
      this.#options.onWarning("More warnings like these are not shown");
    }
  }

  /** @internal Scanner callback. */
  open(id: number, s: XmlScanner): void {
    const d = s.depth;
    const kind = this.#kind;
    if (kind === ADR) this.#openAdr(id, d, s);
    else if (d === 1) this.#setFormat(id, s);
    else if (kind === SCAN) this.#openScan(id, d, s);
    else this.#openReturn(id, s);
  }

  /** @internal Scanner callback. */
  close(id: number, s: XmlScanner): void {
    const kind = this.#kind;
    if (kind === ADR) this.#closeAdr(id, s.depth, s);
    else if (kind === SCAN) this.#closeScan(id, s.depth, s);
    else if (kind === RETURN) this.#closeReturn(id, s);
  }

  #setFormat(id: number, s: XmlScanner): void {
    if (id === Tag.ASSET_DATA_REPORT) this.#format = "ASSET_DATA_REPORT";
    else if (id === Tag.SCAN) this.#format = "SCAN";
    else if (id === Tag.SIMPLE_RETURN) this.#format = "SIMPLE_RETURN";
    else if (id === Tag.GENERIC_RETURN) this.#format = "GENERIC_RETURN";
    else {
      throw s.errorHere(
        "Not a Qualys vulnerability report: the root element is not ASSET_DATA_REPORT or SCAN " +
          "(use a scan report template with XML output)",
      );
    }
    this.#kind = id === Tag.ASSET_DATA_REPORT ? ADR : id === Tag.SCAN ? SCAN : RETURN;
    s.reportTags(this.#kind === ADR ? ADR_TAGS : this.#kind === SCAN ? SCAN_TAGS : RETURN_TAGS);
  }

  // ---- ASSET_DATA_REPORT ----

  #openAdr(id: number, d: number, s: XmlScanner): void {
    if (this.#hostDepth !== 0) {
      if (this.#viDepth !== 0) {
        if (
          d === this.#viDepth + 1 &&
          (id === Tag.QID || id === Tag.PORT || id === Tag.PROTOCOL || id === Tag.VULN_STATUS)
        ) s.collectText();
        return;
      }
      if (id === Tag.VULN_INFO) {
        this.#viDepth = d;
        this.#qid = -1;
        this.#port = 0;
        this.#proto = 0;
        this.#isFixed = false;
      } else if (id === Tag.IP && d === this.#hostDepth + 1) s.collectText();
      return;
    }
    if (this.#vdDepth !== 0) return this.#openDetail(id, d, s, Tag.THREAT);
    if (id === Tag.HOST) {
      this.#startHost(d);
    } else if (id === Tag.VULN_DETAILS) {
      this.#startDetail(d, qidFromIdAttr(s.attr("id")));
    }
  }

  #closeAdr(id: number, d: number, s: XmlScanner): void {
    if (this.#hostDepth !== 0) {
      if (this.#viDepth !== 0) {
        if (d === this.#viDepth + 1) {
          if (id === Tag.QID) this.#qid = s.textInt();
          else if (id === Tag.PORT) this.#port = s.textInt();
          else if (id === Tag.PROTOCOL) this.#proto = s.textIs("tcp") ? 1 : s.textIs("udp") ? 2 : 0;
          else if (id === Tag.VULN_STATUS) this.#isFixed = s.textIs("fixed");
        } else if (d === this.#viDepth) {
          this.#viDepth = 0;
          if (this.#isFixed) this.#stats.fixed++;
          else this.#addFinding(this.#qid, this.#port, this.#proto);
        }
        return;
      }
      if (id === Tag.IP && d === this.#hostDepth + 1) this.#hostIp = s.text();
      else if (d === this.#hostDepth) this.#endHost();
      return;
    }
    if (this.#vdDepth !== 0) this.#closeDetail(id, d, s, Tag.THREAT);
  }

  // ---- SCAN (scan-1.dtd) ----

  #openScan(id: number, d: number, s: XmlScanner): void {
    if (this.#hostDepth === 0) {
      if (id === Tag.IP && d === 2) {
        this.#startHost(d);
        this.#hostIp = s.attr("value");
      }
      return;
    }
    if (this.#vdDepth !== 0) {
      if (this.#building) this.#openDetail(id, d, s, Tag.DIAGNOSIS);
      return;
    }
    if (id === Tag.CAT) {
      this.#catDepth = d;
      const port = s.attr("port");
      const proto = s.attr("protocol")?.trim().toLowerCase();
      this.#port = port !== undefined && /^\s*\d{1,5}\s*$/.test(port) ? Number(port) : 0;
      this.#proto = proto === "tcp" ? 1 : proto === "udp" ? 2 : 0;
    } else if (
      this.#catDepth !== 0 && d === this.#catDepth + 1 &&
      (id === Tag.VULN || id === Tag.INFO || id === Tag.SERVICE || id === Tag.PRACTICE)
    ) {
      const number = s.attr("number");
      const qid = number !== undefined && /^\s*\d{1,9}\s*$/.test(number) ? Number(number) : -1;
      this.#qid = qid;
      this.#startDetail(d, qid);
      this.#building = qid >= 0 && !this.#glossary.has(qid);
      this.#cveAttr = this.#building ? (s.attr("cveid") ?? "") : "";
    }
  }

  #closeScan(id: number, d: number, s: XmlScanner): void {
    if (this.#hostDepth === 0) return;
    if (this.#vdDepth !== 0) {
      if (d === this.#vdDepth) {
        if (this.#building && this.#cves.length === 0 && this.#cveAttr) {
          this.#cves = this.#cveAttr.split(",").map((c) => c.trim()).filter((c) => c);
        }
        if (this.#building) this.#closeDetail(id, d, s, Tag.DIAGNOSIS);
        this.#vdDepth = 0;
        this.#building = false;
        this.#addFinding(this.#qid, this.#port, this.#proto);
      } else if (this.#building) this.#closeDetail(id, d, s, Tag.DIAGNOSIS);
      return;
    }
    if (id === Tag.CAT && d === this.#catDepth) {
      this.#catDepth = 0;
      this.#port = 0;
      this.#proto = 0;
    } else if (d === this.#hostDepth) this.#endHost();
  }

  // ---- glossary entries (both formats) ----

  #startDetail(d: number, qid: number): void {
    this.#vdDepth = d;
    this.#vdQid = qid;
    this.#title = "";
    this.#descriptionBytes = 0;
    this.#cves = [];
    this.#bugtraqs = [];
    this.#listKind = 0;
  }

  #openDetail(id: number, d: number, s: XmlScanner, descriptionTag: number): void {
    const rel = d - this.#vdDepth;
    if (rel === 1) {
      if (id === Tag.QID || id === Tag.TITLE || id === descriptionTag) s.collectText();
      else if (id === Tag.CVE_ID_LIST || id === Tag.BUGTRAQ_ID_LIST) this.#listKind = id;
    } else if (rel === 3 && this.#listKind !== 0 && id === Tag.ID) s.collectText();
  }

  #closeDetail(id: number, d: number, s: XmlScanner, descriptionTag: number): void {
    const rel = d - this.#vdDepth;
    if (rel === 0) {
      this.#vdDepth = 0;
      const qid = this.#vdQid;
      if (qid < 0) {
        this.#warn("A glossary entry has no QID and is ignored");
        return;
      }
      this.#glossary.add({ // the first entry for a QID wins
        qid,
        title: this.#title,
        description: this.#description.subarray(0, this.#descriptionBytes),
        cves: this.#cves,
        bugtraqs: this.#bugtraqs,
      });
    } else if (rel === 1) {
      if (id === Tag.QID && this.#vdQid < 0) this.#vdQid = s.textInt();
      else if (id === Tag.TITLE) this.#title = s.text();
      else if (id === descriptionTag) {
        s.text(); // invalid UTF-8 is an error here, where its line is known
        const bytes = s.textBytes();
        this.#description = grow(this.#description, bytes.length, 0);
        this.#description.set(bytes);
        this.#descriptionBytes = bytes.length;
      } else if (id === this.#listKind) this.#listKind = 0;
    } else if (rel === 3 && id === Tag.ID && this.#listKind !== 0) {
      const value = s.text().trim();
      if (value) (this.#listKind === Tag.CVE_ID_LIST ? this.#cves : this.#bugtraqs).push(value);
    }
  }

  // ---- hosts and findings ----

  #startHost(d: number): void {
    this.#hostDepth = d;
    this.#hostIp = undefined;
    this.#count = 0;
    this.#seen.clear();
    this.#stats.hosts++;
  }

  #addFinding(qid: number, port: number, proto: number): void {
    if (qid < 0 || qid > 0xffffffff) {
      this.#stats.noQid++;
      this.#warn("A finding without a valid QID is skipped");
      return;
    }
    if (proto === 0 || port < 1 || port > 65535) {
      port = 0;
      proto = 0;
    }
    if (this.#isDuplicate(qid, port, proto)) {
      this.#stats.duplicates++;
      return;
    }
    if (this.#count === this.#qids.length) this.#growHost();
    const k = this.#count++;
    this.#qids[k] = qid;
    this.#ports[k] = port;
    this.#protos[k] = proto;
  }

  // Small hosts are checked by a scan of their findings; big ones through a Set.
  #isDuplicate(qid: number, port: number, proto: number): boolean {
    const count = this.#count;
    if (count < 64) {
      const q = this.#qids, p = this.#ports, r = this.#protos;
      for (let k = 0; k < count; k++) {
        if (q[k] === qid && p[k] === port && r[k] === proto) return true;
      }
      return false;
    }
    if (this.#seen.size === 0) {
      for (let k = 0; k < count; k++) {
        this.#seen.add(this.#qids[k]! * 262144 + this.#ports[k]! * 4 + this.#protos[k]!);
      }
    }
    const key = qid * 262144 + port * 4 + proto;
    if (this.#seen.has(key)) return true;
    this.#seen.add(key);
    return false;
  }

  #growHost(): void {
    const need = this.#qids.length + 1;
    this.#qids = grow(this.#qids, need);
    this.#ports = grow(this.#ports, need);
    this.#protos = grow(this.#protos, need);
  }

  #endHost(): void {
    this.#hostDepth = 0;
    const count = this.#count;
    const raw = this.#hostIp;
    let addr: HostAddress | undefined;
    if (raw === undefined || !(addr = parseHostAddress(raw))) {
      this.#stats.hostsInvalid++;
      this.#warn(
        raw === undefined
          ? `A host without an IP address is skipped (${count} finding(s))`
          : `Host ${JSON.stringify(raw.slice(0, 60))} is not a valid IP address: skipped`,
      );
      return;
    }
    if (this.#options.ipRanges && !this.#options.ipRanges.contains(addr)) {
      this.#stats.hostsOutOfRange++;
      return;
    }
    if (count === 0) {
      this.#stats.hostsEmpty++;
      return;
    }
    this.#stats.hostsKept++;
    this.#stats.findings += count;
    this.#spool.addHost(addr.text, count, this.#qids, this.#ports, this.#protos);
  }

  // ---- SIMPLE_RETURN / GENERIC_RETURN ----

  #openReturn(id: number, s: XmlScanner): void {
    if (id === Tag.CODE || id === Tag.TEXT || id === Tag.KEY || id === Tag.VALUE) {
      s.collectText();
    } else if (id === Tag.RETURN) {
      this.#code = s.attr("number") ?? "";
      const status = s.attr("status");
      if (status) this.#items.push(["status", status]);
      s.collectText();
    }
  }

  #closeReturn(id: number, s: XmlScanner): void {
    if (id === Tag.CODE) this.#code = s.text().trim();
    else if (id === Tag.TEXT || id === Tag.RETURN) this.#text = s.text().trim();
    else if (id === Tag.KEY) this.#itemKey = s.text().trim();
    else if (id === Tag.VALUE) this.#items.push([this.#itemKey, s.text().trim()]);
  }
}

function qidFromIdAttr(id: string | undefined): number {
  const m = id === undefined ? null : /^\s*qid_(\d{1,9})\s*$/.exec(id);
  return m ? Number(m[1]) : -1;
}

/**
 * Parses a whole report from a reader (a file, stdin) or an async iterable of chunks (a fetch
 * body). Throws {@linkcode ReportSyntaxError} (exit 4) or, for a Qualys error body,
 * `QualysApiError` (exit 3).
 */
export async function parseReport(
  source: ByteReader | AsyncIterable<Uint8Array>,
  options: ParseReportOptions = {},
): Promise<ParsedReport> {
  const parser = new ReportParser(options);
  if ("read" in source) return await parser.readFrom(source);
  for await (const chunk of source) parser.push(chunk);
  return parser.end();
}

export { ReportSyntaxError };
