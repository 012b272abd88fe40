/**
 * What a detection run does, decided once (docs/detections.md: "What a run does"): a full
 * sync, with the reason, the addresses to clear that it does not list, and whether it asks for
 * Fixed detections; or an incremental one from the checkpoint of the state.
 *
 * @module
 */

import type { AddressSet } from "../state/address_set.ts";
import type { SyncState } from "../state/sync_state.ts";

/** A full sync: every host with open detections is sent, the others the destination holds
 * cleared. */
export interface FullSync {
  /** A full sync. */
  readonly kind: "full";
  /** Why, for the log line ("-full", "no earlier run for this destination", ...). */
  readonly reason: string;
  /**
   * The addresses the destination holds this connector's results at (the state's list), each
   * cleared unless a page lists it; undefined without a state.
   */
  readonly clear: AddressSet | undefined;
  /**
   * Ask for Fixed detections too, so that a host listed with all of them fixed is cleared: when
   * the list of what the destination holds is missing or not to be trusted (no state, a damaged
   * one, a clock that went back). A first run pays for it (each Fixed detection costs about what
   * an open one does: 25 % more bytes with 20 % of them Fixed) to leave nothing an earlier, lost
   * state had sent.
   */
  readonly askFixed: boolean;
  /** The state, when there is one (its host map: the hosts no longer in scope are counted). */
  readonly state: SyncState | undefined;
  /** The scanner name the destination's results are under, when `scanner_name` changed. */
  readonly oldScanner: string | undefined;
}

/** An incremental sync: the hosts processed after the checkpoint. */
export interface IncrementalSync {
  /** An incremental sync. */
  readonly kind: "incremental";
  /** The checkpoint: Qualys's clock when the last run the destination took whole began. */
  readonly since: string;
  /** The state it continues. */
  readonly state: SyncState;
  /** The scanner name the destination's results are under, when `scanner_name` changed. */
  readonly oldScanner: string | undefined;
}

/** What a detection run does. */
export type SyncPlan = FullSync | IncrementalSync;

/** What {@linkcode planSync} decides from, besides the state. */
export interface PlanInputs {
  /** `-full`. */
  full: boolean;
  /** The hash of this run's filters (`queryHash`). */
  query: string;
  /** The state file was there but damaged (it was warned): the run is full, and asks for Fixed. */
  damaged: boolean;
  /** This run's `scanner_name`. */
  scannerName: string;
  /** The destination is a file (or stdout): it gets the whole picture every run. @default {false} */
  wholePicture?: boolean;
  /**
   * The record of what the destination holds is missing, damaged, or lacks an address the
   * state says holds results: one full sync records them all. @default {false}
   */
  noRecord?: boolean;
}

/**
 * Decides the run: full with `-full`, without a state, when no earlier run ended well, when the
 * filters changed, for a file (the whole picture every run), or when the record of what a
 * Defense Center holds is missing or damaged; else incremental from the checkpoint.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const inputs = { full: false, query: "q", damaged: false, scannerName: "QualysGuard" };
 * const first = planSync(undefined, inputs);
 * assert.deepEqual([first.kind, first.kind === "full" && first.askFixed], ["full", true]);
 * ```
 */
export function planSync(state: SyncState | undefined, inputs: PlanInputs): SyncPlan {
  // After a scanner_name change the destination's results are under the old name, which the
  // clears of this run do not touch: every address that holds them is cleared first.
  const oldScanner = state?.scanner !== undefined && state.scanner !== inputs.scannerName &&
      state.hosts.size > 0
    ? state.scanner
    : undefined;
  let reason: string | undefined;
  if (inputs.full) reason = "-full";
  else if (!state) reason = "no earlier run for this destination";
  else if (state.checkpoint === "") reason = "no earlier run for this destination ended well";
  else if (state.query !== inputs.query) {
    reason = "the account, filters, ip_ranges or scanner_name changed since the last run";
  } else if (inputs.wholePicture) reason = "a file gets the whole picture every run";
  else if (inputs.noRecord) {
    reason = "the record of what the destination holds is missing or damaged";
  }
  if (reason === undefined) {
    return { kind: "incremental", since: state!.checkpoint, state: state!, oldScanner };
  }
  return {
    kind: "full",
    reason,
    clear: state?.hosts,
    askFixed: inputs.damaged || !state,
    state,
    oldScanner,
  };
}

/**
 * The plan once Qualys's clock turned out earlier than the checkpoint (said by the run's first
 * answer, before any page): a full run, under the damaged-state rule (the checkpoint is not to
 * be trusted, nor what was made with it).
 */
export function planAfterClockWentBack(plan: IncrementalSync): FullSync {
  return {
    kind: "full",
    reason: "Qualys's clock is earlier than the checkpoint",
    clear: plan.state.hosts,
    askFixed: true,
    state: plan.state,
    oldScanner: plan.oldScanner,
  };
}
