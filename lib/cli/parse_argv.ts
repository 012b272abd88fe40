/**
 * Command-line parsing with Perl Getopt::Long's rules, as the original used them: `-name` or
 * `--name`, `-name=value` or `-name value`, names matched ignoring case, any unambiguous prefix,
 * the listed abbreviations as exact aliases that always win, options and the plugin word in any
 * order, `--` ends the options.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { nearest } from "../util/text.ts";
import { parseFingerprint } from "../config/values.ts";
import { type OptionName, OPTIONS, type OptionSpec, type PluginName, PLUGINS } from "./options.ts";

/** The parsed command line. */
export interface CliOptions {
  /** The Defense Center. */
  server?: string;
  /** The Defense Center port. */
  port: number;
  /** Plugin info: the YAML, or the csv plugin's command file. */
  plugininfo?: string;
  /** Connect over IPv6. */
  ipv6: boolean;
  /** Client certificate path. */
  pkcs12?: string;
  /** The .pkcs12 password (`-password`, else the environment's `QC_PKCS12_PASSWORD`). */
  password?: string;
  /** Log to syslog. */
  syslog: boolean;
  /** Log to stderr. */
  stderr: boolean;
  /** Log file. */
  logfile?: string;
  /** Log level 0-3. */
  level: number;
  /** CSV output path or "-". */
  csvfile?: string;
  /** Template IDs for -multiinfo. */
  multiinfo?: string[];
  /** Saved report path or "-". */
  report?: string;
  /** Check the set-up and exit. */
  check: boolean;
  /** Do not verify the DC certificate. */
  insecure: boolean;
  /** The SHA-256 (lower-case hex) of the one DC certificate to trust (`-pin`). */
  pin?: string;
  /** Longest wait for any one network step, in seconds (`-timeout`). */
  timeout?: number;
  /** Every host this run; the detection source's full resync (`-full`). */
  full: boolean;
  /** Everything up to the send, nothing after (`-dry-run`). */
  dryRun: boolean;
  /** Print what the state directory knows of each destination (`-status`). */
  status: boolean;
  /** Where the run's JSON record goes (`-json`; "-" = stdout). */
  json?: string;
  /** The Prometheus text file the run's figures go to (`-metrics`). */
  metrics?: string;
  /** Print usage. */
  help: boolean;
  /** Print the version. */
  version: boolean;
  /** The plugin word (QualysGuard by default). */
  plugin: PluginName;
  /** Which options were given, by full name. */
  given: Set<OptionName>;
}

function resolve(typed: string): OptionSpec {
  const lower = typed.toLowerCase();
  const all: readonly OptionSpec[] = OPTIONS;
  const byAbbrev = all.find((o) => o.abbrev === lower);
  if (byAbbrev) return byAbbrev;
  const byName = all.find((o) => o.name === lower);
  if (byName) return byName;
  const matches = all.filter((o) =>
    o.name.startsWith(lower) || (o.abbrev !== "" && o.abbrev.startsWith(lower))
  );
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new UsageError(
      `Option "-${typed}" is ambiguous: it could be ${
        matches.map((o) => `-${o.name}`).join(", ")
      }; type more of the name`,
    );
  }
  const near = nearest(lower, all.map((o) => o.name));
  throw new UsageError(
    `Unknown option "-${typed}"` +
      (near.distance <= 3 ? `: did you mean "-${near.name}"?` : ""),
  );
}

/** Options for {@linkcode parseArgv}. */
export interface ParseArgvOptions {
  /** Environment variables: an option not given takes its table's `env` variable. @default {{}} */
  env?: Readonly<Record<string, string>>;
}

/**
 * Parses the arguments (without the program name); an option not given takes its default, or
 * the value of its environment variable (the option table says which).
 *
 * @throws {UsageError} For an unknown or ambiguous option, a missing or bad value, or an
 * unknown plugin word.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const o = parseArgv(["-c=Output.csv", "-pl", "InputPlugins/QualysGuard.yaml"]);
 * assert.equal(o.csvfile, "Output.csv");
 * assert.equal(o.plugininfo, "InputPlugins/QualysGuard.yaml");
 * assert.equal(o.plugin, "QualysGuard");
 * ```
 */
export function parseArgv(argv: readonly string[], options: ParseArgvOptions = {}): CliOptions {
  const out = { plugin: "QualysGuard", given: new Set() } as unknown as CliOptions;
  const values = out as unknown as Record<string, unknown>;
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    if (spec.kind === "flag") values[property(spec.name)] = false;
    else if (spec.default !== undefined) values[spec.name] = spec.default;
  }
  let pluginSeen = false;
  let optionsEnded = false;
  const setPlugin = (word: string) => {
    const plugin = PLUGINS.find((p) => p.toLowerCase() === word.toLowerCase());
    if (!plugin) {
      throw new UsageError(
        `Unknown plugin "${word}": the plugin word is QualysGuard (the default) or csv`,
      );
    }
    if (pluginSeen) {
      throw new UsageError(`Only one plugin word may be given, but "${word}" is a second one`);
    }
    pluginSeen = true;
    out.plugin = plugin;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (optionsEnded || !arg.startsWith("-") || arg === "-") {
      setPlugin(arg);
      continue;
    }
    if (arg === "--") {
      optionsEnded = true;
      continue;
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const typed = eq >= 0 ? body.slice(0, eq) : body;
    if (typed === "") throw new UsageError(`"${arg}" is not an option`);
    const spec = resolve(typed);
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (spec.kind === "flag") {
      if (value !== undefined) {
        throw new UsageError(`Option "-${spec.name}" does not take a value (remove "=${value}")`);
      }
    } else if (value === undefined) {
      if (i + 1 >= argv.length) {
        throw new UsageError(`Option "-${spec.name}" needs a value: -${spec.name} <${spec.arg}>`);
      }
      value = argv[++i]!;
    }
    out.given.add(spec.name as OptionName);
    apply(out, spec, value);
  }
  const env = options.env ?? {};
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    const fromEnv = spec.env === undefined ? undefined : env[spec.env];
    if (fromEnv !== undefined && !out.given.has(spec.name as OptionName)) {
      values[spec.name] = fromEnv;
    }
  }
  return out;
}

/**
 * The secret values of the command line and of the environment variables that stand in for
 * options (the option table says which), for the logger to mask.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const cli = parseArgv(["-pa", "s3cret!", "-c", "-"]);
 * assert.deepEqual(secretsOf(cli, { QC_PKCS12_PASSWORD: "env-s3cret" }), ["s3cret!", "env-s3cret"]);
 * ```
 */
export function secretsOf(
  cli: CliOptions,
  env: Readonly<Record<string, string>>,
): (string | undefined)[] {
  const secrets: (string | undefined)[] = [];
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    if (!spec.secret) continue;
    secrets.push((cli as unknown as Record<string, string | undefined>)[spec.name]);
    if (spec.env) secrets.push(env[spec.env]);
  }
  return secrets;
}

// The CliOptions property of an option: its name, in camel case (`dry-run` → `dryRun`).
function property(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function apply(out: CliOptions, spec: OptionSpec, value: string | undefined): void {
  if (spec.kind === "flag") {
    (out as unknown as Record<string, boolean>)[property(spec.name)] = true;
    return;
  }
  const v = value!;
  if (spec.kind === "integer") {
    const [lo, hi] = spec.range!;
    if (!/^[+-]?\d{1,9}$/.test(v.trim()) || Number(v) < lo || Number(v) > hi) {
      throw new UsageError(
        `Value "${v}" is not valid for option "-${spec.name}": it must be a number from ${lo} to ${hi}`,
      );
    }
    (out as unknown as Record<string, number>)[spec.name] = Number(v);
    return;
  }
  if (spec.name === "multiinfo") {
    const ids = v.split(",");
    const bad = ids.find((id) => !/^\d{1,15}$/.test(id));
    if (bad !== undefined) {
      throw new UsageError(
        `-multiinfo takes report template IDs separated by commas, without spaces ` +
          `(for example 424242,535353), but "${bad}" is not one`,
      );
    }
    out.multiinfo = ids;
    return;
  }
  if (spec.name === "pin") {
    try {
      out.pin = parseFingerprint(v);
    } catch (error) {
      throw new UsageError(
        `Value "${v}" is not valid for option "-pin": it ${(error as Error).message}`,
      );
    }
    return;
  }
  if (spec.name === "metrics" && v === "-") {
    throw new UsageError(
      "-metrics needs a file (node_exporter's textfile collector reads files), not -: " +
        "for the run on standard output, use -json -",
    );
  }
  if (v === "" && spec.name !== "password") {
    throw new UsageError(`Option "-${spec.name}" needs a non-empty value`);
  }
  (out as unknown as Record<string, string>)[spec.name] = v;
}
