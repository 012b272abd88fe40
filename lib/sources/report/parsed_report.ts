/**
 * A report, parsed whole: its format, its counts (for the summary line), its glossary, and its
 * hosts to replay, in report order, into the delivery pipeline (a `FindingSource`).
 *
 * @module
 */

import type { IpRangeSet } from "../../config/ip_ranges.ts";
import type { FindingSource, Glossary } from "../../findings/finding_source.ts";
import type { FindingSpool, HostFindings } from "../../findings/finding_spool.ts";
import type { GlossaryStore } from "../../findings/glossary_store.ts";
import type { HostStats } from "../../findings/host_collector.ts";

/** The two report formats. */
export type ReportFormat = "ASSET_DATA_REPORT" | "SCAN";

/** Counts gathered while parsing, for the summary line (the host counts: `HostStats`). */
export interface ReportStats extends HostStats {
  /** HOST (or SCAN IP) elements seen. */
  hosts: number;
  /** Findings skipped because their VULN_STATUS is Fixed. */
  fixed: number;
  /** Findings whose port is not 1-65535 (`-1`, `0`, `99999`, `80abc`): sent without a port. */
  invalidPorts: number;
  /** Findings without a usable QID. */
  noQid: number;
  /** Glossary entries. */
  glossary: number;
  /** Bytes of report read. */
  bytes: number;
}

/** Options for {@linkcode ReportParser} and {@linkcode parseReport}. */
export interface ParseReportOptions {
  /** Only hosts inside these ranges are kept. @default all hosts */
  ipRanges?: IpRangeSet | undefined;
  /** Receives warnings (invalid host addresses, missing QIDs, bad ports). @default ignore them */
  onWarning?: ((message: string) => void) | undefined;
  /** Keep each host's OS text and CPE (`OPERATING_SYSTEM`/`OS`, `OS_CPE`) for SetOS. @default {false} */
  collectOs?: boolean | undefined;
  /** Directory for the spool's temp file. @default the system temp directory */
  tempDir?: string | undefined;
  /** Spool bytes kept in memory before going to a temp file. @default {REPORT_MEMORY.findingBytes} */
  spoolMemoryLimit?: number | undefined;
  /**
   * Packed glossary bytes kept in memory before going to a temp file.
   * @default {REPORT_MEMORY.glossaryBytes}
   */
  glossaryMemoryLimit?: number | undefined;
  /**
   * While parsing, the heap is looked at every 250 hosts and collected once it has grown this
   * much since the last collection (`MemoryBudget.heapSlack`). @default never
   */
  heapSlack?: number | undefined;
}

/** A fully parsed report: its glossary, counts, and the hosts to replay. */
export class ParsedReport implements FindingSource {
  /** Which format the report was. */
  readonly format: ReportFormat;
  /** QID → glossary entry (packed; each `get` decodes the entry anew). */
  readonly glossary: Glossary;
  /** Counts. */
  readonly stats: Readonly<ReportStats>;
  #spool: FindingSpool;
  #glossary: GlossaryStore;

  /** @internal Made by {@linkcode ReportParser.end}. */
  constructor(
    format: ReportFormat,
    glossary: GlossaryStore,
    stats: ReportStats,
    spool: FindingSpool,
  ) {
    this.format = format;
    this.glossary = this.#glossary = glossary;
    this.stats = stats;
    this.#spool = spool;
  }

  /**
   * Calls `onHost` for each host: first those with open findings, then those listed without
   * (`count` 0: to clear), each in report order; an address listed twice comes once, at its first
   * place, with the findings of both. The views are reused between calls.
   */
  forEachHost(onHost: (host: HostFindings) => Promise<void> | void): Promise<void> {
    return this.#spool.replay(onHost);
  }

  /**
   * Removes the temp files of the spool and the glossary and lets go of the findings and the
   * glossary (which empties), so that their memory can be reclaimed while the commands are
   * sent. Safe to call twice.
   */
  dispose(): void {
    this.#spool.dispose();
    this.#glossary.dispose();
  }
}
