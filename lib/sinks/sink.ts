/**
 * Where command text goes. Every destination (a CSV file, stdout, a Defense Center) implements
 * {@linkcode CommandSink}; the delivery pipeline knows destinations only by it, and how the
 * commands are delivered stays inside each sink.
 *
 * @module
 */

/** What became of the commands once a sink holds all of them ({@linkcode CommandSink.seal}). */
export interface SinkReceipt {
  /**
   * Where they are once `close()` resolved, for the summary line (logged only then): "written
   * to out.csv (123 bytes)", "sent to the Defense Center fmc.example:8307".
   */
  readonly where: string;
  /** True when they already are where they go (a file in place); false when `close()` sends. */
  readonly delivered: boolean;
}

/** What a sink knows once it delivered ({@linkcode CommandSink.close}). */
export interface SinkClosed {
  /**
   * Addresses whose results the destination may hold otherwise than sent: a Defense Center's
   * host whose lines a dropped connection cut ended in ScanUpdate (a merge, not a replace).
   */
  readonly uncertain?: readonly string[];
}

/** A destination for host input command text. */
export interface CommandSink {
  /** Writes bytes (whole lines); resolves once the sink has them. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Takes the last of the commands: a file is made final (its temp file renamed into place), a
   * Defense Center's spool is closed (nothing is sent yet). Resolves to what became of them. The
   * pipeline lets go of the job's memory between this and `close()`.
   */
  seal(): Promise<SinkReceipt>;
  /**
   * Seals the output (when not yet), then delivers it: sends it to the Defense Center. May
   * resolve to what it knows of the delivery.
   */
  close(): Promise<SinkClosed | void>;
  /** Throws partial output away (what went to stdout cannot be taken back); never throws. */
  abort(): Promise<void>;
}
