/**
 * What a detection run leaves in the sync state: the new state once the destination took
 * everything, or, after a failure once the sink was open, a note of the hosts it may have sent.
 *
 * @module
 */

import { LocalIoError } from "../../../errors.ts";
import { collectGarbage } from "../../../util/memory.ts";
import { AddressSet } from "../state/address_set.ts";
import { HostMap } from "../state/host_map.ts";
import { type SyncState, writeSyncState } from "../state/sync_state.ts";
import type { NextHostMap, SyncLog } from "./collect.ts";

/**
 * Notes a failed attempt once the sink was open: the checkpoint (and filters) stay as they were,
 * the hosts sent are added to the list a full run clears, and the Qualys hosts whose results went
 * to them and that the host map lacks are added to it (so that one purged before the next run is
 * cleared; a host the map has at another address keeps it: the next run lists it again, and
 * clears that address when it has moved). Best effort: the run's own error is what the user sees.
 */
export async function saveAttempt(
  path: string,
  run: {
    destination: string;
    query: string;
    scanner: string;
    old: SyncState | undefined;
    sent: AddressSet;
    hostMap: NextHostMap;
  },
  log: SyncLog,
): Promise<void> {
  const hosts = run.old?.hosts ?? new AddressSet();
  const before = hosts.size;
  for (const ip of run.sent) hosts.add(ip);
  const ids = run.old?.ids ?? new HostMap();
  let added = 0;
  const note = (id: number, ip: string) => {
    if (run.sent.has(ip) && ids.get(id) === undefined) {
      ids.set(id, ip);
      added++;
    }
  };
  if (run.hostMap instanceof HostMap) { for (const [id, ip] of run.hostMap) note(id, ip); }
  else {
    for (const [id, s] of run.hostMap.seen) {
      if (s.address !== undefined && s.open > 0) note(id, s.address);
    }
  }
  if (hosts.size === before && added === 0) return;
  try {
    await writeSyncState(path, {
      destination: run.destination,
      checkpoint: run.old?.checkpoint ?? "",
      query: run.old?.query ?? run.query,
      scanner: run.old ? run.old.scanner : run.scanner,
      hosts,
      ids,
    });
  } catch (error) {
    log.warn(`Could not note the hosts this run sent in ${path}: ${(error as Error).message}`);
  }
}

/**
 * Saves the state once the destination took everything (the sink closed, or the Defense Center
 * processed the data and rejected some commands).
 *
 * @throws {LocalIoError} When it cannot be written (exit 7): the next run repeats this one's
 * changes.
 */
export async function saveState(path: string, state: () => SyncState, log: SyncLog): Promise<void> {
  collectGarbage(); // what sending left: the state's host lists are made and written next
  let saved: SyncState;
  try {
    await writeSyncState(path, saved = state());
  } catch (error) {
    throw new LocalIoError(
      `the destination took every command, but the sync state could not be saved ` +
        `(${(error as Error).message}): the next run repeats this one's changes`,
      { path, cause: error },
    );
  }
  log.debug(`Saved the sync state ${path}: checkpoint ${saved!.checkpoint}`);
}
