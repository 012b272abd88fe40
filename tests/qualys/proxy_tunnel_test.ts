/**
 * The proxy forwarder's reading of why the proxy could not be reached: by the Deno error's class,
 * with real servers on loopback that refuse, cut the TLS handshake, or present a foreign
 * certificate.
 */

import assert from "node:assert/strict";
import { startProxyTunnel } from "../../lib/qualys/proxy_tunnel.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const TARGET = "qualys.test:443";

/** Asks the forwarder for a tunnel; resolves to its HTTP status. */
async function askTunnel(url: string): Promise<number> {
  const port = Number(new URL(url).port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(`CONNECT ${TARGET} HTTP/1.1\r\nHost: ${TARGET}\r\n\r\n`));
    let head = "";
    const buf = new Uint8Array(1024);
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      head += dec.decode(buf.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  } finally {
    conn.close();
  }
}

/** A TCP server that reads the client's first bytes (a TLS ClientHello) and closes. */
function startCuttingServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(4096)).catch(() => null);
      conn.close();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await accepting;
    },
  };
}

Deno.test("proxy tunnel: a proxy that closes in the TLS handshake is a transient cut, not 'Cannot reach'", async () => {
  const server = startCuttingServer();
  const tunnel = startProxyTunnel({ proxy: `https://127.0.0.1:${server.port}`, target: TARGET });
  try {
    assert.equal(await askTunnel(tunnel.url), 502);
    const failure = tunnel.lastFailure();
    assert.deepEqual(failure, {
      message: `The connection to the proxy https://127.0.0.1:${server.port} was cut in the TLS ` +
        "handshake (UnexpectedEof): the proxy or the network dropped it; trying again may help",
      transient: true,
    });
  } finally {
    await tunnel.close();
    await server.close();
  }
});

Deno.test("proxy tunnel: a refused connection and an untrusted certificate keep their messages", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const refused = startProxyTunnel({ proxy: `http://127.0.0.1:${port}`, target: TARGET });
  try {
    assert.equal(await askTunnel(refused.url), 502);
    assert.deepEqual(refused.lastFailure(), {
      message: `Connection to the proxy http://127.0.0.1:${port} was refused: check proxy in the ` +
        "plugin YAML (host and port)",
      transient: false,
    });
  } finally {
    await refused.close();
  }
  const cert = createTestCa("some other proxy CA").issue({ cn: "proxy", sans: ["127.0.0.1"] });
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.certPem,
    key: cert.keyPem,
  });
  const accepting = (async () => {
    for await (const conn of listener) {
      await conn.handshake().catch(() => {});
      conn.close();
    }
  })().catch(() => {});
  const tlsPort = (listener.addr as Deno.NetAddr).port;
  const untrusted = startProxyTunnel({ proxy: `https://127.0.0.1:${tlsPort}`, target: TARGET });
  try {
    assert.equal(await askTunnel(untrusted.url), 502);
    assert.deepEqual(untrusted.lastFailure(), {
      message:
        `TLS failure talking to the proxy https://127.0.0.1:${tlsPort}: its certificate is ` +
        "not trusted; put its CA in ca_file, or use the http:// address of the proxy",
      transient: false,
    });
  } finally {
    await untrusted.close();
    listener.close();
    await accepting;
  }
});
