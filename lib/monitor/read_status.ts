/**
 * What `-status` reads (issue 20, item 4): every destination known in a state directory, from
 * its files alone, with no network call: the run histories (`run-*.json`), the checkpoints the
 * caller found (the detection source's sync states), and each destination's ledger (hosts and
 * results recorded, and how many the next run refreshes). `formatStatus` prints it.
 *
 * @module
 */

import { fileErrorReason, LocalIoError } from "../errors.ts";
import { LedgerFile } from "../ledger/ledger_file.ts";
import { dayNumber } from "../ledger/refresh.ts";
import { parseRunHistory, RUN_FILE, type RunHistory } from "./run_history.ts";
import type { Log } from "../log/log.ts";
import { type DestinationStatus, formatStatus, NoStateDirectoryError } from "./status.ts";

/** Options of {@linkcode readStatus}. */
export interface ReadStatusOptions {
  /** `refresh_days`, for how many hosts the next run refreshes. */
  refreshDays: number;
  /**
   * The detection source's checkpoint of each destination that has a sync state ("": none
   * yet); each is a destination known here even without a history. @default {new Map()}
   */
  checkpoints?: ReadonlyMap<string, string>;
  /** The time the status is for. */
  now: Date;
  /** Told, naming the file, of a file that cannot be read or makes no sense. @default {() => {}} */
  onDamaged?: (message: string) => void;
}

/**
 * The day the next run is counted on: today, unless a run already ended today (a nightly run
 * comes back tomorrow).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { dayNumber } from "../ledger/refresh.ts";
 * const now = new Date(2026, 7, 1, 10, 0);
 * assert.equal(nextRunDay(now, undefined), dayNumber(now));
 * assert.equal(nextRunDay(now, new Date(2026, 7, 1, 2, 30).toISOString()), dayNumber(now) + 1);
 * ```
 */
export function nextRunDay(now: Date, lastFinished: string | undefined): number {
  const today = dayNumber(now);
  if (lastFinished === undefined) return today;
  return dayNumber(new Date(lastFinished)) >= today ? today + 1 : today;
}

/**
 * Reads what the state directory `dir` knows of each destination, without any network call.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordRun } from "./run_history.ts";
 * import { runRecord } from "./run_record.ts";
 * const dir = await Deno.makeTempDir();
 * await recordRun(dir, runRecord({ destination: "dc a", source: "report", started: new Date(0),
 *   finished: new Date(1000), exitCode: 5, error: "refused" }));
 * const [status] = await readStatus(dir, { refreshDays: 7, now: new Date(5000) });
 * assert.equal(status?.destination, "dc a");
 * assert.equal(status?.history?.last.error, "refused");
 * assert.equal(status?.ledger, undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @throws {NoStateDirectoryError} When `dir` does not exist (exit 2).
 * @throws {LocalIoError} When it is not a directory, or cannot be listed (exit 7).
 */
export async function readStatus(
  dir: string,
  options: ReadStatusOptions,
): Promise<DestinationStatus[]> {
  const { onDamaged = () => {}, now, refreshDays } = options;
  const names = await list(dir);
  const known = new Map<string, DestinationStatus>();
  const keyOf = (destination: string, variant: string | undefined) =>
    JSON.stringify([destination, variant ?? null]);
  for (const name of names.filter((n) => RUN_FILE.test(n)).sort()) {
    const history = await readHistory(`${dir}/${name}`, onDamaged);
    if (!history) continue;
    const { destination, variant } = history;
    known.set(keyOf(destination, variant), { destination, variant, history });
  }
  for (const [destination, checkpoint] of options.checkpoints ?? []) {
    const key = keyOf(destination, undefined);
    known.set(key, { ...known.get(key) ?? { destination }, checkpoint });
  }
  const out: DestinationStatus[] = [];
  for (const status of known.values()) {
    const { destination, variant } = status;
    let file: LedgerFile;
    try {
      file = await LedgerFile.open(dir, { destination, variant, onDamaged });
    } catch (error) {
      onDamaged((error as Error).message);
      out.push(status);
      continue;
    }
    const day = nextRunDay(now, status.history?.last.finished);
    let summary = file.ledger.size === 0
      ? undefined
      : { ...file.ledger.summary({ day, refreshDays }), refreshDays };
    file.close();
    // A file (`destinationKey`'s "csv <path>") gets the whole picture every run: the next run
    // sends every host it holds, the unchanged ones as refreshed.
    if (summary && destination.startsWith("csv ")) {
      summary = { ...summary, due: summary.hosts - summary.uncertain };
    }
    out.push({ ...status, ledger: summary });
  }
  return out;
}

async function list(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new NoStateDirectoryError(dir);
    throw new LocalIoError(
      `cannot list the state directory: ${fileErrorReason(error)}: name a directory the ` +
        "connector can read (state_dir in the plugin YAML)",
      { path: dir, cause: error },
    );
  }
  return names;
}

async function readHistory(
  path: string,
  onDamaged: (message: string) => void,
): Promise<RunHistory | undefined> {
  try {
    return parseRunHistory(JSON.parse(await Deno.readTextFile(path)));
  } catch (error) {
    const why = error instanceof SyntaxError ? "not JSON" : (error as Error).message;
    onDamaged(`${path}: the run history cannot be read (${why}): left out`);
    return undefined;
  }
}

/**
 * The text `-status` prints for a state directory, read now (see {@linkcode readStatus} and
 * `formatStatus`); what cannot be read is warned through `log`.
 *
 * @throws {NoStateDirectoryError} When `place.stateDir` does not exist (exit 2).
 */
export async function statusText(
  place: { stateDir: string; refreshDays: number; checkpoints: ReadonlyMap<string, string> },
  options: { log: Pick<Log, "warn">; now?: Date },
): Promise<string> {
  const now = options.now ?? new Date();
  const destinations = await readStatus(place.stateDir, {
    refreshDays: place.refreshDays,
    checkpoints: place.checkpoints,
    now,
    onDamaged: (m) => options.log.warn(m),
  });
  return formatStatus(place.stateDir, destinations, { now });
}
