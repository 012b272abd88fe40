/**
 * Pure text rules for host input fields (SPEC §6, `hostinput.md` §2.1): HTML to text, and the
 * sanitising that makes any report text safe inside a double-quoted CSV field of one line.
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
  // One pass into a reusable byte buffer (the result is printable ASCII): these run over every
  // QID's THREAT text. Non-ASCII characters go through foldChar, once per distinct character.
  if (scratch.length < text.length * 4 + 16) scratch = new Uint8Array(text.length * 4 + 16);
  const out = scratch;
  let n = 0, space = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x20 && c < 0x7f && c !== 44) {
      if (space && n > 0) out[n++] = 32;
      space = false;
      out[n++] = c === 34 ? 39 : c; // " becomes '
    } else if (c < 0x80) space = true; // space, comma, CR, LF, tab and other controls
    else {
      let cp = c;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
          i++;
        }
      }
      const folded = foldCache.get(cp) ?? foldChar(cp);
      for (let k = 0; k < folded.length; k++) {
        const f = folded.charCodeAt(k);
        if (f === 32) space = true;
        else {
          if (space && n > 0) out[n++] = 32;
          space = false;
          out[n++] = f;
        }
      }
    }
  }
  return latin1.decode(out.subarray(0, n));
}

let scratch = new Uint8Array(4096);
const latin1 = new TextDecoder("latin1");
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
