/**
 * What a run leaves for people and monitors when it ends (README: Monitoring; issue 20, items
 * 4-6), also when it fails or is stopped by a signal: the run history in the state directory
 * (what `-status` shows), the Prometheus text file (`-metrics`, `metrics_file`) and the JSON run
 * record (`-json`, `json_file`). The agent tells a {@linkcode RunRecorder} what happens as it
 * happens; `end()` writes. The history is kept as the destination's record of what it holds is
 * (`lib/ledger/`): one per destination, and with `-multiinfo` one per template's file (a Defense
 * Center keeps one for all the templates).
 *
 * What can be written depends on how far the run got: the command line's `-json` and `-metrics`
 * once it names a destination; the YAML's `json_file` and `metrics_file`, and the history, once
 * the YAML has been read. A command line that cannot be parsed, or that names no destination,
 * writes nothing (the error says what to fix). The metrics file and the JSON record describe the
 * run as cron sees it (with `-multiinfo`, every template together: the worst exit status, the
 * counts summed); the history of a template's file keeps it apart.
 *
 * @module
 */

import type { CliOptions } from "../cli/parse_argv.ts";
import { onSignalReport } from "../cleanup.ts";
import { ExitCode, exitCodeOf } from "../errors.ts";
import type { Log } from "../log/log.ts";
import type { DeliveryCounts } from "../pipeline/delivery.ts";
import { destinationKey } from "../state/destination_key.ts";
import { prepareStateDir } from "../state/state_dir.ts";
import { checkMetricsFile, writeMetricsFile } from "./metrics_file.ts";
import { recordRun } from "./run_history.ts";
import { oneLine, type RunRecord, runRecord, writeRunRecord } from "./run_record.ts";

/** What the plugin says of the run once it has read its configuration. */
export interface RecordingSettings {
  /** The source: `report`, `detections` (or `csv`, the csv plugin). */
  readonly source: string;
  /** The state directory, where the run history goes; undefined: the run keeps none. */
  readonly stateDir?: string | undefined;
  /** `json_file`, resolved (the command line's `-json` wins). */
  readonly jsonFile?: string | undefined;
  /** `metrics_file`, resolved (the command line's `-metrics` wins). */
  readonly metricsFile?: string | undefined;
  /** The checkpoint the state holds for the destination after the run (detections); null: none. */
  checkpoint?(destination: string): Promise<string | null>;
}

/** Options of {@linkcode RunRecorder}. */
export interface RunRecorderOptions {
  /**
   * The destination as the command line names it (`destinationKey`): a Defense Center's with
   * its domain once the YAML is read; undefined: nothing is recorded (no destination given, or
   * not a run: `-check`, `-status`, `-dry-run`).
   */
  destination: string | undefined;
  /** The source as far as the command line tells it (`csv`, `report` with `-report`). */
  source?: string | undefined;
  /** `-json`. */
  jsonFile?: string | undefined;
  /** `-metrics`. */
  metricsFile?: string | undefined;
  /**
   * With `-multiinfo`, each template's job keeps its own history (a file per template, as each
   * keeps its own record of what it holds); false: the run keeps one (a Defense Center, which
   * holds one record for all). @default {true}
   */
  historyPerJob?: boolean | undefined;
  /** The command line, for the destination's domain (once the YAML names it). */
  cli?: Pick<CliOptions, "csvfile" | "server" | "port"> | undefined;
  /** The clock. @default {() => new Date()} */
  now?: () => Date;
  /** Where `-json -` writes. @default {Deno.stdout} */
  stdout?: { write(p: Uint8Array): Promise<number> };
  /**
   * Masks the secrets the log masks, in the error lines written (a safety net: messages keep
   * secrets out where they are made). @default {(text) => text}
   */
  redact?: ((text: string) => string) | undefined;
}

/** What a signal's report needs of the run's logger. */
export interface SignalLog {
  /** Logs the line that ends the run. */
  fatal(message: string): void;
  /** Closes the log (the last lines reach syslog). */
  close(): Promise<void>;
}

/**
 * The recorder of a run with this command line: its destination as the command line names it,
 * its `-json` and `-metrics`, and its source as far as the command line tells it. `-check`,
 * `-status` and `-dry-run` are not runs of the destination: they record nothing, and neither
 * does a command line without a destination.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgv } from "../cli/parse_argv.ts";
 * import { NO_LOG } from "../log/log.ts";
 * const recorder = recorderFor(parseArgv(["-c", "-", "-dry-run", "-json", "-"]));
 * assert.equal(await recorder.end(0, NO_LOG), 0); // writes nothing
 * ```
 */
export function recorderFor(
  cli: CliOptions,
  log?: { redact(text: string): string },
): RunRecorder {
  const notARun = cli.check || cli.status || cli.dryRun ||
    (cli.csvfile === undefined && cli.server === undefined);
  return new RunRecorder({
    destination: notARun ? undefined : destinationKey(cli, {}),
    source: cli.plugin === "csv" ? "csv" : cli.report !== undefined ? "report" : undefined,
    // -json - with -c - is refused (rules.ts): the record would be mixed into the commands
    jsonFile: cli.json === "-" && (cli.csvfile === "-" || cli.csvfile === "/dev/stdout")
      ? undefined
      : cli.json,
    metricsFile: cli.metrics,
    historyPerJob: cli.csvfile !== undefined,
    cli,
    redact: log && ((text) => log.redact(text)),
  });
}

/** One template's run (`-multiinfo`), for its history. */
interface JobRun {
  variant: string;
  started: Date;
  finished?: Date;
  exitCode: number;
  error?: unknown;
}

const ZERO: DeliveryCounts = {
  hostsSent: 0,
  resultsSent: 0,
  hostsCleared: 0,
  hostsUnchanged: 0,
  hostsRefreshed: 0,
  linesSent: 0,
  bytesSent: 0,
};

/**
 * Follows a run and writes its records when it ends.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { NO_LOG } from "../log/log.ts";
 * const dir = await Deno.makeTempDir();
 * const recorder = new RunRecorder({ destination: "dc 10.0.0.1:8307", jsonFile: `${dir}/run.json` });
 * await recorder.configure({ source: "report", stateDir: `${dir}/state` }, { log: NO_LOG });
 * recorder.traffic.calls += 3; // what its Qualys clients count
 * recorder.counted({ hostsSent: 2, resultsSent: 9, hostsCleared: 1, hostsUnchanged: 0,
 *   hostsRefreshed: 0, linesSent: 15, bytesSent: 1200 });
 * assert.equal(await recorder.end(0, NO_LOG), 0);
 * const record = JSON.parse(await Deno.readTextFile(`${dir}/run.json`));
 * assert.equal(record.results_sent, 9);
 * assert.equal(record.api_calls, 3);
 * assert.equal(record.error, null);
 * assert.match([...Deno.readDirSync(`${dir}/state`)][0]!.name, /^run-[0-9a-f]{16}\.json$/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RunRecorder {
  /** Counts the run's Qualys requests and bytes: its clients count into it. */
  readonly traffic = { calls: 0, bytes: 0 };
  readonly #options: RunRecorderOptions;
  #destination: string | undefined;
  readonly #now: () => Date;
  readonly #started: Date;
  #settings: RecordingSettings | undefined;
  #counts: DeliveryCounts = ZERO;
  #error: unknown;
  #jobs: JobRun[] = [];
  #ending: Promise<number> | undefined;
  #metricsRefused = false;

  /** Starts following a run (now). */
  constructor(options: RunRecorderOptions) {
    this.#options = options;
    this.#destination = options.destination;
    this.#now = options.now ?? (() => new Date());
    this.#started = this.#now();
  }

  get #jsonFile(): string | undefined {
    return this.#options.jsonFile ?? this.#settings?.jsonFile;
  }

  get #metricsFile(): string | undefined {
    if (this.#metricsRefused) return undefined;
    return this.#options.metricsFile ?? this.#settings?.metricsFile;
  }

  /**
   * The plugin has read its configuration: the source, the state directory, the YAML's files,
   * the Defense Center's domain (part of its name). Checks, before any long work, that the
   * metrics file is one the connector may write.
   *
   * @throws {LocalIoError} When the metrics file holds something else or cannot be read (exit 7:
   * the run stops before it starts; the other records are still written).
   */
  async configure(
    settings: RecordingSettings,
    options: { domain?: string | undefined; log: Pick<Log, "warn"> },
  ): Promise<void> {
    if (this.#destination === undefined) return;
    this.#settings = settings;
    const cli = this.#options.cli;
    if (cli && options.domain) this.#destination = destinationKey(cli, { domain: options.domain });
    const metrics = this.#metricsFile;
    if (metrics === undefined) return;
    const log = options.log;
    if (!metrics.endsWith(".prom")) {
      log.warn(
        `The metrics file ${metrics} does not end in .prom: node_exporter's textfile collector ` +
          "reads only *.prom files",
      );
    }
    try {
      await checkMetricsFile(metrics);
    } catch (error) {
      this.#metricsRefused = true; // said once, by the run's failure
      throw error;
    }
  }

  /** A template's job starts (`-multiinfo`): its history is kept apart. */
  jobStarted(variant: string): void {
    this.#closeJob();
    this.#jobs.push({ variant, started: this.#now(), exitCode: ExitCode.Ok });
  }

  /** A delivery's destination took what was counted; counts of several are summed. */
  counted(counts: DeliveryCounts): void {
    const sum = { ...this.#counts };
    for (const key of Object.keys(sum) as (keyof DeliveryCounts)[]) sum[key] += counts[key];
    this.#counts = sum;
  }

  /**
   * The run, or the current template's job when `inJob`, failed with `error`: the first error is
   * the run's (with `prefix`, the job's name, before it).
   */
  failed(error: unknown, options: { prefix?: string; inJob?: boolean } = {}): void {
    const { prefix = "" } = options;
    if (this.#error === undefined) {
      this.#error = prefix ? `${prefix}: ${oneLine(error)}` : error;
    }
    const job = this.#jobs.at(-1);
    if (options.inJob && job && job.finished === undefined) {
      job.exitCode = exitCodeOf(error);
      job.error = error;
    }
  }

  #closeJob(): void {
    const job = this.#jobs.at(-1);
    if (job && job.finished === undefined) job.finished = this.#now();
  }

  /**
   * The run ended with `exitCode` (a signal's status, with its `error`): writes the history, the
   * metrics file and the JSON record, each that is known. A record that cannot be written is
   * logged; the run then exits 7 if it would have exited 0. Resolves to the exit status. Called
   * twice (a signal during the end), the second call waits for the first.
   */
  end(exitCode: number, log: Pick<Log, "error" | "debug">, error?: unknown): Promise<number> {
    this.#ending ??= this.#write(exitCode, log, error);
    return this.#ending;
  }

  async #write(exitCode: number, log: Pick<Log, "error" | "debug">, error: unknown) {
    if (error !== undefined) {
      this.#error = error; // a signal's: the job under way ends with it
      const job = this.#jobs.at(-1);
      if (job && job.finished === undefined) Object.assign(job, { exitCode, error });
    }
    this.#closeJob();
    const destination = this.#destination;
    if (destination === undefined) return exitCode;
    const finished = this.#now();
    const settings = this.#settings;
    let status = exitCode;
    const attempt = async (what: string, write: () => Promise<void>) => {
      try {
        await write();
        log.debug(`Wrote ${what}`);
      } catch (problem) {
        log.error(`${(problem as Error).message}`);
        if (status === ExitCode.Ok) status = exitCodeOf(problem);
      }
    };
    const record = await this.#record(destination, finished, exitCode);
    if (settings?.stateDir !== undefined) {
      const dir = settings.stateDir;
      await attempt(`the run history in ${dir}`, () => this.#history(dir, record));
    }
    const metrics = this.#metricsFile;
    if (metrics !== undefined) {
      await attempt(
        `the metrics file ${metrics}`,
        () => writeMetricsFile(metrics, record, { destination }),
      );
    }
    const json = this.#jsonFile;
    if (json !== undefined) {
      await attempt(
        `the run record ${json}`,
        () => writeRunRecord(json, record, { stdout: this.#options.stdout }),
      );
    }
    return status;
  }

  async #record(destination: string, finished: Date, exitCode: number): Promise<RunRecord> {
    const c = this.#counts, traffic = this.traffic;
    let checkpoint: string | null = null;
    try {
      checkpoint = (await this.#settings?.checkpoint?.(destination)) || null;
    } catch { /* unreadable: none to show */ }
    return runRecord({
      destination,
      source: this.#settings?.source ?? this.#options.source ?? "unknown",
      started: this.#started,
      finished,
      exitCode,
      error: this.#errorLine(this.#error),
      counts: {
        hosts_sent: c.hostsSent,
        results_sent: c.resultsSent,
        hosts_cleared: c.hostsCleared,
        hosts_unchanged: c.hostsUnchanged,
        hosts_refreshed: c.hostsRefreshed,
        lines_sent: c.linesSent,
        bytes_sent: c.bytesSent,
        api_calls: traffic.calls,
        bytes_downloaded: traffic.bytes,
      },
      checkpoint,
    });
  }

  #errorLine(error: unknown): string {
    return (this.#options.redact ?? ((t) => t))(oneLine(error));
  }

  /**
   * Reports a signal that stops the run: logs it (`log.fatal`), writes the records with its
   * exit status, closes the log. Returns a function that stops reporting.
   */
  reportSignals(log: Pick<Log, "error" | "debug"> & SignalLog): () => void {
    return onSignalReport(async (signal, code, notes) => {
      const line = `Stopped by ${signal} (exit ${code})${notes.map((n) => ` ${n}`).join(";")}`;
      log.fatal(line);
      await this.end(code, log, line);
      await log.close();
    });
  }

  // The history of the run, or of each template's job.
  async #history(dir: string, record: RunRecord): Promise<void> {
    await prepareStateDir(dir);
    if (this.#jobs.length === 0 || this.#options.historyPerJob === false) {
      await recordRun(dir, record);
      return;
    }
    for (const job of this.#jobs) {
      const own = runRecord({
        destination: record.destination,
        source: record.source,
        started: job.started,
        finished: job.finished!,
        exitCode: job.exitCode,
        error: this.#errorLine(job.error),
      });
      await recordRun(dir, own, { variant: job.variant });
    }
  }
}
