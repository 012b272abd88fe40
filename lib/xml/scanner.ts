/**
 * A streaming, byte-level XML scanner that does just what a Qualys report needs: well-formedness
 * (tags nest and match, one root, nothing but comments after it; and as expat: no "]]>" in text,
 * no "--" inside a comment, no attribute twice on one element, no control character but tab, LF
 * and CR in text or CDATA), the five predefined entities and character references, CDATA,
 * comments, processing instructions and a DOCTYPE (internal subset skipped, never loaded, never
 * expanded). Tag names become integer ids (`tags.ts`); only the text a handler asks for is
 * collected, decoded from bytes.
 *
 * Input arrives by `push(chunk)` or `readFrom(reader)`. What nobody keeps is read in parts as it
 * arrives, each byte once: text, and CDATA sections, comments, processing instructions and the
 * DOCTYPE, whose end is searched for from where the last search stopped (a few bytes that may
 * start the end, such as "]]" or "-", are looked at again). Only a tag is held whole until its
 * '>' arrives (its attributes are read from the buffer), and so are a cut entity and a ']' or
 * ']]' at the end of text; a tag held over 1 KiB is scanned again only once twice as much of it
 * has arrived, so even a tag of many MB costs linear work. Memory is one buffer (1 MiB by
 * default, doubled only when a tag is larger than half of it) and the text a handler collects,
 * which it may limit (`collectText(limit)`).
 *
 * @module
 */

import { ReportSyntaxError } from "../errors.ts";
import { type ByteReader, grow } from "../util/bytes.ts";
import {
  lookupTag,
  TAG_BUCKETS,
  TAG_NAME_BYTES,
  TAG_NAME_OFFSET,
  tagBucket,
  tagBucketOfId,
  tagName,
} from "./tags.ts";

/**
 * What the scanner calls for each element it reports: the root, and elements whose tag id is
 * in {@linkcode XmlScannerOptions.tags} (by default every named tag, not `Tag.Other`).
 * Unreported elements still count in `depth`.
 */
export interface ScanHandler {
  /** A start tag; attributes are readable with `scanner.attr()` during this call. */
  open(id: number, scanner: XmlScanner): void;
  /** An end tag (also after a self-closing start tag); collected text is readable now. */
  close(id: number, scanner: XmlScanner): void;
}

const LT = 60, GT = 62, AMP = 38, SLASH = 47, BANG = 33, QMARK = 63, LF = 10, RSQB = 93;
const MAX_DEPTH = 1000;
// The element stack's names: known names are read from the copy of TAG_NAME_BYTES at the start
// of #names, other names are copied after it.
const STATIC_NAMES = TAG_NAME_BYTES.length;
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const bytesAsText = new TextDecoder("latin1"); // one character per byte, each byte its own
const CDATA_OPEN = [60, 33, 91, 67, 68, 65, 84, 65, 91]; // <![CDATA[
const COMMENT_OPEN = [60, 33, 45, 45]; // <!--
const DOCTYPE_OPEN = [60, 33, 68, 79, 67, 84, 89, 80, 69]; // <!DOCTYPE
// Constructs read in parts (#mode), and what a message calls them.
const IN_CDATA = 1, IN_COMMENT = 2, IN_PI = 3, IN_DOCTYPE = 4;
const CONSTRUCT = ["", "a CDATA section", "a comment", "a processing instruction", "the DOCTYPE"];
// A held construct (a tag) this long is scanned again only once twice as much of it is here.
const RESCAN_AT = 1024;
// From this many attributes on, a start tag's names are checked for twins in a set.
const MANY_ATTRIBUTES = 16;

// The bytes the text loop stops at: '<', LF (counted), '&', ']' (where "]]>" may start) and
// the control characters XML forbids. One table load per byte instead of a compare for each.
const TEXT_SPECIAL = new Uint8Array(256);
for (let c = 0; c < 32; c++) if (c !== 9 && c !== 13) TEXT_SPECIAL[c] = 1;
TEXT_SPECIAL[LT] = TEXT_SPECIAL[AMP] = TEXT_SPECIAL[RSQB] = 1;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** Options for {@linkcode XmlScanner}. */
export interface XmlScannerOptions {
  /** Initial buffer size in bytes. @default {1048576} */
  bufferSize?: number;
  /** The tag ids to report (besides the root). @default every id but `Tag.Other` */
  tags?: readonly number[];
}

/** The streaming scanner: feed it with `push` and `end`, or `readFrom`; it calls the handler. */
export class XmlScanner {
  #handler: ScanHandler;
  #buf: Uint8Array;
  #pos = 0;
  #fill = 0;
  #absBase = 0; // absolute offset of #buf[0]
  #words: Uint32Array; // #buf a word at a time, for skipping CDATA
  // Lines are counted by the loops that visit the bytes anyway: #line is the line of #pos.
  // Slower methods count the newlines of the construct they scan in #pl, added when it
  // completes (a construct cut by the buffer end is scanned again). For messages, #curLine is
  // the line of buffer index #curFrom, and #lineStartAbs the start of the line #buf[0] is on;
  // columns are found by looking back from the fault.
  #line = 1;
  #lineStartAbs = 0;
  #curLine = 1;
  #curFrom = 0;
  #pl = 0;
  #depth = 0;
  #ids = new Int32Array(64);
  #nameOff = new Int32Array(64);
  #nameLen = new Int32Array(64);
  #names = new Uint8Array(STATIC_NAMES + 1024);
  #namesFill = STATIC_NAMES;
  #rootSeen = false;
  #rootClosed = false;
  #doctypeSeen = false;
  #collectDepth = 0; // depth of the element whose text is collected (0: none)
  #acc = new Uint8Array(4096);
  #accLen = 0;
  #attrs = new Int32Array(64); // [nameStart, nameEnd, valStart, valEnd] per attribute
  #attrCount = 0;
  #ended = false;
  #reported: Uint8Array; // by tag id: 1 when the handler wants it
  #maybeReported = new Uint8Array(TAG_BUCKETS); // by name bucket: 1 when a wanted tag is in it
  #tagStart = 0;
  #crPending = false;
  #faultAt = 0; // where #cdataEnd found a character XML forbids
  #scanned = 0; // bytes passed over, counted again when a cut construct is scanned again
  #waitUntil = 0; // absolute #fill before which a held construct is not scanned again
  // A construct read in parts: which (IN_*; 0: none), where it began (for the message when the
  // input ends in it), and where the search for its end stopped.
  #mode = 0;
  #modeLine = 0;
  #modeColumn = 0;
  #stopAt = 0;
  // The DOCTYPE's state: in a quoted string (its quote), in the internal subset, in a comment
  // or PI there (the length of its opener: 4 or 2; 0 for neither).
  #dtQuote = 0;
  #dtSubset = false;
  #dtIn = 0;
  #attrSet = new Set<string>(); // a start tag's attribute names, when it has many
  #accLimit = Infinity; // bytes of collected text to keep (-1 once cut)
  #textCut = false;

  /** Creates a scanner that reports elements to `handler`. */
  constructor(handler: ScanHandler, options: XmlScannerOptions = {}) {
    this.#handler = handler;
    this.#names.set(TAG_NAME_BYTES);
    this.#reported = new Uint8Array(TAG_NAME_OFFSET.length);
    this.reportTags(
      options.tags ?? Array.from({ length: TAG_NAME_OFFSET.length - 1 }, (_, i) => i + 1),
    );
    // a whole number of words, so that #words covers it
    this.#buf = new Uint8Array(Math.max(16, ((options.bufferSize ?? 1 << 20) + 7) & ~7));
    this.#words = new Uint32Array(this.#buf.buffer);
  }

  /** Sets the tag ids reported from now on (besides the root), e.g. once the root is known. */
  reportTags(ids: readonly number[]): void {
    this.#reported.fill(0);
    this.#maybeReported.fill(0);
    for (const id of ids) {
      this.#reported[id] = 1;
      this.#maybeReported[tagBucketOfId(id)] = 1;
    }
  }

  /** Depth of the current element (the root is 1), inside `open`/`close` calls. */
  get depth(): number {
    return this.#depth;
  }

  /** Byte offset of the next unscanned byte in the whole input. */
  get offset(): number {
    return this.#absBase + this.#pos;
  }

  /**
   * The bytes the scanner has passed over: each pass over its buffer counts from where it took
   * up again to the buffer's end, so bytes of a construct cut by a chunk boundary that are read
   * again count again. A measure of work, for tests and benches: it stays close to `offset`
   * when nothing is read twice.
   */
  get bytesScanned(): number {
    return this.#scanned;
  }

  /** The size of the scanner's input buffer now (it grows only for a construct held whole). */
  get bufferSize(): number {
    return this.#buf.length;
  }

  /**
   * Asks for the text content of the element just opened (and its descendants), keeping at most
   * `limit` bytes of it (UTF-8, line ends normalised): a longer text is cut at a character
   * boundary, the rest read as if nobody wanted it, and {@linkcode XmlScanner.textCut} is true.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tag } from "./tags.ts";
   * const seen: string[] = [];
   * const scanner = new XmlScanner({
   *   open: (id, s) => id !== Tag.SCAN && s.collectText(id === Tag.THREAT ? 5 : undefined),
   *   close: (id, s) => id !== Tag.SCAN && seen.push(`${s.text()}|${s.textCut}`),
   * }, { tags: [Tag.THREAT, Tag.TITLE] });
   * scanner.push(new TextEncoder().encode(
   *   "<SCAN><TITLE>Long title</TITLE><THREAT>Long <![CDATA[text]]></THREAT></SCAN>",
   * ));
   * scanner.end();
   * assert.deepEqual(seen, ["Long title|false", "Long |true"]);
   * ```
   */
  collectText(limit: number = Infinity): void {
    this.#collectDepth = this.#depth;
    this.#accLen = 0;
    this.#crPending = false;
    this.#accLimit = limit;
    this.#textCut = false;
  }

  /** True when the collected text was longer than `collectText`'s limit and is cut. */
  get textCut(): boolean {
    return this.#textCut;
  }

  /** The collected text as UTF-8 bytes (a view, valid until the next `collectText`). */
  textBytes(): Uint8Array {
    return this.#acc.subarray(0, this.#accLen);
  }

  /** The collected text as a string; invalid UTF-8 is an error. */
  text(): string {
    try {
      return decoder.decode(this.#acc.subarray(0, this.#accLen));
    } catch {
      throw this.#error("Invalid UTF-8 in the text of an element", this.#tagStart);
    }
  }

  /** The collected text as a non-negative integer (surrounding blanks allowed), or -1. */
  textInt(): number {
    if (this.#textCut) return -1;
    const a = this.#acc;
    let i = 0, end = this.#accLen;
    while (i < end && isSpace(a[i]!)) i++;
    while (end > i && isSpace(a[end - 1]!)) end--;
    if (i === end || end - i > 15) return -1;
    let v = 0;
    for (; i < end; i++) {
      const d = a[i]! - 48;
      if (d < 0 || d > 9) return -1;
      v = v * 10 + d;
    }
    return v;
  }

  /** True when the collected text equals `word` ignoring ASCII case and surrounding blanks. */
  textIs(word: string): boolean {
    if (this.#textCut) return false;
    const a = this.#acc;
    let i = 0, end = this.#accLen;
    while (i < end && isSpace(a[i]!)) i++;
    while (end > i && isSpace(a[end - 1]!)) end--;
    if (end - i !== word.length) return false;
    for (let k = 0; k < word.length; k++) {
      if ((a[i + k]! | 0x20) !== (word.charCodeAt(k) | 0x20)) return false;
    }
    return true;
  }

  /** The decoded value of attribute `name` of the start tag being reported, or undefined. */
  attr(name: string): string | undefined {
    const buf = this.#buf, at = this.#attrs;
    outer: for (let k = 0; k < this.#attrCount; k++) {
      const ns = at[k * 4]!, ne = at[k * 4 + 1]!;
      if (ne - ns !== name.length) continue;
      for (let j = 0; j < name.length; j++) {
        if (buf[ns + j] !== name.charCodeAt(j)) continue outer;
      }
      return this.#decodeRange(at[k * 4 + 2]!, at[k * 4 + 3]!);
    }
    return undefined;
  }

  /**
   * The value of attribute `name` as a non-negative integer (blanks around it allowed), read from
   * the raw bytes without making a string; -1 when absent, not digits, longer than 15 digits, or
   * written with entity references.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tag } from "./tags.ts";
   * const seen: number[] = [];
   * const scanner = new XmlScanner({
   *   open: (id, s) => {
   *     if (id === Tag.IP) seen.push(s.attrInt("network_id"), s.attrInt("v6"), s.attrInt("x"));
   *   },
   *   close: () => {},
   * });
   * scanner.push(new TextEncoder().encode(
   *   `<SCAN><IP network_id=" 1001 " v6="ab"/><IP network_id="&#49;" x="1234567890123456"/></SCAN>`,
   * ));
   * scanner.end();
   * assert.deepEqual(seen, [1001, -1, -1, -1, -1, -1]);
   * ```
   */
  attrInt(name: string): number {
    const buf = this.#buf, at = this.#attrs;
    outer: for (let k = 0; k < this.#attrCount; k++) {
      const ns = at[k * 4]!, ne = at[k * 4 + 1]!;
      if (ne - ns !== name.length) continue;
      for (let j = 0; j < name.length; j++) {
        if (buf[ns + j] !== name.charCodeAt(j)) continue outer;
      }
      let i = at[k * 4 + 2]!, end = at[k * 4 + 3]!;
      while (i < end && isSpace(buf[i]!)) i++;
      while (end > i && isSpace(buf[end - 1]!)) end--;
      if (i === end || end - i > 15) return -1;
      let v = 0;
      for (; i < end; i++) {
        const d = buf[i]! - 48;
        if (d < 0 || d > 9) return -1;
        v = v * 10 + d;
      }
      return v;
    }
    return -1;
  }

  /** An error located at the tag being reported (for handlers that reject what they see). */
  errorHere(message: string): ReportSyntaxError {
    return this.#error(message, this.#tagStart);
  }

  /** Feeds the next chunk of the report. */
  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      this.#makeRoom();
      const n = Math.min(chunk.length - off, this.#buf.length - this.#fill);
      this.#buf.set(chunk.subarray(off, off + n), this.#fill);
      this.#fill += n;
      off += n;
      this.#scan(false);
    }
  }

  /** Declares the end of input; throws if the document is incomplete. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#scan(true);
    if (!this.#rootSeen) {
      throw this.#error("The report is empty: no XML root element was found", this.#pos);
    }
    if (this.#depth > 0) {
      throw this.#error(
        `The report is truncated: <${
          this.#openName(this.#depth)
        }> is not closed when the input ends`,
        this.#pos,
        true,
      );
    }
  }

  /** Reads `reader` to its end into the scanner's own buffer, then calls `end()`. */
  async readFrom(reader: ByteReader): Promise<void> {
    for (;;) {
      this.#makeRoom();
      const n = await reader.read(this.#buf.subarray(this.#fill));
      if (n === null) break;
      this.#fill += n;
      this.#scan(false);
    }
    this.end();
  }

  // Moves the unscanned tail to the front; doubles the buffer when the tail fills half of it.
  #makeRoom(): void {
    const pos = this.#pos;
    if (pos > 0) {
      const buf = this.#buf;
      const lastLf = buf.lastIndexOf(LF, pos - 1);
      if (lastLf >= 0) this.#lineStartAbs = this.#absBase + lastLf + 1;
      buf.copyWithin(0, pos, this.#fill);
      this.#fill -= pos;
      this.#absBase += pos;
      this.#pos = 0;
    }
    if (this.#fill > this.#buf.length >> 1) {
      this.#buf = grow(this.#buf, this.#buf.length + 1, this.#fill);
      this.#words = new Uint32Array(this.#buf.buffer);
    }
  }

  // An error at buffer index `at` (not before #curFrom), with its line and column.
  #error(message: string, at: number, truncated = false): ReportSyntaxError {
    const buf = this.#buf;
    at = Math.min(at, this.#fill);
    let line = this.#curLine;
    for (let k = this.#curFrom; k < at; k++) if (buf[k] === LF) line++;
    const lastLf = at > 0 ? buf.lastIndexOf(LF, at - 1) : -1;
    const lineStart = lastLf >= 0 ? this.#absBase + lastLf + 1 : this.#lineStartAbs;
    return new ReportSyntaxError(message, line, this.#absBase + at - lineStart + 1, { truncated });
  }

  #openName(depth: number): string {
    const off = this.#nameOff[depth]!;
    return new TextDecoder().decode(this.#names.subarray(off, off + this.#nameLen[depth]!));
  }

  // Appends raw text or CDATA bytes, normalising line ends as XML does (CR LF and CR → LF).
  // A CR at the very end of the buffer leaves #crPending, so an LF that starts the next chunk
  // is dropped.
  #append(start: number, end: number): void {
    const len = end - start;
    if (len <= 0) return;
    if (this.#accLen + len > this.#accLimit) return this.#appendCut(start, end);
    this.#acc = grow(this.#acc, this.#accLen + len, this.#accLen);
    const acc = this.#acc, buf = this.#buf;
    let o = this.#accLen, j = start;
    if (this.#crPending && buf[j] === LF) j++;
    this.#crPending = false;
    for (; j < end; j++) {
      const c = buf[j]!;
      if (c === 13) {
        acc[o++] = LF;
        if (j + 1 < end) {
          if (buf[j + 1] === LF) j++;
        } else if (end === this.#fill) this.#crPending = true;
      } else acc[o++] = c;
    }
    this.#accLen = o;
  }

  // #append when the text may pass #accLimit: keeps what fits, then cuts the text.
  #appendCut(start: number, end: number): void {
    const limit = this.#accLimit;
    if (limit < 0) return; // cut already
    this.#acc = grow(this.#acc, limit, this.#accLen);
    const acc = this.#acc, buf = this.#buf;
    let o = this.#accLen, j = start;
    if (this.#crPending && buf[j] === LF) j++;
    this.#crPending = false;
    for (; j < end; j++) {
      if (o === limit) {
        this.#accLen = o;
        return this.#cutText();
      }
      const c = buf[j]!;
      if (c === 13) {
        acc[o++] = LF;
        if (j + 1 < end) {
          if (buf[j + 1] === LF) j++;
        } else if (end === this.#fill) this.#crPending = true;
      } else acc[o++] = c;
    }
    this.#accLen = o;
  }

  // Ends the collected text at the last whole UTF-8 character and keeps nothing more of it.
  #cutText(): void {
    const acc = this.#acc, o = this.#accLen;
    if (o > 0) {
      let p = o - 1;
      while (p > 0 && o - p < 4 && (acc[p]! & 0xc0) === 0x80) p--;
      const lead = acc[p]!;
      if (o - p < (lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1)) this.#accLen = p;
    }
    this.#accLimit = -1;
    this.#textCut = true;
  }

  #appendCodePoint(cp: number): void {
    this.#crPending = false;
    if (this.#accLen + 4 > this.#accLimit) {
      if (this.#accLimit < 0) return; // cut already
      const need = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (this.#accLen + need > this.#accLimit) return this.#cutText();
    }
    this.#acc = grow(this.#acc, this.#accLen + 4, this.#accLen);
    const a = this.#acc;
    let n = this.#accLen;
    if (cp < 0x80) a[n++] = cp;
    else if (cp < 0x800) {
      a[n++] = 0xc0 | (cp >> 6);
      a[n++] = 0x80 | (cp & 63);
    } else if (cp < 0x10000) {
      a[n++] = 0xe0 | (cp >> 12);
      a[n++] = 0x80 | ((cp >> 6) & 63);
      a[n++] = 0x80 | (cp & 63);
    } else {
      a[n++] = 0xf0 | (cp >> 18);
      a[n++] = 0x80 | ((cp >> 12) & 63);
      a[n++] = 0x80 | ((cp >> 6) & 63);
      a[n++] = 0x80 | (cp & 63);
    }
    this.#accLen = n;
  }

  // The hot loop. Character data, start tags, end tags and CDATA are scanned inline with the
  // line count in a local; comments, PIs, the DOCTYPE, attributes, entities and every error
  // go through the slower methods below. A tag cut by the end of the buffer is left for the
  // next call (`#pos` stays at its '<', the line count at its value there); a CDATA section,
  // comment, PI or DOCTYPE is read as far as the buffer goes and taken up there (#mode).
  #scan(final: boolean): void {
    const buf = this.#buf;
    const n = this.#fill;
    let i = this.#pos;
    if (!final && this.#absBase + n < this.#waitUntil) return;
    this.#scanned += n - i;
    // A CR that ended the last buffer makes the LF that follows it one line end with it: only
    // an LF right there, not one after a comment, PI or tag.
    if (this.#crPending && buf[i] !== LF) this.#crPending = false;
    if (this.#absBase + i === 0 && n - i > 0) {
      // Start of input: a UTF-8 BOM is skipped; some other encodings are named.
      if (n < 3 && !final) return;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3;
      else if (buf[0] === 0x1f && buf[1] === 0x8b) {
        throw this.#error("The report is gzip-compressed, not XML: decompress it first", 0);
      } else if (buf[0] === 0xfe || buf[0] === 0xff) {
        throw this.#error("The report is UTF-16, not UTF-8: convert it to UTF-8", 0);
      }
    }
    let ln = this.#line;
    if (this.#mode !== 0) {
      this.#mark(ln, i);
      this.#pl = 0;
      i = this.#resume(i, n, final);
      ln += this.#pl;
      if (this.#mode !== 0) { // the buffer ended in it again
        this.#pos = i;
        this.#line = ln;
        this.#mark(ln, i);
        return;
      }
    }
    outer: while (i < n) {
      let c = buf[i]!;
      if (c !== LT) {
        // character data, up to the next '<'
        const start = i;
        const collecting = this.#collectDepth !== 0;
        let seg = i;
        for (;;) {
          if (TEXT_SPECIAL[c] !== 0) {
            if (c === LT) break;
            if (c === LF) ln++;
            else if (c === AMP) {
              if (collecting) this.#append(seg, i);
              this.#mark(ln, i);
              const next = this.#entity(i, n, final, collecting);
              if (next < 0) break outer; // cut entity: resume at its '&'
              i = seg = next;
              if (i >= n) break;
              c = buf[i]!;
              continue;
            } else if (c === RSQB) {
              if (
                (i + 2 >= n || buf[i + 1] === RSQB) && this.#bracketInText(i, n, final, ln) < 0
              ) {
                if (collecting) this.#append(seg, i);
                break outer; // a ']' or ']]' cut by the buffer end: resume at it
              }
            } else {
              this.#mark(ln, i);
              throw this.#error(`Character 0x${c.toString(16)} is not allowed in XML`, i);
            }
          }
          if (++i >= n) break;
          c = buf[i]!;
        }
        if (collecting) this.#append(seg, i);
        if (this.#depth === 0) this.#checkOutsideRoot(start, i, ln);
        continue;
      }
      const start = i;
      const ln0 = ln;
      if (i + 1 >= n) {
        if (final) throw this.#truncated("a tag", start, ln0);
        break;
      }
      c = buf[i + 1]!;
      if (c === SLASH) {
        // end tag: the common case (the open name, then '>') inline, the rest in #endTag
        const depth = this.#depth;
        const off = this.#nameOff[depth]!, len = this.#nameLen[depth]!;
        const k = i + 2;
        let same = depth > 0 && k + len < n && buf[k + len] === GT;
        if (same) {
          const names = this.#names;
          for (let j = 0; j < len; j++) {
            if (names[off + j] !== buf[k + j]) {
              same = false;
              break;
            }
          }
        }
        let next = k + len + 1;
        if (!same) {
          this.#mark(ln0, start);
          this.#pl = 0;
          next = this.#endTag(i, n, final);
          if (next < 0) break;
          ln += this.#pl;
        }
        this.#closeCurrent(start, ln0);
        i = next;
        continue;
      }
      if (c === BANG || c === QMARK) {
        if (
          c === BANG && i + 9 < n && buf[i + 2] === 91 && buf[i + 3] === 67 &&
          buf[i + 4] === 68 && buf[i + 5] === 65 && buf[i + 6] === 84 && buf[i + 7] === 65 &&
          buf[i + 8] === 91
        ) {
          if (this.#depth === 0) {
            this.#mark(ln0, start);
            throw this.#error("CDATA outside the root element", start);
          }
          this.#pl = 0;
          const end = this.#cdataEnd(i + 9, n);
          if (end < 0) {
            if (end === -2) {
              this.#mark(ln0, start);
              throw this.#forbiddenChar(this.#faultAt);
            }
            if (final) throw this.#truncated("a CDATA section", start, ln0);
            i = this.#begin(IN_CDATA, start, ln0, i + 9);
            ln += this.#pl;
            break;
          }
          ln += this.#pl;
          if (this.#collectDepth !== 0) {
            this.#crPending = false;
            this.#append(i + 9, end);
          }
          i = end + 3;
          continue;
        }
        this.#mark(ln0, start);
        this.#pl = 0;
        const next = this.#markup(i, n, final);
        if (next < 0) break;
        ln += this.#pl;
        i = next;
        if (this.#mode !== 0) break; // the buffer ended in it
        continue;
      }
      // start tag
      const nameStart = i + 1;
      if (
        !((c | 0x20) >= 97 && (c | 0x20) <= 122) && c !== 95 && c !== 58 && c < 0x80
      ) {
        this.#mark(ln0, start);
        throw this.#error("A '<' that does not start a tag: write it as &lt;", i);
      }
      let k = nameStart + 1;
      for (; k < n; k++) {
        c = buf[k]!;
        if (c >= 65) continue; // letters and '_', the usual case: nothing else to check
        if (c === GT || c === SLASH || c === 32 || c === LF || c === 9 || c === 13) break;
        if (c === LT || c === 61 || c === 34 || c === 39) {
          this.#mark(ln0, start);
          throw this.#error("Malformed tag name", i);
        }
      }
      if (k >= n) {
        if (final) throw this.#truncated("a start tag", start, ln0);
        break;
      }
      const nameEnd = k;
      let selfClosing = false;
      this.#attrCount = 0;
      if (c === SLASH) {
        if (k + 1 >= n) {
          if (final) throw this.#truncated("a start tag", start, ln0);
          break;
        }
        if (buf[k + 1] !== GT) {
          this.#mark(ln0, start);
          throw this.#error("Malformed start tag", i);
        }
        selfClosing = true;
        k++;
      } else if (c !== GT) {
        this.#mark(ln0, start);
        this.#pl = 0;
        k = this.#attributes(i, k, n, final);
        if (k < 0) break;
        ln += this.#pl;
        selfClosing = buf[k - 1] === SLASH;
      }
      // the whole tag is here: k is at its '>'
      if (
        !selfClosing && this.#collectDepth === 0 && this.#depth > 0 &&
        this.#maybeReported[tagBucket(buf, nameStart, nameEnd)] === 0
      ) {
        // an element the handler does not want: skipped whole if it holds only text and CDATA
        this.#pl = 0;
        const next = this.#skipLeaf(nameStart, nameEnd, k + 1, n);
        if (next >= 0) {
          ln += this.#pl;
          i = next;
          continue;
        }
      }
      this.#openElement(nameStart, nameEnd, start, ln0);
      if (selfClosing) this.#closeCurrent(start, ln0);
      i = k + 1;
    }
    this.#pos = i;
    this.#line = ln;
    this.#mark(ln, i);
    // A tag held over RESCAN_AT bytes is scanned again once twice as much of it is here.
    const held = n - i;
    this.#waitUntil = final || held < RESCAN_AT ? 0 : this.#absBase + i + 2 * held;
  }

  // Begins reading the construct (IN_*) at buffer index `start`, on `line`, in parts: the
  // buffer ended before its end, whose search stopped at #stopAt (newlines so far in #pl).
  // Returns where to take it up when more input arrives.
  #begin(mode: number, start: number, line: number, from: number): number {
    this.#mode = mode;
    this.#modeLine = line;
    const lastLf = start > 0 ? this.#buf.lastIndexOf(LF, start - 1) : -1;
    this.#modeColumn = lastLf >= 0
      ? start - lastLf
      : this.#absBase + start - this.#lineStartAbs + 1;
    if (mode === IN_CDATA) this.#crPending = false;
    return this.#part(from, false);
  }

  // The part [from, #stopAt) of the construct #mode names is read; a CDATA section's goes to
  // the collected text (up to a CR that ends it: its LF may come next). Returns where to take
  // the construct up; at the end of input, throws that the input ends in it.
  #part(from: number, final: boolean): number {
    if (final) {
      throw new ReportSyntaxError(
        `The report is truncated inside ${CONSTRUCT[this.#mode]}`,
        this.#modeLine,
        this.#modeColumn,
        { truncated: true },
      );
    }
    let stop = this.#stopAt;
    if (this.#mode === IN_CDATA) {
      if (stop > from && this.#buf[stop - 1] === 13) stop--;
      if (this.#collectDepth !== 0) this.#append(from, stop);
    }
    return stop;
  }

  // Takes up the construct #mode names at i: returns the index after its end (#mode 0), or
  // where to take it up again (#mode kept) when the buffer ends first.
  #resume(i: number, n: number, final: boolean): number {
    const mode = this.#mode;
    let end: number;
    if (mode === IN_CDATA) {
      end = this.#cdataEnd(i, n);
      if (end === -2) throw this.#forbiddenChar(this.#faultAt);
      if (end >= 0) {
        if (this.#collectDepth !== 0) this.#append(i, end);
        end += 3;
      }
    } else if (mode === IN_COMMENT) {
      end = this.#commentEnd(i, n);
      if (end >= 0) end += 3;
    } else if (mode === IN_PI) {
      end = this.#find2(i, n, QMARK, GT);
      if (end >= 0) end += 2;
    } else end = this.#doctypeBody(i, n);
    if (end < 0) return this.#part(i, final);
    this.#mode = 0;
    return end;
  }

  // Finds the "]]>" of a CDATA section whose content starts at k, a word at a time while no ']'
  // or control character (LF, tab, CR, or one XML forbids) is in sight; returns the index of
  // "]]>", -1 when the buffer ends first (#stopAt: where to search on; a run of ']' at the end
  // leaves its last two), or -2 at a character XML forbids (its index in #faultAt). Newlines
  // are counted in #pl (up to #stopAt when the buffer ends first).
  #cdataEnd(k: number, n: number): number {
    const buf = this.#buf, words = this.#words;
    const wordLimit = (n - 3) >> 2;
    let lines = 0;
    for (;;) {
      if ((k & 3) === 0) {
        let wi = k >> 2;
        while (wi < wordLimit) {
          const x = words[wi]!;
          const a = x ^ 0x5d5d5d5d; // a zero byte where x has ']'; x itself: a byte < 0x20
          if ((((a - 0x01010101) & ~a) | ((x - 0x20202020) & ~x)) & 0x80808080) break;
          wi++;
        }
        k = wi << 2;
      }
      if (k + 2 >= n) break;
      const ch = buf[k]!;
      if (ch === 93 && buf[k + 1] === 93) {
        let e = k + 2;
        while (e < n && buf[e] === 93) e++; // "]]]>" ends at the last two
        if (e >= n) {
          k = Math.max(k, n - 2);
          break;
        }
        if (buf[e] === GT) {
          this.#pl += lines;
          return e - 2;
        }
        k = e;
        continue;
      }
      if (ch < 32) {
        if (ch === LF) lines++;
        else if (ch !== 9 && ch !== 13) {
          this.#faultAt = k;
          return -2;
        }
      }
      k++;
    }
    this.#stopAt = k;
    this.#pl += lines;
    return -1;
  }

  // The error for the character XML forbids at buffer index `at`.
  #forbiddenChar(at: number): ReportSyntaxError {
    return this.#error(`Character 0x${this.#buf[at]!.toString(16)} is not allowed in XML`, at);
  }

  // The content and end tag of an element the handler does not want, from j (after its start
  // tag): returns the index after `</name>` when the content is plain text and CDATA, with its
  // newlines in #pl; -1 for anything else (child elements, entities, comments, a fault, the
  // end of the buffer), which the ordinary path then scans.
  #skipLeaf(nameStart: number, nameEnd: number, j: number, n: number): number {
    const buf = this.#buf;
    let lines = 0;
    while (j < n) {
      const c = buf[j]!;
      if (TEXT_SPECIAL[c] === 0) {
        j++;
        continue;
      }
      if (c === LT) {
        if (j + 9 >= n) return -1;
        const c1 = buf[j + 1]!;
        if (c1 === SLASH) {
          const len = nameEnd - nameStart, k = j + 2;
          if (k + len >= n || buf[k + len] !== GT) return -1;
          for (let q = 0; q < len; q++) if (buf[k + q] !== buf[nameStart + q]) return -1;
          this.#pl += lines;
          return k + len + 1;
        }
        if (
          c1 !== BANG || buf[j + 2] !== 91 || buf[j + 3] !== 67 || buf[j + 4] !== 68 ||
          buf[j + 5] !== 65 || buf[j + 6] !== 84 || buf[j + 7] !== 65 || buf[j + 8] !== 91
        ) return -1;
        const end = this.#cdataEnd(j + 9, n);
        if (end < 0) return -1;
        j = end + 3;
        continue;
      }
      if (c === LF) lines++;
      else if (c !== RSQB || buf[j + 1] === RSQB) return -1; // '&', a fault, or "]]" (+ '>'?)
      j++;
    }
    return -1;
  }

  // The ']' at i in character data: throws when it starts "]]>" (which only ends a CDATA
  // section); returns -1 when the buffer ends before that is known (not at the end of input),
  // 0 otherwise. Text before or after the root is left to #checkOutsideRoot.
  #bracketInText(i: number, n: number, final: boolean, line: number): number {
    const buf = this.#buf;
    if (this.#depth === 0) return 0;
    if (i + 1 >= n) return final ? 0 : -1;
    if (buf[i + 1] !== RSQB) return 0;
    if (i + 2 >= n) return final ? 0 : -1;
    if (buf[i + 2] !== GT) return 0;
    this.#mark(line, i);
    throw this.#error(
      "A ']]>' outside a CDATA section: in XML text it must be written as ]]&gt;",
      i,
    );
  }

  // Text outside the root element may only be white space; `line` is the line of `end`.
  #checkOutsideRoot(start: number, end: number, line: number): void {
    const buf = this.#buf;
    for (let k = start; k < end; k++) {
      if (!isSpace(buf[k]!)) {
        for (let j = start; j < end; j++) if (buf[j] === LF) line--; // the line of `start`
        this.#mark(line, start);
        throw this.#error(
          this.#rootClosed
            ? "Text after the end of the root element: the report has trailing data"
            : "Text before the root element: this is not an XML report",
          k,
        );
      }
    }
  }

  // Records a position whose line is known, for #error (buffer index `from` is on `line`).
  #mark(line: number, from: number): void {
    this.#curLine = line;
    this.#curFrom = from;
  }

  #truncated(what: string, at: number, line: number): ReportSyntaxError {
    this.#mark(line, at);
    return this.#error(`The report is truncated inside ${what}`, at, true);
  }

  // Counts a newline inside the construct being scanned (committed when it completes).
  #pendLf(): void {
    this.#pl++;
  }

  // Skips white space from k, counting newlines; returns the first other index.
  #skipSpace(k: number, n: number): number {
    const buf = this.#buf;
    while (k < n) {
      const c = buf[k]!;
      if (c === 32 || c === 9 || c === 13) k++;
      else if (c === LF) {
        this.#pendLf();
        k++;
      } else break;
    }
    return k;
  }

  // Decodes the entity or character reference at i; returns the index after ';', or -1 when
  // more input is needed.
  #entity(i: number, n: number, final: boolean, collecting: boolean): number {
    const buf = this.#buf;
    let semi = -1;
    const limit = Math.min(n, i + 12);
    for (let k = i + 1; k < limit; k++) {
      if (buf[k] === 59) {
        semi = k;
        break;
      }
    }
    if (semi < 0) {
      if (!final && n - i < 12) return -1;
      throw this.#error(
        "A bare '&' or an unterminated entity: in XML text '&' must be written as &amp;",
        i,
      );
    }
    let cp = -1;
    const len = semi - i - 1;
    const b1 = buf[i + 1]!;
    if (b1 === 35) { // '#'
      let v = 0, k = i + 2;
      const hex = buf[k] === 120; // 'x'
      if (hex) k++;
      if (k === semi) cp = -1;
      else {
        for (; k < semi; k++) {
          const c = buf[k]!;
          let d: number;
          if (c >= 48 && c <= 57) d = c - 48;
          else if (hex && (c | 0x20) >= 97 && (c | 0x20) <= 102) d = (c | 0x20) - 87;
          else {
            v = -1;
            break;
          }
          v = v * (hex ? 16 : 10) + d;
          if (v > 0x10ffff) {
            v = -1;
            break;
          }
        }
        cp = v;
      }
      if (
        cp < 0 || cp === 0 || (cp < 32 && cp !== 9 && cp !== 10 && cp !== 13) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfffe || cp === 0xffff
      ) {
        throw this.#error("A character reference names a character XML does not allow", i);
      }
    } else if (len === 2 && buf[i + 2] === 116) {
      if (b1 === 108) cp = 60; // &lt;
      else if (b1 === 103) cp = 62; // &gt;
    } else if (len === 3 && b1 === 97 && buf[i + 2] === 109 && buf[i + 3] === 112) cp = 38;
    else if (len === 4) {
      if (b1 === 113 && buf[i + 2] === 117 && buf[i + 3] === 111 && buf[i + 4] === 116) cp = 34;
      else if (b1 === 97 && buf[i + 2] === 112 && buf[i + 3] === 111 && buf[i + 4] === 115) {
        cp = 39;
      }
    }
    if (cp < 0) {
      const name = new TextDecoder().decode(buf.subarray(i, semi + 1));
      throw this.#error(
        `Undefined entity ${
          JSON.stringify(name)
        }: a Qualys report may use only &lt; &gt; &amp; &quot; &apos; and character references`,
        i,
      );
    }
    if (collecting) this.#appendCodePoint(cp);
    return semi + 1;
  }

  // Returns 1 if buf[i..] starts with `bytes`, 0 if it cannot, -1 if the buffer ends first.
  #startsWith(i: number, n: number, bytes: number[]): number {
    for (let k = 0; k < bytes.length; k++) {
      if (i + k >= n) return -1;
      if (this.#buf[i + k] !== bytes[k]) return 0;
    }
    return 1;
  }

  #incomplete(what: string, i: number, final: boolean): number {
    if (final) throw this.#error(`The report is truncated inside ${what}`, i, true);
    return -1;
  }

  // Scans the '<!' or '<?' markup at i; returns the index after it, or -1 when cut.
  #markup(i: number, n: number, final: boolean): number {
    const buf = this.#buf;
    const c1 = buf[i + 1]!;
    if (c1 === BANG) {
      if (i + 2 >= n) return this.#incomplete("a '<!' declaration", i, final);
      const c2 = buf[i + 2];
      const isComment = c2 === 45 ? this.#startsWith(i, n, COMMENT_OPEN) : 0;
      if (isComment === 1) {
        const end = this.#commentEnd(i + 4, n);
        if (end >= 0) return end + 3;
        if (final) return this.#incomplete("a comment", i, final);
        return this.#begin(IN_COMMENT, i, this.#curLine, i + 4);
      }
      const isCdata = c2 === 91 ? this.#startsWith(i, n, CDATA_OPEN) : 0;
      if (isCdata === 1) {
        if (this.#depth === 0) throw this.#error("CDATA outside the root element", i);
        const end = this.#cdataEnd(i + 9, n);
        if (end === -2) throw this.#forbiddenChar(this.#faultAt);
        if (end < 0) {
          if (final) return this.#incomplete("a CDATA section", i, final);
          return this.#begin(IN_CDATA, i, this.#curLine, i + 9);
        }
        if (this.#collectDepth !== 0) {
          this.#crPending = false;
          this.#append(i + 9, end);
        }
        return end + 3;
      }
      const isDoctype = c2 === 68 ? this.#startsWith(i, n, DOCTYPE_OPEN) : 0;
      if (isDoctype === 1) return this.#doctype(i, n, final);
      if (isComment < 0 || isCdata < 0 || isDoctype < 0) {
        return this.#incomplete("a '<!' declaration", i, final);
      }
      throw this.#error("Unknown markup after '<!'", i);
    }
    const end = this.#find2(i + 2, n, QMARK, GT);
    if (end >= 0) return end + 2;
    if (final) return this.#incomplete("a processing instruction", i, final);
    return this.#begin(IN_PI, i, this.#curLine, i + 2);
  }

  // Finds the bytes a, b from i; returns the index of a, or -1 when the buffer ends first
  // (#stopAt: where to search on). Newlines are counted in #pl.
  #find2(i: number, n: number, a: number, b: number): number {
    const buf = this.#buf;
    let k = i;
    for (; k + 1 < n; k++) {
      const c = buf[k]!;
      if (c === a && buf[k + 1] === b) return k;
      if (c === LF) this.#pendLf();
      else if (c < 32 && c !== 9 && c !== 13) throw this.#forbiddenChar(k);
    }
    this.#stopAt = k;
    return -1;
  }

  // Finds the "-->" of a comment whose content starts at i; returns the index of its first
  // '-', or -1 when the buffer ends first (#stopAt: where to search on). XML allows "--" only
  // there: one followed by anything but '>' (as in "--->") is an error. Newlines are counted in
  // #pl (up to #stopAt when the buffer ends first).
  #commentEnd(i: number, n: number): number {
    const buf = this.#buf;
    let lines = 0, k = i;
    for (; k + 1 < n; k++) {
      const ch = buf[k]!;
      if (ch !== 45) {
        if (ch === LF) lines++;
        else if (ch < 32 && ch !== 9 && ch !== 13) throw this.#forbiddenChar(k);
        continue;
      }
      if (buf[k + 1] !== 45) continue;
      if (k + 2 >= n) break;
      if (buf[k + 2] !== GT) {
        throw this.#error("A '--' inside a comment: XML allows it only in the closing '-->'", k);
      }
      this.#pl += lines;
      return k;
    }
    this.#stopAt = k;
    this.#pl += lines;
    return -1;
  }

  #doctype(i: number, n: number, final: boolean): number {
    if (this.#rootSeen || this.#doctypeSeen) {
      throw this.#error("A DOCTYPE is only allowed once, before the root element", i);
    }
    this.#dtQuote = this.#dtIn = 0;
    this.#dtSubset = false;
    const end = this.#doctypeBody(i + 9, n);
    if (end >= 0) return end;
    if (final) return this.#incomplete("the DOCTYPE", i, final);
    return this.#begin(IN_DOCTYPE, i, this.#curLine, i + 9);
  }

  // The DOCTYPE from k, in the state #dtQuote, #dtSubset, #dtIn: returns the index after its
  // '>', or -1 when the buffer ends first (#stopAt: where to go on). Newlines are counted in
  // #pl.
  #doctypeBody(k: number, n: number): number {
    const buf = this.#buf;
    if (this.#dtIn !== 0) { // in a comment or PI of the internal subset
      k = this.#subsetMarkupEnd(k, n);
      if (k < 0) return -1;
    }
    let quote = this.#dtQuote, inSubset = this.#dtSubset;
    for (; k < n; k++) {
      const c = buf[k]!;
      if (c === LF) this.#pendLf();
      else if (c < 32 && c !== 9 && c !== 13) throw this.#forbiddenChar(k);
      if (quote) {
        if (c === quote) quote = 0;
      } else if (c === 34 || c === 39) quote = c;
      else if (inSubset) {
        if (c === 93) inSubset = false; // ]
        else if (c === LT) {
          const isComment = this.#startsWith(k, n, COMMENT_OPEN);
          if (isComment < 0 || k + 1 >= n) break; // "<!-" at the end: taken up at its '<'
          if (isComment === 1 || buf[k + 1] === QMARK) {
            this.#dtIn = isComment === 1 ? COMMENT_OPEN.length : 2;
            k = this.#subsetMarkupEnd(k + this.#dtIn, n);
            if (k < 0) {
              this.#dtSubset = true;
              this.#dtQuote = 0;
              return -1; // #stopAt is in it
            }
            k--;
          }
        }
      } else if (c === 91) inSubset = true; // [
      else if (c === GT) {
        this.#doctypeSeen = true;
        return k + 1;
      }
    }
    this.#dtQuote = quote;
    this.#dtSubset = inSubset;
    this.#stopAt = k;
    return -1;
  }

  // The end of the comment (#dtIn 4) or PI (#dtIn 2) in the DOCTYPE's internal subset whose
  // content goes on at k: the index after it (#dtIn 0), or -1 when the buffer ends first.
  #subsetMarkupEnd(k: number, n: number): number {
    const comment = this.#dtIn === COMMENT_OPEN.length;
    const end = comment ? this.#commentEnd(k, n) : this.#find2(k, n, QMARK, GT);
    if (end < 0) return -1;
    this.#dtIn = 0;
    return end + (comment ? 3 : 2);
  }

  // The end tag at i, when it is not simply `</name>` of the open element: white space before
  // the '>', a cut, or an error. Returns the index after it, or -1 when cut.
  #endTag(i: number, n: number, final: boolean): number {
    const buf = this.#buf;
    const nameStart = i + 2;
    let k = nameStart;
    while (k < n) {
      const c = buf[k]!;
      if (c < 65 && (c === GT || isSpace(c))) break;
      k++;
    }
    const nameEnd = k;
    k = this.#skipSpace(k, n);
    if (k >= n) return this.#incomplete("an end tag", i, final);
    if (buf[k] !== GT) throw this.#error("Malformed end tag", i);
    const depth = this.#depth;
    if (depth === 0) throw this.#error("End tag without a matching start tag", i);
    const off = this.#nameOff[depth]!, len = this.#nameLen[depth]!;
    let same = len === nameEnd - nameStart;
    for (let j = 0; same && j < len; j++) same = this.#names[off + j] === buf[nameStart + j];
    if (!same) {
      const got = new TextDecoder().decode(buf.subarray(nameStart, nameEnd));
      throw this.#error(
        `End tag </${got}> does not match <${this.#openName(depth)}>: the report is malformed`,
        i,
      );
    }
    return k + 1;
  }

  // Pops the element; the handler hears of it when it wants that tag (or it is the root). The
  // end tag starts at buffer index `start`, on line `line`.
  #closeCurrent(start: number, line: number): void {
    const depth = this.#depth;
    const id = this.#ids[depth]!;
    if (this.#reported[id] === 1 || depth === 1) {
      this.#tagStart = start;
      this.#mark(line, start);
      this.#handler.close(id, this);
    }
    if (this.#collectDepth === depth) this.#collectDepth = 0;
    const off = this.#nameOff[depth]!;
    if (off >= STATIC_NAMES) this.#namesFill = off;
    this.#depth = depth - 1;
    if (depth === 1) this.#rootClosed = true;
  }

  // The attributes of the start tag at i, from k (white space after the name). Records them
  // in #attrs and returns the index of the tag's '>', or -1 when cut.
  #attributes(i: number, k: number, n: number, final: boolean): number {
    const buf = this.#buf;
    let count = 0;
    for (;;) {
      const before = k;
      k = this.#skipSpace(k, n);
      if (k >= n) return this.#incomplete("a start tag", i, final);
      const c = buf[k]!;
      if (c === GT) break;
      if (c === SLASH) {
        if (k + 1 >= n) return this.#incomplete("a start tag", i, final);
        if (buf[k + 1] !== GT) throw this.#error("Malformed start tag", i);
        k++;
        break;
      }
      if (k === before) throw this.#error("Attributes must be separated by white space", k);
      const an = k;
      for (; k < n; k++) {
        const ch = buf[k]!;
        if (ch === 61 || ch === GT || ch === SLASH || (ch <= 32 && isSpace(ch))) break;
      }
      const ane = k;
      if (buf[k] !== 61) k = this.#skipSpace(k, n); // name="value" needs no skipping
      if (k >= n) return this.#incomplete("a start tag", i, final);
      if (buf[k] !== 61 || ane === an) {
        throw this.#error("An attribute without a value in a start tag", an);
      }
      k++;
      if (k < n && buf[k] !== 34 && buf[k] !== 39) k = this.#skipSpace(k, n);
      if (k >= n) return this.#incomplete("a start tag", i, final);
      const q = buf[k]!;
      if (q !== 34 && q !== 39) throw this.#error("An attribute value must be quoted", k);
      const vs = ++k;
      while (k < n && buf[k] !== q) {
        const c2 = buf[k]!;
        if (c2 === LT) throw this.#error("'<' is not allowed in an attribute value", k);
        if (c2 === LF) this.#pendLf();
        if (c2 === AMP) {
          const next = this.#entity(k, n, final, false);
          if (next < 0) return -1;
          k = next;
          continue;
        }
        k++;
      }
      if (k >= n) return this.#incomplete("an attribute value", i, final);
      if (count > 0) this.#checkUnique(an, ane, count);
      this.#attrs = grow(this.#attrs, count * 4 + 4);
      this.#attrs[count * 4] = an;
      this.#attrs[count * 4 + 1] = ane;
      this.#attrs[count * 4 + 2] = vs;
      this.#attrs[count * 4 + 3] = k;
      count++;
      k++;
    }
    this.#attrCount = count;
    return k;
  }

  // Throws when the attribute name buf[an, ane) is one of the first `count` names in #attrs:
  // compared with each while they are few, looked up in a set of them from MANY_ATTRIBUTES on.
  #checkUnique(an: number, ane: number, count: number): void {
    if (count >= MANY_ATTRIBUTES) return this.#checkUniqueMany(an, ane, count);
    const buf = this.#buf, at = this.#attrs, len = ane - an;
    outer: for (let m = 0; m < count; m++) {
      const ns = at[m * 4]!;
      if (at[m * 4 + 1]! - ns !== len) continue;
      for (let j = 0; j < len; j++) if (buf[ns + j] !== buf[an + j]) continue outer;
      this.#duplicate(an, ane);
    }
  }

  #checkUniqueMany(an: number, ane: number, count: number): void {
    const key = (s: number, e: number) => bytesAsText.decode(this.#buf.subarray(s, e));
    if (count === MANY_ATTRIBUTES) { // the start tag's first names, from this one on
      this.#attrSet.clear();
      for (let m = 0; m < count; m++) {
        this.#attrSet.add(key(this.#attrs[m * 4]!, this.#attrs[m * 4 + 1]!));
      }
    }
    const name = key(an, ane);
    if (this.#attrSet.has(name)) this.#duplicate(an, ane);
    this.#attrSet.add(name);
  }

  #duplicate(an: number, ane: number): never {
    const name = new TextDecoder().decode(this.#buf.subarray(an, ane));
    throw this.#error(`The attribute "${name}" appears twice in a start tag`, an);
  }

  // Pushes the element whose name is buf[nameStart, nameEnd) and reports it to the handler if
  // it wants that tag. The start tag begins at buffer index `start`, on line `line`.
  #openElement(nameStart: number, nameEnd: number, start: number, line: number): void {
    const buf = this.#buf;
    if (this.#depth === 0 && this.#rootClosed) {
      this.#mark(line, start);
      throw this.#error("A second root element: the report has trailing data", start);
    }
    const depth = this.#depth + 1;
    if (depth >= MAX_DEPTH) {
      this.#mark(line, start);
      throw this.#error("Elements are nested too deeply", start);
    }
    if (depth >= this.#ids.length) this.#growStack();
    const nameLen = nameEnd - nameStart;
    const id = lookupTag(buf, nameStart, nameEnd);
    if (id !== 0) this.#nameOff[depth] = TAG_NAME_OFFSET[id]!;
    else {
      this.#names = grow(this.#names, this.#namesFill + nameLen, this.#namesFill);
      const names = this.#names;
      for (let j = 0, o = this.#namesFill; j < nameLen; j++) names[o + j] = buf[nameStart + j]!;
      this.#nameOff[depth] = this.#namesFill;
      this.#namesFill += nameLen;
    }
    this.#nameLen[depth] = nameLen;
    this.#ids[depth] = id;
    this.#depth = depth;
    this.#rootSeen = true;
    if (this.#reported[id] === 1 || depth === 1) {
      this.#tagStart = start;
      this.#mark(line, start);
      this.#handler.open(id, this);
    }
    this.#attrCount = 0;
  }

  #growStack(): void {
    const need = this.#ids.length + 1;
    this.#ids = grow(this.#ids, need);
    this.#nameOff = grow(this.#nameOff, need);
    this.#nameLen = grow(this.#nameLen, need);
  }

  #decodeRange(start: number, end: number): string {
    const saved = this.#accLen, savedAcc = this.#acc, savedLimit = this.#accLimit;
    this.#acc = new Uint8Array(end - start + 4);
    this.#accLen = 0;
    this.#accLimit = Infinity;
    let seg = start;
    for (let k = start; k < end;) {
      if (this.#buf[k] === AMP) {
        this.#append(seg, k);
        k = seg = this.#entity(k, end, true, true);
      } else k++;
    }
    this.#append(seg, end);
    const s = this.text();
    this.#acc = savedAcc;
    this.#accLen = saved;
    this.#accLimit = savedLimit;
    return s;
  }
}

/** The tag name for a tag id (for messages), re-exported so that handlers need only this module. */
export { tagName };
export type { ByteReader };
