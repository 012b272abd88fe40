/**
 * Misbehaving Defense Centers for tests: a loopback server on port 8307's protocol that does one
 * thing wrong, the way a hung, overloaded or foreign service on 8307 would: it accepts TCP and
 * never starts TLS, completes mutual TLS and never answers, answers one byte at a time, answers
 * with an HTTP error page, an unknown message type, or DATA text without "Done processing". It
 * issues client `.pkcs12` files as the Host Input Client page does, and counts connections and
 * DATA messages, so a test can tell that a client gave up and how many times it tried.
 *
 * @module
 */

import tls from "node:tls";
import forge from "node-forge";
import { createTestCa, type TestCa } from "../net/mod.ts";

/** What the fake does where an answer is due. */
export type Misbehaviour =
  /** Answer correctly (MAX_SIZE; or "Done processing N commands." as DATA, N as the module counts). */
  | "ok"
  /** Never answer; keep the connection open. */
  | "silent"
  /** Send the correct answer twice (a DC that answers one message two times). */
  | "twice"
  /** Send the correct answer one byte every `ms`. */
  | { trickle: number }
  /** Send these bytes as they are, not framed (an HTTP server's error page). */
  | { raw: string }
  /** Send a framed answer of this type with this text. */
  | { type: number; text: string };

/** The fault to play. */
export interface FaultyDcScript {
  /** Accept TCP and never start TLS. @default {false} */
  noTls?: boolean;
  /** The answer to VERSION. @default {"ok"} */
  version?: Misbehaviour;
  /** The answer to each DATA message. @default {"ok"} */
  data?: Misbehaviour;
  /** MAX_SIZE announced. @default {65535} */
  maxSize?: number;
  /** Only the first N DATA messages (over all connections) get the `data` misbehaviour. @default all */
  dataFaults?: number;
  /** The first N DATA messages (over all connections) are answered correctly, the rest get `data`. @default {0} */
  dataFaultsAfter?: number;
}

/** A running fake. */
export interface FaultyDc {
  /** 127.0.0.1 */
  host: string;
  /** The port. */
  port: number;
  /** TCP connections accepted. */
  readonly connections: number;
  /** DATA messages received whole. */
  readonly dataMessages: number;
  /** Resolves once `n` DATA messages have been received whole (a test's synchronisation). */
  dataReceived(n: number): Promise<void>;
  /** Issues a client `.pkcs12` (AES-256) that the fake accepts. */
  issueClient(options?: { password?: string }): Uint8Array;
  /** Stops listening, closes every connection, stops every timer. */
  shutdown(): Promise<void>;
}

const enc = new TextEncoder();

function frame(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + value.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, false);
  view.setUint32(4, value.length, false);
  out.set(value, 8);
  return out;
}

/** Starts the fake on 127.0.0.1 (port 0); `ca` lets it share a CA with other simulators. */
export async function startFaultyDc(
  script: FaultyDcScript,
  options: { ca?: TestCa } = {},
): Promise<FaultyDc> {
  const ca = options.ca ?? createTestCa("faulty DC CA");
  const server = ca.issue({ cn: "faulty-dc", sans: ["localhost", "127.0.0.1"] });
  const timers = new Set<ReturnType<typeof setInterval>>();
  const sockets = new Set<{ destroy(): void }>();
  let connections = 0, dataMessages = 0;
  const waiting: { n: number; resolve: () => void }[] = [];

  const answer = (sock: tls.TLSSocket, how: Misbehaviour, correct: Uint8Array) => {
    if (how === "silent") return;
    if (how === "ok") sock.write(correct);
    else if (how === "twice") sock.write(new Uint8Array([...correct, ...correct]));
    else if ("raw" in how) sock.write(enc.encode(how.raw));
    else if ("type" in how) sock.write(frame(how.type, enc.encode(how.text)));
    else {
      let at = 0;
      const timer = setInterval(() => {
        if (at >= correct.length || sock.destroyed) {
          clearInterval(timer);
          timers.delete(timer);
          return;
        }
        sock.write(correct.subarray(at, ++at));
      }, how.trickle);
      timers.add(timer);
    }
  };

  const onTls = (sock: tls.TLSSocket) => {
    sockets.add(sock);
    sock.on("error", () => {});
    sock.on("close", () => sockets.delete(sock));
    let buf = new Uint8Array(0), versioned = false;
    sock.on("data", (d: Uint8Array) => {
      const joined = new Uint8Array(buf.length + d.length);
      joined.set(buf);
      joined.set(d, buf.length);
      buf = joined;
      while (buf.length >= 8) {
        const view = new DataView(buf.buffer, buf.byteOffset);
        const type = view.getUint32(0, false), length = view.getUint32(4, false);
        if (buf.length < 8 + length) return;
        const value = buf.slice(8, 8 + length);
        buf = buf.slice(8 + length);
        if (!versioned) {
          versioned = true;
          const size = new Uint8Array(4);
          new DataView(size.buffer).setUint32(0, script.maxSize ?? 65535, false);
          answer(sock, script.version ?? "ok", frame(1, size));
        } else if (type === 3) {
          dataMessages++;
          for (const w of waiting.filter((w) => w.n <= dataMessages)) {
            waiting.splice(waiting.indexOf(w), 1);
            w.resolve();
          }
          // Counted as the host input module counts: every line but SetSource, SetSourceType
          // and SetDomain.
          const lines = new TextDecoder().decode(value).split("\n")
            .filter((l) => l && !/^Set(Source|SourceType|Domain)\s*,/.test(l)).length;
          const done = enc.encode(`Done processing ${lines} commands.\n`);
          const faulty = dataMessages <= (script.dataFaults ?? Infinity) &&
            dataMessages > (script.dataFaultsAfter ?? 0);
          answer(sock, faulty ? script.data ?? "ok" : "ok", frame(3, done));
        }
      }
    });
  };

  let port: number;
  let stop: () => Promise<void>;
  if (script.noTls) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = (listener.addr as Deno.NetAddr).port;
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const conn of listener) {
          connections++;
          held.push(conn); // never read, never answered
        }
      } catch { /* closed */ }
    })();
    stop = async () => {
      listener.close();
      for (const c of held) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    };
  } else {
    const srv = tls.createServer({
      key: server.keyPem,
      cert: server.certPem,
      ca: [ca.caPem],
      requestCert: true,
      rejectUnauthorized: true,
    }, onTls);
    srv.on("connection", (raw: { destroy(): void }) => {
      connections++;
      sockets.add(raw);
    });
    srv.on("tlsClientError", () => {});
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => resolve());
    });
    port = (srv.address() as { port: number }).port;
    stop = () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => srv.close(() => r()));
    };
  }

  return {
    host: "127.0.0.1",
    port,
    get connections() {
      return connections;
    },
    get dataMessages() {
      return dataMessages;
    },
    dataReceived(n) {
      if (n <= dataMessages) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting.push({ n, resolve });
      return promise;
    },
    issueClient(o = {}) {
      const issued = ca.issue({ cn: "qualys-connector-host", usage: "client" });
      const certs = [
        forge.pki.certificateFromPem(issued.certPem),
        forge.pki.certificateFromPem(ca.caPem),
      ];
      const asn1 = forge.pkcs12.toPkcs12Asn1(
        forge.pki.privateKeyFromPem(issued.keyPem),
        certs,
        o.password ?? "",
        { algorithm: "aes256", friendlyName: "host input client" },
      );
      return Uint8Array.from(forge.asn1.toDer(asn1).getBytes(), (c) => c.charCodeAt(0));
    },
    async shutdown() {
      for (const t of timers) clearInterval(t);
      timers.clear();
      await stop();
    },
  };
}
