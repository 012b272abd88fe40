/**
 * The comparison of each host block with what the destination holds from us (issue 20): the
 * block writer asks, for each host, whether its block goes (added, changed, a clear, or due for
 * the rolling refresh) or not (the same as recorded), and the answer is noted in the next
 * ledger, with the counts the summary, the run record and a dry run show.
 *
 * @module
 */

import type { HostFindings } from "../findings/finding_source.ts";
import { classify, fingerprintResults, resultDelta } from "../ledger/compare.ts";
import type { LedgerBuilder } from "../ledger/ledger.ts";
import type { DeliveryRecord } from "./delivery.ts";

/**
 * The results' fingerprints the next record keeps in memory while a run builds it: 256 KiB (a
 * record of 3,200 hosts of 40 results); those past it go to a temp file, written 256 KiB at a
 * time, until the record is saved (100,000 hosts of 40 results: 7.75 of the 8 MB there). With
 * 2 MiB in memory, the bench's runs of 100,000 hosts peaked 2-3 MiB higher, for no measurable
 * gain in time: the file is written once and read once, in order.
 */
export const FINGERPRINT_MEMORY_VALUES = 2 ** 17;

/** Options of {@linkcode BlockComparer}. */
export interface BlockComparerOptions {
  /** Hears one line per host (`-level 3`). */
  debug?: ((message: string) => void) | undefined;
  /** Where the fingerprints past their memory go. @default the system temp directory */
  tempDir?: string | undefined;
  /** Fingerprints kept in memory. @default {FINGERPRINT_MEMORY_VALUES} */
  memoryValues?: number | undefined;
}

/** What became of the host blocks, compared with the destination's record. */
export interface CompareCounts {
  /** Blocks sent to an address the record does not know (clears not included). */
  added: number;
  /** Blocks sent that differ from the recorded one, or whose last delivery is uncertain. */
  changed: number;
  /** Clears sent (an address whose host has no open finding now). */
  cleared: number;
  /** Blocks not sent: the destination holds them already. */
  unchanged: number;
  /** Blocks sent although unchanged: the rolling refresh, `-full`, or a file. */
  refreshed: number;
  /** Results the changed blocks gained. */
  resultsAdded: number;
  /** Results the changed blocks lost. */
  resultsRemoved: number;
}

/**
 * Decides, host by host, what is sent, and builds the next record.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LedgerFile } from "../ledger/ledger_file.ts";
 * const dir = await Deno.makeTempDir();
 * const file = await LedgerFile.open(dir, { destination: "dc 10.0.0.1:8307" });
 * const compare = new BlockComparer({ file, today: 20000, refreshDays: 7, sendAll: false,
 *   whole: false });
 * const host = { ip: "10.0.0.1", count: 1, qids: Uint32Array.of(6), ports: new Uint16Array(1),
 *   protos: new Uint8Array(1) };
 * assert.equal(compare.decide(host, new Uint8Array(8)), true); // not recorded yet: added
 * assert.equal(compare.counts.added, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class BlockComparer {
  /** The next record: what the destination holds once it took this delivery. */
  readonly next: LedgerBuilder;
  /** What became of the blocks so far. */
  readonly counts: CompareCounts = {
    added: 0,
    changed: 0,
    cleared: 0,
    unchanged: 0,
    refreshed: 0,
    resultsAdded: 0,
    resultsRemoved: 0,
  };
  readonly #record: DeliveryRecord;
  readonly #debug: ((message: string) => void) | undefined;

  /** Compares with `record`. */
  constructor(record: DeliveryRecord, options: BlockComparerOptions = {}) {
    this.#record = record;
    this.#debug = options.debug;
    this.next = record.file.ledger.builder({
      today: record.today,
      fingerprints: {
        memoryValues: options.memoryValues ?? FINGERPRINT_MEMORY_VALUES,
        tempDir: options.tempDir,
      },
    });
  }

  /** Removes the next record's temp file, if any (once it is saved, or not to be). */
  dispose(): void {
    this.next.dispose();
  }

  /**
   * Whether `host`'s block (whose digest is `digest`) is to be sent; noted in the next record
   * either way.
   */
  decide(host: HostFindings, digest: Uint8Array): boolean {
    const r = this.#record, counts = this.counts;
    const old = r.file.ledger.get(host.ip);
    const what = classify(old, {
      digest,
      today: r.today,
      refreshDays: r.refreshDays,
      full: r.sendAll,
    });
    if (what === "unchanged") {
      this.next.keep(host.ip);
      counts.unchanged++;
      this.#debug?.(`${host.ip}: unchanged, not sent`);
      return false;
    }
    const fingerprints = fingerprintResults(host);
    this.next.set(host.ip, { digest, fingerprints });
    if (what === "refresh") {
      counts.refreshed++;
      this.#debug?.(`${host.ip}: unchanged, sent again (${r.sendAll ? "every block" : "refresh"})`);
    } else if (host.count === 0) {
      counts.cleared++;
      this.#debug?.(`${host.ip}: cleared`);
    } else if (what === "added") {
      counts.added++;
      this.#debug?.(`${host.ip}: added (${host.count} results)`);
    } else {
      counts.changed++;
      const delta = resultDelta(old!.recorded ? old!.fingerprints : [], fingerprints);
      counts.resultsAdded += delta.added;
      counts.resultsRemoved += delta.removed;
      this.#debug?.(
        `${host.ip}: changed (+${delta.added} \u2212${delta.removed} results${
          old!.uncertain ? "; its last delivery may not have arrived" : ""
        })`,
      );
    }
    return true;
  }
}
