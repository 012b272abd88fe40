/**
 * Dates and addresses as Qualys writes and takes them: `2026-03-02T06:00:00Z` date-times (UTC,
 * to the second), dotted IPv4 addresses as unsigned 32-bit integers, canonical IPv6 addresses,
 * and inclusive ranges of IDs or addresses.
 *
 * @module
 */

import type { IdRange } from "./records.ts";

/** Seconds in a day. */
export const DAY = 86400;

const P2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const dayStrings = new Map<number, string>();

/** Formats epoch seconds as Qualys does: `2026-03-02T06:00:00Z`.
 * @param seconds Epoch seconds.
 * @returns The date and time, UTC, to the second.
 */
export function formatDateTime(seconds: number): string {
  const day = Math.floor(seconds / DAY);
  let prefix = dayStrings.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY * 1000).toISOString().slice(0, 11);
    if (dayStrings.size > 20000) dayStrings.clear();
    dayStrings.set(day, prefix);
  }
  const s = seconds - day * DAY;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return `${prefix}${P2[h]}:${P2[m]}:${P2[s % 60]}Z`;
}

/** Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[Z]` (UTC) as Qualys takes dates.
 * @param text The parameter value.
 * @returns Epoch seconds, or undefined when the text is not such a date.
 */
export function parseQualysDate(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})Z?)?$/.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(ms).getUTCDate() !== d) return undefined;
  return ms / 1000;
}

/** Formats an unsigned 32-bit IPv4 address as dotted decimal.
 * @param n The address.
 * @returns For example `10.0.1.7`.
 */
export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Parses a dotted IPv4 address.
 * @param text For example `10.0.1.7`.
 * @returns The address as an unsigned 32-bit integer, or undefined when malformed.
 */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

/** Writes eight 16-bit groups as a canonical (RFC 5952) IPv6 address.
 * @param g The groups.
 * @returns Lower case, leading zeros dropped, the longest run of two or more zero groups as `::`.
 */
export function formatIpv6(g: readonly number[]): string {
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

/** Whether `x` is in one of the inclusive `ranges`. */
export function inRanges(x: number, ranges: readonly IdRange[]): boolean {
  for (const [lo, hi] of ranges) if (x >= lo && x <= hi) return true;
  return false;
}
