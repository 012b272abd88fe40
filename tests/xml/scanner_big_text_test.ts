/**
 * Big text blocks (issue 18, item 4): a CDATA section, text, a comment, a processing
 * instruction or a DOCTYPE of many MB, fed in small chunks, costs work in proportion to its size
 * (counted by the scanner's `bytesScanned`, no clock), and memory that does not grow with it
 * when nobody reads it (`bufferSize`); text a handler reads is kept up to the limit it asks for.
 * Then correctness where a construct is read in parts: every split of CDATA, comments, PIs and
 * the DOCTYPE across chunk boundaries reads as saxes reads it, and a construct the input ends in
 * is named where it starts, whatever the chunking.
 */

import assert from "node:assert/strict";
import { ReportSyntaxError } from "../../lib/errors.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { DetectionPageParser } from "../../lib/sources/detections/pages/detection_page.ts";
import { type ScanHandler, XmlScanner } from "../../lib/xml/scanner.ts";
import { Tag } from "../../lib/xml/tags.ts";
import { parseDom, type XNode } from "../_oracle.ts";

const enc = new TextEncoder();
const MB = 1e6;

// Scanner output as Qualys shows it: tab-separated lines, with the odd ']' and '>'.
const LINES = enc.encode(
  Array.from({ length: 2000 }, (_, i) => `pkg-${i}\t1.${i % 9}]-${i % 7}>\tx] ]>\r\n`).join(""),
);

/** Feeds head, `size` bytes of filler (`LINES` over and over), tail, in `chunk`-byte pushes. */
function feed(
  scanner: XmlScanner,
  parts: { head: string; size: number; tail: string; chunk: number; filler?: Uint8Array },
): void {
  const filler = parts.filler ?? LINES;
  const all = [enc.encode(parts.head)];
  let left = parts.size;
  // the filler comes in pieces of its own length, so that the chunks cut it anywhere
  const pieces = function* () {
    yield* all;
    while (left > 0) {
      const piece = filler.subarray(0, Math.min(filler.length, left));
      left -= piece.length;
      yield piece;
    }
    yield enc.encode(parts.tail);
  };
  const chunk = new Uint8Array(parts.chunk);
  let fill = 0;
  for (const piece of pieces()) {
    for (let o = 0; o < piece.length;) {
      const n = Math.min(piece.length - o, chunk.length - fill);
      chunk.set(piece.subarray(o, o + n), fill);
      fill += n;
      o += n;
      if (fill === chunk.length) {
        scanner.push(chunk);
        fill = 0;
      }
    }
  }
  scanner.push(chunk.subarray(0, fill));
  scanner.end();
}

// A handler that collects the QID and the STATUS text (as a detection page's parser does), and
// everything under <KEEP> with the limit given.
function handler(limit?: number) {
  const seen: string[] = [];
  const h: ScanHandler = {
    open(id, s) {
      if (id === Tag.QID || id === Tag.STATUS) s.collectText();
      else if (id === Tag.VALUE) s.collectText(limit);
    },
    close(id, s) {
      if (id === Tag.QID || id === Tag.STATUS) seen.push(s.text());
      else if (id === Tag.VALUE) seen.push(`${s.textBytes().length} ${s.textCut}`);
    },
  };
  return { h, seen };
}

const HEAD = "<?xml version='1.0'?>\n<RESPONSE><DETECTION><QID>6</QID>\n";
const TAIL = "\n<STATUS>Active</STATUS></DETECTION></RESPONSE>\n";

// Each construct nobody reads, wrapped around the filler.
const SKIPPED: [string, string, string][] = [
  ["CDATA in an element nobody reads", "<RESULTS><![CDATA[", "]]></RESULTS>"],
  ["CDATA in an element read for its QID only", "<![CDATA[", "]]>"],
  ["text in an element nobody reads", "<RESULTS>", "</RESULTS>"],
  ["a comment", "<!--", "-->"],
  ["a processing instruction", "<?results ", "?>"],
];

for (const [what, open, close] of SKIPPED) {
  Deno.test(`${what} of 20 MB costs its bytes once and no memory (work counted, 2 MB vs 20 MB)`, () => {
    const work: number[] = [];
    for (const size of [2 * MB, 20 * MB]) {
      const { h, seen } = handler();
      const s = new XmlScanner(h, { tags: [Tag.QID, Tag.STATUS], bufferSize: 64 << 10 });
      const filler = what.startsWith("text") || what.startsWith("a comment")
        ? LINES.map((c) => c === 0x3e || c === 0x5d || c === 0x2d ? 0x20 : c) // no ']]>', '--'
        : undefined;
      feed(s, { head: HEAD + open, size, tail: close + TAIL, chunk: 4096, filler });
      assert.deepEqual(seen, ["6", "Active"]);
      assert.ok(s.offset > size);
      // each byte once, and the few bytes held over each chunk boundary again
      assert.ok(s.bytesScanned <= s.offset + 4 * (s.offset / 4096), `${s.bytesScanned}`);
      assert.equal(s.bufferSize, 64 << 10, "the buffer did not grow");
      work.push(s.bytesScanned);
    }
    assert.ok(work[1]! / work[0]! < 10.5, `work grows with the size: ${work}`);
  });
}

Deno.test("A DOCTYPE whose internal subset is 20 MB costs its bytes once and no memory", () => {
  const { h, seen } = handler();
  const s = new XmlScanner(h, { tags: [Tag.QID, Tag.STATUS], bufferSize: 64 << 10 });
  // declarations with quoted '>' and comments, over and over
  const decl = enc.encode(`<!ENTITY e "a>b]"> <!-- c > ] --> <!ATTLIST x y CDATA 'z>'>\n`);
  feed(s, {
    head: "<!DOCTYPE RESPONSE [\n",
    size: 20 * MB - 20 * MB % decl.length,
    filler: decl,
    tail: "]>\n" + HEAD + TAIL,
    chunk: 4096,
  });
  assert.deepEqual(seen, ["6", "Active"]);
  assert.ok(s.bytesScanned <= s.offset + 16 * (s.offset / 4096), `${s.bytesScanned}`);
  assert.equal(s.bufferSize, 64 << 10);
});

Deno.test("A start tag with an attribute value of 8 MB is held whole, but read in linear work", () => {
  const seen: string[] = [];
  const s = new XmlScanner({
    open(id, sc) {
      if (id === Tag.VALUE) seen.push(`${sc.attr("v")?.length} ${sc.attr("w")}`);
    },
    close() {},
  }, { tags: [Tag.VALUE], bufferSize: 64 << 10 });
  // no '<', '&', quote or CR in the value
  const filler = LINES.map((c) => c === 0x3c || c === 0x26 || c === 0x27 || c === 13 ? 0x20 : c);
  feed(s, {
    head: "<RESPONSE><VALUE v='",
    size: 8 * MB,
    tail: "' w='1'/></RESPONSE>",
    chunk: 4096,
    filler,
  });
  assert.deepEqual(seen, [`${8 * MB} 1`]);
  // scanned again only once twice as much has arrived: at most 4 times its size in all
  assert.ok(s.bytesScanned <= 4 * s.offset, `${s.bytesScanned} for ${s.offset}`);
});

Deno.test("Text a handler reads is kept up to the limit it asks for, cut at a character boundary", () => {
  for (
    const [body, limit, want] of [
      ["abcdef", 4, "4 true"],
      ["abcd", 4, "4 false"],
      ["ab\r\ncd", 5, "5 false"], // CR LF is one LF: 5 bytes fit
      ["ab\r\ncde", 5, "5 true"],
      ["aé", 2, "1 true"], // é is 2 bytes: not cut in half
      ["a€", 3, "1 true"],
      ["a&#x20AC;b", 3, "1 true"],
      ["<![CDATA[abc]]>def", 4, "4 true"],
    ] as const
  ) {
    const { h, seen } = handler(limit);
    const s = new XmlScanner(h, { tags: [Tag.VALUE] });
    s.push(enc.encode(`<RESPONSE><VALUE>${body}</VALUE></RESPONSE>`));
    s.end();
    assert.deepEqual(seen, [want], body);
  }
  // textInt and textIs do not read a number or a word out of a cut text
  const got: unknown[] = [];
  const s = new XmlScanner({
    open: (_id, sc) => sc.collectText(3),
    close: (id, sc) => {
      if (id === Tag.QID) got.push(sc.textInt(), sc.textIs("12"), sc.text());
    },
  }, { tags: [Tag.QID] });
  s.push(enc.encode("<RESPONSE><QID>12 x</QID></RESPONSE>"));
  s.end();
  assert.deepEqual(got, [-1, false, "12 "]);
});

Deno.test("A collected CDATA of 20 MB is kept up to its limit; the buffer does not grow", () => {
  const { h, seen } = handler(1 << 20);
  const s = new XmlScanner(h, { tags: [Tag.QID, Tag.STATUS, Tag.VALUE], bufferSize: 64 << 10 });
  feed(s, {
    head: `${HEAD}<VALUE><![CDATA[`,
    size: 20 * MB,
    tail: `]]></VALUE>${TAIL}`,
    chunk: 4096,
  });
  assert.deepEqual(seen, ["6", `${1 << 20} true`, "Active"]);
  assert.equal(s.bufferSize, 64 << 10);
  assert.ok(s.bytesScanned <= s.offset * 1.01, `${s.bytesScanned}`);
});

Deno.test("A detection page whose RESULTS is 20 MB of CDATA gives its finding", () => {
  const head =
    "<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>2026-11-21T06:00:00Z</DATETIME>" +
    "<HOST_LIST><HOST><ID>1</ID><IP>10.0.0.1</IP><DETECTION_LIST><DETECTION><QID>6</QID>" +
    "<TYPE>Confirmed</TYPE><RESULTS><![CDATA[";
  const tail = "]]></RESULTS><STATUS>Active</STATUS></DETECTION></DETECTION_LIST></HOST>" +
    "</HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>";
  const parser = new DetectionPageParser();
  const chunk = new Uint8Array(16384);
  const all = enc.encode(head);
  parser.push(all);
  for (let left = 20 * MB; left > 0; left -= chunk.length) {
    chunk.set(LINES.subarray(0, chunk.length));
    parser.push(chunk.subarray(0, Math.min(left, chunk.length)));
  }
  parser.push(enc.encode(tail));
  const page = parser.end();
  assert.deepEqual([page.stats.hosts, page.stats.open], [1, 1]);
});

Deno.test("A report keeps at most 1 MiB of a glossary entry's THREAT and TITLE", () => {
  const threat = "<P>" + "word ".repeat(600_000) + "</P>"; // 3 MB
  const xml = `<ASSET_DATA_REPORT><HOST_LIST><HOST><IP>10.0.0.1</IP><VULN_INFO_LIST><VULN_INFO>` +
    `<QID id="qid_6">6</QID></VULN_INFO></VULN_INFO_LIST></HOST></HOST_LIST><GLOSSARY>` +
    `<VULN_DETAILS_LIST><VULN_DETAILS id="qid_6"><QID>6</QID><TITLE>${"t".repeat(2 << 20)}é` +
    `</TITLE><THREAT><![CDATA[${threat}]]></THREAT></VULN_DETAILS></VULN_DETAILS_LIST>` +
    `</GLOSSARY></ASSET_DATA_REPORT>`;
  const parser = new ReportParser();
  parser.push(enc.encode(xml));
  const report = parser.end();
  try {
    const entry = report.glossary.get(6)!;
    assert.equal(entry.title, "t".repeat(1 << 20));
    assert.equal(entry.description, threat.slice(0, 1 << 20));
  } finally {
    report.dispose();
  }
});

// ---- correctness of constructs read in parts ----

// The text of each <A>, in document order, as the scanner collects it.
function scannerTexts(bytes: Uint8Array, cuts: number[]): string[] {
  const texts: string[] = [];
  const s = new XmlScanner({
    open: (id, sc) => id === Tag.A && sc.collectText(),
    close: (id, sc) => id === Tag.A && texts.push(sc.text()),
  }, { tags: [Tag.A] });
  let off = 0;
  for (const cut of [...cuts, bytes.length]) {
    s.push(bytes.subarray(off, cut));
    off = cut;
  }
  s.end();
  return texts;
}

// saxes's reading of the same.
function oracleTexts(xml: string): string[] {
  const out: string[] = [];
  const walk = (n: XNode) => {
    if (n.name === "A") out.push(n.text);
    n.children.forEach(walk);
  };
  walk(parseDom(xml));
  return out;
}

const PARTS: string[] = [
  // CDATA: "]]>" split anywhere, "]]]>", "]]" at a chunk's end, CR LF split
  "<A><![CDATA[a]]]>b</A>",
  "<A><![CDATA[]]]]]]]>]]></A>".replace("]]>]]>", "]]>"),
  "<A>x<![CDATA[]]><![CDATA[]]]]><![CDATA[>]]>y</A>",
  "<A><![CDATA[a\r\nb\rc\r\r\nd]]]]>\r\n</A>",
  "<A>a\r<![CDATA[\nb]]>\n<![CDATA[c\r]]>\nd</A>",
  "<A><![CDATA[<not> &a tag; <!-- -->]]></A>",
  // a CR, then markup, then an LF: two line ends
  "<A>x\r<!--c-->\ny\r<?p?>\nz\r<B/>\n\r</A>",
  // comments and PIs, with '-', '?' and '>' everywhere they may be
  "<A>a<!-- - -> -x- -->b<!---->c<!---y-->d</A>",
  "<A>a<?p ? > ?? ?>b<?q?>c<?r??>d</A>",
  // the DOCTYPE: quoted '>' and ']', a comment with '>' and ']' in its internal subset
  "<!DOCTYPE A SYSTEM \"a>b\" [\n<!ENTITY e 'x]>y'>\n<!-- c > ] - ->\n -->\n<?p ]>'?>\n]>\n<A>z</A>",
];

Deno.test("CDATA, comments, PIs and the DOCTYPE split at every byte, and fed byte by byte, read as saxes reads them", () => {
  for (const part of PARTS) {
    const xml = `<R>${part.includes("DOCTYPE") ? "" : part}</R>`;
    const doc = part.includes("DOCTYPE") ? part : xml;
    const bytes = enc.encode(doc);
    const want = oracleTexts(doc);
    assert.deepEqual(scannerTexts(bytes, []), want, doc);
    assert.deepEqual(
      scannerTexts(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)),
      want,
      `${doc} byte by byte`,
    );
    for (let p = 1; p < bytes.length; p++) {
      for (let q = p + 1; q <= Math.min(bytes.length - 1, p + 3); q++) {
        assert.deepEqual(scannerTexts(bytes, [p, q]), want, `${doc} split at ${p} and ${q}`);
      }
    }
  }
});

Deno.test("A document that ends inside a CDATA section, comment, PI or DOCTYPE names where it began, whatever the chunking", () => {
  for (
    const [doc, what, line, column] of [
      ["<R>\n  <A><![CDATA[ab\ncd]]", "a CDATA section", 2, 6],
      ["<R>\n  <A>x<!-- ab\ncd --", "a comment", 2, 7],
      ["<R>\n <?pi ab\ncd ?", "a processing instruction", 2, 2],
      ["<!DOCTYPE R [\n<!-- a > ] -->\n<!ENTITY e 'x>' >\n", "the DOCTYPE", 1, 1],
      ["<!DOCTYPE R [\n<!-- a > ] -", "the DOCTYPE", 1, 1],
    ] as const
  ) {
    const bytes = enc.encode(doc);
    const chunkings = [[], Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)];
    for (let p = 1; p < bytes.length; p++) chunkings.push([p]);
    for (const cuts of chunkings) {
      assert.throws(() => scannerTexts(bytes, cuts), (e: Error) => {
        assert.ok(e instanceof ReportSyntaxError, String(e));
        assert.equal(
          e.message,
          `The report is truncated inside ${what} at line ${line}, column ${column}`,
        );
        assert.equal(e.truncated, true);
        return true;
      }, `${doc} cut at ${cuts}`);
    }
  }
});

Deno.test("Text outside the root element is named on its own line, whatever the chunking", () => {
  for (
    const [doc, message, line, column] of [
      ["<!-- a -->\n\n  x\n<R/>", "Text before the root element: this is not an XML report", 3, 3],
      [
        "<R/>\n\n y\n",
        "Text after the end of the root element: the report has trailing data",
        3,
        2,
      ],
    ] as const
  ) {
    const bytes = enc.encode(doc);
    for (let p = 1; p < bytes.length; p++) {
      assert.throws(() => scannerTexts(bytes, [p]), (e: Error) => {
        assert.ok(e instanceof ReportSyntaxError, String(e));
        assert.equal(e.message, `${message} at line ${line}, column ${column}`);
        return true;
      }, `${doc} split at ${p}`);
    }
  }
});

Deno.test("Many attributes on one start tag: every twin is found, at its place, whatever the count", () => {
  const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}="${i}"`).join("");
  for (
    const [count, twin] of [[15, 14], [16, 15], [17, 0], [17, 16], [40_000, 0], [
      40_000,
      39_998,
    ]] as const
  ) {
    const head = `<R${attrs(count)}`;
    const doc = `${head} a${twin}="x"/>`;
    assert.throws(() => scannerTexts(enc.encode(doc), []), (e: Error) => {
      assert.ok(e instanceof ReportSyntaxError, String(e));
      assert.equal(
        e.message,
        `The attribute "a${twin}" appears twice in a start tag at line 1, column ${
          head.length + 2
        }`,
      );
      return true;
    }, `${count} attributes, the twin of a${twin}`);
    // the same names, each once, are fine
    assert.deepEqual(scannerTexts(enc.encode(`${head} b="1"><A>t</A></R>`), [count]), ["t"]);
  }
});
