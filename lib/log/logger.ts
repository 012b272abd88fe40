/**
 * Logging as the original did it (SPEC §2): stdout by default, `-stderr`, `-logfile` (append),
 * `-syslog` (through the system `logger` command; when syslog cannot be reached, stderr, with
 * one warning). Levels 0 error, 1 warning, 2 info, 3 debug. Registered secrets are masked in
 * every line, whatever the level.
 *
 * @module
 */

import { isWrongPath, LocalIoError } from "../errors.ts";
import { writeAllSync } from "../util/bytes.ts";

/** Log levels. */
export const Level = { Error: 0, Warning: 1, Info: 2, Debug: 3 } as const;

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
}

const encoder = new TextEncoder();

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Writes log lines to the chosen destinations, below a level, with secrets masked. */
export class Logger {
  readonly level: number;
  #stdout: boolean;
  #stderr: boolean;
  #file: Deno.FsFile | undefined;
  #syslog:
    | { writer: WritableStreamDefaultWriter<Uint8Array>; child: Deno.ChildProcess }
    | undefined;
  #secrets: string[] = [];
  #tag: string;

  /**
   * Opens the destinations. With none chosen, logs go to stdout.
   *
   * @throws {LocalIoError} When the log file cannot be opened.
   */
  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? Level.Info;
    this.#tag = options.tag ?? "qualys_connector";
    this.#stdout = options.stdout ?? false;
    this.#stderr = options.stderr ?? false;
    if (options.logfile !== undefined) {
      try {
        this.#file = Deno.openSync(options.logfile, {
          append: true,
          create: true,
          mode: 0o600,
        });
      } catch (error) {
        throw new LocalIoError(
          `cannot open the log file: ${(error as Error).message}: check the path and permissions`,
          { path: options.logfile, cause: error, usage: isWrongPath(error) },
        );
      }
    }
    if (options.syslog) this.#openSyslog(options.syslogSocket ?? "/dev/log");
    if (!this.#stdout && !this.#stderr && !this.#file && !this.#syslog) this.#stdout = true;
  }

  /** True when log lines reach stdout or stderr (so errors need not be printed again). */
  get onTerminalStream(): boolean {
    return this.#stdout || this.#stderr;
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

  /** Masks `secret` (when not empty) in every later line. */
  addSecret(secret: string | undefined): void {
    if (secret && secret.length > 0 && !this.#secrets.includes(secret)) {
      this.#secrets.push(secret);
      this.#secrets.sort((a, b) => b.length - a.length);
    }
  }

  /** Replaces every registered secret in `text` with `****`. */
  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) out = out.split(s).join("****");
    return out;
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

  /** True when a message at `level` would be written. */
  enabled(level: number): boolean {
    return level <= this.level;
  }

  /** Writes one line at `level` to every destination. */
  log(level: number, message: string): void {
    if (level > this.level) return;
    const text = this.redact(message).replace(/[\r\n]+/g, " ");
    const line = encoder.encode(`${timestamp()} [${LABEL[level]}] ${text}\n`);
    if (this.#stdout) writeAllSync(Deno.stdout, line);
    if (this.#stderr) writeAllSync(Deno.stderr, line);
    if (this.#file) writeAllSync(this.#file, line);
    if (this.#syslog) {
      this.#syslog.writer.write(encoder.encode(`<${SYSLOG_PRIORITY[level]}>${text}\n`)).catch(
        () => {},
      );
    }
  }

  /** Flushes and closes the destinations. */
  async close(): Promise<void> {
    this.#file?.close();
    this.#file = undefined;
    if (this.#syslog) {
      const { writer, child } = this.#syslog;
      this.#syslog = undefined;
      try {
        await writer.close();
        await child.status;
      } catch { /* syslog went away */ }
    }
  }
}
