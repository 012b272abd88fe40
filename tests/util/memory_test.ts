import assert from "node:assert/strict";
import {
  collectGarbage,
  HEAP_CHECK_HOSTS,
  HeapWatch,
  REPORT_MEMORY,
} from "../../lib/util/memory.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { parserOptions } from "../../lib/sources/report/read_report.ts";
import { generateReport } from "../../scripts/gen_report.ts";
import { fromParsed } from "../_oracle.ts";

// collectGarbage calls globalThis.gc (the binary's --expose-gc): counted here instead.
async function countingGc<T>(fn: () => Promise<T>): Promise<{ result: T; gcs: number }> {
  const g = globalThis as { gc?: () => void };
  const saved = g.gc;
  let gcs = 0;
  g.gc = () => void gcs++;
  try {
    return { result: await fn(), gcs };
  } finally {
    if (saved) g.gc = saved;
    else delete g.gc;
  }
}

function report(hosts: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const gen = generateReport({ hosts, findingsPerHost: 5, qids: 50, seed: 7 });
  for (let r = gen.next(); !r.done; r = gen.next()) parts.push(r.value);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) bytes.set(p, (off += p.length) - p.length);
  return bytes;
}

async function parse(bytes: Uint8Array, heapSlack: number | undefined) {
  const parser = new ReportParser({ heapSlack });
  for (let i = 0; i < bytes.length; i += 65536) parser.push(bytes.subarray(i, i + 65536));
  const parsed = parser.end();
  try {
    return await fromParsed(parsed);
  } finally {
    parsed.dispose();
  }
}

Deno.test("HeapWatch looks every HEAP_CHECK_HOSTS ticks and collects past the slack", async () => {
  const always = await countingGc(() => {
    const watch = new HeapWatch({ heapSlack: -Infinity }); // every look finds it grown
    for (let i = 0; i < HEAP_CHECK_HOSTS * 3 + 1; i++) watch.tick();
    return Promise.resolve(watch.collections);
  });
  assert.deepEqual(always, { result: 3, gcs: 3 });
  const never = await countingGc(() => {
    const watch = new HeapWatch({ heapSlack: undefined });
    for (let i = 0; i < HEAP_CHECK_HOSTS * 3; i++) watch.tick();
    return Promise.resolve(watch.collections);
  });
  assert.deepEqual(never, { result: 0, gcs: 0 });
});

Deno.test("a report's parse is watched: the heap is collected past the slack, the findings the same", async () => {
  const bytes = report(HEAP_CHECK_HOSTS * 4);
  const watched = await countingGc(() => parse(bytes, -Infinity));
  const plain = await countingGc(() => parse(bytes, undefined));
  assert.equal(watched.gcs, 4); // one look per HEAP_CHECK_HOSTS hosts
  assert.equal(plain.gcs, 0);
  assert.deepEqual(watched.result, plain.result);
});

Deno.test("a report is parsed and encoded under the report budget's heap slack", () => {
  assert.equal(REPORT_MEMORY.heapSlack, 4 << 20);
  assert.equal(REPORT_MEMORY.collectAroundEncode, true);
  const log = { warn() {} } as unknown as Parameters<typeof parserOptions>[1];
  const config = { source: {}, output: {} } as unknown as Parameters<typeof parserOptions>[0];
  assert.equal(parserOptions(config, log).heapSlack, REPORT_MEMORY.heapSlack);
});

Deno.test("HeapWatch with `every` looks once that many units are ticked (a chunk's bytes)", () => {
  const watch = new HeapWatch({ heapSlack: -Infinity }, { every: 1000 }); // every look collects
  watch.tick(600);
  assert.equal(watch.collections, 0);
  watch.tick(600); // 1,200 since the last look
  assert.equal(watch.collections, 1);
  watch.tick(999);
  assert.equal(watch.collections, 1);
  watch.tick(1);
  assert.equal(watch.collections, 2);
});

Deno.test("collectGarbage asks V8 for its last-resort collection, which gives the heap's empty pages back", async () => {
  const g = globalThis as { gc?: (options?: unknown) => void };
  const saved = g.gc;
  const asked: unknown[] = [];
  g.gc = (options) => void asked.push(options);
  try {
    collectGarbage();
  } finally {
    g.gc = saved;
  }
  assert.deepEqual(asked, [{ type: "major", execution: "sync", flavor: "last-resort" }]);
  // In a process of its own with --expose-gc, as the binary runs: 300,000 objects made and 6 in
  // 7 dropped; a plain gc() keeps the pages the rest are spread over, collectGarbage() compacts
  // them and gives the empty ones back.
  const script = `
    import { collectGarbage } from ${
    JSON.stringify(new URL("../../lib/util/memory.ts", import.meta.url).href)
  };
    let junk = []; for (let i = 0; i < 300000; i++) junk.push({ i, s: "x" + i });
    junk = junk.filter((_, i) => i % 7 === 0);
    const free = () => Deno.memoryUsage().heapTotal - Deno.memoryUsage().heapUsed;
    globalThis.gc(); const plain = free(); collectGarbage();
    console.log(JSON.stringify({ plain, lastResort: free(), kept: junk.length }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc,--max-semi-space-size=1", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  const { plain, lastResort } = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(plain > 4 << 20, `a plain gc() kept ${plain} bytes of empty heap`);
  assert.ok(
    lastResort < plain / 2,
    `kept ${lastResort} bytes after collectGarbage, ${plain} after gc()`,
  );
});
