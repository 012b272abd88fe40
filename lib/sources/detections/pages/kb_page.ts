/**
 * The streaming extractor of a KnowledgeBase answer with `details=All`
 * (`KNOWLEDGE_BASE_VULN_LIST_OUTPUT`, docs/qualys_api.md section 7): for each `VULN` its QID,
 * TITLE, DIAGNOSIS (the description, HTML as given: the encoder removes it, as THREAT's from a
 * report), `CVE_LIST/CVE/ID`, `BUGTRAQ_LIST/BUGTRAQ/ID` and LAST_SERVICE_MODIFICATION_DATETIME.
 * Keep-alive comments and unknown elements are skipped. Entries are kept as the KB cache's
 * lines ({@linkcode KbEntry} as JSON, one a line) until the answer ends whole.
 *
 * @module
 */

import type { StreamParser } from "../../../qualys/stream_body.ts";
import { grow } from "../../../util/bytes.ts";
import { type ScanHandler, XmlScanner } from "../../../xml/scanner.ts";
import { Tag } from "../../../xml/tags.ts";
import { answerDateTime } from "../../../qualys/datetime.ts";
import { ReturnCollector } from "../../../qualys/simple_return.ts";

/** One KnowledgeBase entry, as the cache keeps it (short keys: it is one JSON line). */
export interface KbEntry {
  /** QID. */
  q: number;
  /** LAST_SERVICE_MODIFICATION_DATETIME ("" when absent). */
  m: string;
  /** TITLE. */
  t: string;
  /** DIAGNOSIS, HTML as given ("" when absent). */
  d: string;
  /** CVE IDs as given. */
  c: string[];
  /** Bugtraq IDs as given. */
  b: string[];
}

/** A parsed answer. */
export interface KbPage {
  /** RESPONSE/DATETIME: a real UTC time (an answer without one is fetched again). */
  datetime: string;
  /** The QIDs of the entries, in answer order. */
  qids: number[];
  /** The entries as cache lines (JSON, `\n`-terminated). */
  lines: Uint8Array;
  /** Bytes of the answer. */
  bytes: number;
}

const TAGS = [
  Tag.RESPONSE,
  Tag.DATETIME,
  Tag.VULN_LIST,
  Tag.VULN,
  Tag.QID,
  Tag.TITLE,
  Tag.DIAGNOSIS,
  Tag.LAST_SERVICE_MODIFICATION_DATETIME,
  Tag.CVE_LIST,
  Tag.BUGTRAQ_LIST,
  Tag.CVE,
  Tag.BUGTRAQ,
  Tag.ID,
];
const enc = new TextEncoder();

/**
 * The push parser of one KnowledgeBase answer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const parser = new KbPageParser();
 * parser.push(new TextEncoder().encode(
 *   "<KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE><DATETIME>2026-03-02T06:00:00Z</DATETIME>" +
 *     "<!-- keep-alive --><VULN_LIST><VULN><QID>6</QID><TITLE><![CDATA[DNS Host Name]]></TITLE>" +
 *     "<CVE_LIST><CVE><ID>CVE-2024-1</ID></CVE></CVE_LIST><DIAGNOSIS>The <B>name</B></DIAGNOSIS>" +
 *     "</VULN></VULN_LIST></RESPONSE></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>",
 * ));
 * const page = parser.end();
 * assert.deepEqual(page.qids, [6]);
 * assert.deepEqual(JSON.parse(new TextDecoder().decode(page.lines)),
 *   { q: 6, m: "", t: "DNS Host Name", d: "The name", c: ["CVE-2024-1"], b: [] });
 * ```
 */
export class KbPageParser implements ScanHandler, StreamParser<KbPage> {
  #scanner: XmlScanner;
  #kind: "" | "kb" | "return" = "";
  #return = new ReturnCollector();
  #datetime = "";
  #qids: number[] = [];
  #lines: Uint8Array = new Uint8Array(64 << 10);
  #length = 0;
  #vulnDepth = 0;
  #in = 0; // 1 inside RESPONSE, 2 inside RESPONSE/VULN_LIST
  #list = 0; // Tag.CVE_LIST or Tag.BUGTRAQ_LIST while inside one
  #item = false; // inside one of its CVE (BUGTRAQ) items
  #entry: KbEntry = { q: -1, m: "", t: "", d: "", c: [], b: [] };

  /**
   * Creates a parser for one answer; `lines` is a buffer to reuse for the entries (the
   * answer's `lines` is a view of it, valid until it is reused).
   */
  constructor(options: { lines?: Uint8Array | undefined } = {}) {
    this.#scanner = new XmlScanner(this, { tags: [], bufferSize: 64 << 10 });
    if (options.lines) this.#lines = options.lines;
  }

  /** The entries' buffer (grown as needed), for the next parser to reuse. */
  get buffer(): Uint8Array {
    return this.#lines;
  }

  /** Feeds the next chunk. */
  push(chunk: Uint8Array): void {
    this.#scanner.push(chunk);
  }

  /** Nothing to let go of. */
  abort(): void {}

  /**
   * Ends the input and returns the entries.
   *
   * @throws {ReportSyntaxError} When the answer is not well-formed, truncated or another document.
   * @throws {QualysApiError} When it is a Qualys error.
   * @throws {WrongAnswer} When its RESPONSE/DATETIME is missing or not a UTC time.
   */
  end(): KbPage {
    this.#scanner.end();
    if (this.#kind === "return") throw this.#return.error();
    return {
      datetime: answerDateTime(this.#datetime),
      qids: this.#qids,
      lines: this.#lines.subarray(0, this.#length),
      bytes: this.#scanner.offset,
    };
  }

  /** @internal Scanner callback. */
  open(id: number, s: XmlScanner): void {
    const d = s.depth;
    if (d === 1) {
      if (id === Tag.KNOWLEDGE_BASE_VULN_LIST_OUTPUT) {
        this.#kind = "kb";
        s.reportTags(TAGS);
      } else if (id === Tag.SIMPLE_RETURN || id === Tag.GENERIC_RETURN) {
        this.#kind = "return";
        this.#return.start(s);
      } else {
        throw s.errorHere(
          "Not a KnowledgeBase answer: the root element is not KNOWLEDGE_BASE_VULN_LIST_OUTPUT",
        );
      }
      return;
    }
    if (this.#kind === "return") return this.#return.open(id, s);
    // Read only where they belong (RESPONSE/VULN_LIST/VULN and its direct children, the IDs of
    // CVE_LIST/CVE and BUGTRAQ_LIST/BUGTRAQ): the same names elsewhere, and every element not
    // read, at any depth, are skipped.
    const v = this.#vulnDepth;
    if (v === 0) {
      if (d === 2) {
        if (id === Tag.RESPONSE) this.#in = 1;
      } else if (d === 3 && this.#in === 1) {
        if (id === Tag.DATETIME) s.collectText();
        else if (id === Tag.VULN_LIST) this.#in = 2;
      } else if (d === 4 && this.#in === 2 && id === Tag.VULN) {
        this.#vulnDepth = d;
        this.#entry = { q: -1, m: "", t: "", d: "", c: [], b: [] };
        this.#list = 0;
        this.#item = false;
      }
      return;
    }
    if (d === v + 1) {
      if (id === Tag.CVE_LIST || id === Tag.BUGTRAQ_LIST) this.#list = id;
      else if (
        id === Tag.QID || id === Tag.TITLE || id === Tag.DIAGNOSIS ||
        id === Tag.LAST_SERVICE_MODIFICATION_DATETIME
      ) s.collectText();
    } else if (d === v + 2 && this.#list !== 0) {
      this.#item = id === (this.#list === Tag.CVE_LIST ? Tag.CVE : Tag.BUGTRAQ);
    } else if (d === v + 3 && id === Tag.ID && this.#item) s.collectText();
  }

  /** @internal Scanner callback. */
  close(id: number, s: XmlScanner): void {
    const d = s.depth;
    if (this.#kind === "return") return this.#return.close(id, s);
    const v = this.#vulnDepth;
    if (v === 0) {
      if (d === 2 && id === Tag.RESPONSE) this.#in = 0;
      else if (d === 3 && this.#in !== 0) {
        if (id === Tag.DATETIME) this.#datetime = s.text().trim();
        else if (id === Tag.VULN_LIST) this.#in = 1;
      }
      return;
    }
    const e = this.#entry;
    if (d === v) {
      this.#vulnDepth = 0;
      if (e.q < 0) throw s.errorHere("A KnowledgeBase VULN has no QID");
      this.#qids.push(e.q);
      this.#append(enc.encode(JSON.stringify(e) + "\n"));
    } else if (d === v + 1) {
      if (id === Tag.QID) e.q = s.textInt();
      else if (id === Tag.TITLE) e.t = s.text();
      else if (id === Tag.DIAGNOSIS) e.d = s.text();
      else if (id === Tag.LAST_SERVICE_MODIFICATION_DATETIME) e.m = s.text().trim();
      else if (id === this.#list) this.#list = 0;
    } else if (d === v + 2) this.#item = false;
    else if (d === v + 3 && id === Tag.ID && this.#item) {
      const value = s.text().trim();
      if (value) (this.#list === Tag.CVE_LIST ? e.c : e.b).push(value);
    }
  }

  #append(bytes: Uint8Array): void {
    if (this.#length + bytes.length > this.#lines.length) {
      this.#lines = grow(this.#lines, this.#length + bytes.length, this.#length);
    }
    this.#lines.set(bytes, this.#length);
    this.#length += bytes.length;
  }
}
