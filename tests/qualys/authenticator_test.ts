/**
 * The authenticator's order of things (issue 17, item 3): a 401 to Basic waits for the Basic
 * calls under way before it decides; only when none proved the credentials is one call made to
 * find out; without proof the 401 is the credentials' own.
 */

import assert from "node:assert/strict";
import { type Auth, Authenticator } from "../../lib/qualys/authenticator.ts";
import type { GatewayToken, GatewayTokens } from "../../lib/qualys/gateway.ts";

function setup(probeStatus: number) {
  const events: string[] = [];
  const tokens = {
    url: "https://gateway.example",
    get(): Promise<GatewayToken> {
      events.push("token");
      return Promise.resolve({ value: "t0ken-value", since: 0 });
    },
  } as unknown as GatewayTokens;
  const auth: Authenticator = new Authenticator({
    basic: "Basic dTpw",
    user: "u",
    origin: "https://qualys.example",
    tokens,
    title: (e) => e,
    log: { warn: (m) => events.push(`warn ${m}`), info: () => events.push("info") },
    probe: (a: Auth) => {
      events.push("probe");
      auth.sending(a);
      auth.answered("reports", a, probeStatus);
      return Promise.resolve();
    },
  });
  return { auth, events };
}

const BASIC: Auth = { header: "Basic dTpw" };
const SAID = { code: "", text: "", label: "action=list on the KnowledgeBase" };

Deno.test("a 401 while another Basic call is under way waits for its answer: a 200 proves the credentials", async () => {
  const { auth, events } = setup(200);
  auth.sending(BASIC); // a detection page, its status not in yet
  auth.sending(BASIC); // the KnowledgeBase call
  auth.answered("knowledge_base", BASIC, 401);
  const decided = auth.unauthorized("knowledge_base", BASIC, SAID);
  events.push("detections answered");
  auth.answered("detections", BASIC, 200);
  assert.equal(await decided, true);
  // had it not waited, it would have made the proving call before the page's answer
  assert.deepEqual(events, ["detections answered", "info", "token"]);
  assert.ok(auth.usesToken("knowledge_base"));
  assert.deepEqual(await auth.forCall("knowledge_base"), {
    header: "Bearer t0ken-value",
    token: { value: "t0ken-value", since: 0 },
  });
  assert.deepEqual(await auth.forCall("detections"), BASIC);
});

Deno.test("a 401 when the call under way is refused too, and the proving call is: the credentials' own 401", async () => {
  const { auth, events } = setup(401);
  auth.sending(BASIC);
  auth.sending(BASIC);
  auth.answered("knowledge_base", BASIC, 401);
  const decided = auth.unauthorized("knowledge_base", BASIC, SAID);
  auth.answered("hosts", BASIC, 401);
  assert.equal(await decided, false);
  assert.deepEqual(events, ["probe"]);
  assert.ok(!auth.usesToken("knowledge_base"));
  // the proving call is made once per run
  auth.sending(BASIC);
  auth.answered("hosts", BASIC, 401);
  assert.equal(await auth.unauthorized("hosts", BASIC, SAID), false);
  assert.deepEqual(events, ["probe"]);
});

Deno.test("a 401 with nothing under way and nothing proven: one proving call decides", async () => {
  const { auth, events } = setup(200);
  auth.sending(BASIC);
  auth.answered("knowledge_base", BASIC, 401);
  assert.equal(await auth.unauthorized("knowledge_base", BASIC, SAID), true);
  assert.deepEqual(events, ["probe", "info", "token"]);
});
