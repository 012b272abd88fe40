/**
 * What the record of a destination adds to a process's memory, alone (issue 20): a night's
 * record built through `BlockComparer`'s calls (`LedgerBuilder.set` and `keep`), its pending
 * list written (`LedgerFile.markUncertain`) and the record saved (`LedgerFile.save`), with the
 * peak RSS (VmHWM) and the RSS after each step, in MiB. Run it with the connector's V8 flags:
 *
 * ```
 * deno run -A --v8-flags=--max-semi-space-size=1,--expose-gc scripts/bench_ledger_memory.ts \
 *   [--hosts 100000] [--results 40] [--night 1|2] [--changed 16000]
 * ```
 *
 * Night 1 starts from no record; night 2 first writes a record of every host (in a child
 * process of this script, so that its memory is not counted) and then sets `--changed` hosts
 * and keeps the others. Both first run a tenth of the night, unmeasured, to compile the code.
 * Prints one line per step and a JSON line at the end: the peak after each step, over the RSS
 * at the start.
 *
 * @module
 */

import { LedgerFile } from "../lib/ledger/ledger_file.ts";
import { FINGERPRINT_MEMORY_VALUES } from "../lib/pipeline/compare_blocks.ts";

const args = Deno.args;
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const HOSTS = flag("hosts", 100_000);
const RESULTS = flag("results", 40);
const NIGHT = flag("night", 1);
const CHANGED = flag("changed", 16_000);
const DIR = args.includes("--dir") ? args[args.indexOf("--dir") + 1]! : undefined;
const OWNER = { destination: "dc 10.0.0.1:8307" };

function status(field: string): number {
  const text = Deno.readTextFileSync("/proc/self/status");
  const m = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) / 1024 : NaN;
}

function ip(h: number): string {
  return `10.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}`;
}

// A deterministic pseudo-random 16-bit stream.
let seed = 12345;
function rand16(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed >>> 16;
}

const steps: Record<string, { peak: number; rss: number }> = {};
function step(name: string): void {
  const s = { peak: status("VmHWM"), rss: status("VmRSS") };
  steps[name] = s;
  console.log(`${name.padEnd(22)} peak ${s.peak.toFixed(1)} MiB, rss ${s.rss.toFixed(1)} MiB`);
}

/** Writes a record of `hosts` hosts (night 1), in this process. */
async function writeNight1(dir: string, today: number, hosts = HOSTS): Promise<void> {
  using file = await LedgerFile.open(dir, OWNER);
  const next = file.ledger.builder({ today });
  const fps = new Uint16Array(RESULTS), digest = new Uint8Array(8);
  for (let h = 0; h < hosts; h++) {
    for (let k = 0; k < RESULTS; k++) fps[k] = rand16();
    for (let k = 0; k < 8; k++) digest[k] = rand16() & 255;
    next.set(ip(h), { digest, fingerprints: fps });
  }
  await file.markUncertain(next);
  await file.save(next);
}

if (DIR) {
  // The child that writes night 1's record for night 2.
  await writeNight1(DIR, 20000);
  Deno.exit(0);
}

const dir = await Deno.makeTempDir({ prefix: "qc-ledger-memory-" });
try {
  if (NIGHT === 2) {
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--dir", dir, ...args],
    }).output();
    if (!child.success) throw new Error(new TextDecoder().decode(child.stderr));
  }
  // A round of a tenth of the hosts first, so that the code is compiled: V8's compilers leave
  // some MiB in the process (their threads' memory) once, in any program that runs hot code,
  // and the connector has paid that by the time it sends.
  const warm = await Deno.makeTempDir({ prefix: "qc-ledger-memory-" });
  await writeNight1(warm, 19999, Math.ceil(HOSTS / 10));
  using again = await LedgerFile.open(warm, OWNER);
  const b = again.ledger.builder({ today: 20000 });
  b.keep(ip(0));
  await again.markUncertain(b);
  await again.save(b);
  await Deno.remove(warm, { recursive: true });
  (globalThis as { gc?: () => void }).gc?.();
  step("start");
  using file = await LedgerFile.open(dir, OWNER);
  step("record read");
  // As BlockComparer makes it.
  const fingerprints = { memoryValues: FINGERPRINT_MEMORY_VALUES };
  const next = file.ledger.builder({ today: 20001, fingerprints });
  const fps = new Uint16Array(RESULTS), digest = new Uint8Array(8);
  for (let h = 0; h < HOSTS; h++) {
    const changed = NIGHT === 1 || h % Math.max(1, Math.round(HOSTS / CHANGED)) === 0;
    if (!changed) {
      next.keep(ip(h));
      continue;
    }
    for (let k = 0; k < RESULTS; k++) fps[k] = rand16();
    for (let k = 0; k < 8; k++) digest[k] = rand16() & 255;
    next.set(ip(h), { digest, fingerprints: fps });
  }
  step("built");
  await file.markUncertain(next);
  step("pending list written");
  const bytes = await file.save(next);
  step("record saved");
  const start = steps.start!.rss;
  console.log(JSON.stringify({
    hosts: HOSTS,
    results: RESULTS,
    night: NIGHT,
    recordBytes: bytes,
    startMiB: +start.toFixed(1),
    addedMiB: Object.fromEntries(
      Object.entries(steps).map(([k, v]) => [k, +(v.peak - start).toFixed(1)]),
    ),
  }));
} finally {
  await Deno.remove(dir, { recursive: true });
}
