/**
 * The input plugin interface, the original connector's one good idea: the agent core knows a
 * plugin only by this interface (and destinations only by `CommandSink`), so a new source of
 * commands is one new file in this folder.
 *
 * A plugin turns the command line into jobs; each job produces host input commands and writes
 * them into the sink it opens when its commands are ready. `-check` asks the plugin to check
 * what it needs, without importing anything.
 *
 * @module
 */

import type { CliOptions } from "../cli/parse_argv.ts";
import type { PluginName } from "../cli/options.ts";
import type { Logger } from "../log/logger.ts";
import type { CommandSink } from "../sinks/sink.ts";
import type { DcSettings } from "../sinks/destination.ts";

export type { CommandSink, DcSettings, PluginName };

/** What a plugin gets from the agent. */
export interface PluginContext {
  /** The parsed command line. */
  readonly cli: CliOptions;
  /** The run's logger. Secrets a plugin reads must be registered with `addSecret`. */
  readonly log: Logger;
  /** Environment variables. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * A plugin whose configuration holds Defense Center settings (the domain, the certificate
   * fingerprint) hands them over here as soon as it has read it: before it opens a sink, and
   * before `check` returns. The command line's `-pin` wins over the fingerprint.
   */
  readonly useDcSettings?: ((settings: DcSettings) => void) | undefined;
}

/** One unit of work: its commands go to one sink. */
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
  /** Does the work; calls `openSink` once its commands are ready to be written. */
  run(openSink: () => Promise<CommandSink>): Promise<void>;
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
  /** The jobs of this run, in order; resources they share are released when the iteration ends. */
  jobs(context: PluginContext): AsyncIterable<Job>;
  /** `-check`: the plugin's own steps (configuration, source); nothing is imported. */
  check(context: PluginContext): Promise<CheckStep[]>;
}
