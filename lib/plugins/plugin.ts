/**
 * The input plugin interface, the original connector's one good idea: the agent core knows a
 * plugin only by this interface (and destinations only by `CommandSink`), so a new source of
 * commands is one new file in this folder.
 *
 * A plugin turns the command line into jobs; each job reads its input whole and hands the
 * delivery pipeline what to write (`Delivery`: findings to encode, or command text), which the
 * agent delivers into the destination's sink. `-check` asks the plugin to check what it needs,
 * without importing anything.
 *
 * @module
 */

import type { CliOptions } from "../cli/parse_argv.ts";
import type { PluginName } from "../cli/options.ts";
import type { Logger } from "../log/logger.ts";
import type { RecordingSettings } from "../monitor/run_end.ts";
import type { Delivery } from "../pipeline/delivery.ts";
import type { ApiTraffic } from "../qualys/client.ts";
import type { DcTrust } from "../sinks/destination.ts";

export type { DcTrust, Delivery, PluginName, RecordingSettings };

/** What a plugin gets from the agent. */
export interface PluginContext {
  /** The parsed command line. */
  readonly cli: CliOptions;
  /** The run's logger. Secrets a plugin reads must be registered with `addSecret`. */
  readonly log: Logger;
  /** Environment variables. */
  readonly env: Readonly<Record<string, string>>;
  /** The run's clock: the day the destination's record is kept by (tests set it). */
  readonly now: () => Date;
  /** Counts the run's Qualys requests and bytes: a plugin's clients count into it. */
  readonly traffic?: ApiTraffic | undefined;
}

/** What a plugin makes of a run once it has read its configuration. */
export interface Prepared {
  /**
   * What its configuration says of the Defense Center (the domain, the certificate
   * fingerprint): the agent chooses the destination with it, before any job runs. The command
   * line's `-pin` wins over the fingerprint.
   */
  readonly dcTrust: DcTrust;
  /** The jobs of this run, in order; resources they share are released when the iteration ends. */
  readonly jobs: AsyncIterable<Job>;
  /** What the run records at its end (README: Monitoring): its source, state directory, files. */
  readonly recording?: RecordingSettings | undefined;
}

/** Where `-status` looks, as the plugin's configuration says. */
export interface StatusPlace {
  /** The state directory. */
  readonly stateDir: string;
  /** `refresh_days`. */
  readonly refreshDays: number;
  /** The detection source's checkpoint of each destination with a sync state there. */
  readonly checkpoints: ReadonlyMap<string, string>;
}

/** What `-check` found of the plugin's part. */
export interface Checked {
  /** The plugin's steps (configuration, source). */
  readonly steps: CheckStep[];
  /** What its configuration says of the Defense Center, for the Defense Center's steps. */
  readonly dcTrust: DcTrust;
}

/** One unit of work: what it collects goes to one sink. */
export interface Job {
  /**
   * Set when the job is one of several independent ones (`-multiinfo`: "template 424242"): its
   * failure is then reported under this name and the next job still runs.
   */
  readonly name?: string;
  /** Logged before the job runs when it is named: "Template 424242: downloading its report". */
  readonly intro?: string;
  /** Which variant of the destination the job writes (`-multiinfo`: the template ID). */
  readonly variant?: string;
  /**
   * Does the work up to the writing: reads (downloads, parses, fetches) the input whole and
   * resolves to what the pipeline delivers. Nothing is written before it resolves.
   */
  collect(): Promise<Delivery>;
}

/** One step of `-check`. */
export interface CheckStep {
  /** Passed, failed, or did not apply. */
  ok: boolean | "skip";
  /** What was checked. */
  what: string;
  /** The result, or what to fix. */
  detail: string;
  /** The exit status a failure means. */
  code?: number;
  /** A failure that leaves nothing else to check. */
  fatal?: boolean;
}

/** An input plugin, chosen by the plugin word of the command line. */
export interface InputPlugin {
  /** The plugin word. */
  readonly name: PluginName;
  /**
   * Reads the plugin's configuration (what a run needs of it, with its warnings) and resolves to
   * its trust in the Defense Center and the run's jobs.
   */
  prepare(context: PluginContext): Promise<Prepared>;
  /** `-check`: the plugin's own steps (configuration, source); nothing is imported. */
  check(context: PluginContext): Promise<Checked>;
  /** `-status`: where its state is (a plugin that keeps none says so: a `UsageError`). */
  status(context: PluginContext): Promise<StatusPlace>;
}
