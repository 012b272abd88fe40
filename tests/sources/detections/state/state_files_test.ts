/**
 * The state directory's files when something else stands where they belong, or when the whole
 * directory was deleted (issue 18, item 7): each case says what to do, or the run goes on.
 */

import assert from "node:assert/strict";
import { LocalIoError } from "../../../../lib/errors.ts";
import { shortHash } from "../../../../lib/state/state_dir.ts";
import { statePath } from "../../../../lib/sources/detections/state/sync_state.ts";
import { dcKeys, replayAll, truth, withHarness } from "../_harness.ts";

Deno.test("detection sync: a directory where the state file belongs stops the run before any call, saying what to remove (exit 7)", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    const path = await statePath(h.stateDir, h.destination);
    await Deno.remove(path);
    await Deno.mkdir(`${path}/inner`, { recursive: true });
    h.sub.advanceDay({});
    const before = h.sim.log.length;
    for (let night = 0; night < 2; night++) {
      const r = await h.run();
      assert.equal(r.code, 7, String(r.error));
      assert.ok(r.error instanceof LocalIoError);
      assert.equal(r.error.path, path);
      assert.match(r.error.message, /is a directory where .* belongs: remove it \(rm -r /);
      assert.doesNotMatch(r.error.message, /repeats/);
      assert.equal(r.delivered, undefined);
    }
    assert.equal(h.sim.log.length, before, "no call was made");
    await Deno.remove(path, { recursive: true });
    assert.equal((await h.run()).code, 0);
  });
});

Deno.test("detection sync: a directory where the lock file belongs stops the run, saying what to remove (exit 7)", async () => {
  await withHarness({}, async (h) => {
    const path = (await statePath(h.stateDir, h.destination)).replace(/\.json$/, ".lock");
    await Deno.mkdir(path, { recursive: true });
    const r = await h.run();
    assert.equal(r.code, 7, String(r.error));
    assert.match((r.error as Error).message, /is a directory where .* belongs: remove it \(rm -r /);
  });
});

Deno.test("detection sync: a directory where the KnowledgeBase cache belongs is a damaged cache: warned, the run goes on without it", async () => {
  await withHarness({}, async (h) => {
    const path = `${h.stateDir}/kb-${await shortHash(
      `${h.config.account.url}\n${h.config.account.userId}`,
    )}.jsonl`;
    await Deno.mkdir(`${path}/inner`, { recursive: true });
    for (let night = 0; night < 2; night++) {
      const r = await h.run();
      assert.equal(r.code, 0, String(r.error));
      assert.match(
        r.warnings.join("\n"),
        /kb-[0-9a-f]+\.jsonl is a directory where the KnowledgeBase cache belongs: this run goes without the cache; remove it \(rm -r /,
      );
      assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
      assert.ok(Deno.statSync(path).isDirectory, "left as it was");
      h.sub.advanceDay({});
    }
    // once it is removed, the next run makes the cache again
    await Deno.remove(path, { recursive: true });
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.ok(Deno.statSync(path).isFile);
  });
});

Deno.test("detection sync: after the state directory was deleted, the next (first) run clears the hosts whose findings were all fixed meanwhile", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    await Deno.remove(h.stateDir, { recursive: true });
    // no purge: a lost state forgets which hosts the destination holds (README: Limits)
    const day = h.sub.advanceDay({ allFixedHosts: 2, purgedHosts: 0 });
    const fixed = day.allFixedHostIds.map((id) => h.sub.hostAddress(h.sub.hostIndexById(id)));
    assert.equal(fixed.length, 2);
    const before = h.sim.log.length;
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "full");
    assert.match(r.infos.join("\n"), /no earlier run for this destination/);
    // a first run cannot tell what the destination holds: it asks for Fixed detections too
    const calls = h.sim.log.slice(before).filter((e) => e.api === "detection");
    assert.ok(calls.every((e) => e.params.status === "New,Active,Re-Opened,Fixed"));
    for (const ip of fixed) {
      assert.match(
        r.delivered!,
        new RegExp(`^DeleteScanResult,${ip},"QualysGuard"\nScanUpdate$`, "m"),
      );
    }
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
  });
});
