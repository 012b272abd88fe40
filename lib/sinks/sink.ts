/**
 * Where command text goes. Every destination (a CSV file, stdout, a Defense Center) implements
 * {@linkcode CommandSink}; the plugins and the agent know destinations only by it, and how the
 * commands are delivered stays inside each sink.
 *
 * @module
 */

/** Options for {@linkcode CommandSink.close}. */
export interface CloseOptions {
  /**
   * Called once, when every command is in the sink's hands: after a file is in place, or just
   * before the commands are sent to a Defense Center (so the caller can let go of its memory
   * first). `where` says what became of the commands, for a summary line ("written to out.csv
   * (123 bytes)", "to send"); `delivered` is true when they already are where they go.
   */
  onComplete?: ((where: string, delivered: boolean) => void) | undefined;
}

/** A destination for host input command text. */
export interface CommandSink {
  /** Writes bytes (whole lines); resolves once the sink has them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the output final: renames the temp file into place, or sends to the Defense Center. */
  close(options?: CloseOptions): Promise<void>;
  /** Throws partial output away (what went to stdout cannot be taken back); never throws. */
  abort(): Promise<void>;
}
