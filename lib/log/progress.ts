/**
 * Progress on a terminal: one self-overwriting line on stderr, at most a few times a
 * second, and nothing at all when stderr is not a terminal (cron, pipes, files).
 *
 * @module
 */

import type { ByteReader } from "../util/bytes.ts";

const encoder = new TextEncoder();

// The line on the terminal now, if any: a log line clears it first ({@linkcode clearProgress}).
let showing: ProgressLine | undefined;

/**
 * Clears the progress line on the terminal, if one is shown, so that the next log line starts
 * at the left margin instead of running into it; the next update draws it again. The logger
 * calls it before each line it writes to stdout or stderr.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const written: string[] = [];
 * const output = { writeSync: (p: Uint8Array) => (written.push(new TextDecoder().decode(p)), p.length) };
 * const line = new ProgressLine({ enabled: true, output, intervalMs: 0 });
 * line.update("Parsing: 1.0 MB");
 * clearProgress();
 * assert.deepEqual(written, ["\rParsing: 1.0 MB  ", "\r\x1b[K"]);
 * clearProgress(); // nothing shown: nothing written
 * assert.equal(written.length, 2);
 * ```
 */
export function clearProgress(): void {
  showing?.done();
}

/** Options for {@linkcode withProgress}. */
export interface ProgressOptions {
  /** What is being done, e.g. "Parsing report.xml". */
  label: string;
  /** Total bytes, when known. */
  total?: number | undefined;
  /** Show progress; by default only when stderr is a terminal. */
  enabled?: boolean;
  /** Where to write. @default Deno.stderr */
  output?: { writeSync(p: Uint8Array): number };
  /** Milliseconds between updates. @default {250} */
  intervalMs?: number;
}

/** A self-overwriting status line on a terminal; does nothing when disabled. */
export class ProgressLine {
  readonly #out: { writeSync(p: Uint8Array): number } | undefined;
  readonly #interval: number;
  #last = 0;
  #shown = false;

  /** Enabled only when stderr is a terminal, unless told otherwise. */
  constructor(
    options: {
      enabled?: boolean;
      output?: { writeSync(p: Uint8Array): number };
      intervalMs?: number;
    } = {},
  ) {
    const enabled = options.enabled ?? Deno.stderr.isTerminal();
    this.#out = enabled ? options.output ?? Deno.stderr : undefined;
    this.#interval = options.intervalMs ?? 250;
  }

  /** Shows `text` (at most every `intervalMs`). */
  update(text: string): void {
    if (!this.#out) return;
    const now = Date.now();
    if (now - this.#last < this.#interval) return;
    this.#last = now;
    if (showing !== this) showing?.done(); // one line at a time
    this.#out.writeSync(encoder.encode(`\r${text}  `));
    this.#shown = true;
    showing = this;
  }

  /** Clears the line. */
  done(): void {
    if (this.#shown) this.#out?.writeSync(encoder.encode("\r\x1b[K"));
    this.#shown = false;
    if (showing === this) showing = undefined;
  }
}

/**
 * Wraps a reader so that reading it shows bytes, percentage and rate. Returns the reader itself
 * when progress is off, and a `done()` that clears the line.
 */
export function withProgress(
  reader: ByteReader,
  options: ProgressOptions,
): { reader: ByteReader; done: () => void } {
  const line = new ProgressLine({
    ...(options.enabled !== undefined ? { enabled: options.enabled } : {}),
    ...(options.output ? { output: options.output } : {}),
    intervalMs: options.intervalMs ?? 250,
  });
  if (!(options.enabled ?? Deno.stderr.isTerminal())) return { reader, done: () => {} };
  const started = Date.now();
  let bytes = 0;
  return {
    reader: {
      async read(p: Uint8Array): Promise<number | null> {
        const n = await reader.read(p);
        if (n !== null) {
          bytes += n;
          const seconds = Math.max((Date.now() - started) / 1000, 0.001);
          const mb = bytes / 1e6;
          const pct = options.total ? ` (${Math.floor((bytes / options.total) * 100)}%)` : "";
          line.update(
            `${options.label}: ${mb.toFixed(1)} MB${pct}, ${(mb / seconds).toFixed(0)} MB/s`,
          );
        }
        return n;
      },
    },
    done: () => line.done(),
  };
}
