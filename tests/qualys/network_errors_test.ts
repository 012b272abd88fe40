/**
 * classifyNetworkError on the errors Deno's fetch really throws: a server that closes the
 * connection in the TLS handshake is a cut connection (retried), not an untrusted certificate;
 * a certificate no CA vouches for still is one.
 */

import assert from "node:assert/strict";
import { classifyNetworkError } from "../../lib/qualys/network_errors.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";

async function fetchError(url: string, client?: Deno.HttpClient): Promise<unknown> {
  try {
    const response = await fetch(url, client ? { client } : {});
    await response.body?.cancel();
  } catch (error) {
    return error;
  }
  throw new Error("fetch succeeded");
}

Deno.test("classifyNetworkError: a connection closed in the TLS handshake is cut and retried", async () => {
  // An overloaded load balancer or a network drop: TCP accepted, closed before TLS completes.
  // Deno says "tls handshake eof", which once read as an untrusted certificate: not retried,
  // and the advice was to add a CA to ca_file.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })().catch(() => {});
  try {
    const { port } = listener.addr as Deno.NetAddr;
    const error = await fetchError(`https://127.0.0.1:${port}/`);
    const f = classifyNetworkError(error, { host: "127.0.0.1", port });
    assert.equal(f.transient, true, f.message);
    assert.match(f.message, new RegExp(`^The connection to 127\\.0\\.0\\.1:${port} was cut`));
    assert.doesNotMatch(f.message, /certificate|ca_file/);
  } finally {
    listener.close();
    await accepting;
  }
});

Deno.test("classifyNetworkError: a certificate from an unknown CA is a TLS failure, not retried", async () => {
  const ca = createTestCa("network_errors test CA");
  const issued = ca.issue({ cn: "localhost", sans: ["127.0.0.1"] });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: issued.certPem, key: issued.keyPem, onListen() {} },
    () => new Response("ok"),
  );
  try {
    const { port } = server.addr;
    const error = await fetchError(`https://127.0.0.1:${port}/`);
    const f = classifyNetworkError(error, { host: "127.0.0.1", port });
    assert.equal(f.transient, false, f.message);
    assert.match(f.message, /^TLS failure talking to 127\.0\.0\.1:\d+: .*UnknownIssuer.*ca_file/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("classifyNetworkError: a port fetch never calls (port 1) is said in the user's terms, not retried", async () => {
  // Deno's fetch refuses the fetch standard's "bad ports" itself: "TypeError: Fetch failed:
  // Requests to port 1 are blocked" reached the log as it was, and was retried four times.
  const error = await fetchError("https://127.0.0.1:1/");
  const f = classifyNetworkError(error, { host: "127.0.0.1", port: 1 });
  assert.equal(
    f.message,
    "Cannot talk to 127.0.0.1:1: HTTPS requests to port 1 are never made (a port reserved for " +
      "another service): check the port in url in the plugin YAML (Qualys listens on 443)",
  );
  assert.equal(f.transient, false);
});
