/**
 * The streaming extractor of an ID list: the Host List's `details=None` answer
 * (`HOST_LIST_OUTPUT/RESPONSE/ID_SET`) and the KnowledgeBase's (`KNOWLEDGE_BASE_VULN_LIST_OUTPUT`),
 * where each `ID` is one ID and each `ID_RANGE` (`lo-hi`) a run of them; with the answer's
 * `DATETIME` and its paging `WARNING`. A Host List answer that lists `HOST_LIST/HOST` elements
 * instead (as with `details=Basic`) gives each host's own `ID`, never a nested one (a tag's). IDs
 * are kept in a typed array, 4 bytes each.
 *
 * @module
 */

import type { StreamParser } from "../../../qualys/stream_body.ts";
import { grow } from "../../../util/bytes.ts";
import { type ScanHandler, XmlScanner } from "../../../xml/scanner.ts";
import { Tag, tagName } from "../../../xml/tags.ts";
import { answerDateTime } from "../../../qualys/datetime.ts";
import { ReturnCollector } from "../../../qualys/simple_return.ts";

/** A parsed ID list. */
export interface IdList {
  /** RESPONSE/DATETIME: a real UTC time (an answer without one is fetched again). */
  datetime: string;
  /** The IDs, in the order given (ranges expanded). */
  ids: Uint32Array;
  /** The paging WARNING, if any. */
  warning: { code: string; text: string; url: string } | undefined;
  /** Bytes of the answer. */
  bytes: number;
}

const TAGS = [
  Tag.RESPONSE,
  Tag.DATETIME,
  Tag.HOST_LIST,
  Tag.HOST,
  Tag.ID_SET,
  Tag.ID,
  Tag.ID_RANGE,
  Tag.WARNING,
  Tag.CODE,
  Tag.TEXT,
  Tag.URL,
];

/** Most IDs one range may stand for (a larger one is not an answer Qualys gives). */
const MAX_RANGE = 10_000_000;

/**
 * The push parser of an ID list whose root is `root` (`HOST_LIST_OUTPUT` or
 * `KNOWLEDGE_BASE_VULN_LIST_OUTPUT`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Tag } from "../../../xml/tags.ts";
 * const parser = new IdListParser(Tag.HOST_LIST_OUTPUT);
 * parser.push(new TextEncoder().encode("<HOST_LIST_OUTPUT><RESPONSE>" +
 *   "<DATETIME>2026-03-02T06:00:00Z</DATETIME>" +
 *   "<ID_SET><ID>7</ID><ID_RANGE>9-11</ID_RANGE></ID_SET></RESPONSE></HOST_LIST_OUTPUT>"));
 * assert.deepEqual([...parser.end().ids], [7, 9, 10, 11]);
 * ```
 */
export class IdListParser implements ScanHandler, StreamParser<IdList> {
  #scanner: XmlScanner;
  #root: number;
  #kind: "" | "list" | "return" = "";
  #return = new ReturnCollector();
  #ids = new Uint32Array(1024);
  #count = 0;
  #datetime = "";
  #warning: IdList["warning"];
  #inResponse = false;
  #in = 0; // the RESPONSE child it is in: Tag.ID_SET, Tag.WARNING, Tag.HOST_LIST (0: another)
  #inHost = false; // in HOST_LIST/HOST

  /** A parser for an answer whose root element is the tag `root`. */
  constructor(root: number) {
    this.#root = root;
    this.#scanner = new XmlScanner(this, { tags: [], bufferSize: 64 << 10 });
  }

  /** Feeds the next chunk. */
  push(chunk: Uint8Array): void {
    this.#scanner.push(chunk);
  }

  /** Nothing to let go of. */
  abort(): void {}

  /**
   * Ends the input and returns the list.
   *
   * @throws {ReportSyntaxError} When the answer is not well-formed, truncated or another document.
   * @throws {QualysApiError} When it is a Qualys error.
   * @throws {WrongAnswer} When its RESPONSE/DATETIME is missing or not a UTC time.
   */
  end(): IdList {
    this.#scanner.end();
    if (this.#kind === "return") throw this.#return.error();
    return {
      datetime: answerDateTime(this.#datetime),
      ids: this.#ids.subarray(0, this.#count),
      warning: this.#warning,
      bytes: this.#scanner.offset,
    };
  }

  /** @internal Scanner callback. */
  open(id: number, s: XmlScanner): void {
    const d = s.depth;
    if (d === 1) {
      if (id === this.#root) {
        this.#kind = "list";
        s.reportTags(TAGS);
      } else if (id === Tag.SIMPLE_RETURN || id === Tag.GENERIC_RETURN) {
        this.#kind = "return";
        this.#return.start(s);
      } else {
        throw s.errorHere(`Not an ID list: the root element is not ${tagName(this.#root)}`);
      }
      return;
    }
    if (this.#kind === "return") return this.#return.open(id, s);
    // Read only where they belong (RESPONSE's DATETIME, ID_SET, WARNING; the IDs of ID_SET; a
    // Host List's HOST_LIST/HOST/ID): the same names elsewhere (a REQUEST's DATETIME, a tag's
    // ID) and every element not read, at any depth, are skipped.
    if (d === 2) {
      if (id === Tag.RESPONSE) this.#inResponse = true;
    } else if (!this.#inResponse) return;
    else if (d === 3) {
      if (id === Tag.ID_SET) this.#in = Tag.ID_SET;
      else if (id === Tag.HOST_LIST && this.#root === Tag.HOST_LIST_OUTPUT) {
        this.#in = Tag.HOST_LIST;
      } else if (id === Tag.WARNING) {
        this.#in = Tag.WARNING;
        this.#warning = { code: "", text: "", url: "" };
      } else if (id === Tag.DATETIME) s.collectText();
    } else if (d === 4) {
      if (this.#in === Tag.ID_SET && (id === Tag.ID || id === Tag.ID_RANGE)) s.collectText();
      else if (this.#in === Tag.WARNING) s.collectText();
      else if (this.#in === Tag.HOST_LIST && id === Tag.HOST) this.#inHost = true;
    } else if (d === 5 && this.#inHost && id === Tag.ID) s.collectText();
  }

  /** @internal Scanner callback. */
  close(id: number, s: XmlScanner): void {
    const d = s.depth;
    if (this.#kind === "return") return this.#return.close(id, s);
    if (d === 2) {
      if (id === Tag.RESPONSE) this.#inResponse = false;
    } else if (!this.#inResponse) return;
    else if (d === 3) {
      if (id === Tag.DATETIME && this.#in === 0) this.#datetime = s.text().trim();
      this.#in = 0;
    } else if (d === 4) {
      if (this.#in === Tag.ID_SET && id === Tag.ID) this.#id(s);
      else if (this.#in === Tag.ID_SET && id === Tag.ID_RANGE) {
        const m = /^\s*(\d{1,10})\s*-\s*(\d{1,10})\s*$/.exec(s.text());
        const lo = Number(m?.[1]), hi = Number(m?.[2]);
        if (!m || hi < lo || hi > 0xffffffff || hi - lo >= MAX_RANGE) {
          throw s.errorHere(`An ID_RANGE is not lo-hi: ${s.text().slice(0, 40)}`);
        }
        this.#push(lo, hi);
      } else if (this.#in === Tag.WARNING) {
        const w = this.#warning!;
        if (id === Tag.CODE) w.code = s.text().trim();
        else if (id === Tag.TEXT) w.text = s.text().trim();
        else if (id === Tag.URL) w.url = s.text().trim();
      } else if (id === Tag.HOST) this.#inHost = false;
    } else if (d === 5 && this.#inHost && id === Tag.ID) this.#id(s);
  }

  #id(s: XmlScanner): void {
    const v = s.textInt();
    if (v < 0 || v > 0xffffffff) throw s.errorHere(`An ID is not a number: ${s.text()}`);
    this.#push(v, v);
  }

  #push(lo: number, hi: number): void {
    const need = this.#count + (hi - lo + 1);
    if (need > this.#ids.length) this.#ids = grow(this.#ids, need, this.#count);
    for (let v = lo; v <= hi; v++) this.#ids[this.#count++] = v;
  }
}
