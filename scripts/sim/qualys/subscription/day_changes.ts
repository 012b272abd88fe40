/**
 * A day passing in the simulated subscription: QIDs added to and modified in the KnowledgeBase,
 * a share of the hosts scanned (findings found again, fixed, re-opened and new), one host's
 * findings all fixed, new hosts, hosts purged, hosts moved to other asset groups. Each kind of
 * change draws from a stream of its own where the others must not depend on it.
 *
 * @module
 */

import { DAY_BIAS, type HostStore, ST_ACTIVE, ST_FIXED, ST_NEW, ST_REOPENED } from "./hosts.ts";
import type { KnowledgeBase } from "./knowledge_base.ts";
import { hash, Rng } from "./random.ts";
import type { Timeline } from "./timeline.ts";

/** How much changes when a day passes; counts are per day, shares are of the current totals. */
export interface DayChanges {
  /** Share of hosts scanned (their VM data processed) that day; changes happen on them. @default {0.1} */
  scanShare?: number;
  /** Chance that an open detection of a scanned host is found fixed. @default {0.05} */
  fixShare?: number;
  /** Chance that a Fixed detection of a scanned host is found again (Re-Opened). @default {0.05} */
  reopenShare?: number;
  /** Mean new detections per scanned host. @default {0.3} */
  newDetectionsPerHost?: number;
  /** Hosts (scanned that day) whose open findings are all fixed. @default {1} */
  allFixedHosts?: number;
  /** Hosts added (their detections are all New). @default {max(1, 0.2 % of the hosts)} */
  newHosts?: number;
  /**
   * Hosts purged that day (by hand, by the API, or by an auto-purge rule for hosts not scanned
   * for N days: `../shared/reference/qualys_api_versions.md`, "Purged hosts"): from then on in
   * no answer, and nothing in an incremental query says they left. Drawn from a random stream
   * of their own, so the other changes of a day are the same whatever this is.
   * @default {max(1, 0.1 % of the hosts)}
   */
  purgedHosts?: number;
  /**
   * Hosts moved to other asset groups that day (an administrator's change: their VM data is not
   * processed again, so `vm_processed_after` does not list them). @default {0}
   */
  regroupedHosts?: number;
  /** QIDs added to the KnowledgeBase (some are detected the same day). @default {max(1, 0.05 % of the QIDs)} */
  newQids?: number;
  /** KnowledgeBase entries modified (their LAST_SERVICE_MODIFICATION_DATETIME moves). @default {max(1, 0.1 % of the QIDs)} */
  modifiedQids?: number;
}

/** What {@linkcode VmdrSubscription.advanceDay} changed. */
export interface DayReport {
  /** The new simulated day. */
  day: number;
  /** Its clock, epoch seconds. */
  clock: number;
  /** Hosts scanned (their VM data processed) that day. */
  scannedHosts: number;
  /** Detections that became Fixed (including those of the all-fixed hosts). */
  fixed: number;
  /** Detections that became Re-Opened. */
  reopened: number;
  /** New detections, on existing and new hosts. */
  newDetections: number;
  /** IDs of the hosts whose findings were all fixed. */
  allFixedHostIds: number[];
  /** IDs of the hosts added. */
  newHostIds: number[];
  /** IDs of the hosts purged. */
  purgedHostIds: number[];
  /** IDs of the hosts moved to other asset groups. */
  regroupedHostIds: number[];
  /** QIDs added to the KnowledgeBase. */
  newQids: number[];
  /** QIDs whose KnowledgeBase entry was modified. */
  modifiedQids: number[];
}

/** What a day changes: the subscription's parts, and its sizes at day 0 (the default rates'). */
export interface DayContext {
  /** The clock. */
  time: Timeline;
  /** The KnowledgeBase. */
  kb: KnowledgeBase;
  /** The hosts and their detections. */
  hosts: HostStore;
  /** Hosts and QIDs at day 0. */
  sizes: { hosts: number; qids: number };
}

/** Moves the subscription `s` to `day.day` (the day after its current one) with the rates
 * `day.changes`: hosts are scanned, detections fixed, re-opened and found, hosts added, all of
 * one host's findings fixed, QIDs added to and modified in the KnowledgeBase. Deterministic:
 * day N of a seed is always the same.
 * @param s The subscription's parts.
 * @param day The new day and its rates.
 * @returns What changed.
 */
export function advanceDay(
  s: DayContext,
  day: { day: number; changes: DayChanges },
): DayReport {
  const { time, kb, hosts, sizes } = s;
  const d = day.day, ch = day.changes;
  const rng = new Rng(hash(time.seed, 0xda7, d));
  const hostsBefore = hosts.count;
  const report: DayReport = {
    day: d,
    clock: time.clockOf(d),
    scannedHosts: 0,
    fixed: 0,
    reopened: 0,
    newDetections: 0,
    allFixedHostIds: [],
    newHostIds: [],
    purgedHostIds: [],
    regroupedHostIds: [],
    newQids: [],
    modifiedQids: [],
  };

  // KnowledgeBase first, so that today's new QIDs can be detected today.
  kb.fresh = [];
  const newQids = ch.newQids ?? Math.max(1, Math.round(sizes.qids * 0.0005));
  for (let i = 0; i < newQids; i++) {
    const k = kb.add(rng, d);
    if (k >= 0) {
      kb.fresh.push(k);
      kb.byRank.push(k);
      report.newQids.push(kb.kQid[k]!);
    }
  }
  const modified = ch.modifiedQids ?? Math.max(1, Math.round(sizes.qids * 0.001));
  const modSet = new Set<number>();
  for (let i = 0; i < modified * 4 && modSet.size < Math.min(modified, kb.size); i++) {
    const k = rng.int(kb.size);
    if (kb.kMissing[k] || kb.fresh.includes(k) || modSet.has(k)) continue;
    modSet.add(k);
    kb.kRev[k]!++;
    kb.kMod[k] = time.clockOf(d) - 900 - hash(time.seed, k, d, 3) % 80000;
  }
  report.modifiedQids = [...modSet].map((k) => kb.kQid[k]!).sort((a, b) => a - b);

  // Which hosts are scanned today: a share of them, plus the ones whose findings are all fixed.
  const scanned = new Set<number>();
  const scans = Math.round((ch.scanShare ?? 0.1) * hostsBefore);
  for (let tries = 0; scanned.size < scans && tries < scans * 20; tries++) {
    const h = rng.int(hostsBefore);
    if (!hosts.hGone[h]) scanned.add(h);
  }
  const allFixed = new Set<number>();
  const wantAllFixed = ch.allFixedHosts ?? 1;
  for (let tries = 0; allFixed.size < wantAllFixed && tries < 50 * wantAllFixed + 50; tries++) {
    const h = rng.int(hostsBefore);
    if (!allFixed.has(h) && !hosts.hGone[h] && hosts.hasOpen(h)) allFixed.add(h);
  }
  for (const h of allFixed) scanned.add(h);

  // Scan them: what is still there is found again, some findings are fixed, some fixed ones
  // come back, and new ones appear.
  const fixShare = ch.fixShare ?? 0.05, reopenShare = ch.reopenShare ?? 0.05;
  const perHost = ch.newDetectionsPerHost ?? 0.3;
  for (const h of [...scanned].sort((a, b) => a - b)) {
    const s = hosts.hStart[h]!, e = s + hosts.hCount[h]!;
    const fixAll = allFixed.has(h);
    for (let det = s; det < e; det++) {
      const st = hosts.dFlags[det]! & 3;
      if (st !== ST_FIXED) {
        if (fixAll || rng.chance(fixShare)) {
          hosts.setStatus(det, ST_FIXED);
          hosts.dFixed[det] = d + DAY_BIAS;
          hosts.dUpdate[det] = d + DAY_BIAS;
          report.fixed++;
        } else {
          if (st === ST_NEW || st === ST_REOPENED) {
            hosts.setStatus(det, ST_ACTIVE);
            hosts.dUpdate[det] = d + DAY_BIAS;
          }
          hosts.dFound[det] = d + DAY_BIAS;
          hosts.dTimes[det] = Math.min(65535, hosts.dTimes[det]! + 1);
        }
      } else if (!fixAll && rng.chance(reopenShare)) {
        hosts.setStatus(det, ST_REOPENED);
        hosts.dFound[det] = d + DAY_BIAS;
        hosts.dUpdate[det] = d + DAY_BIAS;
        hosts.dTimes[det] = Math.min(65535, hosts.dTimes[det]! + 1);
        report.reopened++;
      }
    }
    hosts.hScan[h] = d;
    if (fixAll) continue;
    const adds = Math.floor(perHost) + (rng.chance(perHost % 1) ? 1 : 0);
    for (let i = 0; i < adds; i++) if (hosts.addDetection(h, rng, d)) report.newDetections++;
  }
  report.allFixedHostIds = [...allFixed].sort((a, b) => a - b).map((h) => hosts.hId[h]!);

  const newHosts = ch.newHosts ?? Math.max(1, Math.round(sizes.hosts * 0.002));
  for (let i = 0; i < newHosts; i++) {
    const h = hosts.addHost(d, false);
    report.newHostIds.push(hosts.hId[h]!);
    report.newDetections += hosts.hCount[h]!;
  }
  report.scannedHosts = scanned.size + newHosts;

  // Purges and asset group changes last, from streams of their own: the day's other changes
  // are the same whatever they are. Today's new hosts are neither purged nor moved.
  const purges = ch.purgedHosts ?? Math.max(1, Math.round(sizes.hosts * 0.001));
  const prng = new Rng(hash(time.seed, 0x9a7e, d));
  for (let i = 0, tries = 0; i < purges && tries < 50 * purges + 50; tries++) {
    const h = prng.int(hostsBefore);
    if (hosts.hGone[h]) continue;
    hosts.hGone[h] = 1;
    report.purgedHostIds.push(hosts.hId[h]!);
    i++;
  }
  report.purgedHostIds.sort((a, b) => a - b);
  const regroups = ch.regroupedHosts ?? 0;
  const grng = new Rng(hash(time.seed, 0xa6, d));
  const moved = new Set<number>();
  for (let tries = 0; moved.size < regroups && tries < 50 * regroups + 50; tries++) {
    const h = grng.int(hostsBefore);
    if (hosts.hGone[h] || moved.has(h)) continue;
    moved.add(h);
    let ag = hosts.hAg[h]!;
    for (let b = 0; b < 8 && ag === hosts.hAg[h]; b++) ag = 1 << grng.int(8);
    hosts.hAg[h] = ag;
  }
  report.regroupedHostIds = [...moved].sort((a, b) => a - b).map((h) => hosts.hId[h]!);
  return report;
}
