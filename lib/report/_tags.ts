/**
 * The element names the report extractor cares about, as small integer ids. A tag name is
 * looked up from its bytes (hash on length and first/last byte, then a byte compare), so the
 * scanner never makes a string for a tag name.
 *
 * @module
 */

const NAMES = [
  "",
  "ASSET_DATA_REPORT",
  "HOST_LIST",
  "HOST",
  "IP",
  "VULN_INFO_LIST",
  "VULN_INFO",
  "QID",
  "PORT",
  "PROTOCOL",
  "VULN_STATUS",
  "GLOSSARY",
  "VULN_DETAILS_LIST",
  "VULN_DETAILS",
  "TITLE",
  "THREAT",
  "CVE_ID_LIST",
  "CVE_ID",
  "ID",
  "BUGTRAQ_ID_LIST",
  "BUGTRAQ_ID",
  "SCAN",
  "CAT",
  "VULN",
  "INFO",
  "SERVICE",
  "PRACTICE",
  "DIAGNOSIS",
  "SIMPLE_RETURN",
  "GENERIC_RETURN",
  "RESPONSE",
  "CODE",
  "TEXT",
  "ITEM",
  "KEY",
  "VALUE",
  "RETURN",
  "REPORT_LIST_OUTPUT",
  "REPORT",
  "STATUS",
  "STATE",
  "MESSAGE",
  "PERCENT",
] as const;

/** Tag ids; `Other` (0) is any name not listed. */
export const Tag = Object.fromEntries(
  NAMES.map((name, i) => [name === "" ? "Other" : name, i]),
) as { readonly [K in Exclude<(typeof NAMES)[number], ""> | "Other"]: number };

/** The name of a tag id, for messages. */
export function tagName(id: number): string {
  return NAMES[id] ?? "";
}

const BUCKETS = 256;
const table: { id: number; bytes: Uint8Array }[][] = Array.from({ length: BUCKETS }, () => []);

function bucketOf(len: number, first: number, last: number): number {
  return (len * 31 + first * 7 + last) & (BUCKETS - 1);
}

for (let id = 1; id < NAMES.length; id++) {
  const bytes = new TextEncoder().encode(NAMES[id]);
  table[bucketOf(bytes.length, bytes[0]!, bytes[bytes.length - 1]!)]!.push({ id, bytes });
}

/** Returns the id of the tag name in `buf[start, end)`, or `Tag.Other`. */
export function lookupTag(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  const candidates = table[bucketOf(len, buf[start]!, buf[end - 1]!)]!;
  outer: for (let k = 0; k < candidates.length; k++) {
    const cand = candidates[k]!;
    const bytes = cand.bytes;
    if (bytes.length !== len) continue;
    for (let j = 0; j < len; j++) if (bytes[j] !== buf[start + j]) continue outer;
    return cand.id;
  }
  return 0;
}
