/**
 * The Qualys API gateway of the simulator: `POST /auth` (form `username`, `password`,
 * `token=true`) answers a token as text with HTTP 201 (PostHog PR #80101,
 * qualys_api_versions.md), and calls may carry it as `Authorization: Bearer <token>`. With
 * `kbWantsToken` the KnowledgeBase answers 401 to Basic auth and takes the token, as PostHog
 * treats KB 4.0; the body of that 401 is not known, so it is switchable (`refusal`).
 *
 * @module
 */

/** The API gateway part of a script. */
export interface SimGatewayScript {
  /** The KnowledgeBase answers 401 to Basic auth and wants a gateway token. @default {false} */
  kbWantsToken?: boolean;
  /** The body of that 401: empty (default) or a SIMPLE_RETURN CODE 2000 (not known which). */
  refusal?: "empty" | "simple-return";
  /** Every token is refused with HTTP 401 (an account the API does not take tokens for). */
  refuseTokens?: boolean;
  /** Tokens another simulator's gateway issued are taken too (a gateway on its own host). */
  trustTokensOf?: SimGateway;
}

/** The simulated API gateway, at run time. */
export interface SimGateway {
  /** Every token issued, in order (secrets a test looks for in logs). */
  readonly tokens: string[];
  /** Calls made with each token that it took, by token. */
  readonly uses: Map<string, number>;
  /** Whether `token` was issued here and is still valid. */
  valid(token: string): boolean;
  /** Makes every token issued so far invalid (as once 4 hours have passed). */
  expireTokens(): void;
  /** Changes the script for the following calls. */
  set(script: SimGatewayScript): void;
}

/** What a call's Authorization header says to the gateway. */
export interface BearerCheck {
  /** A gateway token came (valid or not). */
  bearer: boolean;
  /** The token ("" or garbage when none came). */
  token: string;
  /** The gateway takes it. */
  ok: boolean;
}

/** The gateway at run time: the tokens it issued and took, and its `/auth` call. */
export class Gateway implements SimGateway {
  /** Every token issued, in order (secrets a test looks for in logs). */
  readonly tokens: string[] = [];
  /** Calls made with each token that it took, by token. */
  readonly uses: Map<string, number> = new Map();
  readonly #valid = new Set<string>();
  readonly #user: string;
  readonly #password: string;
  #script: SimGatewayScript;

  /** A gateway for the login `user`/`password`, played as `script` says. */
  constructor(script: SimGatewayScript | undefined, login: { user: string; password: string }) {
    this.#script = { ...script };
    this.#user = login.user;
    this.#password = login.password;
  }

  /** The script now. */
  get script(): SimGatewayScript {
    return this.#script;
  }

  /** Whether `token` was issued here and is still valid. */
  valid(token: string): boolean {
    return this.#valid.has(token);
  }

  /** Makes every token issued so far invalid (as once 4 hours have passed). */
  expireTokens(): void {
    this.#valid.clear();
  }

  /** Changes the script for the following calls. */
  set(script: SimGatewayScript): void {
    this.#script = { ...this.#script, ...script };
  }

  /** Reads a call's Authorization header: a token this gateway (or one it trusts) takes? */
  check(authorization: string): BearerCheck {
    const gw = this.#script;
    const bearer = authorization.startsWith("Bearer ");
    const token = authorization.slice(7);
    const ok = bearer && !gw.refuseTokens &&
      (this.#valid.has(token) || gw.trustTokensOf?.valid(token) === true);
    return { bearer, token, ok };
  }

  /** Counts a call made with `token`, which the gateway took. */
  use(token: string): void {
    this.uses.set(token, (this.uses.get(token) ?? 0) + 1);
  }

  /** The token call (PostHog #80101: form fields, HTTP 201, the token as the body). */
  auth(method: string, params: Record<string, string>): Response {
    const user = this.#user, password = this.#password;
    if (method !== "POST" || params.token !== "true") {
      return new Response("token=true is required", { status: 400 });
    }
    if (params.username !== user || params.password !== password) {
      return new Response('{"message":"Unauthorized"}', {
        status: 401,
        headers: { "Content-Type": "application/json" },
      });
    }
    const b64 = (text: string) =>
      btoa(text).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const random = b64(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
    const token = `${b64('{"alg":"HS512"}')}.${
      b64(JSON.stringify({ sub: user, n: this.tokens.length + 1 }))
    }.${random}`;
    this.tokens.push(token);
    this.#valid.add(token);
    return new Response(token, { status: 201, headers: { "Content-Type": "text/plain" } });
  }
}
