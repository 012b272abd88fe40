/**
 * Issue 17, items 1 and 2, against the simulator over HTTPS: every call goes to the path of the
 * table at the configured version; a version Qualys refuses (HTTP 404 or 410, an HTML page, a
 * SIMPLE_RETURN saying it is not supported, in every form the simulator can answer) ends with
 * exit 3 and one line naming the endpoint, the version and the `api_versions` entry; a notice of
 * deprecation (a comment, a WARNING, a header) is warned once per endpoint, with its date, and
 * the data is read.
 */

import assert from "node:assert/strict";
import { exitCodeOf, QualysApiError } from "../../lib/errors.ts";
import { QualysClient, type QualysClientOptions } from "../../lib/qualys/client.ts";
import { downloadReport } from "../../lib/sources/report/download_report.ts";
import { DEFAULT_API_VERSIONS, type Endpoint } from "../../lib/qualys/endpoints.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { DetectionPageParser } from "../../lib/sources/detections/pages/detection_page.ts";
import { fetchParsed, Traffic } from "../../lib/qualys/fetch_parsed.ts";
import { IdListParser } from "../../lib/sources/detections/pages/id_list.ts";
import { KbPageParser } from "../../lib/sources/detections/pages/kb_page.ts";
import { Tag } from "../../lib/xml/tags.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import {
  type QualysSim,
  type QualysSimScript,
  type SimNotice,
  startQualysSim,
  VmdrSubscription,
} from "../../scripts/sim/qualys/mod.ts";

const CA = createTestCa("API versions test CA");
const REPORT = new TextEncoder().encode(
  '<?xml version="1.0"?><ASSET_DATA_REPORT><HOST_LIST></HOST_LIST></ASSET_DATA_REPORT>',
);

async function withClient(
  script: Omit<QualysSimScript, "vmdr"> & { notice?: SimNotice },
  body: (client: QualysClient, sim: QualysSim, warnings: string[]) => Promise<void>,
  options: Partial<QualysClientOptions> = {},
): Promise<void> {
  const subscription = new VmdrSubscription({ seed: 9, hosts: 10, detectionsPerHost: 3, qids: 25 });
  const sim = await startQualysSim({
    reports: { "424242": REPORT },
    ...script,
    vmdr: { subscription, notice: script.notice },
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

/** One call of `endpoint`, its answer read whole. */
function call(client: QualysClient, endpoint: Endpoint): Promise<unknown> {
  const traffic = new Traffic();
  switch (endpoint) {
    case "detections":
      return fetchParsed(
        client,
        { endpoint, params: { action: "list", truncation_limit: "0" } },
        () => new DetectionPageParser(),
        { what: "host detection page 1", traffic },
      );
    case "hosts":
      return fetchParsed(
        client,
        { endpoint, params: { action: "list", details: "None", truncation_limit: "0" } },
        () => new IdListParser(Tag.HOST_LIST_OUTPUT),
        { what: "the host ID list", traffic },
      );
    case "knowledge_base":
      return fetchParsed(
        client,
        { endpoint, params: { action: "list", details: "All", ids: "1-999999" } },
        () => new KbPageParser(),
        { what: "KnowledgeBase batch 1", traffic },
      );
    case "reports":
      return client.call({ action: "list", expires_before_datetime: "2000-01-01" });
  }
}

const ALL: Endpoint[] = ["detections", "hosts", "knowledge_base", "reports"];

Deno.test("every call goes to the table's path: 5.0, 5.0, 4.0 and 2.0 by default, api_versions otherwise", async () => {
  await withClient({}, async (client, sim) => {
    for (const e of ALL) await call(client, e);
    assert.deepEqual(sim.requests.map((r) => r.path), [
      "/api/5.0/fo/asset/host/vm/detection/",
      "/api/5.0/fo/asset/host/",
      "/api/4.0/fo/knowledge_base/vuln/",
      "/api/2.0/fo/report/",
    ]);
    const parsed = await downloadReport(client, "424242", {
      parser: () => new ReportParser(),
      firstPollMs: 1,
    });
    parsed.dispose();
    assert.ok(sim.requests.slice(4).every((r) => r.path === "/api/2.0/fo/report/"));
  });
  await withClient({ versions: { host: ["5.0", "6.0"] } }, async (client, sim) => {
    await call(client, "hosts");
    await call(client, "reports");
    assert.deepEqual(sim.requests.map((r) => r.path), [
      "/api/6.0/fo/asset/host/",
      "/api/3.0/fo/report/",
    ]);
  }, { apiVersions: { ...DEFAULT_API_VERSIONS, hosts: "6.0", reports: "3.0" } });
});

const FORMS: [QualysSimScript["retired"], number, boolean][] = [
  [undefined, 404, true], // the simulator's default: 404 with a SIMPLE_RETURN naming the version
  [{ status: 410 }, 410, true],
  [{ status: 404, body: "html" }, 404, false],
  [{ status: 200 }, 200, true],
];

for (const [form, status, text] of FORMS) {
  Deno.test(`a retired version answered ${JSON.stringify(form ?? "as by default")}: exit 3, one line naming the endpoint, the version and the api_versions entry`, async () => {
    const asked = { detections: "2.0", hosts: "4.0", knowledge_base: "3.0", reports: "1.0" };
    await withClient({ retired: form }, async (client, sim) => {
      for (const e of ALL) {
        const title = client.title(e);
        const said = text
          ? `: "API version ${
            asked[e]
          } of this endpoint is no longer supported\\. Please use version [\\d.]+\\."`
          : "";
        await assert.rejects(call(client, e), (error: Error) => {
          assert.ok(error instanceof QualysApiError, `${e}: ${error}`);
          assert.equal(exitCodeOf(error), 3);
          assert.equal(error.endpoint, e);
          assert.equal(error.retiredVersion, asked[e]);
          assert.equal(error.status, status);
          assert.ok(!error.message.includes("\n"));
          assert.match(
            error.message,
            new RegExp(
              `^Qualys does not serve the ${title.replace(/\./g, "\\.")} \\(HTTP ${status} to ` +
                `action=list( on ${client.path(e).replace(/\./g, "\\.")})?${said}\\): that ` +
                `version is retired or unknown; set api_versions: ${e}=${
                  DEFAULT_API_VERSIONS[e].replace(".", "\\.")
                } in the plugin YAML \\(or remove that entry\\)${
                  text ? "$" : " \\(the answer was not a Qualys one: check too that url is"
                }`,
            ),
          );
          return true;
        });
      }
      assert.equal(sim.requests.length, 4); // none tried again
    }, { apiVersions: asked });
  });
}

Deno.test("today's version refused (Qualys moved on): the entry to change, without a version to guess", async () => {
  await withClient({ versions: { kb: ["5.0"] } }, async (client) => {
    await assert.rejects(call(client, "knowledge_base"), (error: Error) => {
      assert.ok(error instanceof QualysApiError);
      assert.match(
        error.message,
        /^Qualys does not serve the KnowledgeBase API 4\.0 \(HTTP 404 .*Please use version 5\.0\."\): that version is retired or unknown; or the user has no API access \(ask Qualys to enable it\); if Qualys has moved on, set api_versions: knowledge_base=<the version Qualys's API release notes name> in the plugin YAML$/,
      );
      return true;
    });
  });
});

for (const form of ["comment", "warning", "header"] as const) {
  Deno.test(`a deprecation notice (${form}) is warned once per endpoint, with its date, and the answers are read`, async () => {
    await withClient({ notice: { form }, versions: {} }, async (client, sim, warnings) => {
      for (let i = 0; i < 3; i++) {
        for (const e of ["detections", "hosts", "knowledge_base"] as const) {
          assert.ok(await call(client, e));
        }
      }
      assert.equal(sim.log.filter((e) => e.status === 200).length, 9);
      const date = form === "header" ? "Wed, 30 Jun 2027 00:00:00 GMT" : "2027-06-30";
      assert.deepEqual(
        warnings.map((w) => /^Qualys gives notice that the (.+?) is deprecated/.exec(w)?.[1]),
        ["Host List Detection API 5.0", "Host List API 5.0", "KnowledgeBase API 4.0"],
      );
      for (const w of warnings) {
        assert.ok(w.includes(`(date given: ${date})`), w);
        assert.match(w, /the run goes on: plan the move .*api_versions: \w+=N\.N/);
      }
    });
  });
}

Deno.test("a deprecation notice in the report flow's answers is warned once", async () => {
  await withClient(
    { notice: { form: "comment", apis: ["report"] } },
    async (client, _sim, warnings) => {
      const parsed = await downloadReport(client, "424242", {
        parser: () => new ReportParser(),
        firstPollMs: 1,
      });
      parsed.dispose();
      await call(client, "reports");
      await call(client, "detections");
      assert.equal(warnings.length, 1);
      assert.match(
        warnings[0]!,
        /^Qualys gives notice that the Report API 2\.0 is deprecated or ending \(date given: 2027-06-30\): "This API version is deprecated/,
      );
    },
  );
});
