/**
 * The Qualys API v2 client (docs/qualys_api.md, sections 2-5): Basic auth and `X-Requested-With`
 * on every call; a Qualys answer read from its body whatever the HTTP status, and a non-2xx one
 * that is not a Qualys answer (an empty body, a proxy's or firewall's page) reported by its
 * status; rate and concurrency limits waited out as the headers or ITEMs say; transient network
 * failures and 5xx retried with backoff and jitter; all bounded.
 *
 * Every call names its endpoint (`detections`, `hosts`, `knowledge_base`, `reports`), whose path
 * and version come from the one table (`endpoints.ts`, `api_versions`). A version Qualys refuses
 * (HTTP 404 or 410, or a SIMPLE_RETURN saying it is not supported) ends the run naming the
 * `api_versions` entry to change; a notice of deprecation in an answer is warned once per
 * endpoint. An endpoint that answers 401 while the same credentials worked for another call of
 * the run gets a token from the API gateway (`gateway.ts`) and is called with it from then on.
 *
 * @module
 */

import { QualysApiError } from "../errors.ts";
import { DeadlineError } from "../util/deadline.ts";
import { describeHttpStatus, describeRefusedVersion, isRetryableStatus } from "./answer_errors.ts";
export {
  type ApiTraffic,
  type ClientLog,
  clientOptionsFromConfig,
  type QualysClientOptions,
  type ReportDownload,
  type StreamedAnswer,
} from "./client_options.ts";
import {
  type ApiVersions,
  DEFAULT_API_VERSIONS,
  type Endpoint,
  endpointPath,
  ENDPOINTS,
  endpointTitle,
} from "./endpoints.ts";
import { contentType, readSmall } from "./answer_body.ts";
import type {
  ApiTraffic,
  ClientLog,
  QualysClientOptions,
  ReportDownload,
  StreamedAnswer,
} from "./client_options.ts";
import { type Auth, Authenticator } from "./authenticator.ts";
import { GatewayTokens } from "./gateway.ts";
import { ApiWaits } from "./waits.ts";
import { classifyNetworkError } from "./network_errors.ts";
import { describeNotice, findDeprecationNotice, refusesVersion } from "./notices.ts";
import { type ProxyTunnel, startProxyTunnel } from "./proxy_tunnel.ts";
import { describeQualysError, parseQualysResponse, type QualysResponse } from "./simple_return.ts";
import { NO_LOG } from "../log/log.ts";
import { VERSION } from "../version.ts";
import { basicAuth, unbracket } from "../util/text.ts";

// What an answer means for the exchange: the result, a limit to wait out, or a transient
// failure to retry (with the error to throw once the retries are used up).
type Verdict<T> =
  | { done: T }
  | { limit: { seconds: number; why: string } }
  | { retry: { what: string; giveUp: () => QualysApiError } };

const isOk = (status: number) => status >= 200 && status < 300;

/** Makes Qualys API v2 calls, with authentication, limits, retries and the proxy handled. */
export class QualysClient {
  readonly #base: URL;
  readonly #host: string;
  readonly #port: number;
  readonly #http: Deno.HttpClient;
  #closed = false;
  readonly #tunnel: ProxyTunnel | undefined;
  readonly #log: ClientLog;
  readonly #waits: ApiWaits;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  readonly #versions: ApiVersions;
  readonly #tokens: GatewayTokens;
  readonly #auth: Authenticator;
  readonly #noticed = new Set<Endpoint>();
  readonly #traffic: ApiTraffic;

  private constructor(options: QualysClientOptions) {
    const base = new URL(options.url);
    this.#base = base;
    this.#host = unbracket(base.hostname);
    this.#port = Number(base.port || 443);
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
    this.#log = options.log ?? NO_LOG;
    this.#waits = new ApiWaits({
      sleep: options.sleep,
      random: options.random,
      maxLimitWaits: options.maxLimitWaits,
      maxLimitWaitSeconds: options.maxLimitWaitSeconds,
      log: this.#log,
    });
    this.#maxRetries = options.maxRetries ?? 4;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#versions = options.apiVersions ?? DEFAULT_API_VERSIONS;
    this.#traffic = options.traffic ?? { calls: 0, bytes: 0 };
    const log = this.#log;
    this.#tokens = new GatewayTokens({
      url: options.gatewayUrl,
      userId: options.userId,
      password: options.password,
      caPem: options.caPem,
      proxy: options.proxy,
      proxyUsername: options.proxyUsername,
      proxyPassword: options.proxyPassword,
      timeoutMs: this.#timeoutMs,
      now: options.now ?? Date.now,
      sleep: (ms, signal) => this.#waits.sleep(ms, signal),
      backoff: (n) => this.#waits.backoff(n),
      maxRetries: this.#maxRetries,
      warn: (m) => log.warn(m),
      addSecret: log.addSecret ? (t) => log.addSecret!(t) : undefined,
    });
    this.#auth = new Authenticator({
      basic: basicAuth(options.userId, options.password),
      user: options.userId,
      origin: base.origin,
      tokens: this.#tokens,
      title: (e) => this.title(e),
      log,
    });
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

  /** The path of `endpoint` at its configured version. */
  path(endpoint: Endpoint): string {
    return endpointPath(endpoint, this.#versions);
  }

  /** The version `endpoint` is called at. */
  version(endpoint: Endpoint): string {
    return this.#versions[endpoint];
  }

  /** The endpoint and its version, for messages: "KnowledgeBase API 4.0". */
  title(endpoint: Endpoint): string {
    return endpointTitle(endpoint, this.#versions);
  }

  /**
   * What a call is called in messages: `action=launch` on the report endpoint, else the action and
   * the path (`action=list on ` and the endpoint path of the table, version included).
   */
  label(endpoint: Endpoint, params: Record<string, string>): string {
    return endpoint === "reports"
      ? `action=${params.action}`
      : `action=${params.action} on ${this.path(endpoint)}`;
  }

  /** Whether calls to `endpoint` carry a gateway token (it refused Basic auth this run). */
  usesToken(endpoint: Endpoint): boolean {
    return this.#auth.usesToken(endpoint);
  }

  /** The requests sent and the answer bytes read so far (with those of clients sharing it). */
  get traffic(): Readonly<ApiTraffic> {
    return this.#traffic;
  }

  /** Counts `bytes` of an answer body read by a caller (a streamed answer's). */
  noteDownloaded(bytes: number): void {
    this.#traffic.bytes += bytes;
  }

  /** The API gateway's URL, undefined when none is known. */
  get gatewayUrl(): string | undefined {
    return this.#tokens.url;
  }

  /**
   * Gets a token from the API gateway, to prove it works (`-check`); the token is kept for the
   * run, never shown.
   *
   * @throws {QualysApiError} When no gateway is known or it gives no token.
   */
  async checkGateway(): Promise<void> {
    await this.#tokens.get();
  }

  /** Closes the HTTP client and the proxy forwarder. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#http.close();
    await this.#tunnel?.close();
    await this.#tokens.close();
  }

  #networkFailure(error: unknown) {
    return classifyNetworkError(error, {
      host: this.#host,
      port: this.#port,
      proxyFailure: this.#tunnel?.lastFailure(),
    });
  }

  // Sends one request, telling the authenticator what became of it.
  async #send(
    endpoint: Endpoint,
    params: Record<string, string>,
    auth: Auth,
    signal: AbortSignal,
  ): Promise<Response> {
    this.#auth.sending(auth);
    this.#traffic.calls++;
    let status = 0;
    try {
      const response = await fetch(new URL(this.path(endpoint), this.#base).href, {
        method: "POST",
        client: this.#http,
        headers: {
          "Authorization": auth.header,
          "X-Requested-With": `qualys_connector ${VERSION}`,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams(params).toString(),
        signal,
      });
      status = response.status;
      return response;
    } finally {
      this.#auth.answered(endpoint, auth, status);
    }
  }

  /**
   * Sends `params` until an answer is judged final: network failures and what `judge` calls
   * transient are retried with backoff and jitter, rate and concurrency limits are waited out;
   * both bounded. A 401 may switch the endpoint to a gateway token (then it is called again at
   * once). The request and `judge` share one time limit: a judge that reads the body bounds the
   * whole answer, one that hands the body on bounds the headers.
   */
  async #exchange<T>(
    endpoint: Endpoint,
    params: Record<string, string>,
    judge: (response: Response) => Promise<Verdict<T>>,
    options: { streamed?: boolean; signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    const { streamed = false, signal } = options;
    let retries = 0, waits = 0;
    const label = this.label(endpoint, params);
    const sleep = (ms: number) => this.#waits.sleep(ms, signal);
    for (;;) {
      signal?.throwIfAborted();
      const auth = await this.#auth.forCall(endpoint, signal);
      let response: Response;
      let verdict: Verdict<T> | undefined;
      let refused: Uint8Array<ArrayBuffer> | undefined;
      const controller = new AbortController();
      const stop = () => controller.abort(signal!.reason);
      signal?.addEventListener("abort", stop);
      const step = streamed ? `answer to ${label} (its headers)` : `whole answer to ${label}`;
      const timer = setTimeout(
        () => controller.abort(new DeadlineError(step, this.#timeoutMs)),
        this.#timeoutMs,
      );
      try {
        response = await this.#send(endpoint, params, auth, controller.signal);
        if (response.status === 401) {
          // read now, within the time limit; what it means is decided below
          refused = await readSmall(response);
          response = new Response(refused, { status: 401, headers: response.headers });
        } else verdict = await judge(response);
      } catch (error) {
        if (error instanceof QualysApiError) throw error;
        signal?.throwIfAborted();
        const cause = controller.signal.aborted ? controller.signal.reason : error;
        const f = this.#networkFailure(cause);
        if (!f.transient || retries >= this.#maxRetries) {
          const gaveUp = f.transient ? `; gave up after ${retries} retries` : "";
          throw new QualysApiError(`${f.message} (${label})${gaveUp}`, { cause, endpoint });
        }
        const delay = this.#waits.backoff(retries++);
        this.#log.warn(`${f.message}; retrying in ${Math.round(delay / 1000)} s`);
        await sleep(delay);
        continue;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", stop);
      }
      if (refused) {
        const r = this.#parse(refused);
        const said = { code: r?.code ?? "", text: r?.text ?? "", label };
        if (await this.#auth.unauthorized(endpoint, auth, said, signal)) {
          this.#traffic.bytes += refused.length;
          continue;
        }
        verdict = await judge(response); // it reads `refused` again, and counts it
      }
      if ("done" in verdict!) return verdict.done;
      if ("limit" in verdict!) {
        await this.#waits.waitForLimit(verdict.limit.seconds, waits++, verdict.limit.why, signal);
        continue;
      }
      if (retries >= this.#maxRetries) throw verdict!.retry.giveUp();
      const delay = this.#waits.backoff(retries++);
      this.#log.warn(`${verdict!.retry.what}; retrying in ${Math.round(delay / 1000)} s`);
      await sleep(delay);
    }
  }

  // The answer as a Qualys response, or undefined when it is not one (not XML, an HTML page).
  #parse(body: Uint8Array): QualysResponse | undefined {
    if (body.length === 0) return undefined;
    try {
      const parsed = parseQualysResponse(body);
      return parsed.root === "" ? undefined : parsed;
    } catch {
      return undefined;
    }
  }

  /**
   * The error that says Qualys refuses the version of `endpoint` (retired, or never was): the
   * endpoint, the version asked and the `api_versions` entry to change.
   */
  refusedVersion(
    endpoint: Endpoint,
    answer: {
      status: number;
      text?: string | undefined;
      label: string;
      notQualys?: boolean | undefined;
    },
  ): QualysApiError {
    const version = this.version(endpoint);
    return new QualysApiError(
      describeRefusedVersion({
        ...answer,
        endpoint,
        title: this.title(endpoint),
        version,
        current: ENDPOINTS[endpoint].version,
      }),
      { status: answer.status, endpoint, retiredVersion: version },
    );
  }

  /**
   * Notes an answer that carried data: a notice of deprecation, end of support or end of life
   * in its headers, in the comments or WARNING of `xml` (its start and end) or in `texts` is
   * warned, once per endpoint and run, with the date it gives.
   */
  noteAnswer(
    endpoint: Endpoint,
    headers: Headers,
    xml: readonly string[] = [],
    texts: readonly string[] = [],
  ): void {
    if (this.#noticed.has(endpoint)) return;
    const notice = findDeprecationNotice(headers, xml, texts);
    if (!notice) return;
    this.#noticed.add(endpoint);
    this.#log.warn(describeNotice(notice, { endpoint, title: this.title(endpoint) }));
  }

  // The verdict on an answer that is not plainly one to take: a limit to wait out, a refused
  // version, or an answer that is not a Qualys one (empty, a page) judged by its status.
  // Undefined when the answer is a Qualys answer for the caller to read.
  #judgeAnswer<T>(
    endpoint: Endpoint,
    params: Record<string, string>,
    response: Response,
    body: Uint8Array,
    parsed: QualysResponse | undefined,
  ): Verdict<T> | undefined {
    const { status } = response;
    const label = this.label(endpoint, params);
    const code = parsed?.code ?? "";
    if (status === 409 || code === "1960" || code === "1965") {
      const why = code === "1965"
        ? `Qualys API rate limit reached (1965, ${label})`
        : code === "1960"
        ? `Qualys API concurrency limit reached (1960, ${label})`
        : `Qualys API limit reached (HTTP 409, ${label})`;
      return { limit: { seconds: this.#waits.limitSeconds(response.headers, parsed), why } };
    }
    if (status === 404 || status === 410) {
      throw this.refusedVersion(endpoint, {
        status,
        text: parsed?.text,
        label,
        notQualys: parsed === undefined,
      });
    }
    if (parsed?.root === "SIMPLE_RETURN" && refusesVersion(parsed.text)) {
      throw this.refusedVersion(endpoint, { status, text: parsed.text, label });
    }
    if (parsed) return undefined;
    if (isOk(status)) {
      const what = body.length === 0
        ? `Qualys answered HTTP ${status} with an empty body (${label}): a cut answer`
        : `Qualys answered HTTP ${status} with a body that is not XML (${label})`;
      return {
        retry: {
          what,
          giveUp: () =>
            new QualysApiError(
              body.length === 0
                ? `${what}; gave up after ${this.#maxRetries + 1} tries: try again later`
                : `${what}: check that url is the Qualys API server of your platform`,
              { status, endpoint },
            ),
        },
      };
    }
    const message = describeHttpStatus(status, label, {
      bytes: body.length,
      type: contentType(response),
    });
    if (!isRetryableStatus(status)) throw new QualysApiError(message, { status, endpoint });
    return {
      retry: {
        what: `Qualys answered HTTP ${status} (${label})`,
        giveUp: () => new QualysApiError(message, { status, endpoint }),
      },
    };
  }

  /**
   * Makes one API call (to the report endpoint unless `endpoint` says otherwise) and returns its
   * answer; waits out limits and retries transient failures. A SIMPLE_RETURN with an error CODE
   * (other than those in `accept`) is thrown as a {@linkcode QualysApiError} whose message says
   * what to fix.
   */
  call(
    params: Record<string, string>,
    options: { accept?: readonly string[]; endpoint?: Endpoint } = {},
  ): Promise<QualysResponse> {
    const endpoint = options.endpoint ?? "reports";
    return this.#exchange<QualysResponse>(endpoint, params, async (response) => {
      const body = await readSmall(response, Infinity);
      this.#traffic.bytes += body.length;
      this.#waits.checkRemaining(response.headers);
      const parsed = this.#parse(body);
      const verdict = this.#judgeAnswer<QualysResponse>(endpoint, params, response, body, parsed);
      if (verdict) return verdict;
      const r = parsed!;
      const code = r.code;
      const fatal999 = code === "999" &&
        /invalid report/i.test(r.items.map(([, v]) => v).join(" "));
      const { status } = response;
      if (status >= 500 && !fatal999) {
        return {
          retry: {
            what: `Qualys answered HTTP ${status}${code ? ` CODE ${code}` : ""}`,
            giveUp: () => new QualysApiError(describeQualysError(r), { code, status, endpoint }),
          },
        };
      }
      if (
        (r.root === "SIMPLE_RETURN" && code !== "" && !(options.accept ?? []).includes(code)) ||
        (r.root === "GENERIC_RETURN" && code !== "")
      ) {
        throw new QualysApiError(describeQualysError(r), { code, status, endpoint });
      }
      this.noteAnswer(endpoint, response.headers, [new TextDecoder().decode(body)]);
      return { done: r };
    });
  }

  /**
   * Starts a fetch and returns the body stream; waits out limits and retries connection
   * failures and 5xx like {@linkcode call}. A body that is a SIMPLE_RETURN with HTTP 2xx (7001
   * and others) is returned as it is: the report parser recognises it.
   */
  async fetchReport(id: string): Promise<ReportDownload> {
    const answer = await this.#stream("reports", { action: "fetch", id });
    this.noteAnswer("reports", answer.headers);
    return { body: answer.body, contentLength: answer.contentLength };
  }

  /**
   * POSTs `params` to `endpoint` (Host List Detection, Host List, the KnowledgeBase) and returns
   * a 2xx answer with its body unread, once the headers are in (within the time limit), for the
   * caller's parser to read (a page, or a SIMPLE_RETURN that says what is wrong). Any other
   * answer is judged here as in {@linkcode call}: HTTP 409 is waited out, connection failures
   * and 5xx are retried, a Qualys error is thrown with what it says, a body that is not a Qualys
   * answer is an error naming the status.
   */
  fetchStream(
    endpoint: Endpoint,
    params: Record<string, string>,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<StreamedAnswer> {
    return this.#stream(endpoint, params, options.signal);
  }

  #stream(
    endpoint: Endpoint,
    params: Record<string, string>,
    signal?: AbortSignal | undefined,
  ): Promise<StreamedAnswer> {
    return this.#exchange<StreamedAnswer>(endpoint, params, async (response) => {
      this.#waits.checkRemaining(response.headers);
      const { status } = response;
      if (isOk(status)) {
        const length = response.headers.get("content-length");
        return {
          done: {
            body: response.body ?? new ReadableStream({ type: "bytes", start: (c) => c.close() }),
            contentLength: length !== null && /^\d+$/.test(length) ? Number(length) : undefined,
            status,
            headers: response.headers,
          },
        };
      }
      // not 2xx: a small error answer, read whole
      const body = await readSmall(response);
      this.#traffic.bytes += body.length;
      const parsed = this.#parse(body);
      const verdict = this.#judgeAnswer<StreamedAnswer>(endpoint, params, response, body, parsed);
      if (verdict) return verdict;
      const r = parsed!;
      const error = () =>
        new QualysApiError(describeQualysError(r), { code: r.code, status, endpoint });
      if (status >= 500) {
        return {
          retry: {
            what: `Qualys answered HTTP ${status}${r.code ? ` CODE ${r.code}` : ""} (${
              this.label(endpoint, params)
            })`,
            giveUp: error,
          },
        };
      }
      throw error();
    }, { streamed: true, signal });
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
    const seconds = this.#waits.limitSeconds(new Headers(), r as QualysResponse);
    await this.#waits.waitForLimit(seconds, waits, why, options.signal);
  }

  /** Classifies an error seen while reading a body (a cut download). */
  describeBodyError(error: unknown): { message: string; transient: boolean } {
    return this.#networkFailure(error);
  }

  /** Waits `ms` with the client's clock (real or fake); rejects when `signal` fires first. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#waits.sleep(ms, signal);
  }

  /** Random number for jitter (real or fake). */
  jitter(): number {
    return this.#waits.random();
  }
}
