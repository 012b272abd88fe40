/**
 * The Defense Center as a {@linkcode CommandSink}: commands are spooled to a 0600 temp file as
 * they come, and sent only on `close()`, when the input has been read whole and cleanly; then
 * the sink connects (mutual TLS), sends one DATA message at a time, and reports what the Defense
 * Center processed and rejected. `abort()` removes the spool: nothing was sent.
 *
 * @module
 */

import { DcClient, type DcOptions, type SendTotals } from "../dc/dc_client.ts";
import { plural } from "../util/text.ts";
import type { Log } from "../log/log.ts";
import { sendMessages } from "../dc/send_messages.ts";
import { ProgressLine } from "../log/progress.ts";
import type { CommandSink, SinkClosed, SinkReceipt } from "./sink.ts";
import { openSpoolFile } from "./spool_file.ts";
import { onSignalNote } from "../cleanup.ts";

/** Where the DC sink reports: connections and totals, and what the DC client says. */
export type DcSinkLog = Pick<Log, "info" | "warn" | "error" | "debug">;

/** Options for {@linkcode openDcSink}. */
export interface DcSinkOptions {
  /** Where to log. */
  log: DcSinkLog;
  /** Directory for the spool. @default the system temp directory */
  tempDir?: string | undefined;
}

/**
 * Opens a sink that sends to the Defense Center `target` on `close()`.
 *
 * @throws {DcError} From `close()`, when the Defense Center cannot be reached or the protocol
 * fails (exit 5).
 * @throws {DcRejectedError} From `close()`, when it rejected commands (exit 6).
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * // Nothing listens on the port: the commands are spooled, sealed (nothing is sent yet), and
 * // close() fails with exit 5; the spool is removed either way.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr as Deno.NetAddr;
 * listener.close();
 * const identity = { certPem: "", keyPem: "", caPems: [], subject: "", notBefore: new Date(),
 *   notAfter: new Date() };
 * const log = { info() {}, warn() {}, error() {}, debug() {} };
 * const tempDir = await Deno.makeTempDir();
 * const sink = await openDcSink({ host: "127.0.0.1", port, identity }, { log, tempDir });
 * await sink.write(new TextEncoder().encode("SetSource,Demo\nAddHost,10.0.0.1\n"));
 * assert.deepEqual(await sink.seal(),
 *   { where: `sent to the Defense Center 127.0.0.1:${port}`, delivered: false });
 * await assert.rejects(sink.close(), { name: "DcError", exitCode: 5 });
 * assert.deepEqual([...Deno.readDirSync(tempDir)], []);
 * await Deno.remove(tempDir);
 * ```
 */
export async function openDcSink(target: DcOptions, options: DcSinkOptions): Promise<CommandSink> {
  const { log } = options;
  const spool = await openSpoolFile(options.tempDir);
  let done = false;
  // Where the commands are once close() resolved: the summary line is logged only then.
  const receipt: SinkReceipt = {
    where: `sent to the Defense Center ${target.host}:${target.port}`,
    delivered: false,
  };
  return {
    write: (bytes) => spool.write(bytes),
    seal() {
      spool.close(); // nothing is sent before close()
      return Promise.resolve(receipt);
    },
    async close(): Promise<SinkClosed | void> {
      if (done) return;
      done = true;
      try {
        spool.close();
        return { uncertain: await send(spool.path, target, log) };
      } finally {
        await spool.remove();
      }
    },
    async abort() {
      done = true;
      await spool.remove();
    },
  };
}

// Sends the spool; resolves to the addresses of the hosts a dropped connection cut (merged).
async function send(path: string, target: DcOptions, log: DcSinkLog): Promise<string[]> {
  const where = `${target.host}:${target.port}`;
  const started = performance.now();
  const line = new ProgressLine();
  let client: DcClient | undefined;
  const unnote = onSignalNote(() => {
    const n = client?.totals.messages ?? 0;
    return `while sending to the Defense Center ${where}: ` +
      (n === 0
        ? "it had acknowledged no DATA message of this run yet (one in flight may still be " +
          "processed); the next complete run replaces anything of it"
        : `it had acknowledged ${plural(n, "DATA message")} of this run, so it holds ` +
          "part of it (a message in flight may be processed too); the next complete run replaces it");
  });
  try {
    client = await DcClient.connect({ ...target, log });
    const merged: string[] = [];
    await sendAll(client, path, { where, started, line, target, log, merged });
    return merged;
  } finally {
    unnote();
  }
}

async function sendAll(
  client: DcClient,
  path: string,
  o: {
    where: string;
    started: number;
    line: ProgressLine;
    target: DcOptions;
    log: DcSinkLog;
    merged: string[];
  },
): Promise<void> {
  const { where, started, line, target, log } = o;
  log.info(
    `Connected to the Defense Center ${where} (MAX_SIZE ${client.maxSize}${
      target.pin ? `; its certificate is the pinned one, sha256:${target.pin}` : ""
    })`,
  );
  const file = await Deno.open(path);
  try {
    await sendMessages(client, file, {
      log,
      onMerged: (address) => o.merged.push(address),
      onProgress: (t) => {
        const seconds = Math.max((performance.now() - started) / 1000, 0.001);
        line.update(
          `Sending: ${plural(t.messages, "message")}, ${plural(t.lines, "line")}, ${
            Math.round(t.lines / seconds)
          } lines/s`,
        );
      },
    });
  } finally {
    line.done();
    file.close();
    client.close();
    log.info(sentLine(client.totals, { where, seconds: (performance.now() - started) / 1000 }));
  }
}

/**
 * What a send did, in the Defense Center's own terms: the header lines (SetSource, SetDomain) are
 * not commands to it, and a rejected command was processed too (the DC read it and said no).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const totals = { messages: 1, lines: 32, commands: 31, processed: 31, failures: 0,
 *   unprocessed: 0, shortMessages: 0, reconnects: 0 };
 * assert.equal(sentLine(totals, { where: "fmc:8307", seconds: 0.05 }),
 *   "Sent 32 lines in 1 message to fmc:8307: 31 commands and 1 header line (SetSource, " +
 *     "SetDomain: not commands to the Defense Center); the Defense Center processed 31 of the " +
 *     "31 commands, 0 of them rejected; 0 reconnects; 0.05 s");
 * ```
 */
export function sentLine(t: SendTotals, o: { where: string; seconds: number }): string {
  return `Sent ${plural(t.lines, "line")} in ${plural(t.messages, "message")} to ${o.where}: ` +
    `${plural(t.commands, "command")} and ${plural(t.lines - t.commands, "header line")} ` +
    "(SetSource, SetDomain: not commands to the Defense Center); the Defense Center processed " +
    `${t.processed} of the ${plural(t.commands, "command")}, ${t.failures} of them rejected; ` +
    `${plural(t.reconnects, "reconnect")}; ${o.seconds.toFixed(2)} s`;
}
