/**
 * The Prometheus text file of `-metrics FILE` (YAML `metrics_file`; issue 20, item 6), for
 * node_exporter's textfile collector: one gauge family per figure of the last run, each with
 * `# HELP` and `# TYPE`, one series per destination (label `destination`, and `variant` when
 * the run has one). Several cron lines may share the file: a run replaces its own series and
 * keeps the others', under a lock (`.<name>.lock` beside the file, which the collector does not
 * read), and writes the file atomically (a temp file in the same directory, renamed over it:
 * the collector never reads half a file).
 *
 * A file that holds anything else is refused (`LocalIoError`, exit 7, naming it): metrics
 * that are not the connector's, or text that is not the exposition format. The textfile
 * directory holds other exporters' files, and a wrong path must not destroy one; the connector
 * itself never leaves half a file, so a file it cannot read is not its own.
 *
 * Format: Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats).
 *
 * @module
 */

import { fileErrorReason, LocalIoError } from "../errors.ts";
import { baseOf, dirOf } from "../util/atomic_file.ts";
import { replaceFile, type RunRecord } from "./run_record.ts";

/** The metric names this file holds, with their help text, in the order they are written. */
export const METRICS: readonly { name: string; help: string }[] = [
  ["last_run_timestamp_seconds", "When the last run ended, in seconds since the epoch."],
  [
    "last_success_timestamp_seconds",
    "When the last run that exited 0 ended, in seconds since the epoch (0: none yet).",
  ],
  ["last_exit_code", "Exit status of the last run (0 ok, 6 commands rejected, see README)."],
  ["last_duration_seconds", "How long the last run took, in seconds."],
  ["hosts_sent", "Hosts whose block the last run sent (added, changed, refreshed)."],
  ["results_sent", "AddScanResult lines the last run sent."],
  ["hosts_cleared", "Hosts the last run cleared."],
  ["hosts_unchanged", "Hosts the last run did not send, the destination holding them already."],
  ["hosts_refreshed", "Hosts the last run sent only for the rolling refresh."],
  ["lines_sent", "Command lines the last run sent."],
  ["bytes_sent", "Bytes of commands the last run sent."],
  ["api_calls", "Calls the last run made to the Qualys API."],
  ["bytes_downloaded", "Bytes the last run downloaded from Qualys."],
].map(([name, help]) => ({ name: `qualys_connector_${name}`, help: help! }));

const PREFIX = "qualys_connector_";
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const NUMBER = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;

/** One sample line, as read. */
interface Sample {
  /** The metric name. */
  name: string;
  /** Labels, in the order written. */
  labels: [string, string][];
  /** The value, as written. */
  value: string;
  /** The timestamp, as written, if any. */
  timestamp: string | undefined;
}

/** A metric family, as read or to write. */
interface Family {
  help: string | undefined;
  type: string | undefined;
  samples: Sample[];
}

/** A line of a metrics file that is not the exposition format; its `line` is 1-based. */
export class MetricsSyntaxError extends SyntaxError {
  /** The error's name. */
  override name = "MetricsSyntaxError";
  /** The line. */
  readonly line: number;

  /** Creates the error. */
  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

/**
 * Reads Prometheus text (format 0.0.4) into its families, by name, in the order met.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const text = '# HELP up Is it up.\n# TYPE up gauge\nup{job="a\\"b"} 1\n';
 * const families = parseMetrics(text);
 * assert.deepEqual(families.get("up")?.samples[0]?.labels, [["job", 'a"b']]);
 * ```
 *
 * @throws {MetricsSyntaxError} On a line that is not the format, a second HELP or TYPE for a
 * name, a TYPE after its samples, or a family's samples apart.
 */
export function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current = "";
  const family = (name: string, line: number, sample: boolean) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { help: undefined, type: undefined, samples: [] });
    else if (sample && name !== current && f.samples.length > 0) {
      throw new MetricsSyntaxError(`the samples of ${name} are not together`, line);
    }
    current = name;
    return f;
  };
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((raw, i) => {
    const n = i + 1, line = raw.trim();
    if (line === "") return;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest = ""] = meta;
      if (!NAME.test(name!)) throw new MetricsSyntaxError(`bad metric name "${name}"`, n);
      const f = family(name!, n, false);
      if (kind === "HELP") {
        if (f.help !== undefined) throw new MetricsSyntaxError(`a second HELP for ${name}`, n);
        f.help = unescape(rest, false, n);
      } else {
        if (f.type !== undefined) throw new MetricsSyntaxError(`a second TYPE for ${name}`, n);
        if (f.samples.length) throw new MetricsSyntaxError(`TYPE after samples of ${name}`, n);
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(rest.trim())) {
          throw new MetricsSyntaxError(`bad type "${rest.trim()}" for ${name}`, n);
        }
        f.type = rest.trim();
      }
      return;
    }
    if (line.startsWith("#")) return; // a comment
    const sample = parseSample(line, n);
    family(sample.name, n, true).samples.push(sample);
  });
  return families;
}

function parseSample(line: string, n: number): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{.*\})?\s*(\S+)(?:\s+(\S+))?$/.exec(line);
  if (!m) throw new MetricsSyntaxError("not a sample", n);
  const [, name, braces, value, timestamp] = m;
  if (!NUMBER.test(value!)) throw new MetricsSyntaxError(`bad value "${value}"`, n);
  if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) {
    throw new MetricsSyntaxError(`bad timestamp "${timestamp}"`, n);
  }
  const labels: [string, string][] = [];
  if (braces) {
    let rest = braces.slice(1, -1).trim();
    while (rest !== "") {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,\s*)?/.exec(rest);
      if (!l || (!l[3] && l[0].length < rest.length)) {
        throw new MetricsSyntaxError("bad labels", n);
      }
      if (labels.some(([k]) => k === l[1])) {
        throw new MetricsSyntaxError(`label ${l[1]} twice`, n);
      }
      labels.push([l[1]!, unescape(l[2]!, true, n)]);
      rest = rest.slice(l[0].length);
    }
  }
  return { name: name!, labels, value: value!, timestamp };
}

// The exposition format's escapes: \\ and \n, and \" in label values.
function unescape(text: string, label: boolean, n: number): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && label) return '"';
    throw new MetricsSyntaxError(`bad escape "\\${c}"`, n);
  });
}

/** A label value written as the format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A metrics file that holds metrics other than the connector's. */
export class ForeignMetricsError extends Error {
  /** The error's name. */
  override name = "ForeignMetricsError";
  /** The first metric name that is not the connector's. */
  readonly metric: string;

  /** Creates the error. */
  constructor(metric: string) {
    super(`it holds metrics that are not the connector's (${metric})`);
    this.metric = metric;
  }
}

// The families of a metrics file's text, checked to be the connector's.
function readFamilies(text: string): Map<string, Family> {
  const families = parseMetrics(text);
  for (const name of families.keys()) {
    if (!name.startsWith(PREFIX)) throw new ForeignMetricsError(name);
  }
  return families;
}

/** Which series are this run's: its destination and, if any, its variant. */
export interface MetricsLabels {
  /** The destination key. */
  destination: string;
  /** The variant (a `-multiinfo` template id). @default {undefined} */
  variant?: string | undefined;
}

function labelsOf(owner: MetricsLabels): [string, string][] {
  const labels: [string, string][] = [["destination", owner.destination]];
  if (owner.variant !== undefined) labels.push(["variant", owner.variant]);
  return labels;
}

function renderLabels(labels: [string, string][]): string {
  return labels.length
    ? `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`
    : "";
}

function sameSeries(a: [string, string][], b: [string, string][]): boolean {
  if (a.length !== b.length) return false;
  const m = new Map(a);
  return b.every(([k, v]) => m.get(k) === v);
}

/** Options of {@linkcode metricsText} and {@linkcode writeMetricsFile}. */
export interface MetricsOptions extends MetricsLabels {
  /**
   * When the last run that exited 0 ended (ISO 8601, as the run history keeps it); null: never.
   * When not given, the value already in the file for these labels is kept (0 when none). A
   * record of exit 0 is its own last success.
   * @default {undefined}
   */
  lastSuccess?: string | null | undefined;
}

/**
 * The file's next text: `existing` (a metrics file's text, "" for none) with the series of
 * `options`' labels replaced by `record`'s figures, every other series kept.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { runRecord } from "./run_record.ts";
 * const record = runRecord({ destination: "dc a", source: "report", started: new Date(0),
 *   finished: new Date(2000), exitCode: 0 });
 * const one = metricsText("", record, { destination: "dc a" });
 * const two = metricsText(one, { ...record, exit_code: 5 }, { destination: "dc b" });
 * assert.match(two, /^qualys_connector_last_exit_code\{destination="dc a"\} 0$/m);
 * assert.match(two, /^qualys_connector_last_exit_code\{destination="dc b"\} 5$/m);
 * assert.match(two, /^qualys_connector_last_success_timestamp_seconds\{destination="dc b"\} 0$/m);
 * ```
 *
 * @throws {MetricsSyntaxError} When `existing` is not the exposition format.
 * @throws {ForeignMetricsError} When `existing` holds metrics that are not the connector's.
 */
export function metricsText(existing: string, record: RunRecord, options: MetricsOptions): string {
  const families = readFamilies(existing);
  const mine = labelsOf(options);
  const finished = Date.parse(record.finished) / 1000;
  let lastSuccess: number | undefined;
  if (record.exit_code === 0) lastSuccess = finished;
  else if (options.lastSuccess === null) lastSuccess = 0;
  else if (options.lastSuccess !== undefined) lastSuccess = Date.parse(options.lastSuccess) / 1000;
  else {
    const old = families.get(`${PREFIX}last_success_timestamp_seconds`)?.samples
      .find((s) => sameSeries(s.labels, mine));
    lastSuccess = old ? Number(old.value) : 0;
  }
  const values: Record<string, number> = {
    last_run_timestamp_seconds: finished,
    last_success_timestamp_seconds: lastSuccess,
    last_exit_code: record.exit_code,
    last_duration_seconds: record.duration_seconds,
    hosts_sent: record.hosts_sent,
    results_sent: record.results_sent,
    hosts_cleared: record.hosts_cleared,
    hosts_unchanged: record.hosts_unchanged,
    hosts_refreshed: record.hosts_refreshed,
    lines_sent: record.lines_sent,
    bytes_sent: record.bytes_sent,
    api_calls: record.api_calls,
    bytes_downloaded: record.bytes_downloaded,
  };
  const out: string[] = [];
  const known = new Set(METRICS.map((m) => m.name));
  const write = (name: string, help: string, type: string, samples: Sample[]) => {
    if (samples.length === 0) return;
    out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    const lines = samples.map((s) =>
      `${name}${renderLabels(s.labels)} ${s.value}${s.timestamp ? ` ${s.timestamp}` : ""}`
    );
    out.push(...lines.sort());
  };
  for (const { name, help } of METRICS) {
    const others = (families.get(name)?.samples ?? []).filter((s) => !sameSeries(s.labels, mine));
    const value = values[name.slice(PREFIX.length)]!;
    const sample = { name, labels: mine, value: formatNumber(value), timestamp: undefined };
    write(name, help, "gauge", [...others, sample]);
  }
  // Families of another version of the connector: kept for the other destinations.
  for (const [name, f] of families) {
    if (known.has(name)) continue;
    const others = f.samples.filter((s) => !sameSeries(s.labels, mine));
    write(name, f.help ?? name, f.type ?? "untyped", others);
  }
  return `${out.join("\n")}\n`;
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "+Inf" : "-Inf";
  return String(n);
}

/**
 * Checks, before a run, that `path` can be the metrics file: absent, or a file the connector
 * wrote. (The write at the end checks again, under the lock.)
 *
 * @throws {LocalIoError} When it is a file of something else, or cannot be read (exit 7).
 */
export async function checkMetricsFile(path: string): Promise<void> {
  const text = await readExisting(path);
  try {
    readFamilies(text);
  } catch (error) {
    throw refused(path, error);
  }
}

/**
 * Writes this run's figures into the metrics file at `path`, keeping the other destinations'
 * series: under a lock on `.<name>.lock` beside it, reads the file, replaces this run's series,
 * writes it atomically (a new file is 0644, for the collector; an existing one keeps its mode).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { runRecord } from "./run_record.ts";
 * const dir = await Deno.makeTempDir();
 * const record = runRecord({ destination: "dc 10.0.0.1:8307", source: "detections",
 *   started: new Date(0), finished: new Date(60_000), exitCode: 0, counts: { hosts_sent: 7 } });
 * await writeMetricsFile(`${dir}/qc.prom`, record, { destination: record.destination });
 * const text = await Deno.readTextFile(`${dir}/qc.prom`);
 * assert.match(text, /^qualys_connector_hosts_sent\{destination="dc 10.0.0.1:8307"\} 7$/m);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @throws {LocalIoError} When the file holds something else (metrics that are not the
 * connector's, or text that is not the format), or cannot be read or written: the message
 * names it and says what to do (exit 7).
 */
export async function writeMetricsFile(
  path: string,
  record: RunRecord,
  options: MetricsOptions,
): Promise<void> {
  const unlock = await lock(`${dirOf(path)}/.${baseOf(path)}.lock`);
  try {
    const existing = await readExisting(path);
    let text: string;
    try {
      text = metricsText(existing, record, options);
    } catch (error) {
      throw refused(path, error);
    }
    await replaceFile(path, new TextEncoder().encode(text), "the metrics file (-metrics)");
  } finally {
    unlock();
  }
}

async function readExisting(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw new LocalIoError(
      `cannot read the metrics file (-metrics): ${fileErrorReason(error)}: name a file the ` +
        "connector can read and write",
      { path, cause: error },
    );
  }
}

function refused(path: string, error: unknown): LocalIoError {
  const why = error instanceof MetricsSyntaxError
    ? `it is not a Prometheus text file the connector wrote (${error.message})`
    : (error as Error).message;
  return new LocalIoError(
    `not written: ${why}: -metrics (metrics_file) needs a file of its own, such as ` +
      `${dirOf(path)}/qualys_connector.prom; remove this one only if nothing else writes it`,
    { path, cause: error },
  );
}

// Takes the lock file's exclusive lock, waiting for another run's; the release function. Where
// the lock file cannot be opened, the write goes on without it (it is still atomic; two runs
// ending together could then each keep the other's old series).
async function lock(path: string): Promise<() => void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o644 });
  } catch {
    return () => {};
  }
  try {
    await file.lock(true);
  } catch {
    file.close();
    return () => {};
  }
  return () => {
    try {
      file.close();
    } catch { /* closed */ }
  };
}
