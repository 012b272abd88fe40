/**
 * The report parser's host records: one host per address (both formats, IPv6 spellings, the
 * network_id warning, duplicates across listings), hosts listed without open findings, invalid
 * ports, and the OS data kept for SetOS.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { IpRangeSet } from "../../../lib/config/ip_ranges.ts";
import { type ParsedReport, ReportParser } from "../../../lib/sources/report/parse_report.ts";
import { fromParsed, oracleExtract } from "../../_oracle.ts";

const enc = new TextEncoder();

function parse(xml: string, options = {}, size = 7): ParsedReport {
  const parser = new ReportParser(options);
  const bytes = enc.encode(xml);
  for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
  return parser.end();
}

interface HostSeen {
  ip: string;
  findings: string[];
  os?: string;
  osCpe?: string;
}

async function hostsOf(report: ParsedReport): Promise<HostSeen[]> {
  const out: HostSeen[] = [];
  await report.forEachHost((h) => {
    const findings: string[] = [];
    for (let k = 0; k < h.count; k++) findings.push(`${h.qids[k]}/${h.ports[k]}/${h.protos[k]}`);
    out.push({
      ip: h.ip,
      findings,
      ...(h.os !== undefined ? { os: h.os } : {}),
      ...(h.osCpe !== undefined ? { osCpe: h.osCpe } : {}),
    });
  });
  return out;
}

const ADR = (hosts: string) =>
  `<ASSET_DATA_REPORT><HOST_LIST>${hosts}</HOST_LIST><GLOSSARY><VULN_DETAILS_LIST>` +
  `<VULN_DETAILS id="qid_1"><QID>1</QID><TITLE>t</TITLE></VULN_DETAILS>` +
  `</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>`;
const HOST = (ip: string, vulns: string, attrs = "", extra = "") =>
  `<HOST><IP${attrs}>${ip}</IP><TRACKING_METHOD>IP</TRACKING_METHOD>${extra}<VULN_INFO_LIST>${vulns}</VULN_INFO_LIST></HOST>`;
const VI = (qid: number, port?: string, proto?: string, status?: string) =>
  `<VULN_INFO><QID id="qid_${qid}">${qid}</QID><TYPE>Vuln</TYPE>` +
  (port !== undefined ? `<PORT>${port}</PORT>` : "") +
  (proto !== undefined ? `<PROTOCOL>${proto}</PROTOCOL>` : "") +
  (status !== undefined ? `<VULN_STATUS>${status}</VULN_STATUS>` : "") + `</VULN_INFO>`;
const SCAN = (ips: string) => `<SCAN value="scan/1">${ips}</SCAN>`;
const IP = (ip: string, cats: string, attrs = "", extra = "") =>
  `<IP value="${ip}" name="h"${attrs}>${extra}<VULNS>${cats}</VULNS></IP>`;
const CAT = (port: string | undefined, vulns: number[]) =>
  `<CAT value="x"${port === undefined ? "" : ` port="${port}"`} protocol="tcp">${
    vulns.map((q) => `<VULN number="${q}"><TITLE>t</TITLE></VULN>`).join("")
  }</CAT>`;

Deno.test("The same IP in two HOST elements is one host, at its first place (ASSET_DATA_REPORT)", async () => {
  const warnings: string[] = [];
  const report = parse(
    ADR(
      HOST("10.0.0.1", VI(1, "80", "tcp") + VI(2), ` network_id="0"`) +
        HOST("10.0.0.2", VI(3)) +
        // the same address again: QID 2 is a duplicate across the listings, QID 4 new
        HOST("10.0.0.1", VI(2) + VI(4, "443", "tcp") + VI(4, "443", "tcp"), ` network_id="0"`),
    ),
    { onWarning: (m: string) => warnings.push(m) },
  );
  assert.deepStrictEqual(await hostsOf(report), [
    { ip: "10.0.0.1", findings: ["1/80/1", "2/0/0", "4/443/1"] },
    { ip: "10.0.0.2", findings: ["3/0/0"] },
  ]);
  const s = report.stats;
  assert.equal(s.hosts, 3);
  assert.equal(s.hostsKept, 2);
  assert.equal(s.hostsMerged, 1);
  assert.equal(s.findings, 4);
  assert.equal(s.duplicates, 2, "one within the listing, one across");
  assert.deepStrictEqual(warnings, [], "same network: no warning");
  report.dispose();
});

Deno.test("The same IP in two SCAN IP elements is one host; ports come from each CAT", async () => {
  const report = parse(SCAN(
    IP("10.1.1.1", CAT("443", [38170])) + IP("10.1.1.2", CAT("80", [6])) +
      IP("10.1.1.1", CAT("443", [38170]) + CAT("22", [38170])),
  ));
  assert.deepStrictEqual(await hostsOf(report), [
    { ip: "10.1.1.1", findings: ["38170/443/1", "38170/22/1"] },
    { ip: "10.1.1.2", findings: ["6/80/1"] },
  ]);
  assert.equal(report.stats.hostsMerged, 1);
  assert.equal(report.stats.duplicates, 1);
  report.dispose();
});

Deno.test("Listings of one IP in different networks are merged with a warning naming the IP", async () => {
  for (
    const [xml, ip] of [
      [
        ADR(
          HOST("10.9.0.1", VI(1), ` network_id="0"`) + HOST("10.9.0.2", VI(1), ` network_id="7"`) +
            HOST("10.9.0.1", VI(2), ` network_id="1001"`),
        ),
        "10.9.0.1",
      ],
      [
        SCAN(
          IP("10.9.0.5", CAT("80", [1]), ` network_id="3"`) +
            IP("10.9.0.5", CAT("80", [2]), ` network_id="4"`),
        ),
        "10.9.0.5",
      ],
    ] as const
  ) {
    const warnings: string[] = [];
    const report = parse(xml, { onWarning: (m: string) => warnings.push(m) });
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.ok(warnings[0]!.includes(`Host ${ip} `), warnings[0]!);
    assert.match(warnings[0]!, /network_id (0, 1001|3, 4)\)/);
    assert.equal((await hostsOf(report))[0]!.findings.length, 2, "merged all the same");
    report.dispose();
  }
  // a listing without network_id does not count as a different network
  const warnings: string[] = [];
  parse(ADR(HOST("10.9.0.1", VI(1), ` network_id="2"`) + HOST("10.9.0.1", VI(2))), {
    onWarning: (m: string) => warnings.push(m),
  }).dispose();
  assert.deepStrictEqual(warnings, []);
});

Deno.test("IPv6 spellings of one address, and IPv4-mapped IPv6, are one host", async () => {
  const report = parse(ADR(
    HOST("2001:DB8:0:0::1", VI(1)) + HOST("2001:db8::1", VI(2)) +
      HOST("2001:0db8:0000:0000:0000:0000:0000:0001", VI(1) + VI(3)) + HOST("10.0.0.1", VI(1)) +
      HOST("::ffff:10.0.0.1", VI(2)) + HOST("::FFFF:a00:1", VI(3)),
  ));
  assert.deepStrictEqual(await hostsOf(report), [
    { ip: "2001:db8::1", findings: ["1/0/0", "2/0/0", "3/0/0"] },
    { ip: "10.0.0.1", findings: ["1/0/0", "2/0/0", "3/0/0"] },
  ]);
  assert.equal(report.stats.hostsMerged, 4);
  assert.equal(report.stats.duplicates, 1);
  report.dispose();
});

Deno.test("Hosts without open findings come last with count 0; a later listing with findings keeps the host", async () => {
  const report = parse(ADR(
    HOST(
      "10.8.0.1",
      VI(101, undefined, undefined, "Fixed") + VI(202, undefined, undefined, "Fixed"),
    ) +
      HOST("10.8.0.2", "") + HOST("10.8.0.3", VI(1)) +
      HOST("10.8.0.2", VI(5, "22", "tcp", "Active")) +
      HOST("10.8.0.4", VI(6, undefined, undefined, "Fixed")),
  ));
  assert.deepStrictEqual(await hostsOf(report), [
    { ip: "10.8.0.2", findings: ["5/22/1"] },
    { ip: "10.8.0.3", findings: ["1/0/0"] },
    { ip: "10.8.0.1", findings: [] },
    { ip: "10.8.0.4", findings: [] },
  ]);
  const s = report.stats;
  assert.equal(s.hostsKept, 2);
  assert.equal(s.hostsEmpty, 2);
  assert.equal(s.fixed, 3);
  report.dispose();
});

Deno.test("Hosts without open findings outside ip_ranges or with an invalid address are not listed, so not cleared", async () => {
  const ranges = IpRangeSet.parse("10.8.0.0/24");
  const fixed = VI(101, undefined, undefined, "Fixed");
  const adr = parse(
    ADR(
      HOST("10.8.0.1", fixed) + HOST("10.9.0.1", fixed) + HOST("10.8.0.300", fixed) +
        HOST("10.9.0.2", "") + HOST("10.8.0.2", ""),
    ),
    { ipRanges: ranges },
  );
  assert.deepStrictEqual(await hostsOf(adr), [
    { ip: "10.8.0.1", findings: [] },
    { ip: "10.8.0.2", findings: [] },
  ]);
  assert.equal(adr.stats.hostsEmpty, 2);
  adr.dispose();
  const scan = parse(
    `<SCAN value="scan/1">${IP("10.8.0.3", "")}${IP("10.9.0.3", "")}${IP("not-an-ip", "")}</SCAN>`,
    { ipRanges: ranges },
  );
  assert.deepStrictEqual(await hostsOf(scan), [{ ip: "10.8.0.3", findings: [] }]);
  scan.dispose();
});

Deno.test("Invalid ports (-1, 0, 99999, 80abc) are counted and warned, boundedly; the finding goes without a port", async () => {
  const warnings: string[] = [];
  const bad = ["-1", "0", "99999", "80abc", " 70000 "];
  const report = parse(
    ADR(
      HOST(
        "10.0.0.1",
        bad.map((p, k) => VI(10 + k, p, "tcp")).join("") + VI(20, "", "tcp") +
          VI(21, "65535", "udp"),
      ) +
        HOST("10.0.0.2", VI(30, "abc", "tcp", "Fixed")),
    ),
    { onWarning: (m: string) => warnings.push(m) },
  );
  assert.deepStrictEqual(await hostsOf(report), [{
    ip: "10.0.0.1",
    findings: ["10/0/0", "11/0/0", "12/0/0", "13/0/0", "14/0/0", "20/0/0", "21/65535/2"],
  }, { ip: "10.0.0.2", findings: [] }]);
  assert.equal(
    report.stats.invalidPorts,
    5,
    "an empty PORT is no port, a Fixed finding is not sent",
  );
  assert.deepStrictEqual(warnings, [
    'QID 10 on "10.0.0.1" has port "-1", not 1-65535: it is sent without a port',
    'QID 11 on "10.0.0.1" has port "0", not 1-65535: it is sent without a port',
    'QID 12 on "10.0.0.1" has port "99999", not 1-65535: it is sent without a port',
    'QID 13 on "10.0.0.1" has port "80abc", not 1-65535: it is sent without a port',
    'QID 14 on "10.0.0.1" has port "70000", not 1-65535: it is sent without a port',
  ]);
  report.dispose();

  const many: string[] = [];
  const scan = parse(
    SCAN(
      IP("10.0.0.3", CAT("99999", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) + CAT(undefined, [13])),
    ),
    { onWarning: (m: string) => many.push(m) },
  );
  assert.equal(scan.stats.invalidPorts, 12, "each finding of the CAT");
  assert.equal(many.length, 11, "ten, then one line saying more are not shown");
  assert.match(many[10]!, /More findings with an invalid port are not shown/);
  scan.dispose();
});

Deno.test("OS text and CPE are kept only when asked, from both formats", async () => {
  const adr = ADR(
    HOST(
      "10.0.0.1",
      VI(1),
      "",
      "<DNS>h</DNS><OPERATING_SYSTEM><![CDATA[Windows 2012 R2 Standard]]></OPERATING_SYSTEM><OS_CPE>cpe:/o:microsoft:windows_server_2012:r2</OS_CPE>",
    ) + HOST("10.0.0.2", VI(1), "", "<OS>Linux 2.6</OS>") + HOST("10.0.0.3", VI(1)),
  );
  const scan = SCAN(
    IP(
      "10.1.1.1",
      CAT("80", [1]),
      "",
      "<OS><![CDATA[Ubuntu 11]]></OS><OS_CPE>cpe:/o:canonical:ubuntu_linux:11.04</OS_CPE>",
    ),
  );
  const plain = parse(adr);
  assert.deepStrictEqual((await hostsOf(plain)).map((h) => h.os ?? h.osCpe), [
    undefined,
    undefined,
    undefined,
  ]);
  plain.dispose();
  const withOs = parse(adr, { collectOs: true }, 3);
  assert.deepStrictEqual(await hostsOf(withOs), [
    {
      ip: "10.0.0.1",
      findings: ["1/0/0"],
      os: "Windows 2012 R2 Standard",
      osCpe: "cpe:/o:microsoft:windows_server_2012:r2",
    },
    { ip: "10.0.0.2", findings: ["1/0/0"], os: "Linux 2.6" },
    { ip: "10.0.0.3", findings: ["1/0/0"] },
  ]);
  withOs.dispose();
  const scanned = parse(scan, { collectOs: true });
  assert.deepStrictEqual(await hostsOf(scanned), [
    {
      ip: "10.1.1.1",
      findings: ["1/80/1"],
      os: "Ubuntu 11",
      osCpe: "cpe:/o:canonical:ubuntu_linux:11.04",
    },
  ]);
  scanned.dispose();
  // a merged host takes the OS of its first listing that has one
  const merged = parse(
    ADR(HOST("10.0.0.1", VI(1)) + HOST("10.0.0.1", VI(2), "", "<OS>Linux 3.13</OS>")),
    {
      collectOs: true,
    },
  );
  assert.equal((await hostsOf(merged))[0]!.os, "Linux 3.13");
  merged.dispose();
});

Deno.test("Random reports with repeated addresses match the oracle, the spool in memory or on disk (fast-check)", async () => {
  const tempDir = await Deno.makeTempDir();
  const ips = [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "2001:db8::1",
    "2001:DB8:0::1",
    "::ffff:10.0.0.2",
    "bogus",
  ];
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            ip: fc.constantFrom(...ips),
            scan: fc.boolean(),
            vulns: fc.array(
              fc.record({
                qid: fc.integer({ min: 1, max: 5 }),
                port: fc.constantFrom(undefined, "22", "443", "0", "x"),
                proto: fc.constantFrom(undefined, "tcp", "udp"),
                status: fc.constantFrom(undefined, "Active", "Fixed"),
              }),
              { maxLength: 4 },
            ),
          }),
          { maxLength: 12 },
        ),
        fc.boolean(),
        fc.constantFrom(1, 5, 64, 4096),
        fc.constantFrom(64, 1 << 20),
        async (hosts, scanFormat, chunk, memoryLimit) => {
          const xml = scanFormat
            ? SCAN(
              hosts.map((h) =>
                IP(
                  h.ip,
                  h.vulns.filter((v) => v.status !== "Fixed").map((v) => CAT(v.port, [v.qid])).join(
                    "",
                  ),
                )
              ).join(""),
            )
            : ADR(
              hosts.map((h) =>
                HOST(h.ip, h.vulns.map((v) => VI(v.qid, v.port, v.proto, v.status)).join(""))
              ).join(""),
            );
          const report = parse(xml, { spoolMemoryLimit: memoryLimit, tempDir }, chunk);
          try {
            assert.deepStrictEqual(await fromParsed(report), oracleExtract(xml));
          } finally {
            report.dispose();
          }
        },
      ),
      { numRuns: 150 },
    );
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

Deno.test("An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 host, sent as a.b.c.d even when listed alone or first; ::ffff:0:a.b.c.d stays IPv6", async () => {
  const report = parse(
    ADR(
      HOST("::ffff:10.0.0.7", VI(1)) + HOST("::FFFF:a00:8", VI(2)) +
        HOST("0:0:0:0:0:ffff:10.0.0.1", VI(1)) + HOST("10.0.0.1", VI(2)) +
        HOST("::ffff:0:10.0.0.9", VI(3)),
    ),
    { ipRanges: IpRangeSet.parse("10.0.0.0/24, ::ffff:0:0:0/96") },
  );
  assert.deepStrictEqual((await hostsOf(report)).map((h) => [h.ip, h.findings]), [
    ["10.0.0.7", ["1/0/0"]],
    ["10.0.0.8", ["2/0/0"]],
    ["10.0.0.1", ["1/0/0", "2/0/0"]],
    ["::ffff:0:10.0.0.9", ["3/0/0"]],
  ]);
  report.dispose();
});
