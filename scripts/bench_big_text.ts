/**
 * The big-text part of `deno task bench` (issue 18, item 4; alone: `deno task bench --big-text`,
 * or `deno run -A scripts/bench_big_text.ts [--mb N] [--timeout S]`): one text block of 100 MB
 * (`--mb`) in one CDATA section, where Qualys puts scanner output (a detection's RESULTS, a
 * finding's RESULT: installed-software lists run to several MB), and where it puts text the
 * connector reads (a glossary entry's THREAT):
 *
 * 1. a Host List Detection page whose one DETECTION has the block as its RESULTS, fed to the
 *    page parser by a child process in chunks of 16 KiB (`--chunk-kib`: a TLS record's most, and
 *    what a download over HTTPS may hand over);
 * 2. a report whose one finding has the block as its RESULT: the connector, report → CSV;
 * 3. a report whose one glossary entry has the block as its THREAT: the connector, report → CSV.
 *
 * Each runs in its own process under getrusage (through python3, as `bench.ts` does): wall time
 * and peak RSS, or "did not finish" when it runs past `--timeout` seconds (default 300: the
 * quadratic scanner of old needed more than that for 150 MB). Never fails on a figure.
 *
 * @module
 */

import { connectorArgs } from "./connector_command.ts";
import { DetectionPageParser } from "../lib/sources/detections/pages/detection_page.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DATA = `${ROOT}bench-data`;
const args = Deno.args;
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const enc = new TextEncoder();

// The child's part: feed a page to the detection page parser as a download would.
if (args[0] === "--feed-page") {
  const file = await Deno.open(args[1]!);
  const parser = new DetectionPageParser();
  const buf = new Uint8Array(Number(args[2]) << 10);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    parser.push(buf.subarray(0, n));
  }
  file.close();
  const page = parser.end();
  console.log(JSON.stringify(page.stats));
  Deno.exit(0);
}

const MB = flag("mb", 100);
const TIMEOUT = flag("timeout", 300);
const CHUNK_KIB = flag("chunk-kib", 16);

// Scanner output as Qualys shows it in RESULTS: a tab-separated table, one package a line.
function block(): Uint8Array {
  let s = "Package\tInstalled Version\tRequired Version\n";
  for (let i = 0; s.length < 1 << 16; i++) {
    s += `lib-package-${i % 977}-devel.x86_64\t${i % 13}.${i % 7}.${i % 31}-${i % 5}.el9\t` +
      `${i % 13}.${i % 7}.${(i % 31) + 1}-1.el9_${i % 4}\n`;
  }
  return enc.encode(s);
}

// Writes head, MB of the block in one CDATA section, tail (once: kept in bench-data).
async function ensure(name: string, head: string, tail: string): Promise<string> {
  const path = `${DATA}/${name}-${MB}mb.xml`;
  try {
    if ((await Deno.stat(`${path}.done`)).isFile) return path;
  } catch { /* write it */ }
  await Deno.mkdir(DATA, { recursive: true });
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const write = async (b: Uint8Array) => {
      for (let o = 0; o < b.length;) o += await file.write(b.subarray(o));
    };
    await write(enc.encode(`${head}<![CDATA[`));
    const b = block();
    let left = MB * 1e6;
    while (left > 0) {
      const part = b.subarray(0, Math.min(b.length, left));
      await write(part);
      left -= part.length;
    }
    await write(enc.encode(`]]>${tail}`));
  } finally {
    file.close();
  }
  await Deno.writeTextFile(`${path}.done`, "");
  return path;
}

const page = await ensure(
  "big-results-page",
  `<?xml version="1.0" encoding="UTF-8" ?>\n<HOST_LIST_VM_DETECTION_OUTPUT>\n<RESPONSE>\n` +
    `<DATETIME>2026-11-21T06:00:00Z</DATETIME>\n<HOST_LIST>\n<HOST><ID>1</ID>` +
    `<IP>10.0.0.1</IP><DETECTION_LIST><DETECTION><QID>38170</QID><TYPE>Confirmed</TYPE>` +
    `<PORT>443</PORT><PROTOCOL>tcp</PROTOCOL><RESULTS>`,
  `</RESULTS><STATUS>Active</STATUS></DETECTION></DETECTION_LIST></HOST>\n</HOST_LIST>\n` +
    `</RESPONSE>\n</HOST_LIST_VM_DETECTION_OUTPUT>\n`,
);
const adrHead = `<?xml version="1.0" encoding="UTF-8" ?>\n<ASSET_DATA_REPORT>\n<HOST_LIST>\n` +
  `<HOST><IP>10.0.0.1</IP><VULN_INFO_LIST><VULN_INFO><QID id="qid_38170">38170</QID>` +
  `<TYPE>Vuln</TYPE><PORT>443</PORT><PROTOCOL>tcp</PROTOCOL>`;
const result = await ensure(
  "big-result-report",
  `${adrHead}<RESULT format="table">`,
  `</RESULT><VULN_STATUS>Active</VULN_STATUS></VULN_INFO></VULN_INFO_LIST></HOST>\n` +
    `</HOST_LIST>\n<GLOSSARY><VULN_DETAILS_LIST><VULN_DETAILS id="qid_38170"><QID>38170</QID>` +
    `<TITLE>SSL Certificate</TITLE><THREAT>short</THREAT></VULN_DETAILS></VULN_DETAILS_LIST>` +
    `</GLOSSARY>\n</ASSET_DATA_REPORT>\n`,
);
const threat = await ensure(
  "big-threat-report",
  `${adrHead}<RESULT>r</RESULT><VULN_STATUS>Active</VULN_STATUS></VULN_INFO></VULN_INFO_LIST>` +
    `</HOST>\n</HOST_LIST>\n<GLOSSARY><VULN_DETAILS_LIST><VULN_DETAILS id="qid_38170">` +
    `<QID>38170</QID><TITLE>SSL Certificate</TITLE><THREAT>`,
  `</THREAT></VULN_DETAILS></VULN_DETAILS_LIST></GLOSSARY>\n</ASSET_DATA_REPORT>\n`,
);

// getrusage of the child, with a time limit: the child is killed (and waited for) past it.
const RUSAGE = "import resource,subprocess,sys,time\n" +
  "t=time.perf_counter()\n" +
  "try: rc=subprocess.run(sys.argv[2:],stdout=subprocess.DEVNULL,timeout=float(sys.argv[1])).returncode\n" +
  "except subprocess.TimeoutExpired: rc=-999\n" +
  "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)";

async function run(what: string, cmd: string[]): Promise<void> {
  const out = await new Deno.Command("python3", {
    args: ["-c", RUSAGE, String(TIMEOUT), ...cmd],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const [seconds, rssKiB, rc] = new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
  const rss = `peak RSS ${(rssKiB! / 1024).toFixed(0)} MiB`;
  console.log(
    `${what.padEnd(52)} ` +
      (rc === -999
        ? `did not finish in ${TIMEOUT} s (killed; ${rss} by then)`
        : rc !== 0
        ? `exited with ${rc} after ${seconds!.toFixed(1)} s`
        : `${seconds!.toFixed(2)} s, ${(MB / seconds!).toFixed(0)} MB/s, ${rss}`),
  );
}

console.log(`\n== One text block of ${MB} MB in one CDATA section (time limit ${TIMEOUT} s) ==`);
const out = await Deno.makeTempDir({ prefix: "qc-bench-big-text-" });
try {
  await run(`detection page, ${MB} MB RESULTS (page parser, ${CHUNK_KIB} KiB chunks)`, [
    Deno.execPath(),
    "run",
    "--allow-read",
    `${ROOT}scripts/bench_big_text.ts`,
    "--feed-page",
    page,
    String(CHUNK_KIB),
  ]);
  const connector = (report: string) => [
    Deno.execPath(),
    ...connectorArgs(["-report", report, "-csvfile", `${out}/out.csv`, "-level", "1"]),
  ];
  await run(`report, ${MB} MB RESULT of a finding (connector)`, connector(result));
  await run(`report, ${MB} MB THREAT of a QID (connector)`, connector(threat));
} finally {
  await Deno.remove(out, { recursive: true });
}
