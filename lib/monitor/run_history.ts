/**
 * Each destination's run history in the state directory (issue 20, item 4): `run-<stem>.json`
 * (the stem of its ledger and sync state), 0600, replaced atomically at the end of every run,
 * also a failed one: the last run (when, exit status, duration, the error on one line) and the
 * last run that exited 0. `-status` reads it without any network call. A file that cannot be
 * read or makes no sense is reported and read as none: never fatal.
 *
 * @module
 */

import { fileErrorReason, LocalIoError } from "../errors.ts";
import { createAtomicFile } from "../util/atomic_file.ts";
import type { LedgerOwner } from "../ledger/ledger.ts";
import { stateFileStem } from "../ledger/ledger_file.ts";
import type { RunRecord } from "./run_record.ts";

/**
 * The temp files of this module's writes (`.run-<stem>.json.<random>.tmp`), for the state
 * directory's stale-file sweep.
 */
export const RUN_TEMP_FILE: RegExp = /^\.run-[0-9a-f]{16}\.json\.[^/]+\.tmp$/;

/** The run history's file names in a state directory (`-status` lists them). */
export const RUN_FILE: RegExp = /^run-[0-9a-f]{16}\.json$/;

/** One run, as the history keeps it. */
export interface RunOutcome {
  /** When it started (ISO 8601, UTC). */
  started: string;
  /** When it ended. */
  finished: string;
  /** Seconds it took. */
  duration_seconds: number;
  /** Its exit status. */
  exit_code: number;
  /** Its error on one line; null for exit 0. */
  error: string | null;
}

/** What is known of a destination's runs. */
export interface RunHistory {
  /** The destination. */
  destination: string;
  /** Its variant, if any. */
  variant?: string | undefined;
  /** The source of the last run (`report`, `detections`). */
  source: string;
  /** The last run. */
  last: RunOutcome;
  /** The last run that exited 0; null when none did. */
  last_success: RunOutcome | null;
}

const FORMAT = "qualys_connector run history";

/** The history file of `owner` in the state directory `dir`. */
export async function runHistoryPath(dir: string, owner: LedgerOwner): Promise<string> {
  return `${dir}/run-${await stateFileStem(owner)}.json`;
}

/**
 * The history after the run of `record`: it becomes the last run, and the last success when it
 * exited 0 (else the previous last success stays).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { runRecord } from "./run_record.ts";
 * const ok = runRecord({ destination: "dc a", source: "report", started: new Date(0),
 *   finished: new Date(1000), exitCode: 0 });
 * const failed = runRecord({ destination: "dc a", source: "report", started: new Date(5000),
 *   finished: new Date(7000), exitCode: 5, error: "refused" });
 * const history = nextRunHistory(nextRunHistory(undefined, ok), failed);
 * assert.equal(history.last.exit_code, 5);
 * assert.equal(history.last.error, "refused");
 * assert.equal(history.last_success?.finished, "1970-01-01T00:00:01Z");
 * ```
 */
export function nextRunHistory(
  previous: RunHistory | undefined,
  record: RunRecord,
  owner: { variant?: string | undefined } = {},
): RunHistory {
  const last: RunOutcome = {
    started: record.started,
    finished: record.finished,
    duration_seconds: record.duration_seconds,
    exit_code: record.exit_code,
    error: record.error,
  };
  return {
    destination: record.destination,
    ...(owner.variant === undefined ? {} : { variant: owner.variant }),
    source: record.source,
    last,
    last_success: record.exit_code === 0 ? last : previous?.last_success ?? null,
  };
}

/** Options of {@linkcode readRunHistory}: whose history it must be. */
export interface ReadRunHistoryOptions extends LedgerOwner {
  /** Told, naming the file, when it cannot be read or makes no sense. @default {() => {}} */
  onDamaged?: (message: string) => void;
}

/**
 * Reads a history file: undefined when there is none, or when it cannot be read or makes no
 * sense (`onDamaged` says why, naming the file).
 */
export async function readRunHistory(
  path: string,
  options: ReadRunHistoryOptions,
): Promise<RunHistory | undefined> {
  const { onDamaged = () => {} } = options;
  const owner = { destination: options.destination, variant: options.variant };
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    onDamaged(`${path}: cannot read the run history (${fileErrorReason(error)})`);
    return undefined;
  }
  try {
    return parseRunHistory(JSON.parse(text), owner);
  } catch (error) {
    const why = error instanceof SyntaxError ? "not JSON" : (error as Error).message;
    onDamaged(`${path}: the run history is damaged (${why}): read as none`);
    return undefined;
  }
}

/**
 * Checks data read from a history file; `owner` undefined takes whatever destination it names
 * (`-status`, which finds the files by name).
 *
 * @throws {TypeError} When it is not a history (of `owner`).
 */
export function parseRunHistory(data: unknown, owner?: LedgerOwner): RunHistory {
  const d = data as Record<string, unknown> | null;
  if (d?.format !== FORMAT || d.version !== 1) throw new TypeError("not a run history");
  if (typeof d.destination !== "string" || typeof d.source !== "string") {
    throw new TypeError("no destination");
  }
  if (d.variant !== undefined && typeof d.variant !== "string") throw new TypeError("bad variant");
  if (owner && (d.destination !== owner.destination || d.variant !== owner.variant)) {
    throw new TypeError(`it is another destination's (${d.destination})`);
  }
  const last = outcome(d.last);
  if (!last) throw new TypeError("no last run");
  const success = d.last_success === null ? null : outcome(d.last_success);
  if (success === undefined) throw new TypeError("bad last success");
  return {
    destination: d.destination,
    ...(d.variant === undefined ? {} : { variant: d.variant as string }),
    source: d.source,
    last,
    last_success: success,
  };
}

function outcome(data: unknown): RunOutcome | undefined {
  const o = data as Record<string, unknown> | null;
  if (
    typeof o?.started !== "string" || Number.isNaN(Date.parse(o.started)) ||
    typeof o.finished !== "string" || Number.isNaN(Date.parse(o.finished)) ||
    typeof o.duration_seconds !== "number" || !Number.isInteger(o.exit_code) ||
    !(o.error === null || typeof o.error === "string")
  ) return undefined;
  return {
    started: o.started,
    finished: o.finished,
    duration_seconds: o.duration_seconds,
    exit_code: o.exit_code as number,
    error: o.error,
  };
}

/**
 * Writes a history file, atomically, 0600.
 *
 * @throws {LocalIoError} When it cannot be written (the message names it).
 */
export async function writeRunHistory(path: string, history: RunHistory): Promise<void> {
  const text = JSON.stringify({ format: FORMAT, version: 1, ...history }, null, 1);
  let file;
  try {
    file = await createAtomicFile(path);
  } catch (error) {
    throw historyError(path, error);
  }
  try {
    await file.write(new TextEncoder().encode(`${text}\n`));
    await file.commit();
  } catch (error) {
    await file.discard();
    throw historyError(path, error);
  }
}

function historyError(path: string, error: unknown): LocalIoError {
  return new LocalIoError(
    `cannot write the run history: ${fileErrorReason(error)}: check that the state ` +
      "directory is writable and its file system has space",
    { path, cause: error },
  );
}

/** Options of {@linkcode recordRun}. */
export interface RecordRunOptions {
  /** The run's variant. @default {undefined} */
  variant?: string | undefined;
  /** Told when the old history cannot be read (it is replaced). @default {() => {}} */
  onDamaged?: (message: string) => void;
}

/**
 * Adds the run of `record` to its destination's history in the state directory `dir` (read,
 * {@linkcode nextRunHistory}, write); resolves to the new history.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { runRecord } from "./run_record.ts";
 * const dir = await Deno.makeTempDir();
 * const record = runRecord({ destination: "dc a", source: "report", started: new Date(0),
 *   finished: new Date(1000), exitCode: 3, error: "login failed" });
 * await recordRun(dir, record);
 * const history = await readRunHistory(await runHistoryPath(dir, { destination: "dc a" }), {
 *   destination: "dc a",
 * });
 * assert.equal(history?.last.error, "login failed");
 * assert.equal(history?.last_success, null);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @throws {LocalIoError} When it cannot be written.
 */
export async function recordRun(
  dir: string,
  record: RunRecord,
  options: RecordRunOptions = {},
): Promise<RunHistory> {
  const owner = { destination: record.destination, variant: options.variant };
  const path = await runHistoryPath(dir, owner);
  const previous = await readRunHistory(path, { ...owner, onDamaged: options.onDamaged });
  const history = nextRunHistory(previous, record, owner);
  await writeRunHistory(path, history);
  return history;
}
