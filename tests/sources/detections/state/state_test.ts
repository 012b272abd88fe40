import assert from "node:assert/strict";
import { FindingSpool } from "../../../../lib/findings/finding_spool.ts";
import { emptyHostStats, HostCollector } from "../../../../lib/findings/host_collector.ts";
import { DetectionPageParser } from "../../../../lib/sources/detections/pages/detection_page.ts";
import {
  KbCache,
  KbCacheWriter,
  type KbEntry,
} from "../../../../lib/sources/detections/knowledge_base/kb_cache.ts";
import { HostMap } from "../../../../lib/sources/detections/state/host_map.ts";
import { prepareStateDir, tryLock } from "../../../../lib/state/state_dir.ts";
import { AddressSet } from "../../../../lib/sources/detections/state/address_set.ts";
import {
  readSyncState,
  statePath,
  writeSyncState,
} from "../../../../lib/sources/detections/state/sync_state.ts";
import { SyncHosts } from "../../../../lib/sources/detections/sync/sync_hosts.ts";
import { withWorkDir } from "../../../_workdir.ts";

const DEST = "dc 10.0.0.1:8307";

Deno.test("AddressSet keeps IPv4 packed and IPv6 as text; adds, deletes and round-trips through JSON", () => {
  const set = new AddressSet();
  for (const ip of ["10.0.0.9", "10.0.0.1", "2001:db8::1", "10.0.0.9", "255.255.255.255"]) {
    set.add(ip);
  }
  assert.equal(set.size, 4);
  assert.ok(set.has("10.0.0.1") && set.has("2001:db8::1") && !set.has("10.0.0.2"));
  set.delete("10.0.0.1");
  set.add("0.0.0.0");
  set.delete("2001:db8::1");
  assert.deepEqual([...set], ["0.0.0.0", "10.0.0.9", "255.255.255.255"]);
  const back = AddressSet.fromJSON(JSON.parse(JSON.stringify(set)));
  assert.deepEqual([...back], [...set]);
  assert.throws(() => AddressSet.fromJSON({ v4: "AAA", v6: [] }), TypeError);
  assert.throws(() => AddressSet.fromJSON({ v4: "", v6: ["2001:DB8::1"] }), TypeError);
});

Deno.test("the sync state: written 0600 and whole, read back; a damaged or foreign one is said and ignored", async () => {
  await withWorkDir(async (dir) => {
    const path = await statePath(dir, DEST);
    assert.match(path, /\/sync-[0-9a-f]{16}\.json$/);
    const problems: string[] = [];
    assert.equal(await readSyncState(path, DEST, (m) => problems.push(m)), undefined);
    assert.equal(problems.length, 0); // no file: a first run, nothing to say
    const hosts = new AddressSet();
    hosts.add("10.0.0.1");
    const ids = new HostMap();
    ids.set(4711, "10.0.0.1");
    ids.set(4712, "2001:db8::1");
    await writeSyncState(path, {
      destination: DEST,
      checkpoint: "2026-03-02T06:00:00Z",
      query: "q",
      hosts,
      ids,
    });
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [path.split("/").pop()]);
    const state = await readSyncState(path, DEST, (m) => problems.push(m));
    assert.equal(state?.checkpoint, "2026-03-02T06:00:00Z");
    assert.deepEqual([...state!.hosts], ["10.0.0.1"]);
    assert.deepEqual([...state!.ids], [[4711, "10.0.0.1"], [4712, "2001:db8::1"]]);
    assert.equal(await readSyncState(path, "csv /x.csv", (m) => problems.push(m)), undefined);
    assert.match(problems.pop()!, /the sync state is damaged \(it is another destination's\)/);
    const cases: [string, string][] = [
      ["", "not JSON"],
      ['{"format":"qualys_connector detection sync state","version":1}', "it is another"],
      [
        JSON.stringify({
          format: "qualys_connector detection sync state",
          version: 1,
          destination: DEST,
          checkpoint: "yesterday",
          query: "q",
          hosts: { v4: "", v6: [] },
          ids: { ids: "", v4: "", v6: [] },
        }),
        "bad checkpoint",
      ],
      [
        JSON.stringify({
          format: "qualys_connector detection sync state",
          version: 1,
          destination: DEST,
          checkpoint: "2026-03-02T06:00:00Z",
          query: "q",
          hosts: { v4: "", v6: [] },
          ids: { ids: "AAAAAQ==", v4: "", v6: [] },
        }),
        "bad host IDs",
      ],
    ];
    for (const [text, why] of cases) {
      await Deno.writeTextFile(path, text);
      assert.equal(await readSyncState(path, DEST, (m) => problems.push(m)), undefined);
      assert.ok(problems.pop()!.includes(why), why);
    }
  });
});

const entry = (q: number, t = `title ${q}`): KbEntry => ({
  q,
  m: "",
  t,
  d: `<P>${q}`,
  c: [],
  b: [],
});
const lines = (entries: KbEntry[]) =>
  new TextEncoder().encode(entries.map((e) => JSON.stringify(e) + "\n").join(""));

Deno.test("KbCache.copy looks at the heap as it reads the cache and collects past the slack", async () => {
  await withWorkDir(async (dir) => {
    const path = `${dir}/kb-0123456789abcdef.jsonl`;
    const w = await KbCacheWriter.begin(path);
    const many = Array.from({ length: 3000 }, (_, i) => entry(i + 1, "t".repeat(1000)));
    await w.append(lines(many), many.map((e) => e.q)); // 3 MB: past KB_CACHE_LOOK_BYTES many times
    await w.commit("2026-03-02T06:00:00Z");
    const cache = await KbCache.open(path, () => {});
    // collectGarbage calls globalThis.gc (the binary's --expose-gc): counted here instead
    const g = globalThis as { gc?: () => void };
    const saved = g.gc;
    let gcs = 0, decoded = 0;
    g.gc = () => void gcs++;
    try {
      await cache.copy(undefined, {
        keep: () => false,
        want: () => true,
        onEntry: () => decoded++,
      });
    } finally {
      g.gc = saved;
      cache.close();
    }
    assert.equal(decoded, 3000);
    // The first look, past the slack at least once more (gc is counted here, not run: the heap
    // keeps growing), and one at the end.
    assert.ok(gcs >= 3, `the heap was collected while the cache was read, and at its end (${gcs})`);
  });
});

Deno.test("KbCache: entries and checkpoint written whole and read back; copy keeps and decodes what is asked; a cut cache is empty", async () => {
  await withWorkDir(async (dir) => {
    const path = `${dir}/kb-0123456789abcdef.jsonl`;
    const problems: string[] = [];
    const empty = await KbCache.open(path, (m) => problems.push(m));
    assert.deepEqual([empty.checkpoint, empty.qids.size, problems.length], [undefined, 0, 0]);
    const w = await KbCacheWriter.begin(path);
    await w.append(lines([entry(6), entry(9)]), [6, 9]);
    await w.append(lines([entry(9, "again"), entry(11)]), [9, 11]); // the first 9 wins
    await w.commit("2026-03-02T06:00:00Z");
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    const cache = await KbCache.open(path, (m) => problems.push(m));
    assert.deepEqual([cache.checkpoint, [...cache.qids]], ["2026-03-02T06:00:00Z", [6, 9, 11]]);
    const w2 = await KbCacheWriter.begin(path);
    const decoded: KbEntry[] = [];
    await cache.copy(w2, {
      keep: (q) => q !== 9,
      want: (q) => q === 11,
      onEntry: (e) => decoded.push(e),
    });
    cache.close();
    assert.deepEqual(decoded, [entry(11)]);
    assert.deepEqual([...w2.qids], [6, 11]);
    await w2.discard(); // the old cache stays
    assert.deepEqual([...(await KbCache.open(path, () => {})).qids], [6, 9, 11]);
    // cut short (no trailer), or a line that is not an entry: empty, and said
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.split("\n").slice(0, 2).join("\n") + "\n");
    assert.equal((await KbCache.open(path, (m) => problems.push(m))).qids.size, 0);
    assert.match(
      problems.pop()!,
      /damaged \(it has no trailer \(cut short\)\): its entries are fetched again/,
    );
    await Deno.writeTextFile(path, "garbage\n" + text);
    assert.equal((await KbCache.open(path, (m) => problems.push(m))).qids.size, 0);
    assert.match(problems.pop()!, /a line is not JSON/);
  });
});

Deno.test("KbCache: an entry with a whole head and a damaged body is not passed on or copied when wanted, but returned to be fetched again", async () => {
  await withWorkDir(async (dir) => {
    const path = `${dir}/kb-0123456789abcdef.jsonl`;
    const w = await KbCacheWriter.begin(path);
    await w.append(lines([entry(6), entry(9), entry(11), entry(14)]), [6, 9, 11, 14]);
    await w.commit("2026-03-02T06:00:00Z");
    const good = (await Deno.readTextFile(path)).split("\n");
    const damage = (line: string) => line.slice(0, line.indexOf(",") + 1) + "\u0000\u0000garbage";
    const text = [
      damage(good[0]!), // 6: its body is not JSON
      good[1]!.replace('"t":', '"t":1,"x":'), // 9: JSON, but not an entry
      damage(good[2]!), // 11: damaged, but not wanted
      good[3]!.replace('{"q":14,', '{"q":14,"q":15,'), // 14: another QID than its head says
      ...good.slice(4),
    ].join("\n");
    await Deno.writeTextFile(path, text);
    const problems: string[] = [];
    const cache = await KbCache.open(path, (m) => problems.push(m));
    // opening reads the heads only: the damage is found when an entry is decoded
    assert.deepEqual([problems, [...cache.qids]], [[], [6, 9, 11, 14]]);
    const w2 = await KbCacheWriter.begin(path);
    const decoded: KbEntry[] = [];
    const damaged = await cache.copy(w2, {
      keep: () => true,
      want: (q) => q !== 11,
      onEntry: (e) => decoded.push(e),
    });
    cache.close();
    assert.deepEqual(damaged, [6, 9, 14]);
    assert.deepEqual(decoded, []);
    assert.deepEqual([...w2.qids], [11]); // copied undecoded: found when a run wants it
    await w2.discard();
  });
});

Deno.test("the state directory is made 0700; a destination's lock is held by one process at a time", async () => {
  await withWorkDir(async (dir) => {
    await prepareStateDir(`${dir}/state`);
    assert.equal(Deno.statSync(`${dir}/state`).mode! & 0o777, 0o700);
    const release = await tryLock(`${dir}/state/sync-x.lock`);
    assert.ok(release);
    assert.equal(await tryLock(`${dir}/state/sync-x.lock`), undefined);
    release();
    const again = await tryLock(`${dir}/state/sync-x.lock`);
    assert.ok(again);
    again();
  });
});

Deno.test("one address listed by two hosts on two pages (two host IDs) is one host with both hosts' findings", async () => {
  const page = (id: number, qids: number[]) =>
    `<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>2026-03-02T06:00:00Z</DATETIME><HOST_LIST><HOST><ID>${id}</ID>` +
    `<IP>10.0.0.1</IP><DETECTION_LIST>${
      qids.map((q) => `<DETECTION><QID>${q}</QID><STATUS>Active</STATUS></DETECTION>`).join("")
    }</DETECTION_LIST></HOST></HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>`;
  const spool = new FindingSpool();
  const stats = emptyHostStats();
  const qids: number[] = [];
  const hosts = new SyncHosts(new HostCollector(spool, stats, { warn: () => {} }), {
    onQid: (q) => qids.push(q),
  });
  for (const [id, list] of [[1, [6, 7]], [2, [7, 8]]] as const) {
    const parser = new DetectionPageParser();
    parser.push(new TextEncoder().encode(page(id, [...list])));
    parser.end().listings.replay(hosts);
  }
  const seen: string[] = [];
  await spool.replay((h) => void seen.push(`${h.ip} ${[...h.qids.subarray(0, h.count)].sort()}`));
  spool.dispose();
  assert.deepEqual(seen, ["10.0.0.1 6,7,8"]);
  assert.deepEqual([stats.hostsKept, stats.hostsMerged, stats.duplicates], [1, 1, 1]);
  assert.deepEqual(qids, [6, 7, 8]);
});

Deno.test("a state that kept an IPv4-mapped address (::ffff:a.b.c.d) reads it as the IPv4 host", () => {
  const hosts = AddressSet.fromJSON({ v4: "", v6: ["::ffff:10.99.0.1", "2001:db8::1"] });
  assert.deepEqual([...hosts], ["10.99.0.1", "2001:db8::1"]);
  assert.ok(hosts.has("10.99.0.1"));
  const map = new HostMap();
  map.set(5, "10.0.0.5");
  map.set(7, "2001:db8::7");
  const data = JSON.parse(JSON.stringify(map));
  data.v6 = [[7, "::ffff:10.99.0.7"]];
  assert.deepEqual([...HostMap.fromJSON(data)], [[5, "10.0.0.5"], [7, "10.99.0.7"]]);
});
