/**
 * On what machine `deno task bench` ran, and how busy it was: cores, CPU model, memory, kernel,
 * Deno; the load average; the share of the CPUs other work used over one second (from
 * `/proc/stat`, Linux only) while the bench itself waits; and the processes that used the most
 * CPU in that second (from `/proc/<pid>/stat`). Printed before the run and after it, so that a
 * figure can be read with what else ran (docs/bench.md). Deno lets only `--allow-all` read
 * `/proc` (the bench task runs with `-A`); with less, what needs it is left out.
 *
 * @module
 */

/** The machine and its load at one moment. */
export interface MachineState {
  /** Logical CPUs. */
  cores: number;
  /** The CPU model, where `/proc/cpuinfo` names it. */
  cpuModel?: string;
  /** Memory, total and available, in GiB. */
  memoryGiB: { total: number; available: number };
  /** The kernel release and Deno's version. */
  os: string;
  /** The 1, 5 and 15 minute load averages. */
  loadavg: number[];
  /** Share of all CPUs busy over one second (0-1), where `/proc/stat` exists. */
  busy?: number;
  /** The processes that used the most CPU in that second: name and share of one CPU (0-1). */
  top?: { name: string; cpu: number }[];
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies over all CPUs, from `/proc/stat`'s first line. */
function cpuTimes(stat: string): { busy: number; total: number } {
  const f = stat.split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Each process's CPU jiffies (utime + stime) and name, from `/proc/<pid>/stat`. */
async function processTimes(): Promise<Map<string, { name: string; jiffies: number }>> {
  const out = new Map<string, { name: string; jiffies: number }>();
  try {
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      const stat = await readText(`/proc/${e.name}/stat`);
      if (!stat) continue;
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const f = stat.slice(close + 2).split(" ");
      out.set(e.name, { name, jiffies: Number(f[11]) + Number(f[12]) });
    }
  } catch { /* no /proc: no list */ }
  return out;
}

/** Memory, load and kernel from `/proc` (read permission only), else from Deno (`--allow-sys`). */
async function system(): Promise<Pick<MachineState, "memoryGiB" | "loadavg"> & { kernel: string }> {
  const meminfo = await readText("/proc/meminfo");
  const loadavg = await readText("/proc/loadavg");
  const kernel = (await readText("/proc/sys/kernel/osrelease"))?.trim();
  if (meminfo && loadavg && kernel) {
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(meminfo)?.[1]);
    return {
      memoryGiB: { total: kib("MemTotal") / 2 ** 20, available: kib("MemAvailable") / 2 ** 20 },
      loadavg: loadavg.split(" ").slice(0, 3).map(Number),
      kernel,
    };
  }
  try {
    const mem = Deno.systemMemoryInfo();
    return {
      memoryGiB: { total: mem.total / 2 ** 30, available: mem.available / 2 ** 30 },
      loadavg: Deno.loadavg(),
      kernel: Deno.osRelease(),
    };
  } catch { // no --allow-sys
    return { memoryGiB: { total: NaN, available: NaN }, loadavg: [NaN, NaN, NaN], kernel: "?" };
  }
}

/** Describes the machine, watching its CPUs for `sampleMs` (default one second). */
export async function machineState(sampleMs = 1000): Promise<MachineState> {
  const cpuinfo = await readText("/proc/cpuinfo");
  const { memoryGiB, loadavg, kernel } = await system();
  const state: MachineState = {
    cores: navigator.hardwareConcurrency,
    ...(cpuinfo ? { cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] } : {}),
    memoryGiB,
    os: `${Deno.build.os} ${kernel}, Deno ${Deno.version.deno}`,
    loadavg,
  };
  const before = await readText("/proc/stat");
  if (!before) return state;
  const procsBefore = await processTimes();
  await new Promise((r) => setTimeout(r, sampleMs));
  const after = (await readText("/proc/stat"))!;
  const procsAfter = await processTimes();
  const [a, b] = [cpuTimes(before), cpuTimes(after)];
  state.busy = b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
  // jiffies per second per CPU: total jiffies over the interval / cores
  const perCpu = (b.total - a.total) / state.cores;
  const top: { name: string; cpu: number }[] = [];
  for (const [pid, p] of procsAfter) {
    const was = procsBefore.get(pid);
    if (was && was.name === p.name && p.jiffies > was.jiffies && perCpu > 0) {
      top.push({ name: p.name, cpu: (p.jiffies - was.jiffies) / perCpu });
    }
  }
  state.top = top.sort((x, y) => y.cpu - x.cpu).slice(0, 3);
  return state;
}

/**
 * The machine in a few lines.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const text = formatMachine({
 *   cores: 2,
 *   memoryGiB: { total: 23.5, available: 21 },
 *   os: "linux 6.1, Deno 2.9.6",
 *   loadavg: [1.13, 1.58, 1.3],
 *   busy: 0.55,
 *   top: [{ name: "deno", cpu: 0.98 }],
 * });
 * assert.match(text, /2 cores, 23\.5 GiB memory \(21\.0 available\)/);
 * assert.match(text, /load average 1\.13 1\.58 1\.30; CPUs 55 % busy .* deno 98 %/);
 * ```
 */
export function formatMachine(m: MachineState): string {
  const load = m.loadavg.some(Number.isNaN)
    ? "unknown"
    : m.loadavg.map((l) => l.toFixed(2)).join(" ");
  const busy = m.busy === undefined ? "" : `; CPUs ${(m.busy * 100).toFixed(0)} % busy over one ` +
    `second with the bench waiting${
      m.top?.length
        ? ` (most: ${m.top.map((p) => `${p.name} ${(p.cpu * 100).toFixed(0)} %`).join(", ")})`
        : ""
    }`;
  return `${m.cores} cores${m.cpuModel ? ` (${m.cpuModel})` : ""}, ` +
    (Number.isNaN(m.memoryGiB.total) ? "memory unknown, " : `${m.memoryGiB.total.toFixed(1)} GiB ` +
      `memory (${m.memoryGiB.available.toFixed(1)} available), `) +
    `${m.os}\n  load average ${load}${busy}`;
}
