/**
 * Issue 20: the run record's `api_calls` and `bytes_downloaded` are the Qualys client's traffic:
 * every request it sent (retries and repeated fetches included) and every byte of answer it
 * read, whatever the call (small answers, streamed pages, a report download, error answers).
 * Against the simulator, whose log holds what it answered.
 */

import assert from "node:assert/strict";
import { fetchParsed, Traffic } from "../../lib/qualys/fetch_parsed.ts";
import { KbPageParser } from "../../lib/sources/detections/pages/kb_page.ts";
import { downloadReport } from "../../lib/sources/report/download_report.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { startQualysSim, VmdrSubscription } from "../../scripts/sim/qualys/mod.ts";
import { simClient } from "./_sim_client.ts";

const CA = createTestCa("traffic test CA");

Deno.test("QualysClient counts every request it sends and every answer byte it reads into the run's traffic", async () => {
  const subscription = new VmdrSubscription({ seed: 5, hosts: 6, detectionsPerHost: 3, qids: 20 });
  const report = new TextEncoder().encode(
    '<?xml version="1.0"?><ASSET_DATA_REPORT><HOST_LIST></HOST_LIST></ASSET_DATA_REPORT>',
  );
  const sim = await startQualysSim({
    reports: { "424242": report },
    vmdr: {
      subscription,
      faults: [
        { api: "kb", kind: "empty", request: 1 }, // a cut answer, fetched again
        { api: "kb", kind: "status", status: 503, request: 2 }, // retried by the client
      ],
    },
  }, { ca: CA });
  const traffic = { calls: 0, bytes: 0 };
  const client = simClient(sim, { traffic });
  try {
    await fetchParsed(
      client,
      { endpoint: "knowledge_base", params: { action: "list", details: "All", ids: "1-100000" } },
      () => new KbPageParser(),
      { what: "KnowledgeBase batch 1", traffic: new Traffic() },
    );
    await downloadReport(client, "424242", {
      parser: () => new ReportParser(),
      firstPollMs: 1,
      maxWaitMs: 60_000,
    });
    await sim.idle();
    // the KnowledgeBase: cut, 503, answered; the report: launch, status, fetch, delete
    assert.deepEqual(sim.log.filter((e) => e.api === "kb").map((e) => e.status), [200, 503, 200]);
    assert.ok(sim.log.filter((e) => e.api === "report").length >= 4);
    assert.equal(traffic.calls, sim.log.length);
    assert.equal(traffic.bytes, sim.log.reduce((n, e) => n + e.bytes, 0));
    assert.ok(traffic.bytes > report.length);
    assert.equal(client.traffic, traffic);
  } finally {
    await client.close();
    await sim.shutdown();
  }
});

Deno.test("QualysClient counts a refused answer's bytes once, though it reads them again to judge them", async () => {
  const sim = await startQualysSim({ reports: {}, password: "other" }, { ca: CA });
  const traffic = { calls: 0, bytes: 0 };
  const client = simClient(sim, { traffic });
  try {
    await assert.rejects(client.call({ action: "list" }), { name: "QualysApiError" });
    await sim.idle();
    assert.deepEqual(sim.log.map((e) => e.status), [401]);
    assert.equal(traffic.calls, 1);
    assert.equal(traffic.bytes, sim.log[0]!.bytes);
    assert.ok(traffic.bytes > 0);
  } finally {
    await client.close();
    await sim.shutdown();
  }
});
