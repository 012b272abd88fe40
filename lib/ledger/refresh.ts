/**
 * The rolling refresh (issue 20, item 2): an unchanged host is sent again now and then, so that
 * a Defense Center that lost hosts (its discovery policy's host timeout, a restore) is whole
 * again within `refresh_days`, without a night that resends everything. Each address has a slot,
 * a day of the cycle chosen by a hash of the address; it is due on the days of its slot, and
 * whenever it went `refresh_days` or more days unsent (a machine that missed nights catches up).
 * On a night after a full send, about 1/`refresh_days` of the hosts are due.
 *
 * Days are numbered as {@linkcode dayNumber} counts them: local calendar days, so a cron line at
 * a fixed local time gets one day per run across daylight-saving changes. Nothing here reads
 * the clock: the caller passes the day.
 *
 * @module
 */

import { hashKey, KEY_WORDS, parseKey } from "./_address.ts";

const MS_PER_DAY = 86_400_000;

/**
 * The number of the local calendar day of `date`: days since 1970-01-01 (local time), as the
 * ledger records them.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(dayNumber(new Date(1970, 0, 2, 23, 59)), 1);
 * assert.equal(dayNumber(new Date(2026, 7, 1, 2, 0)), 20666);
 * ```
 */
export function dayNumber(date: Date): number {
  return Math.round(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) / MS_PER_DAY);
}

/**
 * The calendar date (`YYYY-MM-DD`) of day `day`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(dayDate(20666), "2026-08-01");
 * ```
 */
export function dayDate(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

const scratch = new Uint32Array(KEY_WORDS);

/**
 * The day of the cycle (0 to `refreshDays` - 1) on which `address` is refreshed: a hash of the
 * address (as the ledger keys it: `::ffff:10.0.0.1` is `10.0.0.1`), modulo `refreshDays`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const slot = refreshSlot("10.0.0.1", 7);
 * assert.ok(slot >= 0 && slot < 7);
 * assert.equal(refreshSlot("::ffff:10.0.0.1", 7), slot);
 * ```
 *
 * @throws {RangeError} When `address` is not an IP address or `refreshDays` not a whole number
 * of days of at least 1.
 */
export function refreshSlot(address: string, refreshDays: number): number {
  checkDays(refreshDays, 1);
  if (!parseKey(address, scratch)) throw new RangeError(`Not an IP address: "${address}"`);
  return slotOfKey(scratch, 0, refreshDays);
}

// The slot of the key at `key[at]` (see refreshSlot).
function slotOfKey(key: Uint32Array, at: number, refreshDays: number): number {
  return hashKey(key, at) % refreshDays;
}

/** What {@linkcode dueForRefresh} needs to know of an address. */
export interface RefreshOptions {
  /** The day it was last sent ({@linkcode dayNumber}). */
  lastSentDay: number;
  /** The day of this run. */
  today: number;
  /** `refresh_days`: 0 resends every host every run. */
  refreshDays: number;
}

/**
 * Whether an unchanged `address` is to be sent again this run: always when `refreshDays` is 0;
 * else on the days whose number modulo `refreshDays` is its slot (unless it was sent that very
 * day), and whenever it was last sent `refreshDays` or more days ago.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const slot = refreshSlot("10.0.0.1", 7);
 * const slotDay = 20664 - (20664 % 7) + slot; // a day of its slot
 * assert.equal(dueForRefresh("10.0.0.1", { lastSentDay: slotDay - 3, today: slotDay, refreshDays: 7 }), true);
 * assert.equal(dueForRefresh("10.0.0.1", { lastSentDay: slotDay, today: slotDay, refreshDays: 7 }), false);
 * assert.equal(dueForRefresh("10.0.0.1", { lastSentDay: slotDay, today: slotDay + 6, refreshDays: 7 }), false);
 * assert.equal(dueForRefresh("10.0.0.1", { lastSentDay: slotDay - 8, today: slotDay - 1, refreshDays: 7 }), true);
 * assert.equal(dueForRefresh("10.0.0.1", { lastSentDay: slotDay, today: slotDay, refreshDays: 0 }), true);
 * ```
 *
 * @throws {RangeError} When `address` is not an IP address, or a day or `refreshDays` is not a
 * whole number of at least 0.
 */
export function dueForRefresh(address: string, options: RefreshOptions): boolean {
  const { lastSentDay, today, refreshDays } = options;
  checkDays(refreshDays, 0);
  checkDays(lastSentDay, 0);
  checkDays(today, 0);
  if (refreshDays === 0) return true;
  if (!parseKey(address, scratch)) throw new RangeError(`Not an IP address: "${address}"`);
  return dueKey(scratch, 0, options);
}

/** {@linkcode dueForRefresh} for the key at `key[at]`, arguments unchecked. */
export function dueKey(key: Uint32Array, at: number, options: RefreshOptions): boolean {
  const { lastSentDay, today, refreshDays } = options;
  if (refreshDays === 0 || today - lastSentDay >= refreshDays) return true;
  return lastSentDay !== today && today % refreshDays === slotOfKey(key, at, refreshDays);
}

function checkDays(n: number, min: number): void {
  if (!Number.isInteger(n) || n < min) {
    throw new RangeError(`Not a whole number of days of at least ${min}: ${n}`);
  }
}
