/**
 * QA: the checkpoint is the run's earliest RESPONSE/DATETIME (whole seconds) and the next run asks
 * `vm_processed_after=<checkpoint>`, i.e. strictly after that second. A host whose scan Qualys
 * finishes processing in that same second, just after the run's answers were made, is in neither
 * run: the first did not see its new data, the second excludes it. Nothing brings it back until
 * it is scanned again (or a -full). With ~2,000 hosts processed a day, a run has a few per cent
 * chance to hit this.
 */

import assert from "node:assert/strict";
import { dcKeys, diff, replayAll, withHarness } from "./_harness.ts";
import { MovingSubscription, unionTruth } from "./_moving_sub.ts";

Deno.test("qa3: a host processed in the checkpoint's own second (after the run's answers) is never synced", async () => {
  const sub = new MovingSubscription({ seed: 7, hosts: 40, detectionsPerHost: 6, qids: 80 });
  await withHarness({ subscription: sub }, async (h) => {
    assert.equal((await h.run()).code, 0);
    const checkpoint = sub.clock; // run 1's DATETIME, saved as the checkpoint
    const day = sub.advanceDay({ allFixedHosts: 1, scanShare: 0, newHosts: 0 });
    // the all-fixed host's scan was processed in the very second run 1's answers were stamped with
    const x = sub.hostIndexById(day.allFixedHostIds[0]!);
    sub.setProcessed(x, checkpoint);
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "incremental");
    const dc = dcKeys(replayAll(h.delivered));
    const expected = unionTruth(sub);
    assert.deepEqual(dc, expected, `host ${sub.hostAddress(x)}: ${diff(dc, expected)}`);
  });
});
