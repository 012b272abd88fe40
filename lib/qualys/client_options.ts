/**
 * What a `QualysClient` (client.ts) is made from (the plugin YAML's url, credentials, proxy, API
 * versions and gateway) and the shapes of what it answers.
 *
 * @module
 */

import type { ApiVersions } from "./endpoints.ts";
import { gatewayFor } from "./gateway.ts";

/** Where the client reports what it does. */
export interface ClientLog {
  /** Warnings (low rate limit, retries). */
  warn(message: string): void;
  /** Progress messages (a switch to a gateway token). */
  info(message: string): void;
  /** Details (the client itself logs none today). */
  debug(message: string): void;
  /** Told each gateway token, so that the logger blanks it should it ever reach a line. */
  addSecret?(secret: string): void;
}

/** Options for `QualysClient.open`. */
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
  /** The version of each endpoint (`api_versions`). @default {DEFAULT_API_VERSIONS} */
  apiVersions?: ApiVersions | undefined;
  /** The API gateway (`gateway_url`, or the platform's); undefined when none is known. */
  gatewayUrl?: string | undefined;
  /** The clock (ms) that ages gateway tokens; tests pass a fake one. @default Date.now */
  now?: (() => number) | undefined;
  /** Counts the client's requests and the bytes it reads (a run's, for its record). */
  traffic?: ApiTraffic | undefined;
}

/**
 * What clients sent to the Qualys API and read from it (the run record's `api_calls` and
 * `bytes_downloaded`): every request counts, retries and repeated fetches included, and every
 * byte of every answer body read (a cut one too). The API gateway's token requests are not
 * counted.
 */
export interface ApiTraffic {
  /** Requests sent. */
  calls: number;
  /** Bytes of answer bodies read. */
  bytes: number;
}

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

/** The client options a plugin configuration gives (url, credentials, proxy, versions, gateway). */
export function clientOptionsFromConfig(
  config: {
    url: string;
    userId?: string | undefined;
    password?: string | undefined;
    proxy?: string | undefined;
    proxyUsername?: string | undefined;
    proxyPassword?: string | undefined;
    apiVersions?: ApiVersions | undefined;
    gatewayUrl?: string | undefined;
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
    apiVersions: config.apiVersions,
    gatewayUrl: config.gatewayUrl ?? gatewayFor(config.url),
  };
}
