/**
 * Issue 18, item 5: an HTTP status is never lost on a body that is not a Qualys answer. A non-2xx
 * answer with an empty body or a page of a proxy or firewall is a Qualys API error (exit 3, or
 * retried when the status is one to retry) naming the status, the call and the likely cause; an
 * HTTP 200 with an empty body is a cut answer, fetched again (at most 5 times). Against the
 * simulator over HTTPS.
 */

import assert from "node:assert/strict";
import { exitCodeOf, QualysApiError } from "../../lib/errors.ts";
import { QualysClient, type QualysClientOptions } from "../../lib/qualys/client.ts";
import { downloadReport } from "../../lib/sources/report/download_report.ts";
import { DetectionPageParser } from "../../lib/sources/detections/pages/detection_page.ts";
import { fetchParsed, Traffic } from "../../lib/qualys/fetch_parsed.ts";
import { IdListParser } from "../../lib/sources/detections/pages/id_list.ts";
import { KbPageParser } from "../../lib/sources/detections/pages/kb_page.ts";
import { Tag } from "../../lib/xml/tags.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import {
  type QualysSim,
  type QualysSimScript,
  startQualysSim,
  type VmdrFault,
  VmdrSubscription,
} from "../../scripts/sim/qualys/mod.ts";

const CA = createTestCa("HTTP status test CA");

async function withClient(
  script: Omit<QualysSimScript, "vmdr"> & { faults?: VmdrFault[] },
  body: (client: QualysClient, sim: QualysSim, warnings: string[]) => Promise<void>,
  options: Partial<QualysClientOptions> = {},
): Promise<void> {
  const subscription = new VmdrSubscription({
    seed: 3,
    hosts: 12,
    detectionsPerHost: 4,
    qids: 30,
  });
  const sim = await startQualysSim({
    ...script,
    vmdr: { subscription, faults: script.faults ?? [] },
  }, { ca: CA });
  const warnings: string[] = [];
  const client = QualysClient.open({
    url: sim.url,
    userId: "sim_user",
    password: "sim_pass",
    caPem: sim.caPem,
    sleep: () => Promise.resolve(),
    random: () => 0.5,
    log: { warn: (m) => warnings.push(m), info() {}, debug() {} },
    ...options,
  });
  try {
    await body(client, sim, warnings);
  } finally {
    await client.close();
    await sim.idle();
    await sim.shutdown();
  }
}

const hostIds = (client: QualysClient) =>
  fetchParsed(
    client,
    { endpoint: "hosts", params: { action: "list", details: "None", truncation_limit: "0" } },
    () => new IdListParser(Tag.HOST_LIST_OUTPUT),
    { what: "the host ID list", traffic: new Traffic() },
  );

const detectionPage = (client: QualysClient) =>
  fetchParsed(
    client,
    { endpoint: "detections", params: { action: "list", truncation_limit: "5" } },
    () => new DetectionPageParser(),
    { what: "host detection page 1", traffic: new Traffic() },
  );

const kbCall = (client: QualysClient) =>
  fetchParsed(
    client,
    { endpoint: "knowledge_base", params: { action: "list", details: "All", ids: "1-100000" } },
    () => new KbPageParser(),
    { what: "KnowledgeBase batch 1", traffic: new Traffic() },
  );

/** Asserts a Qualys API error (exit 3) with `status` whose one-line message matches `re`. */
async function rejectsWith(p: Promise<unknown>, status: number, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof QualysApiError, String(e));
    assert.equal(exitCodeOf(e), 3);
    assert.equal(e.status, status, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes("\n"), e.message);
    return true;
  });
}

Deno.test("HTTP 401 with an empty body, and the credentials unproven: exit 3 naming the status, the call and the credentials", async () => {
  await withClient({
    faults: [{ api: "host", kind: "empty", status: 401, request: 1 }],
  }, async (client, sim) => {
    await rejectsWith(
      hostIds(client),
      401,
      /^Qualys answered HTTP 401 with an empty body \(action=list on \/api\/5\.0\/fo\/asset\/host\/\): the credentials were refused: check user_id and password .*token from the Qualys API gateway/,
    );
    assert.deepEqual(sim.log.map((e) => [e.api, e.status]), [["host", 401]]);
  });
});

Deno.test("HTTP 401 with an empty body while Basic worked for another call, no gateway known: exit 3 naming the status, the call and gateway_url", async () => {
  await withClient({
    faults: [{ api: "host", kind: "empty", status: 401, request: 1 }],
  }, async (client) => {
    await detectionPage(client);
    await rejectsWith(
      hostIds(client),
      401,
      /^Host List API 5\.0 answered HTTP 401 to action=list on \/api\/5\.0\/fo\/asset\/host\/ although user_id and password worked for Host List Detection API 5\.0 in this run: it wants a token from the Qualys API gateway, and none is known for url https:\/\/127\.0\.0\.1:\d+: set gateway_url/,
    );
  });
});

Deno.test("HTTP 403 with an HTML page: exit 3 naming the status, the call, a proxy or WAF and the API permission; not retried", async () => {
  await withClient({
    faults: [{ kind: "status", status: 403, request: 1 }],
  }, async (client, sim) => {
    await rejectsWith(
      detectionPage(client),
      403,
      /^Qualys answered HTTP 403 with a body that is not a Qualys answer \(\d+ bytes of text\/html\) \(action=list on \/api\/5\.0\/fo\/asset\/host\/vm\/detection\/\): a proxy or a web application firewall refused the call, or the Qualys user lacks the API permission/,
    );
    assert.equal(sim.log.filter((e) => e.api === "detection").length, 1);
  });
});

Deno.test("HTTP 503 with an HTML page is retried, then exit 3 naming the status and the call", async () => {
  await withClient({
    faults: [1, 2, 3].map((request) => ({ api: "kb", kind: "status", status: 503, request })),
  }, async (client, sim, warnings) => {
    await rejectsWith(
      kbCall(client),
      503,
      /^Qualys answered HTTP 503 with a body that is not a Qualys answer .*\(action=list on \/api\/4\.0\/fo\/knowledge_base\/vuln\/\): Qualys, or a proxy or load balancer on the way, had a failure: try again later/,
    );
    assert.equal(sim.log.filter((e) => e.api === "kb").length, 3);
    assert.equal(warnings.filter((w) => /HTTP 503 .*retrying/.test(w)).length, 2);
  }, { maxRetries: 2 });
});

Deno.test("HTTP 200 with an empty body is a cut answer: fetched again, and the page is read", async () => {
  await withClient({
    faults: [{ kind: "empty", request: 1 }, { api: "kb", kind: "empty", request: 1 }],
  }, async (client, sim) => {
    const page = await detectionPage(client);
    assert.equal(page.stats.hosts, 5);
    const kb = await kbCall(client);
    assert.ok(kb.qids.length > 0);
    assert.deepEqual(
      sim.log.map((e) => [e.api, e.status, e.bytes > 0]),
      [["detection", 200, false], ["detection", 200, true], ["kb", 200, false], ["kb", 200, true]],
    );
  });
});

Deno.test("HTTP 200 with an empty body five times: exit 3 after 5 fetches", async () => {
  await withClient({
    faults: [1, 2, 3, 4, 5].map((request) => ({ api: "host", kind: "empty", request })),
  }, async (client, sim) => {
    await rejectsWith(
      hostIds(client),
      0,
      /^The answer to the host ID list came empty \(a cut answer\); gave up after 5 downloads$/,
    );
    assert.equal(sim.log.filter((e) => e.api === "host").length, 5);
  });
});

const report = new TextEncoder().encode(
  '<?xml version="1.0"?><ASSET_DATA_REPORT><HOST_LIST></HOST_LIST></ASSET_DATA_REPORT>',
);
const download = (client: QualysClient) =>
  downloadReport(client, "424242", {
    parser: () => new ReportParser(),
    firstPollMs: 1,
    maxWaitMs: 60_000,
  });

Deno.test("the report flow: 401 with an empty body, the credentials unproven: exit 3 naming the status, the call and the credentials", async () => {
  await withClient({
    reports: { "424242": report },
    bareAnswers: [{ status: 401 }],
  }, async (client, sim) => {
    await rejectsWith(
      download(client),
      401,
      /^Qualys answered HTTP 401 with an empty body \(action=launch\): the credentials were refused/,
    );
    assert.deepEqual(sim.launched, []);
  });
});

Deno.test("the report flow: 403 with a WAF's page: exit 3 naming it; 200 with an empty body: retried, then exit 3", async () => {
  await withClient({
    reports: { "424242": report },
    bareAnswers: [{ status: 403, body: "html" }],
  }, async (client) => {
    await rejectsWith(
      download(client),
      403,
      /^Qualys answered HTTP 403 with a body that is not a Qualys answer \(\d+ bytes of text\/html\) \(action=launch\): a proxy or a web application firewall/,
    );
  });
  await withClient({
    reports: { "424242": report },
    bareAnswers: [1, 2, 3, 4, 5].map(() => ({ status: 200 })),
  }, async (client, sim, warnings) => {
    await rejectsWith(
      download(client),
      200,
      /^Qualys answered HTTP 200 with an empty body \(action=launch\): a cut answer; gave up after 5 tries/,
    );
    assert.equal(sim.requests.length, 5);
    assert.equal(warnings.filter((w) => /empty body.*retrying/.test(w)).length, 4);
  });
  await withClient({
    reports: { "424242": report },
    bareAnswers: [{ status: 200 }],
  }, async (client, sim) => {
    const parsed = await download(client);
    parsed.dispose();
    assert.equal(sim.launched.length, 1);
  });
});
