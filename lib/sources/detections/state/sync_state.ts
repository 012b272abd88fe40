/**
 * The detection source's sync state for one destination (docs/operations.md: "State files"): the
 * checkpoint (Qualys's clock when the last run that the destination took whole began), a hash of
 * what was asked (account, filters, ip_ranges, scanner name: when it changes, the next run is a
 * full one), the addresses that hold this connector's results there (a full run clears those
 * it no longer lists), and the address each Qualys host's results went to (`host_map.ts`). One JSON file per destination, `sync-<hash of the destination>.json`,
 * 0600, replaced atomically; a file that cannot be read or makes no sense is reported and
 * treated as absent (a full sync), never fatal.
 *
 * @module
 */

import { formatDateTime, parseDateTime } from "../../../qualys/datetime.ts";
import { directoryInTheWay, shortHash, writeAtomic } from "../../../state/state_dir.ts";
import { writeText } from "../../../util/bytes.ts";
import type { AtomicFile } from "../../../util/atomic_file.ts";
import { collectGarbage } from "../../../util/memory.ts";
import { AddressSet } from "./address_set.ts";
import { HostMap } from "./host_map.ts";

const FORMAT = "qualys_connector detection sync state";

/**
 * How far before a checkpoint a run asks from (`vm_processed_after`, and the KnowledgeBase's
 * `last_modified_after`). A checkpoint is a whole second of Qualys's clock, and "after" means
 * strictly after it: a host Qualys processed (or a QID it modified) in that second, after the
 * last run's answers were made, would be in neither run. What is listed twice is harmless: a
 * host is sent as it is now, a QID fetched again.
 */
export const OVERLAP_SECONDS = 300;

/**
 * `datetime` (`YYYY-MM-DDThh:mm:ssZ`) `seconds` earlier, in the same form.
 *
 * @throws {RangeError} When `datetime` is not a real UTC time (checkpoints are checked when read).
 */
export function secondsBefore(datetime: string, seconds: number): string {
  const ms = parseDateTime(datetime);
  if (ms === undefined) throw new RangeError(`Not a UTC time: ${JSON.stringify(datetime)}`);
  return formatDateTime(ms - seconds * 1000);
}

/** What is kept for one destination. */
export interface SyncState {
  /** The destination, as the connector names it (`dc 10.0.0.1:8307`, `csv /var/out.csv`). */
  destination: string;
  /**
   * Qualys's DATETIME at the start of the last run the destination took whole; "" when none did
   * yet (the state then only lists hosts that may hold results: the next run is a full one).
   */
  checkpoint: string;
  /** Hash of the account, the filters and the scanner name of that run. */
  query: string;
  /** The scanner name the results were sent with (undefined: not known). */
  scanner?: string | undefined;
  /** Addresses that hold this connector's results at the destination. */
  hosts: AddressSet;
  /** The address each Qualys host's results went to, for the hosts with results there. */
  ids: HostMap;
}

/** The state file of `destination` in `dir`. */
export async function statePath(dir: string, destination: string): Promise<string> {
  return `${dir}/sync-${await shortHash(destination)}.json`;
}

/**
 * Reads the state of `destination`: undefined when there is none (a first run), or when the file
 * cannot be read or makes no sense (`onProblem` says why; the run is then a full one).
 *
 * @throws {LocalIoError} When a directory stands where the file belongs: no run could save its
 * state there (exit 7, before any call).
 */
export async function readSyncState(
  path: string,
  destination: string,
  onProblem: (message: string) => void,
): Promise<SyncState | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.IsADirectory) {
      throw directoryInTheWay(path, `the sync state of ${destination}`, error);
    }
    onProblem(`${path}: cannot read the sync state (${(error as Error).message})`);
    return undefined;
  }
  try {
    const d = JSON.parse(text);
    if (d?.format !== FORMAT || d.version !== 1) throw new TypeError("not a sync state");
    if (d.destination !== destination) throw new TypeError("it is another destination's");
    if (
      typeof d.checkpoint !== "string" ||
      !(d.checkpoint === "" || parseDateTime(d.checkpoint) !== undefined)
    ) {
      throw new TypeError("bad checkpoint");
    }
    if (typeof d.query !== "string") throw new TypeError("bad query");
    if (d.scanner !== undefined && typeof d.scanner !== "string") {
      throw new TypeError("bad scanner");
    }
    return {
      destination,
      checkpoint: d.checkpoint,
      query: d.query,
      scanner: d.scanner,
      hosts: AddressSet.fromJSON(d.hosts),
      ids: HostMap.fromJSON(d.ids),
    };
  } catch (error) {
    onProblem(
      `${path}: the sync state is damaged (${
        error instanceof SyntaxError ? "not JSON" : (error as Error).message
      })`,
    );
    return undefined;
  }
}

/**
 * Writes the state atomically (0600), a part at a time: the host lists of 100,000 hosts are a few
 * MB of text, which the run should not hold all at once at its end.
 */
export async function writeSyncState(path: string, state: SyncState): Promise<void> {
  const head = JSON.stringify(
    {
      format: FORMAT,
      version: 1,
      destination: state.destination,
      checkpoint: state.checkpoint,
      query: state.query,
      scanner: state.scanner,
      saved: new Date().toISOString(),
    },
    null,
    1,
  );
  const enc = new TextEncoder();
  const file = await writeAtomic(path);
  await file.write(enc.encode(`${head.slice(0, -2)},\n "hosts": `)); // head ends "\n}"
  await writeJson(file, state.hosts);
  // The first list's text (1 to 2 MB for 100,000 hosts) is garbage before the second's is made:
  // the end of an incremental night, its peak, held both.
  collectGarbage();
  await file.write(enc.encode(`,\n "ids": `));
  await writeJson(file, state.ids);
  await file.write(enc.encode("\n}\n"));
  await file.commit();
}

// One value's JSON, its text made and dropped within the call.
async function writeJson(file: AtomicFile, value: unknown): Promise<void> {
  await writeText(file, JSON.stringify(value));
}

/**
 * The destination and checkpoint a sync state file holds, read from its head (the host lists
 * after it are not parsed): for `-status` and the run record. Undefined when there is no such
 * file, or it cannot be read or is not a sync state (a run reports that; these readers do not).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { AddressSet } from "./address_set.ts";
 * import { HostMap } from "./host_map.ts";
 * const dir = await Deno.makeTempDir();
 * const path = await statePath(dir, "dc 10.0.0.1:8307");
 * await writeSyncState(path, { destination: "dc 10.0.0.1:8307", checkpoint: "2026-08-01T02:00:00Z",
 *   query: "q", hosts: new AddressSet(), ids: new HostMap() });
 * assert.deepEqual(await readStateHead(path),
 *   { destination: "dc 10.0.0.1:8307", checkpoint: "2026-08-01T02:00:00Z" });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readStateHead(
  path: string,
): Promise<{ destination: string; checkpoint: string } | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return undefined;
  }
  try {
    const buffer = new Uint8Array(64 << 10);
    let n = 0;
    while (n < buffer.length) {
      const r = await file.read(buffer.subarray(n));
      if (r === null) break;
      n += r;
    }
    const text = new TextDecoder().decode(buffer.subarray(0, n));
    const end = text.indexOf(',\n "hosts": '); // as writeSyncState writes it
    const d = JSON.parse(end < 0 ? await Deno.readTextFile(path) : `${text.slice(0, end)}}`);
    if (
      d?.format !== FORMAT || typeof d.destination !== "string" ||
      typeof d.checkpoint !== "string"
    ) return undefined;
    return { destination: d.destination, checkpoint: d.checkpoint };
  } catch {
    return undefined;
  } finally {
    file.close();
  }
}

/** The sync state files' names in a state directory. */
export const STATE_FILE = /^sync-[0-9a-f]{16}\.json$/;
