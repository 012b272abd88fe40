/**
 * Element names as small integer ids: the names the extractors act on, then other names common
 * in Qualys reports (known names need no copy on the scanner's element stack). A tag name is
 * looked up from its bytes (a bucket from its length and first and last bytes, then a byte
 * compare) in flat typed arrays, so the scanner never makes a string for a tag name.
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
  "OPERATING_SYSTEM",
  "OS",
  "OS_CPE",
  // not acted on, but frequent in reports
  "TYPE",
  "SSL",
  "RESULT",
  "FIRST_FOUND",
  "LAST_FOUND",
  "TIMES_FOUND",
  "LAST_FIXED",
  "LAST_TEST",
  "LAST_UPDATE",
  "INSTANCE",
  "FQDN",
  "CVSS_FINAL",
  "CVSS3_FINAL",
  "TICKET_NUMBER",
  "TICKET_STATE",
  "SEVERITY",
  "CATEGORY",
  "IMPACT",
  "SOLUTION",
  "COMPLIANCE",
  "CORRELATION",
  "PCI_FLAG",
  "CVSS_SCORE",
  "CVSS3_SCORE",
  "URL",
  "DNS",
  "NETBIOS",
  "TRACKING_METHOD",
  "ASSET_ID",
  "HOST_ID",
  "QG_HOSTID",
  "P",
  "BR",
  "A",
  // the VMDR answers (Host List Detection, Host List, KnowledgeBase)
  "HOST_LIST_VM_DETECTION_OUTPUT",
  "HOST_LIST_OUTPUT",
  "KNOWLEDGE_BASE_VULN_LIST_OUTPUT",
  "DATETIME",
  "WARNING",
  "IPV6",
  "DETECTION_LIST",
  "DETECTION",
  "ID_SET",
  "ID_RANGE",
  "VULN_LIST",
  "CVE_LIST",
  "CVE",
  "BUGTRAQ_LIST",
  "BUGTRAQ",
  "LAST_SERVICE_MODIFICATION_DATETIME",
  "NETWORK_ID",
] as const;

/** Tag ids; `Other` (0) is any name not listed. */
export const Tag = Object.fromEntries(
  NAMES.map((name, i) => [name === "" ? "Other" : name, i]),
) as { readonly [K in Exclude<(typeof NAMES)[number], ""> | "Other"]: number };

/** The name of a tag id, for messages. */
export function tagName(id: number): string {
  return NAMES[id] ?? "";
}

const BUCKETS = 512;
const encoded = NAMES.map((name) => new TextEncoder().encode(name));

/** All known names' bytes, back to back; id `k`'s name is at `TAG_NAME_OFFSET[k]`. */
export const TAG_NAME_BYTES: Uint8Array = new Uint8Array(
  encoded.reduce((n, b) => n + b.length, 0),
);
/** Where each id's name starts in {@linkcode TAG_NAME_BYTES}. */
export const TAG_NAME_OFFSET: Int32Array = new Int32Array(NAMES.length);
const nameLength = new Int32Array(NAMES.length);
const bucketHead = new Int16Array(BUCKETS).fill(-1);
const nextInBucket = new Int16Array(NAMES.length).fill(-1);

function bucketOf(len: number, first: number, last: number): number {
  return (len * 67 + first * 13 + last) & (BUCKETS - 1);
}

for (let id = 1, off = 0; id < NAMES.length; id++) {
  const bytes = encoded[id]!;
  TAG_NAME_BYTES.set(bytes, off);
  TAG_NAME_OFFSET[id] = off;
  nameLength[id] = bytes.length;
  off += bytes.length;
  const b = bucketOf(bytes.length, bytes[0]!, bytes[bytes.length - 1]!);
  nextInBucket[id] = bucketHead[b]!;
  bucketHead[b] = id;
}

/** Number of name buckets ({@linkcode tagBucket}). */
export const TAG_BUCKETS = BUCKETS;

/**
 * The bucket of the name in `buf[start, end)`: names in different buckets differ, so a bucket
 * holding no wanted tag proves a name unwanted without comparing it.
 */
export function tagBucket(buf: Uint8Array, start: number, end: number): number {
  return bucketOf(end - start, buf[start]!, buf[end - 1]!);
}

/** The bucket of a known tag id's name. */
export function tagBucketOfId(id: number): number {
  const off = TAG_NAME_OFFSET[id]!, len = nameLength[id]!;
  return bucketOf(len, TAG_NAME_BYTES[off]!, TAG_NAME_BYTES[off + len - 1]!);
}

/** Returns the id of the tag name in `buf[start, end)`, or `Tag.Other`. */
export function lookupTag(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  let id = bucketHead[bucketOf(len, buf[start]!, buf[end - 1]!)]!;
  outer: for (; id > 0; id = nextInBucket[id]!) {
    if (nameLength[id] !== len) continue;
    const off = TAG_NAME_OFFSET[id]!;
    for (let j = 0; j < len; j++) if (TAG_NAME_BYTES[off + j] !== buf[start + j]) continue outer;
    return id;
  }
  return 0;
}
