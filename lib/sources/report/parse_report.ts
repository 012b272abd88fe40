/**
 * Streaming parser for Qualys vulnerability reports: `ASSET_DATA_REPORT` (what a report template
 * gives) and `SCAN` (scan-1.dtd). It keeps per-host findings in a compact spool and the glossary
 * in a packed store (both go to 0600 temp files past a limit), so it does not depend on
 * whether the glossary comes before or after the hosts, nor on how many QIDs it holds; the
 * hosts are replayed once the whole report has parsed cleanly. An address listed in several
 * HOST elements is one host (its findings merged, docs/output.md); a host listed
 * without open findings is kept too, as one to clear. A `SIMPLE_RETURN` / `GENERIC_RETURN` body
 * is reported as the Qualys error it is.
 *
 * @module
 */

import { QualysApiError, ReportSyntaxError } from "../../errors.ts";
import { describeQualysError, ReturnCollector } from "../../qualys/simple_return.ts";
import { IpRangeSet } from "../../config/ip_ranges.ts";
import { type ByteReader, type ScanHandler, XmlScanner } from "../../xml/scanner.ts";
import { FindingSpool, type HostFindings } from "../../findings/finding_spool.ts";
import type { Glossary, GlossaryEntry } from "../../findings/finding_source.ts";
import { GlossaryStore } from "../../findings/glossary_store.ts";
import { emptyHostStats, HostCollector, type ListingInfo } from "../../findings/host_collector.ts";
import { Tag } from "../../xml/tags.ts";
import {
  ParsedReport,
  type ParseReportOptions,
  type ReportFormat,
  type ReportStats,
} from "./parsed_report.ts";
import { grow } from "../../util/bytes.ts";
import { HeapWatch } from "../../util/memory.ts";

export type { ByteReader, Glossary, GlossaryEntry, HostFindings, ParseReportOptions, ReportFormat };
export type { ReportStats };
export { IpRangeSet, ParsedReport };

const MAX_WARNINGS = 20;
const MAX_PORT_WARNINGS = 10;

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
const OS_TAGS = [Tag.OPERATING_SYSTEM, Tag.OS, Tag.OS_CPE];
const ADR = 1, SCAN = 2, RETURN = 3;
// A glossary entry's TITLE and description (THREAT, DIAGNOSIS) are kept up to 1 MiB each, the
// rest read and dropped: the encoder fits a QID's texts into one 4,000-byte line (shortening the
// description first, then the title), so no more of them is ever written, and a text block of
// 100 MB costs no more memory than this.
const QID_TEXT_LIMIT = 1 << 20;

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
    ...emptyHostStats(),
    hosts: 0,
    fixed: 0,
    invalidPorts: 0,
    noQid: 0,
    glossary: 0,
    bytes: 0,
  };
  #warnings = 0;
  #heap: HeapWatch;

  // current host
  #hostDepth = 0;
  #hostIp: string | undefined;
  #hosts: HostCollector;
  #networkId: number | undefined;
  #os: string | undefined;
  #osCpe: string | undefined;
  #info: ListingInfo = { os: undefined, osCpe: undefined, networkId: undefined };

  // current VULN_INFO (ADR) or CAT (SCAN)
  #viDepth = 0;
  #qid = -1;
  #port = 0;
  #proto = 0;
  #isFixed = false;
  #portBad = ""; // the port text when it is not 1-65535 (the finding is sent without a port)
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
  #return = new ReturnCollector({ returnStatus: true });

  /** Creates a parser. */
  constructor(options: ParseReportOptions = {}) {
    this.#options = options;
    this.#heap = new HeapWatch({ heapSlack: options.heapSlack });
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
    this.#hosts = new HostCollector(this.#spool, this.#stats, {
      ipRanges: options.ipRanges,
      warn: (m) => this.#warn(m),
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
    const r = this.#return.out;
    if (this.#format === "SIMPLE_RETURN" && r.code === "") {
      // no CODE: Qualys's answer to a request that worked (report deleted, launched...)
      this.#spool.dispose();
      throw new ReportSyntaxError(
        `The input is a Qualys API answer${r.text ? ` (${JSON.stringify(r.text)})` : ""}` +
          ", not a report: a SIMPLE_RETURN without a CODE is what Qualys answers to a request" +
          " that succeeded",
        0,
        0,
      );
    }
    if (this.#format === "SIMPLE_RETURN" || this.#format === "GENERIC_RETURN") {
      this.#dispose();
      throw new QualysApiError(
        `${describeQualysError(r)}` +
          ` (the input is a Qualys ${this.#format} error response, not a report)`,
        { code: r.code },
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

  // A HOST's IP: the first one when a HOST lists several (warned: which one is meant is unknown).
  #readIp(ip: string): void {
    if (this.#hostIp === undefined) {
      this.#hostIp = ip;
      return;
    }
    const show = (t: string) => JSON.stringify(t.length > 60 ? `${t.slice(0, 60)}...` : t);
    this.#warn(
      `A HOST lists more than one IP (${show(this.#hostIp)}, then ${show(ip)}): its findings ` +
        `go to the first, ${show(this.#hostIp)}`,
    );
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
    else this.#return.open(id, s);
  }

  /** @internal Scanner callback. */
  close(id: number, s: XmlScanner): void {
    const kind = this.#kind;
    if (kind === ADR) this.#closeAdr(id, s.depth, s);
    else if (kind === SCAN) this.#closeScan(id, s.depth, s);
    else if (kind === RETURN) this.#return.close(id, s);
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
    if (this.#kind === RETURN) return this.#return.start(s);
    const tags = this.#kind === ADR ? ADR_TAGS : SCAN_TAGS;
    s.reportTags(this.#options.collectOs ? [...tags, ...OS_TAGS] : tags);
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
        this.#portBad = "";
      } else if (d === this.#hostDepth + 1) {
        if (id === Tag.IP) {
          s.collectText();
          if (this.#hostIp === undefined) this.#networkId = networkIdOf(s.attrInt("network_id"));
        } else if (id === Tag.OPERATING_SYSTEM || id === Tag.OS || id === Tag.OS_CPE) {
          s.collectText(); // reported only when OS data is collected
        }
      }
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
          else if (id === Tag.PORT) this.#readPort(s);
          else if (id === Tag.PROTOCOL) this.#proto = s.textIs("tcp") ? 1 : s.textIs("udp") ? 2 : 0;
          else if (id === Tag.VULN_STATUS) this.#isFixed = s.textIs("fixed");
        } else if (d === this.#viDepth) {
          this.#viDepth = 0;
          if (this.#isFixed) this.#stats.fixed++;
          else this.#addFinding(this.#qid, this.#port, this.#proto);
        }
        return;
      }
      if (d === this.#hostDepth + 1) {
        if (id === Tag.IP) this.#readIp(s.text());
        else if (id === Tag.OS_CPE) this.#osCpe = s.text().trim();
        else if (id === Tag.OPERATING_SYSTEM || id === Tag.OS) this.#os ??= s.text().trim();
      } else if (d === this.#hostDepth) this.#endHost();
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
        this.#networkId = networkIdOf(s.attrInt("network_id"));
      }
      return;
    }
    if (this.#vdDepth !== 0) {
      if (this.#building) this.#openDetail(id, d, s, Tag.DIAGNOSIS);
      return;
    }
    if (id === Tag.CAT) {
      this.#catDepth = d;
      const port = s.attr("port")?.trim() ?? "";
      const proto = s.attr("protocol")?.trim().toLowerCase();
      this.#port = /^\d{1,5}$/.test(port) ? Number(port) : 0;
      this.#portBad = port !== "" && !(this.#port >= 1 && this.#port <= 65535) ? port : "";
      this.#proto = proto === "tcp" ? 1 : proto === "udp" ? 2 : 0;
    } else if (d === this.#hostDepth + 1 && (id === Tag.OS || id === Tag.OS_CPE)) {
      s.collectText(); // reported only when OS data is collected
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
      this.#portBad = "";
    } else if (d === this.#hostDepth + 1 && id === Tag.OS) this.#os ??= s.text().trim();
    else if (d === this.#hostDepth + 1 && id === Tag.OS_CPE) this.#osCpe = s.text().trim();
    else if (d === this.#hostDepth) this.#endHost();
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
      if (id === Tag.QID) s.collectText();
      else if (id === Tag.TITLE || id === descriptionTag) s.collectText(QID_TEXT_LIMIT);
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
    this.#hosts.start();
    this.#networkId = undefined;
    this.#os = undefined;
    this.#osCpe = undefined;
    this.#stats.hosts++;
  }

  #addFinding(qid: number, port: number, proto: number): void {
    if (qid < 0 || qid > 0xffffffff) {
      this.#stats.noQid++;
      this.#warn("A finding without a valid QID is skipped");
      return;
    }
    if (this.#portBad !== "") this.#badPort(qid);
    if (proto === 0 || port < 1 || port > 65535) {
      port = 0;
      proto = 0;
    }
    this.#hosts.add(qid, port, proto);
  }

  #endHost(): void {
    this.#hostDepth = 0;
    const info = this.#info; // one object for every host: no garbage per host
    info.os = this.#os;
    info.osCpe = this.#osCpe;
    info.networkId = this.#networkId;
    this.#hosts.end(this.#hostIp, info);
    this.#heap.tick();
  }

  #readPort(s: XmlScanner): void {
    const port = s.textInt();
    this.#port = port;
    if (port >= 1 && port <= 65535) return;
    const text = s.text().trim();
    if (text !== "") this.#portBad = text;
  }

  #badPort(qid: number): void {
    const n = ++this.#stats.invalidPorts;
    const warn = this.#options.onWarning;
    if (!warn || n > MAX_PORT_WARNINGS + 1) return;
    if (n > MAX_PORT_WARNINGS) {
      warn("More findings with an invalid port are not shown: the summary counts them");
      return;
    }
    const host = this.#hostIp === undefined ? "a host" : JSON.stringify(this.#hostIp.slice(0, 60));
    warn(
      `QID ${qid} on ${host} has port ${JSON.stringify(this.#portBad.slice(0, 20))}, ` +
        "not 1-65535: it is sent without a port",
    );
  }
}

// A Qualys network id (`network_id` of IP, up to 9 digits); undefined when absent or not digits.
function networkIdOf(value: number): number | undefined {
  return value >= 0 && value <= 999_999_999 ? value : undefined;
}

function qidFromIdAttr(id: string | undefined): number {
  const m = id === undefined ? null : /^\s*qid_(\d{1,9})\s*$/.exec(id);
  return m ? Number(m[1]) : -1;
}

/**
 * Parses a whole report from a reader (a file, stdin) or an async iterable of chunks (a fetch
 * body). Throws {@linkcode ReportSyntaxError} (exit 4) or, for a Qualys error body,
 * `QualysApiError` (exit 3).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const file = await Deno.open("fixtures/sample_report.xml");
 * const report = await parseReport(file);
 * try {
 *   assert.equal(report.format, "ASSET_DATA_REPORT");
 *   assert.equal(report.stats.findings, 23);
 *   const ips: string[] = [];
 *   await report.forEachHost((host) => void ips.push(host.ip));
 *   assert.equal(ips.length, report.stats.hostsKept + report.stats.hostsEmpty);
 * } finally {
 *   report.dispose();
 *   file.close();
 * }
 * ```
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
