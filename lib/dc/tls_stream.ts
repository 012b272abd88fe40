/**
 * A `node:tls` socket as a {@linkcode ByteStream}: every Defense Center connection is one
 * (`dc_client.ts` says why).
 *
 * @module
 */

import type tls from "node:tls";
import type { ByteStream } from "./protocol.ts";

/** Wraps a connected socket: reads what has arrived, writes with back-pressure, closes. */
export function nodeStream(socket: tls.TLSSocket): ByteStream {
  const chunks: Uint8Array[] = [];
  let ended = false, failure: Error | undefined;
  let wake: (() => void) | undefined;
  socket.on("data", (d: Uint8Array) => {
    chunks.push(d);
    wake?.();
  });
  socket.on("end", () => {
    ended = true;
    wake?.();
  });
  socket.on("close", () => {
    ended = true;
    wake?.();
  });
  socket.on("error", (e: Error) => {
    failure = e;
    wake?.();
  });
  return {
    async read(p) {
      while (chunks.length === 0) {
        if (failure) throw failure;
        if (ended) return null;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      const c = chunks[0]!;
      const n = Math.min(p.length, c.length);
      p.set(c.subarray(0, n));
      if (n === c.length) chunks.shift();
      else chunks[0] = c.subarray(n);
      return n;
    },
    write(p) {
      return new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        socket.write(p, (e) => (e ? reject(e) : resolve(p.length)));
      });
    },
    close() {
      socket.destroy();
    },
    buffered(max) {
      const out = new Uint8Array(Math.min(max, chunks.reduce((n, c) => n + c.length, 0)));
      let at = 0;
      for (const c of chunks) {
        if (at >= out.length) break;
        const part = c.subarray(0, out.length - at);
        out.set(part, at);
        at += part.length;
      }
      return out;
    },
  };
}
