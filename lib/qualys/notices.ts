/**
 * What Qualys says about the version of an endpoint, in words, since the form is not public
 * (../shared/reference/qualys_api_versions.md: one client saw an end-of-support warning on a live
 * 2.0 answer, its exact form unknown): a notice of deprecation, end of support or end of life in a
 * header, an XML comment or a `WARNING` of an answer that carries data; and a `SIMPLE_RETURN`
 * whose text refuses the version. Data elements are never read for these words: a KnowledgeBase
 * title such as "EOL/Obsolete Software" is not a notice.
 *
 * @module
 */

/** A notice found in an answer. */
export interface DeprecationNotice {
  /** The notice's words (one line, at most 200 characters). */
  text: string;
  /** The date it gives, as written ("June 30, 2026", "2026-06-30"); undefined when none. */
  date: string | undefined;
}

const WORDS =
  /deprecat|end[\s-]+of[\s-]+(?:support|life)|\bEO[SL]\b|\bsunset|\bretir(?:ed|ement|ing)\b|no longer (?:be )?supported|will be (?:removed|discontinued|decommissioned)/i;
const MONTH = "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|" +
  "Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";
const DATES = [
  /\b\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?Z?)?\b/,
  /\b\d{1,2}\/\d{1,2}\/\d{4}\b/,
  new RegExp(`\\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\\d{1,2} ${MONTH} \\d{4}(?: [\\d:]+ GMT)?`),
  new RegExp(`\\b${MONTH} \\d{1,2}(?:st|nd|rd|th)?,? \\d{4}\\b`, "i"),
  new RegExp(`\\b${MONTH},? \\d{4}\\b`, "i"),
];

function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  const flat = text.replace(/[\x00-\x1f\x7f]+/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}

function dateIn(text: string): string | undefined {
  for (const re of DATES) {
    const m = re.exec(text);
    if (m) return m[0];
  }
  return undefined;
}

/** XML text without its CDATA sections (data, never notices), whole or cut at either end. */
function withoutCdata(xml: string): string {
  let s = xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, "");
  const open = s.indexOf("<![CDATA[");
  if (open >= 0) s = s.slice(0, open);
  const close = s.indexOf("]]>");
  if (close >= 0) s = s.slice(close + 3);
  return s;
}

function unescape(text: string): string {
  return text.replace(/<[^>]*>/g, " ").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/**
 * The first notice of deprecation, end of support or end of life in `headers` (a `Deprecation`
 * or `Sunset` header, RFC 9745 and 8594, or any header whose value has the words), in the
 * comments and `WARNING` elements of `xml` (parts of an answer: its start and its end), or in
 * `texts` (a small answer's own words).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const n = findDeprecationNotice(new Headers(), [
 *   "<RESPONSE><!-- API 2.0 is deprecated: end of life June 30, 2026 --><HOST_LIST>",
 * ]);
 * assert.equal(n?.date, "June 30, 2026");
 * assert.equal(findDeprecationNotice(new Headers(), ["<TITLE>EOL/Obsolete Software</TITLE>"]),
 *   undefined);
 * ```
 */
export function findDeprecationNotice(
  headers: Headers,
  xml: readonly string[] = [],
  texts: readonly string[] = [],
): DeprecationNotice | undefined {
  const deprecation = headers.get("deprecation"), sunset = headers.get("sunset");
  if (deprecation !== null || sunset !== null) {
    const epoch = /^@(\d{1,12})$/.exec(deprecation?.trim() ?? "")?.[1];
    const when = epoch ? new Date(Number(epoch) * 1000).toISOString().slice(0, 10) : undefined;
    const parts = [
      deprecation !== null ? `Deprecation: ${deprecation}` : "",
      sunset !== null ? `Sunset: ${sunset}` : "",
    ].filter(Boolean);
    return {
      text: oneLine(`HTTP headers ${parts.join(", ")}`),
      date: sunset !== null ? oneLine(sunset) : when ?? dateIn(deprecation ?? ""),
    };
  }
  for (const [name, value] of headers) {
    if (name !== "set-cookie" && WORDS.test(value)) {
      return { text: oneLine(`HTTP header ${name}: ${value}`), date: dateIn(value) };
    }
  }
  for (const part of xml) {
    const s = withoutCdata(part);
    for (const m of s.matchAll(/<!--([\s\S]*?)-->|<WARNING>([\s\S]*?)<\/WARNING>/g)) {
      const words = unescape(m[1] ?? m[2] ?? "");
      if (WORDS.test(words)) return { text: oneLine(words), date: dateIn(words) };
    }
  }
  for (const text of texts) {
    if (WORDS.test(text)) return { text: oneLine(text), date: dateIn(text) };
  }
  return undefined;
}

/**
 * Whether `text` (a WARNING's) is a notice of deprecation, end of support or end of life: the
 * client warns it once per endpoint, so the page reader need not.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(isNoticeText("API v5.0 end of support: 2027-06-30"));
 * assert.ok(!isNoticeText("1000 record limit exceeded. Use URL to get next batch of results."));
 * ```
 */
export function isNoticeText(text: string): boolean {
  return WORDS.test(text);
}

/**
 * The warning for a notice about `endpoint` (its title names the version).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const m = describeNotice({ text: "deprecated", date: "2026-06-30" },
 *   { endpoint: "detections", title: "Host List Detection API 5.0" });
 * assert.match(m, /Host List Detection API 5\.0 .*date given: 2026-06-30/);
 * ```
 */
export function describeNotice(
  notice: DeprecationNotice,
  about: { endpoint: string; title: string },
): string {
  return `Qualys gives notice that the ${about.title} is deprecated or ending` +
    `${notice.date ? ` (date given: ${notice.date})` : ""}: "${notice.text}"; the run goes ` +
    `on: plan the move to the version Qualys names (api_versions: ${about.endpoint}=N.N in the ` +
    "plugin YAML; docs/operations.md#qualys-api-versions)";
}

/**
 * Whether a `SIMPLE_RETURN`'s TEXT says the API or its version is not supported (retired, end of
 * life, unknown version).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(refusesVersion("API version 2.0 is no longer supported for this endpoint."));
 * assert.ok(!refusesVersion("Unrecognized parameter(s): show_qds"));
 * ```
 */
export function refusesVersion(text: string): boolean {
  const refusal =
    /not supported|no longer (?:be )?(?:supported|available)|unsupported|not available|retired|decommissioned|end[\s-]+of[\s-]+life|invalid (?:api )?version/i;
  return refusal.test(text) && /\bapi\b|version|\bv?\d+\.\d+\b/i.test(text);
}

/**
 * Keeps the start and the end of a streamed answer (a few KiB each; the whole of a small one),
 * where notices and a `SIMPLE_RETURN` are, at the cost of one small copy per chunk.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const tap = new AnswerTap(4);
 * tap.push(new TextEncoder().encode("abcdefghij"));
 * assert.deepEqual(tap.texts(), ["abcd", "ghij"]);
 * assert.equal(tap.whole(), undefined);
 * ```
 */
export class AnswerTap {
  readonly #size: number;
  #head: Uint8Array;
  #headLength = 0;
  #tail: Uint8Array;
  #tailLength = 0;
  #total = 0;

  /** A tap keeping `size` bytes at each end. @default {8192} */
  constructor(size = 8192) {
    this.#size = size;
    this.#head = new Uint8Array(size);
    this.#tail = new Uint8Array(size);
  }

  /** Takes a copy of what it keeps of `chunk` (which the caller may reuse). */
  push(chunk: Uint8Array): void {
    this.#total += chunk.length;
    if (this.#headLength < this.#size) {
      const n = Math.min(this.#size - this.#headLength, chunk.length);
      this.#head.set(chunk.subarray(0, n), this.#headLength);
      this.#headLength += n;
    }
    if (chunk.length >= this.#size) {
      this.#tail.set(chunk.subarray(chunk.length - this.#size));
      this.#tailLength = this.#size;
      return;
    }
    const keep = Math.min(this.#tailLength, this.#size - chunk.length);
    this.#tail.copyWithin(0, this.#tailLength - keep, this.#tailLength);
    this.#tail.set(chunk, keep);
    this.#tailLength = keep + chunk.length;
  }

  /** Bytes seen. */
  get bytes(): number {
    return this.#total;
  }

  /** The whole answer, when it was small enough to be kept whole. */
  whole(): Uint8Array | undefined {
    if (this.#total <= this.#size) return this.#head.subarray(0, this.#headLength);
    if (this.#total > 2 * this.#size) return undefined;
    const out = new Uint8Array(this.#total);
    out.set(this.#head.subarray(0, this.#headLength));
    const rest = this.#total - this.#headLength;
    out.set(this.#tail.subarray(this.#tailLength - rest, this.#tailLength), this.#headLength);
    return out;
  }

  /** The start and the end as text (one part when the answer was kept whole). */
  texts(): string[] {
    const decoder = new TextDecoder();
    const whole = this.whole();
    if (whole) return [decoder.decode(whole)];
    return [
      decoder.decode(this.#head.subarray(0, this.#headLength)),
      decoder.decode(this.#tail.subarray(0, this.#tailLength)),
    ];
  }
}
