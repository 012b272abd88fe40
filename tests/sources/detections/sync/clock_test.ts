/**
 * Qualys's clock in the detection sync (issue 18, items 1 and 2): every DATETIME an answer carries
 * and every checkpoint on disk must be a real UTC time, and a checkpoint later than Qualys's own
 * clock (its clock went back, or a hand edit) must not make a run skip what changed.
 */

import assert from "node:assert/strict";
import { QualysApiError } from "../../../../lib/errors.ts";
import { parseDateTime } from "../../../../lib/qualys/datetime.ts";
import { formatDateTime } from "../../../../scripts/sim/qualys/mod.ts";
import { dcKeys, diff, type Harness, replayAll, truth, withHarness } from "../_harness.ts";

const NOT_TIMES = ["2026-13-45T99:99:99Z", "2026-11-21T25:00:00Z", "garbage"];

function stateFile(h: Harness): string {
  const name = [...Deno.readDirSync(h.stateDir)].find((e) => /^sync-.*\.json$/.test(e.name))!;
  return `${h.stateDir}/${name.name}`;
}

function kbFile(h: Harness): string {
  const name = [...Deno.readDirSync(h.stateDir)].find((e) => /^kb-.*\.jsonl$/.test(e.name))!;
  return `${h.stateDir}/${name.name}`;
}

async function setCheckpoint(h: Harness, checkpoint: string): Promise<void> {
  const path = stateFile(h);
  const state = JSON.parse(await Deno.readTextFile(path));
  await Deno.writeTextFile(path, JSON.stringify({ ...state, checkpoint }));
}

async function setKbCheckpoint(h: Harness, checkpoint: string): Promise<void> {
  const path = kbFile(h);
  const lines = (await Deno.readTextFile(path)).split("\n");
  const trailer = JSON.parse(lines.at(-2)!);
  lines[lines.length - 2] = JSON.stringify({ ...trailer, checkpoint });
  await Deno.writeTextFile(path, lines.join("\n"));
}

/** The cache's entries whose LAST_SERVICE_MODIFICATION_DATETIME is not the KnowledgeBase's now. */
async function staleKbEntries(h: Harness): Promise<number[]> {
  const stale: number[] = [];
  for (const line of (await Deno.readTextFile(kbFile(h))).split("\n")) {
    if (!line.startsWith('{"q":')) continue;
    const e = JSON.parse(line) as { q: number; m: string };
    const now = h.sub.kbEntry(e.q)!;
    if (e.m !== formatDateTime(now.lastModified)) stale.push(e.q);
  }
  return stale;
}

Deno.test("detection sync: a stored checkpoint that is no real time makes the state damaged: warned, a full sync that clears what was fixed", async (t) => {
  for (const checkpoint of NOT_TIMES) {
    await t.step(checkpoint, async () => {
      await withHarness({}, async (h) => {
        assert.equal((await h.run()).code, 0);
        await setCheckpoint(h, checkpoint);
        // no purge: a damaged state forgets which hosts the destination holds (README: Limits)
        h.sub.advanceDay({ allFixedHosts: 2, purgedHosts: 0 });
        const r = await h.run();
        assert.equal(r.code, 0, String(r.error));
        assert.equal(r.summary?.mode, "full");
        assert.match(r.warnings.join("\n"), /the sync state is damaged \(bad checkpoint\)/);
        assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
        assert.equal(await h.checkpoint(), formatDateTime(h.sub.clock));
      });
    });
  }
});

Deno.test("detection sync: a KnowledgeBase cache whose checkpoint is no real time is damaged: its entries are fetched again", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    await setKbCheckpoint(h, "2026-13-45T99:99:99Z");
    h.sub.advanceDay({ modifiedQids: 5 });
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.match(r.warnings.join("\n"), /the KnowledgeBase cache is damaged/);
    assert.deepEqual(await staleKbEntries(h), []);
  });
});

Deno.test("detection sync: answers whose DATETIME is no real time are fetched again, then exit 3; nothing is sent and the checkpoint stays", async (t) => {
  for (const text of [...NOT_TIMES, " "]) { // " ": an empty DATETIME
    await t.step(JSON.stringify(text), async () => {
      await withHarness({}, async (h) => {
        assert.equal((await h.run()).code, 0);
        const checkpoint = await h.checkpoint();
        h.sub.advanceDay({});
        h.sim.vmdr!.set({ datetimeText: text });
        const before = h.sim.log.length;
        const r = await h.run();
        assert.equal(r.code, 3, String(r.error));
        assert.ok(r.error instanceof QualysApiError);
        assert.match(
          r.error.message,
          /RESPONSE\/DATETIME.*gave up after 5 downloads: nothing was sent and the checkpoint stays/,
        );
        assert.equal(r.delivered, undefined);
        assert.equal(await h.checkpoint(), checkpoint);
        // the failed answer was fetched 5 times, as a cut one is
        const calls = h.sim.log.slice(before).filter((e) => e.api !== "report");
        const byApi = Map.groupBy(calls, (e) => e.api);
        assert.ok([...byApi.values()].some((list) => list.length === 5), JSON.stringify(calls));
      });
    });
  }
});

Deno.test("detection sync: one answer whose DATETIME is no time is fetched again, and the run goes on", async () => {
  await withHarness({}, async (h) => {
    h.sim.vmdr!.addFault({ kind: "datetime", text: "2026-11-21T25:00:00Z", request: 1 });
    h.sim.vmdr!.addFault({ api: "host", kind: "datetime", text: "garbage", request: 1 });
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.match(r.warnings.join("\n"), /"2026-11-21T25:00:00Z", which is not a UTC time.*again/);
    assert.match(
      r.warnings.join("\n"),
      /answer \(the host ID list\) says .*"garbage".*fetching it again/,
    );
    assert.equal(await h.checkpoint(), formatDateTime(h.sub.clock));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
  });
});

Deno.test("detection sync: Qualys's clock jumps a year ahead for one run, then back: the next run is a full one, nothing lost, nothing stale", async () => {
  const YEAR = 365 * 86400;
  await withHarness({ model: { start: "2026-11-20T06:00:00Z" } }, async (h) => {
    assert.equal((await h.run()).code, 0);
    h.sub.advanceDay({});
    h.sim.vmdr!.set({ clockOffsetSec: YEAR });
    const ahead = await h.run();
    assert.equal(ahead.code, 0, String(ahead.error));
    assert.equal(ahead.summary?.mode, "incremental");
    assert.equal(await h.checkpoint(), "2027-11-21T06:00:00Z");
    // the next day, Qualys's clock is right again
    h.sim.vmdr!.set({ clockOffsetSec: 0 });
    h.sub.advanceDay({ allFixedHosts: 2, modifiedQids: 5 });
    const before = h.sim.log.length;
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "full");
    assert.match(
      r.warnings.join("\n"),
      /Qualys's clock \(2026-11-22T06:00:00Z\) is earlier than the checkpoint \(2027-11-21T06:00:00Z\)/,
    );
    const dc = dcKeys(replayAll(h.delivered));
    assert.deepEqual(dc, truth(h.sub), diff(dc, truth(h.sub)));
    assert.deepEqual(await staleKbEntries(h), []);
    assert.equal(await h.checkpoint(), "2026-11-22T06:00:00Z");
    // the full run asked for Fixed detections too (the damaged-state rule), without an extra
    // call: the incremental host ID list said the clock, then the full run's calls came
    const calls = h.sim.log.slice(before).filter((e) => e.api === "detection");
    assert.ok(calls.every((e) => e.params.status === "New,Active,Re-Opened,Fixed"));
    assert.ok(calls.every((e) => e.params.vm_processed_after === undefined));
    const hostLists = h.sim.log.slice(before).filter((e) => e.api === "host");
    // the hosts in scope, the incremental host ID list (which said the clock), the full run's
    assert.deepEqual(hostLists.map((e) => e.params.vm_processed_after !== undefined), [
      false,
      true,
      false,
    ]);
    // and the night after is incremental again
    h.sub.advanceDay({ allFixedHosts: 1 });
    const next = await h.run();
    assert.equal(next.summary?.mode, "incremental");
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
  });
});

Deno.test("detection sync: a hand-edited checkpoint in 2099 is not trusted: warned, a full sync", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    await setCheckpoint(h, "2099-01-01T00:00:00Z");
    await setKbCheckpoint(h, "2099-01-01T00:00:00Z");
    h.sub.advanceDay({ allFixedHosts: 2, modifiedQids: 5 });
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "full");
    assert.match(r.warnings.join("\n"), /is earlier than the checkpoint \(2099-01-01T00:00:00Z\)/);
    assert.match(
      r.warnings.join("\n"),
      /KnowledgeBase cache's checkpoint \(2099-01-01T00:00:00Z\) is later than Qualys's clock/,
    );
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
    assert.deepEqual(await staleKbEntries(h), []);
    assert.equal(await h.checkpoint(), formatDateTime(h.sub.clock));
  });
});

Deno.test("parseDateTime takes real UTC times only", () => {
  for (const ok of ["2026-03-02T06:00:00Z", "2028-02-29T23:59:59Z", "1970-01-01T00:00:00Z"]) {
    assert.equal(parseDateTime(ok), Date.parse(ok), ok);
  }
  for (
    const bad of [
      ...NOT_TIMES,
      "",
      "2026-02-29T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-11-21T23:59:60Z",
      "2026-11-21T23:60:00Z",
      "2026-00-10T00:00:00Z",
      "2026-11-00T00:00:00Z",
      "1969-12-31T23:59:59Z",
      "2026-11-21T06:00:00",
      "2026-11-21T06:00:00+00:00",
      "2026-11-21 06:00:00Z",
      " 2026-11-21T06:00:00Z",
    ]
  ) assert.equal(parseDateTime(bad), undefined, bad);
});
