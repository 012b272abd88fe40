/**
 * QA helper: a simulated subscription whose hosts can change address (as DHCP, re-IP'd
 * servers, or a second Qualys host record for the same IP do), and a ground truth that unites
 * the open detections of every host per address (what a full sync sends: "two Qualys hosts with
 * one IP are merged", README).
 */

import {
  OPEN_STATUSES,
  type VmdrQuery,
  VmdrSubscription,
  type VmdrSubscriptionOptions,
} from "../../../scripts/sim/qualys/mod.ts";

/** A subscription where `moveIpv4(index, ip)` gives a host another IPv4 address from then on. */
export class MovingSubscription extends VmdrSubscription {
  readonly #moved = new Map<number, string>();

  constructor(options: VmdrSubscriptionOptions) {
    super(options);
  }

  readonly #processed = new Map<number, number>();

  /** From now on, host `index`'s VM data counts as processed at `seconds` (epoch). */
  setProcessed(index: number, seconds: number): void {
    this.#processed.set(index, seconds);
  }

  override hostProcessed(index: number): number {
    return this.#processed.get(index) ?? super.hostProcessed(index);
  }

  /** From now on, host `index` has IPv4 `ip`. */
  moveIpv4(index: number, ip: string): void {
    this.#moved.set(index, ip);
  }

  override host(index: number) {
    const h = super.host(index);
    const ip = this.#moved.get(index);
    if (ip !== undefined) h.ip = ip;
    return h;
  }

  override hostAddress(index: number): string {
    return this.#moved.get(index) ?? super.hostAddress(index);
  }

  /** Hosts (indices) with IPv4, not purged, with open detections, processed after `after` (or
   * not). */
  pick(options: { processedAfter?: number; notProcessedAfter?: number }): number[] {
    const out: number[] = [];
    for (let h = 0; h < this.hostCount; h++) {
      if (super.host(h).ip === null || this.isPurged(h)) continue;
      if (this.detections(h, { statuses: OPEN_STATUSES }).length === 0) continue;
      const p = this.hostProcessed(h);
      if (options.processedAfter !== undefined && !(p > options.processedAfter)) continue;
      if (options.notProcessedAfter !== undefined && p > options.notProcessedAfter) continue;
      out.push(h);
    }
    return out;
  }
}

/** Every open detection (Confirmed, Potential) of every host, keyed by its address, united. */
export function unionTruth(sub: VmdrSubscription, query: VmdrQuery = {}): Set<string> {
  const keys = new Set<string>();
  const q: VmdrQuery = { types: ["Confirmed", "Potential"], ...query, statuses: OPEN_STATUSES };
  for (let h = 0; h < sub.hostCount; h++) {
    if (!sub.hostMatches(h, q)) continue;
    const ip = sub.hostAddress(h);
    sub.forEachDetection(h, q, (d) => {
      const port = d.protocol ? d.port : null;
      keys.add(`${ip}|${d.qid}|${port ?? ""}|${d.protocol ?? ""}`);
    });
  }
  return keys;
}
