/**
 * Small Qualys API answers (`SIMPLE_RETURN`, `GENERIC_RETURN`, `REPORT_LIST_OUTPUT`), read with
 * the same strict scanner as the reports.
 *
 * @module
 */

import { type ScanHandler, XmlScanner } from "../xml/scanner.ts";
import { Tag } from "../xml/tags.ts";

/** One REPORT of a report list. */
export interface ReportStatus {
  /** Report ID. */
  id: string;
  /** STATUS/STATE: Running, Submitted, Finished, Canceled, Errors. */
  state: string;
  /** STATUS/MESSAGE, when given. */
  message: string;
  /** STATUS/PERCENT, when given. */
  percent: string;
}

/** What a small Qualys answer says. */
export interface QualysResponse {
  /** The root element's name, or "" when it is not one this client knows. */
  root: "SIMPLE_RETURN" | "GENERIC_RETURN" | "REPORT_LIST_OUTPUT" | "";
  /** CODE (or GENERIC_RETURN's RETURN@number); "" on success. */
  code: string;
  /** TEXT (or the RETURN text). */
  text: string;
  /** ITEM KEY/VALUE pairs. */
  items: [string, string][];
  /** Reports of a REPORT_LIST_OUTPUT. */
  reports: ReportStatus[];
}

class ResponseHandler implements ScanHandler {
  out: QualysResponse = { root: "", code: "", text: "", items: [], reports: [] };
  #key = "";
  #report: ReportStatus | undefined;
  #reportDepth = 0;

  open(id: number, s: XmlScanner): void {
    if (s.depth === 1) {
      this.out.root = id === Tag.SIMPLE_RETURN
        ? "SIMPLE_RETURN"
        : id === Tag.GENERIC_RETURN
        ? "GENERIC_RETURN"
        : id === Tag.REPORT_LIST_OUTPUT
        ? "REPORT_LIST_OUTPUT"
        : "";
      return;
    }
    if (id === Tag.REPORT && !this.#report) {
      this.#report = { id: "", state: "", message: "", percent: "" };
      this.#reportDepth = s.depth;
    } else if (id === Tag.RETURN) {
      this.out.code = s.attr("number") ?? "";
      s.collectText();
    } else if (
      id === Tag.CODE || id === Tag.TEXT || id === Tag.KEY || id === Tag.VALUE ||
      id === Tag.ID || id === Tag.STATE || id === Tag.MESSAGE || id === Tag.PERCENT
    ) s.collectText();
  }

  close(id: number, s: XmlScanner): void {
    const r = this.#report;
    if (r) {
      if (s.depth === this.#reportDepth) {
        this.out.reports.push(r);
        this.#report = undefined;
      } else if (id === Tag.ID && s.depth === this.#reportDepth + 1) r.id = s.text().trim();
      else if (id === Tag.STATE) r.state = s.text().trim();
      else if (id === Tag.MESSAGE) r.message = s.text().trim();
      else if (id === Tag.PERCENT) r.percent = s.text().trim();
      return;
    }
    if (id === Tag.CODE) this.out.code = s.text().trim();
    else if (id === Tag.TEXT || id === Tag.RETURN) this.out.text = s.text().trim();
    else if (id === Tag.KEY) this.#key = s.text().trim();
    else if (id === Tag.VALUE) this.out.items.push([this.#key, s.text().trim()]);
  }
}

/**
 * Parses a small Qualys answer.
 *
 * @throws {ReportSyntaxError} When the body is not well-formed XML.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const r = parseQualysResponse(new TextEncoder().encode(
 *   "<SIMPLE_RETURN><RESPONSE><TEXT>New report launched</TEXT><ITEM_LIST><ITEM><KEY>ID</KEY>" +
 *     "<VALUE>4927942</VALUE></ITEM></ITEM_LIST></RESPONSE></SIMPLE_RETURN>"));
 * assert.deepEqual(r.items, [["ID", "4927942"]]);
 * ```
 */
export function parseQualysResponse(body: Uint8Array): QualysResponse {
  const handler = new ResponseHandler();
  const scanner = new XmlScanner(handler, { bufferSize: Math.max(4096, body.length + 16) });
  scanner.push(body);
  scanner.end();
  return handler.out;
}

/** The value of ITEM `key`, if present. */
export function itemValue(r: QualysResponse, key: string): string | undefined {
  return r.items.find(([k]) => k.toUpperCase() === key.toUpperCase())?.[1];
}
