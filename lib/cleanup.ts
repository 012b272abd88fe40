/**
 * Clean-up on exit and on SIGINT/SIGTERM: temp files register a remover here, and `main.ts`
 * runs them all before exiting on a signal.
 *
 * @module
 */

import { LocalIoError } from "./errors.ts";

const actions = new Set<() => void>();

/** Registers a synchronous clean-up action; returns a function that unregisters it. */
export function onCleanup(action: () => void): () => void {
  actions.add(action);
  return () => actions.delete(action);
}

/** Runs (and forgets) every registered action; errors are ignored. */
export function runCleanups(): void {
  for (const action of [...actions]) {
    actions.delete(action);
    try {
      action();
    } catch { /* best effort */ }
  }
}

/**
 * The error for a temp file in `TMPDIR` (a spool) or its directory that cannot be created,
 * written or read: it names the path and says to point `TMPDIR` elsewhere (exit 7).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const e = tempFileError("write the command spool", "/tmp/x", new Error("No space left on device"));
 * assert.equal(e.message, "/tmp/x: cannot write the command spool: No space left on device: " +
 *   "set TMPDIR to a writable directory on a file system with more free space");
 * ```
 */
export function tempFileError(what: string, path: string, error: unknown): LocalIoError {
  return new LocalIoError(
    `cannot ${what}: ${(error as Error).message}: set TMPDIR to a writable directory on a file ` +
      "system with more free space",
    { path, cause: error },
  );
}

/**
 * The directory temp files go to when none is given: `$TMPDIR`, else `/tmp` (as
 * `Deno.makeTempFile` does), for messages and the stale-file sweep.
 */
export function systemTempDir(): string {
  try {
    return Deno.env.get("TMPDIR") || "/tmp";
  } catch {
    return "/tmp";
  }
}
