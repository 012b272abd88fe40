/**
 * How each call of the client is authenticated (../shared/reference/qualys_api_versions.md,
 * "Authentication"): Basic auth by default. An endpoint that answers 401 while the same
 * credentials worked for another call of the run wants a token from the API gateway: it gets one
 * and is called with `Authorization: Bearer <token>` for the rest of the run. A token is renewed
 * before 4 hours have passed, and once after a 401 with a token; a second 401 in a row ends the
 * run. Whether Basic works is known from the answers (2xx or 409) to Basic calls; while none has
 * come, a 401 waits for the Basic calls under way (a sync starts its Host List and KnowledgeBase
 * calls together). When none of them proves it, the 401 is the credentials' own: no call is made
 * just to find out, since each failed login may count towards locking the account.
 *
 * @module
 */

import { QualysApiError } from "../errors.ts";
import type { Log } from "../log/log.ts";
import type { Endpoint } from "./endpoints.ts";
import type { GatewayToken, GatewayTokens } from "./gateway.ts";

/** How one call is authenticated: the Authorization header, and the token it carries. */
export interface Auth {
  /** The Authorization header's value (a secret). */
  readonly header: string;
  /** The gateway token it carries; undefined for Basic auth. */
  readonly token?: GatewayToken | undefined;
}

/** Options for {@linkcode Authenticator}. */
export interface AuthenticatorOptions {
  /** The Basic Authorization header's value. */
  basic: string;
  /** The Qualys username, for messages. */
  user: string;
  /** The API server's origin, for messages. */
  origin: string;
  /** The gateway's tokens. */
  tokens: GatewayTokens;
  /** An endpoint and its version, for messages. */
  title: (endpoint: Endpoint) => string;
  /** Where to log. */
  log: Pick<Log, "warn" | "info">;
}

/** The authentication state of a client's run. */
export class Authenticator {
  readonly #o: AuthenticatorOptions;
  // Endpoints that want a gateway token, and how many 401s in a row each gave with one.
  readonly #bearer = new Set<Endpoint>();
  readonly #refusals = new Map<Endpoint, number>();
  // The first endpoint whose answer proved that Basic works, the Basic calls whose status is not
  // in yet, and those waiting for either to change.
  #worked: Endpoint | undefined;
  #inFlight = 0;
  #waiters: (() => void)[] = [];

  /** The state of a run that has made no call yet. */
  constructor(options: AuthenticatorOptions) {
    this.#o = options;
  }

  /** Whether calls to `endpoint` carry a gateway token. */
  usesToken(endpoint: Endpoint): boolean {
    return this.#bearer.has(endpoint);
  }

  /** How to authenticate the next call to `endpoint` (a token may be fetched or renewed). */
  async forCall(endpoint: Endpoint, signal?: AbortSignal): Promise<Auth> {
    if (!this.#bearer.has(endpoint)) return { header: this.#o.basic };
    const token = await this.#o.tokens.get(undefined, signal);
    return { header: `Bearer ${token.value}`, token };
  }

  /** A call with `auth` is being sent. */
  sending(auth: Auth): void {
    if (auth.token === undefined) this.#inFlight++;
  }

  /** The call with `auth` to `endpoint` was answered `status` (0: no answer came). */
  answered(endpoint: Endpoint, auth: Auth, status: number): void {
    const accepted = (status >= 200 && status < 300) || status === 409;
    if (auth.token !== undefined) {
      if (accepted) this.#refusals.delete(endpoint);
      return;
    }
    this.#inFlight--;
    if (accepted) this.#worked ??= endpoint;
    for (const w of this.#waiters.splice(0)) w();
  }

  /**
   * After a 401 to `endpoint`: true to call it again now (with a token, or a new one), false to
   * take the 401 as the answer (the credentials themselves were refused).
   *
   * @throws {QualysApiError} When a token is needed and cannot be had, or was refused twice.
   */
  async unauthorized(
    endpoint: Endpoint,
    auth: Auth,
    answer: { code: string; text: string; label: string },
    signal?: AbortSignal,
  ): Promise<boolean> {
    const title = this.#o.title(endpoint);
    if (auth.token) {
      const refusals = (this.#refusals.get(endpoint) ?? 0) + 1;
      this.#refusals.set(endpoint, refusals);
      if (refusals >= 2) {
        throw new QualysApiError(
          `${title} refused the token of the Qualys API gateway twice in a row, a new one ` +
            `included (HTTP 401 to ${answer.label}): check that user ${this.#o.user} may use it ` +
            "(its role and modules in Qualys), and that gateway_url is your platform's gateway",
          { status: 401, endpoint },
        );
      }
      this.#o.log.warn(`${title} refused the gateway token (HTTP 401): getting a new one`);
      await this.#token(endpoint, auth.token, signal, "");
      return true;
    }
    // another call of the endpoint, sent with Basic at the same time, switched it already
    if (this.#bearer.has(endpoint)) return true;
    const worked = await this.#proof(signal);
    if (worked === undefined) return false;
    if (this.#bearer.has(endpoint)) return true;
    const said = answer.text
      ? ` (${answer.code ? `CODE ${answer.code}: ` : ""}${answer.text})`
      : "";
    const why = `${title} answered HTTP 401${said} to ${answer.label} although user_id and ` +
      `password worked for ${this.#o.title(worked)} in this run: it wants a token from the ` +
      "Qualys API gateway";
    this.#bearer.add(endpoint);
    this.#o.log.info(`${why}; calling it with one from now on`);
    await this.#token(endpoint, undefined, signal, why);
    return true;
  }

  // The endpoint whose answer proved that Basic works, or undefined when none did.
  async #proof(signal: AbortSignal | undefined): Promise<Endpoint | undefined> {
    while (this.#worked === undefined && this.#inFlight > 0) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      signal?.throwIfAborted();
    }
    return this.#worked;
  }

  async #token(
    endpoint: Endpoint,
    refused: GatewayToken | undefined,
    signal: AbortSignal | undefined,
    why: string,
  ): Promise<void> {
    const tokens = this.#o.tokens;
    try {
      await tokens.get(refused, signal);
    } catch (error) {
      if (!(error instanceof QualysApiError)) throw error;
      const none = tokens.url === undefined;
      throw new QualysApiError(
        why && none
          ? `${why}, and none is known for url ${this.#o.origin}: set gateway_url in the ` +
            "plugin YAML (Help > About in the Qualys web interface names it, for example " +
            "https://gateway.qg2.apps.qualys.com)"
          : `${why ? `${why}: ` : ""}${error.message}`,
        // no gateway: the endpoint's 401 is the answer; else what the gateway answered
        { status: none ? 401 : error.status, endpoint, cause: error },
      );
    }
  }
}
