/**
 * Synthetic Qualys ASSET_DATA_REPORT generator, for tests, the benchmark and the bundled sample.
 * Deterministic for a seed. The reports carry what real ones do and what a parser can trip on:
 * a DOCTYPE with a SYSTEM URL, comments and PIs, CDATA (holding `<`, `&`, `]]>` split across
 * sections, non-ASCII), entities, findings with and without port, Fixed findings, duplicate
 * findings, and the glossary after the hosts (or before, on request). `--cycle-qids` makes the
 * findings take the QIDs in turn instead, for the memory cases: many distinct QIDs all found
 * (`--qids 100000 --cycle-qids`), or one host with many findings (`--hosts 1 --findings 100000`).
 * `--change-share 0.02` makes the next night's report of the same estate: exactly 2 % of the
 * hosts (chosen by `--change-seed`) each gain a finding, lose one, or see one move to another
 * port; every other host is written byte for byte as without it (the ledger bench's two nights).
 *
 * Usage: deno run --allow-write scripts/gen_report.ts OUT.xml [--hosts N] [--findings N]
 *        [--qids N] [--seed N] [--glossary-first] [--short] [--cycle-qids]
 *        [--change-share S] [--change-seed N]
 *
 * @module
 */

/** Options for {@linkcode generateReport}. */
export interface GenerateOptions {
  /** Number of hosts. @default {10} */
  hosts?: number;
  /** VULN_INFO elements per host. @default {40} */
  findingsPerHost?: number;
  /** Distinct QIDs in the glossary. @default {2000} */
  qids?: number;
  /** PRNG seed. @default {1} */
  seed?: number;
  /** Put GLOSSARY before HOST_LIST. @default {false} */
  glossaryFirst?: boolean;
  /** Short THREAT texts instead of ~1.5 KB ones. @default {false} */
  short?: boolean;
  /** Bytes of RESULT text per finding. @default {300} */
  resultBytes?: number;
  /**
   * Findings take the QIDs in turn, across hosts, instead of at random: every QID is found
   * (given enough findings), and the port changes on each pass over the QIDs (none on the first,
   * then 1, 2, … tcp), so there are no duplicates and no Fixed findings. @default {false}
   */
  cycleQids?: boolean;
  /**
   * The next night's report of the same estate: with the same other options, exactly
   * `Math.round(share × hosts)` hosts, chosen by `seed`, each see one change to their open
   * findings (one added, one removed, or one moved to another port), so that each of their
   * blocks differs; every other host is written byte for byte as without `change`.
   * @default none
   */
  change?: { share: number; seed?: number } | undefined;
}

/** What a generated report should produce. */
export interface GeneratedCounts {
  /** HOST elements. */
  hosts: number;
  /** AddScanResult lines expected (Fixed and duplicates removed). */
  findings: number;
  /** Fixed findings. */
  fixed: number;
  /** Duplicate findings. */
  duplicates: number;
  /** Glossary entries. */
  qids: number;
  /** Hosts whose findings `change` changed (0 without it). */
  changed: number;
}

const REAL = [
  [38170, "SSL Certificate - Subject Common Name Does Not Match Server FQDN"],
  [82003, "ICMP Timestamp Request"],
  [11827, "HTTP Security Header Not Detected"],
  [38173, "SSL Certificate - Signature Verification Failed Vulnerability"],
  [105943, "EOL/Obsolete Software: OpenSSL 1.0.x Detected"],
  [86002, "SSL Server Information Retrieval"],
] as const;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function qidAt(i: number): number {
  return i < REAL.length ? REAL[i]![0] : 100000 + i * 7;
}

function titleAt(i: number): string {
  return i < REAL.length
    ? REAL[i]![1]
    : `Synthetic vulnerability ${i} &amp; &quot;friends&quot;, v${i % 10}`;
}

const LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor " +
  "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud " +
  "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. ";

function glossaryXml(n: number, short: boolean): string {
  const parts: string[] = ["<GLOSSARY>\n<VULN_DETAILS_LIST>\n"];
  for (let i = 0; i < n; i++) {
    const qid = qidAt(i);
    const threat = short
      ? `<P>Threat of QID ${qid}: an attacker, "remotely", can &amp; will.</P>`
      // Lengths spread like real THREAT texts (the public samples: mean 625-935, max ~3,900).
      : `<P>The remote host ${'runs a service, "affected" & exposed; '.repeat(1 + (i % 3))}</P>` +
        `<BR>${LOREM.repeat(i % 4)}${LOREM.slice(0, (i * 37) % LOREM.length)}` +
        `<A HREF="https://example.invalid/${qid}">advisory</A> caf\u00e9 \u2019quoted\u2019`;
    const cves = i % 3 === 0
      ? ""
      : `<CVE_ID_LIST>${
        Array.from({ length: 1 + (i % 4) }, (_, k) =>
          `<CVE_ID><ID><![CDATA[CVE-20${10 + (i % 14)}-${
            1000 + i * 4 + k
          }]]></ID><URL><![CDATA[https://example.invalid/cve]]></URL></CVE_ID>`)
          .join("")
      }</CVE_ID_LIST>`;
    const bids = i % 4 === 1
      ? `<BUGTRAQ_ID_LIST><BUGTRAQ_ID><ID><![CDATA[${
        60000 + i
      }]]></ID><URL><![CDATA[https://example.invalid/bid]]></URL></BUGTRAQ_ID></BUGTRAQ_ID_LIST>`
      : "";
    parts.push(
      `<VULN_DETAILS id="qid_${qid}">\n<QID id="qid_${qid}">${qid}</QID>\n<TITLE><![CDATA[${
        titleAt(i)
      }]]></TITLE>\n<SEVERITY>${1 + (i % 5)}</SEVERITY>\n<CATEGORY>General</CATEGORY>\n` +
        `<THREAT><![CDATA[${threat}]]></THREAT>\n<IMPACT><![CDATA[<P>Impact ]]]]><![CDATA[> text</P>]]></IMPACT>\n` +
        `<SOLUTION><![CDATA[<P>Patch it.</P>]]></SOLUTION>\n<PCI_FLAG>1</PCI_FLAG>\n` +
        `<LAST_UPDATE>2024-01-01T00:00:00Z</LAST_UPDATE>\n${cves}${bids}\n</VULN_DETAILS>\n`,
    );
  }
  parts.push("</VULN_DETAILS_LIST>\n</GLOSSARY>\n");
  return parts.join("");
}

/** One VULN_INFO as generated: `f` is its place in the host's list (TYPE, TIMES_FOUND). */
interface Vuln {
  qid: number;
  port: number;
  proto: string;
  fixed: boolean;
  f: number;
}

const keyOf = (v: Vuln) => `${v.qid}/${v.port}/${v.proto}`;

/**
 * One change to a host's open findings, so that its block differs: a finding added (a QID it
 * does not have, without port), one removed (every listing of one open finding, Fixed ones
 * too), or one moved to a port it does not have (every listing of it).
 */
function changeHost(
  vulns: Vuln[],
  o: { rand: () => number; qids: number; next: number },
): void {
  const keys = new Set(vulns.map(keyOf));
  const open = [...new Set(vulns.filter((v) => !v.fixed).map(keyOf))];
  const kind = open.length === 0 ? 0 : Math.floor(o.rand() * 3);
  if (kind === 0) {
    let qid: number;
    do qid = qidAt(Math.floor(o.rand() * o.qids)); while (keys.has(`${qid}/0/`));
    vulns.push({ qid, port: 0, proto: "", fixed: false, f: o.next });
    return;
  }
  const key = open[Math.floor(o.rand() * open.length)]!;
  if (kind === 1) {
    for (let i = vulns.length - 1; i >= 0; i--) if (keyOf(vulns[i]!) === key) vulns.splice(i, 1);
    return;
  }
  let port = 10000 + Math.floor(o.rand() * 50000);
  const qid = Number(key.split("/")[0]);
  while (keys.has(`${qid}/${port}/tcp`)) port++;
  for (const v of vulns) {
    if (keyOf(v) === key) Object.assign(v, { port, proto: "tcp" });
  }
}

/**
 * Yields the report as UTF-8 chunks and, at the end, returns the expected counts.
 */
export function* generateReport(
  options: GenerateOptions = {},
): Generator<Uint8Array, GeneratedCounts> {
  const {
    hosts = 10,
    findingsPerHost = 40,
    qids = 2000,
    seed = 1,
    glossaryFirst = false,
    short = false,
    resultBytes = 300,
    cycleQids = false,
  } = options;
  const enc = new TextEncoder();
  const rand = mulberry32(seed);
  const counts: GeneratedCounts = {
    hosts,
    findings: 0,
    fixed: 0,
    duplicates: 0,
    qids,
    changed: 0,
  };
  yield enc.encode(
    `<?xml version="1.0" encoding="UTF-8" ?>\n` +
      `<!DOCTYPE ASSET_DATA_REPORT SYSTEM "https://qualysguard.example.invalid/asset_data_report.dtd">\n` +
      `<!-- synthetic report, seed ${seed} -->\n<ASSET_DATA_REPORT>\n<HEADER>\n` +
      `<COMPANY><![CDATA[Example & Co]]></COMPANY>\n<GENERATION_DATETIME>2026-11-22T00:00:00Z</GENERATION_DATETIME>\n` +
      `<TEMPLATE><![CDATA[Synthetic template]]></TEMPLATE>\n<TARGET><USER_IP_LIST><RANGE><START>10.0.0.1</START><END>10.255.255.254</END></RANGE></USER_IP_LIST></TARGET>\n</HEADER>\n`,
  );
  if (glossaryFirst) yield enc.encode(glossaryXml(qids, short));
  yield enc.encode("<HOST_LIST>\n");
  const filler = "x".repeat(Math.max(0, resultBytes - 120));
  const parts: string[] = [];
  let pending = 0, cycled = 0;
  // The hosts to change, chosen one by one as they come (selection sampling: exactly `toChange`),
  // with their own random numbers, so that the report's stay the same.
  const crand = mulberry32(options.change?.seed ?? 1);
  let toChange = options.change ? Math.round(options.change.share * hosts) : 0;
  counts.changed = toChange;
  for (let h = 0; h < hosts; h++) {
    const n = h + 1;
    const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    parts.push(
      `<HOST>\n<IP network_id="0">${ip}</IP>\n<TRACKING_METHOD>IP</TRACKING_METHOD>\n` +
        `<DNS><![CDATA[host-${h}.example.invalid]]></DNS>\n<OPERATING_SYSTEM><![CDATA[Linux 5.x]]></OPERATING_SYSTEM>\n<VULN_INFO_LIST>\n`,
    );
    const vulns: Vuln[] = [];
    let lastKey = "";
    for (let f = 0; f < findingsPerHost; f++) {
      const dup = !cycleQids && f > 0 && rand() < 0.01;
      let qid: number, port: number, proto: string;
      if (cycleQids) {
        const pass = Math.floor(cycled / qids);
        qid = qidAt(cycled++ % qids);
        port = pass === 0 ? 0 : 1 + ((pass - 1) % 65535);
        proto = port ? "tcp" : "";
      } else if (dup) {
        const [q, p, r] = lastKey.split("/");
        qid = Number(q);
        port = Number(p);
        proto = r!;
      } else {
        qid = qidAt(Math.floor(rand() * qids));
        const withPort = rand() < 0.5;
        port = withPort ? [22, 80, 443, 8443, 3389, 161][Math.floor(rand() * 6)]! : 0;
        proto = withPort ? (port === 161 ? "udp" : "tcp") : "";
      }
      const fixed = !cycleQids && rand() < 0.05;
      lastKey = `${qid}/${port}/${proto}`;
      vulns.push({ qid, port, proto, fixed, f });
    }
    if (toChange > 0 && crand() * (hosts - h) < toChange) {
      toChange--;
      changeHost(vulns, { rand: crand, qids, next: findingsPerHost });
    }
    const seen = new Set<string>();
    for (const { qid, port, proto, fixed, f } of vulns) {
      const key = `${qid}/${port}/${proto}`;
      if (fixed) counts.fixed++;
      else if (seen.has(key)) counts.duplicates++;
      else {
        seen.add(key);
        counts.findings++;
      }
      parts.push(
        `<VULN_INFO>\n<QID id="qid_${qid}">${qid}</QID>\n<TYPE>${f % 3 ? "Vuln" : "Ig"}</TYPE>\n` +
          (port
            ? `<PORT>${port}</PORT>\n<SERVICE>svc</SERVICE>\n<PROTOCOL>${proto}</PROTOCOL>\n`
            : "") +
          `<SSL>false</SSL>\n<RESULT format="table"><![CDATA[Result <b>&</b> ${filler} ]]]]><![CDATA[>\tend]]></RESULT>\n` +
          `<FIRST_FOUND>2024-01-01T00:00:00Z</FIRST_FOUND>\n<LAST_FOUND>2026-11-01T00:00:00Z</LAST_FOUND>\n` +
          `<TIMES_FOUND>${f + 1}</TIMES_FOUND>\n<VULN_STATUS>${
            fixed ? "Fixed" : f % 2 ? "Active" : "New"
          }</VULN_STATUS>\n</VULN_INFO>\n`,
      );
    }
    parts.push("</VULN_INFO_LIST>\n</HOST>\n");
    pending++;
    if (pending >= 64) {
      yield enc.encode(parts.join(""));
      parts.length = 0;
      pending = 0;
    }
  }
  parts.push("</HOST_LIST>\n");
  yield enc.encode(parts.join(""));
  if (!glossaryFirst) yield enc.encode(glossaryXml(qids, short));
  yield enc.encode(
    "<APPENDICES><TEMPLATE_DETAILS><FILTER_SUMMARY><![CDATA[Status: New, Active, Re-Opened]]></FILTER_SUMMARY></TEMPLATE_DETAILS></APPENDICES>\n" +
      "</ASSET_DATA_REPORT>\n<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. //-->\n",
  );
  return counts;
}

/** Writes a generated report to `path`; returns the expected counts and the byte size. */
export async function writeReport(
  path: string,
  options: GenerateOptions = {},
): Promise<GeneratedCounts & { bytes: number }> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let bytes = 0;
  try {
    const gen = generateReport(options);
    for (;;) {
      const r = gen.next();
      if (r.done) return { ...r.value, bytes };
      let off = 0;
      while (off < r.value.length) off += await file.write(r.value.subarray(off));
      bytes += r.value.length;
    }
  } finally {
    file.close();
  }
}

if (import.meta.main) {
  const args = [...Deno.args];
  const out = args.shift();
  if (!out) {
    console.error(
      "usage: gen_report.ts OUT.xml [--hosts N] [--findings N] [--qids N] [--seed N] " +
        "[--glossary-first] [--short] [--cycle-qids] [--change-share S] [--change-seed N]",
    );
    Deno.exit(2);
  }
  const num = (flag: string, dflt: number) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const counts = await writeReport(out, {
    hosts: num("--hosts", 10),
    findingsPerHost: num("--findings", 40),
    qids: num("--qids", 2000),
    seed: num("--seed", 1),
    glossaryFirst: args.includes("--glossary-first"),
    short: args.includes("--short"),
    cycleQids: args.includes("--cycle-qids"),
    change: args.includes("--change-share")
      ? { share: num("--change-share", 0), seed: num("--change-seed", 1) }
      : undefined,
  });
  console.log(JSON.stringify(counts));
}
