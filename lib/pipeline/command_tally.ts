/**
 * Counts the commands that pass into a sink, as they pass: lines, bytes, and `AddScanResult`
 * lines (the run record's `lines_sent`, `bytes_sent` and `results_sent`, issue 20). It reads the
 * bytes themselves, so it counts what was written whatever wrote it (the encoder, or a command
 * file passed on as it is), and lines split between two writes are counted once.
 *
 * @module
 */

const RESULT = new TextEncoder().encode("AddScanResult,");
const NEWLINE = 10;

/**
 * Lines, bytes and `AddScanResult` lines written, counted chunk by chunk.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const tally = new CommandTally();
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * tally.add(bytes("SetSource,x\nAddScan"));
 * tally.add(bytes('Result,10.0.0.1,"QualysGuard",6,,,"","","",""\nScanFlush\n'));
 * assert.deepEqual([tally.lines, tally.results, tally.bytes], [3, 1, 75]);
 * ```
 */
export class CommandTally {
  /** Bytes counted. */
  bytes = 0;
  /** `AddScanResult` lines counted. */
  results = 0;
  #newlines = 0;
  // How much of "AddScanResult," the current line has matched from its start; -1: it is not one.
  #matched = 0;
  // Whether the current line has bytes (the last one may have no newline).
  #open = false;

  /** Lines counted: each newline, and a last line without one. */
  get lines(): number {
    return this.#newlines + (this.#open ? 1 : 0);
  }

  /** Counts `chunk` (read at once: the caller may reuse it afterwards). */
  add(chunk: Uint8Array): void {
    const n = chunk.length;
    this.bytes += n;
    let i = 0;
    while (i < n) {
      if (this.#matched >= 0) {
        while (this.#matched < RESULT.length && i < n && chunk[i] === RESULT[this.#matched]) {
          i++;
          this.#matched++;
          this.#open = true;
        }
        if (this.#matched === RESULT.length) {
          this.results++;
          this.#matched = -1;
        } else if (i === n) break; // the chunk ends inside the prefix
        else this.#matched = -1;
      }
      const newline = chunk.indexOf(NEWLINE, i);
      if (newline < 0) {
        this.#open = true;
        break;
      }
      this.#newlines++;
      this.#open = false;
      this.#matched = 0;
      i = newline + 1;
    }
  }
}
