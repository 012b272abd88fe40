import assert from "node:assert/strict";
import { QualysApiError } from "../../../../lib/errors.ts";
import { QualysClient } from "../../../../lib/qualys/client.ts";
import { fetchDetections } from "../../../../lib/sources/detections/fetch/fetch_detections.ts";
import { Traffic } from "../../../../lib/qualys/fetch_parsed.ts";
import { ListingBuffer } from "../../../../lib/sources/detections/pages/listings.ts";
import { prepareStateDir, tryLock } from "../../../../lib/state/state_dir.ts";
import { statePath } from "../../../../lib/sources/detections/state/sync_state.ts";
import {
  OVERLAP_SECONDS,
  secondsBefore,
} from "../../../../lib/sources/detections/state/sync_state.ts";
import {
  formatDateTime,
  type SimLogEntry,
  type VmdrFault,
} from "../../../../scripts/sim/qualys/mod.ts";
import { dcKeys, diff, replayAll, truth, withHarness } from "../_harness.ts";

const detectionCalls = (log: SimLogEntry[]) => log.filter((e) => e.api === "detection");

/** The most log entries of `api` whose bodies overlapped in time. */
function maxOverlap(log: SimLogEntry[]): number {
  const events = log.flatMap((e) => [[e.startMs, 1], [e.endMs ?? Infinity, -1]] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0, max = 0;
  for (const [, d] of events) max = Math.max(max, n += d);
  return max;
}

function addresses(text: string): string[] {
  return [...text.matchAll(/^AddScanResult,([^,]+),/gm)].map((m) => m[1]!);
}

Deno.test("detection sync: a full run, then incremental ones, leave the DC with exactly the open detections", async () => {
  await withHarness({}, async (h) => {
    const first = await h.run();
    assert.equal(first.code, 0, String(first.error));
    assert.equal(first.summary?.mode, "full");
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
    assert.equal(await h.checkpoint(), formatDateTime(h.sub.clock));
    const full = detectionCalls(h.sim.log);
    assert.ok(full.every((e) => e.method === "POST" && e.params.show_results === "0"));
    // a first run has no list of what the destination holds: it asks for Fixed too (README)
    assert.ok(full.every((e) => e.params.status === "New,Active,Re-Opened,Fixed"));
    assert.ok(full.every((e) => e.params.vm_processed_after === undefined));
    for (let day = 0; day < 2; day++) {
      const checkpoint = formatDateTime(h.sub.clock);
      const report = h.sub.advanceDay({ allFixedHosts: 1 });
      const before = h.sim.log.length;
      const r = await h.run();
      assert.equal(r.code, 0, String(r.error));
      assert.equal(r.summary?.mode, "incremental");
      const calls = detectionCalls(h.sim.log.slice(before));
      assert.ok(calls.length > 0);
      for (const e of calls) {
        // five minutes of overlap: a host processed in the checkpoint's own second is not missed
        assert.equal(e.params.vm_processed_after, secondsBefore(checkpoint, OVERLAP_SECONDS));
        assert.equal(e.params.status, "New,Active,Re-Opened,Fixed");
      }
      // the host whose findings were all fixed is cleared, with ScanUpdate
      const cleared = report.allFixedHostIds.map((id) =>
        h.sub.hostAddress(h.sub.hostIndexById(id))
      );
      for (const ip of cleared) {
        assert.match(
          r.delivered!,
          new RegExp(`^DeleteScanResult,${ip},"QualysGuard"\nScanUpdate$`, "m"),
        );
      }
      assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
      assert.equal(await h.checkpoint(), formatDateTime(h.sub.clock));
    }
    // -full with the state whole: its list of hosts is what gets cleared, no Fixed detections
    h.sub.advanceDay({ allFixedHosts: 1 });
    const before = h.sim.log.length;
    const f = await h.run({ full: true });
    assert.equal(f.summary?.mode, "full");
    const calls = detectionCalls(h.sim.log.slice(before));
    assert.ok(calls.every((e) => e.params.status === "New,Active,Re-Opened"));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
  });
});

Deno.test("detection sync: ID ranges are fetched at once up to the concurrency limit, never above, each host once", async () => {
  await withHarness({ sim: { pageLatencyMs: 40, concurrencyLimit: 2 } }, async (h) => {
    const r = await h.run({ pageSize: 5, kbBatchSize: 10 });
    assert.equal(r.code, 0, String(r.error));
    const calls = detectionCalls(h.sim.log);
    // the KnowledgeBase is asked while the pages come, within its own limit
    const kb = h.sim.log.filter((e) => e.api === "kb");
    assert.ok(kb[0]!.startMs < Math.max(...calls.map((e) => e.endMs!)));
    assert.ok(maxOverlap(kb) <= 2);
    assert.ok(calls.length >= 8, `${calls.length} pages`);
    assert.equal(maxOverlap(calls), 2);
    assert.ok(calls.every((e) => e.status === 200 && e.params.truncation_limit === "5"));
    const ips = addresses(r.delivered!);
    assert.equal(new Set(ips).size, h.sub.openDetections().size);
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
    // QC_MAX_CONCURRENCY's cap: one call at a time
    const before = h.sim.log.length;
    assert.equal((await h.run({ pageSize: 5, full: true, maxConcurrency: 1 })).code, 0);
    assert.equal(maxOverlap(detectionCalls(h.sim.log.slice(before))), 1);
  });
});

Deno.test("fetchDetections follows the paging WARNING's id_min until no WARNING comes", async () => {
  await withHarness({}, async (h) => {
    const client = QualysClient.open({
      url: h.sim.url,
      userId: "sim_user",
      password: "sim_pass",
      caPem: h.sim.caPem,
    });
    try {
      const page = new ListingBuffer();
      // a host list that names no ID leaves one open range: one chain of pages
      const result = await fetchDetections(client, page, {
        params: { show_results: "0", status: "New,Active,Re-Opened" },
        hostParams: { ids: "1" },
        traffic: new Traffic(),
        pageSize: 7,
      });
      const calls = detectionCalls(h.sim.log);
      assert.equal(result.pages, Math.ceil(h.sub.openDetections().size / 7));
      assert.equal(calls.length, result.pages);
      assert.deepEqual(
        calls.slice(1).map((e) => Number(e.params.id_min)),
        calls.slice(0, -1).map((e) => e.nextIdMin),
      );
      assert.equal(page.listings, h.sub.openDetections().size);
    } finally {
      await client.close();
    }
  });
});

/** The client, with each Host List Detection answer's WARNING URL emptied and its CODE `code`. */
function withoutWarningUrl(client: QualysClient, code: string): QualysClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === "fetchStream") {
        return async (...args: Parameters<QualysClient["fetchStream"]>) => {
          const answer = await target.fetchStream(...args);
          if (args[0] !== "detections") return answer;
          const text = (await new Response(answer.body).text())
            .replace(/<URL>[\s\S]*?<\/URL>/, "<URL><![CDATA[]]></URL>")
            .replace(/<CODE>1980<\/CODE>/, `<CODE>${code}</CODE>`);
          const bytes = new TextEncoder().encode(text);
          const body = new ReadableStream<Uint8Array>({
            type: "bytes",
            start(c) {
              c.enqueue(bytes);
              c.close();
            },
          });
          return { ...answer, body, contentLength: undefined };
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

Deno.test("fetchDetections: a WARNING 1980 without its URL fails (exit 3) instead of dropping the rest of the range; another code without a URL is warned and ends it", async () => {
  await withHarness({}, async (h) => {
    const client = QualysClient.open({
      url: h.sim.url,
      userId: "sim_user",
      password: "sim_pass",
      caPem: h.sim.caPem,
    });
    try {
      const fetch = (code: string, page: ListingBuffer, warnings: string[]) =>
        // a host list that names no ID leaves one open range: one chain of pages
        fetchDetections(withoutWarningUrl(client, code), page, {
          params: { show_results: "0", status: "New,Active,Re-Opened" },
          hostParams: { ids: "1" },
          traffic: new Traffic(),
          pageSize: 7,
          onWarning: (m) => warnings.push(m),
        });
      assert.ok(h.sub.openDetections().size > 7);
      const warnings: string[] = [];
      await assert.rejects(fetch("1980", new ListingBuffer(), warnings), (e) => {
        assert.ok(e instanceof QualysApiError);
        assert.equal(e.exitCode, 3);
        assert.equal(e.code, "1980");
        assert.match(
          e.message,
          /host detection page 1 says it is not the last \(WARNING CODE 1980 "[^"]+"\) but gives no URL for the next page: the rest of its ID range \(id_min none, id_max none\) cannot be fetched/,
        );
        return true;
      });
      assert.deepEqual(warnings, []);
      // another code without a URL: said, and the range ends there (as before)
      const page = new ListingBuffer();
      const result = await fetch("1234", page, warnings);
      assert.equal(result.pages, 1);
      assert.equal(page.listings, 7);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^Qualys warned on a host detection page: 1234 /);
    } finally {
      await client.close();
    }
  });
});

Deno.test("detection sync: a page cut mid-way is fetched again, and none of its hosts is imported twice", async () => {
  await withHarness({ sim: { concurrencyLimit: 1 } }, async (h) => {
    h.sim.vmdr!.addFault({ kind: "cut", request: 2, cutAfter: 3 });
    const r = await h.run({ pageSize: 10 });
    assert.equal(r.code, 0, String(r.error));
    assert.ok(r.warnings.some((w) => /was cut after \d+ bytes.*fetching it again/.test(w)));
    const ips = addresses(r.delivered!);
    const blocks = r.delivered!.split("ScanFlush\n").length - 1;
    assert.equal(blocks, new Set(ips).size); // one block per host
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
  });
});

Deno.test("detection sync: a 5xx, a 409 (1960 and 1965) and a cut on any API are waited out or retried, and the run delivers everything once", async () => {
  await withHarness({ sim: { concurrencyLimit: 1 } }, async (h) => {
    for (
      const f of [
        { request: 2, kind: "status", status: 502 },
        { request: 4, kind: "conflict" },
        { api: "kb", request: 1, kind: "conflict", code: "1965", toWaitSec: 90 },
        { api: "kb", request: 3, kind: "cut", cutAfter: 1 },
        { api: "host", request: 1, kind: "status", status: 503 },
      ] satisfies VmdrFault[]
    ) h.sim.vmdr!.addFault(f);
    const r = await h.run({ pageSize: 8, kbBatchSize: 10 });
    assert.equal(r.code, 0, String(r.error));
    assert.deepEqual(
      h.sim.log.filter((e) => e.fault).map((e) => [e.api, e.fault]).sort(),
      [["detection", "conflict"], ["detection", "status"], ["host", "status"], ["kb", "conflict"], [
        "kb",
        "cut",
      ]].sort(),
    );
    // 1965 waits what Qualys says (90 s), 1960 the 30 s Qualys's own clients wait
    assert.ok(h.waits.includes(90_000), `waits ${h.waits}`);
    assert.ok(h.waits.includes(30_000), `waits ${h.waits}`);
    const ips = addresses(r.delivered!);
    assert.equal(r.delivered!.split("ScanFlush\n").length - 1, new Set(ips).size);
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
    assert.equal(await h.checkpoint(), formatDateTime(h.sub.clock));
  });
});

Deno.test("detection sync: the KnowledgeBase cache asks only for QIDs it lacks or that changed, and picks up their change", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run({ kbBatchSize: 20 })).code, 0);
    const kb1 = h.sim.log.filter((e) => e.api === "kb");
    assert.ok(kb1.length >= 2 && kb1.every((e) => e.params.details === "All"));
    const cacheName = [...Deno.readDirSync(h.stateDir)].find((e) =>
      e.name.endsWith(".jsonl")
    )!.name;
    const cacheFile = `${h.stateDir}/${cacheName}`;
    assert.equal(Deno.statSync(cacheFile).mode! & 0o777, 0o600);
    assert.equal(Deno.statSync(h.stateDir).mode! & 0o777, 0o700);
    const cached = new Set(
      (await Deno.readTextFile(cacheFile)).split("\n").filter((l) => l.startsWith('{"q":'))
        .map((l) => JSON.parse(l).q as number),
    );
    // titles and CVEs reach the commands
    const withCve = [...cached].find((q) => h.sub.kbEntry(q)!.cves[0]?.id)!;
    const cve = h.sub.kbEntry(withCve)!.cves[0]!.id;
    assert.match(h.delivered[0]!, new RegExp(`,${withCve},[^\\n]*"cve_ids: [^"]*${cve}`));

    const checkpoint = formatDateTime(h.sub.clock);
    const before = h.sim.log.length;
    const day = h.sub.advanceDay({ modifiedQids: 30, scanShare: 1, newQids: 2 });
    const r = await h.run({ kbBatchSize: 20 });
    assert.equal(r.code, 0, String(r.error));
    const kb2 = h.sim.log.slice(before).filter((e) => e.api === "kb");
    // the same five minutes of overlap as the pages
    assert.equal(kb2[0]!.params.last_modified_after, secondsBefore(checkpoint, OVERLAP_SECONDS));
    assert.equal(kb2[0]!.params.details, "None");
    const asked = new Set(
      kb2.slice(1).flatMap((e) =>
        e.params.ids!.split(",").flatMap((p) => {
          const [lo, hi] = p.split("-").map(Number);
          return Array.from({ length: (hi ?? lo!) - lo! + 1 }, (_, i) => lo! + i);
        })
      ),
    );
    const modified = new Set<number>();
    h.sub.forEachKbQid((q, mod) => mod > h.sub.clock - 86400 - OVERLAP_SECONDS && modified.add(q));
    const used = new Set([...r.delivered!.matchAll(/^AddScanResult,[^,]+,"QualysGuard",(\d+),/gm)]
      .map((m) => Number(m[1])));
    const expected = new Set([...used].filter((q) => !cached.has(q) || modified.has(q)));
    assert.deepEqual(asked, expected);
    assert.ok(asked.size < used.size, `asked ${asked.size} of ${used.size}`);
    // a modified QID that hosts have: its new CVE is in the commands
    const changed = day.modifiedQids.find((q) => used.has(q) && h.sub.kbEntry(q)!.cves.at(-1)?.id);
    assert.ok(changed !== undefined);
    const added = h.sub.kbEntry(changed)!.cves.at(-1)!.id;
    assert.match(r.delivered!, new RegExp(`,${changed},[^\\n]*${added}`));
    // a damaged cache is said and fetched again
    await Deno.writeTextFile(cacheFile, '{"q":1,\n');
    const r3 = await h.run();
    assert.equal(r3.code, 0);
    assert.ok(r3.warnings.some((w) => /KnowledgeBase cache is damaged/.test(w)));
  });
});

Deno.test("detection sync: a KnowledgeBase cache entry with a whole head and a damaged body is said once and fetched again, never exit 7", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    const name = [...Deno.readDirSync(h.stateDir)].find((e) => e.name.endsWith(".jsonl"))!.name;
    const path = `${h.stateDir}/${name}`;
    const lines = Deno.readTextFileSync(path).split("\n");
    const qid = JSON.parse(lines[0]!).q as number;
    // damage the first entry after its head (a flipped block on disk, a bad edit)
    lines[0] = lines[0]!.slice(0, lines[0]!.indexOf(",") + 1) + "\u0000\u0000garbage";
    Deno.writeTextFileSync(path, lines.join("\n"));
    const before = h.sim.log.length;
    const r = await h.run({ full: true });
    assert.equal(
      r.code,
      0,
      `exit ${r.code}: ${(r.error as Error)?.message}; warnings: ${r.warnings.join(" | ")}`,
    );
    const said = r.warnings.filter((w) => /KnowledgeBase cache is damaged/.test(w));
    assert.deepEqual(said, [
      `${path}: the KnowledgeBase cache is damaged (QID ${qid}: its entry makes no sense): it is fetched again`,
    ]);
    // asked for again, and its title and IDs reach the commands as the first run sent them
    const asked = h.sim.log.slice(before).filter((e) => e.api === "kb" && e.params.ids);
    assert.ok(asked.some((e) => e.params.ids!.split(",").includes(String(qid))));
    const results = (text: string) =>
      text.split("\n").filter((l) => l.includes(`"QualysGuard",${qid},`)).sort();
    assert.ok(results(h.delivered[0]!).length > 0);
    assert.deepEqual(results(r.delivered!), results(h.delivered[0]!));
    // the new cache holds it whole: the next run says nothing
    const healed = Deno.readTextFileSync(path).split("\n").filter((l) => l.startsWith('{"q":'));
    assert.ok(healed.some((l) => l.startsWith(`{"q":${qid},`) && JSON.parse(l).q === qid));
    const r2 = await h.run();
    assert.equal(r2.code, 0);
    assert.deepEqual(r2.warnings.filter((w) => /KnowledgeBase cache/.test(w)), []);
  });
});

Deno.test("detection sync: -full after incremental runs sends everything again and clears hosts no longer listed", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    h.sub.advanceDay({ allFixedHosts: 2 });
    // this run fails at the destination: the all-fixed hosts keep their results there
    assert.equal((await h.run({ delivery: "down" })).code, 5);
    h.sub.advanceDay({ allFixedHosts: 1, scanShare: 0 });
    const before = h.sim.log.length;
    const r = await h.run({ full: true });
    assert.equal(r.code, 0);
    for (const e of detectionCalls(h.sim.log.slice(before))) {
      assert.equal(e.params.status, "New,Active,Re-Opened"); // the hosts to clear are known
      assert.equal(e.params.vm_processed_after, undefined);
    }
    assert.equal(r.summary?.mode, "full");
    assert.ok(r.summary!.hostsCleared >= 3, `${r.summary!.hostsCleared} cleared`);
    assert.ok(r.infos.some((m) => /Full sync .* \(-full\)/.test(m)));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
  });
});

Deno.test("detection sync: severities, vuln_types, asset groups and IPv4 ip_ranges narrow the query; ip_ranges filters locally too", async () => {
  const yaml = "severities: 4-5\nvuln_types: confirmed, info\nasset_group_ids: 4601101, 4601104\n" +
    "ip_ranges: 10.0.0.1-10.0.0.30, 2001:db8::/32\n";
  await withHarness({ yaml, model: { hosts: 60 } }, async (h) => {
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    const e = detectionCalls(h.sim.log)[0]!;
    assert.equal(e.params.severities, "4,5");
    assert.equal(e.params.include_vuln_type, "confirmed");
    assert.equal(e.params.show_igs, "1");
    assert.equal(e.params.ag_ids, "4601101,4601104");
    assert.equal(e.params.ips, undefined); // an IPv6 range: the query cannot be narrowed to IPv4
    const inRange = (ip: string) => {
      const last = Number(ip.split(".")[3]);
      return ip.startsWith("2001:db8:") || (ip.startsWith("10.0.0.") && last >= 1 && last <= 30);
    };
    const expected = new Set(
      [...truth(h.sub, {
        severities: [4, 5],
        types: ["Confirmed", "Info"],
        agIds: [4601101, 4601104],
      })].filter((k) => inRange(k.split("|")[0]!)),
    );
    assert.ok(expected.size > 0);
    const got = dcKeys(replayAll(h.delivered));
    assert.deepEqual(got, expected, diff(got, expected));
  });
  await withHarness({ yaml: "ip_ranges: 10.0.0.0/29, 10.0.0.20\n" }, async (h) => {
    assert.equal((await h.run()).code, 0);
    assert.equal(detectionCalls(h.sim.log)[0]!.params.ips, "10.0.0.0-10.0.0.7,10.0.0.20");
    assert.equal(
      h.sim.log.find((e) => e.api === "host")!.params.ips,
      "10.0.0.0-10.0.0.7,10.0.0.20",
    );
    assert.deepEqual(
      dcKeys(replayAll(h.delivered)),
      truth(h.sub, { ipv4: [[167772160, 167772167], [167772180, 167772180]] }),
    );
  });
});

Deno.test("detection sync: an IPv6-only host is sent with its IPv6 address, a dual-stack one with its IPv4", async () => {
  await withHarness({ model: { ipv6OnlyShare: 0.4, dualStackShare: 0.3 } }, async (h) => {
    const r = await h.run();
    assert.equal(r.code, 0);
    const ips = new Set(addresses(r.delivered!));
    assert.ok([...ips].some((ip) => ip.includes(":")));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
  });
});

// Each Qualys failure in a simulator of its own: a failed run may leave a cancelled request on
// the wire that reaches the simulator later, and would use up a fault meant for the next run.
const QUALYS_FAILURES: [string, VmdrFault[], RegExp][] = [
  [
    "Host List Detection fails for good (5xx beyond the retries)",
    [1, 2, 3, 4, 5].map((request) => ({ kind: "status", status: 503, request })),
    /HTTP 503.*gave up|503/,
  ],
  [
    "a Qualys error in the KnowledgeBase",
    [{ api: "kb", kind: "simpleReturn", code: "2000", status: 401, request: 1 }],
    /CODE 2000: Bad Login\/Password/,
  ],
  [
    "a Qualys error on a page, with HTTP 200",
    [{ kind: "simpleReturn", code: "999", text: "Internal error", status: 200, request: 1 }],
    /CODE 999: Internal error/,
  ],
  [
    "the Host List fails for good",
    [1, 2, 3, 4, 5].map((request) => ({ api: "host", kind: "status", status: 500, request })),
    /500/,
  ],
];

for (const [what, faults, message] of QUALYS_FAILURES) {
  Deno.test(`detection sync: ${what}: exit 3, nothing delivered, the checkpoint stays`, async () => {
    await withHarness({}, async (h) => {
      assert.equal((await h.run()).code, 0);
      const cp = await h.checkpoint();
      h.sub.advanceDay();
      for (const f of faults) h.sim.vmdr!.addFault(f);
      const r = await h.run();
      assert.equal(r.code, 3, String(r.error));
      assert.match(String(r.error), message);
      assert.equal(r.delivered, undefined);
      assert.equal(await h.checkpoint(), cp);
      // the next night catches up
      assert.equal((await h.run()).code, 0);
      assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
    });
  });
}

Deno.test("detection sync: the DC unreachable or cut (exit 5) leaves the checkpoint; exit 6 moves it; a damaged state is a full sync", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    const cp = await h.checkpoint();
    h.sub.advanceDay();
    // the Defense Center cannot be reached, or drops the connection half-way: exit 5
    assert.equal((await h.run({ delivery: "down" })).code, 5);
    assert.equal((await h.run({ delivery: "cut" })).code, 5);
    assert.equal(await h.checkpoint(), cp);
    // it rejects some commands: exit 6, the data is there, the checkpoint moves
    const r6 = await h.run({ delivery: "rejected" });
    assert.equal(r6.code, 6);
    assert.equal(await h.checkpoint(), formatDateTime(h.sub.clock));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
    // a damaged state: a warning and a full sync, never a crash
    const name = [...Deno.readDirSync(h.stateDir)].find((e) => /^sync-.*json$/.test(e.name))!.name;
    await Deno.writeTextFile(`${h.stateDir}/${name}`, "{ not json");
    const r = await h.run();
    assert.equal(r.code, 0);
    assert.equal(r.summary?.mode, "full");
    assert.ok(
      r.warnings.some((w) => /sync state is damaged \(not JSON\): this run is a full sync/.test(w)),
    );
    // the hosts it held are not known: Fixed detections are asked for, to clear all-fixed hosts
    assert.equal(detectionCalls(h.sim.log).at(-1)!.params.status, "New,Active,Re-Opened,Fixed");
  });
});

Deno.test("detection sync: a run for a destination another run holds stops at once (exit 7)", async () => {
  await withHarness({}, async (h) => {
    await prepareStateDir(h.stateDir);
    const lockPath = (await statePath(h.stateDir, h.destination)).replace(/\.json$/, ".lock");
    const release = await tryLock(lockPath);
    assert.ok(release);
    try {
      const r = await h.run();
      assert.equal(r.code, 7);
      assert.match(String(r.error), /another run is syncing dc .*: this one stops/);
      assert.equal(h.sim.log.length, 0);
    } finally {
      release();
    }
    assert.equal((await h.run()).code, 0);
  });
});

Deno.test("detection sync: set_os sends each host's OS from OS_CPE or the OS text; clear_clean_hosts: n clears nothing, with a warning", async () => {
  await withHarness({ yaml: "set_os: y\n" }, async (h) => {
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    const setOs = [...r.delivered!.matchAll(/^SetOS,([^,]+),/gm)].map((m) => m[1]!);
    assert.ok(setOs.length > 0);
    assert.ok(r.infos.some((m) => new RegExp(`SetOS on ${setOs.length} hosts`).test(m)));
    assert.deepEqual(dcKeys(replayAll(h.delivered)), truth(h.sub));
  });
  await withHarness({ yaml: "clear_clean_hosts: n\n" }, async (h) => {
    assert.equal((await h.run()).code, 0);
    h.sub.advanceDay({ allFixedHosts: 2 });
    const r = await h.run();
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.delivered!, /DeleteScanResult/);
    assert.ok(
      r.warnings.some((w) => /clear_clean_hosts: n: hosts whose findings are all fixed/.test(w)),
    );
  });
});
