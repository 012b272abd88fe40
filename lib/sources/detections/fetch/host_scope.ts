/**
 * The hosts a destination holds results of that Qualys no longer lists in the run's scope
 * (docs/detections.md: "What a run does"). Qualys purges hosts (by hand, by the API, or by an
 * auto-purge rule), and a host can leave `asset_group_ids`: either way it just disappears from
 * the Host List and from Host List Detection, and nothing in an incremental query
 * (`vm_processed_after`) says so (`../shared/reference/qualys_api_versions.md`, "Purged hosts").
 * So every run lists the host IDs in scope (Host List `details=None`, the run's host filters, no
 * `vm_processed_after`); a host of the sync state's host map that is not listed, and that no
 * page of this run listed, is gone: the sync then clears its address unless another listed host
 * is at it (`sync/detection_run.ts`).
 *
 * A list that is not whole must never clear the estate: an answer that fails or is cut ends the
 * run before anything is sent (`fetchParsed`), and so does one that says it was cut (WARNING
 * CODE 1980) without the URL of the rest, or that has no `RESPONSE/DATETIME`. A whole answer
 * that lists no host at all while the destination holds results, or that leaves out a host this
 * run's pages listed, is not trusted either: nothing is taken as gone this run (warned).
 *
 * @module
 */

import { QualysApiError } from "../../../errors.ts";
import { Level, type Log } from "../../../log/log.ts";
import type { QualysClient } from "../../../qualys/client.ts";
import { listHostIds } from "./fetch_detections.ts";
import type { Traffic } from "../../../qualys/fetch_parsed.ts";
import type { HostMap } from "../state/host_map.ts";

/** A host the destination holds results of that Qualys no longer lists. */
export interface GoneHost {
  /** Its Qualys host ID. */
  id: number;
  /** The address its results went to. */
  address: string;
}

/** Whether the ascending `ids` hold `id`. */
export function hasId(ids: Uint32Array, id: number): boolean {
  let lo = 0, hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < ids.length && ids[lo] === id;
}

/**
 * Lists the host IDs in the run's scope: Host List `details=None` with `hostParams` (the run's
 * host filters, without `vm_processed_after`), following the paging WARNING's URL. Resolves to
 * the IDs, ascending.
 *
 * @throws {QualysApiError} When an answer fails, is cut, says it was cut without the URL of the
 * rest, or has no DATETIME (exit 3): nothing is sent.
 * @throws {ReportSyntaxError} When an answer is not the XML expected (exit 4).
 */
export async function listHostScope(
  client: QualysClient,
  options: {
    hostParams: Readonly<Record<string, string>>;
    traffic: Traffic;
    onWarning?: ((message: string) => void) | undefined;
  },
): Promise<Uint32Array> {
  const list = await listHostIds(client, options);
  if (list.cut) {
    throw new QualysApiError(
      `Qualys's list of the hosts in scope says it is not whole (WARNING CODE ${list.cut.code}${
        list.cut.text ? ` "${list.cut.text.slice(0, 200)}"` : ""
      }) but gives no URL for the rest: hosts it leaves out would be taken as purged, so ` +
        "nothing is sent and the checkpoint stays; run again later, and if it recurs, report " +
        "it to Qualys support",
      { code: list.cut.code },
    );
  }
  if (list.missingDatetime) {
    throw new QualysApiError(
      "Qualys's list of the hosts in scope has no RESPONSE/DATETIME: it may not be whole, and " +
        "hosts it leaves out would be taken as purged, so nothing is sent and the checkpoint " +
        "stays; run again later",
    );
  }
  return list.ids;
}

/**
 * The hosts of `known` (the state's host map) that `scope` (ascending IDs) does not list and
 * `listed` (this run's pages) did not either. With `check`, why they are not to be trusted when
 * `scope` may not be whole: it lists no host while `known` has some, or leaves out a host of
 * `known` that the pages listed (a host added meanwhile may be in the pages and not the list).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { HostMap } from "../state/host_map.ts";
 * const known = new HostMap();
 * known.set(7, "10.0.0.7");
 * known.set(8, "10.0.0.8");
 * known.set(9, "10.0.0.9");
 * // host 9 was listed by the pages, host 10 was added since the list was made
 * const { gone } = goneHosts(known, Uint32Array.of(7, 9), new Map([[9, {}], [10, {}]]));
 * assert.deepEqual(gone, [{ id: 8, address: "10.0.0.8" }]);
 * assert.match(goneHosts(known, Uint32Array.of(), new Map()).distrust ?? "", /no host in scope/);
 * ```
 */
export function goneHosts(
  known: HostMap,
  scope: Uint32Array,
  listed: ReadonlyMap<number, unknown>,
  options: { check?: boolean } = {},
): { gone: GoneHost[]; distrust?: string } {
  const gone: GoneHost[] = [];
  if (known.size === 0) return { gone };
  if (options.check === false) {
    for (const [id, address] of known) if (!hasId(scope, id)) gone.push({ id, address });
    return { gone };
  }
  if (scope.length === 0) {
    return {
      gone,
      distrust: `Qualys lists no host in scope while ${known.size} hosts hold results at the ` +
        "destination",
    };
  }
  for (const id of listed.keys()) {
    if (known.get(id) !== undefined && !hasId(scope, id)) {
      return {
        gone,
        distrust: `Qualys's list of the hosts in scope leaves out host ${id}, which its host ` +
          "detection pages list",
      };
    }
  }
  for (const [id, address] of known) {
    if (!hasId(scope, id) && !listed.has(id)) gone.push({ id, address });
  }
  return { gone };
}

/** Where {@linkcode takeGone} and {@linkcode nameGone} report: counts, a list not trusted, and
 * each host at `-level 3`. */
type GoneLog = Pick<Log, "info" | "warn" | "debug" | "enabled">;

/**
 * The hosts of the state's host map (`before`) that the list of the hosts in scope leaves out
 * and an incremental run's pages (`listed`) did not list: logged (how many; `scopeBytes`, what
 * an incremental run's list cost); in an incremental run none when the list is not trusted
 * (warned, see {@linkcode goneHosts}). A full run (no `listed`) only counts them: its own host
 * list made its pages, and it clears every address they do not list.
 */
export function takeGone(
  before: HostMap | undefined,
  scope: Uint32Array,
  listed: ReadonlyMap<number, unknown> | undefined,
  io: { log: GoneLog; scopeBytes: number | undefined },
): GoneHost[] {
  const log = io.log;
  if (!before) return [];
  const { gone, distrust } = goneHosts(before, scope, listed ?? new Map(), {
    check: listed !== undefined,
  });
  if (distrust) {
    log.warn(
      `${distrust}: the list may not be whole, so no host is taken as gone from Qualys this ` +
        "run (the next run looks again)",
    );
    return [];
  }
  log.info(
    `Host List: ${scope.length} hosts in scope${
      io.scopeBytes === undefined ? "" : ` (${io.scopeBytes} bytes)`
    }; ${gone.length} of the hosts with results at the destination are no longer (purged, or ` +
      "out of the filters)",
  );
  return gone;
}

/**
 * Names each host no longer in Qualys at `-level 3`, and what became of its address: in an
 * incremental run (`cleared`: the addresses it cleared) cleared, or given the findings of the
 * other hosts there; in a full run, cleared with every address no page lists.
 */
export function nameGone(
  gone: readonly GoneHost[],
  log: GoneLog,
  run: { cleared?: ReadonlySet<string>; clearCleanHosts?: boolean },
): void {
  if (!log.enabled(Level.Debug)) return;
  for (const g of gone) {
    const what = run.cleared === undefined
      ? "this full run clears what no page lists"
      : !run.cleared.has(g.address)
      ? `${g.address} gets the findings of the other hosts there`
      : run.clearCleanHosts
      ? `its results at ${g.address} are cleared`
      : `its results at ${g.address} stay (clear_clean_hosts: n)`;
    log.debug(
      `Host ${g.id} (${g.address}) is no longer in Qualys (purged, or out of asset_group_ids ` +
        `or ip_ranges): ${what}`,
    );
  }
}
