/**
 * The detection source's central property: for any sequence of days (with fixes, new hosts,
 * purged hosts, moves) and runs, some of which fail (Qualys failing for good, the Defense Center
 * unreachable or dropping the connection half-way, a damaged sync state, a damaged record of what
 * the Defense Center holds, `-full`), with only what changed sent and the rolling refresh on
 * (`refresh_days` 0 to 7), replaying every command file the destination received, in order,
 * through the host input module's semantics gives exactly the open detections of the day of the
 * last run that the destination took whole.
 *
 * A damaged sync state used to lose which hosts the destination holds results of (a host purged
 * or moved since the last run kept its results at its old address): the record of what the
 * destination holds (the ledger) now says it, so a day may damage the state and purge and move
 * hosts at once.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  dcKeys,
  type Delivery,
  diff,
  replayAll,
  type RunOptions,
  withHarness,
} from "../_harness.ts";
import { MovingSubscription, unionTruth } from "../_moving_sub.ts";

type Step =
  | { kind: "run"; delivery: Delivery; cutAt: number; full: boolean }
  | { kind: "qualys"; where: "detection" | "host" | "kb" }
  | { kind: "cutPage" }
  | { kind: "damage" }
  | { kind: "damageRecord" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("run" as const),
      delivery: fc.constantFrom<Delivery>("ok", "ok", "rejected", "short", "cut", "down"),
      cutAt: fc.double({ min: 0, max: 1, noNaN: true }),
      full: fc.constantFrom(false, false, false, true),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("qualys" as const),
      where: fc.constantFrom("detection" as const, "host" as const, "kb" as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cutPage" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("damage" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("damageRecord" as const) }) },
);

const day = fc.record({
  scanShare: fc.double({ min: 0, max: 0.6, noNaN: true }),
  fixShare: fc.double({ min: 0, max: 0.5, noNaN: true }),
  reopenShare: fc.double({ min: 0, max: 0.5, noNaN: true }),
  allFixedHosts: fc.integer({ min: 0, max: 2 }),
  newHosts: fc.integer({ min: 0, max: 2 }),
  purgedHosts: fc.integer({ min: 0, max: 2 }),
  modifiedQids: fc.integer({ min: 0, max: 5 }),
});
// Hosts scanned that day that Qualys now has at another address: a new one, or another host's.
const moves = fc.array(fc.tuple(fc.nat(), fc.option(fc.nat(), { nil: undefined })), {
  maxLength: 2,
});

Deno.test("detection sync: replaying what the destination received gives the open detections of the last day (fast-check)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: 3, max: 12 }),
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.tuple(day, step, moves), { minLength: 1, maxLength: 5 }),
      fc.constantFrom(0, 1, 3, 7),
      async (seed, pageSize, concurrencyLimit, days, refreshDays) => {
        const sub = new MovingSubscription({ seed, hosts: 24, detectionsPerHost: 5, qids: 60 });
        let fresh = 0;
        await withHarness(
          {
            subscription: sub,
            sim: { concurrencyLimit, keepAlive: "every", pageLatencyMs: 2 },
          },
          async (h) => {
            const expectWhole = () => {
              const got = dcKeys(replayAll(h.delivered));
              const want = unionTruth(sub);
              assert.deepEqual(got, want, diff(got, want));
            };
            const run = (o: RunOptions = {}) => h.run({ pageSize, refreshDays, ...o });
            // the first night: a full run that goes through
            assert.equal((await run()).code, 0);
            expectWhole();
            for (const [changes, s, moved] of days) {
              const yesterday = sub.clock;
              sub.advanceDay(changes);
              const scanned = sub.pick({ processedAfter: yesterday });
              for (const [which, onto] of moved) {
                if (scanned.length === 0) break;
                const host = scanned[which % scanned.length]!;
                sub.moveIpv4(
                  host,
                  onto === undefined
                    ? `10.250.0.${++fresh}`
                    : sub.hostAddress(onto % sub.hostCount),
                );
              }
              const before = await h.checkpoint();
              if (s.kind === "run") {
                const r = await run({ delivery: s.delivery, cutAt: s.cutAt, full: s.full });
                const whole = s.delivery === "ok" || s.delivery === "rejected";
                const code = { ok: 0, rejected: 6, short: 6, cut: 5, down: 5 }[s.delivery];
                assert.equal(r.code, code, String(r.error));
                if (whole) expectWhole();
                // exit 6 moves the checkpoint; what the DC took of each host is not known
                else if (s.delivery !== "short") assert.equal(await h.checkpoint(), before);
              } else if (s.kind === "qualys") {
                const api = s.where;
                for (let i = 1; i <= 5; i++) {
                  h.sim.vmdr!.addFault({ api, kind: "status", status: 503, request: i });
                }
                // 4 tries against 5 faults: a request that a failed run cancelled may reach the
                // simulator late and use one up
                const r = await run({ maxRetries: 3 });
                assert.equal(r.code, 3, String(r.error));
                assert.equal(r.delivered, undefined);
                assert.equal(await h.checkpoint(), before);
              } else if (s.kind === "cutPage") {
                h.sim.vmdr!.addFault({ kind: "cut", request: 1 });
                assert.equal((await run()).code, 0);
                expectWhole();
              } else {
                const damaged = s.kind === "damage" ? /^sync-.*\.json$/ : /^ledger-.*\.bin$/;
                for (const e of Deno.readDirSync(h.stateDir)) {
                  if (damaged.test(e.name)) {
                    await Deno.writeTextFile(`${h.stateDir}/${e.name}`, '{"format":');
                  }
                }
                const r = await run();
                assert.equal(r.code, 0);
                assert.equal(r.summary?.mode, "full");
                if (s.kind === "damageRecord") {
                  assert.match(r.warnings.join("\n"), /ledger-.*\.bin: .*sends every host again/);
                }
                expectWhole();
              }
            }
            // the last night goes through: the destination holds exactly today's open detections
            sub.advanceDay();
            assert.equal((await run()).code, 0);
            expectWhole();
          },
        );
      },
    ),
    {
      numRuns: 20,
      ...(Deno.env.get("QC_SYNC_SEED")
        ? { seed: Number(Deno.env.get("QC_SYNC_SEED")), path: Deno.env.get("QC_SYNC_PATH") }
        : {}),
    },
  );
});
