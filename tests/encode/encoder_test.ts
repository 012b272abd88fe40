import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteBuffer, CommandEncoder, type EncodeOptions } from "../../lib/encode/encoder.ts";
import { TEMP_FILES } from "../../lib/util/temp_files.ts";
import {
  cleanBugtraqIds,
  cleanCveIds,
  htmlToText,
  sanitizeField,
  sanitizeHtml,
} from "../../lib/encode/sanitize.ts";
import { type GlossaryEntry, ReportParser } from "../../lib/sources/report/parse_report.ts";
import type { HostFindings } from "../../lib/findings/finding_spool.ts";
import { generateReport } from "../../scripts/gen_report.ts";
import { ignoreUnless, NO_SHARED_FIXTURES, SHARED_FIXTURES } from "../_skip.ts";
import { shortenLine } from "../../lib/host_input/grammar.ts";

function host(ip: string, findings: [number, number, number][]): HostFindings {
  return {
    ip,
    count: findings.length,
    qids: new Uint32Array(findings.map((f) => f[0])),
    ports: new Uint16Array(findings.map((f) => f[1])),
    protos: new Uint8Array(findings.map((f) => f[2])),
  };
}

function entry(qid: number, over: Partial<GlossaryEntry> = {}): [number, GlossaryEntry] {
  return [qid, { qid, title: "", description: "", cves: [], bugtraqs: [], ...over }];
}

/** Splits a line as Text::CSV (allow_whitespace) does; throws on a malformed field. */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " ") i++;
    let value = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`unterminated quote in ${line}`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      while (line[i] === " ") i++;
      if (i < line.length && line[i] !== ",") throw new Error(`text after a quote in ${line}`);
    } else {
      const end = line.indexOf(",", i);
      value = line.slice(i, end < 0 ? line.length : end);
      if (value.includes('"')) throw new Error(`quote inside a bare field in ${line}`);
      i = end < 0 ? line.length : end;
    }
    fields.push(value);
    if (i >= line.length) return fields;
    i++; // comma
  }
}

Deno.test("sanitizeField applies each rule", async (t) => {
  const cases: [string, string, string][] = [
    ["comma becomes space", "a,b,,c", "a b c"],
    ["double quote becomes single quote", 'say "hi"', "say 'hi'"],
    ["CR, LF and tab become spaces", "a\r\nb\tc\rd\ne", "a b c d e"],
    ["white space is collapsed and trimmed", "  a    b  ", "a b"],
    ["accents are folded", "Café naïve Ångström", "Cafe naive Angstrom"],
    [
      "typographic punctuation is folded",
      "\u201cx\u201d \u2018y\u2019 a\u2013b \u2026",
      "'x' 'y' a-b ...",
    ],
    ["other non-ASCII is dropped", "漢字 ok \u{1F600}", "ok"],
    ["other control characters become spaces", "a\u0000b\u001fc\u007fd", "a b c d"],
    ["unicode line separators become spaces", "a\u2028b\u0085c", "a b c"],
  ];
  for (const [name, input, output] of cases) {
    await t.step(name, () => assert.equal(sanitizeField(input), output));
  }
});

// The first implementation, a chain of replace() calls, kept as the reference for the one-pass one.
const FOLD_REF: Record<string, string> = {
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
function sanitizeReference(text: string): string {
  let s = text;
  if (/[^\x20-\x7e]/.test(s)) {
    s = s.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
    // deno-lint-ignore no-control-regex
    s = s.replace(/[^\x00-\x7f]/g, (ch) => FOLD_REF[ch] ?? (/\s/.test(ch) ? " " : ""));
    // deno-lint-ignore no-control-regex
    s = s.replace(/[\x00-\x1f\x7f]/g, " ");
  }
  return s.replace(/,/g, " ").replace(/"/g, "'").replace(/\s+/g, " ").trim();
}

Deno.test("sanitizeField gives what the replace() chain gave, on any text (fast-check)", () => {
  const unit = fc.oneof(
    fc.constantFrom(
      ",",
      '"',
      "\r",
      "\n",
      "\t",
      " ",
      "  ",
      "é",
      "’",
      "“",
      "…",
      "™",
      "ß",
      "\u00a0",
      "\u2028",
      "\u0085",
      "漢",
      "\u{1F600}",
      "\u0301",
      "\u0000",
      "\u007f",
      "e\u0301",
      "\ufb01",
      "\u{1D400}",
      "\u00a8",
      "\u00bd",
      "\u3000",
      "\uff21",
      "\u212b",
      "\ud800",
      "\udc00x",
      "\u0308\u0323",
    ),
    fc.string({ unit: "grapheme-ascii", maxLength: 4 }),
  );
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 60 }), (text) => {
      assert.equal(sanitizeField(text), sanitizeReference(text));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("sanitizeHtml gives what sanitizeField(htmlToText()) gives, on any text (fast-check)", () => {
  const unit = fc.oneof(
    fc.constantFrom(
      "<",
      ">",
      "&",
      ";",
      "#",
      "x",
      "X",
      "/",
      "!--",
      "-->",
      "<P>",
      "</a>",
      "<BR/>",
      '<A HREF="x>y">',
      "<!-- c -->",
      "&amp;",
      "&AMP;",
      "&nbsp;",
      "&hellip;",
      "&rsquo;",
      "&eacute;",
      "&bogus1234;",
      "&abcdefghij;",
      "&#233;",
      "&#x41;",
      "&#X20AC;",
      "&#0;",
      "&#xD800;",
      "&#12345678;",
      "&#x1234567;",
      "&#x0000e9;",
      "&#0000233;",
      "&#x;",
      "&lt;b&gt;",
      "é",
      "’",
      "\u{1F600}",
      ",",
      '"',
      " ",
      "\n",
    ),
    fc.string({ unit: "grapheme-ascii", maxLength: 3 }),
  );
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 40 }), (html) => {
      assert.equal(sanitizeHtml(html), sanitizeField(htmlToText(html)));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("htmlToText drops tags and decodes entities, also when the markup itself is escaped", () => {
  assert.equal(
    sanitizeField(htmlToText('<P>Use <A HREF="x">this</A> &amp; that&nbsp;one.</P><BR>Next')),
    "Use this & that one. Next",
  );
  assert.equal(
    sanitizeField(htmlToText("&lt;P&gt;the host&apos;s uptime&lt;/P&gt;")),
    "the host's uptime",
  );
  assert.equal(sanitizeField(htmlToText("a < b and c > d")), "a < b and c > d");
});

Deno.test("cleanCveIds and cleanBugtraqIds keep only well-formed IDs", () => {
  assert.deepStrictEqual(
    cleanCveIds([
      "CVE-2014-0160",
      "cve-2019-12345",
      "CAN-1999-0001",
      "CVE-14-1",
      "CVE-2014-0160 x",
    ]),
    ["CVE-2014-0160", "CVE-2019-12345"],
  );
  assert.deepStrictEqual(cleanBugtraqIds(["66690", "BID-1", "1,2", "007"]), ["66690", "007"]);
});

Deno.test("CommandEncoder writes the lines the README shows (What is written)", () => {
  const glossary = new Map([
    entry(38170, {
      title: "SSL, cert",
      description: "<P>Bad &amp; sad</P>",
      cves: ["CVE-2014-0160", "CVE-2014-0161"],
      bugtraqs: ["66690"],
    }),
    entry(82003, { title: "ICMP" }),
  ]);
  const enc = new CommandEncoder(glossary, { addHost: true });
  assert.equal(new TextDecoder().decode(enc.header()), "SetSource,QualysGuard Scan Report\n");
  assert.deepStrictEqual(
    enc.encodeHostToLines(host("10.1.2.3", [[38170, 443, 1], [82003, 0, 0], [82003, 53, 2]])),
    [
      "AddHost,10.1.2.3",
      'AddScanResult,10.1.2.3,"QualysGuard",38170,443,tcp,"SSL cert","Bad & sad","cve_ids: CVE-2014-0160 CVE-2014-0161","bugtraq_ids: 66690"',
      'AddScanResult,10.1.2.3,"QualysGuard",82003,,,"ICMP","","cve_ids:","bugtraq_ids:"',
      'AddScanResult,10.1.2.3,"QualysGuard",82003,53,udp,"ICMP","","cve_ids:","bugtraq_ids:"',
      "ScanFlush",
    ],
  );
});

Deno.test("CommandEncoder uses scanner_name and source_name, sanitised", () => {
  const enc = new CommandEncoder(new Map(), { scannerName: 'My "QG", eu', sourceName: "Src,1" });
  assert.equal(new TextDecoder().decode(enc.header()), "SetSource,Src 1\n");
  assert.deepStrictEqual(enc.encodeHostToLines(host("::1", [[1, 0, 0]])), [
    `AddScanResult,::1,"My 'QG' eu",1,,,"","","cve_ids:","bugtraq_ids:"`,
    "ScanFlush",
  ]);
});

Deno.test("CommandEncoder keeps every line within 4000 bytes: description first, then IDs, then title", () => {
  const long = "word ".repeat(2000);
  const glossary = new Map([
    entry(1, { title: "short title", description: long }),
    entry(2, { title: long, description: long }),
    entry(3, { title: "t", cves: Array.from({ length: 400 }, (_, k) => `CVE-2020-${10000 + k}`) }),
  ]);
  const enc = new CommandEncoder(glossary);
  const ip = "2001:db8:1234:5678:9abc:def0:1234:5678";
  const lines = enc.encodeHostToLines(host(ip, [[1, 65535, 1], [2, 0, 0], [3, 1, 2]]));
  for (const line of lines) assert.ok(line.length + 1 <= 4000, `${line.length + 1} bytes`);
  const [l1, l2, l3] = lines.map(csvFields);
  assert.equal(l1![6], "short title");
  assert.ok(l1![7]!.endsWith("...") && l1![7]!.length > 3000);
  assert.equal(l2![7], "");
  assert.ok(l2![6]!.endsWith("..."));
  assert.match(l3![8]!, /^cve_ids: CVE-2020-10000 /);
  assert.equal(l3![6], "t", "the title stays: the IDs give way first");
  assert.equal(enc.shortened, 3);
});

Deno.test("CommandEncoder keeps the title of a QID with a very long CVE list, and as many IDs as fit", () => {
  const title = "OpenSSL Multiple Vulnerabilities (OpenSSL Security Advisory 20160301)";
  const cves = Array.from({ length: 600 }, (_, k) => `CVE-2016-${1000 + k}`);
  const bids = Array.from({ length: 50 }, (_, k) => `${80000 + k}`);
  const enc = new CommandEncoder(
    new Map([entry(7, { title, description: "word ".repeat(300), cves, bugtraqs: bids })]),
  );
  const [line] = enc.encodeHostToLines(host("10.0.0.1", [[7, 443, 1]]));
  assert.ok(line!.length + 1 <= 4000, `${line!.length + 1} bytes`);
  const f = csvFields(line!);
  assert.equal(f[6], title);
  assert.equal(f[7], "", "the description went first");
  const kept = f[8]!.split(" ").slice(1);
  assert.deepEqual(kept, cves.slice(0, kept.length), "the first CVEs, in order");
  assert.ok(kept.length > 200, `${kept.length} CVEs kept`);
  assert.match(f[9]!, /^bugtraq_ids: 80000 /);
  // The sender's own shortening (a MAX_SIZE below the line) follows the same rule.
  const short = csvFields(shortenLine(line!, 1000));
  assert.equal(short[6], title);
  assert.ok(short[8]!.startsWith("cve_ids: CVE-2016-1000 "));
});

const XML_TEXT = fc.string({
  unit: fc.oneof(
    fc.constantFrom(",", '"', "\r", "\n", "\r\n", "\t", "<", ">", "&", "]]>", "'", "#", " ", "\\"),
    fc.constantFrom("é", "’", "\u2028", "\u0085", "\u00a0", "漢", "\u{1F600}", "\uFEFF"),
    fc.string({ unit: "grapheme-ascii", maxLength: 3 }),
  ),
  maxLength: 40,
});

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function cdata(s: string): string {
  return `<![CDATA[${s.replace(/]]>/g, "]]]]><![CDATA[>")}]]>`;
}

Deno.test("fuzz: no report field can add a line or break a field, SetOS too (fast-check)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          ip: fc.oneof(fc.ipV4(), fc.ipV6(), XML_TEXT),
          qid: fc.oneof(fc.integer({ min: 0, max: 999999 }).map(String), XML_TEXT),
          port: fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), XML_TEXT),
          proto: fc.oneof(fc.constantFrom("tcp", "UDP", "icmp", ""), XML_TEXT),
          title: XML_TEXT,
          threat: XML_TEXT,
          cve: fc.oneof(fc.constant("CVE-2014-0160"), XML_TEXT),
          bid: fc.oneof(fc.constant("66690"), XML_TEXT),
          os: fc.oneof(fc.constantFrom("Windows 2012 R2", "Linux 2.4-2.6", "x"), XML_TEXT),
          cpe: fc.option(
            fc.oneof(fc.constant('cpe:/o:a,b:c"d:1'), XML_TEXT.map((t) => `cpe:/o:${t}`)),
          ),
          asCdata: fc.boolean(),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      fc.boolean(),
      fc.boolean(),
      async (hosts, addHost, setOs) => {
        const text = (s: string, c: boolean) => (c ? cdata(s) : escapeXml(s));
        const xml = `<ASSET_DATA_REPORT><HOST_LIST>${
          hosts.map((h) =>
            `<HOST><IP>${text(h.ip, h.asCdata)}</IP><OPERATING_SYSTEM>${
              text(h.os, h.asCdata)
            }</OPERATING_SYSTEM>${
              h.cpe === null ? "" : `<OS_CPE>${escapeXml(h.cpe)}</OS_CPE>`
            }<VULN_INFO_LIST><VULN_INFO><QID>${escapeXml(h.qid)}</QID><PORT>${
              escapeXml(h.port)
            }</PORT><PROTOCOL>${escapeXml(h.proto)}</PROTOCOL></VULN_INFO></VULN_INFO_LIST></HOST>`
          ).join("")
        }</HOST_LIST><GLOSSARY><VULN_DETAILS_LIST>${
          hosts.map((h) =>
            `<VULN_DETAILS id="x"><QID>${escapeXml(h.qid)}</QID><TITLE>${
              text(h.title, h.asCdata)
            }</TITLE><THREAT>${text(h.threat, !h.asCdata)}</THREAT><CVE_ID_LIST><CVE_ID><ID>${
              text(h.cve, h.asCdata)
            }</ID></CVE_ID></CVE_ID_LIST><BUGTRAQ_ID_LIST><BUGTRAQ_ID><ID>${
              escapeXml(h.bid)
            }</ID></BUGTRAQ_ID></BUGTRAQ_ID_LIST></VULN_DETAILS>`
          ).join("")
        }</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>`;
        const parser = new ReportParser({ collectOs: setOs });
        parser.push(new TextEncoder().encode(xml));
        let report;
        try {
          report = parser.end();
        } catch (e) {
          // Only characters XML forbids (from the generator's \uFEFF-free set, none) may fail.
          throw new Error(`valid XML was rejected: ${e}\n${xml}`);
        }
        const enc = new CommandEncoder(report.glossary, { addHost, setOs });
        let expectedLines = 0, withResults = 0, cleared = 0;
        const lines: string[] = [];
        await report.forEachHost((h) => {
          if (h.count === 0) {
            expectedLines += 2 + (cleared++ === 0 && withResults === 0 ? 2 : 0);
          } else {
            withResults++;
            expectedLines += h.count + 1 + (addHost ? 1 : 0);
          }
          lines.push(...enc.encodeHostToLines(h));
        });
        report.dispose();
        assert.equal(lines.length, expectedLines + enc.os.set);
        if (!setOs) assert.equal(enc.os.set + enc.os.unknown + enc.os.missing, 0);
        const simple: Record<string, number> = {
          ScanFlush: 1,
          ScanUpdate: 1,
          AddHost: 2,
          SetSourceType: 2,
          SetSource: 2,
          DeleteScanResult: 3,
        };
        for (const line of lines) {
          assert.ok(line.length + 1 <= 4000);
          assert.match(line, /^[\x20-\x7e]*$/, "printable ASCII only");
          const name = line.split(",")[0]!;
          if (name in simple) {
            assert.equal(csvFields(line).length, simple[name], line);
            continue;
          }
          if (name === "SetOS") {
            const f = csvFields(line);
            assert.ok(f.length === 4 || f.length === 5, line);
            assert.ok(f.slice(2).every((x) => x !== "" && !x.includes('"') && !x.includes(",")));
            continue;
          }
          const f = csvFields(line);
          assert.equal(f.length, 10, line);
          assert.equal(f[0], "AddScanResult");
          assert.match(f[3]!, /^\d+$/);
          assert.ok(
            (f[4] === "" && f[5] === "") || (/^\d+$/.test(f[4]!) && /^(tcp|udp)$/.test(f[5]!)),
          );
          assert.match(f[8]!, /^cve_ids:( CVE-\d{4}-\d{4,})*$/);
          assert.match(f[9]!, /^bugtraq_ids:( \d+)*$/);
          for (const field of f) assert.ok(!field.includes('"') && !field.includes(","));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("CommandEncoder sends a QID without a glossary entry with empty text and counts it", () => {
  const enc = new CommandEncoder(new Map([entry(1, { title: "known" })]));
  assert.deepStrictEqual(
    enc.encodeHostToLines(host("10.0.0.1", [[1, 0, 0], [2, 0, 0], [2, 80, 1]])),
    [
      'AddScanResult,10.0.0.1,"QualysGuard",1,,,"known","","cve_ids:","bugtraq_ids:"',
      'AddScanResult,10.0.0.1,"QualysGuard",2,,,"","","cve_ids:","bugtraq_ids:"',
      'AddScanResult,10.0.0.1,"QualysGuard",2,80,tcp,"","","cve_ids:","bugtraq_ids:"',
      "ScanFlush",
    ],
  );
  assert.equal(enc.missingGlossary, 1);
});

Deno.test("CommandEncoder keeps QIDs and ports apart that share a cache slot", () => {
  const big = 0xfffffffe; // QIDs are unsigned 32-bit
  const qids = [1, 8193, 1 + 2 * 8192, big, big - 8192, 1];
  const glossary = new Map(qids.map((q) => entry(q, { title: `t${q}` })));
  const enc = new CommandEncoder(glossary);
  const ports: [number, number][] = [[80, 1], [80 + 256, 1], [80, 2], [0, 0], [1104, 1], [80, 1]];
  const lines = enc.encodeHostToLines(
    host(
      "10.0.0.1",
      qids.map((q, i) => [q, ports[i]![0], ports[i]![1]] as [number, number, number]),
    ),
  );
  assert.deepEqual(lines.slice(0, -1).map((l) => csvFields(l).slice(3, 7)), [
    ["1", "80", "tcp", "t1"],
    ["8193", "336", "tcp", "t8193"],
    ["16385", "80", "udp", "t16385"],
    [String(big), "", "", `t${big}`],
    [String(big - 8192), "1104", "tcp", `t${big - 8192}`],
    ["1", "80", "tcp", "t1"],
  ]);
});

// ---- the bounded QID cache ----

function parse(bytes: Uint8Array) {
  const parser = new ReportParser();
  parser.push(bytes);
  return parser.end();
}

function generatedBytes(options: Parameters<typeof generateReport>[0]): Uint8Array {
  const parts: Uint8Array[] = [];
  const gen = generateReport(options);
  for (let r = gen.next(); !r.done; r = gen.next()) parts.push(r.value);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => (bytes.set(p, off), off + p.length), 0);
  return bytes;
}

// Every host's lines from one encoder, and the encoder's counts.
async function encodeAll(xml: Uint8Array, options: EncodeOptions) {
  const report = parse(xml);
  const enc = new CommandEncoder(report.glossary, options);
  try {
    const out = new ByteBuffer(1 << 16);
    out.append(enc.header());
    const hosts: HostFindings[] = [];
    await report.forEachHost((h) => {
      enc.encodeHost(h, out);
      hosts.push({ ...h, qids: h.qids.slice(), ports: h.ports.slice(), protos: h.protos.slice() });
    });
    // Each finding's line as an encoder that has cached nothing writes it.
    const fresh: string[] = [];
    for (const h of hosts) {
      for (let k = 0; k < h.count; k++) {
        const one = new CommandEncoder(report.glossary, { ...options, qidCacheBytes: 0 });
        fresh.push(
          one.encodeHostToLines({
            ip: h.ip,
            count: 1,
            qids: h.qids.subarray(k, k + 1),
            ports: h.ports.subarray(k, k + 1),
            protos: h.protos.subarray(k, k + 1),
          })[0]!,
        );
      }
    }
    return {
      text: new TextDecoder().decode(out.view()),
      fresh,
      shortened: enc.shortened,
      missing: enc.missingGlossary,
    };
  } finally {
    enc.dispose();
    report.dispose();
  }
}

const CACHE_SIZES = [1 << 30, 0, 1, 3000, 20_000];

async function assertCacheSizesAgree(xml: Uint8Array, what: string): Promise<void> {
  const all = await encodeAll(xml, { qidCacheBytes: CACHE_SIZES[0]! });
  const lines = all.text.split("\n").filter((l) => l.startsWith("AddScanResult,"));
  assert.deepStrictEqual(lines, all.fresh, `${what}: cached lines are the lines built afresh`);
  const tempDir = await Deno.makeTempDir({ prefix: "qc-texts-" });
  try {
    for (const qidCacheBytes of CACHE_SIZES.slice(1)) {
      for (const textSpool of [undefined, { tempDir }]) {
        const how = `${what}, qidCacheBytes ${qidCacheBytes}${textSpool ? ", spooled" : ""}`;
        const bounded = await encodeAll(xml, { qidCacheBytes, textSpool });
        assert.equal(bounded.text, all.text, how);
        assert.equal(bounded.shortened, all.shortened, `${how}: shortened`);
        assert.equal(bounded.missing, all.missing, `${how}: missingGlossary`);
        assert.deepEqual([...Deno.readDirSync(tempDir)], [], `${how}: the text spool is removed`);
      }
    }
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
}

Deno.test("CommandEncoder writes the same bytes with any QID cache size, on generated reports", async () => {
  const reports = {
    "QIDs at random, found many times": generatedBytes({
      hosts: 60,
      findingsPerHost: 40,
      qids: 300,
      seed: 7,
    }),
    "QIDs in turn, three passes": generatedBytes({
      hosts: 45,
      findingsPerHost: 20,
      qids: 300,
      seed: 8,
      cycleQids: true,
    }),
    "more QIDs than the cache's first table holds": generatedBytes({
      hosts: 40,
      findingsPerHost: 120,
      qids: 3000,
      seed: 10,
      cycleQids: true,
    }),
    "one host, more findings than QIDs": generatedBytes({
      hosts: 1,
      findingsPerHost: 900,
      qids: 200,
      seed: 9,
      cycleQids: true,
    }),
  };
  for (const [what, xml] of Object.entries(reports)) await assertCacheSizesAgree(xml, what);
});

const FIXTURE_CACHE_TEST =
  "CommandEncoder writes the same bytes with any QID cache size, on the shared fixtures";
Deno.test({
  name: FIXTURE_CACHE_TEST,
  ignore: ignoreUnless(SHARED_FIXTURES !== undefined, FIXTURE_CACHE_TEST, NO_SHARED_FIXTURES),
}, async () => {
  const dir = SHARED_FIXTURES!;
  let reports = 0;
  for (const d of [...Deno.readDirSync(dir)].filter((d) => d.isDirectory)) {
    for (
      const f of [...Deno.readDirSync(`${dir}${d.name}`)].filter((f) => f.name.endsWith(".xml"))
    ) {
      const bytes = await Deno.readFile(`${dir}${d.name}/${f.name}`);
      const head = new TextDecoder().decode(bytes.subarray(0, 4096));
      if (!/<(ASSET_DATA_REPORT|SCAN)[\s>]/.test(head)) continue;
      await assertCacheSizesAgree(bytes, `${d.name}/${f.name}`);
      reports++;
    }
  }
  assert.ok(reports >= 8, `found ${reports} reports`);
});

Deno.test("CommandEncoder counts a QID once in shortened and missingGlossary, however often it is built", () => {
  const glossary = new Map([entry(1, { description: "word ".repeat(2000) }), entry(2)]);
  for (const qidCacheBytes of [1 << 20, 0, 4100]) {
    const enc = new CommandEncoder(glossary, { qidCacheBytes, textSpool: {} });
    try {
      for (let h = 0; h < 5; h++) {
        enc.encodeHostToLines(host(`10.0.0.${h}`, [[1, 0, 0], [3, 0, 0], [1, 80, 1], [3, 80, 1]]));
      }
      assert.equal(enc.shortened, 1, `shortened, qidCacheBytes ${qidCacheBytes}`);
      assert.equal(enc.missingGlossary, 1, `missingGlossary, qidCacheBytes ${qidCacheBytes}`);
    } finally {
      enc.dispose();
    }
  }
});

Deno.test("CommandEncoder spools the texts its cache drops to a 0600 temp file, reads them back instead of building them, and removes it", () => {
  const tempDir = Deno.makeTempDirSync({ prefix: "qc-texts-" });
  try {
    let gets = 0;
    const entries = new Map([1, 2, 3, 4].map((q) => entry(q, { description: "d".repeat(300) })));
    const glossary = { get: (q: number) => (gets++, entries.get(q)) };
    const lines = (enc: CommandEncoder) => {
      const out: string[] = [];
      for (let h = 0; h < 6; h++) {
        out.push(
          ...enc.encodeHostToLines(
            host(`10.0.0.${h}`, [[1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0]]),
          ),
        );
      }
      return out;
    };
    const expected = lines(new CommandEncoder(entries));
    // Room for about two texts: every QID is dropped before it comes again.
    const enc = new CommandEncoder(glossary as never, {
      qidCacheBytes: 800,
      textSpool: { tempDir },
    });
    assert.deepEqual(lines(enc), expected);
    assert.equal(gets, 4, "each QID built once, then read back from the text spool");
    const files = [...Deno.readDirSync(tempDir)];
    assert.equal(files.length, 1);
    assert.match(files[0]!.name, new RegExp(`^${TEMP_FILES.qidTexts.prefix}[0-9a-f]+$`));
    assert.equal(Deno.statSync(`${tempDir}/${files[0]!.name}`).mode! & 0o777, 0o600);
    enc.dispose();
    enc.dispose();
    assert.deepEqual([...Deno.readDirSync(tempDir)], [], "dispose removes the text spool");
  } finally {
    Deno.removeSync(tempDir, { recursive: true });
  }
});

Deno.test("CommandEncoder builds each of 3,000 QIDs once, whether its cache holds them all or spools them", () => {
  const entries = new Map(
    Array.from({ length: 3000 }, (_, q) => entry(q * 7 + 1, { description: "d".repeat(60) })),
  );
  const qids = [...entries.keys()];
  for (const qidCacheBytes of [1 << 30, 20_000]) {
    let gets = 0;
    const glossary = { get: (q: number) => (gets++, entries.get(q)) };
    const enc = new CommandEncoder(glossary as never, { qidCacheBytes, textSpool: {} });
    try {
      for (let pass = 0; pass < 3; pass++) {
        for (let i = 0; i < qids.length; i += 100) {
          const findings = qids.slice(i, i + 100).map((q): [number, number, number] => [q, 0, 0]);
          enc.encodeHostToLines(host(`10.0.${pass}.${i / 100}`, findings));
        }
      }
      assert.equal(gets, 3000, `qidCacheBytes ${qidCacheBytes}`);
    } finally {
      enc.dispose();
    }
  }
});

Deno.test("CommandEncoder writes QID 4294967295 (the largest a Uint32Array holds) like any other", () => {
  const max = 0xffffffff;
  // and 700 more QIDs, which fill the table around wherever the largest one would go
  const entries = new Map([
    entry(max, { title: "largest" }),
    ...Array.from({ length: 700 }, (_, i) => entry(i + 1, { title: `QID ${i + 1}` })),
  ]);
  const findings: [number, number, number][] = [
    [max, 0, 0],
    ...Array.from({ length: 700 }, (_, i): [number, number, number] => [i + 1, 0, 0]),
    [max, 80, 1],
  ];
  const expected = new CommandEncoder(entries, { qidCacheBytes: 0 })
    .encodeHostToLines(host("10.0.0.1", findings));
  assert.match(expected[0]!, /,4294967295,,,"largest"/);
  for (const qidCacheBytes of [1 << 20, 2000]) {
    const enc = new CommandEncoder(entries, { qidCacheBytes, textSpool: {} });
    try {
      for (let h = 0; h < 3; h++) {
        assert.deepEqual(enc.encodeHostToLines(host("10.0.0.1", findings)), expected);
      }
    } finally {
      enc.dispose();
    }
  }
});

Deno.test("CommandEncoder builds the texts again, to the same bytes, when its text spool cannot be made", () => {
  let gets = 0;
  const entries = new Map([1, 2, 3, 4].map((q) => entry(q, { description: "d".repeat(300) })));
  const glossary = { get: (q: number) => (gets++, entries.get(q)) };
  const findings: [number, number, number][] = [[1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0]];
  const expected = new CommandEncoder(entries).encodeHostToLines(host("10.0.0.1", findings));
  const enc = new CommandEncoder(glossary as never, {
    qidCacheBytes: 800,
    textSpool: { tempDir: "/nonexistent/qc-texts" },
  });
  for (let h = 0; h < 3; h++) {
    assert.deepEqual(enc.encodeHostToLines(host("10.0.0.1", findings)), expected);
  }
  assert.equal(gets, 12, "each QID built on each host");
  enc.dispose();
});

Deno.test("CommandEncoder.encodeHostInParts pauses at line ends and writes what encodeHost writes", () => {
  const glossary = new Map(
    [1, 2, 3].map((q) => entry(q, { title: `t${q}`, description: "d".repeat(500) })),
  );
  const findings: [number, number, number][] = [];
  for (let k = 0; k < 300; k++) findings.push([1 + (k % 3), k, 1]);
  const h = host("10.0.0.1", findings);
  for (const addHost of [false, true]) {
    const whole = new ByteBuffer();
    new CommandEncoder(glossary, { addHost }).encodeHost(h, whole);
    const expected = new TextDecoder().decode(whole.view());
    for (const flushAt of [1, 700, 5000, 1 << 20, Infinity]) {
      const enc = new CommandEncoder(glossary, { addHost });
      const out = new ByteBuffer(64);
      const parts: string[] = [];
      for (const _ of enc.encodeHostInParts(h, out, { flushAt })) {
        assert.ok(out.length >= flushAt, "it pauses only once out holds flushAt bytes");
        parts.push(new TextDecoder().decode(out.view()));
        out.clear();
      }
      parts.push(new TextDecoder().decode(out.view()));
      assert.equal(parts.join(""), expected, `flushAt ${flushAt}`);
      for (const part of parts) assert.ok(part.endsWith("\n"), "every part ends a line");
      assert.equal(parts.filter((p) => p.includes("ScanFlush")).length, 1);
      assert.ok(
        parts.at(-1)!.endsWith('"bugtraq_ids:"\nScanFlush\n'),
        "ScanFlush after the last line",
      );
      const expectedParts = flushAt === 1
        ? 300
        : flushAt === Infinity || flushAt === 1 << 20
        ? 1
        : undefined;
      if (expectedParts !== undefined) {
        assert.equal(parts.length, expectedParts, `flushAt ${flushAt}`);
      } else assert.ok(parts.length > 1, `flushAt ${flushAt}`);
    }
  }
});

// ---- the CVE/Bugtraq trimming, against the algorithm it replaced ----

// The glossary part of a line as CommandEncoder built it before the trimming became linear:
// the loop that drops IDs re-joined both ID fields for every ID it dropped. Kept verbatim as
// the reference for which IDs are kept, and in which order.
function quadraticTail(qid: number, e: GlossaryEntry, maxLine = 4000, scanner = "QualysGuard") {
  let title = sanitizeField(e.title);
  let desc = sanitizeHtml(e.description);
  const cves = cleanCveIds(e.cves);
  const bids = cleanBugtraqIds(e.bugtraqs);
  const idField = (header: string, ids: readonly string[]) =>
    ids.length === 0 ? header : `${header} ${ids.join(" ")}`;
  const shorten = (s: string, over: number) => {
    if (over <= 0) return s;
    const keep = s.length - over - 3;
    return keep > 0 ? `${s.slice(0, keep).trimEnd()}...` : "";
  };
  const prefix = "AddScanResult,".length + 39 + `,"${scanner}",`.length + String(qid).length +
    1 + 5 + 1 + 3;
  const fixed = () =>
    prefix + 2 + title.length + 3 + desc.length + 3 + idField("cve_ids:", cves).length + 3 +
    idField("bugtraq_ids:", bids).length + 2;
  const over = fixed() - maxLine;
  if (over > 0) {
    desc = shorten(desc, over);
    while (fixed() > maxLine && (cves.length > 0 || bids.length > 0)) {
      if (cves.length >= bids.length) cves.pop();
      else bids.pop();
    }
    title = shorten(title, fixed() - maxLine);
  }
  return `,"${title}","${desc}","${idField("cve_ids:", cves)}","${idField("bugtraq_ids:", bids)}"`;
}

// Counts the joins of arrays of at least `min` elements while `fn` runs.
function countJoins(min: number, fn: () => void): number {
  const join = Array.prototype.join;
  let count = 0;
  Array.prototype.join = function (this: unknown[], separator?: string) {
    if (this.length >= min) count++;
    return join.call(this, separator);
  };
  try {
    fn();
  } finally {
    Array.prototype.join = join;
  }
  return count;
}

Deno.test("CommandEncoder trims 40,000 CVE and Bugtraq IDs to the IDs the old loop kept, in one pass", () => {
  const cves = Array.from({ length: 30000 }, (_, k) => `CVE-${2000 + k % 25}-${1000 + k * 7}`);
  const bids = Array.from({ length: 10000 }, (_, k) => String(10 + k * 13));
  const [qid, e] = entry(38170, {
    title: "Title ".repeat(40),
    description: "<P>Word</P> ".repeat(100),
    cves,
    bugtraqs: bids,
  });
  const enc = new CommandEncoder(new Map([[qid, e]]));
  let lines: string[] = [];
  const joins = countJoins(1000, () => {
    lines = enc.encodeHostToLines(host("10.0.0.1", [[qid, 443, 1]]));
  });
  // The old loop drops from the end of the longer list until the two are even, then in turn,
  // so its result on the first 3,000 and 1,000 IDs is its result on all 40,000 (and it runs
  // for seconds, not half a minute, on 4,000).
  const shorter = { ...e, cves: cves.slice(0, 3000), bugtraqs: bids.slice(0, 1000) };
  const expected = `AddScanResult,10.0.0.1,"QualysGuard",38170,443,tcp${
    quadraticTail(qid, shorter)
  }`;
  assert.equal(lines[0], expected);
  const f = csvFields(lines[0]!);
  assert.ok(f[8]!.split(" ").length > 10 && f[9]!.split(" ").length > 10, "both lists kept some");
  assert.ok(lines[0]!.length + 1 <= 4000);
  // the old loop joined the whole lists again for each of the ~39,800 IDs it dropped; a
  // count of work, not of time: the fitting joins each list a fixed number of times
  assert.ok(joins <= 8, `${joins} joins of the ID lists`);
});

Deno.test("CommandEncoder trims IDs as the old loop did, for any list sizes and line limit (fast-check)", () => {
  const words = (unit: string) =>
    fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 30 }).map((ls) =>
      ls.map((l) => unit.repeat(l)).join(" ")
    );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 999999 }),
      words("t"),
      words("d"),
      fc.array(fc.integer({ min: 0, max: 99999999 }), { maxLength: 80 }),
      fc.array(fc.integer({ min: 0, max: 999999999999 }), { maxLength: 80 }),
      fc.integer({ min: 120, max: 1500 }),
      (qid, title, description, cveNumbers, bidNumbers, maxLineBytes) => {
        const [, e] = entry(qid, {
          title,
          description,
          cves: cveNumbers.map((n) => `CVE-${1999 + n % 30}-${String(n).padStart(4, "0")}`),
          bugtraqs: bidNumbers.map(String),
        });
        const enc = new CommandEncoder(new Map([[qid, e]]), { maxLineBytes });
        const [line] = enc.encodeHostToLines(host("::1", [[qid, 0, 0]]));
        const expected = `AddScanResult,::1,"QualysGuard",${qid},,${
          quadraticTail(qid, e, maxLineBytes)
        }`;
        assert.equal(line, expected);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("CommandEncoder clears a host without open findings: DeleteScanResult, ScanUpdate", () => {
  const enc = new CommandEncoder(new Map(), { addHost: true, setOs: true });
  assert.deepStrictEqual(enc.encodeHostToLines(host("10.0.0.1", [[1, 0, 0]])), [
    "AddHost,10.0.0.1",
    'AddScanResult,10.0.0.1,"QualysGuard",1,,,"","","cve_ids:","bugtraq_ids:"',
    "ScanFlush",
  ]);
  // no AddHost and no SetOS for a host that gets no results (it may be unknown to the FMC)
  assert.deepStrictEqual(enc.encodeHostToLines({ ...host("10.8.0.1", []), os: "Linux 2.6" }), [
    'DeleteScanResult,10.8.0.1,"QualysGuard"',
    "ScanUpdate",
  ]);
  assert.deepStrictEqual(enc.encodeHostToLines(host("2001:db8::1", [])), [
    'DeleteScanResult,2001:db8::1,"QualysGuard"',
    "ScanUpdate",
  ]);
  assert.equal(enc.hostsCleared, 2);
  assert.equal(enc.hostsWithResults, 1);
  assert.deepStrictEqual(enc.os, { set: 0, unknown: 0, missing: 1 });
});

Deno.test("CommandEncoder: a run that clears before any result makes the FMC know the scanner as a vulnerability scanner first", () => {
  const enc = new CommandEncoder(new Map(), { scannerName: "QG EU" });
  assert.deepStrictEqual(enc.encodeHostToLines(host("10.8.0.1", [])), [
    "SetSourceType,Scanner",
    "SetSource,QG EU",
    'DeleteScanResult,10.8.0.1,"QG EU"',
    "ScanUpdate",
  ]);
  assert.deepStrictEqual(enc.encodeHostToLines(host("10.8.0.2", [])), [
    'DeleteScanResult,10.8.0.2,"QG EU"',
    "ScanUpdate",
  ]);
});

Deno.test("CommandEncoder with clearCleanHosts false writes nothing for a host without findings", () => {
  const enc = new CommandEncoder(new Map(), { clearCleanHosts: false, addHost: true });
  assert.deepStrictEqual(enc.encodeHostToLines(host("10.8.0.1", [])), []);
  assert.equal(enc.hostsCleared, 0);
});

Deno.test("CommandEncoder SetOS: after AddHost, before the results; fields sanitised; unknown and missing counted", () => {
  const enc = new CommandEncoder(new Map(), { setOs: true, addHost: true });
  const h = (ip: string, os?: string, osCpe?: string) => ({ ...host(ip, [[1, 0, 0]]), os, osCpe });
  assert.deepStrictEqual(
    enc.encodeHostToLines(h("10.0.0.1", "Windows 2008 R2 Enterprise Service Pack 1")),
    [
      "AddHost,10.0.0.1",
      'SetOS,10.0.0.1,"Microsoft","Windows Server","2008 R2"',
      'AddScanResult,10.0.0.1,"QualysGuard",1,,,"","","cve_ids:","bugtraq_ids:"',
      "ScanFlush",
    ],
  );
  assert.deepStrictEqual(enc.encodeHostToLines(h("10.0.0.2", "Windows 2016/2019/10")).slice(1, 2), [
    'SetOS,10.0.0.2,"Microsoft","Windows"',
  ]);
  assert.deepStrictEqual(
    enc.encodeHostToLines(h("10.0.0.3", "x", "cpe:/o:a%2Cb:c%22d%0A:1,2")).slice(1, 2),
    [`SetOS,10.0.0.3,"a b","c'd","1 2"`],
  );
  assert.deepStrictEqual(enc.encodeHostToLines(h("10.0.0.4", "HP LaserJet 4250")).length, 3);
  assert.deepStrictEqual(enc.encodeHostToLines(h("10.0.0.5")).length, 3);
  assert.deepStrictEqual(enc.os, { set: 3, unknown: 1, missing: 1 });
  assert.deepStrictEqual([...enc.unknownOs], ["HP LaserJet 4250"]);
  const off = new CommandEncoder(new Map(), {});
  assert.deepStrictEqual(
    off.encodeHostToLines(h("10.0.0.1", "Linux 2.6")).length,
    2,
    "set_os n: no SetOS",
  );
});
