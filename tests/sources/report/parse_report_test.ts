import assert from "node:assert/strict";
import { QualysApiError, ReportSyntaxError } from "../../../lib/errors.ts";
import { IpRangeSet } from "../../../lib/config/ip_ranges.ts";
import { type ParsedReport, ReportParser } from "../../../lib/sources/report/parse_report.ts";
import { generateReport } from "../../../scripts/gen_report.ts";
import { fromParsed, oracleExtract } from "../../_oracle.ts";
import { ignoreUnless, NO_SHARED_FIXTURES, SHARED_FIXTURES } from "../../_skip.ts";
import { runMain } from "../../_cli.ts";

const enc = new TextEncoder();

function feed(bytes: Uint8Array, size: number, options = {}): ParsedReport {
  const parser = new ReportParser(options);
  for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
  return parser.end();
}

async function extract(bytes: Uint8Array, size: number, options = {}) {
  const report = feed(bytes, size, options);
  try {
    return await fromParsed(report);
  } finally {
    report.dispose();
  }
}

function generated(options: Parameters<typeof generateReport>[0]) {
  const parts: Uint8Array[] = [];
  const gen = generateReport(options);
  for (;;) {
    const r = gen.next();
    if (r.done) {
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) {
        bytes.set(p, off);
        off += p.length;
      }
      return { bytes, counts: r.value };
    }
    parts.push(r.value);
  }
}

const ADR = (hosts: string, glossary = "") =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ASSET_DATA_REPORT><HOST_LIST>${hosts}</HOST_LIST>` +
  `<GLOSSARY><VULN_DETAILS_LIST>${glossary}</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>\n`;
const HOST = (ip: string, vulns: string) =>
  `<HOST><IP>${ip}</IP><VULN_INFO_LIST>${vulns}</VULN_INFO_LIST></HOST>`;
const VI = (qid: number, port?: number, proto?: string, status?: string) =>
  `<VULN_INFO><QID id="qid_${qid}">${qid}</QID><TYPE>Vuln</TYPE>` +
  (port !== undefined ? `<PORT>${port}</PORT>` : "") +
  (proto !== undefined ? `<PROTOCOL>${proto}</PROTOCOL>` : "") +
  (status !== undefined ? `<VULN_STATUS>${status}</VULN_STATUS>` : "") + `</VULN_INFO>`;
const VD = (qid: number, title: string, threat = "", cves: string[] = [], bids: string[] = []) =>
  `<VULN_DETAILS id="qid_${qid}"><QID id="qid_${qid}">${qid}</QID><TITLE>${title}</TITLE>` +
  `<THREAT>${threat}</THREAT>` +
  (cves.length
    ? `<CVE_ID_LIST>${
      cves.map((c) => `<CVE_ID><ID>${c}</ID><URL>u</URL></CVE_ID>`).join("")
    }</CVE_ID_LIST>`
    : "") +
  (bids.length
    ? `<BUGTRAQ_ID_LIST>${
      bids.map((c) => `<BUGTRAQ_ID><ID>${c}</ID></BUGTRAQ_ID>`).join("")
    }</BUGTRAQ_ID_LIST>`
    : "") +
  `</VULN_DETAILS>`;

// Edge cases the fast paths must keep (docs/platform.md "XML"), inside a report.
const EDGE_CASES: Record<string, string> = {
  "CDATA holding <, & and a split ]]>": ADR(
    HOST("10.0.0.1", VI(1, 443, "tcp")),
    VD(1, "<![CDATA[a < b & c ]]]]><![CDATA[> d]]>", "<![CDATA[<P>x & y</P>]]>"),
  ),
  "comments and PIs inside text": ADR(
    HOST("10.0.0.2", VI(2)),
    VD(2, "be<!-- hidden -->fore<?pi data?>after", "t<!---->x"),
  ),
  "DOCTYPE with an internal subset": `<?xml version="1.0"?>\n<!DOCTYPE ASSET_DATA_REPORT [\n` +
    `<!ENTITY foo "bar"> <!-- ] > --> <!ATTLIST X y CDATA "]>">\n]>\n` +
    ADR(HOST("10.0.0.3", VI(3, 22, "TCP")), VD(3, "t")).replace(/^<\?xml[^>]*>\n/, ""),
  "attributes with > inside quotes": ADR(
    `<HOST><IP network_id="a>b" v6='c>d'>10.0.0.4</IP><VULN_INFO_LIST>${
      VI(4, 53, "udp")
    }</VULN_INFO_LIST></HOST>`,
    VD(4, "t"),
  ),
  "predefined entities and character references": ADR(
    HOST("10.0.0.5", VI(5)),
    VD(5, "&lt;&gt;&amp;&quot;&apos; &#233;&#xE9;&#x20AC;&#128512;", "&amp;lt;P&amp;gt;"),
  ),
  "a UTF-8 BOM and CRLF": "\uFEFF" +
    ADR(HOST("10.0.0.6", VI(6, 80, "tcp")), VD(6, "caf\u00e9\r\nline")).replace(/\n/g, "\r\n"),
  "glossary before hosts, Fixed and duplicates":
    `<ASSET_DATA_REPORT><GLOSSARY><VULN_DETAILS_LIST>` +
    VD(7, "seven", "", ["CVE-2014-0160"], ["66690"]) +
    `</VULN_DETAILS_LIST></GLOSSARY><HOST_LIST>` +
    HOST(
      "10.0.0.7",
      VI(7, 443, "tcp") + VI(7, 443, "tcp") + VI(7, 443, "tcp", "Fixed") + VI(7) + VI(7, 0, "tcp") +
        VI(7, 70000, "tcp") + VI(7, 80, "icmp"),
    ) + `</HOST_LIST></ASSET_DATA_REPORT>`,
  "IPv6 hosts and invalid hosts": ADR(
    HOST("2001:DB8::1", VI(8)) + HOST("not-an-ip", VI(8)) + HOST("10.0.0.256", VI(8)) +
      `<HOST><VULN_INFO_LIST>${VI(8)}</VULN_INFO_LIST></HOST>`,
    VD(8, "eight"),
  ),
  "self-closing and unknown elements": ADR(
    HOST("10.0.0.9", `<EXTRA a="1"/>${VI(9)}<VULN_INFO><QID/></VULN_INFO>`),
    VD(9, "nine") + `<VULN_DETAILS id="bogus"><TITLE>no qid</TITLE></VULN_DETAILS>`,
  ),
  "a SCAN (scan-1) report":
    `<?xml version="1.0"?>\n<!DOCTYPE SCAN SYSTEM "https://x/scan-1.dtd">\n` +
    `<SCAN value="scan/1"><HEADER><KEY value="TITLE">t</KEY></HEADER>` +
    `<IP value="10.1.1.1" name="h"><VULNS><CAT value="TCP/IP" port="443" protocol="tcp">` +
    `<VULN number="38170" severity="2" cveid="CVE-2014-0001,CVE-2014-0002"><TITLE><![CDATA[SSL, weak]]></TITLE>` +
    `<DIAGNOSIS><![CDATA[<P>diag</P>]]></DIAGNOSIS></VULN></CAT></VULNS>` +
    `<INFOS><CAT value="Info"><INFO number="6"><TITLE>DNS</TITLE><CVE_ID_LIST><CVE_ID><ID>CVE-2020-1234</ID></CVE_ID></CVE_ID_LIST></INFO></CAT></INFOS>` +
    `</IP><IP value="10.1.1.2"><VULNS><CAT value="x" port="80" protocol="tcp"><VULN number="38170"><TITLE>other</TITLE></VULN></CAT></VULNS></IP></SCAN>\n` +
    `<!-- trailing comment -->\n`,
};

const SIZES = [1, 2, 3, 5, 7, 11, 64, 1 << 20];

for (const [name, xml] of Object.entries(EDGE_CASES)) {
  Deno.test(`ReportParser matches the saxes oracle on ${name}, at every chunk size`, async () => {
    const bytes = enc.encode(xml);
    const expected = oracleExtract(xml);
    for (const size of SIZES) {
      assert.deepStrictEqual(await extract(bytes, size), expected, `chunk size ${size}`);
    }
  });
}

Deno.test("ReportParser decodes entities, CDATA and comments in kept text", async () => {
  const got = await extract(
    enc.encode(EDGE_CASES["predefined entities and character references"]!),
    3,
  );
  assert.equal(got.glossary.get(5)?.title, `<>&"' \u00e9\u00e9\u20ac\u{1F600}`);
  assert.equal(got.glossary.get(5)?.description, "&lt;P&gt;");
  const cdata = await extract(enc.encode(EDGE_CASES["CDATA holding <, & and a split ]]>"]!), 1);
  assert.equal(cdata.glossary.get(1)?.title, "a < b & c ]]> d");
  const comments = await extract(enc.encode(EDGE_CASES["comments and PIs inside text"]!), 2);
  assert.equal(comments.glossary.get(2)?.title, "beforeafter");
});

Deno.test("ReportParser skips Fixed findings, removes duplicates and blanks non-tcp/udp ports", async () => {
  const report = feed(enc.encode(EDGE_CASES["glossary before hosts, Fixed and duplicates"]!), 4096);
  const got = await fromParsed(report);
  assert.deepStrictEqual(got.hosts, [{ ip: "10.0.0.7", findings: [[7, 443, 1], [7, 0, 0]] }]);
  assert.equal(report.stats.fixed, 1);
  assert.equal(report.stats.duplicates, 4);
  report.dispose();
});

Deno.test("ReportParser skips invalid host addresses with a warning and keeps IPv6", async () => {
  const warnings: string[] = [];
  const report = feed(enc.encode(EDGE_CASES["IPv6 hosts and invalid hosts"]!), 7, {
    onWarning: (m: string) => warnings.push(m),
  });
  const got = await fromParsed(report);
  assert.deepStrictEqual(got.hosts.map((h) => h.ip), ["2001:db8::1"]);
  assert.equal(report.stats.hostsInvalid, 3);
  assert.equal(warnings.length, 3);
  assert.match(warnings[0]!, /"not-an-ip" is not a valid IP address/);
  report.dispose();
});

Deno.test("ReportParser applies ip_ranges and counts the hosts it skips", async () => {
  const xml = ADR(
    HOST("10.0.0.1", VI(1)) + HOST("10.0.1.1", VI(1)) + HOST("192.168.1.5", VI(1)) +
      HOST("2001:db8::5", VI(1)),
    VD(1, "t"),
  );
  const ranges = IpRangeSet.parse("10.0.0.0/24, 192.168.1.1-192.168.1.9, 2001:db8::/64");
  const report = feed(enc.encode(xml), 5, { ipRanges: ranges });
  const got = await fromParsed(report);
  assert.deepStrictEqual(got.hosts.map((h) => h.ip), ["10.0.0.1", "192.168.1.5", "2001:db8::5"]);
  assert.equal(report.stats.hostsOutOfRange, 1);
  assert.deepStrictEqual(got, oracleExtract(xml, ranges));
  report.dispose();
});

Deno.test("ReportParser reads SCAN reports: ports from CAT, cveid as a fallback, first title wins", async () => {
  const got = await extract(enc.encode(EDGE_CASES["a SCAN (scan-1) report"]!), 9);
  assert.equal(got.format, "SCAN");
  assert.deepStrictEqual(got.hosts, [
    { ip: "10.1.1.1", findings: [[38170, 443, 1], [6, 0, 0]] },
    { ip: "10.1.1.2", findings: [[38170, 80, 1]] },
  ]);
  assert.equal(got.glossary.get(38170)?.title, "SSL, weak");
  assert.deepStrictEqual(got.glossary.get(38170)?.cves, ["CVE-2014-0001", "CVE-2014-0002"]);
  assert.deepStrictEqual(got.glossary.get(6)?.cves, ["CVE-2020-1234"]);
});

Deno.test("ReportParser gives the same result for glossary-first and glossary-last reports", async () => {
  const last = generated({ hosts: 30, findingsPerHost: 12, qids: 40, seed: 5 });
  const first = generated({
    hosts: 30,
    findingsPerHost: 12,
    qids: 40,
    seed: 5,
    glossaryFirst: true,
  });
  const a = await extract(last.bytes, 1000);
  const b = await extract(first.bytes, 777);
  assert.deepStrictEqual(a, b);
  assert.equal(a.hosts.reduce((n, h) => n + h.findings.length, 0), last.counts.findings);
  assert.deepStrictEqual(a, oracleExtract(new TextDecoder().decode(last.bytes)));
});

Deno.test("ReportParser puts its spool in a 0600 temp file and removes it", async () => {
  const { bytes, counts } = generated({ hosts: 200, findingsPerHost: 20, qids: 50, seed: 9 });
  const tempDir = await Deno.makeTempDir();
  try {
    const report = feed(bytes, 65536, { spoolMemoryLimit: 1024, tempDir });
    const onDisk = [...Deno.readDirSync(tempDir)];
    assert.equal(onDisk.length, 1, "the spool went to one temp file");
    assert.equal((await Deno.stat(`${tempDir}/${onDisk[0]!.name}`)).mode! & 0o777, 0o600);
    let n = 0;
    await report.forEachHost((h) => {
      n += h.count;
    });
    assert.equal(n, counts.findings);
    report.dispose();
    assert.deepStrictEqual([...Deno.readDirSync(tempDir)], []);
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

Deno.test("ReportParser puts its glossary in a 0600 temp file and removes it", async () => {
  const { bytes } = generated({ hosts: 20, findingsPerHost: 10, qids: 400, seed: 11 });
  const tempDir = await Deno.makeTempDir();
  try {
    const report = feed(bytes, 65536, { glossaryMemoryLimit: 4096, tempDir });
    const onDisk = [...Deno.readDirSync(tempDir)];
    assert.equal(onDisk.length, 1, "the glossary went to one temp file");
    assert.match(onDisk[0]!.name, /glossary/);
    assert.equal((await Deno.stat(`${tempDir}/${onDisk[0]!.name}`)).mode! & 0o777, 0o600);
    assert.equal(report.glossary.size, 400);
    assert.deepStrictEqual(
      await fromParsed(report),
      oracleExtract(new TextDecoder().decode(bytes)),
    );
    report.dispose();
    assert.deepStrictEqual([...Deno.readDirSync(tempDir)], []);
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

Deno.test("ReportParser removes its glossary temp file when the report is cut or abandoned", async () => {
  const { bytes } = generated({ hosts: 5, findingsPerHost: 10, qids: 400, glossaryFirst: true });
  const cut = bytes.subarray(0, bytes.length - 200);
  const tempDir = await Deno.makeTempDir();
  try {
    const options = { glossaryMemoryLimit: 4096, tempDir };
    assert.throws(() => feed(cut, 4096, options), ReportSyntaxError);
    assert.deepStrictEqual([...Deno.readDirSync(tempDir)], []);
    const parser = new ReportParser(options);
    parser.push(cut);
    assert.equal([...Deno.readDirSync(tempDir)].length, 1, "on disk while reading");
    parser.abort();
    assert.deepStrictEqual([...Deno.readDirSync(tempDir)], []);
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

Deno.test("ReportParser rejects every cut of a report before the root's end tag", () => {
  const xml = EDGE_CASES["a SCAN (scan-1) report"]!.replace("\n<!-- trailing comment -->\n", "") +
    "\n";
  const bytes = enc.encode(EDGE_CASES["attributes with > inside quotes"]!);
  for (const doc of [enc.encode(xml), bytes]) {
    const rootEnd = new TextDecoder().decode(doc).lastIndexOf(">") + 1;
    for (let cut = 0; cut < rootEnd; cut++) {
      assert.throws(
        () => feed(doc.subarray(0, cut), 3).dispose(),
        ReportSyntaxError,
        `cut at ${cut} must be an error`,
      );
    }
    feed(doc, 3).dispose(); // the whole document is fine
  }
});

const MALFORMED: Record<string, [string, RegExp]> = {
  "an undefined entity": [
    ADR(HOST("10.0.0.1", VI(1)), VD(1, "a&nbsp;b")),
    /Undefined entity "&nbsp;"/,
  ],
  "a bare &": [ADR(HOST("10.0.0.1", VI(1)), VD(1, "a & b")), /bare '&'/],
  "mismatched tags": [
    ADR(HOST("10.0.0.1", VI(1)), "<VULN_DETAILS></VULN_DETAIL>"),
    /does not match/,
  ],
  "a second root": [ADR(HOST("10.0.0.1", VI(1))) + "<ASSET_DATA_REPORT/>", /second root/],
  "text after the root": [ADR(HOST("10.0.0.1", VI(1))) + "junk", /after the end of the root/],
  "an unterminated CDATA": [
    ADR(HOST("10.0.0.1", VI(1))).replace("<HOST_LIST>", "<HOST_LIST><![CDATA[x"),
    /truncated inside a CDATA/,
  ],
  "an unterminated comment": [
    ADR(HOST("10.0.0.1", VI(1))).replace("<HOST_LIST>", "<HOST_LIST><!-- x"),
    /truncated inside a comment/,
  ],
  "an unterminated attribute": [
    `<ASSET_DATA_REPORT a="x>`,
    /truncated inside a start tag|attribute/,
  ],
  "a control character": [ADR(HOST("10.0.0.1", VI(1)), VD(1, "a\u0001b")), /0x1 is not allowed/],
  "an unquoted attribute": [`<ASSET_DATA_REPORT a=x></ASSET_DATA_REPORT>`, /must be quoted/],
  "a '<' in text": [ADR(HOST("10.0.0.1", VI(1)), VD(1, "a < b")), /does not start a tag/],
  "gzip data": ["\u001f\u008b\u0008rest", /gzip-compressed/],
  "HTML": ["<!DOCTYPE html><html><body>Login</body></html>", /Not a Qualys vulnerability report/],
  "an empty file": ["", /empty/],
  "only white space": ["  \n ", /empty/],
};

for (const [name, [xml, message]] of Object.entries(MALFORMED)) {
  Deno.test(`ReportParser rejects ${name}, as saxes does, at every chunk size`, () => {
    const bytes = name === "gzip data" ? new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2]) : enc.encode(xml);
    for (const size of [1, 4, 4096]) {
      assert.throws(() => feed(bytes, size).dispose(), (e: Error) => {
        assert.ok(e instanceof ReportSyntaxError, `${e}`);
        assert.match(e.message, message);
        return true;
      });
    }
    if (!["HTML", "gzip data"].includes(name)) assert.throws(() => oracleExtract(xml));
  });
}

Deno.test("ReportSyntaxError names the line and column of the fault", () => {
  const xml = "<ASSET_DATA_REPORT>\n  <HOST_LIST>\n    <HOST>&bogus;</HOST>\n</ASSET_DATA_REPORT>";
  for (const size of [1, 5, 1000]) {
    assert.throws(() => feed(enc.encode(xml), size), (e: ReportSyntaxError) => {
      assert.equal(e.line, 3);
      assert.equal(e.column, 11);
      return true;
    });
  }
  const cut = "<ASSET_DATA_REPORT>\n<HOST_LIST>\n<![CDATA[\n\n";
  assert.throws(() => feed(enc.encode(cut), 2), { line: 3, column: 1 });
});

Deno.test("ReportParser reports a SIMPLE_RETURN body as the Qualys error it is", () => {
  const xml = `<?xml version="1.0"?><!DOCTYPE SIMPLE_RETURN SYSTEM "x"><SIMPLE_RETURN><RESPONSE>` +
    `<DATETIME>2010-01-01T12:00:00Z</DATETIME><CODE>999</CODE><TEXT>Internal error.</TEXT>` +
    `<ITEM_LIST><ITEM><KEY>Incident Signature</KEY><VALUE>Tried to launch invalid report.</VALUE></ITEM></ITEM_LIST>` +
    `</RESPONSE></SIMPLE_RETURN>`;
  assert.throws(() => feed(enc.encode(xml), 3), (e: QualysApiError) => {
    assert.ok(e instanceof QualysApiError);
    assert.equal(e.code, "999");
    assert.equal(e.exitCode, 3);
    assert.match(e.message, /check template_id/);
    return true;
  });
  const v1 =
    `<GENERIC_RETURN><API name="x"/><RETURN status="FAILED" number="2007">Your IP is not allowed</RETURN></GENERIC_RETURN>`;
  assert.throws(() => feed(enc.encode(v1), 5), { name: "QualysApiError", code: "2007" });
});

Deno.test("ReportParser calls a SIMPLE_RETURN without a CODE a Qualys API answer, not a report (exit 4)", () => {
  const ok = (text: string) =>
    `<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE SIMPLE_RETURN SYSTEM "x">\n` +
    `<SIMPLE_RETURN>\n <RESPONSE>\n  <DATETIME>2017-12-18T14:52:34Z</DATETIME>\n${text}` +
    `  <ITEM_LIST><ITEM><KEY>ID</KEY><VALUE>4927942</VALUE></ITEM></ITEM_LIST>\n` +
    ` </RESPONSE>\n</SIMPLE_RETURN>\n`;
  const why = ", not a report: a SIMPLE_RETURN without a CODE is what Qualys answers to a " +
    "request that succeeded";
  for (const size of [1, 7, 1 << 20]) {
    assert.throws(() => feed(enc.encode(ok("  <TEXT>Report deleted</TEXT>\n")), size), {
      name: "ReportSyntaxError",
      message: `The input is a Qualys API answer ("Report deleted")${why}`,
      exitCode: 4,
    });
  }
  assert.throws(() => feed(enc.encode(ok("")), 5), {
    name: "ReportSyntaxError",
    message: `The input is a Qualys API answer${why}`,
  });
  // with a CODE it stays the Qualys error it is (exit 3)
  assert.throws(() => feed(enc.encode(ok("<CODE>7001</CODE><TEXT>Not ready</TEXT>")), 5), {
    name: "QualysApiError",
    code: "7001",
    exitCode: 3,
  });
});

const DELETED_ANSWER = "-report of Qualys's 'Report deleted' answer exits 4 and says what it is";
Deno.test({
  name: DELETED_ANSWER,
  ignore: ignoreUnless(SHARED_FIXTURES !== undefined, DELETED_ANSWER, NO_SHARED_FIXTURES),
}, async () => {
  const dir = SHARED_FIXTURES!;
  const r = await runMain(["-report", `${dir}ruby-qualys/report_delete_ok.xml`, "-c", "-"]);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, /The input is a Qualys API answer \("Report deleted"\), not a report/);
  assert.equal(r.stdout, "");
});

const ORACLE_TEST =
  "ReportParser matches the oracle on every shared fixture, in chunks down to 1 byte";
Deno.test({
  name: ORACLE_TEST,
  ignore: ignoreUnless(SHARED_FIXTURES !== undefined, ORACLE_TEST, NO_SHARED_FIXTURES),
}, async (t) => {
  const dir = SHARED_FIXTURES!;
  const files = [...Deno.readDirSync(dir)].filter((d) => d.isDirectory).flatMap((d) =>
    [...Deno.readDirSync(`${dir}${d.name}`)].filter((f) => f.name.endsWith(".xml"))
      .map((f) => `${dir}${d.name}/${f.name}`)
  ).sort();
  assert.ok(files.length >= 15, `found ${files.length} fixtures`);
  for (const file of files) {
    await t.step(file.slice(dir.length), async () => {
      const bytes = await Deno.readFile(file);
      const text = new TextDecoder().decode(bytes);
      const root = /<([A-Z_]+)[\s>]/.exec(text.replace(/<[?!][^>]*>/g, ""))?.[1];
      if (root === "ASSET_DATA_REPORT" || root === "SCAN") {
        const expected = oracleExtract(text);
        for (const size of bytes.length < 20000 ? [1, 7, 4096] : [13, 4096, 1 << 20]) {
          assert.deepStrictEqual(await extract(bytes, size), expected, `chunk size ${size}`);
        }
      } else if (root === "SIMPLE_RETURN" && !text.includes("<CODE>")) {
        assert.throws(() => feed(bytes, 5), { name: "ReportSyntaxError", exitCode: 4 });
      } else if (root === "SIMPLE_RETURN" || root === "GENERIC_RETURN") {
        assert.throws(() => feed(bytes, 5), QualysApiError);
      } else {
        assert.throws(() => feed(bytes, 5), /Not a Qualys vulnerability report/);
      }
    });
  }
});

const COUNT_TEST = "ReportParser counts what the shared fixtures' README says they hold";
Deno.test({
  name: COUNT_TEST,
  ignore: ignoreUnless(SHARED_FIXTURES !== undefined, COUNT_TEST, NO_SHARED_FIXTURES),
}, async () => {
  const dir = SHARED_FIXTURES!;
  // [hosts with findings, VULN_INFO elements (README), AddScanResult lines]
  const expect: Record<string, [number, number, number]> = {
    "defectdojo/Qualys_Sample_Report.xml": [7, 301, 301],
    "ruby-qualys/asset_data_report_2hosts.xml": [2, 19, 19],
    "ruby-qualys/asset_data_report_1host.xml": [1, 16, 16],
    // PORT without PROTOCOL: no port is sent (README: What is written), so the three ports become one line
    "defectdojo/qualys_same_qid_different_ports.xml": [1, 3, 1],
    "defectdojo/empty.xml": [0, 0, 0],
  };
  for (const [file, [hosts, vulnInfos, lines]] of Object.entries(expect)) {
    const report = feed(await Deno.readFile(dir + file), 65536);
    const s = report.stats;
    assert.equal(s.hostsKept, hosts, file);
    assert.equal(s.findings + s.duplicates + s.fixed + s.noQid, vulnInfos, file);
    assert.equal(s.findings, lines, file);
    report.dispose();
  }
});

Deno.test("Invalid UTF-8 in a kept THREAT or TITLE is a syntax error at its element", () => {
  for (const tag of ["THREAT", "TITLE"]) {
    const xml = ADR(HOST("10.0.0.1", VI(1)), VD(1, "t@", "d@")).replace(`<${tag}>`, `\n<${tag}>`);
    const bytes = enc.encode(xml); // ASCII: string and byte offsets agree
    const at = xml.indexOf("@", xml.indexOf(`<${tag}>`));
    // "@" becomes 0xC3 0x28: a lead byte without its continuation
    const bad = new Uint8Array([...bytes.subarray(0, at), 0xc3, 0x28, ...bytes.subarray(at + 1)]);
    for (const size of [1, 7, 1 << 20]) {
      assert.throws(() => feed(bad, size).dispose(), (e: Error) => {
        assert.ok(e instanceof ReportSyntaxError, String(e));
        assert.match(e.message, /Invalid UTF-8/);
        assert.equal((e as ReportSyntaxError).line, 3, `${tag}: ${e.message}`);
        return true;
      });
    }
  }
});

Deno.test("ParsedReport.dispose lets go of the glossary and the findings", async () => {
  const report = feed(enc.encode(ADR(HOST("10.0.0.1", VI(1, 80, "tcp")), VD(1, "t"))), 64);
  assert.equal(report.glossary.size, 1);
  report.dispose();
  report.dispose(); // twice is fine
  assert.equal(report.glossary.size, 0);
  let hosts = 0;
  await report.forEachHost(() => {
    hosts++;
  });
  assert.equal(hosts, 0);
});

Deno.test("ReportParser takes a HOST's first IP when it lists two, with a bounded warning", async () => {
  const twoIps = (a: string, b: string, qid: number) =>
    `<HOST><IP network_id="7">${a}</IP><IP network_id="8">${b}</IP>` +
    `<VULN_INFO_LIST>${VI(qid)}</VULN_INFO_LIST></HOST>`;
  const hosts = Array.from({ length: 25 }, (_, k) => twoIps(`10.0.0.${k}`, `10.9.9.${k}`, k + 1));
  const xml = ADR(hosts.join(""), Array.from({ length: 25 }, (_, k) => VD(k + 1, "t")).join(""));
  const warnings: string[] = [];
  const report = feed(enc.encode(xml), 7, { onWarning: (m: string) => warnings.push(m) });
  const got = await fromParsed(report);
  assert.deepStrictEqual(got.hosts.map((h) => h.ip), hosts.map((_, k) => `10.0.0.${k}`));
  assert.equal(
    warnings[0],
    'A HOST lists more than one IP ("10.0.0.0", then "10.9.9.0"): its findings go to the first, "10.0.0.0"',
  );
  assert.equal(warnings.length, 21, "twenty, then one line saying more are not shown");
  assert.equal(warnings[20], "More warnings like these are not shown");
  assert.deepStrictEqual(got, oracleExtract(xml, undefined));
  report.dispose();
});
