/**
 * QA: README, "What a run does": a full run (which a change of `ip_ranges` causes) clears "hosts
 * the destination got results for before and that are no longer listed (all fixed, purged from
 * Qualys, out of the filters now)". Hosts that a narrower `ip_ranges` leaves out are not cleared
 * (the clear goes through the ip_ranges check and is dropped), and the state forgets them: their
 * results stay on the DC with nothing left to clear them.
 */

import assert from "node:assert/strict";
import { dcKeys, replayAll, withHarness } from "./_harness.ts";

Deno.test("qa3: narrowing ip_ranges leaves the hosts now outside it with their results, and the state forgets them", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run({ config: await h.configWith("ip_ranges: 10.0.0.0/8\n") })).code, 0);
    const outside = (k: string) => {
      const ip = k.split("|")[0]!;
      return ip.startsWith("10.") && Number(ip.split(".")[3]) >= 16;
    };
    assert.ok([...dcKeys(replayAll(h.delivered))].some(outside));
    const r = await h.run({ config: await h.configWith("ip_ranges: 10.0.0.0/28\n") });
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "full");
    const left = [...dcKeys(replayAll(h.delivered))].filter(outside);
    const state = JSON.parse(
      Deno.readTextFileSync(
        `${h.stateDir}/${
          [...Deno.readDirSync(h.stateDir)].find((e) => /^sync-.*json$/.test(e.name))!.name
        }`,
      ),
    );
    assert.deepEqual(
      left.slice(0, 3),
      [],
      `${left.length} results of hosts now outside ip_ranges stay on the DC; the state's v4 list ` +
        `is ${atob(state.hosts.v4).length / 4} hosts long`,
    );
  });
});
