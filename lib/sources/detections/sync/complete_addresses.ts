/**
 * An incremental run's addresses made whole: the other hosts the state has at the addresses the
 * listed hosts are at, or left, or that are due for the rolling refresh, fetched too; an address
 * a host left (or due), that no listed host is at, cleared.
 *
 * @module
 */

import type { Log } from "../../../log/log.ts";
import type { HostMap } from "../state/host_map.ts";
import type { SyncHosts } from "./sync_hosts.ts";

/** A Qualys host as this run saw it: its address (none: not valid, or outside `ip_ranges`) and
 * its open findings. */
export interface Seen {
  address: string | undefined;
  open: number;
}

/**
 * An incremental run lists only the hosts processed since the checkpoint. A full run merges the
 * hosts that share an address into one block, and a host's old address keeps its results until
 * something clears it. So the other hosts the state has at the addresses the listed hosts are at,
 * or left, are fetched too (their open detections, as a full run asks), for as long as that
 * brings in more addresses (at most 4 rounds); an address a host left and no host listed now is
 * at is cleared.
 */
export async function completeAddresses(
  known: HostMap,
  seen: Map<number, Seen>,
  hosts: SyncHosts,
  io: {
    log: Pick<Log, "info">;
    fetch: (ids: string) => Promise<unknown>;
    /** Addresses to make whole too: the rolling refresh's, and those whose delivery is uncertain. */
    due?: Iterable<string> | undefined;
  },
): Promise<Set<string>> {
  const affected = new Set<string>(), vacated = new Set<string>();
  // As an address a host left: the hosts the state has there fetched, and cleared if none is.
  for (const ip of io.due ?? []) {
    affected.add(ip);
    vacated.add(ip);
  }
  const note = (id: number, s: Seen) => {
    if (s.address !== undefined) affected.add(s.address);
    const old = known.get(id);
    if (old !== undefined && old !== s.address) {
      affected.add(old);
      vacated.add(old);
    }
  };
  for (const [id, s] of seen) note(id, s);
  for (let round = 0; round < 4; round++) {
    const others = known.idsAt(affected).filter((id) => !seen.has(id));
    if (others.length === 0) break;
    io.log.info(
      `${others.length} more host(s) are at the addresses of the hosts processed since the ` +
        `checkpoint, or were${
          round === 0 && io.due !== undefined ? ", or at those due to be sent again" : ""
        }: their open detections are fetched too, so that each address gets all its hosts' ` +
        "findings",
    );
    await io.fetch(others.join(","));
    for (const id of others) {
      let s = seen.get(id);
      if (!s) seen.set(id, s = { address: undefined, open: 0 }); // none open now, or gone
      note(id, s);
    }
  }
  const cleared = new Set<string>();
  for (const ip of vacated) if (!hosts.listed!.has(ip)) cleared.add(ip);
  for (const ip of cleared) hosts.clear(ip);
  return cleared;
}
