/**
 * A loopback CONNECT forwarder that keeps proxy credentials where they belong.
 *
 * `Deno.createHttpClient` with an `http://` proxy and Basic auth also sends `Proxy-Authorization`
 * to the origin inside the TLS tunnel (docs/platform.md, "Proxy credentials"). So `fetch` is
 * pointed at this forwarder instead, with no credentials at all; the forwarder alone opens the
 * CONNECT to the real proxy (http:// or https://) with `Proxy-Authorization`, answers `fetch` with
 * 200 and then copies bytes both ways. The TLS session still runs end to end between `fetch` and
 * Qualys.
 *
 * The forwarder listens on 127.0.0.1 only, tunnels only to the one host:port it is told
 * (the Qualys API), lives only while the connector runs, and records why the proxy refused, so
 * the error message can say what to fix. Reaching the proxy and its answer to CONNECT each have a
 * time limit (`-timeout`); a proxy that stays silent is named as such, and is a transient failure.
 *
 * @module
 */

import { writeAll } from "../util/bytes.ts";
import { DeadlineError, seconds, withDeadline } from "../util/deadline.ts";
import { basicAuth, unbracket } from "../util/text.ts";
import type { NetworkFailure } from "./network_errors.ts";

/** Options for {@linkcode startProxyTunnel}. */
export interface ProxyTunnelOptions {
  /** The real proxy: `http://host:port` or `https://host:port`. */
  proxy: string;
  /** Proxy Basic-auth user. */
  username?: string | undefined;
  /** Proxy Basic-auth password. */
  password?: string | undefined;
  /** The only CONNECT target allowed, as `host:port`. */
  target: string;
  /** Extra CA certificates (PEM) for an https:// proxy; system roots stay trusted. */
  caCerts?: string[] | undefined;
  /** Time limit, in ms, for reaching the proxy and for its whole answer to CONNECT. @default {120000} */
  timeoutMs?: number | undefined;
}

/** A running forwarder. */
export interface ProxyTunnel {
  /** The URL to give `Deno.createHttpClient({ proxy: { url } })`. */
  url: string;
  /**
   * Why the last tunnel failed at the proxy, in words that say what to fix; while a tunnel is
   * still waiting for the proxy, that wait (a caller that gave up first learns why).
   */
  lastFailure(): NetworkFailure | undefined;
  /** Stops listening and closes open tunnels. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array } | undefined> {
  const buf = new Uint8Array(16384);
  let n = 0;
  while (n < buf.length) {
    const got = await conn.read(buf.subarray(n));
    if (got === null) return undefined;
    n += got;
    const text = decoder.decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const headBytes = encoder.encode(text.slice(0, end + 4)).length;
      return { head: text.slice(0, end), rest: buf.slice(headBytes, n) };
    }
  }
  return undefined;
}

/**
 * Why reaching the proxy failed, from the Deno error's class: refused (`ConnectionRefused`), cut
 * in the TLS handshake (`UnexpectedEof`, `ConnectionReset`, `ConnectionAborted`, `BrokenPipe`:
 * an overloaded proxy or a network drop; transient, so the call is tried again), a TLS failure
 * (`InvalidData`). Two facts have no class or code in Deno 2.9.6, so their text decides: a name
 * that does not resolve is a plain `Error` ("failed to lookup address information"), and
 * `InvalidData` is both an untrusted certificate ("invalid peer certificate: UnknownIssuer") and
 * a peer that does not speak TLS ("received corrupt message").
 */
function upstreamFailure(error: unknown, where: string, proxyHost: string): NetworkFailure {
  const text = `${(error as Error)?.name}: ${(error as Error)?.message}`;
  const e = Deno.errors;
  if (error instanceof e.ConnectionRefused) {
    return {
      message: `Connection to ${where} was refused: check proxy in the plugin YAML (host and port)`,
      transient: false,
    };
  }
  if (
    error instanceof e.UnexpectedEof || error instanceof e.ConnectionReset ||
    error instanceof e.ConnectionAborted || error instanceof e.BrokenPipe
  ) {
    return {
      message: `The connection to ${where} was cut in the TLS handshake (${
        (error as Error).name
      }): the proxy or the network dropped it; trying again may help`,
      transient: true,
    };
  }
  if (error instanceof e.InvalidData && /certificate/i.test(text)) {
    return {
      message: `TLS failure talking to ${where}: its certificate is not trusted; put its CA in ` +
        "ca_file, or use the http:// address of the proxy",
      transient: false,
    };
  }
  if (/lookup|dns|resolve|not known/i.test(text)) {
    return {
      message: `Cannot resolve the proxy host ${proxyHost}: check proxy in the plugin YAML`,
      transient: false,
    };
  }
  return { message: `Cannot reach ${where}: ${text}`, transient: false };
}

/** One step of a tunnel at the proxy: reaching it, or its answer to CONNECT. */
type Step = "connect" | "answer";

/** Answers the client (`fetch`) with a bodiless HTTP status line. */
function reply(client: Deno.Conn, status: string): Promise<void> {
  return writeAll(client, encoder.encode(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`));
}

/** The forwarder's state: the open connections, the steps under way, why the last tunnel failed. */
class Forwarder {
  readonly #o: ProxyTunnelOptions;
  readonly #proxyTls: boolean;
  readonly #proxyHost: string;
  readonly #proxyPort: number;
  readonly #where: string;
  readonly #timeoutMs: number;
  /** Connections open now (both sides of each tunnel). */
  readonly open = new Set<Deno.Conn>();
  #failure: NetworkFailure | undefined;
  // The steps tunnels are waiting for at the proxy, oldest first.
  readonly #waiting = new Map<symbol, Step>();

  constructor(options: ProxyTunnelOptions) {
    this.#o = options;
    const proxy = new URL(options.proxy);
    this.#proxyTls = proxy.protocol === "https:";
    this.#proxyHost = unbracket(proxy.hostname);
    this.#proxyPort = Number(proxy.port || (this.#proxyTls ? 443 : 80));
    this.#where = `the proxy ${proxy.protocol}//${this.#proxyHost}:${this.#proxyPort}`;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
  }

  /** Why the last tunnel failed at the proxy; while one waits for it, that wait. */
  lastFailure(): NetworkFailure | undefined {
    const [first] = this.#waiting.values();
    return first ? this.#stalled(first) : this.#failure;
  }

  #stalled(step: Step): NetworkFailure {
    const where = this.#where, timeoutMs = this.#timeoutMs;
    return {
      message: step === "connect"
        ? `No connection to ${where} within ${
          seconds(timeoutMs)
        } s (-timeout): check proxy in the ` +
          "plugin YAML (host and port) and that no firewall drops the way to it"
        : `${where} did not answer CONNECT to ${this.#o.target} within ${seconds(timeoutMs)} s ` +
          "(-timeout): check that it is a web proxy, and that it can reach the Qualys API",
      transient: true,
    };
  }

  // Runs one step of a tunnel at the proxy within the time limit; `close` ends it on expiry.
  async #atProxy<T>(step: Step, work: Promise<T>, close: () => void): Promise<T> {
    const key = Symbol(step);
    this.#waiting.set(key, step);
    try {
      return await withDeadline(work, { ms: this.#timeoutMs, step, onExpire: close });
    } catch (error) {
      if (error instanceof DeadlineError) this.#failure = this.#stalled(step);
      throw error;
    } finally {
      this.#waiting.delete(key);
    }
  }

  async #connectUpstream(): Promise<Deno.Conn> {
    const abort = new AbortController();
    const hostname = this.#proxyHost, port = this.#proxyPort;
    const connecting: Promise<Deno.Conn> = this.#proxyTls
      ? Deno.connectTls({
        hostname,
        port,
        ...(this.#o.caCerts ? { caCerts: this.#o.caCerts } : {}),
      })
      : Deno.connect({ hostname, port, signal: abort.signal });
    try {
      const conn = await this.#atProxy("connect", connecting, () => abort.abort());
      if (this.#proxyTls) {
        await this.#atProxy("connect", (conn as Deno.TlsConn).handshake(), () => conn.close());
      }
      return conn;
    } catch (error) {
      connecting.then((late) => { // a connection that came late, or its handshake did not
        try {
          late.close();
        } catch { /* closed */ }
      }, () => {});
      if (error instanceof DeadlineError) throw error;
      this.#failure = upstreamFailure(error, this.#where, this.#proxyHost);
      throw error;
    }
  }

  /**
   * Asks the proxy for the tunnel (CONNECT, with the credentials); resolves to its answer, or to
   * undefined once the client has been told why there is none (a silent proxy, a refusal).
   */
  async #askConnect(
    upstream: Deno.Conn,
    client: Deno.Conn,
  ): Promise<{ head: string; rest: Uint8Array } | undefined> {
    const { target, username, password } = this.#o;
    const auth = username !== undefined
      ? `Proxy-Authorization: ${basicAuth(username, password ?? "")}\r\n`
      : "";
    await writeAll(
      upstream,
      encoder.encode(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`),
    );
    let answer: Awaited<ReturnType<typeof readHead>>;
    try {
      answer = await this.#atProxy("answer", readHead(upstream), () => upstream.close());
    } catch (error) {
      if (!(error instanceof DeadlineError)) throw error;
      await reply(client, "504 Gateway Timeout");
      return undefined;
    }
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer?.head ?? "")?.[1] ?? 0);
    if (status === 200) return answer;
    const where = this.#where;
    this.#failure = {
      message: status === 407
        ? `${where} refused the credentials (407 Proxy Authentication Required): check ` +
          "proxy_username and proxy_password (quote a password with punctuation)"
        : status === 0
        ? `${where} closed the connection instead of answering CONNECT: check that it is a web proxy`
        : `${where} refused to open a tunnel to ${target} (HTTP ${status}): ask its ` +
          "administrator to allow HTTPS to the Qualys API",
      transient: false,
    };
    await reply(client, `${status || 502} Proxy Refused`);
    return undefined;
  }

  /** Serves one connection of `fetch`: a CONNECT to the one target, tunnelled through the proxy. */
  async handle(client: Deno.Conn): Promise<void> {
    this.open.add(client);
    let upstream: Deno.Conn | undefined;
    try {
      const request = await readHead(client);
      const line = request?.head.split("\r\n")[0] ?? "";
      const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(line);
      if (!m || m[1] !== this.#o.target) return await reply(client, "403 Forbidden");
      try {
        upstream = await this.#connectUpstream();
      } catch {
        return await reply(client, "502 Bad Gateway");
      }
      this.open.add(upstream);
      const answer = await this.#askConnect(upstream, client);
      if (!answer) return;
      this.#failure = undefined;
      await writeAll(client, encoder.encode("HTTP/1.1 200 Connection established\r\n\r\n"));
      if (request!.rest.length) await writeAll(upstream, request!.rest);
      if (answer.rest.length) await writeAll(client, answer.rest);
      const up = upstream;
      await Promise.allSettled([
        client.readable.pipeTo(up.writable, { preventClose: false }),
        up.readable.pipeTo(client.writable, { preventClose: false }),
      ]);
    } catch {
      /* a dropped tunnel: fetch sees the error */
    } finally {
      for (const c of [client, upstream]) {
        if (!c) continue;
        this.open.delete(c);
        try {
          c.close();
        } catch { /* closed by pipeTo */ }
      }
    }
  }
}

/** Starts the forwarder on a free port of 127.0.0.1; `fetch`'s proxy is set to its `url`. */
export function startProxyTunnel(options: ProxyTunnelOptions): ProxyTunnel {
  const forwarder = new Forwarder(options);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    try {
      for await (const conn of listener) forwarder.handle(conn);
    } catch { /* listener closed */ }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    lastFailure: () => forwarder.lastFailure(),
    async close() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of forwarder.open) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    },
  };
}
