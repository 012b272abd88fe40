/**
 * What a `SIMPLE_RETURN` (or v1 `GENERIC_RETURN`) body says, gathered by an extractor whose
 * answer turned out to be one: the VMDR endpoints answer errors with it, whatever the HTTP status.
 *
 * @module
 */

import type { QualysErrorBody } from "../qualys/describe_error.ts";
import type { XmlScanner } from "../xml/scanner.ts";
import { Tag } from "../xml/tags.ts";

const TAGS = [Tag.CODE, Tag.TEXT, Tag.KEY, Tag.VALUE, Tag.RETURN];

/** Collects CODE, TEXT and the ITEMs of an error body, for `describeQualysError`. */
export class ReturnCollector {
  /** What was collected. */
  readonly out: { code: string; text: string; items: [string, string][] } & QualysErrorBody = {
    code: "",
    text: "",
    items: [],
  };
  #key = "";

  /** Called at the root: sets the tags the scanner reports. */
  start(s: XmlScanner): void {
    s.reportTags(TAGS);
  }

  /** Scanner `open` below the root. */
  open(id: number, s: XmlScanner): void {
    if (id === Tag.RETURN) this.out.code = s.attr("number") ?? "";
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
}
