/**
 * What `-status` prints (issue 20, item 4): one block per destination known in the state
 * directory, from what the caller read there (run history, ledger summary, checkpoint), with no
 * network call. A pure function of its data and of `now`: the caller reads the directory.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { LedgerSummary } from "../ledger/ledger.ts";
import type { RunHistory, RunOutcome } from "./run_history.ts";

/**
 * `-status` found no state directory: nothing is known of any destination. Exit 2; the message
 * names the directory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const e = new NoStateDirectoryError("/var/lib/qc");
 * assert.equal(e.exitCode, 2);
 * assert.equal(e.stateDir, "/var/lib/qc");
 * assert.match(e.message, /^\/var\/lib\/qc: no such state directory/);
 * ```
 */
export class NoStateDirectoryError extends UsageError {
  /** The error's name. */
  override name = "NoStateDirectoryError";
  /** The state directory looked for. */
  readonly stateDir: string;

  /** Creates the error. */
  constructor(stateDir: string, options?: ErrorOptions) {
    super(
      `${stateDir}: no such state directory, so nothing is known of any destination yet: a run ` +
        "creates it; if runs use another one, name it (state_dir in the plugin YAML)",
      options,
    );
    this.stateDir = stateDir;
  }
}

/** What is known of one destination, for {@linkcode formatStatus}. */
export interface DestinationStatus {
  /** The destination. */
  destination: string;
  /** Its variant, if any. @default {undefined} */
  variant?: string | undefined;
  /** Its run history, if any. @default {undefined} */
  history?: RunHistory | undefined;
  /** The detection source's checkpoint (its sync state), if any. @default {undefined} */
  checkpoint?: string | undefined;
  /**
   * Its ledger's summary for the next run's day (`Ledger.summary`), with the `refresh_days` it
   * was computed with; undefined when nothing is recorded. @default {undefined}
   */
  ledger?: (LedgerSummary & { refreshDays: number }) | undefined;
}

const count = (n: number) => n.toLocaleString("en-US");
const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

/**
 * How long ago `iso` was, before `now`: "just now", "5 min ago", "3 h ago", "2 days ago".
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const now = new Date("2026-08-01T12:00:00Z");
 * assert.equal(ago("2026-08-01T02:00:00Z", now), "10 h ago");
 * assert.equal(ago("2026-07-29T12:00:00Z", now), "3 days ago");
 * ```
 */
export function ago(iso: string, now: Date): string {
  const s = (now.getTime() - Date.parse(iso)) / 1000;
  if (s < -60) return "in the future: check the clock";
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

/**
 * A duration in seconds, as people read it: "4.2 s", "12 min 03 s", "1 h 02 min".
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(duration(4.25), "4.3 s");
 * assert.equal(duration(723), "12 min 03 s");
 * assert.equal(duration(3725), "1 h 02 min");
 * ```
 */
export function duration(seconds: number): string {
  if (seconds < 60) return `${(Math.round(seconds * 10) / 10).toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, "0")} min`;
}

function run(o: RunOutcome, now: Date): string {
  const head = `${o.finished} (${ago(o.finished, now)}), exit ${o.exit_code} after ` +
    duration(o.duration_seconds);
  return o.error === null ? head : `${head}: ${o.error}`;
}

/** Options of {@linkcode formatStatus}. */
export interface FormatStatusOptions {
  /** The time the status is for (ages are counted from it). */
  now: Date;
}

/**
 * The text `-status` prints: a line naming the state directory, then one block per destination
 * (by name): the last run (when it ended, exit status, duration, error), the last success, the
 * checkpoint, the hosts and results recorded, and what the next run will resend unchanged (its
 * rolling refresh) or uncertain. Ends with a newline.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const last = { started: "2026-08-01T02:00:00Z", finished: "2026-08-01T02:12:03Z",
 *   duration_seconds: 723, exit_code: 0, error: null };
 * const text = formatStatus("/var/lib/qc", [{
 *   destination: "dc 10.0.0.1:8307",
 *   history: { destination: "dc 10.0.0.1:8307", source: "report", last, last_success: last },
 *   ledger: { hosts: 100000, results: 4000000, uncertain: 0, due: 14286, refreshDays: 7 },
 * }], { now: new Date("2026-08-01T10:00:00Z") });
 * assert.match(text, /^  last run: +2026-08-01T02:12:03Z \(7 h ago\), exit 0 after 12 min 03 s$/m);
 * assert.match(text, /^  recorded: +100,000 hosts, 4,000,000 results$/m);
 * assert.match(text, /^  next run: +refreshes 14,286 unchanged hosts \(refresh_days 7\)$/m);
 * ```
 */
export function formatStatus(
  stateDir: string,
  destinations: readonly DestinationStatus[],
  options: FormatStatusOptions,
): string {
  const { now } = options;
  if (destinations.length === 0) {
    return `State directory ${stateDir}: no destination has run with it yet\n`;
  }
  const out = [`State directory ${stateDir}: ${plural(destinations.length, "destination")}`];
  const sorted = [...destinations].sort((a, b) =>
    a.destination.localeCompare(b.destination) || (a.variant ?? "").localeCompare(b.variant ?? "")
  );
  for (const d of sorted) {
    const lines: [string, string][] = [];
    const h = d.history;
    if (h) lines.push(["source", h.source]);
    lines.push(["last run", h ? run(h.last, now) : "none recorded"]);
    if (h) lines.push(["last success", h.last_success ? run(h.last_success, now) : "never"]);
    if (d.checkpoint !== undefined) {
      lines.push([
        "checkpoint",
        d.checkpoint === "" ? "none yet (the next run is full)" : d.checkpoint,
      ]);
    }
    const l = d.ledger;
    if (!l || l.hosts === 0) {
      lines.push(["recorded", "nothing yet (the next run sends every host)"]);
    } else {
      lines.push(["recorded", `${plural(l.hosts, "host")}, ${plural(l.results, "result")}`]);
      const next = l.refreshDays === 0
        ? `sends every host (refresh_days 0)`
        : `refreshes ${plural(l.due, "unchanged host")} (refresh_days ${l.refreshDays})`;
      lines.push(["next run", next]);
      if (l.uncertain > 0) {
        lines.push([
          "",
          `and resends ${plural(l.uncertain, "host")} whose last delivery is uncertain`,
        ]);
      }
    }
    out.push("", d.variant === undefined ? d.destination : `${d.destination} (${d.variant})`);
    for (const [label, text] of lines) {
      out.push(`  ${(label ? `${label}:` : "").padEnd(14)}${text}`);
    }
  }
  return `${out.join("\n")}\n`;
}
