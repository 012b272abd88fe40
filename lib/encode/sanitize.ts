/**
 * Pure text rules for host input fields (docs/host_input.md, section 4; docs/output.md: What is
 * written): HTML to text, and the sanitising that makes any report text safe inside a
 * double-quoted CSV field of one line.
 *
 * @module
 */

const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  ndash: "-",
  mdash: "-",
  hellip: "...",
  lsquo: "'",
  rsquo: "'",
  ldquo: '"',
  rdquo: '"',
  bull: "*",
  middot: "*",
  copy: "(c)",
  reg: "(R)",
  trade: "(TM)",
  laquo: "<<",
  raquo: ">>",
  times: "x",
};

/**
 * Decodes HTML character references: the common named ones and numeric ones. Unknown names
 * stay as they are.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(decodeHtmlEntities("the host&apos;s &lt;uptime&gt; &#233;"), "the host's <uptime> é");
 * ```
 */
export function decodeHtmlEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z][a-z0-9]{1,8});/gi, (all, ref: string) => {
    if (ref[0] === "#") {
      const cp = ref[1] === "x" || ref[1] === "X"
        ? parseInt(ref.slice(2), 16)
        : parseInt(ref.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)
        ? String.fromCodePoint(cp)
        : " ";
    }
    return NAMED[ref.toLowerCase()] ?? all;
  });
}

/**
 * Turns the HTML of a Qualys THREAT/DIAGNOSIS into plain text: tags removed (a tag becomes a
 * space), entities decoded.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(htmlToText("<P>A &amp; B<BR>C</P>").trim().replace(/\s+/g, " "), "A & B C");
 * ```
 */
export function htmlToText(html: string): string {
  if (!html.includes("<") && !html.includes("&")) return html;
  // Decode first when the markup itself was escaped (&lt;P&gt;), then drop tags, then decode.
  const withTags = /&lt;\/?[a-z][^&]*?&gt;/i.test(html) ? decodeHtmlEntities(html) : html;
  return decodeHtmlEntities(withTags.replace(/<!--[\s\S]*?-->|<\/?[a-zA-Z][^<>]*>/g, " "));
}

const FOLD: Record<string, string> = {
  "\u2018": "'",
  "\u2019": "'",
  "\u201a": "'",
  "\u201b": "'",
  "\u201c": "'",
  "\u201d": "'",
  "\u201e": "'",
  "\u2032": "'",
  "\u2033": "'",
  "\u2010": "-",
  "\u2011": "-",
  "\u2012": "-",
  "\u2013": "-",
  "\u2014": "-",
  "\u2015": "-",
  "\u2212": "-",
  "\u2026": "...",
  "\u2022": "*",
  "\u00b7": "*",
  "\u00a9": "(c)",
  "\u00ae": "(R)",
  "\u2122": "(TM)",
  "\u00ab": "<<",
  "\u00bb": ">>",
  "\u00d7": "x",
  "\u0085": " ",
  "\u00df": "ss",
  "\u00e6": "ae",
  "\u00c6": "AE",
  "\u0153": "oe",
  "\u0152": "OE",
  "\u00f8": "o",
  "\u00d8": "O",
  "\u0142": "l",
  "\u0141": "L",
  "\u0111": "d",
  "\u0110": "D",
  "\u00fe": "th",
  "\u00de": "Th",
};

/**
 * Makes text safe for one double-quoted host input field: commas become spaces, `"` becomes
 * `'`, control characters (CR, LF, tab, ...) become spaces, whitespace is collapsed and trimmed,
 * and non-ASCII is folded to ASCII where possible (é → e, ’ → ') and dropped otherwise. The
 * result is printable ASCII without `,` or `"`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(sanitizeField(' Café, "au lait"\r\nnext '), "Cafe 'au lait' next");
 * ```
 */
export function sanitizeField(text: string): string {
  return sanitize(text, false);
}

let scratch = new Uint8Array(4096);
// The output is printable ASCII, which the UTF-8 decoder turns into a string fastest.
const ascii = new TextDecoder();
const foldCache = new Map<number, string>();

// What a non-ASCII character becomes: its NFKD decomposition (é → e + accent, ™ → TM), with
// combining accents dropped, FOLD applied, white space and controls as " ", and anything else
// dropped. The result holds only printable ASCII other than `,` and `"`, and " " for a break.
// (Decomposing one character at a time gives what decomposing the whole text gives: only
// combining marks are reordered, and they are dropped.)
function foldChar(cp: number): string {
  const nfkd = String.fromCodePoint(cp).normalize("NFKD");
  let folded = "";
  for (let i = 0; i < nfkd.length; i++) {
    const ch = nfkd[i]!, c = nfkd.charCodeAt(i);
    if (c === 44 || c < 0x21 || c === 0x7f) folded += " ";
    else if (c < 0x7f) folded += c === 34 ? "'" : ch;
    else if (c >= 0x300 && c <= 0x36f) continue; // combining accents (é → e)
    else if (FOLD[ch] !== undefined) folded += FOLD[ch];
    else if (/\s/.test(ch)) folded += " ";
    // anything else non-ASCII is dropped
  }
  foldCache.set(cp, folded);
  return folded;
}

const ESCAPED_TAG = /&lt;\/?[a-z][^&]*?&gt;/i;

/**
 * `sanitizeField(htmlToText(html))` in one pass over the text (the THREAT of every QID goes
 * through it): tags and comments become a space, entities are decoded, and each character is
 * sanitised as it comes. Text whose markup is itself escaped (`&lt;P&gt;`) takes the two-step
 * way.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(sanitizeHtml("<P>Caf&eacute;, &quot;x&quot;<BR>y &#233;</P>"), "Caf&eacute; 'x' y e");
 * ```
 */
export function sanitizeHtml(html: string): string {
  return ESCAPED_TAG.test(html) ? sanitizeField(htmlToText(html)) : sanitize(html, true);
}

// One pass into a reusable byte buffer (the result is printable ASCII): these run over every
// QID's THREAT text. Non-ASCII characters go through foldChar, once per distinct character.
function sanitize(text: string, html: boolean): string {
  if (scratch.length < text.length * 4 + 16) scratch = new Uint8Array(text.length * 4 + 16);
  const n = sanitizeRun(text, html, scratch, 0, false);
  return ascii.decode(scratch.subarray(0, n));
}

// Sanitises `text` into out[n…] after a pending space or not; with `html`, tags and comments
// become a space and entities are decoded. Returns the new length; the space flag is left in
// `folded.space`.
function sanitizeRun(
  text: string,
  html: boolean,
  out: Uint8Array,
  n: number,
  space: boolean,
): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (html && (c === 60 || c === 38)) {
      const end = c === 60 ? markupEnd(text, i) : entityEnd(text, i);
      if (end > 0) {
        if (c === 60) space = true; // '<': a comment or a tag becomes a space
        else { // '&': the entity's characters are sanitised in turn
          n = sanitizeRun(decodeHtmlEntities(text.slice(i, end)), false, out, n, space);
          space = folded.space;
        }
        i = end - 1;
        continue;
      }
    }
    if (c > 0x20 && c < 0x7f && c !== 44) {
      if (space && n > 0) out[n++] = 32;
      space = false;
      out[n++] = c === 34 ? 39 : c; // " becomes '
    } else if (c < 0x80) space = true; // space, comma, CR, LF, tab and other controls
    else {
      i += foldInto(text, i, out, n, space) - 1;
      n = folded.n;
      space = folded.space;
    }
  }
  folded.space = space;
  return n;
}

// Where foldInto leaves the output: its length and whether a space is pending.
const folded = { n: 0, space: false };

// Folds the non-ASCII character at text[i] into out[n…] (see foldChar), leaving the new length
// and space flag in `folded`; returns the UTF-16 units read (2 for a surrogate pair).
function foldInto(text: string, i: number, out: Uint8Array, n: number, space: boolean): number {
  const c = text.charCodeAt(i);
  let cp = c, units = 1;
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) {
      cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
      units = 2;
    }
  }
  const text2 = foldCache.get(cp) ?? foldChar(cp);
  for (let k = 0; k < text2.length; k++) {
    const f = text2.charCodeAt(k);
    if (f === 32) space = true;
    else {
      if (space && n > 0) out[n++] = 32;
      space = false;
      out[n++] = f;
    }
  }
  folded.n = n;
  folded.space = space;
  return units;
}

// The end of the comment or tag at html[i] ('<'), as htmlToText's pattern
// `<!--[\s\S]*?-->|<\/?[a-zA-Z][^<>]*>` finds it, or -1.
function markupEnd(html: string, i: number): number {
  if (html.startsWith("<!--", i)) {
    const close = html.indexOf("-->", i + 4);
    if (close >= 0) return close + 3;
  }
  let k = i + 1;
  if (html.charCodeAt(k) === 47) k++; // '/'
  const first = html.charCodeAt(k) | 0x20;
  if (!(first >= 97 && first <= 122)) return -1;
  for (k++; k < html.length; k++) {
    const c = html.charCodeAt(k);
    if (c === 62) return k + 1;
    if (c === 60) return -1;
  }
  return -1;
}

// The end of the character reference at html[i] ('&'), as decodeHtmlEntities's pattern finds
// it, or -1.
function entityEnd(html: string, i: number): number {
  let k = i + 1;
  const c1 = html.charCodeAt(k);
  let run = 0, max: number;
  if (c1 === 35) { // '#'
    k++;
    const hex = (html.charCodeAt(k) | 0x20) === 120;
    if (hex) {
      k++;
      max = 6;
      for (; k < html.length && isHexDigit(html.charCodeAt(k)); k++) run++;
    } else {
      max = 7;
      for (; k < html.length && isDigit(html.charCodeAt(k)); k++) run++;
    }
    if (run === 0 && hex) {
      // "&#x" without hex digits matches no alternative of the pattern ("&#" + digits cannot
      // start with an 'x')
      return -1;
    }
  } else {
    if (!isLetter(c1)) return -1;
    max = 9;
    for (; k < html.length && (isLetter(html.charCodeAt(k)) || isDigit(html.charCodeAt(k))); k++) {
      run++;
    }
    if (run < 2) return -1;
  }
  if (run === 0 || run > max || html.charCodeAt(k) !== 59) return -1;
  return k + 1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || ((c | 0x20) >= 97 && (c | 0x20) <= 102);
}

function isLetter(c: number): boolean {
  return (c | 0x20) >= 97 && (c | 0x20) <= 122;
}

/**
 * Keeps the well-formed CVE IDs (`CVE-YYYY-NNNN...`, upper-cased), without repeats, in order.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(cleanCveIds(["cve-2014-0160", "CVE-2014-0160", "junk", " CVE-1999-0524 "]),
 *   ["CVE-2014-0160", "CVE-1999-0524"]);
 * ```
 */
export function cleanCveIds(ids: readonly string[]): string[] {
  const out = new Set<string>();
  for (const id of ids) {
    const v = id.trim().toUpperCase();
    if (/^CVE-\d{4}-\d{4,}$/.test(v)) out.add(v);
  }
  return [...out];
}

/**
 * Keeps the well-formed Bugtraq IDs (digits), without repeats, in order.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(cleanBugtraqIds(["66690", "x1", "66690", " 12 "]), ["66690", "12"]);
 * ```
 */
export function cleanBugtraqIds(ids: readonly string[]): string[] {
  const out = new Set<string>();
  for (const id of ids) {
    const v = id.trim();
    if (/^\d{1,12}$/.test(v)) out.add(v);
  }
  return [...out];
}
