/**
 * The JSON run record (`-json FILE`, YAML `json_file`; issue 20, item 5): one object per run,
 * written when the run ends, also when it fails, for monitors and scripts. Its field names are
 * fixed (snake_case, as the issue lists them); a new field may be added, none renamed.
 *
 * @module
 */

import { fileErrorReason, LocalIoError } from "../errors.ts";
import { removeStaleFiles } from "../cleanup.ts";
import { baseOf, createAtomicFile, dirOf } from "../util/atomic_file.ts";
import { writeAll } from "../util/bytes.ts";

/** One run, as `-json` writes it. */
export interface RunRecord {
  /** The destination (`dc 10.0.0.1:8307`, `csv /abs/out.csv`). */
  destination: string;
  /** The source: `report` or `detections`. */
  source: string;
  /** When the run started: ISO 8601, UTC, whole seconds (`2026-08-01T02:00:00Z`). */
  started: string;
  /** When it ended, as `started`. */
  finished: string;
  /** How long it ran, in seconds (to the millisecond). */
  duration_seconds: number;
  /** Its exit status (README: Exit status). */
  exit_code: number;
  /**
   * Why it failed, on one line (the message the log ends with); null when it exited 0. A run
   * that exits 6 (the destination rejected commands) has its error here too.
   */
  error: string | null;
  /** Hosts whose block was sent (added, changed and refreshed; not clears). */
  hosts_sent: number;
  /** `AddScanResult` lines sent. */
  results_sent: number;
  /** Hosts cleared (`DeleteScanResult` + `ScanUpdate`). */
  hosts_cleared: number;
  /** Hosts not sent, their block being the same as the destination holds. */
  hosts_unchanged: number;
  /** Of `hosts_sent`, those sent only for the rolling refresh (or `-full`). */
  hosts_refreshed: number;
  /** Command lines sent. */
  lines_sent: number;
  /** Bytes of commands sent. */
  bytes_sent: number;
  /** Calls made to the Qualys API. */
  api_calls: number;
  /** Bytes downloaded from Qualys. */
  bytes_downloaded: number;
  /** The detection source's checkpoint after the run; null for the report source or none yet. */
  checkpoint: string | null;
}

/** The counts of a run, for {@linkcode runRecord}: each 0 when not given. */
export type RunCounts = Partial<
  Pick<
    RunRecord,
    | "hosts_sent"
    | "results_sent"
    | "hosts_cleared"
    | "hosts_unchanged"
    | "hosts_refreshed"
    | "lines_sent"
    | "bytes_sent"
    | "api_calls"
    | "bytes_downloaded"
  >
>;

/** What a run knows of itself when it ends, for {@linkcode runRecord}. */
export interface RunFacts {
  /** The destination. */
  destination: string;
  /** The source: `report` or `detections`. */
  source: string;
  /** When it started. */
  started: Date;
  /** When it ended. */
  finished: Date;
  /** Its exit status. */
  exitCode: number;
  /** Why it failed (an error, or its message); ignored when `exitCode` is 0. */
  error?: unknown;
  /** What it did. @default {{}} */
  counts?: RunCounts;
  /** The detection source's checkpoint after the run. @default {null} */
  checkpoint?: string | null | undefined;
}

/**
 * The record of a run: times in ISO 8601 (UTC, whole seconds), the duration to the
 * millisecond, the error as one line (null on exit 0), every count (0 when not given).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const record = runRecord({
 *   destination: "dc 10.0.0.1:8307",
 *   source: "report",
 *   started: new Date("2026-08-01T02:00:00.250Z"),
 *   finished: new Date("2026-08-01T02:12:03.500Z"),
 *   exitCode: 5,
 *   error: new Error("10.0.0.1:8307: connection refused\n(check the port)"),
 *   counts: { hosts_sent: 3 },
 * });
 * assert.equal(record.started, "2026-08-01T02:00:00Z");
 * assert.equal(record.duration_seconds, 723.25);
 * assert.equal(record.error, "10.0.0.1:8307: connection refused (check the port)");
 * assert.equal(record.hosts_sent, 3);
 * assert.equal(record.api_calls, 0);
 * ```
 */
export function runRecord(facts: RunFacts): RunRecord {
  const c = facts.counts ?? {};
  return {
    destination: facts.destination,
    source: facts.source,
    started: isoSeconds(facts.started),
    finished: isoSeconds(facts.finished),
    duration_seconds: Math.max(0, facts.finished.getTime() - facts.started.getTime()) / 1000,
    exit_code: facts.exitCode,
    error: facts.exitCode === 0 ? null : oneLine(facts.error),
    hosts_sent: c.hosts_sent ?? 0,
    results_sent: c.results_sent ?? 0,
    hosts_cleared: c.hosts_cleared ?? 0,
    hosts_unchanged: c.hosts_unchanged ?? 0,
    hosts_refreshed: c.hosts_refreshed ?? 0,
    lines_sent: c.lines_sent ?? 0,
    bytes_sent: c.bytes_sent ?? 0,
    api_calls: c.api_calls ?? 0,
    bytes_downloaded: c.bytes_downloaded ?? 0,
    checkpoint: facts.checkpoint ?? null,
  };
}

/**
 * `date` in ISO 8601, UTC, whole seconds.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isoSeconds(new Date(Date.UTC(2026, 7, 1, 2, 0, 5, 999))), "2026-08-01T02:00:05Z");
 * ```
 */
export function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/**
 * An error's message on one line: line breaks and runs of blanks become one space, at most
 * 1,000 characters (an ellipsis ends a longer one); "unknown error" when there is none.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(oneLine(new Error("a\n  b")), "a b");
 * assert.equal(oneLine(undefined), "unknown error");
 * ```
 */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : error == null ? "" : String(error);
  const line = text.replace(/\s+/g, " ").trim();
  if (line === "") return "unknown error";
  return line.length > 1000 ? `${line.slice(0, 999)}…` : line;
}

/** Options of {@linkcode writeRunRecord}. */
export interface WriteRunRecordOptions {
  /** Where `-` writes. @default {Deno.stdout} */
  stdout?: { write(p: Uint8Array): Promise<number> };
}

/**
 * Writes `record` as JSON (two-space indented, a newline at the end) to `path`, atomically (a
 * temp file in the same directory, renamed over it: a reader never sees half a record), or to
 * standard output for `-`. A new file is 0644 (monitors run as other users); an existing one
 * keeps its mode.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const record = runRecord({ destination: "csv /tmp/out.csv", source: "report",
 *   started: new Date(0), finished: new Date(1500), exitCode: 0 });
 * await writeRunRecord(`${dir}/run.json`, record);
 * assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/run.json`)), record);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @throws {LocalIoError} When the file (or stdout) cannot be written: the message names it.
 */
export async function writeRunRecord(
  path: string,
  record: RunRecord,
  options: WriteRunRecordOptions = {},
): Promise<void> {
  const bytes = new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`);
  if (path === "-") {
    try {
      await writeAll(options.stdout ?? Deno.stdout, bytes);
    } catch (error) {
      throw new LocalIoError(`cannot write the run record: ${fileErrorReason(error)}`, {
        path: "stdout",
        cause: error,
      });
    }
    return;
  }
  await replaceFile(path, bytes, "the run record (-json, json_file)");
}

/**
 * Replaces `path` with `bytes` atomically; a new file is 0644, an existing one keeps its mode.
 * The temp files of such writes that a killed run left beside it more than a day ago go first.
 *
 * @throws {LocalIoError} Naming `path` and `what` it is, when it cannot be written.
 */
export async function replaceFile(path: string, bytes: Uint8Array, what: string): Promise<void> {
  const prefix = `.${baseOf(path)}.`;
  await removeStaleFiles(dirOf(path), (n) => n.startsWith(prefix) && n.endsWith(".tmp"));
  let mode = 0o644;
  try {
    mode = (await Deno.stat(path)).mode! & 0o777;
  } catch { /* a new file */ }
  let file;
  try {
    file = await createAtomicFile(path, { mode });
  } catch (error) {
    throw writeError(path, what, error);
  }
  try {
    await file.write(bytes);
    await file.commit();
  } catch (error) {
    await file.discard();
    throw writeError(path, what, error);
  }
}

function writeError(path: string, what: string, error: unknown): LocalIoError {
  return new LocalIoError(
    `cannot write ${what}: ${fileErrorReason(error)}: check that its directory exists, is ` +
      "writable and has space",
    { path, cause: error },
  );
}
