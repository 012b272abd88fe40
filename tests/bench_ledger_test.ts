/**
 * What the ledger bench (`scripts/bench_ledger.ts`) stands on besides the connector's runs: a
 * record made a day older is the same record a day earlier (so that its second night sends what
 * a night a day later sends, the rolling refresh included), and the timing of the record's work
 * counts the hosts it compares and sends, and leaves the record it was given as it was. No
 * speed is asserted.
 */

import assert from "node:assert/strict";
import { ageRecord, recordFile, timeComparison } from "../scripts/bench_ledger_timing.ts";
import { subscriptionFindings } from "../scripts/bench_ledger_timing.ts";
import { CommandEncoder } from "../lib/encode/encoder.ts";
import type { FindingSource, HostFindings } from "../lib/findings/finding_source.ts";
import { LedgerFile } from "../lib/ledger/ledger_file.ts";
import { dayNumber, refreshSlot } from "../lib/ledger/refresh.ts";
import { VmdrSubscription } from "../scripts/sim/qualys/mod.ts";

const DESTINATION = "dc 127.0.0.1:8307";
const TODAY = dayNumber(new Date());

/** `n` hosts of `count` findings each, QIDs 1..count. */
function findings(n: number, count: number): FindingSource {
  const hosts: HostFindings[] = Array.from({ length: n }, (_, h) => ({
    ip: `10.1.${h >> 8}.${h & 255}`,
    count,
    qids: Uint32Array.from({ length: count }, (_, k) => k + 1),
    ports: new Uint16Array(count),
    protos: new Uint8Array(count),
  }));
  return {
    glossary: new Map(),
    async forEachHost(on) {
      for (const h of hosts) await on(h);
    },
    dispose() {},
  };
}

/** A record of `source`'s blocks as sent on `day` (their digests as the encoder makes them). */
async function recordOf(dir: string, source: FindingSource, day: number): Promise<void> {
  const file = await LedgerFile.open(dir, { destination: DESTINATION });
  const next = file.ledger.builder({ today: day });
  const enc = new CommandEncoder(source.glossary);
  await source.forEachHost((h) => {
    const digest = new Uint8Array(8);
    enc.hostDigest(h, digest);
    next.set(h.ip, { digest, fingerprints: h.qids.map((q) => q & 0xffff) });
  });
  enc.dispose();
  await file.save(next);
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qc-bench-ledger-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ageRecord moves every address's last send back a day and keeps its block; the next night on the same day then refreshes the hosts of today's slot", async () => {
  await withDir(async (dir) => {
    const source = findings(300, 3);
    await recordOf(dir, source, TODAY);
    const before = [...(await LedgerFile.open(dir, { destination: DESTINATION })).ledger];
    // on the day it was sent, no host is due
    const sameDay = (await LedgerFile.open(dir, { destination: DESTINATION })).ledger;
    assert.deepEqual([...sameDay.due({ day: TODAY, refreshDays: 7 })], []);

    assert.equal(await ageRecord(dir, { destination: DESTINATION }), 300);
    const after = [...(await LedgerFile.open(dir, { destination: DESTINATION })).ledger];
    assert.deepEqual(
      after.map((e) => [e.address, e.lastSentDay, [...e.digest], [...e.fingerprints]]),
      before.map((e) => [e.address, e.lastSentDay - 1, [...e.digest], [...e.fingerprints]]),
    );
    // a day later, the hosts whose slot is today's are due: about 1/7 of them, and no other
    const aged = (await LedgerFile.open(dir, { destination: DESTINATION })).ledger;
    const due = [...aged.due({ day: TODAY, refreshDays: 7 })];
    const slot = before.filter((e) => refreshSlot(e.address, 7) === TODAY % 7).map((e) =>
      e.address
    );
    assert.deepEqual(due, slot);
    assert.ok(due.length > 0 && due.length < 300 / 3, String(due.length));
  });
});

Deno.test("ageRecord refuses what it cannot age truly: no record, or one of several days", async () => {
  await withDir(async (dir) => {
    await assert.rejects(ageRecord(dir, { destination: DESTINATION }), /no record/);
    await recordOf(dir, findings(4, 1), TODAY);
    // a second night sends one more host, on another day: two days recorded
    const file = await LedgerFile.open(dir, { destination: DESTINATION });
    const next = file.ledger.builder({ today: TODAY + 1 });
    next.set("10.9.9.9", { digest: new Uint8Array(8), fingerprints: [1] });
    await file.save(next);
    await assert.rejects(ageRecord(dir, { destination: DESTINATION }), /2 days/);
  });
});

Deno.test("timeComparison sends the hosts the record lacks or holds otherwise, counts them, and leaves the record as it was", async () => {
  await withDir(async (dir) => {
    const empty = `${dir}/empty`, held = `${dir}/held`;
    await Deno.mkdir(empty);
    await Deno.mkdir(held);
    const night = { destination: DESTINATION, refreshDays: 7, whole: false, listDue: false };
    const first = await timeComparison(findings(300, 4), { ...night, recordDir: empty });
    assert.deepEqual([first.hosts, first.sent, first.due], [300, 300, 0]);
    assert.equal(await recordFile(empty), undefined); // nothing written where it read
    assert.ok(first.seconds >= first.replaySeconds && first.recordBytes > 0);

    // the record holds the same blocks, sent today: none goes; other findings: every one goes
    await recordOf(held, findings(300, 4), TODAY);
    const path = (await recordFile(held))!;
    const bytes = await Deno.readFile(path);
    const same = await timeComparison(findings(300, 4), { ...night, recordDir: held });
    assert.deepEqual([same.hosts, same.sent], [300, 0]);
    const other = await timeComparison(findings(300, 5), { ...night, recordDir: held });
    assert.equal(other.sent, 300);
    assert.deepEqual(await Deno.readFile(path), bytes);
    // a record a day older: the due addresses are listed, and they go again
    await ageRecord(held, { destination: DESTINATION });
    const later = await timeComparison(findings(300, 4), {
      ...night,
      recordDir: held,
      listDue: true,
    });
    assert.ok(later.due > 0 && later.sent === later.due, JSON.stringify(later));
  });
});

Deno.test("subscriptionFindings gives the simulator's open detections on the day asked, host by host", async () => {
  const options = {
    seed: 3,
    hosts: 40,
    detectionsPerHost: 6,
    qids: 30,
    changes: { scanShare: 0.5 },
  };
  const sub = new VmdrSubscription(options);
  sub.advanceDay();
  const truth = sub.openDetections();
  const got = new Map<string, string[]>();
  const source = subscriptionFindings(options, 1);
  await source.forEachHost((h) => {
    const list: string[] = [];
    for (let k = 0; k < h.count; k++) {
      list.push(`${h.qids[k]}/${h.ports[k]}/${["", "tcp", "udp"][h.protos[k]!]}`);
    }
    got.set(h.ip, list);
  });
  assert.deepEqual(
    got,
    new Map(
      [...truth].map((
        [ip, ds],
      ) => [ip, ds.map((d) => `${d.qid}/${d.port ?? 0}/${d.protocol ?? ""}`)]),
    ),
  );
  assert.ok(source.glossary.size > 0);
});
