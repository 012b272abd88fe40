/**
 * The option table (README: Usage): one record per option, read by the parser, the usage text
 * and the agent: its name, abbreviation, kind and range, its default, the environment variable
 * that stands in for it, and whether its value is a secret. The rules between options (one
 * ignored for another, one required without another) are `rules.ts`'s.
 *
 * @module
 */

/** How an option takes its value. */
export type OptionKind = "flag" | "string" | "integer";

/** One command-line option. */
export interface OptionSpec {
  /** The full name, as in `-name`. */
  readonly name: string;
  /** The listed abbreviation, an exact alias that always wins; "" when none. */
  readonly abbrev: string;
  /** Value kind. */
  readonly kind: OptionKind;
  /** Inclusive range for integers. */
  readonly range?: readonly [number, number];
  /** Placeholder for the value in the usage text. */
  readonly arg?: string;
  /** One-line help. */
  readonly help: string;
  /** The value when the option is not given (flags: false). */
  readonly default?: number;
  /** The environment variable whose value is taken when the option is not given. */
  readonly env?: string;
  /** A secret: registered with the logger, never shown. */
  readonly secret?: boolean;
}

/** The Defense Center's host input port, when `-port` is not given. */
export const DEFAULT_PORT = 8307;
/** The log level, when `-level` is not given: 2, info. */
export const DEFAULT_LEVEL = 2;
/** The environment variable that holds the `.pkcs12` password, when `-password` is not given. */
export const PKCS12_PASSWORD_ENV = "QC_PKCS12_PASSWORD";

/** Every option the connector accepts: the original's, then the new ones. */
export const OPTIONS = [
  {
    name: "server",
    abbrev: "se",
    kind: "string",
    arg: "host",
    help: "The Defense Center's IP address or host name",
  },
  {
    name: "port",
    abbrev: "po",
    kind: "integer",
    range: [0, 65535],
    arg: "n",
    help: `The Defense Center port (default ${DEFAULT_PORT})`,
    default: DEFAULT_PORT,
  },
  {
    name: "plugininfo",
    abbrev: "pl",
    kind: "string",
    arg: "path",
    help:
      "QualysGuard: the plugin YAML (default InputPlugins/QualysGuard.yaml); csv: the command file (- = stdin)",
  },
  { name: "ipv6", abbrev: "i", kind: "flag", help: "Connect to the Defense Center over IPv6" },
  {
    name: "pkcs12",
    abbrev: "pk",
    kind: "string",
    arg: "path",
    help: "Client certificate (default: the first *.pkcs12 in the current directory)",
  },
  {
    name: "password",
    abbrev: "pa",
    kind: "string",
    arg: "string",
    help: `Password of the .pkcs12 file (default none; also env ${PKCS12_PASSWORD_ENV})`,
    env: PKCS12_PASSWORD_ENV,
    secret: true,
  },
  {
    name: "syslog",
    abbrev: "sy",
    kind: "flag",
    help: "Log to syslog (stderr when syslog cannot be reached)",
  },
  { name: "stderr", abbrev: "st", kind: "flag", help: "Log to standard error" },
  {
    name: "logfile",
    abbrev: "lo",
    kind: "string",
    arg: "path",
    help: "Append log lines to this file",
  },
  {
    name: "level",
    abbrev: "le",
    kind: "integer",
    range: [0, 3],
    arg: "0-3",
    help: "Log level: 3 debug (every vulnerability), 2 info (default), 1 warning, 0 error",
    default: DEFAULT_LEVEL,
  },
  {
    name: "csvfile",
    abbrev: "c",
    kind: "string",
    arg: "path",
    help: "Write the commands to this file instead of sending them (- = stdout)",
  },
  {
    name: "multiinfo",
    abbrev: "m",
    kind: "string",
    arg: "id,id,...",
    help: "Process several report templates one at a time; CSV files are named <id>_<name>",
  },
  {
    name: "report",
    abbrev: "r",
    kind: "string",
    arg: "path",
    help: "Read a saved Qualys XML report (- = stdin) instead of downloading one",
  },
  {
    name: "check",
    abbrev: "",
    kind: "flag",
    help:
      "Check config, certificate, Qualys login and the Defense Center connection; import nothing",
  },
  {
    name: "insecure",
    abbrev: "",
    kind: "flag",
    help: "Do not verify the Defense Center's certificate (warned on every run)",
  },
  {
    name: "pin",
    abbrev: "",
    kind: "string",
    arg: "sha256:hex",
    help: "Trust exactly this Defense Center certificate (its SHA-256 fingerprint)",
  },
  {
    name: "timeout",
    abbrev: "",
    kind: "integer",
    range: [1, 3600],
    arg: "seconds",
    help: "Longest wait for any one network step (connect, TLS, each whole answer)",
  },
  {
    name: "full",
    abbrev: "",
    kind: "flag",
    help: "Send every host this run (source: detections: a full resync, not an incremental one)",
  },
  {
    name: "dry-run",
    abbrev: "",
    kind: "flag",
    help: "Do everything up to the send and nothing after: print what a run would send",
  },
  {
    name: "status",
    abbrev: "",
    kind: "flag",
    help: "Print what the state directory knows of each destination (no network call)",
  },
  {
    name: "json",
    abbrev: "",
    kind: "string",
    arg: "path",
    help: "Write a JSON record of the run to this file when it ends (- = stdout; or json_file)",
  },
  {
    name: "metrics",
    abbrev: "",
    kind: "string",
    arg: "path",
    help: "Write the run's figures to this Prometheus text file (or metrics_file)",
  },
  { name: "help", abbrev: "", kind: "flag", help: "Print this usage and exit" },
  { name: "version", abbrev: "", kind: "flag", help: "Print the version and exit" },
] as const satisfies readonly OptionSpec[];

/** The option names. */
export type OptionName = (typeof OPTIONS)[number]["name"];

/** The input plugins, chosen by the plugin word. */
export const PLUGINS = ["QualysGuard", "csv"] as const;

/** A plugin name. */
export type PluginName = (typeof PLUGINS)[number];

/** Renders the usage text from the option table. */
export function usage(program = "qualys_connector"): string {
  const rows = OPTIONS.map((o: OptionSpec) => {
    const names = `-${o.name}${o.abbrev ? `|-${o.abbrev}` : ""}${o.arg ? ` <${o.arg}>` : ""}`;
    return `  ${names.padEnd(32)} ${o.help}`;
  });
  return [
    `Usage: ${program} [options] [plugin]`,
    `  plugin: QualysGuard (default) or csv`,
    "",
    "Options (one or two dashes; -name=value or -name value; any unique prefix works):",
    ...rows,
    "",
    "Examples:",
    `  ${program} -server=10.10.10.10 -pkcs12=CertFile.pkcs12 -plugininfo=InputPlugins/QualysGuard.yaml`,
    `  ${program} -c=Output.csv -pl=InputPlugins/QualysGuard.yaml`,
    `  ${program} -report saved_report.xml -c -`,
    "",
    "Exit status: 0 ok, 1 internal error (a bug: report it with the log at -level 3), 2 usage or",
    "config error, 3 Qualys API error, 4 report could not be parsed, 5 Defense Center unreachable",
    "or TLS/protocol failure, 6 Defense Center rejected commands, 7 local file or disk error.",
  ].join("\n");
}
