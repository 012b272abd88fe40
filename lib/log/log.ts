/**
 * The one log type every module writes to: {@linkcode Log}, four levels and the question whether
 * a level is written at all (so that a costly line, one per vulnerability at `-level 3`, is only
 * built when it will be). The run's `Logger` is one; a module takes `Log`, or the part of it it
 * uses (`Pick<Log, "warn">`), and a test passes an object that collects the lines.
 *
 * @module
 */

/** Log levels: `-level 0` writes errors only, `-level 3` everything. */
export const Level = { Error: 0, Warning: 1, Info: 2, Debug: 3 } as const;

/** Where a module reports what it does. */
export interface Log {
  /** Something failed (level 0). */
  error(message: string): void;
  /** Something did not stop the run but should be seen (level 1). */
  warn(message: string): void;
  /** Steps and totals (level 2). */
  info(message: string): void;
  /** Details, each vulnerability imported (level 3). */
  debug(message: string): void;
  /**
   * The run's summary line, a heartbeat: written at every level but 0 (errors only), with the
   * INFO label. Optional: a log without it takes the summary at `info`.
   */
  summary?(message: string): void;
  /** True when a message at `level` is written: build a costly line only then. */
  enabled(level: number): boolean;
  /**
   * Registers a secret the log must never show (a gateway token, a password read late), for
   * logs that mask them. Optional: a log that writes nowhere needs none.
   */
  addSecret?(secret: string | undefined): void;
}

/**
 * A log that writes nothing (and builds no debug line).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * NO_LOG.info("dropped");
 * assert.equal(NO_LOG.enabled(Level.Error), false);
 * ```
 */
export const NO_LOG: Log = Object.freeze({
  error() {},
  warn() {},
  info() {},
  debug() {},
  enabled: () => false,
});

/**
 * A log that keeps its lines in arrays, up to `level` (tests, and callers that report lines
 * elsewhere).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const log = memoryLog(Level.Info);
 * log.warn("careful");
 * log.debug("not kept");
 * assert.deepEqual(log.lines, { error: [], warn: ["careful"], info: [], debug: [] });
 * ```
 */
export function memoryLog(
  level: number = Level.Debug,
): Log & { lines: { error: string[]; warn: string[]; info: string[]; debug: string[] } } {
  const lines = {
    error: [] as string[],
    warn: [] as string[],
    info: [] as string[],
    debug: [] as string[],
  };
  const at = (l: number, to: string[]) => (m: string) => void (l <= level && to.push(m));
  return {
    lines,
    error: at(Level.Error, lines.error),
    warn: at(Level.Warning, lines.warn),
    info: at(Level.Info, lines.info),
    debug: at(Level.Debug, lines.debug),
    enabled: (l) => l <= level,
  };
}
