/**
 * The reporting of `deno task bench`, shared by every case file (`bench.ts`, `bench_detections.ts`,
 * `bench_big_text.ts`, and any new one): each figure with its spread over several runs (min,
 * median, max), each target stated as MET, MISSED or SKIPPED (its figure could not be taken), and
 * the exit status: 0 when every target is met, 1 when one is missed, 2 when a part of the bench
 * failed to run (its figures are missing).
 *
 * A case in its own file makes a {@linkcode BenchReport}, states its targets with
 * {@linkcode BenchReport.target}, and ends with `Deno.exit(await report.end())`; `bench.ts` runs
 * it with {@linkcode runCase}, which gathers its targets for the bench's closing summary and exit
 * status (through the file named by `QC_BENCH_RESULTS`). Run alone, a case prints its own summary
 * and exits with its own status.
 *
 * @example A case in its own file
 * ```ts ignore
 * import { BenchReport, spread } from "./bench_report.ts";
 * const report = new BenchReport("ledger");
 * const seconds = [41.2, 40.8, 43.0]; // one figure per run
 * report.figure("second night", spread(seconds), { digits: 1, unit: " s" });
 * report.target("second night's lines / first night's", spread([0.05, 0.06, 0.05]), {
 *   atMost: 0.2,
 *   scale: 100,
 *   digits: 1,
 *   unit: " %",
 * });
 * Deno.exit(await report.end());
 * ```
 *
 * @module
 */

/** The spread of one figure over several runs. */
export interface Spread {
  /** The smallest value. */
  min: number;
  /** The median (of an even count, the mean of the two middle values). */
  median: number;
  /** The largest value. */
  max: number;
  /** How many runs. */
  runs: number;
}

/**
 * The min, median and max of `values` (one per run).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(spread([3, 1, 2]), { min: 1, median: 2, max: 3, runs: 3 });
 * assert.equal(spread([4, 1, 2, 3]).median, 2.5);
 * ```
 */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError("spread() needs at least one value");
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`spread() got ${v}: a figure must be a number`);
  }
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]!, runs: s.length };
}

/** The spread of a figure derived from another, run by run (e.g. MB/s from seconds). */
export function mapSpread(s: Spread, f: (v: number) => number): Spread {
  const [a, b] = [f(s.min), f(s.max)];
  return { min: Math.min(a, b), median: f(s.median), max: Math.max(a, b), runs: s.runs };
}

/** How a figure is written. */
export interface FigureFormat {
  /** Digits after the point. @default {0} */
  digits?: number;
  /** Written after the number, e.g. `" MB/s"`. @default {""} */
  unit?: string;
  /** Written before the number, e.g. `"×"`. @default {""} */
  prefix?: string;
  /** The value is multiplied by this when written (100 for a share in %). @default {1} */
  scale?: number;
}

function num(v: number, f: FigureFormat): string {
  return (v * (f.scale ?? 1)).toFixed(f.digits ?? 0);
}

/**
 * A figure as the bench prints it: the median, then min–max and the number of runs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const s = spread([270, 306, 282]);
 * assert.equal(formatSpread(s, { unit: " MB/s" }), "282 MB/s (270–306, 3 runs)");
 * assert.equal(formatSpread(spread([1.25]), { prefix: "×", digits: 2 }), "×1.25 (1 run)");
 * assert.equal(formatSpread(0.024, { scale: 100, digits: 1, unit: " %" }), "2.4 %");
 * ```
 */
export function formatSpread(value: Spread | number, format: FigureFormat = {}): string {
  const { prefix = "", unit = "" } = format;
  if (typeof value === "number") return `${prefix}${num(value, format)}${unit}`;
  const head = `${prefix}${num(value.median, format)}${unit}`;
  if (value.runs === 1) return `${head} (1 run)`;
  return `${head} (${num(value.min, format)}–${num(value.max, format)}, ${value.runs} runs)`;
}

/** A target's limit: the figure must be at least, or at most, this (before `scale`). */
export type Limit = { atLeast: number; atMost?: never } | { atMost: number; atLeast?: never };

/** A limit, how its figure is written, and which value of a spread is held to it. */
export type TargetSpec = Limit & FigureFormat & {
  /**
   * Which value of a spread must meet the limit: the median (speed: a typical run), or the worst
   * run (a memory limit is a limit every run must keep). @default {"median"}
   */
  judge?: "median" | "worst";
};

/** One target as stated. */
export interface Target {
  /** The case that stated it (`reports`, `detections`, ...). */
  case: string;
  /** What is measured. */
  name: string;
  /** The figure as printed. */
  shown: string;
  /** The limit as printed (`≥ 150 MB/s`). */
  limit: string;
  /** MET, MISSED, or SKIPPED when the figure could not be taken. */
  status: "MET" | "MISSED" | "SKIPPED";
  /** The figure's spread, when it has one (the noise estimate uses it). */
  spread?: Spread;
  /** Held to the limit on the median (a typical run) or on the worst run. */
  judge: "median" | "worst";
}

/**
 * Holds a figure to its limit. A figure that is undefined or NaN (not taken: a tool missing) is
 * SKIPPED, neither met nor missed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const t = target("end to end", spread([140, 160, 170]), { atLeast: 150, unit: " MB/s" });
 * assert.equal(t.status, "MET"); // the median, 160
 * const rss = target("peak RSS", spread([90, 95, 101]), { atMost: 100, judge: "worst" });
 * assert.equal(rss.status, "MISSED"); // the worst run, 101
 * assert.equal(target("vs xmlwf", NaN, { atLeast: 0.7 }).status, "SKIPPED");
 * ```
 */
export function target(
  name: string,
  value: Spread | number | undefined,
  spec: TargetSpec,
  caseName = "",
): Target {
  const limitValue = spec.atLeast ?? spec.atMost!;
  const atLeast = spec.atLeast !== undefined;
  const limit = `${atLeast ? "≥" : "≤"} ${
    formatSpread(limitValue, { ...spec, digits: limitDigits(limitValue, spec) })
  }${spec.judge === "worst" ? " (every run)" : ""}`;
  const base = { case: caseName, name, limit, judge: spec.judge ?? "median" };
  if (value === undefined || (typeof value === "number" && Number.isNaN(value))) {
    return { ...base, shown: "not measured", status: "SKIPPED" };
  }
  const s = typeof value === "number" ? undefined : value;
  const judged = s === undefined
    ? value as number
    : spec.judge === "worst"
    ? (atLeast ? s.min : s.max)
    : s.median;
  const met = atLeast ? judged >= limitValue : judged <= limitValue;
  return {
    ...base,
    shown: formatSpread(value, spec),
    status: met ? "MET" : "MISSED",
    ...(s ? { spread: s } : {}),
  };
}

// a limit is written with as few digits as it needs (≥ 0.7×, ≤ 5 %, ≥ 100000 lines/s)
function limitDigits(limit: number, spec: FigureFormat): number {
  const v = limit * (spec.scale ?? 1);
  for (let d = 0; d < (spec.digits ?? 0); d++) {
    if (Number(v.toFixed(d)) === v) return d;
  }
  return spec.digits ?? 0;
}

/** A target as one line: `  name: figure, target ≥ limit: MET`. */
export function formatTarget(t: Target): string {
  return `  ${t.name}: ${t.shown}, target ${t.limit}: ${t.status}`;
}

/** The bench's exit status: 2 when a part failed to run, else 1 when a target was missed. */
export function exitStatus(targets: readonly Target[], failed: readonly string[]): 0 | 1 | 2 {
  if (failed.length > 0) return 2;
  return targets.some((t) => t.status === "MISSED") ? 1 : 0;
}

/**
 * How noisy the run was, from the figures themselves: the widest spread ((max − min) / median)
 * among the figures of the targets held on their median (speed: the worst-run limits, memory and
 * time limits, are left out) taken over several runs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const t = target("speed", spread([90, 100, 110]), { atLeast: 50 });
 * assert.match(noiseLine([t]), /up to 20 % .*widest: speed\)$/);
 * ```
 */
export function noiseLine(targets: readonly Target[]): string {
  let widest: { share: number; name: string } | undefined;
  for (const t of targets) {
    const s = t.spread;
    if (!s || s.runs < 2 || s.median === 0 || t.judge !== "median") continue;
    const share = (s.max - s.min) / Math.abs(s.median);
    if (!widest || share > widest.share) widest = { share, name: t.name };
  }
  return widest
    ? `noise: the speed targets' figures spread by up to ${
      (widest.share * 100).toFixed(0)
    } % ((max − min) / median, over their runs; widest: ${widest.name})`
    : "noise: no speed figure was taken over several runs";
}

/** The closing summary of a set of targets and failed parts, one line each. */
export function summaryLines(targets: readonly Target[], failed: readonly string[]): string[] {
  const count = (s: Target["status"]) => targets.filter((t) => t.status === s).length;
  const lines = [
    `targets: ${count("MET")} met, ${count("MISSED")} missed, ${count("SKIPPED")} skipped` +
    (failed.length ? `; ${failed.length} part(s) FAILED to run` : ""),
  ];
  for (const t of targets) {
    if (t.status !== "MET") {
      lines.push(`${t.status}: [${t.case}] ${t.name}: ${t.shown}, target ${t.limit}`);
    }
  }
  for (const f of failed) lines.push(`FAILED: ${f}`);
  lines.push(noiseLine(targets));
  const code = exitStatus(targets, failed);
  lines.push(
    `exit status ${code}: ${
      ["every target met", "a target was missed", "a part failed to run (its figures are missing)"][
        code
      ]
    }`,
  );
  return lines;
}

/** The environment variable naming the file a case writes its targets to (`runCase` sets it). */
export const RESULTS_ENV = "QC_BENCH_RESULTS";

/** What a case hands to `bench.ts`: one JSON line per case. */
interface CaseRecord {
  case: string;
  targets: Target[];
  failed: string[];
}

/** The targets of one case as it runs: print them, then end with its exit status. */
export class BenchReport {
  /** The case's name, e.g. `detections`. */
  readonly name: string;
  /** The targets stated so far. */
  readonly targets: Target[] = [];
  /** The parts that failed to run, each with its error. */
  readonly failed: string[] = [];
  #print: (line: string) => void;

  /** A report for the case `name`; `print` writes each line (default: console.log). */
  constructor(name: string, options: { print?: (line: string) => void } = {}) {
    this.name = name;
    this.#print = options.print ?? ((line) => console.log(line));
  }

  /** Prints a figure without a target: `  name: figure`. */
  figure(name: string, value: Spread | number, format: FigureFormat = {}): void {
    this.#print(`  ${name}: ${formatSpread(value, format)}`);
  }

  /** States a target (see {@linkcode target}), prints it; true when it is met. */
  target(name: string, value: Spread | number | undefined, spec: TargetSpec): boolean {
    const t = target(name, value, spec, this.name);
    this.targets.push(t);
    this.#print(formatTarget(t));
    return t.status === "MET";
  }

  /** Runs one part of the case; an error is printed and recorded as a failed part. */
  async part<T>(name: string, body: () => Promise<T>): Promise<T | undefined> {
    try {
      return await body();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.failed.push(`[${this.name}] ${name}: ${why.split("\n")[0]}`);
      this.#print(`FAILED: ${name}: ${why}`);
      return undefined;
    }
  }

  /** Adds the targets and failures another case reported (see {@linkcode runCase}). */
  add(other: { targets: readonly Target[]; failed: readonly string[] }): void {
    this.targets.push(...other.targets);
    this.failed.push(...other.failed);
  }

  /**
   * Ends the case: under `bench.ts` (`QC_BENCH_RESULTS` set), hands its targets over; alone,
   * prints its summary. Resolves to its exit status.
   */
  async end(): Promise<number> {
    const file = Deno.env.get(RESULTS_ENV);
    if (file) {
      const record: CaseRecord = { case: this.name, targets: this.targets, failed: this.failed };
      await Deno.writeTextFile(file, `${JSON.stringify(record)}\n`, { append: true });
    } else {
      this.#print("");
      for (const line of summaryLines(this.targets, this.failed)) this.#print(line);
    }
    return exitStatus(this.targets, this.failed);
  }
}

/**
 * Runs a case file (`scripts/<script>`, with `deno run -A`) in its own process, its output on
 * this one's; resolves to the targets it stated and its failed parts (a case that ended without
 * handing its targets over, by an error or a signal, is one failed part).
 */
export async function runCase(
  script: string,
  args: readonly string[] = [],
): Promise<{ targets: Target[]; failed: string[] }> {
  const file = await Deno.makeTempFile({ prefix: "qc-bench-results-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(script, import.meta.url).pathname, ...args],
      env: { [RESULTS_ENV]: file },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    const records: CaseRecord[] = (await Deno.readTextFile(file)).split("\n").filter(Boolean)
      .map((l) => JSON.parse(l));
    if (records.length === 0) {
      return {
        targets: [],
        failed: [`${script} ended with exit status ${out.code} before stating its targets`],
      };
    }
    return {
      targets: records.flatMap((r) => r.targets),
      failed: records.flatMap((r) => r.failed),
    };
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}
