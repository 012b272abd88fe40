/**
 * What a job hands the delivery pipeline once its input has been read whole: its findings to
 * encode (both Qualys sources) or command text as it is (the csv plugin), what its summary line
 * says, and what to do once the destination took everything, or only part of it. The contract
 * between the sources and the pipeline: a source builds a {@linkcode Delivery} and imports
 * nothing else of the pipeline, nor the encoder or a sink.
 *
 * @module
 */

import type { FindingSource } from "../findings/finding_source.ts";
import type { LedgerFile } from "../ledger/ledger_file.ts";
import type { ByteReader } from "../util/bytes.ts";
import type { MemoryBudget } from "../util/memory.ts";
import type { OutputSettings, WriteSummary } from "./write_blocks.ts";

export type { OutputSettings, WriteSummary };

/** How a job's findings become commands: the plugin YAML's output settings, and more. */
export interface EncodeSettings extends OutputSettings {
  /**
   * Addresses whose results under another scanner name go first, right after the header (the
   * detection source, after a `scanner_name` change).
   */
  clearFirst?: { scanner: string; ips: Iterable<string> } | undefined;
  /** The memory the encoding may use. */
  memory: MemoryBudget;
  /** Where the encoder's texts go. @default the system temp directory */
  tempDir?: string | undefined;
}

/** Findings to encode. */
export interface FindingsContent {
  /** Findings. */
  readonly kind: "findings";
  /** The hosts and the glossary, replayed once. */
  readonly findings: FindingSource;
  /** How they become commands. */
  readonly encode: EncodeSettings;
}

/** A command file, checked, to pass on as it is. */
export interface CommandsContent {
  /** Commands. */
  readonly kind: "commands";
  /** Opens the commands for reading (once). */
  open(): Promise<ByteReader & { close(): void }>;
  /** Lines the file had. */
  readonly lines: number;
  /** Commands among them (no blank lines or comments). */
  readonly commands: number;
}

/** The source's part of the summary line (docs/output.md, "The summary"). */
export interface SourceSummary {
  /** Its own clauses, after what was sent: "skipped: …", "3 API calls, 12 bytes downloaded". */
  readonly details: readonly string[];
  /**
   * When no host at all was left to send, clear or hold: what dropped them, as a warning ("of
   * the report's 4 hosts, 4 are outside ip_ranges …"); none when that is normal for the run.
   */
  readonly noHost?: string | undefined;
}

/**
 * What the destination holds from us (its ledger, read from the state directory) and how this
 * delivery is compared with it (issue 20): a host whose block is the same as recorded is not
 * sent, unless the rolling refresh or `sendAll` says so; the record moves once the destination
 * took the data.
 */
export interface DeliveryRecord {
  /** The destination's ledger and its two writes (the pending list, the new record). */
  readonly file: LedgerFile;
  /** The day of this run (`dayNumber`). */
  readonly today: number;
  /** `refresh_days`: an unchanged host is sent again after that many days; 0: every run. */
  readonly refreshDays: number;
  /**
   * Every block is sent, the unchanged ones counted as refreshed: a file (the whole picture
   * every run), or `-full`.
   */
  readonly sendAll: boolean;
  /**
   * The delivery is everything the destination holds from us (a file replaced whole, a full
   * detection run): the addresses recorded that it does not name are forgotten. Otherwise they
   * are kept as recorded (a host a report no longer lists keeps its results).
   */
  readonly whole: boolean;
}

/** What a job gives the pipeline once its input has been read whole. */
export interface Delivery {
  /** Findings to encode (both Qualys sources), or command text as it is (the csv plugin). */
  readonly content: FindingsContent | CommandsContent;
  /**
   * What the destination holds, to send only what changed (findings only); none: every block
   * is sent and nothing is recorded (stdout, a run without a plugin YAML, the csv plugin).
   */
  readonly record?: DeliveryRecord | undefined;
  /**
   * The source's part of the summary line (findings only), asked once the sink holds every
   * command; the pipeline says the rest, in one shape for every source (docs/output.md).
   */
  summary?(written: WriteSummary): SourceSummary;
  /**
   * The destination took everything (`"all"`: the sink closed) or processed it and rejected
   * some commands (`"partial"`: exit 6): a checkpoint may move.
   */
  onTaken?(outcome: "all" | "partial"): Promise<void>;
  /**
   * The sink was opened, and the delivery failed otherwise: the destination may hold part of
   * it (the detection source notes the hosts it may have sent).
   */
  onUncertain?(): Promise<void>;
  /**
   * Lets go of the job's memory and temp files (spools, glossary): called as soon as sending
   * needs none of it, and again at the end. Safe to call twice.
   */
  dispose(): void | Promise<void>;
  /** Called once, last, whatever became of the delivery: releases what the job holds until its
   * delivery is over (the detection source's lock on the destination). */
  release?(): void;
}

/**
 * What a delivery put into its destination, for the run record and the metrics file (README:
 * Monitoring): counted as the commands passed into the sink, and reported once the destination
 * took them (exit 0, or 6).
 */
export interface DeliveryCounts {
  /** Hosts whose block was sent (added, changed or refreshed; not the clears). */
  readonly hostsSent: number;
  /** `AddScanResult` lines sent. */
  readonly resultsSent: number;
  /** Hosts cleared (`DeleteScanResult` and `ScanUpdate`). */
  readonly hostsCleared: number;
  /** Hosts not sent, the destination holding their block already. */
  readonly hostsUnchanged: number;
  /** Of the blocks sent, those sent only because the rolling refresh (or `-full`) resends them. */
  readonly hostsRefreshed: number;
  /** Command lines sent. */
  readonly linesSent: number;
  /** Bytes of commands sent. */
  readonly bytesSent: number;
}

/** What the pipeline did with a delivery. */
export interface Delivered {
  /** Where the commands went. */
  readonly where: string;
  /** What was written (findings only). */
  readonly written: WriteSummary | undefined;
  /** What the destination took (or, in a dry run, would have taken). */
  readonly counts: DeliveryCounts;
  /** A dry run: nothing was sent, written or recorded. */
  readonly dryRun: boolean;
  /** Seconds it took, from taking the delivery to the destination's last answer. */
  readonly seconds: number;
}
