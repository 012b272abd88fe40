/**
 * The delivery pipeline (docs/architecture.md): the one place that writes commands into a
 * destination. It takes what a job handed over ({@linkcode Delivery}), opens the sink late (once
 * the input has been read whole), writes (encodes the findings, or copies the command file),
 * seals the sink, lets go of the job's memory before the Defense Center is sent to, closes (or
 * aborts) the sink, logs the summary once the destination took the commands, and tells the job
 * what the destination took.
 *
 * @module
 */

import { DcRejectedError, LocalIoError } from "../errors.ts";
import type { CommandSink, SinkClosed } from "../sinks/sink.ts";
import { copyAll } from "../sinks/spool_file.ts";
import { collectGarbage } from "../util/memory.ts";
import { CommandTally } from "./command_tally.ts";
import type { Delivered, Delivery, DeliveryCounts } from "./delivery.ts";
import { Level, type Log } from "../log/log.ts";
import { BlockComparer } from "./compare_blocks.ts";
import { type CommandWriter, writeBlocks, type WriteSummary } from "./write_blocks.ts";
import { noHostInScope, summaryLine } from "./summary_line.ts";
import { plural } from "../util/text.ts";

export type { Delivered, Delivery, DeliveryCounts };

type DeliverLog = DeliverOptions["log"];

/** Options for {@linkcode deliver}. */
export interface DeliverOptions {
  /** Opens the destination's sink; called once the delivery is in hand (not in a dry run). */
  openSink(): Promise<CommandSink>;
  /**
   * Where to log: the summary (through `summary` when the log has it: a heartbeat written at
   * `-level 1` too), and what the block writer says.
   */
  log: Pick<Log, "info" | "warn" | "debug" | "enabled" | "summary">;
  /**
   * What the summary's time measures, and when it started (`performance.now()`): the whole run,
   * or one `-multiinfo` template. @default {{ what: "the delivery", started: now }}
   */
  since?: { what: string; started: number } | undefined;
  /**
   * `-dry-run`: everything up to the send and nothing after: the blocks are encoded and compared
   * with the record, counted and logged (per host at `-level 3`); no sink is opened, nothing is
   * written or recorded, and the job hears neither `onTaken` nor `onUncertain`.
   * @default {false}
   */
  dryRun?: boolean;
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
 * - The sink holds everything: the job's memory is let go (and collected before a Defense
 *   Center's TLS session starts), the sink closed.
 * - Closing fails with `DcRejectedError` (the DC processed the data and rejected some
 *   commands, exit 6): the summary is logged, the job hears `onTaken("partial")`; with another
 *   error, `onUncertain`.
 * - It worked: the summary is logged, the job hears `onTaken("all")`.
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
 *   summary: () => ({ details: ["skipped: nothing"] }),
 *   onTaken: (outcome) => Promise.resolve(void said.push(outcome)),
 *   dispose() {},
 * }, { openSink: () => Promise.resolve(sink), log, since: { what: "the run", started: 0 } });
 * assert.equal(text.join(""), "SetSource,QualysGuard Scan Report\n" +
 *   'AddScanResult,10.0.0.1,"QualysGuard",6,,,"","","cve_ids:","bugtraq_ids:"\nScanFlush\n');
 * assert.match(said[0]!, /^Summary: 1 host with 1 AddScanResult line and 0 hosts cleared, kept in memory; skipped: nothing; the run took \d+\.\d\d s$/);
 * assert.equal(said[1], "all");
 * ```
 */
export async function deliver(delivery: Delivery, options: DeliverOptions): Promise<Delivered> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const since = options.since ?? { what: "the delivery", started };
  const { log } = options;
  const record = delivery.content.kind === "findings" ? delivery.record : undefined;
  const debug = log.enabled(Level.Debug) ? (m: string) => log.debug(m) : undefined;
  let compare: BlockComparer | undefined;
  try {
    if (record) {
      const tempDir = delivery.content.kind === "findings"
        ? delivery.content.encode.tempDir
        : undefined;
      compare = new BlockComparer(record, { debug, tempDir });
    }
    if (options.dryRun) return await dryRun(delivery, { log, compare, seconds, since });
    const sink = await options.openSink();
    let written: WriteSummary | undefined, copied = new CommandTally();
    try {
      ({ written, copied } = await write(delivery, sink, { log, compare }));
      // Before the first byte leaves (a file's rename, the Defense Center's send): the addresses
      // about to be sent or cleared, so that a run killed from here on sends them again.
      if (record) await record.file.markUncertain(compare!.next);
    } catch (error) {
      await sink.abort();
      await delivery.onUncertain?.();
      throw error;
    }
    let where: string, closed: SinkClosed | undefined;
    // Said once the destination took the commands (a file in place, the Defense Center's last
    // answer), made before the job's memory goes.
    let summarize: (() => void) | undefined;
    try {
      const receipt = await sink.seal();
      where = receipt.where;
      summarize = summarizer(delivery, { written, copied, where, log, since });
      await delivery.dispose(); // what is left to do needs none of the job's memory
      if (!receipt.delivered) collectGarbage(); // before the Defense Center's TLS session starts
      closed = (await sink.close()) ?? undefined;
    } catch (error) {
      // The Defense Center has the data, and said no to some lines: the job moves on from here.
      if (error instanceof DcRejectedError) {
        summarize?.();
        options.onCounts?.(countsOf(written, copied));
        await taken(delivery, { compare, log }, "partial");
      } else await delivery.onUncertain?.();
      throw error;
    }
    summarize();
    const counts = countsOf(written, copied);
    options.onCounts?.(counts);
    await taken(delivery, { compare, log, uncertain: closed?.uncertain }, "all");
    return { where, written, counts, dryRun: false, seconds: seconds() };
  } finally {
    compare?.dispose();
    await delivery.dispose();
    delivery.release?.();
  }
}

/**
 * The summary line and, when no host was left to send or hold, the source's warning: made now,
 * logged when the returned function is called. The summary goes through `log.summary` when the
 * log has it (written at `-level 1` too: a heartbeat), else `log.info`.
 */
function summarizer(
  delivery: Delivery,
  o: {
    written: WriteSummary | undefined;
    copied: CommandTally;
    where: string;
    log: DeliverLog;
    since: { what: string; started: number };
  },
): () => void {
  const { written, log } = o;
  const took = () =>
    `${o.since.what} took ${((performance.now() - o.since.started) / 1000).toFixed(2)} s`;
  const say = (line: string) => log.summary ? log.summary(line) : log.info(line);
  if (delivery.content.kind === "commands") {
    // the csv plugin's command file, passed on as it is: its heartbeat too
    const { content, copied } = { content: delivery.content, copied: o.copied };
    return () =>
      say(
        `Summary: ${plural(content.commands, "command")} (${plural(copied.lines, "line")}, ` +
          `${plural(copied.results, "AddScanResult line")}) of the command file, ${o.where}; ` +
          took(),
      );
  }
  if (!written || !delivery.summary) return () => {};
  const source = delivery.summary(written);
  const setOs = delivery.content.encode.setOs ?? false;
  const warning = noHostInScope(written) ? source.noHost : undefined;
  return () => {
    if (warning) log.warn(warning);
    const seconds = (performance.now() - o.since.started) / 1000;
    say(summaryLine({
      written,
      where: o.where,
      setOs,
      details: source.details,
      seconds,
      since: o.since.what,
    }));
  };
}

/**
 * The destination took the data: the record moves (the addresses a whole delivery no longer
 * names forgotten), then the job hears it. A record that cannot be saved fails the run (exit 7)
 * once the job heard it; after a partial delivery it is warned (exit 6 stands).
 */
async function taken(
  delivery: Delivery,
  o: {
    compare: BlockComparer | undefined;
    log: DeliverLog;
    /** Addresses the sink says may hold other than was sent: sent again next run. */
    uncertain?: readonly string[] | undefined;
  },
  outcome: "all" | "partial",
): Promise<void> {
  const record = delivery.record;
  let failed: LocalIoError | undefined;
  if (record && o.compare) {
    if (record.whole) o.compare.next.dropUntouched();
    for (const address of o.uncertain ?? []) o.compare.next.unsure(address);
    // Exit 6: the Defense Center processed the data, but an ERROR answer, a message it stopped
    // or processed short, or a line too long to send, leaves unknown what it took of each host.
    if (outcome === "partial") o.compare.next.unsureSet();
    try {
      await record.file.save(o.compare.next);
    } catch (error) {
      failed = new LocalIoError(
        `the destination took the commands, but the record of what it holds could not be saved ` +
          `(${(error as Error).message}): the next run sends this run's hosts again`,
        { path: record.file.path, cause: error },
      );
    }
  }
  await delivery.onTaken?.(outcome);
  if (failed && outcome === "partial") o.log.warn(failed.message);
  else if (failed) throw failed;
}

/** A dry run: the blocks encoded, compared and counted into nothing; the totals logged. */
async function dryRun(
  delivery: Delivery,
  o: {
    log: DeliverLog;
    compare: BlockComparer | undefined;
    seconds: () => number;
    since: { what: string; started: number };
  },
): Promise<Delivered> {
  const { written, copied } = await write(delivery, { write: () => Promise.resolve() }, o);
  const where = "not sent (a dry run)";
  summarizer(delivery, { written, copied, where, log: o.log, since: o.since })();
  const counts = countsOf(written, copied);
  o.log.info(dryRunLine(counts, written));
  return { where, written, counts, dryRun: true, seconds: o.seconds() };
}

/** The dry run's totals: what a real run would have sent, and what it would have left. */
function dryRunLine(c: DeliveryCounts, written: WriteSummary | undefined): string {
  const blocks = written?.compared;
  const hosts = blocks
    ? `${plural(blocks.added, "host")} added, ${blocks.changed} changed (+${blocks.resultsAdded} ` +
      `\u2212${blocks.resultsRemoved} results), ${blocks.cleared} cleared, ${blocks.unchanged} ` +
      `unchanged (not sent), ${blocks.refreshed} refreshed`
    : written
    ? `${plural(c.hostsSent, "host")} with results, ${c.hostsCleared} cleared (no record to ` +
      "compare with)"
    : "the command file as it is";
  return `Dry run: a real run would send ${plural(c.linesSent, "line")} ` +
    `(${plural(c.bytesSent, "byte")}): ${hosts}; ${plural(c.resultsSent, "AddScanResult line")}; ` +
    "nothing was sent, written or recorded";
}

/** What was sent, in numbers: from the block writer's summary, or the command file's copy. */
function countsOf(
  written: WriteSummary | undefined,
  copied: CommandTally,
): DeliveryCounts {
  const compared = written?.compared;
  return {
    hostsSent: written?.hosts ?? 0,
    resultsSent: written?.results ?? copied.results,
    hostsCleared: written?.cleared ?? 0,
    hostsUnchanged: compared?.unchanged ?? 0,
    hostsRefreshed: compared?.refreshed ?? 0,
    linesSent: written?.lines ?? copied.lines,
    bytesSent: written?.bytes ?? copied.bytes,
  };
}

/**
 * Writes the delivery's content: encoded findings (compared, with a record; `written`), or the
 * command file's bytes (`copied`: lines, bytes and AddScanResult lines counted as they pass).
 */
async function write(
  delivery: Delivery,
  sink: CommandWriter,
  o: { log: DeliverLog; compare: BlockComparer | undefined },
): Promise<{ written?: WriteSummary; copied: CommandTally }> {
  const content = delivery.content, copied = new CommandTally();
  if (content.kind === "findings") {
    const written = await writeBlocks(content.findings, sink, {
      ...content.encode,
      log: o.log,
      compare: o.compare,
    });
    return { written, copied };
  }
  const file = await content.open();
  try {
    await copyAll(file, {
      write(chunk) {
        copied.add(chunk);
        return sink.write(chunk);
      },
    });
  } finally {
    file.close();
  }
  return { copied };
}
