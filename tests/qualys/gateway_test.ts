/**
 * Issue 17, item 3: a gateway token where an endpoint wants one. Basic first; a 401 from an
 * endpoint while the same credentials worked for another call → `POST <gateway>/auth`, then
 * `Authorization: Bearer` for that endpoint for the rest of the run; a new token before 4 hours
 * (a fake clock), and once more after a 401 with a token; a second 401 in a row, or no gateway
 * known, is exit 3. The gateway goes through the proxy and the time limit. Against the simulator
 * over HTTPS (its KnowledgeBase switched to want a token, its own `/auth` the gateway).
 */

import assert from "node:assert/strict";
import { exitCodeOf, QualysApiError } from "../../lib/errors.ts";
import { checkGateway } from "../../lib/qualys/check.ts";
import { QualysClient, type QualysClientOptions } from "../../lib/qualys/client.ts";
import { DetectionPageParser } from "../../lib/sources/detections/pages/detection_page.ts";
import { fetchParsed, Traffic } from "../../lib/qualys/fetch_parsed.ts";
import { KbPageParser } from "../../lib/sources/detections/pages/kb_page.ts";
import { createTestCa, startConnectProxy } from "../../scripts/sim/net/mod.ts";
import {
  type QualysSim,
  type SimGatewayScript,
  startQualysSim,
  VmdrSubscription,
} from "../../scripts/sim/qualys/mod.ts";

const CA = createTestCa("gateway test CA");
const HOUR = 3600_000;

interface Run {
  client: QualysClient;
  sim: QualysSim;
  /** Every message the client logged, warnings and information. */
  logged: string[];
  /** The fake clock, ms. */
  clock: { now: number };
}

async function withGateway(
  gateway: SimGatewayScript,
  body: (run: Run) => Promise<void>,
  options: Partial<QualysClientOptions> = {},
): Promise<void> {
  const subscription = new VmdrSubscription({ seed: 5, hosts: 8, detectionsPerHost: 3, qids: 20 });
  const sim = await startQualysSim({ vmdr: { subscription }, gateway }, { ca: CA });
  const logged: string[] = [];
  const clock = { now: 1_000_000 };
  const client = QualysClient.open({
    url: sim.url,
    userId: "sim_user",
    password: "sim_pass",
    caPem: sim.caPem,
    gatewayUrl: sim.url,
    sleep: () => Promise.resolve(),
    random: () => 0.5,
    now: () => clock.now,
    log: { warn: (m) => logged.push(m), info: (m) => logged.push(m), debug: (m) => logged.push(m) },
    ...options,
  });
  try {
    await body({ client, sim, logged, clock });
  } finally {
    await client.close();
    await sim.idle();
    await sim.shutdown();
  }
  // the token and the password are in no message
  for (const secret of [...sim.gateway.tokens, "sim_pass"]) {
    assert.ok(!logged.some((m) => m.includes(secret)), "a secret was logged");
  }
}

const detectionPage = (client: QualysClient) =>
  fetchParsed(
    client,
    { endpoint: "detections", params: { action: "list", truncation_limit: "3" } },
    () => new DetectionPageParser(),
    { what: "host detection page 1", traffic: new Traffic() },
  );

const kbCall = (client: QualysClient) =>
  fetchParsed(
    client,
    { endpoint: "knowledge_base", params: { action: "list", details: "All", ids: "1-999999" } },
    () => new KbPageParser(),
    { what: "KnowledgeBase batch", traffic: new Traffic() },
  );

/** The calls the simulator saw: API (by path), Basic or Bearer, status. */
function calls(sim: QualysSim): string[] {
  return sim.log.map((e, i) => {
    const r = sim.requests[i]!;
    const how = e.api === "gateway" ? "" : r.bearer ? " bearer" : " basic";
    return `${e.api}${how} ${e.status}`;
  });
}

for (const refusal of ["empty", "simple-return"] as const) {
  Deno.test(`a KnowledgeBase that refuses Basic (401, ${refusal} body) while Basic worked elsewhere: one token, then Bearer for it alone`, async () => {
    await withGateway({ kbWantsToken: true, refusal }, async ({ client, sim, logged }) => {
      await detectionPage(client);
      assert.ok((await kbCall(client)).qids.length > 0);
      assert.ok((await kbCall(client)).qids.length > 0);
      await detectionPage(client);
      assert.deepEqual(calls(sim), [
        "detection basic 200",
        "kb basic 401",
        "gateway 201",
        "kb bearer 200",
        "kb bearer 200",
        "detection basic 200",
      ]);
      assert.equal(sim.gateway.tokens.length, 1);
      assert.equal(sim.gateway.uses.get(sim.gateway.tokens[0]!), 2);
      // the form the gateway takes: username, password, token=true (the password hidden here)
      assert.deepEqual(sim.requests[2]!.params, {
        username: "sim_user",
        password: "(hidden)",
        token: "true",
      });
      assert.ok(client.usesToken("knowledge_base"));
      assert.ok(!client.usesToken("detections"));
      assert.equal(logged.length, 1);
      assert.match(
        logged[0]!,
        /^KnowledgeBase API 4\.0 answered HTTP 401.* to action=list on \/api\/4\.0\/fo\/knowledge_base\/vuln\/ although user_id and password worked for Host List Detection API 5\.0 in this run: it wants a token from the Qualys API gateway; calling it with one from now on$/,
      );
    });
  });
}

Deno.test("a 401 before any call proved the credentials, none under way: the credentials' own, no token asked", async () => {
  await withGateway({ kbWantsToken: true, refusal: "simple-return" }, async ({ client, sim }) => {
    await assert.rejects(kbCall(client), (e: Error) => {
      assert.ok(e instanceof QualysApiError);
      assert.match(e.message, /^Qualys answered CODE 2000: Bad Login\/Password: check user_id/);
      return true;
    });
    assert.deepEqual(calls(sim), ["kb basic 401"]);
  });
});

Deno.test("a token is renewed before 4 hours have passed (a fake clock), without a 401", async () => {
  await withGateway({ kbWantsToken: true }, async ({ client, sim, clock }) => {
    await detectionPage(client);
    await kbCall(client);
    clock.now += 3 * HOUR + 49 * 60_000;
    await kbCall(client);
    assert.equal(sim.gateway.tokens.length, 1);
    clock.now += 2 * 60_000; // 3 h 51 min after the token: within the last 10 minutes
    await kbCall(client);
    assert.equal(sim.gateway.tokens.length, 2);
    const [first, second] = sim.gateway.tokens;
    assert.equal(sim.gateway.uses.get(first!), 2);
    assert.equal(sim.gateway.uses.get(second!), 1);
    assert.deepEqual(calls(sim).slice(-2), ["gateway 201", "kb bearer 200"]);
    assert.equal(sim.log.filter((e) => e.status === 401).length, 1); // the first Basic call only
  });
});

Deno.test("a 401 with a token gets a new token once, and the call goes through", async () => {
  await withGateway({ kbWantsToken: true }, async ({ client, sim, logged }) => {
    await detectionPage(client);
    await kbCall(client);
    sim.gateway.expireTokens();
    await kbCall(client);
    assert.deepEqual(calls(sim).slice(-3), ["kb bearer 401", "gateway 201", "kb bearer 200"]);
    assert.equal(sim.gateway.tokens.length, 2);
    assert.match(
      logged.at(-1)!,
      /^KnowledgeBase API 4\.0 refused the gateway token \(HTTP 401\): getting a new one$/,
    );
    // a refusal after a success is again one to renew after
    sim.gateway.expireTokens();
    await kbCall(client);
    assert.equal(sim.gateway.tokens.length, 3);
  });
});

Deno.test("a token refused twice in a row: exit 3, the token and the password in no message", async () => {
  await withGateway({ kbWantsToken: true, refuseTokens: true }, async ({ client, sim }) => {
    await detectionPage(client);
    await assert.rejects(kbCall(client), (e: Error) => {
      assert.ok(e instanceof QualysApiError);
      assert.equal(exitCodeOf(e), 3);
      assert.equal(e.status, 401);
      assert.equal(e.endpoint, "knowledge_base");
      assert.match(
        e.message,
        /^KnowledgeBase API 4\.0 refused the token of the Qualys API gateway twice in a row, a new one included \(HTTP 401 to action=list on \/api\/4\.0\/fo\/knowledge_base\/vuln\/\): check that user sim_user may use it/,
      );
      for (const secret of [...sim.gateway.tokens, "sim_pass"]) {
        assert.ok(!e.message.includes(secret));
      }
      return true;
    });
    assert.deepEqual(calls(sim).slice(1), [
      "kb basic 401",
      "gateway 201",
      "kb bearer 401",
      "gateway 201",
      "kb bearer 401",
    ]);
  });
});

Deno.test("a token needed and no gateway known: exit 3 naming gateway_url", async () => {
  await withGateway({ kbWantsToken: true }, async ({ client, sim }) => {
    await detectionPage(client);
    await assert.rejects(kbCall(client), (e: Error) => {
      assert.ok(e instanceof QualysApiError);
      assert.equal(e.status, 401);
      assert.match(
        e.message,
        /^KnowledgeBase API 4\.0 answered HTTP 401 to .* it wants a token from the Qualys API gateway, and none is known for url https:\/\/127\.0\.0\.1:\d+: set gateway_url in the plugin YAML/,
      );
      return true;
    });
    assert.equal(sim.gateway.tokens.length, 0);
  }, { gatewayUrl: undefined });
});

Deno.test("a gateway that refuses the login: exit 3 naming the gateway, never the password", async () => {
  const other = await startQualysSim({ user: "someone_else" }, { ca: CA });
  try {
    await withGateway({ kbWantsToken: true }, async ({ client }) => {
      await detectionPage(client);
      await assert.rejects(kbCall(client), (e: Error) => {
        assert.ok(e instanceof QualysApiError);
        assert.equal(e.status, 401);
        assert.match(
          e.message,
          /^KnowledgeBase API 4\.0 answered HTTP 401 .*: the Qualys API gateway 127\.0\.0\.1:\d+ \(gateway_url\) answered HTTP 401 to POST \/auth \(\d+ bytes of application\/json\): it refused user sim_user: check user_id and password/,
        );
        assert.ok(!e.message.includes("sim_pass"));
        return true;
      });
    }, { gatewayUrl: other.url });
  } finally {
    await other.shutdown();
  }
});

Deno.test("the gateway is reached through the proxy, with ca_file, on a host of its own", async () => {
  const gateway = await startQualysSim({}, { ca: CA });
  const proxy = startConnectProxy();
  try {
    await withGateway(
      { kbWantsToken: true, trustTokensOf: gateway.gateway },
      async ({ client, sim }) => {
        await detectionPage(client);
        await kbCall(client);
        const port = (url: string) => new URL(url).port;
        assert.deepEqual(
          [...new Set(proxy.seen.map((s) => s.target))].sort(),
          [`127.0.0.1:${port(sim.url)}`, `127.0.0.1:${port(gateway.url)}`].sort(),
        );
        assert.equal(gateway.gateway.tokens.length, 1);
        assert.equal(sim.gateway.tokens.length, 0);
        assert.deepEqual(calls(sim).at(-1), "kb bearer 200");
      },
      { gatewayUrl: gateway.url, proxy: proxy.url },
    );
  } finally {
    await proxy.shutdown();
    await gateway.shutdown();
  }
});

Deno.test("the gateway's answer has the time limit (-timeout): exit 3 naming POST /auth and the gateway", async () => {
  const cert = CA.issue({ cn: "localhost", sans: ["localhost", "127.0.0.1"] });
  const { promise: release, resolve } = Promise.withResolvers<void>();
  const silent = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.certPem,
    key: cert.keyPem,
    onListen() {},
  }, async () => {
    await release;
    return new Response("late", { status: 201 });
  });
  try {
    await withGateway({ kbWantsToken: true }, async ({ client }) => {
      await detectionPage(client);
      const started = performance.now();
      await assert.rejects(kbCall(client), (e: Error) => {
        assert.ok(e instanceof QualysApiError, String(e));
        assert.match(
          e.message,
          /No whole answer to POST \/auth from 127\.0\.0\.1:\d+ within 0\.5 s \(-timeout\).*\(the Qualys API gateway 127\.0\.0\.1:\d+ \(gateway_url\), POST \/auth\); gave up after 0 retries/,
        );
        return true;
      });
      assert.ok(performance.now() - started < 60_000);
    }, {
      gatewayUrl: `https://127.0.0.1:${silent.addr.port}`,
      timeoutMs: 500,
      maxRetries: 0,
    });
  } finally {
    resolve();
    await silent.shutdown();
  }
});

Deno.test("-check's gateway step: OK with a token; a gateway that gives none fails only when set or needed", async () => {
  await withGateway({ kbWantsToken: true }, async ({ client, sim }) => {
    const ok = await checkGateway(client, true);
    assert.deepEqual(ok, {
      ok: true,
      what: `Qualys API gateway ${new URL(sim.url).host}`,
      detail: "gave a token (not shown): ready for an endpoint that wants one",
    });
    assert.equal(sim.gateway.tokens.length, 1);
  });
  // a gateway that is not there: a port nothing listens on any more
  const gone = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `https://127.0.0.1:${gone.addr.port}`;
  gone.close();
  await withGateway({ kbWantsToken: true }, async ({ client }) => {
    const derived = await checkGateway(client, false);
    assert.equal(derived.ok, "skip");
    assert.match(
      derived.detail,
      /refused.*no call of this check did: the run does not depend on it now\)$/,
    );
    assert.equal((await checkGateway(client, true)).ok, false);
    await detectionPage(client);
    await assert.rejects(kbCall(client)); // the KnowledgeBase needed a token, and got none
    assert.equal((await checkGateway(client, false)).ok, false);
  }, { gatewayUrl: url, maxRetries: 0 });
});
