/**
 * The Qualys part of `-check` (docs/operations.md: -check): DNS, TLS to the API (through the proxy when one is
 * configured), the login (each call naming the endpoint and version it tried) and, when one is
 * known, the API gateway; one step at a time, each OK or FAIL with the fix, each within its own
 * time limit (`-timeout`). No report is launched.
 *
 * @module
 */

import { DeadlineError, seconds, withDeadline } from "../util/deadline.ts";
import { clientOptionsFromConfig, QualysClient } from "./client.ts";
import { type ApiVersions, ENDPOINT_NAMES } from "./endpoints.ts";
import { classifyNetworkError } from "./network_errors.ts";
import { startProxyTunnel } from "./proxy_tunnel.ts";

/** One checked step. */
export interface CheckStep {
  /** Passed, failed, or did not apply (a gateway no call needed, that gave no token). */
  ok: boolean | "skip";
  /** What was checked. */
  what: string;
  /** The result, or what to fix. */
  detail: string;
}

function isAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

async function resolves(host: string, ms: number): Promise<string> {
  if (isAddress(host)) return `${host} is an address`;
  const found: string[] = [];
  const signal = AbortSignal.timeout(ms);
  for (const type of ["A", "AAAA"] as const) {
    try {
      found.push(...await Deno.resolveDns(host, type, { signal }));
    } catch { /* try the other type */ }
  }
  if (found.length === 0 && signal.aborted) throw new DeadlineError("DNS answer", ms);
  if (found.length === 0) {
    throw new Error(`dns error: failed to lookup address information for ${host}`);
  }
  return `${host} is ${found.slice(0, 3).join(", ")}`;
}

/** What of the plugin configuration the checks use. */
export interface CheckConfig {
  /** API base URL. */
  url: string;
  /** Qualys username. */
  userId?: string | undefined;
  /** Qualys password. */
  password?: string | undefined;
  /** Proxy URL. */
  proxy?: string | undefined;
  /** Proxy Basic-auth user. */
  proxyUsername?: string | undefined;
  /** Proxy Basic-auth password. */
  proxyPassword?: string | undefined;
  /** The version of each endpoint. */
  apiVersions?: ApiVersions | undefined;
  /** The API gateway, when set. */
  gatewayUrl?: string | undefined;
}

/** Options for {@linkcode checkQualys}. */
export interface CheckQualysOptions {
  /** PEM text of ca_file. */
  caPem?: string | undefined;
  /** Time limit of each step, in ms (`-timeout`). @default {120000} */
  timeoutMs?: number | undefined;
  /**
   * The login step and what follows it, given a client that neither retries nor waits: the
   * detection source makes its own calls here. @default an empty report list (one call)
   */
  login?: ((client: QualysClient) => Promise<CheckStep[]>) | undefined;
}

/** Runs the checks; stops at the first failure (later steps depend on it). */
export async function checkQualys(
  config: CheckConfig,
  options: CheckQualysOptions = {},
): Promise<CheckStep[]> {
  const { caPem, timeoutMs = 120_000 } = options;
  const steps: CheckStep[] = [];
  const api = new URL(config.url);
  const host = api.hostname.replace(/^\[|\]$/g, "");
  const port = Number(api.port || 443);
  const caCerts = caPem ? [caPem] : undefined;
  const proxy = config.proxy ? new URL(config.proxy) : undefined;
  const dnsHost = proxy ? proxy.hostname.replace(/^\[|\]$/g, "") : host;
  try {
    steps.push({
      ok: true,
      what: `DNS ${proxy ? "of the proxy " : ""}${dnsHost}`,
      detail: await resolves(dnsHost, timeoutMs),
    });
  } catch (error) {
    const detail = error instanceof DeadlineError
      ? `No DNS answer for ${dnsHost} within ${seconds(timeoutMs)} s (-timeout): check the DNS ` +
        "servers of this host (/etc/resolv.conf)"
      : classifyNetworkError(error, { host: dnsHost }).message;
    steps.push({ ok: false, what: `DNS ${dnsHost}`, detail });
    return steps;
  }
  const what = `TLS to ${host}:${port}${proxy ? ` through ${proxy.protocol}//${proxy.host}` : ""}`;
  const tunnel = proxy
    ? startProxyTunnel({
      proxy: config.proxy!,
      username: config.proxyUsername,
      password: config.proxyPassword,
      target: `${api.hostname}:${port}`,
      caCerts,
      timeoutMs,
    })
    : undefined;
  try {
    // One limit for the whole step: the connection (through the proxy), and the handshake.
    const open = new Set<Deno.Conn>();
    const info = await withDeadline(
      tlsHandshake({ host, port, caCerts, tunnelUrl: tunnel?.url }, open),
      { ms: timeoutMs, step: "TLS handshake", onExpire: () => open.forEach(closeQuietly) },
    );
    steps.push({
      ok: true,
      what,
      detail: `handshake done${info.alpnProtocol ? ` (${info.alpnProtocol})` : ""}`,
    });
  } catch (error) {
    const f = classifyNetworkError(error, { host, port, proxyFailure: tunnel?.lastFailure() });
    steps.push({ ok: false, what, detail: f.message });
    await tunnel?.close();
    return steps;
  }
  await tunnel?.close();
  const client = QualysClient.open({
    ...clientOptionsFromConfig(config, caPem),
    maxRetries: 1,
    maxLimitWaits: 0,
    timeoutMs,
  });
  try {
    if (options.login) steps.push(...await options.login(client));
    else {
      // A list of reports that expired before 2000 is empty: it proves the login, one call.
      const what = `Qualys login of ${config.userId} (${client.title("reports")})`;
      try {
        await client.call({ action: "list", expires_before_datetime: "2000-01-01" });
        steps.push({ ok: true, what, detail: "accepted (no report launched)" });
      } catch (error) {
        steps.push({ ok: false, what, detail: (error as Error).message });
      }
    }
    if (steps.every((s) => s.ok === true) && client.gatewayUrl !== undefined) {
      steps.push(await checkGateway(client, config.gatewayUrl !== undefined));
    }
  } finally {
    await client.close();
  }
  return steps;
}

/**
 * The gateway step of `-check`: the API gateway gives a token (kept for the run, never shown). A
 * gateway derived from url (not `configured`) that gives none fails the check only when a call of
 * it needed a token: with Basic auth working for every endpoint, the run does not depend on it
 * (and a firewall may well keep it out of reach); then the step is a SKIP that says why.
 */
export async function checkGateway(
  client: QualysClient,
  configured: boolean,
): Promise<CheckStep> {
  const what = `Qualys API gateway ${new URL(client.gatewayUrl!).host}`;
  try {
    await client.checkGateway();
    return {
      ok: true,
      what,
      detail: "gave a token (not shown): ready for an endpoint that wants one",
    };
  } catch (error) {
    const needed = configured ||
      ENDPOINT_NAMES.some((e) => client.usesToken(e));
    return {
      ok: needed ? false : "skip",
      what,
      detail: `${(error as Error).message} (needed only by an endpoint that refuses ` +
        `user_id and password without a token${
          needed ? "" : ", and no call of this check did: the run does not depend on it now"
        })`,
    };
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}

// TLS to the API, directly or through the proxy forwarder; every connection opened is put in
// `open`, so the caller can close it when the step runs out of time.
async function tlsHandshake(
  to: { host: string; port: number; caCerts: string[] | undefined; tunnelUrl: string | undefined },
  open: Set<Deno.Conn>,
): Promise<Deno.TlsHandshakeInfo> {
  const { host, port, caCerts } = to;
  let conn: Deno.TlsConn;
  if (to.tunnelUrl) {
    const local = new URL(to.tunnelUrl);
    const raw = await Deno.connect({ hostname: local.hostname, port: Number(local.port) });
    open.add(raw);
    const target = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    await raw.write(
      new TextEncoder().encode(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
    );
    const buf = new Uint8Array(1024);
    const n = await raw.read(buf) ?? 0;
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(new TextDecoder().decode(buf.subarray(0, n)))
      ?.[1];
    if (status !== "200") {
      raw.close();
      throw new Error(`the proxy answered ${status ?? "nothing"}`);
    }
    conn = await Deno.startTls(raw, { hostname: host, ...(caCerts ? { caCerts } : {}) });
  } else {
    conn = await Deno.connectTls({ hostname: host, port, ...(caCerts ? { caCerts } : {}) });
  }
  open.add(conn);
  try {
    return await conn.handshake();
  } finally {
    conn.close();
  }
}
