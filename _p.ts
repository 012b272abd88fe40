import { parseReport } from "/work/main/lib/report/parse_report.ts";
const t0 = performance.now();
const f = await Deno.open(Deno.args[0]!);
const r = await parseReport(f);
const t1 = performance.now();
let n = 0;
await r.forEachHost((h) => {
  n += h.count;
});
const t2 = performance.now();
console.log(
  r.stats.findings,
  n,
  "parse",
  (t1 - t0).toFixed(0),
  "replay",
  (t2 - t1).toFixed(0),
  "rss",
  (Deno.memoryUsage().rss / 1048576).toFixed(0),
);
