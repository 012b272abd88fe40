/**
 * Progress on a terminal (SPEC §9): one self-overwriting line on stderr, at most a few times a
 * second, and nothing at all when stderr is not a terminal (cron, pipes, files).
 *
 * @module
 */

import type { ByteReader } from "../report/parse_report.ts";

const encoder = new TextEncoder();

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

/**
 * Wraps a reader so that reading it shows bytes, percentage and rate. Returns the reader itself
 * when progress is off, and a `done()` that clears the line.
 */
export function withProgress(
  reader: ByteReader,
  options: ProgressOptions,
): { reader: ByteReader; done: () => void } {
  const enabled = options.enabled ?? Deno.stderr.isTerminal();
  if (!enabled) return { reader, done: () => {} };
  const out = options.output ?? Deno.stderr;
  const interval = options.intervalMs ?? 250;
  const started = Date.now();
  let bytes = 0, last = 0, shown = false;
  const show = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const mb = bytes / 1e6;
    const pct = options.total ? ` (${Math.floor((bytes / options.total) * 100)}%)` : "";
    out.writeSync(
      encoder.encode(
        `\r${options.label}: ${mb.toFixed(1)} MB${pct}, ${(mb / seconds).toFixed(0)} MB/s  `,
      ),
    );
    shown = true;
  };
  return {
    reader: {
      async read(p: Uint8Array): Promise<number | null> {
        const n = await reader.read(p);
        if (n !== null) {
          bytes += n;
          const now = Date.now();
          if (now - last >= interval) {
            last = now;
            show();
          }
        }
        return n;
      },
    },
    done: () => {
      if (shown) out.writeSync(encoder.encode("\r\x1b[K"));
    },
  };
}
