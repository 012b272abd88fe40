/**
 * The big-text part of `deno task bench` (issue 18, item 4; alone: `deno task bench --big-text`,
 * or `deno run -A scripts/bench_big_text.ts [--mb N] [--timeout S] [--runs N]`): one text block of 100 MB
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
 * Each runs in its own process under getrusage (`bench_measure.ts`), `--runs N` times (default
 * 3): wall time and peak RSS, with their spread. Its one target is the time limit: a run past
 * `--timeout` seconds (default 300: the quadratic scanner of old needed more than that for
 * 150 MB) is killed, and the target MISSED (`bench_report.ts`: exit 1). Run alone, it keeps its
 * inputs in `bench-data/`; `deno task bench` removes them at the end.
 *
 * @module
 */

import { connectorArgs } from "./connector_command.ts";
import { measure, spreads } from "./bench_measure.ts";
import { BenchReport, mapSpread } from "./bench_report.ts";
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
const RUNS = flag("runs", 3);

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

const report = new BenchReport("big text");

/** `RUNS` runs of `cmd`, each within the time limit (a run past it is killed and ends them). */
async function run(short: string, what: string, cmd: string[]): Promise<void> {
  const all = [];
  for (let i = 0; i < RUNS; i++) {
    const m = await measure(cmd, { timeoutSeconds: TIMEOUT, check: false });
    if (m.code !== 0 && !m.timedOut) {
      throw new Error(`${what}: exited with ${m.code} after ${m.seconds.toFixed(1)} s`);
    }
    all.push(m);
    if (m.timedOut) break;
  }
  const { seconds, rssMiB } = spreads(all);
  console.log(`${what}:`);
  if (!all.some((m) => m.timedOut)) {
    report.figure("speed", mapSpread(seconds, (s) => MB / s), { unit: " MB/s" });
  }
  report.figure("peak RSS", rssMiB, { unit: " MiB" });
  report.target(`${short}: wall time (a run past the limit is killed)`, seconds, {
    atMost: TIMEOUT,
    judge: "worst",
    digits: 2,
    unit: " s",
  });
}

console.log(
  `\n== One text block of ${MB} MB in one CDATA section (time limit ${TIMEOUT} s, ${RUNS} runs) ==`,
);
const out = await Deno.makeTempDir({ prefix: "qc-bench-big-text-" });
try {
  await report.part(
    "detection page",
    () =>
      run(
        "detection page",
        `detection page, ${MB} MB RESULTS (page parser, ${CHUNK_KIB} KiB chunks)`,
        [
          Deno.execPath(),
          "run",
          "--allow-read",
          `${ROOT}scripts/bench_big_text.ts`,
          "--feed-page",
          page,
          String(CHUNK_KIB),
        ],
      ),
  );
  const connector = (reportFile: string) => [
    Deno.execPath(),
    ...connectorArgs(["-report", reportFile, "-csvfile", `${out}/out.csv`, "-level", "1"]),
  ];
  await report.part(
    "RESULT",
    () => run("RESULT", `report, ${MB} MB RESULT of a finding (connector)`, connector(result)),
  );
  await report.part(
    "THREAT",
    () => run("THREAT", `report, ${MB} MB THREAT of a QID (connector)`, connector(threat)),
  );
} finally {
  await Deno.remove(out, { recursive: true });
}
Deno.exit(await report.end());
