import assert from "node:assert/strict";
import fc from "fast-check";
import { dayDate, dayNumber, dueForRefresh, refreshSlot } from "../../lib/ledger/refresh.ts";

const address = fc.oneof(fc.ipV4(), fc.ipV6());
const addresses = (max: number) => fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: max });

// Runs nights `from` to `to` (inclusive), one run a night, sending each unchanged address when
// it is due; returns the days each address was sent.
function nights(ips: string[], last: Map<string, number>, days: [number, number], r: number) {
  const sent = new Map(ips.map((ip) => [ip, [] as number[]]));
  for (let today = days[0]; today <= days[1]; today++) {
    for (const ip of ips) {
      if (dueForRefresh(ip, { lastSentDay: last.get(ip)!, today, refreshDays: r })) {
        last.set(ip, today);
        sent.get(ip)!.push(today);
      }
    }
  }
  return sent;
}

Deno.test("dueForRefresh(): over any refreshDays consecutive nightly runs every unchanged address is sent at least once", () => {
  fc.assert(fc.property(
    addresses(40),
    fc.integer({ min: 1, max: 30 }),
    fc.integer({ min: 60, max: 40000 }),
    fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 40, maxLength: 40 }),
    (ips, r, start, ago) => {
      const last = new Map(ips.map((ip, i) => [ip, start - ago[i]!]));
      const sent = nights(ips, last, [start, start + r - 1], r);
      for (const ip of ips) assert.ok(sent.get(ip)!.length > 0, `${ip} not sent`);
    },
  ));
});

Deno.test("dueForRefresh(): after the clock went back (addresses last sent on days still to come), every address is sent within twice refreshDays nightly runs", () => {
  fc.assert(fc.property(
    addresses(40),
    fc.integer({ min: 1, max: 30 }),
    fc.integer({ min: 60, max: 40000 }),
    fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 40, maxLength: 40 }),
    (ips, r, start, ahead) => {
      const last = new Map(ips.map((ip, i) => [ip, start + ahead[i]!]));
      // An address recorded as sent on a later day of its own slot is taken, on that day, as
      // sent that very day: its refresh waits one more cycle.
      const sent = nights(ips, last, [start, start + 2 * r - 1], r);
      for (const ip of ips) assert.ok(sent.get(ip)!.length > 0, `${ip} not sent`);
    },
  ));
});

Deno.test("dueForRefresh(): with nightly runs after a full send, no address goes more than refreshDays days unsent", () => {
  fc.assert(fc.property(
    addresses(40),
    fc.integer({ min: 1, max: 30 }),
    fc.integer({ min: 0, max: 40000 }),
    (ips, r, full) => {
      const last = new Map(ips.map((ip) => [ip, full]));
      const sent = nights(ips, last, [full + 1, full + 3 * r + 2], r);
      for (const ip of ips) {
        const days = [full, ...sent.get(ip)!];
        for (let k = 1; k < days.length; k++) assert.ok(days[k]! - days[k - 1]! <= r);
        assert.ok(full + 3 * r + 2 - days.at(-1)! < r);
      }
    },
  ));
});

Deno.test("dueForRefresh(): a machine that missed nights sends, on its next run, every address last sent refreshDays or more days ago", () => {
  fc.assert(fc.property(
    address,
    fc.integer({ min: 1, max: 30 }),
    fc.integer({ min: 0, max: 40000 }),
    fc.integer({ min: 0, max: 90 }),
    (ip, r, last, gap) => {
      const due = dueForRefresh(ip, { lastSentDay: last, today: last + gap, refreshDays: r });
      if (gap >= r) assert.equal(due, true);
      if (gap === 0) assert.equal(due, false);
      if (gap > 0 && gap < r) assert.equal(due, (last + gap) % r === refreshSlot(ip, r));
    },
  ));
});

Deno.test("dueForRefresh(): on a night after a full send about 1/refreshDays of 10,000 addresses are due (within 6 standard deviations)", () => {
  const n = 10_000;
  const check = (ips: string[], r: number, day: number) => {
    let due = 0;
    for (const ip of ips) {
      if (dueForRefresh(ip, { lastSentDay: day - 1, today: day, refreshDays: r })) due++;
    }
    const p = 1 / r, sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(due - n * p) <= 6 * sd, `${due} of ${n} due, refresh_days ${r}`);
  };
  // Random addresses.
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.oneof(fc.ipV4(), fc.ipV6()), { minLength: n, maxLength: n }),
      fc.integer({ min: 2, max: 30 }),
      fc.integer({ min: 1, max: 40000 }),
      check,
    ),
    { numRuns: 20 },
  );
  // Consecutive addresses, as a scanned network has them.
  const block = Array.from({ length: n }, (_, i) => `10.20.${i >> 8}.${i & 255}`);
  for (const r of [2, 3, 7, 14, 30]) {
    for (let day = 20000; day < 20000 + r; day++) check(block, r, day);
  }
});

Deno.test("dueForRefresh(): refresh_days 0 is always due; bad numbers are refused", () => {
  assert.equal(dueForRefresh("10.0.0.1", { lastSentDay: 5, today: 5, refreshDays: 0 }), true);
  assert.throws(
    () => dueForRefresh("10.0.0.1", { lastSentDay: 5, today: 5, refreshDays: 1.5 }),
    { name: "RangeError", message: "Not a whole number of days of at least 0: 1.5" },
  );
  assert.throws(
    () => dueForRefresh("host", { lastSentDay: 5, today: 6, refreshDays: 7 }),
    { name: "RangeError", message: 'Not an IP address: "host"' },
  );
  assert.throws(() => refreshSlot("10.0.0.1", 0), RangeError);
});

Deno.test("dayNumber() counts local calendar days, one per day across a DST change", () => {
  assert.equal(dayNumber(new Date(1970, 0, 1, 0, 0)), 0);
  assert.equal(dayDate(dayNumber(new Date(2026, 2, 29, 0, 30))), "2026-03-29");
  // Nightly at 00:30 local time from March to November: one day number per night.
  const days = Array.from({ length: 240 }, (_, i) => dayNumber(new Date(2026, 2, 1 + i, 0, 30)));
  for (let i = 1; i < days.length; i++) assert.equal(days[i]! - days[i - 1]!, 1);
});
