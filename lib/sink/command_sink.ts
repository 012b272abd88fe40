/**
 * Where command text goes. The pipeline sees only this interface; sinks make output final in
 * `close()` and throw partial output away in `abort()`.
 *
 * @module
 */

/** A destination for host input command text. */
export interface CommandSink {
  /** Writes bytes (whole lines); resolves once written. */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the output final (renames the temp file into place). */
  close(): Promise<void>;
  /** Throws partial output away; never throws. */
  abort(): Promise<void>;
}
