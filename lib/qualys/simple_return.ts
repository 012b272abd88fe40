/**
 * The one reader of what a Qualys `SIMPLE_RETURN` (or v1 `GENERIC_RETURN`) says, read with the
 * same strict scanner as the reports: its CODE, TEXT and ITEMs ({@linkcode ReturnCollector}, which
 * the extractors of reports, pages and lists use when their body turns out to be one), small
 * whole answers (`SIMPLE_RETURN`, `GENERIC_RETURN`, `REPORT_LIST_OUTPUT`:
 * {@linkcode parseQualysResponse}), and the one place that turns CODE and TEXT into a message that
 * says what to fix ({@linkcode describeQualysError}; docs/qualys_api.md, section 4; docs/troubleshooting.md).
 *
 * @module
 */

import { QualysApiError } from "../errors.ts";
import { type ScanHandler, XmlScanner } from "../xml/scanner.ts";
import { Tag } from "../xml/tags.ts";

/** The parts of a Qualys error response. */
export interface QualysErrorBody {
  /** CODE (API v2) or RETURN@number (v1); empty when absent. */
  code: string;
  /** TEXT, or the RETURN text. */
  text: string;
  /** ITEM KEY/VALUE pairs. */
  items: readonly (readonly [string, string])[];
}

/**
 * Returns a one-line message for a Qualys error, ending with the fix.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const msg = describeQualysError({ code: "2000", text: "Bad Login/Password", items: [] });
 * assert.match(msg, /check user_id and password/);
 * ```
 */
export function describeQualysError(body: QualysErrorBody): string {
  const { code, text, items } = body;
  const signature = items.map(([k, v]) => `${k}: ${v}`).join("; ");
  const head = `Qualys answered${code ? ` CODE ${code}` : ""}: ${text.trim()}${
    signature ? ` (${signature})` : ""
  }`;
  const c = Number(code);
  let fix = "";
  if (c === 2000 || c === 2010 || (c >= 2000 && c < 2100 && /login|password/i.test(text))) {
    fix = "check user_id and password in the plugin YAML (put a password with punctuation in " +
      "single quotes) and that url is your account's API platform";
  } else if (c === 999 && /invalid report/i.test(signature)) {
    fix = "check template_id, and that the report template uses automatic data selection";
  } else if (c === 2001) fix = "the Qualys account has expired: renew it or use another account";
  else if (c === 2003) fix = "finish the account registration in the Qualys web interface";
  else if (c === 1960 || c === 1965) {
    fix = "the API limits are reached: run the connector later, or less often";
  } else if (c === 7001) fix = "the report is not ready or no longer exists";
  else if (/max number of allowed reports/i.test(text)) {
    fix = "too many reports are running: wait for them to finish, then run again";
  } else if (c === 999) fix = "Qualys had an internal error: try again later";
  return fix ? `${head}: ${fix}` : head;
}

const TAGS = [Tag.CODE, Tag.TEXT, Tag.KEY, Tag.VALUE, Tag.RETURN];

/**
 * Collects CODE, TEXT and the ITEMs of a SIMPLE_RETURN (or GENERIC_RETURN's RETURN), for
 * {@linkcode describeQualysError}: the extractor of a page, a list or a report hands it the
 * elements below the root once the root says the body is one.
 */
export class ReturnCollector {
  /** What was collected. */
  readonly out: { code: string; text: string; items: [string, string][] } & QualysErrorBody = {
    code: "",
    text: "",
    items: [],
  };
  #key = "";
  readonly #returnStatus: boolean;

  /**
   * With `returnStatus`, a GENERIC_RETURN's `RETURN status="..."` is kept as the ITEM
   * `status` (a report download shows it).
   */
  constructor(options: { returnStatus?: boolean } = {}) {
    this.#returnStatus = options.returnStatus ?? false;
  }

  /** Called at the root: sets the tags the scanner reports. */
  start(s: XmlScanner): void {
    s.reportTags(TAGS);
  }

  /** Scanner `open` below the root. */
  open(id: number, s: XmlScanner): void {
    if (id === Tag.RETURN) {
      this.out.code = s.attr("number") ?? "";
      const status = this.#returnStatus ? s.attr("status") : undefined;
      if (status) this.out.items.push(["status", status]);
    }
    if (id === Tag.CODE || id === Tag.TEXT || id === Tag.KEY || id === Tag.VALUE) s.collectText();
    else if (id === Tag.RETURN) s.collectText();
  }

  /** Scanner `close` below the root. */
  close(id: number, s: XmlScanner): void {
    if (id === Tag.CODE) this.out.code = s.text().trim();
    else if (id === Tag.TEXT || id === Tag.RETURN) this.out.text = s.text().trim();
    else if (id === Tag.KEY) this.#key = s.text().trim();
    else if (id === Tag.VALUE) this.out.items.push([this.#key, s.text().trim()]);
  }

  /** The error the collected body says: a `QualysApiError` (exit 3) whose message says the fix. */
  error(): QualysApiError {
    return new QualysApiError(describeQualysError(this.out), { code: this.out.code });
  }
}

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

// A small answer: the root, the report list, and (through the one ReturnCollector) CODE, TEXT
// and ITEMs.
class ResponseHandler implements ScanHandler {
  #root: QualysResponse["root"] = "";
  readonly #reports: ReportStatus[] = [];
  readonly #return = new ReturnCollector();
  #report: ReportStatus | undefined;
  #reportDepth = 0;

  result(): QualysResponse {
    const { code, text, items } = this.#return.out;
    return { root: this.#root, code, text, items, reports: this.#reports };
  }

  open(id: number, s: XmlScanner): void {
    if (s.depth === 1) {
      this.#root = id === Tag.SIMPLE_RETURN
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
    } else if (id === Tag.ID || id === Tag.STATE || id === Tag.MESSAGE || id === Tag.PERCENT) {
      s.collectText();
    } else this.#return.open(id, s);
  }

  close(id: number, s: XmlScanner): void {
    const r = this.#report;
    if (r) {
      if (s.depth === this.#reportDepth) {
        this.#reports.push(r);
        this.#report = undefined;
      } else if (id === Tag.ID && s.depth === this.#reportDepth + 1) r.id = s.text().trim();
      else if (id === Tag.STATE) r.state = s.text().trim();
      else if (id === Tag.MESSAGE) r.message = s.text().trim();
      else if (id === Tag.PERCENT) r.percent = s.text().trim();
      return;
    }
    this.#return.close(id, s);
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
  return handler.result();
}

/** The value of ITEM `key`, if present. */
export function itemValue(r: QualysResponse, key: string): string | undefined {
  return r.items.find(([k]) => k.toUpperCase() === key.toUpperCase())?.[1];
}
