/**
 * Many nights through the host input module's semantics (`replayCommands`, the simulator's
 * model of Cisco's HostInput.pm): after each night, for every host the night's report lists,
 * the Defense Center holds exactly that report's open findings from this scanner; hosts the
 * report does not list keep what they had, and other scanners' results are never touched.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { MessagePacker } from "../../lib/dc/protocol.ts";
import { mapOs } from "../../lib/encode/os_map.ts";
import { writeBlocks } from "../../lib/pipeline/write_blocks.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { FmcState, type OsRecord, replayCommands } from "../../scripts/sim/fmc/mod.ts";
import { oracleExtract } from "../_oracle.ts";

// Spellings of five hosts; the DC keys hosts by the text the connector writes (canonical).
const SPELLINGS = [
  ["10.0.0.1"],
  ["10.0.0.2"],
  ["192.168.7.200"],
  ["2001:db8::7", "2001:DB8:0:0::7", "2001:0db8::0007"],
  ["fe80::1:2"],
];
const OS_TEXTS = [
  "Windows 2012 R2 Standard",
  "Windows 2016/2019/10",
  "Linux 2.4-2.6",
  "Ubuntu 18.04",
  "HP LaserJet",
];

const finding = fc.record({
  qid: fc.integer({ min: 100, max: 106 }),
  port: fc.constantFrom(undefined, "22", "443", "0", "80abc"),
  proto: fc.constantFrom(undefined, "tcp", "udp"),
  status: fc.constantFrom(undefined, "New", "Active", "Re-Opened", "Fixed"),
});
const listing = fc.record({
  host: fc.integer({ min: 0, max: SPELLINGS.length - 1 }),
  spelling: fc.nat(),
  os: fc.integer({ min: 0, max: OS_TEXTS.length - 1 }),
  findings: fc.array(finding, { maxLength: 5 }),
});
const night = fc.record({
  scan: fc.boolean(), // SCAN format (no VULN_STATUS: Fixed findings are left out)
  listings: fc.array(listing, { maxLength: 8 }),
});

type Listing = { host: number; spelling: number; os: number; findings: Finding[] };
type Finding = { qid: number; port?: string; proto?: string; status?: string };

function reportXml(n: { scan: boolean; listings: Listing[] }): string {
  const ip = (l: Listing) => SPELLINGS[l.host]![l.spelling % SPELLINGS[l.host]!.length]!;
  if (n.scan) {
    return `<SCAN value="s">${
      n.listings.map((l) =>
        `<IP value="${ip(l)}" name="h"><OS>${OS_TEXTS[l.os]}</OS><VULNS>${
          l.findings.filter((f) => f.status !== "Fixed").map((f) =>
            `<CAT value="c"${f.port === undefined ? "" : ` port="${f.port}"`}${
              f.proto === undefined ? "" : ` protocol="${f.proto}"`
            }><VULN number="${f.qid}"><TITLE>t${f.qid}</TITLE></VULN></CAT>`
          ).join("")
        }</VULNS></IP>`
      ).join("")
    }</SCAN>`;
  }
  return `<ASSET_DATA_REPORT><HOST_LIST>${
    n.listings.map((l) =>
      `<HOST><IP>${ip(l)}</IP><OPERATING_SYSTEM>${OS_TEXTS[l.os]}</OPERATING_SYSTEM>` +
      `<VULN_INFO_LIST>${
        l.findings.map((f) =>
          `<VULN_INFO><QID id="qid_${f.qid}">${f.qid}</QID>` +
          (f.port === undefined ? "" : `<PORT>${f.port}</PORT>`) +
          (f.proto === undefined ? "" : `<PROTOCOL>${f.proto}</PROTOCOL>`) +
          (f.status === undefined ? "" : `<VULN_STATUS>${f.status}</VULN_STATUS>`) +
          `</VULN_INFO>`
        ).join("")
      }</VULN_INFO_LIST></HOST>`
    ).join("")
  }</HOST_LIST><GLOSSARY><VULN_DETAILS_LIST>${
    [100, 101, 102, 103, 104, 105, 106].map((q) =>
      `<VULN_DETAILS id="qid_${q}"><QID>${q}</QID><TITLE>t${q}</TITLE></VULN_DETAILS>`
    ).join("")
  }</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>`;
}

async function commandsFor(xml: string, setOs: boolean): Promise<string> {
  const parser = new ReportParser({ collectOs: setOs });
  parser.push(new TextEncoder().encode(xml));
  const report = parser.end();
  const chunks: Uint8Array[] = [];
  try {
    await writeBlocks(report, { write: (b) => Promise.resolve(void chunks.push(b.slice())) }, {
      setOs,
    });
  } finally {
    report.dispose();
  }
  return chunks.map((c) => new TextDecoder().decode(c)).join("");
}

function packed(text: string, maxSize: number): string[] {
  const packer = new MessagePacker({ maxSize });
  packer.push(new TextEncoder().encode(text));
  packer.finish();
  return packer.take().map((p) => new TextDecoder().decode(p.bytes));
}

function resultsOf(fmc: FmcState, scanner: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [ip, byScanner] of Object.entries(fmc.netmap("Global").dump())) {
    const results = byScanner[scanner] ?? [];
    if (results.length > 0) {
      out.set(ip, results.map((r) => `${r.vulnId}/${r.port || 0}/${r.proto}`).sort());
    }
  }
  return out;
}

Deno.test("After every night, the DC holds each listed host's open findings from this scanner, and nothing else changed (fast-check)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(night, { minLength: 2, maxLength: 5 }),
      fc.boolean(),
      fc.constantFrom(512, 4096, 65535),
      async (nights, setOs, maxSize) => {
        const fmc = new FmcState(); // a fresh FMC: the scanner is not known yet
        // another scanner's result on a host of the pool: never touched
        replayCommands(
          fmc,
          'SetSource,Other\nAddScanResult,10.0.0.1,"Nmap",7,22,tcp,"t","d","cve_ids:","bugtraq_ids:"\nScanFlush\n',
        );
        const expected = new Map<string, string[]>(); // ip → open findings, as the reports say
        const expectedOs = new Map<string, OsRecord>();
        for (const [k, n] of nights.entries()) {
          const xml = reportXml(n);
          const text = await commandsFor(xml, setOs);
          const r = replayCommands(fmc, packed(text, maxSize));
          assert.equal(r.died, undefined);
          for (const answer of r.answers) {
            assert.match(
              answer!,
              /^Done processing \d+ commands\.\n$/,
              `night ${k + 1}: ${answer}`,
            );
          }
          assert.equal(r.closing, "", "nothing was left queued at the end");
          for (const h of oracleExtract(xml).hosts) {
            expected.set(
              h.ip,
              h.findings.map(([q, p, pr]) => `${q}/${p}/${["", "tcp", "udp"][pr]}`).sort(),
            );
            const os = mapOs(
              OS_TEXTS[n.listings.find((l) => SPELLINGS[l.host]!.includes(h.ip))!.os],
            );
            if (setOs && h.findings.length > 0 && os) {
              expectedOs.set(h.ip, { vendor: os.vendor, product: os.product, version: os.version });
            }
          }
          const want = new Map([...expected].filter(([, f]) => f.length > 0));
          assert.deepStrictEqual(resultsOf(fmc, "QualysGuard"), want, `after night ${k + 1}`);
          assert.deepStrictEqual(resultsOf(fmc, "Nmap"), new Map([["10.0.0.1", ["7/22/tcp"]]]));
          assert.deepStrictEqual(
            fmc.netmap("Global").dumpOs(),
            Object.fromEntries([...expectedOs].sort()),
          );
        }
        const qg = fmc.scanTypes.find((s) => s.name === "QualysGuard");
        if (qg) {
          assert.equal(
            qg.hasVulnInfo,
            true,
            "the FMC knows QualysGuard as a vulnerability scanner",
          );
        }
      },
    ),
    { numRuns: 150 },
  );
});
