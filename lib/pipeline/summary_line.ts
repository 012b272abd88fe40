/**
 * The summary line, one shape for every source (docs/output.md, "The summary"): what was sent
 * and where, what the record kept back, the operating systems, then the source's own facts
 * (what it skipped, its API calls), and the time since the run (or the `-multiinfo` template)
 * started. And, when no host at all was left to send or hold, the warning that says what
 * dropped them.
 *
 * @module
 */

import { plural } from "../util/text.ts";
import type { WriteSummary } from "./write_blocks.ts";

/** What {@linkcode summaryLine} says. */
export interface SummaryLineFacts {
  /** What was written. */
  readonly written: WriteSummary;
  /** Where the commands went: "written to out.csv (123 bytes)", "sent to the Defense Center …". */
  readonly where: string;
  /** `set_os: y`: the SetOS counts are told. */
  readonly setOs: boolean;
  /** The source's own clauses ("skipped: …", "3 API calls, 12 bytes downloaded"). */
  readonly details: readonly string[];
  /** Seconds since `since` started. */
  readonly seconds: number;
  /** What the seconds measure: "the run", "this template". */
  readonly since: string;
}

/**
 * The summary line.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const written = { bytes: 4649, hosts: 4, cleared: 1, lines: 28, results: 23,
 *   os: { set: 0, unknown: 0, missing: 0 } };
 * assert.equal(
 *   summaryLine({ written, where: "written to out.csv (4649 bytes)", setOs: false,
 *     details: ["skipped: 1 fixed finding"], seconds: 0.314, since: "the run" }),
 *   "Summary: 4 hosts with 23 AddScanResult lines and 1 host cleared, written to out.csv " +
 *     "(4649 bytes); skipped: 1 fixed finding; the run took 0.31 s",
 * );
 * ```
 */
export function summaryLine(facts: SummaryLineFacts): string {
  const { written: w } = facts;
  const parts = [
    `${plural(w.hosts, "host")} with ${plural(w.results, "AddScanResult line")} and ` +
    `${plural(w.cleared, "host")} cleared, ${facts.where}`,
  ];
  if (w.compared && w.compared.unchanged + w.compared.refreshed > 0) {
    parts.push(
      `${plural(w.compared.unchanged, "host")} unchanged, not sent; ` +
        `${plural(w.compared.refreshed, "host")} sent again unchanged`,
    );
  }
  if (facts.setOs) {
    parts.push(
      `SetOS on ${plural(w.os.set, "host")}, ${w.os.unknown} with an OS not in the table, ` +
        `${w.os.missing} without OS data`,
    );
  }
  parts.push(...facts.details, `${facts.since} took ${facts.seconds.toFixed(2)} s`);
  return `Summary: ${parts.join("; ")}`;
}

/**
 * True when the run had no host at all to send, clear or hold (every one dropped, or none
 * listed): the summary's "0 hosts" is then worth a warning. Hosts the record kept back because
 * they are unchanged count as held: a run that sends nothing because nothing changed is normal.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const written = { bytes: 34, hosts: 0, cleared: 0, lines: 1, results: 0,
 *   os: { set: 0, unknown: 0, missing: 0 } };
 * assert.equal(noHostInScope(written), true);
 * const compared = { added: 0, changed: 0, cleared: 0, unchanged: 4, refreshed: 0,
 *   resultsAdded: 0, resultsRemoved: 0 };
 * assert.equal(noHostInScope({ ...written, compared }), false);
 * ```
 */
export function noHostInScope(written: WriteSummary): boolean {
  return written.hosts + written.cleared + (written.compared?.unchanged ?? 0) === 0;
}
