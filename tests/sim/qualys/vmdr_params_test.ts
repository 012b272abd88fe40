/**
 * The VMDR routes' parameters: DATETIME and vm_processed_after, the detection filters, the host
 * selectors, the KnowledgeBase's ids and dates, and the SIMPLE_RETURN errors of bad credentials
 * and bad parameters.
 */

import assert from "node:assert/strict";
import {
  DETECTION_STATUSES,
  DETECTION_TYPES,
  formatDateTime,
  type VmdrQuery,
  VmdrSubscription,
} from "../../../scripts/sim/qualys/mod.ts";
import { allPages, expectedHosts, HLD, hostsOf, idsOf, KB, withVmdr } from "./_vmdr.ts";
import { at, child, kids, parseXml, textOf } from "./_xml.ts";

Deno.test("DATETIME is the simulated clock and vm_processed_after selects the day's hosts", async () => {
  const sub = new VmdrSubscription({ seed: 21, hosts: 120, detectionsPerHost: 5, qids: 150 });
  await withVmdr({ subscription: sub }, async (h) => {
    const first = await allPages(h, HLD, "action=list&truncation_limit=50&show_results=0");
    const checkpoint = textOf(at(first[0]!.root, "RESPONSE")!, "DATETIME")!;
    assert.equal(checkpoint, formatDateTime(sub.clock));
    assert.equal(checkpoint, "2026-03-02T06:00:00Z");
    const none = await allPages(h, HLD, `action=list&vm_processed_after=${checkpoint}`);
    assert.deepStrictEqual(idsOf(none), [], "nothing was processed after the clock");

    const day = sub.advanceDay({ allFixedHosts: 2, scanShare: 0.2 });
    const withFixed = await allPages(
      h,
      HLD,
      `action=list&truncation_limit=10&show_results=0&status=New,Active,Re-Opened,Fixed&vm_processed_after=${checkpoint}`,
    );
    assert.equal(
      textOf(at(withFixed[0]!.root, "RESPONSE")!, "DATETIME"),
      formatDateTime(day.clock),
    );
    const scanned = new Set<number>();
    for (let i = 0; i < sub.hostCount; i++) {
      if (sub.hostProcessed(i) > Date.parse(checkpoint) / 1000) scanned.add(sub.hostId(i));
    }
    const got = idsOf(withFixed);
    assert.deepStrictEqual(
      got,
      expectedHosts(sub, {
        statuses: DETECTION_STATUSES,
        vmProcessedAfter: Date.parse(checkpoint) / 1000,
      }),
    );
    assert.ok(got.every((id) => scanned.has(id)));
    assert.ok(
      got.length >= scanned.size - 3,
      "the scanned hosts, less those with only Info findings",
    );
    for (const id of [...day.allFixedHostIds, ...day.newHostIds]) {
      assert.ok(got.includes(id), `${id}`);
    }
    const openOnly = idsOf(
      await allPages(
        h,
        HLD,
        `action=list&status=New,Active,Re-Opened&vm_processed_after=${checkpoint}`,
      ),
    );
    for (const id of day.allFixedHostIds) {
      assert.ok(!openOnly.includes(id), "all fixed: not without Fixed");
    }
    assert.ok(openOnly.length > 0 && openOnly.every((id) => got.includes(id)));
  });
});

Deno.test("status, severities and vuln types filter the detections", async () => {
  await withVmdr({ keepAlive: "none" }, async (h) => {
    const count = async (params: string) => {
      const pages = await allPages(h, HLD, `action=list&show_results=0&${params}`);
      return pages.flatMap(hostsOf).flatMap((x) => kids(child(x, "DETECTION_LIST")!, "DETECTION"));
    };
    const total = (q: VmdrQuery) => {
      let n = 0;
      for (let i = 0; i < h.sub.hostCount; i++) {
        if (h.sub.hostMatches(i, q)) n += h.sub.countDetections(i, q);
      }
      return n;
    };
    const fixed = await count("status=Fixed");
    assert.ok(fixed.length > 0 && fixed.every((d) => textOf(d, "STATUS") === "Fixed"));
    assert.equal(fixed.length, total({ statuses: ["Fixed"] }));
    const dflt = await count("");
    assert.ok(dflt.every((d) => textOf(d, "STATUS") !== "Fixed" && textOf(d, "TYPE") !== "Info"));
    assert.equal(dflt.length, total({}));
    const open = await count("status=New,Active,Re-Opened");
    assert.equal(open.length, dflt.length);
    const high = await count("severities=3-5");
    assert.ok(high.every((d) => Number(textOf(d, "SEVERITY")) >= 3));
    assert.equal(high.length, total({ severities: [3, 4, 5] }));
    assert.deepStrictEqual(
      (await h.post(HLD, "action=list&severities=3-5")).text,
      (await h.post(HLD, "action=list&severities=3,4,5")).text,
    );
    const confirmed = await count("include_vuln_type=confirmed");
    assert.ok(confirmed.length > 0 && confirmed.every((d) => textOf(d, "TYPE") === "Confirmed"));
    const potential = await count("include_vuln_type=potential");
    assert.ok(potential.length > 0 && potential.every((d) => textOf(d, "TYPE") === "Potential"));
    const igs = await count("show_igs=1");
    assert.equal(igs.length, total({ types: DETECTION_TYPES }));
    assert.ok(igs.some((d) => textOf(d, "TYPE") === "Info"));
    const qid = Number(textOf(dflt[0]!, "QID"));
    const one = await count(`qids=${qid}`);
    assert.ok(one.length > 0 && one.every((d) => Number(textOf(d, "QID")) === qid));
  });
});

Deno.test("ids, id_min, id_max, ips, ipv6 and ag_ids select hosts", async () => {
  await withVmdr({ model: { ipv6OnlyShare: 0.15, hosts: 60 } }, async (h) => {
    const sub = h.sub;
    const ids = (params: string) =>
      allPages(h, HLD, `action=list&show_results=0&${params}`).then(idsOf);
    const id = (i: number) => sub.hostId(i);
    assert.deepStrictEqual(
      await ids(`ids=${id(3)}-${id(9)},${id(20)}`),
      expectedHosts(sub, { ids: [[id(3), id(9)], [id(20), id(20)]] }),
    );
    assert.ok((await ids(`ids=${id(3)}-${id(9)}`)).length >= 5);
    assert.deepStrictEqual(
      await ids(`id_min=${id(10)}&id_max=${id(30)}`),
      expectedHosts(sub, { idMin: id(10), idMax: id(30) }),
    );
    const byIp = await ids("ips=10.0.0.5-10.0.0.25,10.0.0.40/30");
    assert.ok(byIp.length > 10);
    for (const x of byIp) {
      const ip = sub.host(sub.hostIndexById(x)).ip!;
      const last = Number(ip.split(".")[3]);
      assert.ok((last >= 5 && last <= 25) || (last >= 40 && last <= 43), ip);
    }
    const v6 = [...Array(sub.hostCount).keys()].map((i) => sub.host(i)).filter((x) => x.ipv6);
    assert.ok(v6.length >= 2);
    assert.deepStrictEqual(await ids(`ipv6=${v6[0]!.ipv6},${v6[1]!.ipv6!.toUpperCase()}`), [
      v6[0]!.id,
      v6[1]!.id,
    ]);
    const ag = sub.assetGroups[3]!;
    const byAg = await ids(`ag_ids=${ag.id}`);
    assert.deepStrictEqual(byAg, expectedHosts(sub, { agIds: [ag.id] }));
    assert.deepStrictEqual(await ids(`ag_titles=${encodeURIComponent(ag.title)}`), byAg);
    const net = sub.networkIds.find((n) => n !== 0)!;
    assert.deepStrictEqual(
      await ids(`network_ids=${net}`),
      expectedHosts(sub, { networkIds: [net] }),
    );
    assert.ok((await ids(`network_ids=${net}`)).length > 0);
    assert.deepStrictEqual(await ids("network_ids=0-4000000000"), expectedHosts(sub, {}));
    assert.ok(byAg.length > 0 && byAg.length < sub.hostCount);
  });
});

Deno.test("KnowledgeBase answers ids batches and last_modified_after, without the unknown QIDs", async () => {
  await withVmdr({ keepAlive: "every" }, async (h) => {
    const sub = h.sub;
    const vulns = async (params: string) => {
      const a = await h.post(KB, `action=list&details=All&${params}`);
      assert.equal(a.status, 200);
      const page = parseXml(a.text);
      assert.ok(
        page.comments.some((c) => c.parent === "RESPONSE" && c.text.includes("keep-alive")),
      );
      return kids(at(page.root, "RESPONSE", "VULN_LIST") ?? page.root, "VULN");
    };
    const known = sub.kbQids();
    const missing = sub.missingKbQids()[0]!;
    const batch = [...known.slice(0, 5), missing];
    const got = await vulns(`ids=${batch.join(",")}`);
    assert.deepStrictEqual(got.map((v) => Number(textOf(v, "QID"))), known.slice(0, 5));
    for (const v of got) {
      const e = sub.kbEntry(Number(textOf(v, "QID")))!;
      assert.equal(textOf(v, "TITLE"), e.title);
      assert.equal(textOf(v, "VULN_TYPE"), e.vulnType);
      assert.equal(Number(textOf(v, "SEVERITY_LEVEL")), e.severity);
      assert.equal(textOf(v, "LAST_SERVICE_MODIFICATION_DATETIME"), formatDateTime(e.lastModified));
      assert.deepStrictEqual(
        kids(child(v, "CVE_LIST") ?? v, "CVE").map((c) => textOf(c, "ID")),
        e.cves.map((c) => c.id),
      );
      assert.deepStrictEqual(
        kids(child(v, "BUGTRAQ_LIST") ?? v, "BUGTRAQ").map((c) => textOf(c, "ID")),
        e.bugtraqs.map((c) => c.id),
      );
      assert.equal(child(v, "DIAGNOSIS")?.text ?? null, e.diagnosis);
    }
    const every = await vulns("");
    assert.equal(every.length, known.length);
    assert.ok(
      every.some((v) => child(v, "CVE_LIST")) && every.some((v) => child(v, "BUGTRAQ_LIST")),
    );
    assert.ok(every.some((v) => child(v, "DIAGNOSIS") && child(v, "SOLUTION")));
    const basic = parseXml((await h.post(KB, `action=list&ids=${known[0]}-${known[9]}`)).text);
    const basicVulns = kids(at(basic.root, "RESPONSE", "VULN_LIST")!, "VULN");
    assert.equal(basicVulns.length, 10);
    assert.ok(basicVulns.every((v) => !child(v, "DIAGNOSIS") && !child(v, "SOLUTION")));

    const since = formatDateTime(sub.clock);
    assert.deepStrictEqual(await vulns(`last_modified_after=${since}`), []);
    const day = sub.advanceDay({ newQids: 3, modifiedQids: 4 });
    const changed = await vulns(`last_modified_after=${since}`);
    assert.deepStrictEqual(
      changed.map((v) => Number(textOf(v, "QID"))),
      [...day.newQids, ...day.modifiedQids].sort((a, b) => a - b),
    );
    const ids = parseXml(
      (await h.post(KB, `action=list&details=None&ids=${day.newQids.join(",")}`)).text,
    );
    assert.deepStrictEqual(
      kids(at(ids.root, "RESPONSE", "ID_SET")!, "ID").map((n) => Number(n.text)),
      [...day.newQids].sort((a, b) => a - b),
    );
  });
});

Deno.test("bad credentials and bad parameters get SIMPLE_RETURN errors", async () => {
  await withVmdr({}, async (h) => {
    const client = Deno.createHttpClient({ caCerts: [h.sim.caPem] });
    const noAuth = await fetch(h.sim.url + HLD + "?action=list", {
      headers: { "x-requested-with": "t" },
      client,
    }).then(async (r) => ({ status: r.status, text: await r.text() }));
    client.close();
    assert.equal(noAuth.status, 401);
    assert.match(noAuth.text, /<CODE>2000<\/CODE>/);
    for (
      const [params, code] of [
        ["action=list&bogus=1", "1901"],
        ["truncation_limit=5", "1903"],
        ["action=launch", "1905"],
        ["action=list&severities=0-9", "1905"],
        ["action=list&status=Open", "1905"],
        ["action=list&vm_processed_after=yesterday", "1905"],
        ["action=list&ips=10.0.0.300", "1905"],
        ["action=list&include_vuln_type=all", "1905"],
        ["action=list&ag_ids=1", "1905"],
      ] as const
    ) {
      const a = await h.post(HLD, params);
      assert.equal(a.status, 400, params);
      assert.equal(textOf(at(parseXml(a.text).root, "RESPONSE")!, "CODE"), code, params);
    }
  });
});
