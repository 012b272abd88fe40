/**
 * Turns a failed connection into a message that says what to fix (DNS failure, refused
 * connection, TLS failure and proxy refusal each get their own; docs/troubleshooting.md), and says whether a retry can
 * help. A step that ran out of time (`-timeout`) is named, and is transient.
 *
 * @module
 */

import { DeadlineError, seconds } from "../util/deadline.ts";

/** A classified network failure. */
export interface NetworkFailure {
  /** What happened and what to do. */
  message: string;
  /** Whether trying again later may succeed. */
  transient: boolean;
}

function chain(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let i = 0; e && i < 6; i++) {
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(" <- ");
}

/**
 * Classifies an error thrown by `fetch` (or a socket) while talking to `host`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const f = classifyNetworkError(new TypeError("error sending request: dns error: failed to lookup address information"),
 *   { host: "qualysapi.qualys.com" });
 * assert.match(f.message, /Cannot resolve qualysapi\.qualys\.com/);
 * ```
 */
export function classifyNetworkError(
  error: unknown,
  where: {
    host: string;
    port?: number;
    proxyFailure?: NetworkFailure | undefined;
    /** The YAML key that names the host, for the fix. @default {"url"} */
    setting?: string;
  },
): NetworkFailure {
  const text = chain(error);
  const target = `${where.host}:${where.port ?? 443}`;
  if (where.proxyFailure) return where.proxyFailure;
  if (error instanceof DeadlineError) {
    return {
      message: `No ${error.step} from ${target} within ${seconds(error.ms)} s (-timeout): the ` +
        "network, the proxy or Qualys is slow or stuck; try again later",
      transient: true,
    };
  }
  if (
    /dns error|failed to lookup|Name or service not known|nodename nor servname|NotFound: .*lookup/i
      .test(text)
  ) {
    return {
      message:
        `Cannot resolve ${where.host} (DNS failure): check ${
          where.setting ?? "url"
        } in the plugin YAML, the DNS ` +
        "settings of this host, or set proxy when this host has no direct Internet access",
      transient: true,
    };
  }
  // The fetch standard's "bad ports" (1, 7, 25, 6000, ...): no request ever leaves for them.
  if (/Requests to port \d+ are blocked/i.test(text)) {
    return {
      message:
        `Cannot talk to ${target}: HTTPS requests to port ${
          where.port ?? 443
        } are never made (a port reserved for another service): check the port in ` +
        `${where.setting ?? "url"} in the plugin YAML (Qualys listens on 443)`,
      transient: false,
    };
  }
  if (/Connection refused|ConnectionRefused|os error 111/i.test(text)) {
    return {
      message:
        `Connection to ${target} was refused: check ${
          where.setting ?? "url"
        } in the plugin YAML and that a ` +
        "firewall allows HTTPS (TCP 443) from this host, or set proxy",
      transient: true,
    };
  }
  // Before the TLS test: a connection closed in the TLS handshake ("tls handshake eof": an
  // overloaded load balancer, a network drop) or without close_notify is cut, not untrusted.
  if (
    /reset|broken pipe|connection closed|unexpected eof|handshake eof|close_notify|incomplete|error reading a body|stream error/i
      .test(text)
  ) {
    return {
      message: `The connection to ${target} was cut: the network dropped it; trying again may help`,
      transient: true,
    };
  }
  if (/certificate|UnknownIssuer|invalid peer|tls handshake|TLS|handshake/i.test(text)) {
    return {
      message: `TLS failure talking to ${target}: the server's certificate is not trusted ` +
        `(${
          text.match(/(UnknownIssuer|NotValidForName|Expired|CaUsedAsEndEntity|BadSignature)/)
            ?.[1] ??
            "see the detail in the log at -level 3"
        }): if a TLS-inspecting proxy or a private ` +
        "cloud platform is in the way, put its CA certificate in a PEM file named by ca_file",
      transient: false,
    };
  }
  if (/timed out|TimeoutError|timeout/i.test(text)) {
    return {
      message: `No answer from ${target} in time: the network or Qualys is slow; try again later`,
      transient: true,
    };
  }
  return { message: `Cannot talk to ${target}: ${text}`, transient: true };
}
