/**
 * Hosts that change address between runs. An incremental run must leave the destination as
 * a full run would: the old address loses the host's results, and an address two Qualys hosts
 * share keeps both hosts' open findings (a full run merges them).
 */

import assert from "node:assert/strict";
import { dcKeys, diff, replayAll, withHarness } from "../_harness.ts";
import { MovingSubscription, unionTruth } from "../_moving_sub.ts";

const MODEL = { seed: 7, hosts: 40, detectionsPerHost: 6, qids: 80 };

Deno.test("detection sync: a host that moves to a new address: an incremental run clears the old one", async () => {
  const sub = new MovingSubscription(MODEL);
  await withHarness({ subscription: sub }, async (h) => {
    const first = await h.run();
    assert.equal(first.code, 0, String(first.error));
    const before = sub.clock;
    sub.advanceDay({ allFixedHosts: 0 });
    // a host scanned today that Qualys now sees at another address (DHCP, a re-IP'd server)
    const [moved] = sub.pick({ processedAfter: before });
    assert.ok(moved !== undefined, "no host was scanned today");
    const oldIp = sub.hostAddress(moved);
    sub.moveIpv4(moved, "10.250.0.1");
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "incremental");
    const dc = dcKeys(replayAll(h.delivered));
    const stale = [...dc].filter((k) => k.startsWith(`${oldIp}|`));
    assert.deepEqual(
      stale,
      [],
      `${oldIp} (the host's old address, no Qualys host has it now) keeps ${stale.length} results`,
    );
    assert.deepEqual(dc, unionTruth(sub), diff(dc, unionTruth(sub)));
  });
});

Deno.test("detection sync: a host that takes the address of another, unprocessed host: the address gets both hosts' findings", async () => {
  const sub = new MovingSubscription(MODEL);
  await withHarness({ subscription: sub }, async (h) => {
    const first = await h.run();
    assert.equal(first.code, 0, String(first.error));
    const before = sub.clock;
    sub.advanceDay({ allFixedHosts: 0 });
    const [scanned] = sub.pick({ processedAfter: before });
    const [idle] = sub.pick({ notProcessedAfter: before });
    assert.ok(scanned !== undefined && idle !== undefined);
    const shared = sub.hostAddress(idle);
    // Qualys now has two host records at `shared`: the idle one, and the one scanned today
    sub.moveIpv4(scanned, shared);
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    const dc = dcKeys(replayAll(h.delivered));
    const expected = unionTruth(sub);
    const lost = [...expected].filter((k) => k.startsWith(`${shared}|`) && !dc.has(k));
    assert.deepEqual(lost, [], `open findings of the idle host at ${shared} lost on the DC`);
    assert.deepEqual(dc, expected, diff(dc, expected));
  });
});

Deno.test("detection sync: -full after the same address change leaves the DC exactly right", async () => {
  const sub = new MovingSubscription(MODEL);
  await withHarness({ subscription: sub }, async (h) => {
    assert.equal((await h.run()).code, 0);
    const before = sub.clock;
    sub.advanceDay({ allFixedHosts: 0 });
    const [scanned] = sub.pick({ processedAfter: before });
    const [idle] = sub.pick({ notProcessedAfter: before });
    sub.moveIpv4(scanned!, sub.hostAddress(idle!));
    const r = await h.run({ full: true });
    assert.equal(r.code, 0, String(r.error));
    const dc = dcKeys(replayAll(h.delivered));
    assert.deepEqual(dc, unionTruth(sub), diff(dc, unionTruth(sub)));
  });
});

Deno.test("detection sync: two hosts at one address, one all fixed: the clear does not take the other's open findings", async () => {
  const sub = new MovingSubscription(MODEL);
  await withHarness({ subscription: sub }, async (h) => {
    assert.equal((await h.run()).code, 0);
    const before = sub.clock;
    const day = sub.advanceDay({ allFixedHosts: 1 });
    const fixedHost = sub.hostIndexById(day.allFixedHostIds[0]!);
    const [idle] = sub.pick({ notProcessedAfter: before });
    assert.ok(idle !== undefined);
    const shared = sub.hostAddress(idle);
    sub.moveIpv4(fixedHost, shared);
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "incremental");
    assert.match(r.infos.join("\n"), /1 more host\(s\) are at the addresses/);
    const dc = dcKeys(replayAll(h.delivered));
    const expected = unionTruth(sub);
    assert.ok([...expected].some((k) => k.startsWith(`${shared}|`)));
    assert.deepEqual(dc, expected, diff(dc, expected));
    // and the night after, with nothing changed, the map stays right
    sub.advanceDay({ scanShare: 0, fixShare: 0, allFixedHosts: 0, newHosts: 0 });
    assert.equal((await h.run()).code, 0);
    assert.deepEqual(dcKeys(replayAll(h.delivered)), unionTruth(sub));
  });
});
