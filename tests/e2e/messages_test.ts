/**
 * Messages a person can act on (issue 21, items 5 and 6), as a user sees them, run as the binary
 * runs (its permissions): the README's own sample YAML with the bundled report, which sent 0
 * hosts and said nothing; devices Deno's sandbox will not open, which said "run again with the
 * --allow-all flag".
 */

import assert from "node:assert/strict";
import { runMain } from "../_cli.ts";
import { workDir } from "../_workdir.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const README = new URL("../../README.md", import.meta.url).pathname;

/** The README's sample plugin YAML, as a user copies it (the code block under Configuration). */
async function readmeSampleYaml(): Promise<string> {
  const text = await Deno.readTextFile(README);
  const section = text.slice(text.indexOf("## Configuration"));
  const block = /```\n([\s\S]*?)```/.exec(section);
  assert.ok(block, "the README has a sample YAML under Configuration");
  return block[1]!;
}

Deno.test("the README's sample YAML with the bundled report: the warning names ip_ranges and what it dropped, then the summary", async () => {
  await using dir = await workDir("qc-messages-");
  const yaml = await readmeSampleYaml();
  assert.match(yaml, /^ip_ranges: /m);
  await Deno.writeTextFile(`${dir.path}/q.yaml`, yaml, { mode: 0o600 });
  const r = await runMain(["-r", SAMPLE, "-c", "out.csv", "-pl", "q.yaml", "-level", "1"], {
    cwd: dir.path,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const ranges = /^ip_ranges: (.*)$/m.exec(yaml)![1]!;
  const lines = r.stdout.trimEnd().split("\n").map((l) => l.replace(/^\S+ \S+ /, ""));
  assert.deepEqual(lines, [
    `[WARNING] Nothing to send: of the report's 4 hosts, 4 outside ip_ranges (${ranges}): ` +
    "check ip_ranges in q.yaml",
    lines[1]!,
  ]);
  assert.match(
    lines[1]!,
    /^\[INFO\] Summary: 0 hosts with 0 AddScanResult lines and 0 hosts cleared, written to out\.csv \(34 bytes\); skipped: 4 hosts outside ip_ranges, 0 hosts with an invalid address, 1 fixed finding, 0 duplicate findings; the run took \d+\.\d\d s$/,
  );
});

Deno.test("a usage error is one line and where -help is, without the usage text", async () => {
  for (
    const [args, line] of [
      [
        ["-prot", "1"],
        'Unknown option "-prot": did you mean "-port"? Run "qualys_connector -help" for the options',
      ],
      [
        ["-r"],
        'Option "-report" needs a value: -report <path>: run "qualys_connector -help" for the options',
      ],
    ] as const
  ) {
    const r = await runMain([...args]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `qualys_connector: ${line}\n`);
  }
});

Deno.test("a device the sandbox will not open is said in the user's terms, not as --allow-all", async () => {
  await using dir = await workDir("qc-messages-");
  const device = "a device the connector does not open (it opens files, FIFOs, /dev/null, and " +
    "its own standard streams)";
  const report = await runMain(["-r", "/dev/stdin", "-c", "out.csv"], { cwd: dir.path });
  assert.equal(report.code, 2, report.stdout + report.stderr);
  assert.match(
    report.stdout,
    new RegExp(
      `\\[ERROR\\] Cannot open the report /dev/stdin: ${RegExp.escape(device)}: check the ` +
        "-report path \\(-report - reads standard input\\)\\n",
    ),
  );
  const log = await runMain(["-r", SAMPLE, "-c", "out.csv", "-logfile", "/dev/stderr"], {
    cwd: dir.path,
  });
  assert.equal(log.code, 2);
  assert.equal(
    log.stderr,
    `qualys_connector: /dev/stderr: cannot open the log file: ${device}: log to the terminal ` +
      "with -stderr, or name a file\n",
  );
  assert.doesNotMatch(report.stdout + report.stderr + log.stdout + log.stderr, /allow-all/);
});
