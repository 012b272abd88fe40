import assert from "node:assert/strict";
import fc from "fast-check";
import { CommandTally } from "../../lib/pipeline/command_tally.ts";

const enc = new TextEncoder();

// The counts as a reader of the whole text would make them.
function expected(text: string): [number, number, number] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const results = lines.filter((l) => l.startsWith("AddScanResult,")).length;
  return [lines.length, results, enc.encode(text).length];
}

const LINES = [
  "SetSource,QualysGuard Scan Report",
  "AddHost,10.0.0.1",
  'AddScanResult,10.0.0.1,"QualysGuard",38170,443,tcp,"t","d","cve_ids:","bugtraq_ids:"',
  'AddScanResult,2001:db8::1,"QualysGuard",6,,,"é","","",""',
  "AddScanResul",
  "AddScanResults,x",
  " AddScanResult,x",
  "addscanresult,x",
  "ScanFlush",
  'DeleteScanResult,10.8.0.1,"QualysGuard"',
  "",
  "# a comment",
];

Deno.test("CommandTally counts lines, AddScanResult lines and bytes however the text is cut into writes", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...LINES), { maxLength: 30 }),
      fc.boolean(),
      fc.array(fc.nat(200), { maxLength: 10 }),
      (lines, lastNewline, cuts) => {
        const text = lines.join("\n") + (lastNewline && lines.length ? "\n" : "");
        const bytes = enc.encode(text);
        const tally = new CommandTally();
        let at = 0;
        for (const cut of [...cuts.map((c) => c % (bytes.length + 1))].sort((a, b) => a - b)) {
          tally.add(bytes.subarray(at, Math.max(at, cut)));
          at = Math.max(at, cut);
        }
        tally.add(bytes.subarray(at));
        assert.deepEqual([tally.lines, tally.results, tally.bytes], expected(text), text);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("CommandTally reads each write at once: a buffer reused afterwards changes nothing", () => {
  const tally = new CommandTally();
  const buffer = enc.encode("AddScanResult,1\nScanFlush\n");
  tally.add(buffer);
  buffer.fill(0x41);
  assert.deepEqual([tally.lines, tally.results, tally.bytes], [2, 1, 26]);
});
