/**
 * A loopback CONNECT proxy with optional Basic auth, plain or TLS, for tests: it records every
 * CONNECT it sees and tunnels only to 127.0.0.1.
 *
 * @module
 */

/** What the proxy saw of one CONNECT. */
export interface ProxySeen {
  /** The CONNECT target. */
  target: string;
  /** The Proxy-Authorization header, if any. */
  proxyAuthorization: string | undefined;
}

/** A running proxy. */
export interface TestProxy {
  /** http://127.0.0.1:port or https://localhost:port. */
  url: string;
  /** Every CONNECT, in order. */
  seen: ProxySeen[];
  /** Stops the proxy: stops listening and closes every connection. */
  shutdown(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Starts the proxy; with `tls` it speaks TLS to its clients. */
export function startConnectProxy(
  options: { username?: string; password?: string; tls?: { certPem: string; keyPem: string } } = {},
): TestProxy {
  const listener = options.tls
    ? Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: options.tls.certPem,
      key: options.tls.keyPem,
    })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: ProxySeen[] = [];
  const open = new Set<Deno.Conn>();
  const expected = options.username !== undefined
    ? `Basic ${
      btoa(String.fromCharCode(...enc.encode(`${options.username}:${options.password ?? ""}`)))
    }`
    : undefined;

  const handle = async (conn: Deno.Conn) => {
    open.add(conn);
    let upstream: Deno.Conn | undefined;
    try {
      const buf = new Uint8Array(8192);
      let n = 0, head = "";
      while (!head.includes("\r\n\r\n")) {
        const got = await conn.read(buf.subarray(n));
        if (got === null) return;
        n += got;
        head = dec.decode(buf.subarray(0, n));
      }
      const [line, ...fields] = head.split("\r\n");
      const target = /^CONNECT (\S+) /.exec(line ?? "")?.[1] ?? "";
      const auth = fields.find((f) => /^proxy-authorization:/i.test(f))?.replace(/^[^:]*:\s*/, "");
      seen.push({ target, proxyAuthorization: auth });
      if (expected !== undefined && auth !== expected) {
        await conn.write(enc.encode(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="sim"\r\nContent-Length: 0\r\n\r\n',
        ));
        return;
      }
      const [host, port] = [
        target.slice(0, target.lastIndexOf(":")),
        Number(target.slice(target.lastIndexOf(":") + 1)),
      ];
      if (host !== "127.0.0.1" && host !== "localhost") {
        await conn.write(enc.encode("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"));
        return;
      }
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        await conn.write(enc.encode("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"));
        return;
      }
      open.add(upstream);
      await conn.write(enc.encode("HTTP/1.1 200 Connection established\r\n\r\n"));
      const up = upstream;
      await Promise.allSettled([
        conn.readable.pipeTo(up.writable),
        up.readable.pipeTo(conn.writable),
      ]);
    } catch {
      /* dropped */
    } finally {
      for (const c of [conn, upstream]) {
        if (!c) continue;
        open.delete(c);
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) handle(conn);
    } catch { /* closed */ }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: options.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    seen,
    async shutdown() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of open) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    },
  };
}
