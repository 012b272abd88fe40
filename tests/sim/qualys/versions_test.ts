/**
 * The simulator's claims of issue 17, item 6, checked on the wire: today's versions served
 * (HLD and Host List 5.0, KB 4.0, reports 2.0 and 3.0), others answered as retired in the form
 * switched to; the gateway's `/auth`; a KnowledgeBase that wants its token; a notice of
 * deprecation in each form; an empty answer.
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../../scripts/sim/net/mod.ts";
import {
  type QualysSim,
  type QualysSimScript,
  type SimNotice,
  startQualysSim,
  VmdrSubscription,
} from "../../../scripts/sim/qualys/mod.ts";

const CA = createTestCa("versions simulator test CA");
const BASIC = `Basic ${btoa("sim_user:sim_pass")}`;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function withSim(
  script: Omit<QualysSimScript, "vmdr"> & { notice?: SimNotice },
  body: (
    post: (path: string, params: string, auth?: string) => Promise<Answer>,
    sim: QualysSim,
  ) => Promise<void>,
): Promise<void> {
  const subscription = new VmdrSubscription({ seed: 2, hosts: 6, detectionsPerHost: 2, qids: 12 });
  const sim = await startQualysSim(
    { reports: {}, ...script, vmdr: { subscription, notice: script.notice } },
    { ca: CA },
  );
  const client = Deno.createHttpClient({ caCerts: [sim.caPem] });
  const post = async (path: string, params: string, auth = BASIC): Promise<Answer> => {
    const res = await fetch(sim.url + path, {
      method: "POST",
      client,
      headers: {
        authorization: auth,
        "x-requested-with": "versions simulator test",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: params,
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  try {
    await body(post, sim);
  } finally {
    client.close();
    await sim.shutdown();
  }
}

const PATHS = {
  detection: (v: string) => `/api/${v}/fo/asset/host/vm/detection/`,
  host: (v: string) => `/api/${v}/fo/asset/host/`,
  kb: (v: string) => `/api/${v}/fo/knowledge_base/vuln/`,
  report: (v: string) => `/api/${v}/fo/report/`,
};

Deno.test("today's versions are served; an older one is HTTP 404 with a SIMPLE_RETURN naming it", async () => {
  await withSim({}, async (post) => {
    for (
      const [api, ok, old] of [
        ["detection", "5.0", "4.0"],
        ["host", "5.0", "2.0"],
        ["kb", "4.0", "3.0"],
        ["report", "2.0", "1.0"],
      ] as const
    ) {
      const good = await post(PATHS[api](ok), "action=list");
      assert.equal(good.status, 200, api);
      assert.doesNotMatch(good.text, /no longer supported/);
      const bad = await post(PATHS[api](old), "action=list");
      assert.equal(bad.status, 404, api);
      assert.match(
        bad.text,
        new RegExp(
          `<SIMPLE_RETURN>.*<TEXT>API version ${old} of this endpoint is no longer supported\\. ` +
            `Please use version ${ok === "2.0" ? "3\\.0" : ok.replace(".", "\\.")}\\.</TEXT>`,
          "s",
        ),
      );
    }
    assert.equal((await post(PATHS.report("3.0"), "action=list")).status, 200);
  });
});

Deno.test("the retired form is switchable: 410, an HTML page, HTTP 200", async () => {
  for (
    const [retired, status, html] of [
      [{ status: 410 }, 410, false],
      [{ status: 404, body: "html" }, 404, true],
      [{ status: 200 }, 200, false],
    ] as const
  ) {
    await withSim({ retired }, async (post) => {
      const r = await post(PATHS.detection("3.0"), "action=list");
      assert.equal(r.status, status);
      assert.equal(r.text.startsWith("<html>"), html);
      if (!html) assert.match(r.text, /API version 3\.0 of this endpoint is no longer supported/);
    });
  }
});

Deno.test("the gateway: POST /auth with username, password and token=true answers a token (201); a wrong login 401", async () => {
  await withSim({}, async (post, sim) => {
    const ok = await post("/auth", "username=sim_user&password=sim_pass&token=true", "");
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get("content-type"), "text/plain");
    assert.match(ok.text, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.deepEqual(sim.gateway.tokens, [ok.text]);
    assert.equal(
      (await post("/auth", "username=sim_user&password=nope&token=true", "")).status,
      401,
    );
    assert.equal((await post("/auth", "username=sim_user&password=sim_pass", "")).status, 400);
    // the password is not kept in the simulator's log
    assert.ok(!JSON.stringify(sim.log).includes("sim_pass"));
  });
});

Deno.test("a KnowledgeBase that wants a token: 401 to Basic (empty, or a SIMPLE_RETURN), 200 with the token, 401 once expired", async () => {
  for (const refusal of ["empty", "simple-return"] as const) {
    await withSim({ gateway: { kbWantsToken: true, refusal } }, async (post, sim) => {
      const basic = await post(PATHS.kb("4.0"), "action=list&ids=1");
      assert.equal(basic.status, 401);
      assert.equal(basic.text === "", refusal === "empty");
      if (refusal === "simple-return") assert.match(basic.text, /<CODE>2000<\/CODE>/);
      assert.equal((await post(PATHS.detection("5.0"), "action=list")).status, 200);
      const token =
        (await post("/auth", "username=sim_user&password=sim_pass&token=true", "")).text;
      assert.equal(
        (await post(PATHS.kb("4.0"), "action=list&ids=1", `Bearer ${token}`)).status,
        200,
      );
      assert.equal(sim.gateway.uses.get(token), 1);
      sim.gateway.expireTokens();
      assert.equal(
        (await post(PATHS.kb("4.0"), "action=list&ids=1", `Bearer ${token}`)).status,
        401,
      );
    });
  }
});

Deno.test("a notice of deprecation as a comment, a WARNING or the Deprecation and Sunset headers", async () => {
  for (const form of ["comment", "warning", "header"] as const) {
    await withSim({ notice: { form } }, async (post) => {
      const r = await post(PATHS.kb("4.0"), "action=list&ids=1-100000");
      assert.equal(r.status, 200);
      const text = "This API version is deprecated and reaches its end of life on 2027-06-30.";
      assert.equal(r.text.includes(`<!-- ${text} -->`), form === "comment");
      assert.equal(r.text.includes(`<WARNING>\n      <TEXT>${text}</TEXT>`), form === "warning");
      assert.equal(
        r.headers.get("sunset"),
        form === "header" ? "Wed, 30 Jun 2027 00:00:00 GMT" : null,
      );
      assert.equal(r.headers.get("deprecation"), form === "header" ? "@1782777600" : null);
    });
  }
  // a paged Host List Detection answer keeps its one WARNING for paging
  await withSim({ notice: { form: "warning" } }, async (post) => {
    const r = await post(PATHS.detection("5.0"), "action=list&truncation_limit=1");
    assert.equal(r.text.match(/<WARNING>/g)?.length, 1);
    assert.match(r.text, /<CODE>1980<\/CODE>/);
  });
});

Deno.test("an empty answer fault: the status, no body", async () => {
  await withSim({}, async (post, sim) => {
    sim.vmdr!.addFault({ api: "host", kind: "empty", status: 401, request: 1 });
    const r = await post(PATHS.host("5.0"), "action=list&details=None");
    assert.deepEqual([r.status, r.text], [401, ""]);
    assert.equal((await post(PATHS.host("5.0"), "action=list&details=None")).status, 200);
  });
});
