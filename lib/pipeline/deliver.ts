/**
 * The delivery pipeline (docs/architecture.md): the one place that writes commands into a
 * destination. It takes what a job handed over ({@linkcode Delivery}), opens the sink late (once
 * the input has been read whole), writes (encodes the findings, or copies the command file),
 * seals the sink and logs the summary, lets go of the job's memory before the Defense Center is
 * sent to, closes (or aborts) the sink, and tells the job what the destination took.
 *
 * @module
 */

import { DcRejectedError } from "../errors.ts";
import type { CommandSink } from "../sinks/sink.ts";
import { copyAll } from "../sinks/spool_file.ts";
import { collectGarbage } from "../util/memory.ts";
import { CommandTally } from "./command_tally.ts";
import type { Delivered, Delivery, DeliveryCounts } from "./delivery.ts";
import type { Log } from "../log/log.ts";
import { writeBlocks, type WriteSummary } from "./write_blocks.ts";

export type { Delivered, Delivery, DeliveryCounts };

/** Options for {@linkcode deliver}. */
export interface DeliverOptions {
  /** Opens the destination's sink; called once the delivery is in hand. */
  openSink(): Promise<CommandSink>;
  /** Where to log: the summary, and what the block writer says. */
  log: Pick<Log, "info" | "warn" | "debug" | "enabled">;
  /**
   * Told what the destination took, once it took it (exit 0, or 6 before that error is thrown;
   * before the job hears `onTaken`). @default {() => {}}
   */
  onCounts?: ((counts: DeliveryCounts) => void) | undefined;
}

/**
 * Delivers `delivery` into the sink `options.openSink` opens, and resolves to what was done.
 *
 * - Writing fails: the sink is aborted (a file's temp file removed, a Defense Center's spool
 *   too: nothing was sent), the job hears `onUncertain`, the error is thrown.
 * - The sink holds everything: the summary is logged, the job's memory let go (and collected
 *   before a Defense Center's TLS session starts), the sink closed.
 * - Closing fails with `DcRejectedError` (the DC processed the data and rejected some
 *   commands, exit 6): the job hears `onTaken("partial")`; with another error, `onUncertain`.
 * - It worked: the job hears `onTaken("all")`.
 *
 * What the destination took is counted as it passes into the sink (`options.onCounts`, and the
 * result's `counts`).
 *
 * Whatever happens, the job's `dispose` and `release` are called before it returns.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { REPORT_MEMORY } from "../util/memory.ts";
 * import { NO_LOG } from "../log/log.ts";
 * const host = { ip: "10.0.0.1", count: 1, qids: Uint32Array.of(6), ports: new Uint16Array(1),
 *   protos: new Uint8Array(1) };
 * const findings = { glossary: new Map(), forEachHost: (on: (h: typeof host) => void) =>
 *   Promise.resolve(on(host)), dispose() {} };
 * const text: string[] = [];
 * const said: string[] = [];
 * const sink = {
 *   write: (b: Uint8Array) => Promise.resolve(void text.push(new TextDecoder().decode(b))),
 *   seal: () => Promise.resolve({ where: "kept in memory", delivered: true }),
 *   close: () => Promise.resolve(),
 *   abort: () => Promise.resolve(),
 * };
 * const log = { ...NO_LOG, info: (m: string) => void said.push(m) };
 * await deliver({
 *   content: { kind: "findings", findings, encode: { memory: REPORT_MEMORY } },
 *   summary: (s) => `Summary: ${s.written.hosts} host ${s.where}`,
 *   onTaken: (outcome) => Promise.resolve(void said.push(outcome)),
 *   dispose() {},
 * }, { openSink: () => Promise.resolve(sink), log });
 * assert.equal(text.join(""), "SetSource,QualysGuard Scan Report\n" +
 *   'AddScanResult,10.0.0.1,"QualysGuard",6,,,"","","cve_ids:","bugtraq_ids:"\nScanFlush\n');
 * assert.deepEqual(said, ["Summary: 1 host kept in memory", "all"]);
 * ```
 */
export async function deliver(delivery: Delivery, options: DeliverOptions): Promise<Delivered> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    const tally = new CommandTally();
    const sink = tallied(await options.openSink(), tally);
    let written: WriteSummary | undefined;
    try {
      written = await write(delivery, sink, options.log);
    } catch (error) {
      await sink.abort();
      await delivery.onUncertain?.();
      throw error;
    }
    let where: string;
    try {
      const receipt = await sink.seal();
      where = receipt.where;
      if (written && delivery.summary) {
        options.log.info(delivery.summary({ written, ...receipt, seconds: seconds() }));
      }
      await delivery.dispose(); // what is left to do needs none of the job's memory
      if (!receipt.delivered) collectGarbage(); // before the Defense Center's TLS session starts
      await sink.close();
    } catch (error) {
      // The Defense Center has the data, and said no to some lines: the job moves on from here.
      if (error instanceof DcRejectedError) {
        options.onCounts?.(countsOf(written, tally));
        await delivery.onTaken?.("partial");
      } else await delivery.onUncertain?.();
      throw error;
    }
    const counts = countsOf(written, tally);
    options.onCounts?.(counts);
    await delivery.onTaken?.("all");
    return { where, written, counts, seconds: seconds() };
  } finally {
    await delivery.dispose();
    delivery.release?.();
  }
}

/** Writes the delivery's content into the sink: encoded findings, or the command file's bytes. */
async function write(
  delivery: Delivery,
  sink: CommandSink,
  log: DeliverOptions["log"],
): Promise<WriteSummary | undefined> {
  const content = delivery.content;
  if (content.kind === "findings") {
    return await writeBlocks(content.findings, sink, { ...content.encode, log });
  }
  const file = await content.open();
  try {
    await copyAll(file, sink);
  } finally {
    file.close();
  }
  return undefined;
}

/** The sink, counting what is written into it. */
function tallied(sink: CommandSink, tally: CommandTally): CommandSink {
  return {
    write: (bytes) => {
      tally.add(bytes);
      return sink.write(bytes);
    },
    seal: () => sink.seal(),
    close: () => sink.close(),
    abort: () => sink.abort(),
  };
}

/** The counts of a delivery: the hosts from what the encoder wrote, the lines as they passed. */
function countsOf(written: WriteSummary | undefined, tally: CommandTally): DeliveryCounts {
  return {
    hostsSent: written?.hosts ?? 0,
    resultsSent: tally.results,
    hostsCleared: written?.cleared ?? 0,
    hostsUnchanged: 0,
    hostsRefreshed: 0,
    linesSent: tally.lines,
    bytesSent: tally.bytes,
  };
}
