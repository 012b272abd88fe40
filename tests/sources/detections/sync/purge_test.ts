/**
 * Hosts purged from Qualys, or taken out of `asset_group_ids`, leave the Host List and Host List
 * Detection without a word: every run lists the host IDs in scope, and an incremental run clears
 * the addresses of the hosts the destination holds results of that are gone (unless another
 * listed host is there). A list that is not whole never clears anything.
 */

import assert from "node:assert/strict";
import { QualysApiError } from "../../../../lib/errors.ts";
import { HostMap } from "../../../../lib/sources/detections/state/host_map.ts";
import { goneHosts } from "../../../../lib/sources/detections/fetch/host_scope.ts";
import { OPEN_STATUSES, type SimLogEntry } from "../../../../scripts/sim/qualys/mod.ts";
import { dcKeys, diff, type Harness, replayAll, truth, withHarness } from "../_harness.ts";
import { MovingSubscription, unionTruth } from "../_moving_sub.ts";

/** A host with IPv4 and open detections that the day did not process (so no page lists it). */
function quietHost(h: Harness, skip: readonly number[] = []): number {
  const sub = h.sub as MovingSubscription;
  const yesterday = sub.clock - 86400;
  const found = sub.pick({ notProcessedAfter: yesterday }).find((x) => !skip.includes(x));
  assert.ok(found !== undefined, "a quiet host");
  return found;
}

/** The DC's keys at one address. */
function keysAt(keys: Set<string>, ip: string): string[] {
  return [...keys].filter((k) => k.startsWith(`${ip}|`));
}

const hostListCalls = (log: SimLogEntry[]) => log.filter((e) => e.api === "host");

const quiet = { purgedHosts: 0, scanShare: 0.1, allFixedHosts: 0 };

function withPurges(body: (h: Harness, sub: MovingSubscription) => Promise<void>) {
  const sub = new MovingSubscription({
    seed: 17,
    hosts: 40,
    detectionsPerHost: 5,
    qids: 80,
    changes: { purgedHosts: 0 },
  });
  return withHarness({ subscription: sub }, (h) => body(h, sub));
}

Deno.test("detection sync: an incremental run clears a host purged from Qualys, counts it, names it at -level 3, and forgets it", async () => {
  await withPurges(async (h, sub) => {
    assert.equal((await h.run()).code, 0);
    sub.advanceDay(quiet);
    const x = quietHost(h);
    const ip = sub.hostAddress(x), id = sub.hostId(x);
    assert.ok(keysAt(dcKeys(replayAll(h.delivered)), ip).length > 0);
    sub.purge(x);
    const before = h.sim.log.length;
    const r = await h.run({ debug: true });
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "incremental");
    assert.equal(r.summary?.hostsGone, 1);
    // its address: DeleteScanResult and ScanUpdate, nothing else
    assert.match(
      r.delivered!,
      new RegExp(`^DeleteScanResult,${ip},"QualysGuard"\nScanUpdate$`, "m"),
    );
    assert.doesNotMatch(r.delivered!, new RegExp(`^AddScanResult,${ip},`, "m"));
    const got = dcKeys(replayAll(h.delivered)), want = truth(sub);
    assert.deepEqual(got, want, diff(got, want));
    assert.match(r.infos.join("\n"), /Summary: .*; 1 host no longer in Qualys, cleared/);
    assert.ok(
      r.debugs.some((m) =>
        m.startsWith(`Host ${id} (${ip}) is no longer in Qualys`) &&
        m.endsWith(`its results at ${ip} are cleared`)
      ),
      r.debugs.filter((m) => m.startsWith("Host ")).join("\n"),
    );
    // the list of the hosts in scope: the run's host filters, no vm_processed_after
    const lists = hostListCalls(h.sim.log.slice(before));
    assert.equal(lists.length, 2);
    assert.deepEqual(
      lists.map((e) => [e.params.details, e.params.vm_processed_after !== undefined]),
      [["None", false], ["None", true]],
    );
    // it left the state: the next run does not count it again
    sub.advanceDay(quiet);
    const next = await h.run();
    assert.equal(next.summary?.hostsGone, 0);
    assert.doesNotMatch(next.delivered!, new RegExp(`^DeleteScanResult,${ip},`, "m"));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(sub));
  });
});

Deno.test("detection sync: a purged host at the address of a listed host: the address keeps that host's findings, not the purged one's", async () => {
  await withPurges(async (h, sub) => {
    assert.equal((await h.run()).code, 0);
    // day 1: host b moves onto a's address (b is processed): the address gets both hosts' findings
    sub.advanceDay(quiet);
    const a = quietHost(h);
    const b = quietHost(h, [a]);
    sub.moveIpv4(b, sub.hostAddress(a));
    sub.setProcessed(b, sub.clock - 600);
    assert.equal((await h.run()).code, 0);
    assert.deepEqual(dcKeys(replayAll(h.delivered)), unionTruth(sub));
    // day 2: a is purged; nothing processed b again
    sub.advanceDay(quiet);
    sub.purge(a);
    const ip = sub.hostAddress(b);
    const r = await h.run({ debug: true });
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.hostsGone, 1);
    assert.doesNotMatch(r.delivered!, new RegExp(`^DeleteScanResult,${ip},`, "m"));
    assert.match(r.delivered!, new RegExp(`^AddScanResult,${ip},`, "m"));
    const got = dcKeys(replayAll(h.delivered)), want = unionTruth(sub);
    assert.deepEqual(got, want, diff(got, want));
    const bOnly = sub.detections(b, { statuses: OPEN_STATUSES }).length;
    assert.equal(keysAt(got, ip).length, bOnly);
    assert.ok(r.debugs.some((m) => m.includes(`${ip} gets the findings of the other hosts`)));
  });
});

Deno.test("detection sync: a host taken out of asset_group_ids is cleared by an incremental run", async () => {
  const sub = new MovingSubscription({
    seed: 23,
    hosts: 60,
    detectionsPerHost: 5,
    qids: 80,
    changes: { purgedHosts: 0 },
  });
  const group = sub.assetGroups[1]!.id, other = sub.assetGroups[3]!.id;
  await withHarness({ subscription: sub, yaml: `asset_group_ids: ${group}\n` }, async (h) => {
    assert.equal((await h.run()).code, 0);
    const inGroup = () => truth(sub, { agIds: [group] });
    assert.deepEqual(dcKeys(replayAll(h.delivered)), inGroup());
    sub.advanceDay(quiet);
    const yesterday = sub.clock - 86400;
    const x = sub.pick({ notProcessedAfter: yesterday }).find((i) =>
      sub.host(i).agIds.includes(group)
    )!;
    assert.ok(x !== undefined);
    const ip = sub.hostAddress(x);
    sub.setAssetGroups(x, [other]);
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.hostsGone, 1);
    assert.match(r.delivered!, new RegExp(`^DeleteScanResult,${ip},"QualysGuard"$`, "m"));
    const got = dcKeys(replayAll(h.delivered)), want = inGroup();
    assert.deepEqual(got, want, diff(got, want));
    // the list of the hosts in scope had the run's filter
    const scope = h.sim.log.filter((e) =>
      e.api === "host" && e.params.vm_processed_after === undefined
    );
    assert.ok(scope.length > 0 && scope.every((e) => e.params.ag_ids === String(group)));
  });
});

Deno.test("detection sync: a list of the hosts in scope that fails, is cut, or says it was cut without its URL ends the run (exit 3) before anything is cleared", async () => {
  await withPurges(async (h, sub) => {
    assert.equal((await h.run()).code, 0);
    sub.advanceDay(quiet);
    const x = quietHost(h);
    const ip = sub.hostAddress(x);
    sub.purge(x);
    const dcBefore = dcKeys(replayAll(h.delivered));
    const checkpoint = await h.checkpoint();
    const expectNothing = async (r: Awaited<ReturnType<Harness["run"]>>, what: string) => {
      assert.equal(r.code, 3, `${what}: ${r.error}`);
      assert.ok(r.error instanceof QualysApiError, what);
      assert.equal(r.delivered, undefined, what);
      assert.equal(await h.checkpoint(), checkpoint, what);
      assert.deepEqual(dcKeys(replayAll(h.delivered)), dcBefore, what);
      assert.ok(keysAt(dcBefore, ip).length > 0);
    };
    // fails: HTTP 503 beyond the retries (an empty list is never assumed); 4 tries, 4 faults
    for (let i = 1; i <= 4; i++) {
      h.sim.vmdr!.addFault({ api: "host", kind: "status", status: 503, request: i });
    }
    await expectNothing(await h.run({ maxRetries: 3 }), "503");
    await h.sim.idle();
    // a Qualys error instead of the list
    h.sim.vmdr!.addFault({
      api: "host",
      kind: "simpleReturn",
      request: 1,
      code: "1905",
      text: "Invalid value for ag_ids",
      status: 400,
    });
    await expectNothing(await h.run(), "SIMPLE_RETURN");
    // cut mid-list every time (a partial list is never kept)
    for (let i = 1; i <= 5; i++) {
      h.sim.vmdr!.addFault({ api: "host", kind: "cut", request: i, cutAfter: 3 });
    }
    const cut = await h.run();
    await expectNothing(cut, "cut");
    assert.match((cut.error as Error).message, /gave up after 5 downloads/);
    await h.sim.idle();
    // a 1980 WARNING without the URL of the rest
    h.sim.vmdr!.addFault({ api: "host", kind: "noUrl", request: 1, cutAfter: 3 });
    const noUrl = await h.run();
    await expectNothing(noUrl, "noUrl");
    assert.match((noUrl.error as Error).message, /not whole .*CODE 1980.* no URL for the rest/);
    // cut once: fetched again, and the run goes through
    h.sim.vmdr!.addFault({ api: "host", kind: "cut", request: 1, cutAfter: 3 });
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.hostsGone, 1);
    assert.ok(r.warnings.some((w) => /fetching it again/.test(w)), r.warnings.join("\n"));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(sub));
  });
});

Deno.test("detection sync: a whole list of the hosts in scope that names none clears nothing (warned); the next run does", async () => {
  await withPurges(async (h, sub) => {
    assert.equal((await h.run()).code, 0);
    sub.advanceDay(quiet);
    const x = quietHost(h);
    const ip = sub.hostAddress(x);
    const held = keysAt(dcKeys(replayAll(h.delivered)), ip);
    sub.purge(x);
    h.sim.vmdr!.addFault({ api: "host", kind: "noHosts", request: 1 });
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.hostsGone, 0);
    assert.ok(
      r.warnings.some((w) => /lists no host in scope while \d+ hosts hold results/.test(w)),
      r.warnings.join("\n"),
    );
    assert.doesNotMatch(r.delivered!, /^DeleteScanResult/m);
    // the day's changes went through; only the purge waits
    const got = dcKeys(replayAll(h.delivered));
    assert.deepEqual(got, new Set([...truth(sub), ...held]), diff(got, truth(sub)));
    sub.advanceDay(quiet);
    const next = await h.run();
    assert.equal(next.summary?.hostsGone, 1);
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(sub));
  });
});

Deno.test("detection sync: a full run counts the hosts no longer in Qualys, and clears them as it clears every address it no longer lists", async () => {
  await withPurges(async (h, sub) => {
    assert.equal((await h.run()).code, 0);
    sub.advanceDay(quiet);
    const x = quietHost(h);
    const ip = sub.hostAddress(x);
    sub.purge(x);
    const before = h.sim.log.length;
    const r = await h.run({ full: true });
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "full");
    assert.equal(r.summary?.hostsGone, 1);
    assert.match(r.delivered!, new RegExp(`^DeleteScanResult,${ip},"QualysGuard"$`, "m"));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(sub));
    // one Host List call: its own list is the list of the hosts in scope
    assert.equal(hostListCalls(h.sim.log.slice(before)).length, 1);
  });
});

Deno.test("goneHosts: a list that leaves out a known host the pages listed, or lists none, is not trusted", () => {
  const known = new HostMap();
  known.set(7, "10.0.0.7");
  known.set(8, "10.0.0.8");
  known.set(9, "10.0.0.9");
  // 8 is gone; 10 (a host added since the list was made) is in the pages only
  assert.deepEqual(goneHosts(known, Uint32Array.of(7, 9), new Map([[9, 1], [10, 1]])), {
    gone: [{ id: 8, address: "10.0.0.8" }],
  });
  // 9 is in the pages but not in the list: the list is not whole
  const partial = goneHosts(known, Uint32Array.of(7), new Map([[9, 1]]));
  assert.deepEqual(partial.gone, []);
  assert.match(partial.distrust!, /leaves out host 9, which its host detection pages list/);
  const none = goneHosts(known, new Uint32Array(0), new Map());
  assert.deepEqual(none.gone, []);
  assert.match(none.distrust!, /lists no host in scope while 3 hosts hold results/);
  // unchecked (a full run's count): whatever the list leaves out
  assert.deepEqual(
    goneHosts(known, new Uint32Array(0), new Map(), { check: false }).gone.map((g) => g.id),
    [7, 8, 9],
  );
  // nothing known: nothing gone, nothing to distrust
  assert.deepEqual(goneHosts(new HostMap(), new Uint32Array(0), new Map()), { gone: [] });
});

Deno.test("detection sync: a host first sent by a run that failed while sending, then purged, is cleared by the next run", async () => {
  await withPurges(async (h, sub) => {
    assert.equal((await h.run()).code, 0);
    const report = sub.advanceDay({ ...quiet, newHosts: 1 });
    const n = sub.hostIndexById(report.newHostIds[0]!);
    const ip = sub.hostAddress(n);
    // the Defense Center takes every line, then the connection is lost: exit 5, the checkpoint
    // stays, and the state notes that the new host may hold results
    const cut = await h.run({ delivery: "cut", cutAt: 1 });
    assert.equal(cut.code, 5, String(cut.error));
    assert.ok(keysAt(dcKeys(replayAll(h.delivered)), ip).length > 0);
    sub.advanceDay(quiet);
    sub.purge(n);
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.hostsGone, 1);
    const got = dcKeys(replayAll(h.delivered)), want = truth(sub);
    assert.deepEqual(got, want, diff(got, want));
  });
});
