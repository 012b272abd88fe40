/**
 * Well-formedness rules the scanner enforces as expat does, each case fed whole, in 1-byte
 * chunks and split in two at every byte: the same error (message, line, column) whatever the
 * chunking, and the near misses accepted. Each case is also given to `xmlwf -r` (expat) when it
 * is installed, which must agree that it is (or is not) well-formed.
 *
 * The corpus is generated here; `⁁` marks where the error must point and is removed before
 * parsing.
 */

import assert from "node:assert/strict";
import { ReportSyntaxError } from "../../lib/errors.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { ignoreUnless } from "../_skip.ts";

const enc = new TextEncoder();
const MARK = "⁁";

interface Case {
  name: string;
  /** The body of a `<THREAT>` in a glossary entry (collected) unless `xml` is given. */
  body?: string;
  /** A whole document, when the fault is elsewhere. */
  xml?: string;
  /** The error message (without the position), or undefined for a document that is fine. */
  error?: RegExp;
}

// A report whose glossary entry's THREAT (text the parser collects) holds `threat`, and whose
// finding's RESULT (an element the parser skips whole) holds `result`.
function report(threat: string, result = "r"): string {
  return `<?xml version="1.0"?>\n<ASSET_DATA_REPORT>\n<HOST_LIST><HOST><IP>10.0.0.1</IP>` +
    `<VULN_INFO_LIST><VULN_INFO><QID>7</QID><TYPE>Vuln</TYPE>\n<RESULT>${result}</RESULT>\n` +
    `</VULN_INFO></VULN_INFO_LIST></HOST></HOST_LIST>\n<GLOSSARY><VULN_DETAILS_LIST>` +
    `<VULN_DETAILS id="qid_7"><TITLE>t</TITLE>\n<THREAT>${threat}</THREAT></VULN_DETAILS>` +
    `</VULN_DETAILS_LIST></GLOSSARY>\n</ASSET_DATA_REPORT>\n`;
}

const CDATA_END = /A '\]\]>' outside a CDATA section/;
const DASHES = /A '--' inside a comment/;
const DUPLICATE = /The attribute "b" appears twice in a start tag/;
const CONTROL = (hex: string) => new RegExp(`Character 0x${hex} is not allowed in XML`);

const CASES: Case[] = [
  // ']]>' in character data
  { name: "']]>' in collected text", body: `a\n x${MARK}]]>y`, error: CDATA_END },
  { name: "']]>' in skipped text", xml: report("t", `a\nx${MARK}]]>y`), error: CDATA_END },
  { name: "']]]>' in text points at its last ']]>'", body: `x]${MARK}]]>`, error: CDATA_END },
  { name: "']]>' after an entity", body: `&amp;${MARK}]]>`, error: CDATA_END },
  { name: "']]>' right after a CDATA section", body: `<![CDATA[a]]>${MARK}]]>`, error: CDATA_END },
  {
    name: "']]>' in an element nobody asks for",
    xml: report("t", `<X>\n${MARK}]]></X>`),
    error: CDATA_END,
  },
  { name: "'] ]>' in text is fine", body: "x] ]> ]] > ]]" },
  { name: "']]' at the end of text is fine", body: "x]]<![CDATA[>]]>" },
  { name: "']]>' in an attribute value is fine", xml: report(`<X a="]]>" b=']]>'/>`) },
  { name: "']]]]>' closing CDATA is fine", body: "<![CDATA[a]]]]>b" },

  // '--' in comments
  { name: "'--' inside a comment", body: `<!-- a ${MARK}-- b -->`, error: DASHES },
  { name: "a comment ending in '--->'", body: `<!-- a ${MARK}--->`, error: DASHES },
  { name: "'<!----->'", body: `<!--${MARK}--->`, error: DASHES },
  {
    name: "'--' inside a multi-line comment",
    body: `<!--\n a\n${MARK}--\n-->`,
    error: DASHES,
  },
  {
    name: "'--' inside a comment before the root",
    xml: report("t").replace("<ASSET_DATA_REPORT>", `<!-- \n${MARK}-- -->\n<ASSET_DATA_REPORT>`),
    error: DASHES,
  },
  {
    name: "'--' inside a comment in the DOCTYPE's internal subset",
    xml: report("t").replace(
      "<ASSET_DATA_REPORT>",
      `<!DOCTYPE ASSET_DATA_REPORT [\n<!ENTITY e "--"><!-- ${MARK}-- -->\n]>\n<ASSET_DATA_REPORT>`,
    ),
    error: DASHES,
  },
  {
    name: "'--' inside a comment after the root",
    xml: `${report("t")}<!-- ${MARK}-- -->\n`,
    error: DASHES,
  },
  { name: "'<!---->' is fine", body: "<!---->" },
  { name: "single dashes in a comment are fine", body: "<!-- - -x- -a-b- -->" },
  { name: "a comment starting with '-' is fine", body: "<!---x-->" },

  // duplicate attributes
  {
    name: "a duplicate attribute",
    xml: report(`<X b="1" ${MARK}b="2"/>`),
    error: DUPLICATE,
  },
  {
    name: "a duplicate attribute after another one, across lines",
    xml: report(`<X b='1'\n c="2"\n ${MARK}b = '3'></X>`),
    error: DUPLICATE,
  },
  {
    name: "a duplicate attribute on a reported element",
    xml: report("t").replace(`id="qid_7"`, `id="qid_7" b="" ${MARK}b="x"`),
    error: DUPLICATE,
  },
  { name: "attributes differing in case are fine", xml: report(`<X b="1" B="2" bb="3"/>`) },

  // characters XML forbids, inside CDATA
  { name: "NUL in collected CDATA", body: `<![CDATA[a\n${MARK}\u0000b]]>`, error: CONTROL("0") },
  {
    name: "NUL in skipped CDATA",
    xml: report("t", `<![CDATA[ab\n${MARK}\u0000]]>`),
    error: CONTROL("0"),
  },
  {
    name: "0x1 in CDATA after a long run",
    body: `<![CDATA[${"x".repeat(37)}]x]${MARK}\u0001]]>`,
    error: CONTROL("1"),
  },
  { name: "0x1f in CDATA", body: `<![CDATA[${MARK}\u001f]]>`, error: CONTROL("1f") },
  { name: "0xb in CDATA", body: `<![CDATA[]${MARK}\u000b]]>`, error: CONTROL("b") },
  { name: "tab, CR and LF in CDATA are fine", body: "<![CDATA[a\tb\rc\r\nd\n\t]]>" },

  // characters XML forbids, in comments, processing instructions and the DOCTYPE (once skipped
  // unread: a NUL there was accepted)
  { name: "NUL in a comment", body: `<!-- a\n${MARK}\u0000b -->`, error: CONTROL("0") },
  {
    name: "0x1 in a comment before the root",
    xml: report("t").replace("<ASSET_DATA_REPORT>", `<!-- ${MARK}\u0001 -->\n<ASSET_DATA_REPORT>`),
    error: CONTROL("1"),
  },
  { name: "NUL in a processing instruction", body: `<?pi a${MARK}\u0000b?>`, error: CONTROL("0") },
  {
    name: "0x1b in the DOCTYPE",
    xml: report("t").replace(
      "<ASSET_DATA_REPORT>",
      `<!DOCTYPE ASSET_DATA_REPORT [\n<!ENTITY e "${MARK}\u001b">\n]>\n<ASSET_DATA_REPORT>`,
    ),
    error: CONTROL("1b"),
  },
  { name: "tab, CR and LF in a comment and a PI are fine", body: "<!--a\tb\r\nc--><?pi\ta\r\n?>" },
  {
    name: "a PI and a comment holding ']>' and quotes in the DOCTYPE's internal subset are fine",
    xml: report("t").replace(
      "<ASSET_DATA_REPORT>",
      `<!DOCTYPE ASSET_DATA_REPORT [\n<?pi a]>'b?>\n<!-- ]>" -->\n]>\n<ASSET_DATA_REPORT>`,
    ),
  },
];

function documentOf(c: Case): { text: string; at: number } {
  const marked = c.xml ?? report(c.body!);
  const at = marked.indexOf(MARK);
  assert.equal(at >= 0, c.error !== undefined, `${c.name}: the mark is there when it fails`);
  return { text: marked.replace(MARK, ""), at };
}

// 1-based line, and column in bytes (as the scanner counts).
function lineAndColumn(text: string, at: number): [number, number] {
  const before = text.slice(0, at);
  const line = before.split("\n").length;
  return [line, enc.encode(before.slice(before.lastIndexOf("\n") + 1)).length + 1];
}

function parse(bytes: Uint8Array, cuts: number[]): void {
  const parser = new ReportParser();
  let off = 0;
  for (const cut of [...cuts, bytes.length]) {
    parser.push(bytes.subarray(off, cut));
    off = cut;
  }
  parser.end().dispose();
}

// Every chunking to try: whole, byte by byte, and in two at every split point.
function chunkings(length: number): [string, number[]][] {
  const all: [string, number[]][] = [["whole", []]];
  all.push(["1-byte chunks", Array.from({ length: length - 1 }, (_, i) => i + 1)]);
  for (let p = 1; p < length; p++) all.push([`split at ${p}`, [p]]);
  return all;
}

Deno.test("XmlScanner rejects what expat rejects, at every chunk split", async (t) => {
  for (const c of CASES) {
    await t.step(c.name, () => {
      const { text, at } = documentOf(c);
      const bytes = enc.encode(text);
      for (const [how, cuts] of chunkings(bytes.length)) {
        if (!c.error) {
          parse(bytes, cuts);
          continue;
        }
        const [line, column] = lineAndColumn(text, at);
        assert.throws(() => parse(bytes, cuts), (e: Error) => {
          assert.ok(e instanceof ReportSyntaxError, `${how}: ${e}`);
          assert.match(e.message, c.error!, how);
          assert.equal(e.exitCode, 4);
          assert.deepEqual([e.line, e.column], [line, column], `${how}: ${e.message}`);
          assert.match(e.message, new RegExp(`at line ${line}, column ${column}$`));
          return true;
        });
      }
    });
  }
});

function haveXmlwf(): boolean {
  try {
    return new Deno.Command("xmlwf", { args: ["-v"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const XMLWF = "xmlwf -r (expat) agrees on every case";

Deno.test({
  name: XMLWF,
  ignore: ignoreUnless(haveXmlwf(), XMLWF, "xmlwf is not installed (apt-get install -y expat)"),
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "qc-strictness-" });
    try {
      for (const [k, c] of CASES.entries()) {
        await t.step(c.name, async () => {
          const path = `${dir}/${k}.xml`;
          await Deno.writeTextFile(path, documentOf(c).text);
          const out = await new Deno.Command("xmlwf", { args: ["-r", path] }).output();
          // xmlwf prints nothing for a well-formed file, and `file:line:column: why` otherwise
          const said = new TextDecoder().decode(out.stdout).trim();
          if (c.error) assert.match(said, /not well-formed|duplicate attribute/, said);
          else assert.equal(said, "", said);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
