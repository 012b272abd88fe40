import assert from "node:assert/strict";
import {
  DETECTION_STATUSES,
  DETECTION_TYPES,
  type DetectionRecord,
  formatDateTime,
  formatIpv6,
  OPEN_STATUSES,
  parseQualysDate,
  type VmdrQuery,
  VmdrSubscription,
} from "../../../../scripts/sim/qualys/mod.ts";

const ALL: VmdrQuery = { statuses: DETECTION_STATUSES, types: DETECTION_TYPES };

/** Everything observable about a subscription, for comparing two of them. */
function snapshot(s: VmdrSubscription): string {
  const parts: string[] = [String(s.clock)];
  for (let h = 0; h < s.hostCount; h++) {
    parts.push(JSON.stringify(s.host(h)), JSON.stringify(s.detections(h, ALL)));
  }
  for (const q of [...s.kbQids(), ...s.missingKbQids()]) parts.push(JSON.stringify(s.kbEntry(q)));
  return parts.join("\n");
}

function detKey(d: DetectionRecord): string {
  return `${d.qid}|${d.protocol ? d.port : ""}|${d.protocol ?? ""}`;
}

/** host ID → detection key → status, for every host. */
function states(s: VmdrSubscription): Map<number, Map<string, string>> {
  const out = new Map<number, Map<string, string>>();
  for (let h = 0; h < s.hostCount; h++) {
    out.set(s.hostId(h), new Map(s.detections(h, ALL).map((d) => [detKey(d), d.status])));
  }
  return out;
}

Deno.test("VmdrSubscription is the same for the same seed, day after day, and differs by seed", () => {
  const opts = { seed: 7, hosts: 60, detectionsPerHost: 6, qids: 120 };
  const a = new VmdrSubscription(opts), b = new VmdrSubscription(opts);
  assert.equal(snapshot(a), snapshot(b));
  for (let d = 1; d <= 3; d++) {
    assert.deepStrictEqual(a.advanceDay(), b.advanceDay());
    assert.equal(snapshot(a), snapshot(b), `day ${d}`);
  }
  assert.notEqual(
    snapshot(new VmdrSubscription({ ...opts, seed: 8 })),
    snapshot(new VmdrSubscription(opts)),
  );
});

Deno.test("VmdrSubscription generates the sizes asked, hosts in ID order with unique addresses", () => {
  const s = new VmdrSubscription({ seed: 3, hosts: 400, detectionsPerHost: 10, qids: 300 });
  assert.equal(s.hostCount, 400);
  const mean = s.detectionCount / s.hostCount;
  assert.ok(mean > 8 && mean < 12, `mean ${mean}`);
  assert.equal(s.qidCount, 300);
  const ips = new Set<string>();
  let v6only = 0, dual = 0;
  for (let h = 0; h < s.hostCount; h++) {
    const host = s.host(h);
    if (h) assert.ok(host.id > s.hostId(h - 1), "IDs ascend");
    assert.equal(s.hostIndexById(host.id), h);
    assert.ok(host.ip || host.ipv6);
    if (!host.ip) v6only++;
    if (host.ip && host.ipv6) dual++;
    const addr = s.hostAddress(h);
    assert.equal(addr, host.ip ?? host.ipv6);
    assert.ok(!ips.has(addr), `duplicate ${addr}`);
    ips.add(addr);
    if (host.osCpe) assert.match(host.osCpe, /^cpe:\/o:[a-z_]+:[a-z0-9_]+:/);
    assert.ok(host.processed > host.lastScan && host.processed < s.clock);
  }
  assert.ok(v6only > 0 && dual > 0, `IPv6-only ${v6only}, dual-stack ${dual}`);
});

Deno.test("VmdrSubscription writes realistic OS strings, ambiguous ones included", () => {
  const s = new VmdrSubscription({ seed: 1, hosts: 2000, detectionsPerHost: 1, qids: 50 });
  const oses = new Set<string>();
  let cpes = 0;
  for (let h = 0; h < s.hostCount; h++) {
    const host = s.host(h);
    oses.add(host.os);
    if (host.osCpe) cpes++;
  }
  for (
    const os of [
      "Windows 2016/2019/10",
      "Linux 2.4-2.6",
      "Windows Server 2012 R2 Standard 64 bit Edition",
      "Red Hat Enterprise Linux 8.9",
      "macOS 14.4",
      "Cisco IOS 15.2(4)E10",
    ]
  ) assert.ok(oses.has(os), os);
  assert.ok(cpes > 200 && cpes < 1800, `${cpes} hosts with OS_CPE`);
});

Deno.test("VmdrSubscription detections are unique per host, in QID order, some without a port", () => {
  const s = new VmdrSubscription({ seed: 5, hosts: 200, detectionsPerHost: 12, qids: 400 });
  let portless = 0, info = 0, potential = 0;
  const used = new Set<number>();
  for (let h = 0; h < s.hostCount; h++) {
    const list = s.detections(h, ALL);
    assert.ok(list.length >= 1);
    const keys = list.map(detKey);
    assert.equal(new Set(keys).size, keys.length, "unique (QID, port, protocol)");
    for (let i = 1; i < list.length; i++) assert.ok(list[i - 1]!.qid <= list[i]!.qid, "QID order");
    for (const d of list) {
      used.add(d.qid);
      if (!d.protocol) {
        portless++;
        assert.equal(d.port, 0);
      }
      if (d.type === "Info") info++;
      if (d.type === "Potential") potential++;
      assert.ok(d.firstFound <= d.lastFound && d.lastFound <= d.lastTest);
      assert.ok(d.lastProcessed < s.clock);
      assert.equal(d.severity, s.kbEntry(d.qid)!.severity);
      if (d.status === "Fixed") assert.ok(d.lastFixed > d.lastFound);
      if (d.status === "New") assert.equal(d.timesFound, 1);
    }
  }
  assert.ok(portless > 0 && info > 0 && potential > 0);
  const missing = s.missingKbQids();
  assert.ok(missing.length >= 1);
  assert.ok(missing.some((q) => used.has(q)), "a QID hosts have is missing from the KB");
  for (const q of missing) {
    assert.equal(s.kbEntry(q)!.inKb, false);
    assert.ok(!s.kbQids().includes(q));
  }
});

Deno.test("VmdrSubscription.advanceDay: every change is on a host processed after the previous clock", () => {
  const s = new VmdrSubscription({
    seed: 11,
    hosts: 150,
    detectionsPerHost: 8,
    qids: 200,
    changes: { scanShare: 0.3, fixShare: 0.2, reopenShare: 0.3, newDetectionsPerHost: 1 },
  });
  for (let day = 1; day <= 4; day++) {
    const before = states(s);
    const prevClock = s.clock;
    const r = s.advanceDay();
    assert.equal(r.day, day);
    assert.equal(s.clock, prevClock + 86400);
    assert.equal(r.clock, s.clock);
    const after = states(s);
    let fixed = 0, reopened = 0, added = 0, changedHosts = 0;
    for (const [id, now] of after) {
      const was = before.get(id) ?? new Map<string, string>();
      let changed = false;
      for (const [k, st] of now) {
        const old = was.get(k);
        if (old !== st) changed = true;
        if (old === undefined) added++;
        else if (old !== "Fixed" && st === "Fixed") fixed++;
        else if (old === "Fixed" && st === "Re-Opened") reopened++;
      }
      for (const k of was.keys()) assert.ok(now.has(k), "detections are never dropped");
      const h = s.hostIndexById(id);
      const processed = s.hostProcessed(h);
      assert.ok(processed < s.clock);
      if (changed) {
        changedHosts++;
        assert.ok(processed > prevClock, `host ${id} changed but was not processed today`);
      }
      if (processed > prevClock) {
        for (const d of s.detections(h, ALL)) {
          if (d.status !== "Fixed") assert.ok(d.lastFound > prevClock, "found again today");
        }
      }
    }
    assert.equal(fixed, r.fixed);
    assert.equal(reopened, r.reopened);
    assert.equal(added, r.newDetections);
    assert.ok(fixed > 0 && reopened > 0 && added > 0, `day ${day}: ${JSON.stringify(r)}`);
    assert.ok(changedHosts <= r.scannedHosts);
  }
});

Deno.test("VmdrSubscription.advanceDay fixes all of a host's findings, adds hosts and QIDs", () => {
  const s = new VmdrSubscription({ seed: 2, hosts: 80, detectionsPerHost: 6, qids: 150 });
  const maxId = s.hostId(s.hostCount - 1);
  const kbBefore = new Set(s.kbQids());
  const modBefore = new Map(s.kbQids().map((q) => [q, s.kbEntry(q)!]));
  const prevClock = s.clock;
  const r = s.advanceDay({ allFixedHosts: 2, newHosts: 3, newQids: 4, modifiedQids: 5 });

  assert.equal(r.allFixedHostIds.length, 2);
  for (const id of r.allFixedHostIds) {
    const list = s.detections(s.hostIndexById(id), ALL);
    assert.ok(list.length > 0 && list.every((d) => d.status === "Fixed"));
    assert.ok(list.some((d) => d.lastFixed > prevClock), "fixed today");
    assert.ok(!s.openDetections().has(s.hostAddress(s.hostIndexById(id))));
  }
  assert.equal(r.newHostIds.length, 3);
  for (const id of r.newHostIds) {
    assert.ok(id > maxId);
    const h = s.hostIndexById(id);
    const list = s.detections(h, ALL);
    assert.ok(list.length > 0 && list.every((d) => d.status === "New" && d.firstFound > prevClock));
  }
  assert.equal(r.newQids.length, 4);
  for (const q of r.newQids) {
    assert.ok(!kbBefore.has(q) && s.kbQids().includes(q));
    const e = s.kbEntry(q)!;
    assert.ok(e.published > prevClock && e.lastModified < s.clock);
  }
  assert.equal(r.modifiedQids.length, 5);
  for (const q of r.modifiedQids) {
    const was = modBefore.get(q)!, now = s.kbEntry(q)!;
    assert.ok(now.lastModified > prevClock && now.lastModified < s.clock);
    assert.equal(now.revision, was.revision + 1);
    assert.equal(now.cves.length, was.cves.length + 1, "a modification adds a CVE");
    assert.equal(now.title, was.title);
  }
  for (const q of kbBefore) {
    if (!r.modifiedQids.includes(q)) {
      assert.equal(s.kbEntry(q)!.lastModified, modBefore.get(q)!.lastModified);
    }
  }
});

Deno.test("VmdrSubscription.advanceDay purges hosts and moves hosts to other asset groups, and leaves the day's other changes as they were", () => {
  const opts = { seed: 5, hosts: 120, detectionsPerHost: 6, qids: 150 };
  const s = new VmdrSubscription(opts);
  const same = new VmdrSubscription(opts);
  const r = s.advanceDay({ purgedHosts: 3, regroupedHosts: 2 });
  const base = same.advanceDay({ purgedHosts: 0 });
  assert.deepEqual(
    { ...r, purgedHostIds: [], regroupedHostIds: [] },
    { ...base, purgedHostIds: [], regroupedHostIds: [] },
  );
  assert.equal(r.purgedHostIds.length, 3);
  for (const id of r.purgedHostIds) {
    const h = s.hostIndexById(id);
    assert.ok(s.isPurged(h) && !same.isPurged(h));
    assert.equal(s.hostMatches(h, {}), false, "in no answer");
    assert.ok(!r.newHostIds.includes(id));
  }
  // the ground truth loses exactly the purged hosts' open detections
  const gone = new Set(r.purgedHostIds.map((id) => s.hostAddress(s.hostIndexById(id))));
  const want = [...same.openDetectionKeys()].filter((k) => !gone.has(k.split("|")[0]!));
  assert.deepEqual([...s.openDetectionKeys()], want);
  assert.equal(r.regroupedHostIds.length, 2);
  for (const id of r.regroupedHostIds) {
    const h = s.hostIndexById(id);
    assert.notDeepEqual(s.host(h).agIds, same.host(h).agIds);
    assert.equal(s.hostProcessed(h), same.hostProcessed(h), "not processed again");
  }
  // by default a day purges max(1, 0.1 % of the hosts); a purged host stays purged
  const next = s.advanceDay();
  assert.equal(next.purgedHostIds.length, 1);
  assert.ok(r.purgedHostIds.every((id) => s.isPurged(s.hostIndexById(id))));
  s.setAssetGroups(0, [s.assetGroups[2]!.id]);
  assert.deepEqual(s.host(0).agIds, [s.assetGroups[2]!.id]);
  s.purge(0);
  assert.ok(s.isPurged(0) && !s.hostMatches(0, {}));
});

Deno.test("VmdrSubscription.openDetections is the open detections under the filters, by address", () => {
  const s = new VmdrSubscription({
    seed: 9,
    hosts: 300,
    detectionsPerHost: 8,
    qids: 250,
    ipv6OnlyShare: 0.1,
  });
  s.advanceDay();
  const naive = (q: VmdrQuery, keep: (d: DetectionRecord, h: number) => boolean) => {
    const out = new Map<string, string[]>();
    for (let h = 0; h < s.hostCount; h++) {
      if (s.isPurged(h)) continue; // purged: in no answer
      const list = s.detections(h, ALL).filter((d) =>
        OPEN_STATUSES.includes(d.status) &&
        (q.types ?? ["Confirmed", "Potential"]).includes(d.type) &&
        keep(d, h)
      ).map(detKey);
      if (list.length) out.set(s.hostAddress(h), list);
    }
    return out;
  };
  const truth = (q: VmdrQuery) =>
    new Map(
      [...s.openDetections(q)].map(([ip, l]) => [
        ip,
        l.map((d) => `${d.qid}|${d.port ?? ""}|${d.protocol ?? ""}`),
      ]),
    );

  assert.deepStrictEqual(truth({}), naive({}, () => true));
  const all = { types: DETECTION_TYPES } as const;
  assert.deepStrictEqual(truth(all), naive(all, () => true));
  assert.deepStrictEqual(truth({ severities: [3, 4, 5] }), naive({}, (d) => d.severity >= 3));
  const ag = s.assetGroups[2]!.id;
  assert.deepStrictEqual(truth({ agIds: [ag] }), naive({}, (_, h) => s.host(h).agIds.includes(ag)));
  const lo = (10 << 24) >>> 0, hi = lo + 120;
  assert.deepStrictEqual(
    truth({ ipv4: [[lo, hi]] }),
    naive({}, (_, h) => {
      const ip = s.host(h).ip;
      return ip !== null && +ip.split(".")[3]! <= 120 && ip.startsWith("10.0.0.");
    }),
  );
  const v6only = [...s.openDetections().keys()].filter((k) => k.includes(":"));
  assert.ok(v6only.length > 0, "IPv6-only hosts are keyed by their IPv6 address");
  for (const [ip, list] of s.openDetections()) {
    assert.ok(list.every((d) => d.status !== "Fixed" && d.type !== "Info"), ip);
  }
  const keys = s.openDetectionKeys({ severities: [5] });
  assert.equal(keys.size, [...s.openDetections({ severities: [5] }).values()].flat().length);
  for (const k of keys) assert.match(k, /^[0-9a-f.:]+\|\d+\|(\d+\|(tcp|udp)|\|)$/);
});

Deno.test("formatIpv6 writes the canonical form", () => {
  assert.equal(formatIpv6([0x2001, 0xdb8, 0x100, 5, 0, 0, 0, 0x1a]), "2001:db8:100:5::1a");
  assert.equal(formatIpv6([0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 1]), "2001:db8:100::1");
  assert.equal(formatIpv6([0x2001, 0xdb8, 0, 1, 0, 0, 1, 1]), "2001:db8:0:1::1:1");
  assert.equal(formatIpv6([1, 0, 0, 2, 0, 0, 0, 3]), "1:0:0:2::3");
  assert.equal(formatIpv6([0, 0, 0, 0, 0, 0, 0, 1]), "::1");
  assert.equal(formatIpv6([1, 2, 3, 4, 5, 6, 7, 8]), "1:2:3:4:5:6:7:8");
});

Deno.test("parseQualysDate and formatDateTime read and write Qualys's UTC dates", () => {
  assert.equal(parseQualysDate("2026-03-02T06:00:00Z"), Date.UTC(2026, 2, 2, 6) / 1000);
  assert.equal(parseQualysDate("2026-03-02"), Date.UTC(2026, 2, 2) / 1000);
  for (const bad of ["2026-02-30", "2026-13-01", "2026-03-02T24:00:00Z", "yesterday", ""]) {
    assert.equal(parseQualysDate(bad), undefined, bad);
  }
  assert.equal(formatDateTime(Date.UTC(2026, 0, 5, 9, 8, 7) / 1000), "2026-01-05T09:08:07Z");
  assert.throws(() => new VmdrSubscription({ start: "soon" }), RangeError);
  assert.throws(() => new VmdrSubscription({ qids: 0 }), RangeError);
});
