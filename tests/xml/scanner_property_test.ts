/**
 * Property tests for the scanner's fast paths: CDATA skipped a word at a time (any alignment,
 * any mix of `]`, `>`, CR and LF), text with `]` and `>` (where "]]>" is looked for), and the
 * line and column of a fault, whatever the chunking.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ReportSyntaxError } from "../../lib/errors.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { fromParsed, oracleExtract } from "../_oracle.ts";

const enc = new TextEncoder();

function feedChunks(bytes: Uint8Array, sizes: number[]) {
  const parser = new ReportParser();
  let off = 0, k = 0;
  while (off < bytes.length) {
    const size = sizes[k++ % sizes.length]!;
    parser.push(bytes.subarray(off, off + size));
    off += size;
  }
  return parser.end();
}

// CDATA-safe text: no "]]>" inside, but plenty of ']', '>', CR, LF and '<'.
const cdataText = fc.string({
  unit: fc.constantFrom("x", "]", ">", "\n", "\r", "<", "&", "é", " "),
  maxLength: 40,
}).map((s) => s.replaceAll("]]>", "]] >"));
// Text between CDATA sections: ']' and '>' next to each other, but never "]]>".
const plainText = fc.string({
  unit: fc.constantFrom("x", "]", "]]", ">", "\n", " "),
  maxLength: 12,
}).map((s) => s.replaceAll("]]>", "]]&gt;"));
const padding = fc.string({ unit: fc.constantFrom(" ", "\n", "\r\n"), maxLength: 7 });
const chunkSizes = fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 5 });

// A value written some way XML allows: padded, split by a comment or PI, partly in CDATA, or
// with a character reference.
function decorate(value: string, how: number, pad: string): string {
  const cut = value.length >> 1;
  const [a, b] = [value.slice(0, cut), value.slice(cut)];
  switch (how) {
    case 0:
      return `${pad}${value}${pad}`;
    case 1:
      return `${a}<!--${pad}-->${b}`;
    case 2:
      return `${a}<?p ${pad}?>${b}${pad}`;
    case 3:
      return `${pad}<![CDATA[${a}]]>${b}`;
    case 4:
      return `&#${value.charCodeAt(0)};${value.slice(1)}`;
    default:
      return `${a}${pad.replaceAll("\n", "\r\n")}${b}`; // CR LF inside: not a number
  }
}
const decoration = fc.tuple(fc.integer({ min: 0, max: 5 }), padding);

function report(
  pad: string,
  title: string,
  result: string,
  threat: string[],
  [ip, qid, port, proto]: [number, string][] = [[0, ""], [0, ""], [0, ""], [0, ""]],
  plain = "x\n",
): string {
  return `<?xml version="1.0"?>${pad}<ASSET_DATA_REPORT>${pad}<HOST_LIST><HOST>` +
    `<IP>${decorate("10.0.0.1", ...ip!)}</IP><VULN_INFO_LIST><VULN_INFO>` +
    `<QID>${decorate("7", ...qid!)}</QID><PORT>${decorate("443", ...port!)}</PORT>` +
    `<PROTOCOL>${decorate("tcp", ...proto!)}</PROTOCOL><RESULT><![CDATA[${result}]]></RESULT>` +
    `${pad}</VULN_INFO></VULN_INFO_LIST></HOST></HOST_LIST><GLOSSARY><VULN_DETAILS_LIST>` +
    `<VULN_DETAILS id="qid_7"><TITLE><![CDATA[${title}]]></TITLE>${pad}<THREAT>` +
    plain + threat.map((t) => `<![CDATA[${t}]]>`).join(plain) + "." +
    `</THREAT></VULN_DETAILS></VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>\n`;
}

Deno.test("CDATA, text with ']' and '>', and text split by markup, at any alignment and chunking read as saxes reads them (fast-check)", async () => {
  await fc.assert(
    fc.asyncProperty(
      padding,
      cdataText,
      cdataText,
      fc.array(cdataText, { maxLength: 3 }),
      fc.tuple(decoration, decoration, decoration, decoration),
      plainText,
      chunkSizes,
      async (pad, title, result, threat, values, plain, sizes) => {
        const xml = report(pad, title, result, threat, values, plain);
        const parsed = feedChunks(enc.encode(xml), sizes);
        try {
          assert.deepEqual(await fromParsed(parsed), oracleExtract(xml));
        } finally {
          parsed.dispose();
        }
      },
    ),
    { numRuns: 300 },
  );
});

// Where a fault is, counted the obvious way: 1-based line, and column in bytes from the line's
// start (as the scanner counts).
function lineAndColumn(text: string, at: number): [number, number] {
  const before = text.slice(0, at);
  const line = before.split("\n").length;
  return [line, enc.encode(before.slice(before.lastIndexOf("\n") + 1)).length + 1];
}

// [the fault, its message, where in it the error points]
const FAULTS: [string, RegExp, number][] = [
  ["&bogus;", /Undefined entity/, 0],
  ["\u0001", /not allowed in XML/, 0],
  ["<1x>", /does not start a tag/, 0],
  ["</NOPE>", /does not match/, 0],
  ["<A b=c>", /must be quoted/, 5],
  ["<A\n b=\n'1'c='2'>", /separated by white space/, 10],
  // the rules expat enforces (tests/xml/scanner_strictness_test.ts splits them at every byte)
  ["x]]>", /A '\]\]>' outside a CDATA section/, 1],
  ["<!-- a\n -- -->", /A '--' inside a comment/, 8],
  ["<!-- --->", /A '--' inside a comment/, 5],
  ["<A b='1'\n b='2'/>", /The attribute "b" appears twice/, 10],
  ["<![CDATA[a\n\u0000]]>", /Character 0x0 is not allowed/, 11],
];

Deno.test("A fault's line and column do not depend on chunking or CDATA before it (fast-check)", () => {
  fc.assert(
    fc.property(
      padding,
      cdataText.map((s) => s.replaceAll("\r", "").replaceAll("]]>", "]] >")),
      fc.array(
        fc.constantFrom(
          "\n",
          " ",
          "x",
          "<B/>",
          "<C a='1\n2'/>",
          "<!-- \n -->",
          "<?p \n?>",
          "<L>a\nb</L>",
          "<L><![CDATA[\n]]>\n</L>",
        ),
        {
          maxLength: 12,
        },
      ).map((parts) => parts.join("")),
      fc.constantFrom(...FAULTS),
      chunkSizes,
      (pad, cdata, filler, [fault, message, offset], sizes) => {
        const head = `<ASSET_DATA_REPORT>${pad}<X><![CDATA[${cdata}]]>${filler}<Y>${pad}`;
        const xml = `${head}${fault}</Y></X></ASSET_DATA_REPORT>`;
        const [line, column] = lineAndColumn(xml, head.length + offset);
        assert.throws(() => feedChunks(enc.encode(xml), sizes).dispose(), (e: Error) => {
          assert.ok(e instanceof ReportSyntaxError, String(e));
          assert.match(e.message, message);
          assert.equal(e.line, line, e.message);
          assert.equal(e.column, column, e.message);
          return true;
        });
      },
    ),
    { numRuns: 300 },
  );
});

// Many alike elements the extractor skips whole: a chunk that ends inside one of their end
// tags must not be completed from stale bytes further in the buffer.
Deno.test("Skipped elements cut at any chunk boundary read as saxes reads them (fast-check)", async () => {
  const vulns = Array.from(
    { length: 40 },
    (_, i) =>
      `<VULN_INFO><QID>${i + 1}</QID><TYPE>Vuln</TYPE><SSL>false</SSL>` +
      `<RESULT format="table"><![CDATA[r ${"x".repeat(i % 7)}]]></RESULT>` +
      `<FIRST_FOUND>2024-01-01</FIRST_FOUND><VULN_STATUS>Active</VULN_STATUS></VULN_INFO>\n`,
  ).join("");
  const xml = `<ASSET_DATA_REPORT><HOST_LIST><HOST><IP>10.0.0.9</IP><VULN_INFO_LIST>\n${vulns}` +
    `</VULN_INFO_LIST></HOST></HOST_LIST></ASSET_DATA_REPORT>\n`;
  const bytes = enc.encode(xml);
  const want = oracleExtract(xml);
  await fc.assert(
    fc.asyncProperty(chunkSizes, async (sizes) => {
      const parsed = feedChunks(bytes, sizes);
      try {
        assert.deepEqual(await fromParsed(parsed), want);
      } finally {
        parsed.dispose();
      }
    }),
    { numRuns: 200 },
  );
});
