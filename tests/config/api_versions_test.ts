/**
 * The YAML keys of issue 17: `api_versions` (single entries over the table; anything else is
 * exit 2 naming the key, line and column) and `gateway_url`.
 */

import assert from "node:assert/strict";
import { ConfigError, exitCodeOf } from "../../lib/errors.ts";
import { defaultConfig, parseConfig } from "../../lib/config/read_config.ts";
import { clientOptionsFromConfig } from "../../lib/qualys/client.ts";

const BASE = "user_id: u\npassword: p\nsource: detections\n";

Deno.test("api_versions absent: the table's versions", async () => {
  const c = await parseConfig(BASE, "q.yaml");
  assert.deepEqual({ ...c.account.apiVersions }, {
    detections: "5.0",
    hosts: "5.0",
    knowledge_base: "4.0",
    reports: "2.0",
  });
  assert.deepEqual(defaultConfig().account.apiVersions, c.account.apiVersions);
});

Deno.test("api_versions: detections=6.0, knowledge_base=4.0 changes those entries only", async () => {
  const warnings: string[] = [];
  const c = await parseConfig(
    `${BASE}api_versions: detections=6.0, knowledge_base=4.0\n`,
    "q.yaml",
    { onWarning: (m) => warnings.push(m) },
  );
  assert.deepEqual({ ...c.account.apiVersions }, {
    detections: "6.0",
    hosts: "5.0",
    knowledge_base: "4.0",
    reports: "2.0",
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    clientOptionsFromConfig(c.account, undefined).apiVersions,
    c.account.apiVersions,
  );
});

Deno.test("api_versions that is not name=digits.digits is exit 2 naming the key, line and column", async () => {
  for (
    const [value, message] of [
      ["detections=5", /version is digits\.digits/],
      ["detection=5.0", /"detection", which is not an endpoint/],
      ["hosts=5.0, hosts=5.0", /names hosts twice/],
      ["detections: 5.0", /^q\.yaml:5:15: Cannot read the YAML/],
      ["''", /name=version pairs/],
      ["5.0", /name=version pairs/],
    ] as const
  ) {
    const text = `${BASE}url: https://qualysapi.qualys.eu\napi_versions: ${value}\n`;
    await assert.rejects(parseConfig(text, "q.yaml"), (e: Error) => {
      assert.ok(e instanceof ConfigError, `${value}: ${e}`);
      assert.equal(exitCodeOf(e), 2);
      assert.equal(e.file, "q.yaml");
      if (!/Cannot read the YAML/.test(e.message)) {
        assert.match(e.message, /^q\.yaml:5:15: "api_versions" /, value);
      }
      assert.match(e.message, message, value);
      return true;
    });
  }
});

Deno.test("api_versions naming a version Qualys ended is a warning at the key's position", async () => {
  const warnings: string[] = [];
  const c = await parseConfig(`${BASE}api_versions: hosts=2.0\n`, "q.yaml", {
    onWarning: (m) => warnings.push(m),
  });
  assert.equal(c.account.apiVersions.hosts, "2.0");
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    /^q\.yaml:4:15: "api_versions" asks Host List 2\.0, which Qualys has ended \(end of life June 2026\).*current version is 5\.0/,
  );
});

Deno.test("gateway_url: an https URL; derived for a public platform when absent; none otherwise", async () => {
  const set = await parseConfig(`${BASE}gateway_url: https://gw.example.net/qualys/\n`, "q.yaml");
  assert.equal(set.account.gatewayUrl, "https://gw.example.net/qualys");
  assert.equal(
    clientOptionsFromConfig(set.account, undefined).gatewayUrl,
    "https://gw.example.net/qualys",
  );
  const eu = await parseConfig(`${BASE}url: https://qualysapi.qualys.eu\n`, "q.yaml");
  assert.equal(eu.account.gatewayUrl, undefined);
  assert.equal(
    clientOptionsFromConfig(eu.account, undefined).gatewayUrl,
    "https://gateway.qg1.apps.qualys.eu",
  );
  const priv = await parseConfig(`${BASE}url: https://qualysapi.example.net\n`, "q.yaml");
  assert.equal(clientOptionsFromConfig(priv.account, undefined).gatewayUrl, undefined);
  for (
    const bad of [
      "http://gw.example.net",
      "gw.example.net",
      "https://u:p@gw.example.net",
      "https://gw.example.net/?a=1",
    ]
  ) {
    await assert.rejects(
      parseConfig(`${BASE}gateway_url: ${bad}\n`, "q.yaml"),
      (e: Error) => {
        assert.ok(e instanceof ConfigError, bad);
        assert.match(e.message, /^q\.yaml:4:14: "gateway_url" must /, bad);
        assert.ok(!e.message.includes("u:p"), bad);
        return true;
      },
    );
  }
});
