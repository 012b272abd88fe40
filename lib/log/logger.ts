/**
 * Logging as the original did it (docs/operations.md: Logging): stdout by default, `-stderr`, `-logfile` (append),
 * `-syslog` (through the system `logger` command; when syslog cannot be reached, stderr, with
 * one warning). Levels 0 error, 1 warning, 2 info, 3 debug; the run's summary line is written at
 * every level but 0 (a heartbeat: {@linkcode Logger.summary}).
 *
 * Every line is made safe for every destination: control characters (ESC, the other C0 and C1
 * characters, DEL) are shown as `\xHH`, line breaks and tabs become spaces, so a title from a
 * report cannot drive the terminal or forge a log line. Secrets are kept out of messages where
 * they are made; as a safety net, registered secrets that cannot be mistaken for ordinary words
 * are masked where they stand as a whole token (see {@linkcode Logger.addSecret}).
 *
 * @module
 */

import { fstatSync } from "node:fs";
import { fileErrorReason, isWrongPath, LocalIoError } from "../errors.ts";
import { writeAllSync } from "../util/bytes.ts";
import { Level, type Log } from "./log.ts";
import { clearProgress } from "./progress.ts";

export { Level };

const LABEL = ["ERROR", "WARNING", "INFO", "DEBUG"] as const;
const SYSLOG_PRIORITY = [11, 12, 14, 15]; // user.err, user.warning, user.info, user.debug

/** Options for {@linkcode Logger}. */
export interface LoggerOptions {
  /** Highest level written. @default {2} */
  level?: number;
  /** Write to stdout. @default {false} */
  stdout?: boolean;
  /** Write to stderr. @default {false} */
  stderr?: boolean;
  /** Append to this file. */
  logfile?: string | undefined;
  /** Write to syslog. @default {false} */
  syslog?: boolean;
  /** Path of the syslog socket whose presence means syslog can be reached. @default {"/dev/log"} */
  syslogSocket?: string;
  /** Program name used as the syslog tag. @default {"qualys_connector"} */
  tag?: string;
  /** The longest wait, in ms, for syslog (the `logger` child) to take the last lines on close. @default {5000} */
  closeTimeoutMs?: number;
}

const encoder = new TextEncoder();

/**
 * Makes text safe to write as one log line: CR, LF and tab become spaces; every other control
 * character (C0, DEL, C1) is written as `\xHH`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(neutralise("Importing QID 6: \x1b[2Jred\x9b\x7f\r\nnext"), "Importing QID 6: \\x1b[2Jred\\x9b\\x7f next");
 * ```
 */
export function neutralise(text: string): string {
  return text.replace(/[\r\n]+/g, " ").replace(/\t/g, " ").replace(
    // deno-lint-ignore no-control-regex -- control characters are what this neutralises
    /[\x00-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/**
 * Whether the safety net masks `secret`: only one that cannot be an ordinary word of a log line,
 * at least 8 characters and not letters only (16 when it is). Masking a short or plain-word
 * password ("p", "report", "password") would garble ordinary lines and, by the gaps, give the
 * password away.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isMaskable("d0ntp@n1c"), true);
 * assert.equal(isMaskable("password"), false);
 * assert.equal(isMaskable("tmp"), false);
 * ```
 */
export function isMaskable(secret: string): boolean {
  return secret.length >= 8 && (/[^A-Za-z]/.test(secret) || secret.length >= 16);
}

function tokenPattern(secret: string): RegExp {
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, "g");
}

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Writes log lines to the chosen destinations, below a level, made safe and with secrets masked. */
export class Logger implements Log {
  /** The highest level written: 0 error, 1 warning, 2 info, 3 debug. */
  readonly level: number;
  #stdout: boolean;
  #stderr: boolean;
  #file: Deno.FsFile | undefined;
  #syslog:
    | { writer: WritableStreamDefaultWriter<Uint8Array>; child: Deno.ChildProcess }
    | undefined;
  #secrets = new Map<string, RegExp>();
  #tag: string;
  #logfile: string | undefined;
  #failure: LocalIoError | undefined;
  #closeTimeoutMs: number;

  /**
   * Opens the destinations. With none chosen, logs go to stdout.
   *
   * @throws {LocalIoError} When the log file cannot be opened (exit 2 when its directory does not
   * exist or it is a directory, else 7).
   */
  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? Level.Info;
    this.#tag = options.tag ?? "qualys_connector";
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#stdout = options.stdout ?? false;
    this.#stderr = options.stderr ?? false;
    if (options.logfile !== undefined) {
      this.#logfile = options.logfile;
      try {
        this.#file = Deno.openSync(options.logfile, {
          append: true,
          create: true,
          mode: 0o600,
        });
      } catch (error) {
        throw new LocalIoError(
          `cannot open the log file: ${fileErrorReason(error)}: ` +
            (error instanceof Deno.errors.NotCapable
              ? "log to the terminal with -stderr, or name a file"
              : "check the path and permissions"),
          { path: options.logfile, cause: error, usage: isWrongPath(error) },
        );
      }
    }
    if (options.syslog) this.#openSyslog(options.syslogSocket ?? "/dev/log");
    if (!this.#stdout && !this.#stderr && !this.#file && !this.#syslog) this.#stdout = true;
  }

  /**
   * True when an error logged now is seen by whoever reads stderr, so it need not be printed there
   * again: stderr is a destination, or stdout is and it is a terminal (where stderr shows too) or
   * the same file as stderr (`>log 2>&1`). False for the default stdout logging in cron with
   * `>/dev/null`: {@linkcode Logger.fatal} then prints the error to stderr as well.
   */
  get reachesStderr(): boolean {
    if (this.#stderr) return true;
    if (!this.#stdout) return false;
    if (Deno.stdout.isTerminal()) return true;
    try {
      // node:fs can fstat the descriptors; Deno's own API would need /proc, out of its sandbox.
      const out = fstatSync(1), err = fstatSync(2);
      return out.dev === err.dev && out.ino === err.ino;
    } catch {
      return false;
    }
  }

  #openSyslog(socket: string): void {
    let reason = "";
    try {
      Deno.statSync(socket);
      const child = new Deno.Command("logger", {
        args: ["--prio-prefix", "-t", this.#tag, "--socket-errors=on"],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      this.#syslog = { writer: child.stdin.getWriter(), child };
      return;
    } catch (error) {
      reason = error instanceof Deno.errors.NotFound
        ? `${socket} does not exist or the logger command is missing`
        : (error as Error).message;
    }
    this.#stderr = true;
    this.warn(`Cannot reach syslog (${reason}): logging to stderr instead`);
  }

  /**
   * Registers a secret for the safety net: from now on it is masked, as it is and URL-encoded,
   * wherever it stands as a whole token (not inside a longer word or number), when
   * {@linkcode isMaskable} says it cannot be an ordinary word.
   */
  addSecret(secret: string | undefined): void {
    for (const form of secret ? [secret, encodeURIComponent(secret)] : []) {
      if (isMaskable(form) && !this.#secrets.has(form)) {
        this.#secrets.set(form, tokenPattern(form));
      }
    }
    // Longest first, so a secret that contains another is masked whole.
    this.#secrets = new Map([...this.#secrets].sort((a, b) => b[0].length - a[0].length));
  }

  /**
   * Replaces each registered secret standing as a whole token in `text` with `****`.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * const log = new Logger({ level: -1 });
   * log.addSecret("d0ntp@n1c");
   * log.addSecret("p");
   * assert.equal(log.redact("proxy http://u:d0ntp@n1c@proxy, paths /tmp/p"), "proxy http://u:****@proxy, paths /tmp/p");
   * ```
   */
  redact(text: string): string {
    let out = text;
    for (const pattern of this.#secrets.values()) out = out.replace(pattern, "****");
    return out;
  }

  /** `text` as a log line would show it: secrets masked, control characters neutralised. */
  clean(text: string): string {
    return neutralise(this.redact(text));
  }

  /** Logs at level 0. */
  error(message: string): void {
    this.log(Level.Error, message);
  }
  /** Logs at level 1. */
  warn(message: string): void {
    this.log(Level.Warning, message);
  }
  /** Logs at level 2. */
  info(message: string): void {
    this.log(Level.Info, message);
  }
  /** Logs at level 3. */
  debug(message: string): void {
    this.log(Level.Debug, message);
  }

  /**
   * Logs the run's summary line: a heartbeat, written at every level but 0 (`-level 0` is errors
   * only), labelled INFO.
   */
  summary(message: string): void {
    if (this.level >= Level.Warning) this.#emit(Level.Info, message);
  }

  /** True when a message at `level` would be written. */
  enabled(level: number): boolean {
    return level <= this.level;
  }

  /**
   * Writes one line at `level` to every destination. Never throws: a stream whose reader went
   * away (a closed pipe) is dropped quietly; a destination that fails otherwise (a full disk) is
   * dropped, the failure is printed to stderr once and kept in {@linkcode Logger.failure}.
   */
  log(level: number, message: string): void {
    if (level <= this.level) this.#emit(level, message);
  }

  // Writes a line labelled as `level` says, whatever the logger's level.
  #emit(level: number, message: string): void {
    const text = this.clean(message);
    const line = encoder.encode(`${timestamp()} [${LABEL[level]}] ${text}\n`);
    if (this.#stdout || this.#stderr) clearProgress(); // not run into the terminal's progress line
    for (const kind of ["stdout", "stderr", "file"] as const) this.#write(kind, line);
    if (this.#syslog) {
      this.#syslog.writer.write(encoder.encode(`<${SYSLOG_PRIORITY[level]}>${text}\n`)).catch(
        () => {},
      );
    }
  }

  /**
   * Logs an error that ends the run (or, with `job`, one of its jobs: "Template 7 failed: ...")
   * and makes sure whoever reads stderr sees it: unless the log reaches stderr already
   * ({@linkcode Logger.reachesStderr}), it is printed there as `<program>: [job: ]message`.
   */
  fatal(message: string, job = ""): void {
    this.error(`${job ? `${job[0]!.toUpperCase()}${job.slice(1)} failed: ` : ""}${message}`);
    if (!this.reachesStderr) this.#toStderr(`${job ? `${job}: ` : ""}${message}`);
  }

  /** The first failure to write the log (a full disk), if any: the run's exit status is then 7. */
  get failure(): LocalIoError | undefined {
    return this.#failure;
  }

  #toStderr(message: string): void {
    try {
      writeAllSync(Deno.stderr, encoder.encode(`${this.#tag}: ${this.clean(message)}\n`));
    } catch { /* stderr is gone too */ }
  }

  // Writes a line to one destination; drops the destination when it fails.
  #write(kind: "stdout" | "stderr" | "file", line: Uint8Array): void {
    const to = kind === "stdout"
      ? this.#stdout && Deno.stdout
      : kind === "stderr"
      ? this.#stderr && Deno.stderr
      : this.#file;
    if (!to) return;
    try {
      writeAllSync(to, line);
    } catch (error) {
      if (kind === "stdout") this.#stdout = false;
      else if (kind === "stderr") this.#stderr = false;
      else {
        this.#file = undefined;
        try {
          (to as Deno.FsFile).close();
        } catch { /* closed */ }
      }
      if (error instanceof Deno.errors.BrokenPipe) return;
      const failure = new LocalIoError(
        `cannot write the log: ${fileErrorReason(error)}: ` +
          (kind === "file"
            ? "free space on its file system, or name another -logfile"
            : `free space where ${kind} goes, or log elsewhere (-logfile, -syslog)`),
        { path: kind === "file" ? this.#logfile! : kind, cause: error },
      );
      this.#failure ??= failure;
      this.#toStderr(failure.message);
    }
  }

  /**
   * Flushes and closes the destinations. Syslog gets a bounded time to take the last lines (a
   * `logger` child that hangs must not hold the run, and the next night's, forever): then the
   * child is killed and stderr says so, once.
   */
  async close(): Promise<void> {
    this.#file?.close();
    this.#file = undefined;
    if (!this.#syslog) return;
    const { writer, child } = this.#syslog;
    this.#syslog = undefined;
    const flushed = (async () => {
      await writer.close();
      await child.status;
    })().then(() => true, () => true); // syslog went away: nothing more to wait for
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#closeTimeoutMs);
    });
    try {
      if (await Promise.race([flushed, expired])) return;
    } finally {
      clearTimeout(timer);
    }
    try {
      child.kill("SIGKILL");
    } catch { /* it ended meanwhile */ }
    await child.status.catch(() => {});
    this.#toStderr(
      `syslog (the logger command) did not take the last log lines within ${
        this.#closeTimeoutMs / 1000
      } s: stopped it; the end of this run's log may be missing from syslog`,
    );
  }
}
