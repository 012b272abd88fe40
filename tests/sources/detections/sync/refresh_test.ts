/**
 * The detection source with the record of what the Defense Center holds (issue 20): an
 * incremental run sends only the hosts whose block changed, and fetches by their host IDs the
 * hosts due for the rolling refresh, so a Defense Center that lost its hosts is whole again
 * within `refresh_days` runs; a dry run says what a run would send and writes nothing.
 */

import assert from "node:assert/strict";
import { dcKeys, diff, replayAll, withHarness } from "../_harness.ts";

/** A day that changes nothing but what it is told to. */
const STILL = {
  scanShare: 0,
  fixShare: 0,
  reopenShare: 0,
  newDetectionsPerHost: 0,
  allFixedHosts: 0,
  newHosts: 0,
  purgedHosts: 0,
  newQids: 0,
  modifiedQids: 0,
};

Deno.test("detection sync: a Defense Center that lost every host is whole again within refresh_days incremental runs, a share each night", async () => {
  await withHarness({ model: { hosts: 40, detectionsPerHost: 4 } }, async (h) => {
    const refreshDays = 3;
    assert.equal((await h.run({ refreshDays })).code, 0);
    const from = h.delivered.length; // the Defense Center lost everything after this night
    const held: number[] = [];
    for (let night = 1; night <= refreshDays; night++) {
      h.sub.advanceDay(STILL);
      const r = await h.run({ refreshDays });
      assert.equal(r.code, 0, String(r.error));
      assert.equal(r.summary?.mode, "incremental");
      held.push(
        new Set([...dcKeys(replayAll(h.delivered.slice(from)))].map((k) => k.split("|")[0]))
          .size,
      );
    }
    const got = dcKeys(replayAll(h.delivered.slice(from))), want = h.sub.openDetectionKeys();
    assert.deepEqual(got, want, diff(got, want));
    const all = new Set([...want].map((k) => k.split("|")[0])).size;
    assert.ok(held[0]! > 0 && held[0]! < all, `held night by night: ${held} of ${all}`);
    assert.ok(held[1]! > held[0]!, `held night by night: ${held} of ${all}`);
  });
});

Deno.test("detection sync: a record that knows only part of what the Defense Center holds (lost under refresh_days 0) is made whole by one full sync once the refresh is on", async () => {
  await withHarness({ model: { hosts: 40, detectionsPerHost: 4 } }, async (h) => {
    assert.equal((await h.run({ refreshDays: 0 })).code, 0);
    // the record is lost; refresh_days 0 goes on incrementally, and records only what it sends
    for (const e of Deno.readDirSync(h.stateDir)) {
      if (/^ledger-.*\.bin$/.test(e.name)) await Deno.remove(`${h.stateDir}/${e.name}`);
    }
    h.sub.advanceDay({ ...STILL, scanShare: 0.2, fixShare: 0.3 });
    const partial = await h.run({ refreshDays: 0 });
    assert.equal(partial.code, 0, String(partial.error));
    assert.equal(partial.summary?.mode, "incremental");
    // refresh_days 3 from now on, and the Defense Center lost everything after this night
    const from = h.delivered.length;
    for (let night = 1; night <= 3; night++) {
      h.sub.advanceDay(STILL);
      const r = await h.run({ refreshDays: 3 });
      assert.equal(r.code, 0, String(r.error));
    }
    const got = dcKeys(replayAll(h.delivered.slice(from))), want = h.sub.openDetectionKeys();
    assert.deepEqual(got, want, diff(got, want));
  });
});

Deno.test("detection sync: hosts processed again with the same findings are not sent; those that changed are", async () => {
  await withHarness({ model: { hosts: 30, detectionsPerHost: 4 } }, async (h) => {
    assert.equal((await h.run({ refreshDays: 3650 })).code, 0);
    // every host processed again, without a change
    h.sub.advanceDay({ ...STILL, scanShare: 1 });
    const same = await h.run({ refreshDays: 3650 });
    assert.equal(same.code, 0, String(same.error));
    assert.match(
      same.infos.join("\n"),
      /Summary: 0 hosts with 0 AddScanResult lines and 0 hosts cleared, [^;]+; 2\d hosts unchanged, not sent/,
    );
    // again, with a finding fixed here and there
    h.sub.advanceDay({ ...STILL, scanShare: 1, fixShare: 0.1 });
    const some = await h.run({ refreshDays: 3650 });
    const m = /Summary: (\d+) hosts .*; (\d+) hosts unchanged, not sent/.exec(
      some.infos.join("\n"),
    );
    assert.ok(m && Number(m[1]) > 0 && Number(m[2]) > 0 && Number(m[1]) + Number(m[2]) <= 30);
    const got = dcKeys(replayAll(h.delivered)), want = h.sub.openDetectionKeys();
    assert.deepEqual(got, want, diff(got, want));
  });
});

Deno.test("detection sync: -dry-run fetches and compares, then writes nothing: no state, no record, no KnowledgeBase cache", async () => {
  await withHarness({ model: { hosts: 20, detectionsPerHost: 4 } }, async (h) => {
    assert.equal((await h.run({ refreshDays: 7 })).code, 0);
    h.sub.advanceDay({ scanShare: 0.3, fixShare: 0.5 });
    const files = async () => {
      const out: string[] = [];
      for await (const e of Deno.readDir(h.stateDir)) {
        const st = await Deno.stat(`${h.stateDir}/${e.name}`);
        out.push(`${e.name} ${st.size} ${st.mtime?.getTime()}`);
      }
      return out.sort();
    };
    const before = await files(), checkpoint = await h.checkpoint();
    const dry = await h.run({ refreshDays: 7, dryRun: true, debug: true });
    assert.equal(dry.code, 0, String(dry.error));
    assert.equal(dry.delivered, undefined);
    assert.match(dry.infos.join("\n"), /Dry run: a real run would send \d+ lines \(\d+ bytes\): /);
    assert.ok(dry.debugs.some((m) => /: changed \(\+\d+ \u2212\d+ results\)/.test(m)));
    assert.deepEqual(await files(), before);
    assert.equal(await h.checkpoint(), checkpoint);
    // the real run after it sends what the dry run said
    const real = await h.run({ refreshDays: 7, day: h.day });
    const lines = (s: string) => /would send (\d+) lines/.exec(s)?.[1];
    assert.equal(
      String(real.delivered!.split("\n").length - 1),
      lines(dry.infos.join("\n")),
    );
  });
});
