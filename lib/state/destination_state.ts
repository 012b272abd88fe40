/**
 * What a run keeps of its destination in the state directory, for both sources (issue 20): the
 * directory itself (0700), the per-destination lock that keeps two runs from sending to one
 * destination at once (`sync-<stem>.lock`, the detection source's lock), and the ledger of what
 * the destination holds from us (`lib/ledger/`). A dry run reads the ledger and nothing else:
 * no directory is made, no lock file, no stale temp file swept.
 *
 * @module
 */

import { LocalIoError } from "../errors.ts";
import { LedgerFile, stateFileStem } from "../ledger/ledger_file.ts";
import { checkStateDir, prepareStateDir, tryLock } from "./state_dir.ts";

/**
 * Where a job's commands go and how they are compared with the destination's record, as the
 * plugin decides it from the command line and the YAML (issue 20).
 */
export interface DeliveryTarget {
  /**
   * A Defense Center (only what changed is sent), a file (the whole picture every run, recorded
   * all the same), or stdout (the whole picture, nothing recorded).
   */
  kind: "dc" | "file" | "stdout";
  /** `refresh_days`: an unchanged host is sent again after that many days; 0: every run. */
  refreshDays: number;
  /** `-full`: every host this run. */
  full: boolean;
  /** The day of this run (`dayNumber` of the run's clock). */
  today: number;
  /** `-dry-run`: everything up to the send, nothing after. */
  dryRun: boolean;
}

/** Options of {@linkcode openDestinationState}. */
export interface DestinationStateOptions {
  /** The destination's name (`destinationKey`): it keys the lock and the ledger. */
  destination: string;
  /** The ledger's variant (a `-multiinfo` template's file). @default none */
  variant?: string | undefined;
  /** Read the ledger (false: stdout, whose reader holds nothing we can know). @default {true} */
  record?: boolean;
  /** A dry run: read only; no directory, no lock. @default {false} */
  dryRun?: boolean;
  /** Told when the ledger is damaged (the run then sends every host): a warning. */
  onDamaged(message: string): void;
}

/** A destination's state, held for a run. */
export interface DestinationState {
  /** The lock file's path (also the stem of the detection source's `sync-<stem>.json`). */
  readonly lockPath: string;
  /** The ledger, when asked for. */
  readonly ledger: LedgerFile | undefined;
  /** Closes the ledger's file and releases the lock (no lock in a dry run). Safe to call twice. */
  release(): void;
}

/**
 * Prepares the state directory, takes the destination's lock and reads its ledger.
 *
 * @throws {LocalIoError} When another run holds the destination, or the directory or the lock
 * cannot be made (exit 7; nothing was sent); in a dry run, when the directory is not one.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const options = { destination: "dc 10.0.0.1:8307", onDamaged() {} };
 * const state = await openDestinationState(`${dir}/state`, options);
 * assert.equal(state.ledger?.ledger.size, 0);
 * await assert.rejects(openDestinationState(`${dir}/state`, options), { exitCode: 7 });
 * state.release();
 * (await openDestinationState(`${dir}/state`, options)).release();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openDestinationState(
  dir: string,
  options: DestinationStateOptions,
): Promise<DestinationState> {
  const { destination } = options;
  const lockPath = `${dir}/sync-${await stateFileStem({ destination })}.lock`;
  let release = () => {};
  if (!options.dryRun) {
    await prepareStateDir(dir);
    const unlock = await tryLock(lockPath);
    if (!unlock) {
      throw new LocalIoError(
        `another run is syncing ${destination} now: this one stops (nothing was sent)`,
        { path: lockPath },
      );
    }
    release = unlock;
  } else await checkStateDir(dir);
  try {
    const ledger = options.record === false ? undefined : await LedgerFile.open(dir, {
      destination,
      variant: options.variant,
      onDamaged: options.onDamaged,
    });
    return {
      lockPath,
      ledger,
      release: () => {
        ledger?.close();
        release();
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}
