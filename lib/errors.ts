/**
 * Error classes, one per exit-status family, each carrying the facts a caller branches on
 * (`retryable`, `truncated`, `file`, `line`, `column`, `code`) in fields. Library code throws
 * them; `run()` in `agent.ts` logs the message and turns the error into the exit status.
 *
 * @module
 */

/** Exit statuses: the README's table (README: Exit status), and 1 for an internal error. */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** An unexpected internal error (a bug: please report it). */
  Internal: 1,
  /** Usage or configuration error. */
  Usage: 2,
  /** Qualys API error (login, template, limits exhausted, download). */
  Qualys: 3,
  /** The report could not be parsed. */
  Report: 4,
  /** DC unreachable, TLS or protocol failure. */
  Dc: 5,
  /** The DC rejected one or more commands. */
  DcRejected: 6,
  /** A local file, directory or stream could not be read or written (disk full, permissions). */
  LocalIo: 7,
} as const;

/** A wrong command line: unknown or ambiguous option, bad value, missing input. Exit 2. */
export class UsageError extends Error {
  /** The error's name, "UsageError". */
  override name = "UsageError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Usage;
}

/** Where in a configuration file a problem is, for {@linkcode ConfigError}. */
export interface ConfigErrorOptions extends ErrorOptions {
  /** The file. */
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  column?: number;
}

/** A configuration file that cannot be used. Exit 2. */
export class ConfigError extends Error {
  /** The error's name, "ConfigError". */
  override name = "ConfigError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Usage;
  /** The configuration file. */
  readonly file: string;
  /** 1-based line of the problem; 0 when it concerns the whole file. */
  readonly line: number;
  /** 1-based column of the problem; 0 when it concerns the whole file. */
  readonly column: number;

  /**
   * Creates the error; the message is prefixed with `file:line:column: ` (or `file: `).
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * const e = new ConfigError('"url" must be https', { file: "q.yaml", line: 4, column: 6 });
   * assert.equal(e.message, 'q.yaml:4:6: "url" must be https');
   * ```
   */
  constructor(message: string, options: ConfigErrorOptions) {
    const { file, line = 0, column = 0 } = options;
    super(`${file}${line ? `:${line}:${column}` : ""}: ${message}`, options);
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** Facts of a {@linkcode LocalIoError}. */
export interface LocalIoErrorOptions extends ErrorOptions {
  /** The file, directory or stream concerned ("stdout", "stdin" for the streams). */
  path: string;
  /**
   * The path named on the command line does not exist or is the wrong kind of file (a
   * directory): the command line is wrong, so the exit status is 2, not 7. @default {false}
   */
  usage?: boolean;
}

/**
 * A local file, directory or stream that cannot be read or written: the CSV, a temp file in
 * `TMPDIR`, the log file, the input, stdout. Exit 7 (2 when `usage`). The message names the path
 * and says what to do.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const cause = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * const e = new LocalIoError("cannot write: free some space", { path: "/var/q/out.csv", cause });
 * assert.equal(e.message, "/var/q/out.csv: cannot write: free some space");
 * assert.equal(e.code, "ENOSPC");
 * assert.equal(e.exitCode, 7);
 * ```
 */
export class LocalIoError extends Error {
  /** The error's name, "LocalIoError". */
  override name = "LocalIoError";
  /** Exit status for this error: 7, or 2 for a wrong path on the command line. */
  readonly exitCode: number;
  /** The file, directory or stream concerned. */
  readonly path: string;
  /** The system's error code of the cause (`ENOSPC`, `EACCES`, `EPIPE`, ...); "" when none. */
  readonly code: string;

  /** Creates the error; the message is prefixed with `path: `. */
  constructor(message: string, options: LocalIoErrorOptions) {
    super(`${options.path}: ${message}`, options);
    this.path = options.path;
    this.exitCode = options.usage ? ExitCode.Usage : ExitCode.LocalIo;
    const code = (options.cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === "string" ? code : "";
  }

  /** True when a reader closed the pipe (or FIFO) being written: the run ends quietly. */
  get brokenPipe(): boolean {
    return this.code === "EPIPE";
  }
}

/**
 * True when a failed open or read means the path names nothing usable: it does not exist, a
 * directory is on the way, it is a directory where a file is wanted, or a device Deno's sandbox
 * will not open (/dev/stdin, /dev/tty by name): a usage error, exit 2.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isWrongPath(new Deno.errors.NotFound("x")), true);
 * assert.equal(isWrongPath(new Deno.errors.PermissionDenied("x")), false);
 * ```
 */
export function isWrongPath(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory ||
    error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.NotCapable;
}

/**
 * Why a file operation failed, in the user's terms: the operating system's words without the
 * runtime's additions ("(os error 2)", ": tmpfile", ": open '/x'"), and a path Deno's sandbox
 * will not open (a device such as /dev/stdin or /dev/tty: "run again with the --allow-all flag")
 * said as what the connector opens.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(fileErrorReason(new Deno.errors.NotFound("No such file or directory (os error 2): tmpfile")),
 *   "no such file or directory");
 * assert.equal(fileErrorReason(new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/x'")),
 *   "permission denied");
 * assert.equal(fileErrorReason(new Deno.errors.NotCapable('Requires all access to "/dev/tty", run again with the --allow-all flag')),
 *   "a device the connector does not open (it opens files, FIFOs, /dev/null, and its own standard streams)");
 * ```
 */
export function fileErrorReason(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) {
    return "a device the connector does not open (it opens files, FIFOs, /dev/null, and its own " +
      "standard streams)";
  }
  const text = (error as Error)?.message ?? String(error);
  const plain = text.replace(/ \(os error \d+\)/, "").replace(
    /: [a-z_]+(?: '[^']*')?(?: -> '[^']*')?$/,
    "",
  );
  return plain.charAt(0).toLowerCase() + plain.slice(1);
}

/** An answer from Qualys (or the way to it) that means the job cannot go on. Exit 3. */
export class QualysApiError extends Error {
  /** The error's name, "QualysApiError". */
  override name = "QualysApiError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Qualys;
  /** The Qualys CODE (or v1 number) of the answer; "" when there was none. */
  readonly code: string;
  /** The HTTP status of the answer; 0 when there was none (a network failure, a cut body). */
  readonly status: number;
  /** The endpoint called (`detections`, `knowledge_base`, ...); "" when not known. */
  readonly endpoint: string;
  /** The endpoint's version refused as retired or unknown (HTTP 404, 410, "not supported"). */
  readonly retiredVersion: string;

  /** Creates the error with the Qualys CODE, HTTP status and endpoint it concerns, when known. */
  constructor(
    message: string,
    options: ErrorOptions & {
      code?: string;
      status?: number;
      endpoint?: string;
      retiredVersion?: string;
    } = {},
  ) {
    super(message, options);
    this.code = options.code ?? "";
    this.status = options.status ?? 0;
    this.endpoint = options.endpoint ?? "";
    this.retiredVersion = options.retiredVersion ?? "";
  }
}

/** Facts of a {@linkcode ReportSyntaxError}. */
export interface ReportSyntaxErrorOptions extends ErrorOptions {
  /** The input ended inside the document (a cut download, a partial file). @default {false} */
  truncated?: boolean;
  /** The file the report came from; named in the message. */
  file?: string | undefined;
}

/** A report that is truncated, malformed or not a Qualys vulnerability report. Exit 4. */
export class ReportSyntaxError extends SyntaxError {
  /** The error's name, "ReportSyntaxError". */
  override name = "ReportSyntaxError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Report;
  /** The input ended inside the document. */
  readonly truncated: boolean;
  /** The file named in the message, if any. */
  readonly file: string | undefined;
  /** What is wrong, without the position and the file. */
  readonly reason: string;

  /**
   * Creates the error; the position is appended as `at line L, column C`, and a file is named
   * as `file: … ; nothing was written`.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * const e = new ReportSyntaxError("Undefined entity", 3, 9);
   * assert.equal(e.message, "Undefined entity at line 3, column 9");
   * assert.equal(e.inFile("r.xml").message, "r.xml: Undefined entity at line 3, column 9; nothing was written");
   * ```
   */
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    options: ReportSyntaxErrorOptions = {},
  ) {
    const where = line > 0 ? `${message} at line ${line}, column ${column}` : message;
    super(options.file ? `${options.file}: ${where}; nothing was written` : where, options);
    this.reason = message;
    this.truncated = options.truncated ?? false;
    this.file = options.file;
  }

  /** The same error, naming the file it came from. */
  inFile(file: string): ReportSyntaxError {
    return new ReportSyntaxError(this.reason, this.line, this.column, {
      truncated: this.truncated,
      file,
      cause: this,
    });
  }
}

/** Facts of a {@linkcode DcError}. */
export interface DcErrorOptions extends ErrorOptions {
  /** Trying again on a new connection may succeed (a dropped or lost connection). @default {false} */
  retryable?: boolean;
  /** The network step that failed ("connect", "TLS handshake", "MAX_SIZE answer", "DATA answer 3"), when known. @default {""} */
  step?: string;
  /** The step did not finish within its time limit (`-timeout`). @default {false} */
  timedOut?: boolean;
}

/** The Defense Center cannot be reached, or TLS or the protocol failed; or the certificate is unusable. Exit 5. */
export class DcError extends Error {
  /** The error's name, "DcError". */
  override name = "DcError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Dc;
  /** Trying again on a new connection may succeed. */
  readonly retryable: boolean;
  /** The network step that failed; "" when not known. */
  readonly step: string;
  /** The step did not finish within its time limit. */
  readonly timedOut: boolean;

  /** Creates the error. */
  constructor(message: string, options: DcErrorOptions = {}) {
    super(message, options);
    this.retryable = options.retryable ?? false;
    this.step = options.step ?? "";
    this.timedOut = options.timedOut ?? false;
  }
}

/** The Defense Center rejected one or more commands (the run completed). Exit 6. */
export class DcRejectedError extends Error {
  /** The error's name, "DcRejectedError". */
  override name = "DcRejectedError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.DcRejected;
}

/**
 * Returns the exit status that belongs to an error thrown by this library (1 when unknown).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(exitCodeOf(new UsageError("bad")), 2);
 * assert.equal(exitCodeOf(new TypeError("bug")), 1);
 * ```
 */
export function exitCodeOf(error: unknown): number {
  if (error && typeof error === "object" && "exitCode" in error) {
    const code = (error as { exitCode: unknown }).exitCode;
    if (typeof code === "number") return code;
  }
  return ExitCode.Internal;
}
