/**
 * What Deno's node:tls gives when a connection to a Defense Center fails, measured against real
 * servers on loopback, and how the client reads it: by the error's code, never its text.
 */

import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { DcClient } from "../../lib/dc/dc_client.ts";
import { loadPkcs12 } from "../../lib/dc/pkcs12.ts";
import {
  errorCode,
  isDnsFailure,
  isOutOfDates,
  isRefused,
  isUntrusted,
  peerEndedHandshake,
} from "../../lib/dc/tls_errors.ts";
import { startFaultyDc } from "../../scripts/sim/fmc/mod.ts";
import { createTestCa, type Issued } from "../../scripts/sim/net/mod.ts";

const CA = createTestCa("tls errors CA");
const OTHER = createTestCa("tls errors other CA");
const CLIENT = CA.issue({ cn: "client", usage: "client" });
const DAY = 86400_000;

interface Outcome {
  code: string;
  error: unknown;
}

/** A server for one case; `close` stops it and every connection it holds. */
async function listen(
  make: (sockets: Set<{ destroy(): void }>) => net.Server,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<{ destroy(): void }>();
  const server = make(sockets);
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function tlsServer(cert: Issued, extra: tls.TlsOptions = {}) {
  return listen(() =>
    tls.createServer({
      key: cert.keyPem,
      cert: cert.certPem,
      ca: [CA.caPem],
      requestCert: true,
      rejectUnauthorized: true,
      ...extra,
    }, (s) => s.on("error", () => {}))
  );
}

/** Connects as the DC client does, sends VERSION once connected, and resolves to the error. */
function attempt(port: number, options: tls.ConnectionOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      minVersion: "TLSv1.2",
      cert: CLIENT.certPem,
      key: CLIENT.keyPem,
      ca: [CA.caPem],
      checkServerIdentity: () => undefined,
      ...options,
    });
    socket.once(
      "secureConnect",
      () => socket.write(new Uint8Array([0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1])),
    );
    socket.once("error", (error) => {
      socket.destroy();
      resolve({ code: errorCode(error), error });
    });
    socket.once("close", () => resolve({ code: "(closed without an error)", error: undefined }));
  });
}

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("node:tls codes: refused, DNS, and chains that do not verify", async () => {
  const refused = await attempt(closedPort());
  assert.equal(refused.code, "ECONNREFUSED");
  assert.ok(isRefused(refused.error) && !peerEndedHandshake(refused.error));

  const dns = await attempt(0, { host: "no-such-dc.invalid", port: 8307 });
  assert.match(dns.code, /^(ENOTFOUND|EAI_AGAIN)$/);
  assert.ok(isDnsFailure(dns.error));

  const cases: [string, Issued, string, boolean][] = [
    ["from another CA", OTHER.issue({ cn: "dc" }), "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", false],
    [
      "self-signed",
      { certPem: OTHER.caPem, keyPem: OTHER.keyPem },
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      false,
    ],
    [
      "expired",
      CA.issue({
        cn: "dc",
        notBefore: new Date(Date.now() - 400 * DAY),
        notAfter: new Date(Date.now() - DAY),
      }),
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      true,
    ],
  ];
  for (const [what, cert, code, expired] of cases) {
    const server = await tlsServer(cert);
    try {
      const got = await attempt(server.port);
      assert.equal(got.code, code, what);
      assert.ok(isUntrusted(got.error), what);
      assert.ok(!peerEndedHandshake(got.error), what);
      const dates = {
        valid_from: new Date(Date.now() - (expired ? 400 : 1) * DAY).toUTCString(),
        valid_to: new Date(Date.now() + (expired ? -1 : 1) * DAY).toUTCString(),
      };
      assert.equal(isOutOfDates(got.error, dates), expired, what);
    } finally {
      await server.close();
    }
  }
});

Deno.test("node:tls codes: a DC that ends the handshake, and a peer that is not TLS", async () => {
  const server = await tlsServer(CA.issue({ cn: "dc" }));
  try {
    const noCert = await attempt(server.port, { cert: undefined, key: undefined });
    assert.equal(noCert.code, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    assert.ok(peerEndedHandshake(noCert.error));
    const tls12 = await attempt(server.port, {
      cert: undefined,
      key: undefined,
      maxVersion: "TLSv1.2",
    });
    assert.equal(tls12.code, "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE");
    assert.ok(peerEndedHandshake(tls12.error));
    const other = OTHER.issue({ cn: "client", usage: "client" });
    const foreign12 = await attempt(server.port, {
      cert: other.certPem,
      key: other.keyPem,
      maxVersion: "TLSv1.2",
    });
    assert.equal(foreign12.code, "ECONNRESET");
    assert.ok(peerEndedHandshake(foreign12.error));
  } finally {
    await server.close();
  }
  const closing = await listen(() => net.createServer((s) => s.once("data", () => s.end())));
  try {
    const got = await attempt(closing.port);
    assert.equal(got.code, "ECONNRESET");
    assert.ok(peerEndedHandshake(got.error));
  } finally {
    await closing.close();
  }
  const http = await listen(() =>
    net.createServer((s) => s.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
  );
  try {
    const got = await attempt(http.port);
    assert.equal(got.code, "ERR_SSL_WRONG_VERSION_NUMBER");
    for (const test of [isRefused, isDnsFailure, isUntrusted, peerEndedHandshake]) {
      assert.equal(test(got.error), false, test.name);
    }
  } finally {
    await http.close();
  }
});

Deno.test("the client reads codes, not words: a message that says 'refused' or 'reset' decides nothing", () => {
  const worded = new Error(
    "connection refused: reset by peer, alert, handshake, certificate expired",
  );
  for (const test of [isRefused, isDnsFailure, isUntrusted, peerEndedHandshake]) {
    assert.equal(test(worded), false, test.name);
  }
  const coded = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
  assert.ok(peerEndedHandshake(coded));
  assert.ok(isOutOfDates(Object.assign(new Error("x"), { code: "CERT_HAS_EXPIRED" }), undefined));
});

Deno.test("DcClient: a DC certificate signed by the bundled CA but expired is named as expired, not as another CA's", async () => {
  const dc = await startFaultyDc({}, { ca: CA });
  const expired = CA.issue({
    cn: "fmc.example.internal",
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const server = await tlsServer(expired);
  try {
    const identity = loadPkcs12(dc.issueClient(), { file: "client.pkcs12" });
    await assert.rejects(
      DcClient.connect({ host: "127.0.0.1", port: server.port, identity }),
      (e: Error) => {
        assert.match(
          e.message,
          /^The Defense Center's certificate at 127\.0\.0\.1:\d+ is out of its validity dates \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)\. It presents CN=fmc\.example\.internal, issued by CN=tls errors CA, valid \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d, fingerprint sha256:[0-9a-f]{64}\./,
        );
        return true;
      },
    );
  } finally {
    await server.close();
    await dc.shutdown();
  }
});

Deno.test("DcClient: a peer that closes in the TLS handshake rejected the client certificate (ECONNRESET)", async () => {
  const dc = await startFaultyDc({}, { ca: CA });
  const closing = await listen(() => net.createServer((s) => s.once("data", () => s.end())));
  try {
    const identity = loadPkcs12(dc.issueClient(), { file: "client.pkcs12" });
    await assert.rejects(
      DcClient.connect({ host: "127.0.0.1", port: closing.port, identity }),
      /rejected the client certificate \(Client network socket disconnected before secure TLS connection was established\): it may be revoked/,
    );
  } finally {
    await closing.close();
    await dc.shutdown();
  }
});
