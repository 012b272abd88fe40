/**
 * Bench helper: parse a report with saxes only (minimal handlers), the library a naive
 * implementation would use. Fed through `FsFile.readable` → `TextDecoderStream` (the harness the
 * "≥ 2.5× saxes" target was set against: docs/platform.md, "The bench's targets"), or with
 * `--direct` from 1 MiB reads through a streaming TextDecoder (faster).
 *
 * Usage: deno run --allow-read scripts/bench_saxes.ts REPORT.xml [--direct]
 *
 * @module
 */

import { SaxesParser } from "saxes";

const file = await Deno.open(Deno.args[0]!);
const parser = new SaxesParser({ position: false });
let elements = 0;
parser.on("opentag", () => {
  elements++;
});
parser.on("text", () => {});
parser.on("cdata", () => {});
parser.on("error", (e) => {
  throw e;
});
if (Deno.args.includes("--direct")) {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    parser.write(decoder.decode(buf.subarray(0, n), { stream: true }));
  }
} else {
  for await (const text of file.readable.pipeThrough(new TextDecoderStream())) parser.write(text);
}
parser.close();
console.log(`${elements} elements`);
