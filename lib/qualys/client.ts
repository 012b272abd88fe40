/**
 * The Qualys API v2 client (docs/qualys_api.md, sections 2-5): Basic auth and `X-Requested-With`
 * on every call; every answer read from its body whatever the HTTP status; rate and concurrency
 * limits waited out as the headers or ITEMs say; transient network failures and 5xx retried with
 * backoff and jitter; all bounded. Calls go to the report endpoint unless they name another path
 * of the same API server (`call(params, { path })`, `fetchStream(path, params)`).
 *
 * @module
 */

import { QualysApiError } from "../errors.ts";
import { DeadlineError } from "../util/deadline.ts";
import { describeQualysError } from "./describe_error.ts";
import { classifyNetworkError } from "./network_errors.ts";
import { type ProxyTunnel, startProxyTunnel } from "./proxy_tunnel.ts";
import { itemValue, parseQualysResponse, type QualysResponse } from "./responses.ts";
import { VERSION } from "../version.ts";
import { basicAuth, unbracket } from "../util/text.ts";

/** Where the client reports what it does. */
export interface ClientLog {
  /** Warnings (low rate limit, retries). */
  warn(message: string): void;
  /** Progress messages (the client itself logs none today). */
  info(message: string): void;
  /** Details (the client itself logs none today). */
  debug(message: string): void;
}

/** Options for {@linkcode QualysClient.open}. */
export interface QualysClientOptions {
  /** API base URL (https). */
  url: string;
  /** Qualys username. */
  userId: string;
  /** Qualys password. */
  password: string;
  /** PEM text of extra CA certificates (ca_file), for the API and the proxy. */
  caPem?: string | undefined;
  /** Proxy URL, http:// or https://. */
  proxy?: string | undefined;
  /** Proxy Basic-auth user. */
  proxyUsername?: string | undefined;
  /** Proxy Basic-auth password. */
  proxyPassword?: string | undefined;
  /** Where to log. */
  log?: ClientLog | undefined;
  /** How to wait; tests pass a fake clock. @default a real timer */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** Random numbers in [0, 1) for jitter. @default Math.random */
  random?: (() => number) | undefined;
  /** Retries of a failed connection, a 5xx or an answer that is not XML. @default {4} */
  maxRetries?: number;
  /** Waits for rate or concurrency limits before giving up. @default {10} */
  maxLimitWaits?: number;
  /** Longest single wait for a limit, in seconds; a longer one is an error. @default {900} */
  maxLimitWaitSeconds?: number;
  /**
   * Time limit of one network step, in ms (`-timeout`): a small call's whole answer, a fetch's
   * headers, the longest stall of a report download, each step of the proxy forwarder.
   * @default {120000}
   */
  timeoutMs?: number | undefined;
}

const NOOP_LOG: ClientLog = { warn() {}, info() {}, debug() {} };

// What an answer means for the exchange: the result, a limit to wait out, or a transient
// failure to retry (with the error to throw once the retries are used up).
type Verdict<T> =
  | { done: T }
  | { limit: { seconds: number; why: string } }
  | { retry: { what: string; giveUp: () => QualysApiError } };

/** A fetched report body: the stream and its declared length. */
export interface ReportDownload {
  /** The body. */
  body: ReadableStream<Uint8Array>;
  /** Content-Length, when the server gave one. */
  contentLength: number | undefined;
}

/** A streamed answer of any endpoint: the body, its declared length, status and headers. */
export interface StreamedAnswer extends ReportDownload {
  /** The HTTP status (the body says what it means: a page, or a SIMPLE_RETURN). */
  status: number;
  /** The response headers (`X-Concurrency-Limit-Limit`, `X-RateLimit-*`). */
  headers: Headers;
}

/** The report endpoint, where `call` goes unless told otherwise. */
export const REPORT_PATH = "/api/2.0/fo/report/";

/**
 * What a call is called in messages: `action=launch` on the report endpoint, else the action and
 * the path (`action=list on /api/2.0/fo/asset/host/vm/detection/`).
 */
export function callLabel(path: string, params: Record<string, string>): string {
  return path === REPORT_PATH ? `action=${params.action}` : `action=${params.action} on ${path}`;
}

/** The client options a plugin configuration gives (url, credentials, proxy). */
export function clientOptionsFromConfig(
  config: {
    url: string;
    userId?: string | undefined;
    password?: string | undefined;
    proxy?: string | undefined;
    proxyUsername?: string | undefined;
    proxyPassword?: string | undefined;
  },
  caPem: string | undefined,
): QualysClientOptions {
  return {
    url: config.url,
    userId: config.userId ?? "",
    password: config.password ?? "",
    caPem,
    proxy: config.proxy,
    proxyUsername: config.proxyUsername,
    proxyPassword: config.proxyPassword,
  };
}

/** Makes Qualys API v2 calls, with authentication, limits, retries and the proxy handled. */
export class QualysClient {
  readonly #base: URL;
  readonly #host: string;
  readonly #port: number;
  readonly #auth: string;
  readonly #http: Deno.HttpClient;
  readonly #tunnel: ProxyTunnel | undefined;
  readonly #log: ClientLog;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #maxRetries: number;
  readonly #maxLimitWaits: number;
  readonly #maxLimitWait: number;
  readonly #timeoutMs: number;
  #warnedRemaining = false;

  private constructor(options: QualysClientOptions) {
    const base = new URL(options.url);
    this.#base = base;
    this.#host = unbracket(base.hostname);
    this.#port = Number(base.port || 443);
    this.#auth = basicAuth(options.userId, options.password);
    const caCerts = options.caPem ? [options.caPem] : undefined;
    if (options.proxy) {
      this.#tunnel = startProxyTunnel({
        proxy: options.proxy,
        username: options.proxyUsername,
        password: options.proxyPassword,
        target: `${base.hostname}:${this.#port}`,
        caCerts,
        timeoutMs: options.timeoutMs ?? 120_000,
      });
    }
    this.#http = Deno.createHttpClient({
      // HTTP/1.1 only: over HTTP/2 the client takes up to a whole flow-control window of a
      // multi-GB report ahead of the parser (several MiB of RSS), over HTTP/1.1 TCP holds it back.
      http2: false,
      ...(caCerts ? { caCerts } : {}),
      ...(this.#tunnel ? { proxy: { url: this.#tunnel.url } } : {}),
    });
    this.#log = options.log ?? NOOP_LOG;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#random = options.random ?? Math.random;
    this.#maxRetries = options.maxRetries ?? 4;
    this.#maxLimitWaits = options.maxLimitWaits ?? 10;
    this.#maxLimitWait = options.maxLimitWaitSeconds ?? 900;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
  }

  /** Creates a client (and the proxy forwarder, when a proxy is configured). */
  static open(options: QualysClientOptions): QualysClient {
    return new QualysClient(options);
  }

  /** The API host, for messages. */
  get host(): string {
    return this.#host;
  }

  /** The time limit of one network step, in ms; a report download may stall no longer. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** Closes the HTTP client and the proxy forwarder. */
  async close(): Promise<void> {
    this.#http.close();
    await this.#tunnel?.close();
  }

  #backoff(attempt: number): number {
    const base = Math.min(1000 * 2 ** attempt, 30_000);
    return Math.round(base / 2 + this.#random() * base / 2);
  }

  #networkFailure(error: unknown) {
    return classifyNetworkError(error, {
      host: this.#host,
      port: this.#port,
      proxyFailure: this.#tunnel?.lastFailure(),
    });
  }

  #checkRemaining(headers: Headers): void {
    const remaining = headers.get("x-ratelimit-remaining");
    if (remaining !== null && Number(remaining) <= 10 && !this.#warnedRemaining) {
      this.#warnedRemaining = true;
      this.#log.warn(
        `Only ${remaining} Qualys API calls are left in this rate-limit window ` +
          `(${headers.get("x-ratelimit-limit") ?? "?"} per ${
            headers.get("x-ratelimit-window-sec") ?? "?"
          } s): other scripts share this account's limit`,
      );
    }
  }

  // How long a rate or concurrency limit says to wait, in seconds.
  #limitWait(headers: Headers, r: QualysResponse | undefined): number {
    const toWait = Number(headers.get("x-ratelimit-towait-sec") ?? NaN);
    if (Number.isFinite(toWait) && toWait > 0) return toWait;
    const seconds = Number(r ? itemValue(r, "SECONDS_TO_WAIT") ?? NaN : NaN);
    if (Number.isFinite(seconds) && seconds > 0) return seconds;
    return 30; // concurrency (1960) and unexplained 409s: Qualys's own clients wait 30 s
  }

  async #waitForLimit(
    seconds: number,
    waits: number,
    why: string,
    signal?: AbortSignal,
  ): Promise<void> {
    if (waits >= this.#maxLimitWaits) {
      throw new QualysApiError(
        `${why}: still limited after ${waits} waits; run the connector later, or less often`,
      );
    }
    if (seconds > this.#maxLimitWait) {
      throw new QualysApiError(
        `${why}: Qualys asks to wait ${
          Math.round(seconds)
        } s, longer than ${this.#maxLimitWait} s; ` +
          "run the connector later",
      );
    }
    this.#log.warn(`${why}: waiting ${Math.round(seconds)} s as Qualys asks, then trying again`);
    await this.#sleepUnless(seconds * 1000, signal);
  }

  #request(path: string, params: Record<string, string>, signal: AbortSignal): Promise<Response> {
    return fetch(new URL(path, this.#base).href, {
      method: "POST",
      client: this.#http,
      headers: {
        "Authorization": this.#auth,
        "X-Requested-With": `qualys_connector ${VERSION}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(params).toString(),
      signal,
    });
  }

  /**
   * Sends `params` until an answer is judged final: network failures and what `judge` calls
   * transient are retried with backoff and jitter, rate and concurrency limits are waited out;
   * both bounded. The request and `judge` share one time limit: a judge that reads the body
   * bounds the whole answer, one that hands the body on bounds the headers.
   */
  async #exchange<T>(
    path: string,
    params: Record<string, string>,
    judge: (response: Response) => Promise<Verdict<T>>,
    options: { streamed?: boolean; signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    const { streamed = false, signal } = options;
    let retries = 0, waits = 0;
    const label = callLabel(path, params);
    const sleep = (ms: number) => this.#sleepUnless(ms, signal);
    for (;;) {
      signal?.throwIfAborted();
      let response: Response;
      let verdict: Verdict<T>;
      const controller = new AbortController();
      const stop = () => controller.abort(signal!.reason);
      signal?.addEventListener("abort", stop);
      const step = streamed ? `answer to ${label} (its headers)` : `whole answer to ${label}`;
      const timer = setTimeout(
        () => controller.abort(new DeadlineError(step, this.#timeoutMs)),
        this.#timeoutMs,
      );
      try {
        response = await this.#request(path, params, controller.signal);
        verdict = await judge(response);
      } catch (error) {
        if (error instanceof QualysApiError) throw error;
        signal?.throwIfAborted();
        const cause = controller.signal.aborted ? controller.signal.reason : error;
        const f = this.#networkFailure(cause);
        if (!f.transient || retries >= this.#maxRetries) {
          const gaveUp = f.transient ? `; gave up after ${retries} retries` : "";
          throw new QualysApiError(`${f.message} (${label})${gaveUp}`, { cause });
        }
        const delay = this.#backoff(retries++);
        this.#log.warn(`${f.message}; retrying in ${Math.round(delay / 1000)} s`);
        await sleep(delay);
        continue;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", stop);
      }
      if ("done" in verdict) return verdict.done;
      if ("limit" in verdict) {
        await this.#waitForLimit(verdict.limit.seconds, waits++, verdict.limit.why, signal);
        continue;
      }
      if (retries >= this.#maxRetries) throw verdict.retry.giveUp();
      const delay = this.#backoff(retries++);
      this.#log.warn(`${verdict.retry.what}; retrying in ${Math.round(delay / 1000)} s`);
      await sleep(delay);
    }
  }

  // The client's sleep, cut short (with the signal's reason) when `signal` fires.
  async #sleepUnless(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (!signal) return await this.#sleep(ms);
    signal.throwIfAborted();
    const { promise, reject } = Promise.withResolvers<never>();
    const stop = () => reject(signal.reason);
    signal.addEventListener("abort", stop);
    try {
      await Promise.race([this.#sleep(ms), promise]);
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }

  // The answer as a Qualys response, or undefined when it is not one (not XML, an HTML page).
  #parse(body: Uint8Array): QualysResponse | undefined {
    try {
      const parsed = parseQualysResponse(body);
      return parsed.root === "" ? undefined : parsed;
    } catch {
      return undefined;
    }
  }

  /**
   * Makes one API call and returns its answer; waits out limits and retries transient
   * failures. A SIMPLE_RETURN with an error CODE (other than those in `accept`) is thrown as a
   * {@linkcode QualysApiError} whose message says what to fix.
   */
  call(
    params: Record<string, string>,
    options: { accept?: readonly string[]; path?: string } = {},
  ): Promise<QualysResponse> {
    const path = options.path ?? REPORT_PATH;
    return this.#exchange<QualysResponse>(path, params, async (response) => {
      const body = new Uint8Array(await response.arrayBuffer());
      this.#checkRemaining(response.headers);
      const parsed = this.#parse(body);
      const code = parsed?.code ?? "";
      if (response.status === 409 || code === "1960" || code === "1965") {
        const why = code === "1965"
          ? "Qualys API rate limit reached (1965)"
          : code === "1960"
          ? "Qualys API concurrency limit reached (1960)"
          : "Qualys API limit reached (HTTP 409)";
        return { limit: { seconds: this.#limitWait(response.headers, parsed), why } };
      }
      const fatal999 = code === "999" &&
        /invalid report/i.test(parsed?.items.map(([, v]) => v).join(" ") ?? "");
      if ((response.status >= 500 || !parsed) && !fatal999) {
        return {
          retry: {
            what: `Qualys answered HTTP ${response.status}${code ? ` CODE ${code}` : ""}`,
            giveUp: () =>
              new QualysApiError(
                parsed
                  ? describeQualysError(parsed)
                  : `Qualys answered HTTP ${response.status} with a body that is not XML (${
                    callLabel(path, params)
                  }): ` +
                    "check that url is the Qualys API server of your platform",
              ),
          },
        };
      }
      if (
        (parsed!.root === "SIMPLE_RETURN" && code !== "" &&
          !(options.accept ?? []).includes(code)) ||
        (parsed!.root === "GENERIC_RETURN" && code !== "")
      ) {
        throw new QualysApiError(describeQualysError(parsed!), { code });
      }
      return { done: parsed! };
    });
  }

  /**
   * Starts a fetch and returns the body stream; waits out limits and retries connection
   * failures and 5xx like {@linkcode call}. A body that is a SIMPLE_RETURN (7001 and others) is
   * returned as it is: the report parser recognises it.
   */
  async fetchReport(id: string): Promise<ReportDownload> {
    const { body, contentLength } = await this.#stream(REPORT_PATH, { action: "fetch", id }, {
      limitWhy: "Qualys API limit reached while fetching the report",
      failWhat: "to fetch",
    });
    return { body, contentLength };
  }

  /**
   * POSTs `params` to `path` (an endpoint of the API server: Host List Detection, Host List, the
   * KnowledgeBase) and returns the answer with its body unread, once the headers are in (within
   * the time limit). HTTP 409 is waited out, connection failures and 5xx are retried, as in
   * {@linkcode call}; any other answer is returned whatever its status, for the caller's parser
   * to read (a page, or a SIMPLE_RETURN that says what is wrong).
   */
  fetchStream(
    path: string,
    params: Record<string, string>,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<StreamedAnswer> {
    return this.#stream(path, params, { signal: options.signal });
  }

  #stream(
    path: string,
    params: Record<string, string>,
    texts: { limitWhy?: string; failWhat?: string; signal?: AbortSignal | undefined },
  ): Promise<StreamedAnswer> {
    return this.#exchange<StreamedAnswer>(path, params, async (response) => {
      this.#checkRemaining(response.headers);
      if (response.status === 409 || response.status >= 500) {
        const parsed = this.#parse(new Uint8Array(await response.arrayBuffer()));
        const label = callLabel(path, params);
        if (response.status === 409) {
          const code = parsed?.code ?? "";
          return {
            limit: {
              seconds: this.#limitWait(response.headers, parsed),
              why: texts.limitWhy ??
                (code === "1965"
                  ? `Qualys API rate limit reached (1965, ${label})`
                  : code === "1960"
                  ? `Qualys API concurrency limit reached (1960, ${label})`
                  : `Qualys API limit reached (HTTP 409, ${label})`),
            },
          };
        }
        const what = `Qualys answered HTTP ${response.status} ${texts.failWhat ?? `to ${label}`}`;
        return {
          retry: {
            what,
            giveUp: () => new QualysApiError(parsed ? describeQualysError(parsed) : what),
          },
        };
      }
      const length = response.headers.get("content-length");
      return {
        done: {
          body: response.body ?? new ReadableStream({ start: (c) => c.close() }),
          contentLength: length !== null && /^\d+$/.test(length) ? Number(length) : undefined,
          status: response.status,
          headers: response.headers,
        },
      };
    }, { streamed: true, signal: texts.signal });
  }

  /**
   * Waits out a rate or concurrency limit that a streamed answer's body reported (a SIMPLE_RETURN
   * with CODE 1960 or 1965 that came without HTTP 409), as {@linkcode call} does for its own:
   * `SECONDS_TO_WAIT` or 30 s, throwing once `waits` reaches the limit or the wait is too long.
   */
  async waitForBodyLimit(
    r: Pick<QualysResponse, "code" | "items">,
    waits: number,
    options: { label: string; signal?: AbortSignal | undefined },
  ): Promise<void> {
    const why = r.code === "1965"
      ? `Qualys API rate limit reached (1965, ${options.label})`
      : `Qualys API concurrency limit reached (${r.code || "1960"}, ${options.label})`;
    const seconds = this.#limitWait(new Headers(), r as QualysResponse);
    await this.#waitForLimit(seconds, waits, why, options.signal);
  }

  /** Classifies an error seen while reading a body (a cut download). */
  describeBodyError(error: unknown): { message: string; transient: boolean } {
    return this.#networkFailure(error);
  }

  /** Waits `ms` with the client's clock (real or fake); rejects when `signal` fires first. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#sleepUnless(ms, signal);
  }

  /** Random number for jitter (real or fake). */
  jitter(): number {
    return this.#random();
  }
}
