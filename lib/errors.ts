/**
 * Error classes, one per exit-code family (SPEC §2). Library code throws these; only `main.ts`
 * prints them and exits with their `exitCode`.
 *
 * @module
 */

/** Exit statuses documented in the README and SPEC §2. */
export const ExitCode = {
  /** Success. */
  Ok: 0,
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
} as const;

/** A wrong command line: unknown or ambiguous option, bad value. Exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Usage;
}

/** A configuration file that cannot be used. Exit 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Usage;
  /** Creates the error; `file`, `line` and `column` are prefixed as `file:line:column: `. */
  constructor(
    message: string,
    readonly file: string,
    readonly line = 0,
    readonly column = 0,
    options?: ErrorOptions,
  ) {
    super(`${file}${line ? `:${line}:${column}` : ""}: ${message}`, options);
  }
}

/** An answer from Qualys that means the job cannot go on (SIMPLE_RETURN with a CODE). Exit 3. */
export class QualysApiError extends Error {
  override name = "QualysApiError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Qualys;
  /** Creates the error with the Qualys CODE (or v1 number) it carries, when known. */
  constructor(message: string, readonly code = "", options?: ErrorOptions) {
    super(message, options);
  }
}

/** A report that is truncated, malformed or not a Qualys vulnerability report. Exit 4. */
export class ReportSyntaxError extends SyntaxError {
  override name = "ReportSyntaxError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Report;
  /** Creates the error; the position is appended as `at line L, column C`. */
  constructor(message: string, readonly line: number, readonly column: number) {
    super(line > 0 ? `${message} at line ${line}, column ${column}` : message);
  }
}

/** The Defense Center cannot be reached, or TLS or the protocol failed; or the certificate is unusable. Exit 5. */
export class DcError extends Error {
  override name = "DcError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.Dc;
}

/** The Defense Center rejected one or more commands (the run completed). Exit 6. */
export class DcRejectedError extends Error {
  override name = "DcRejectedError";
  /** Exit status for this error. */
  readonly exitCode: number = ExitCode.DcRejected;
}

/** Returns the exit status that belongs to an error thrown by this library (1 when unknown). */
export function exitCodeOf(error: unknown): number {
  if (error && typeof error === "object" && "exitCode" in error) {
    const code = (error as { exitCode: unknown }).exitCode;
    if (typeof code === "number") return code;
  }
  return 1;
}
