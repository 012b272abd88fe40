/**
 * Qualys's clock as the detection source reads it and keeps it: `RESPONSE/DATETIME` and the
 * checkpoints made of it (the sync state's, the KnowledgeBase cache's) are UTC times written
 * `YYYY-MM-DDThh:mm:ssZ`. Only a real time passes: a month 1-12, a day the month has (February 29
 * in leap years only), 00:00:00-23:59:59, a year from 1970 to 9999. An answer whose DATETIME is
 * none is fetched again (a wrong answer, then exit 3); a checkpoint on disk that is none makes its
 * file damaged (warned, a full sync or an empty cache), never a crash.
 *
 * @module
 */

import { WrongAnswer } from "./stream_body.ts";

const FORM = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/;

/**
 * The epoch milliseconds of a UTC time written `YYYY-MM-DDThh:mm:ssZ`; undefined when `text` is
 * not one (another form, or a time that does not exist: `2026-13-45T99:99:99Z`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseDateTime("2026-03-02T06:00:00Z"), Date.UTC(2026, 2, 2, 6));
 * assert.equal(parseDateTime("2026-11-21T25:00:00Z"), undefined);
 * assert.equal(parseDateTime("2026-02-29T00:00:00Z"), undefined); // not a leap year
 * ```
 */
export function parseDateTime(text: string): number | undefined {
  const m = FORM.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // a day the month does not have rolls over into the next month
  return new Date(ms).getUTCDate() === d ? ms : undefined;
}

/** `ms` (epoch milliseconds) written `YYYY-MM-DDThh:mm:ssZ`. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The `RESPONSE/DATETIME` of an answer that parsed, when it is a real UTC time.
 *
 * @throws {WrongAnswer} When it is missing or not one: the answer is fetched again like a cut
 * one (at most 5 times, then exit 3).
 */
export function answerDateTime(text: string): string {
  if (parseDateTime(text) !== undefined) return text;
  throw new WrongAnswer(
    text === ""
      ? "has no RESPONSE/DATETIME (Qualys's clock, which every answer carries)"
      : `says its RESPONSE/DATETIME is ${
        JSON.stringify(text.slice(0, 40))
      }, which is not a UTC time (YYYY-MM-DDThh:mm:ssZ)`,
  );
}
