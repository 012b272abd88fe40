/**
 * The authenticator's order of things (issue 17, item 3): a 401 to Basic waits for the Basic
 * calls under way before it decides; when none of them proved the credentials, the 401 is the
 * credentials' own, and no call is made just to find out (a failed login may count towards
 * locking the account).
 */

import assert from "node:assert/strict";
import { type Auth, Authenticator } from "../../lib/qualys/authenticator.ts";
import type { GatewayToken, GatewayTokens } from "../../lib/qualys/gateway.ts";

function setup() {
  const events: string[] = [];
  const tokens = {
    url: "https://gateway.example",
    get(): Promise<GatewayToken> {
      events.push("token");
      return Promise.resolve({ value: "t0ken-value", since: 0 });
    },
  } as unknown as GatewayTokens;
  const auth = new Authenticator({
    basic: "Basic dTpw",
    user: "u",
    origin: "https://qualys.example",
    tokens,
    title: (e) => e,
    log: { warn: (m) => events.push(`warn ${m}`), info: () => events.push("info") },
  });
  return { auth, events };
}

const BASIC: Auth = { header: "Basic dTpw" };
const SAID = { code: "", text: "", label: "action=list on the KnowledgeBase" };

Deno.test("a 401 while another Basic call is under way waits for its answer: a 200 proves the credentials", async () => {
  const { auth, events } = setup();
  auth.sending(BASIC); // a Host List call, its status not in yet
  auth.sending(BASIC); // the KnowledgeBase call
  auth.answered("knowledge_base", BASIC, 401);
  const decided = auth.unauthorized("knowledge_base", BASIC, SAID);
  events.push("hosts answered");
  auth.answered("hosts", BASIC, 200);
  assert.equal(await decided, true);
  // had it not waited, it would have decided (credentials) before the Host List's answer
  assert.deepEqual(events, ["hosts answered", "info", "token"]);
  assert.ok(auth.usesToken("knowledge_base"));
  assert.deepEqual(await auth.forCall("knowledge_base"), {
    header: "Bearer t0ken-value",
    token: { value: "t0ken-value", since: 0 },
  });
  assert.deepEqual(await auth.forCall("hosts"), BASIC);
});

Deno.test("a 401 when the call under way is refused too: the credentials' own 401, no token", async () => {
  const { auth, events } = setup();
  auth.sending(BASIC);
  auth.sending(BASIC);
  auth.answered("knowledge_base", BASIC, 401);
  const decided = auth.unauthorized("knowledge_base", BASIC, SAID);
  auth.answered("hosts", BASIC, 401);
  assert.equal(await decided, false);
  assert.deepEqual(events, []);
  assert.ok(!auth.usesToken("knowledge_base"));
});

Deno.test("a 401 with nothing under way and nothing proven: the credentials' own; once a call worked, a token", async () => {
  const { auth, events } = setup();
  auth.sending(BASIC);
  auth.answered("knowledge_base", BASIC, 401);
  assert.equal(await auth.unauthorized("knowledge_base", BASIC, SAID), false);
  auth.sending(BASIC);
  auth.answered("detections", BASIC, 409); // a limit: the login was taken
  auth.sending(BASIC);
  auth.answered("knowledge_base", BASIC, 401);
  assert.equal(await auth.unauthorized("knowledge_base", BASIC, SAID), true);
  assert.deepEqual(events, ["info", "token"]);
});

Deno.test("calls of one endpoint refused together: one switch, one message, one token", async () => {
  const { auth, events } = setup();
  auth.sending(BASIC);
  auth.answered("hosts", BASIC, 200);
  for (let i = 0; i < 3; i++) auth.sending(BASIC);
  for (let i = 0; i < 3; i++) auth.answered("knowledge_base", BASIC, 401);
  const decided = await Promise.all(
    [1, 2, 3].map(() => auth.unauthorized("knowledge_base", BASIC, SAID)),
  );
  assert.deepEqual(decided, [true, true, true]);
  assert.deepEqual(events, ["info", "token"]);
});
