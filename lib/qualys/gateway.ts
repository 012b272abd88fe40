/**
 * Tokens from the Qualys API gateway, for an endpoint that refuses Basic auth
 * (../shared/reference/qualys_api_versions.md, "Authentication": PostHog treats KnowledgeBase 4.0
 * as JWT-authenticated). `POST <gateway_url>/auth` with the form fields `username`, `password` and
 * `token=true` answers the token as its body (HTTP 201 in PostHog's client, 200 taken too); it is
 * sent as `Authorization: Bearer <token>`. Qualys tokens last 4 hours, so one is renewed 10
 * minutes before. The gateway goes through the same proxy, CA certificates and time limit
 * (`-timeout`) as the API. Neither the token nor the password is ever put in a message.
 *
 * @module
 */

import { QualysApiError } from "../errors.ts";
import { DeadlineError } from "../util/deadline.ts";
import { unbracket } from "../util/text.ts";
import { VERSION } from "../version.ts";
import { classifyNetworkError } from "./network_errors.ts";
import { type ProxyTunnel, startProxyTunnel } from "./proxy_tunnel.ts";

/** How long a Qualys token is valid (docs.qualys.com, OAuth/OIDC client pages). */
export const TOKEN_LIFETIME_MS = 4 * 3600_000;
/** A token is renewed this long before it would expire. */
export const TOKEN_RENEW_BEFORE_MS = 10 * 60_000;

// The gateways of the public platforms (docs/qualys_api.md section 1 lists their API servers):
// qualys_api_versions.md names the first, second and fifth; the others follow the same rule
// (`qualysapi.<platform>` → `gateway.<platform>`, `qg1` where the API host has no `qgN`), as
// several clients' platform tables show. Private clouds and newer platforms set gateway_url.
const GATEWAYS: Readonly<Record<string, string>> = {
  "qualysapi.qualys.com": "gateway.qg1.apps.qualys.com",
  "qualysapi.qg2.apps.qualys.com": "gateway.qg2.apps.qualys.com",
  "qualysapi.qg3.apps.qualys.com": "gateway.qg3.apps.qualys.com",
  "qualysapi.qg4.apps.qualys.com": "gateway.qg4.apps.qualys.com",
  "qualysapi.qualys.eu": "gateway.qg1.apps.qualys.eu",
  "qualysapi.qg2.apps.qualys.eu": "gateway.qg2.apps.qualys.eu",
  "qualysapi.qg1.apps.qualys.in": "gateway.qg1.apps.qualys.in",
};

/**
 * The API gateway of the public platform whose API server `apiUrl` is; undefined for any other
 * server (a private cloud, a simulator), which needs `gateway_url`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(gatewayFor("https://qualysapi.qualys.eu"), "https://gateway.qg1.apps.qualys.eu");
 * assert.equal(gatewayFor("https://qualysapi.example.net"), undefined);
 * ```
 */
export function gatewayFor(apiUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" || url.port !== "") return undefined;
  const host = GATEWAYS[url.hostname.toLowerCase()];
  return host ? `https://${host}` : undefined;
}

/** Options for {@linkcode GatewayTokens}. */
export interface GatewayOptions {
  /** The gateway's URL (`gateway_url`, or the platform's); undefined when none is known. */
  url: string | undefined;
  /** Qualys username. */
  userId: string;
  /** Qualys password. */
  password: string;
  /** PEM text of extra CA certificates (ca_file). */
  caPem?: string | undefined;
  /** Proxy URL, http:// or https://. */
  proxy?: string | undefined;
  /** Proxy Basic-auth user. */
  proxyUsername?: string | undefined;
  /** Proxy Basic-auth password. */
  proxyPassword?: string | undefined;
  /** Time limit of the whole answer to `/auth`, in ms (`-timeout`). */
  timeoutMs: number;
  /** The clock, in ms: tests pass a fake one. */
  now: () => number;
  /** How to wait between tries. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The wait before try `n + 1` (0-based). */
  backoff: (n: number) => number;
  /** Retries of a failed connection or a 5xx. */
  maxRetries: number;
  /** Receives warnings (a retried call), never the token. */
  warn: (message: string) => void;
  /** Told each token, so that a logger can blank it should it ever reach a line. */
  addSecret?: ((secret: string) => void) | undefined;
}

/** A token and when it was had. */
export interface GatewayToken {
  /** The token (a secret). */
  readonly value: string;
  /** When it was had (the clock of the options). */
  readonly since: number;
}

/** Gets and keeps the token of a run, one at a time however many calls want it. */
export class GatewayTokens {
  readonly #o: GatewayOptions;
  #token: GatewayToken | undefined;
  #pending: Promise<GatewayToken> | undefined;
  #http: Deno.HttpClient | undefined;
  #tunnel: ProxyTunnel | undefined;
  #issued = 0;

  /** Tokens from the gateway `options.url` (none is fetched before one is asked for). */
  constructor(options: GatewayOptions) {
    this.#o = options;
  }

  /** The gateway's URL, undefined when none is known. */
  get url(): string | undefined {
    return this.#o.url;
  }

  /** Tokens had so far. */
  get issued(): number {
    return this.#issued;
  }

  /**
   * A token for a call: the current one unless it is due for renewal (4 hours less 10 minutes
   * old) or is `refused` (a call was answered 401 with it), in which case a new one. Calls that
   * ask at once share one request.
   *
   * @throws {QualysApiError} When no gateway is known, or it gives no token (exit 3).
   */
  async get(refused?: GatewayToken, signal?: AbortSignal): Promise<GatewayToken> {
    for (;;) {
      const t = this.#token;
      const due = t && this.#o.now() - t.since >= TOKEN_LIFETIME_MS - TOKEN_RENEW_BEFORE_MS;
      if (t && t !== refused && !due) return t;
      if (!this.#pending) {
        this.#pending = this.#fetch(signal).finally(() => this.#pending = undefined);
        return this.#token = await this.#pending;
      }
      await this.#pending;
    }
  }

  /** Closes the gateway's connection and proxy forwarder, when they were opened. */
  async close(): Promise<void> {
    this.#http?.close();
    await this.#tunnel?.close();
  }

  #client(gateway: URL): Deno.HttpClient {
    if (this.#http) return this.#http;
    const caCerts = this.#o.caPem ? [this.#o.caPem] : undefined;
    if (this.#o.proxy) {
      this.#tunnel = startProxyTunnel({
        proxy: this.#o.proxy,
        username: this.#o.proxyUsername,
        password: this.#o.proxyPassword,
        target: `${gateway.hostname}:${gateway.port || 443}`,
        caCerts,
        timeoutMs: this.#o.timeoutMs,
      });
    }
    return this.#http = Deno.createHttpClient({
      http2: false,
      ...(caCerts ? { caCerts } : {}),
      ...(this.#tunnel ? { proxy: { url: this.#tunnel.url } } : {}),
    });
  }

  async #fetch(signal: AbortSignal | undefined): Promise<GatewayToken> {
    const o = this.#o;
    if (o.url === undefined) {
      throw new QualysApiError(
        "a token from the Qualys API gateway is needed, but no gateway is known: set " +
          "gateway_url in the plugin YAML (Help > About in the Qualys web interface names it, " +
          "for example https://gateway.qg2.apps.qualys.com)",
      );
    }
    const gateway = new URL(o.url);
    const host = unbracket(gateway.hostname);
    const port = Number(gateway.port || 443);
    const where = `the Qualys API gateway ${gateway.host} (gateway_url)`;
    const auth = new URL(`${gateway.pathname.replace(/\/+$/, "")}/auth`, gateway).href;
    const http = this.#client(gateway);
    for (let retries = 0;; retries++) {
      signal?.throwIfAborted();
      const controller = new AbortController();
      const stop = () => controller.abort(signal!.reason);
      signal?.addEventListener("abort", stop);
      const timer = setTimeout(
        () => controller.abort(new DeadlineError(`whole answer to POST /auth`, o.timeoutMs)),
        o.timeoutMs,
      );
      let status: number, body: string, type: string;
      try {
        const response = await fetch(auth, {
          method: "POST",
          client: http,
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Requested-With": `qualys_connector ${VERSION}`,
          },
          body: new URLSearchParams({ username: o.userId, password: o.password, token: "true" })
            .toString(),
          signal: controller.signal,
        });
        status = response.status;
        type = response.headers.get("content-type")?.split(";")[0] ?? "no content type";
        body = await response.text();
      } catch (error) {
        signal?.throwIfAborted();
        const cause = controller.signal.aborted ? controller.signal.reason : error;
        const f = classifyNetworkError(cause, {
          host,
          port,
          proxyFailure: this.#tunnel?.lastFailure(),
          setting: "gateway_url",
        });
        const message = `${f.message} (${where}, POST /auth)`;
        if (!f.transient || retries >= o.maxRetries) {
          throw new QualysApiError(
            `${message}${f.transient ? `; gave up after ${retries} retries` : ""}`,
            { cause },
          );
        }
        o.warn(`${message}; retrying`);
        await o.sleep(o.backoff(retries), signal);
        continue;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", stop);
      }
      if (status >= 500 && retries < o.maxRetries) {
        o.warn(`${where} answered HTTP ${status} to POST /auth; retrying`);
        await o.sleep(o.backoff(retries), signal);
        continue;
      }
      const token = body.trim();
      if ((status === 200 || status === 201) && /^[\x21-\x7e]{8,16384}$/.test(token)) {
        this.#issued++;
        o.addSecret?.(token);
        return { value: token, since: o.now() };
      }
      // The body is never quoted: it may echo what was sent.
      const what =
        `${where} answered HTTP ${status} to POST /auth (${body.length} bytes of ${type})`;
      throw new QualysApiError(
        status === 401 || status === 403
          ? `${what}: it refused user ${o.userId}: check user_id and password, and that ` +
            "gateway_url is your platform's gateway (Help > About in the Qualys web interface)"
          : status >= 500
          ? `${what}; gave up after ${retries} retries: try again later`
          : `${what}, not a token: check gateway_url (Help > About in the Qualys web ` +
            "interface names your platform's gateway)",
        { status },
      );
    }
  }
}
