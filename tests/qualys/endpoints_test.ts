/**
 * The endpoint table (issue 17, item 1): the default versions, the paths built from it, the
 * `api_versions` value, the one lib file that spells a versioned path; the platforms' gateways;
 * and the words of a deprecation notice or a refused version (item 2).
 */

import assert from "node:assert/strict";
import {
  DEFAULT_API_VERSIONS,
  ENDPOINT_NAMES,
  endpointPath,
  parseApiVersions,
} from "../../lib/qualys/endpoints.ts";
import { gatewayFor } from "../../lib/qualys/gateway.ts";
import {
  AnswerTap,
  describeNotice,
  findDeprecationNotice,
  isNoticeText,
  refusesVersion,
} from "../../lib/qualys/notices.ts";

Deno.test("the table: Host List Detection and Host List 5.0, KnowledgeBase 4.0, reports 2.0", () => {
  assert.deepEqual({ ...DEFAULT_API_VERSIONS }, {
    detections: "5.0",
    hosts: "5.0",
    knowledge_base: "4.0",
    reports: "2.0",
  });
  assert.deepEqual(ENDPOINT_NAMES.map((e) => endpointPath(e)), [
    "/api/5.0/fo/asset/host/vm/detection/",
    "/api/5.0/fo/asset/host/",
    "/api/4.0/fo/knowledge_base/vuln/",
    "/api/2.0/fo/report/",
  ]);
});

Deno.test("api_versions overrides single entries and keeps the others", () => {
  const v = parseApiVersions("detections=6.0, knowledge_base = 4.1");
  assert.deepEqual({ ...v }, {
    detections: "6.0",
    hosts: "5.0",
    knowledge_base: "4.1",
    reports: "2.0",
  });
  assert.equal(endpointPath("detections", v), "/api/6.0/fo/asset/host/vm/detection/");
  assert.equal(parseApiVersions("Reports=3.0").reports, "3.0");
});

Deno.test("api_versions refuses what is not name=digits.digits, an unknown name, a name twice", () => {
  for (
    const [text, message] of [
      ["", /name=version pairs/],
      ["detections", /"detections" is not one/],
      ["detections=5", /version is digits\.digits/],
      ["detections=v5.0", /version is digits\.digits/],
      ["detections=5.0.1", /version is digits\.digits/],
      ["detections=5.0 hosts=5.0", /separated by commas/],
      ["detection=5.0", /"detection", which is not an endpoint: the names are detections, hosts/],
      ["kb=4.0", /not an endpoint/],
      ["hosts=5.0, hosts=4.0", /names hosts twice/],
      ["hosts=5.0,", /not one/],
    ] as const
  ) {
    assert.throws(() => parseApiVersions(text), (e: Error) => {
      assert.ok(e instanceof RangeError, text);
      assert.match(e.message, message, text);
      return true;
    });
  }
});

Deno.test("a versioned Qualys path is spelled in exactly one lib file: the table", async () => {
  const root = new URL("../../lib/", import.meta.url).pathname;
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(`${dir}${e.name}/`);
      else if (e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(`${dir}${e.name}`);
        if (/\/api\/\d+\.\d+\/fo\//.test(text)) found.push(`${dir}${e.name}`.slice(root.length));
      }
    }
  };
  await walk(root);
  assert.deepEqual(found, ["qualys/endpoints.ts"]);
});

Deno.test("the public platforms' API servers have a gateway; other servers have none", () => {
  for (
    const [api, gateway] of [
      ["https://qualysapi.qualys.com", "https://gateway.qg1.apps.qualys.com"],
      ["https://qualysapi.qg2.apps.qualys.com", "https://gateway.qg2.apps.qualys.com"],
      ["https://qualysapi.qg3.apps.qualys.com", "https://gateway.qg3.apps.qualys.com"],
      ["https://qualysapi.qg4.apps.qualys.com", "https://gateway.qg4.apps.qualys.com"],
      ["https://qualysapi.qualys.eu", "https://gateway.qg1.apps.qualys.eu"],
      ["https://QualysAPI.qg2.apps.qualys.eu/", "https://gateway.qg2.apps.qualys.eu"],
      ["https://qualysapi.qg1.apps.qualys.in", "https://gateway.qg1.apps.qualys.in"],
    ] as const
  ) assert.equal(gatewayFor(api), gateway, api);
  for (
    const api of [
      "https://qualysapi.example-private.net",
      "https://127.0.0.1:8443",
      "https://qualysapi.qualys.com:8443",
      "not a url",
    ]
  ) assert.equal(gatewayFor(api), undefined, api);
});

Deno.test("a deprecation notice is found in a header, a comment or a WARNING, with its date", () => {
  const none = new Headers({ "Content-Type": "text/xml" });
  const cases: [Headers, string[], string | undefined][] = [
    [
      none,
      ["<RESPONSE><!-- HLD API 2.0 is deprecated; end of life: 2026-06-30 --><HOST_LIST>"],
      "2026-06-30",
    ],
    [
      none,
      ["<WARNING><TEXT>End of support for this API version on June 30, 2026</TEXT></WARNING>"],
      "June 30, 2026",
    ],
    [
      none,
      ["<WARNING><TEXT>This version will be retired in Dec 2026.</TEXT></WARNING>"],
      "Dec 2026",
    ],
    [none, ["<!-- API v4.0 reaches EOL soon -->"], undefined],
    [new Headers({ "Deprecation": "@1782777600" }), [], "2026-06-30"],
    [
      new Headers({ "Sunset": "Wed, 30 Jun 2027 00:00:00 GMT" }),
      [],
      "Wed, 30 Jun 2027 00:00:00 GMT",
    ],
    [
      new Headers({ "Warning": '299 - "Deprecated API version, end of life 12/31/2026"' }),
      [],
      "12/31/2026",
    ],
  ];
  for (const [headers, xml, date] of cases) {
    const n = findDeprecationNotice(headers, xml);
    assert.ok(n, JSON.stringify(xml));
    assert.equal(n.date, date, JSON.stringify(xml));
    assert.ok(n.text.length <= 200 && !n.text.includes("\n"));
  }
});

Deno.test("the words in data (a CDATA RESULT, a KB title, a paging WARNING, a cookie) are not notices", () => {
  const xml = [
    "<VULN><TITLE>EOL/Obsolete Software: Windows 7 End of Life Detected</TITLE>" +
    "<DIAGNOSIS><![CDATA[<!-- deprecated --> Microsoft ended support (end of life)]]></DIAGNOSIS>",
    "of life]]></RESULTS></DETECTION><WARNING><CODE>1980</CODE><TEXT>1000 record limit " +
    "exceeded. Use URL to get next batch of results.</TEXT></WARNING>",
    "<!-- keep-alive for KNOWLEDGE_BASE_VULN_LIST_OUTPUT -->",
  ];
  const headers = new Headers({ "Set-Cookie": "q=deprecated-session", "X-Powered-By": "Qualys" });
  assert.equal(findDeprecationNotice(headers, xml), undefined);
  assert.ok(!isNoticeText("1000 record limit exceeded. Use URL to get next batch of results."));
});

Deno.test("a SIMPLE_RETURN that refuses the API or its version is told from other errors", () => {
  for (
    const text of [
      "API version 2.0 of this endpoint is no longer supported. Please use version 5.0.",
      "This API is not supported.",
      "Unsupported API version",
      "Invalid API version: 9.9",
      "Version 3.0 of the KnowledgeBase API has reached end of life",
    ]
  ) assert.ok(refusesVersion(text), text);
  for (
    const text of [
      "Bad Login/Password",
      "This API cannot be run again until 1 currently running API instance has finished.",
      "Unrecognized parameter(s): show_qds",
      "Report cannot be fetched.",
      "Internal error. Please contact customer support.",
    ]
  ) assert.ok(!refusesVersion(text), text);
});

Deno.test("AnswerTap keeps a small answer whole, and the start and end of a big one", () => {
  const enc = new TextEncoder();
  const small = new AnswerTap(8);
  small.push(enc.encode("abc"));
  small.push(enc.encode("defgh"));
  small.push(enc.encode("ijk"));
  assert.deepEqual(small.texts(), ["abcdefghijk"]);
  const big = new AnswerTap(8);
  for (const part of ["0123", "456789ab", "cdefghijklmnopq", "rs", "tuv"]) {
    big.push(enc.encode(part));
  }
  assert.equal(big.whole(), undefined);
  assert.deepEqual(big.texts(), ["01234567", "opqrstuv"]);
  assert.equal(big.bytes, 32);
});

Deno.test("describeNotice points at the versions table where it now is, docs/operations.md", async () => {
  const text = describeNotice({ text: "This API is deprecated", date: "2027-06-30" }, {
    endpoint: "kb",
    title: "KnowledgeBase API 4.0",
  });
  assert.equal(
    text,
    "Qualys gives notice that the KnowledgeBase API 4.0 is deprecated or ending (date given: " +
      '2027-06-30): "This API is deprecated"; the run goes on: plan the move to the version ' +
      "Qualys names (api_versions: kb=N.N in the plugin YAML; " +
      "docs/operations.md#qualys-api-versions)",
  );
  const doc = await Deno.readTextFile(new URL("../../docs/operations.md", import.meta.url));
  assert.match(doc, /^### Qualys API versions$/m, "the anchor's heading");
});
