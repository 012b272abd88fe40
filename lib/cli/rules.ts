/**
 * The rules between options (README: Usage), in one table: an option the command line makes
 * pointless (warned), options that cannot go together or one that is required (refused, exit 2).
 * Each rule says when it is checked: at the start of a run (`start`, once the log is open), when
 * a Defense Center is the destination (`dc`, once its certificate is loaded), or by the plugin
 * it belongs to (`QualysGuard`, when it reads its configuration); the messages are the same as
 * they always were.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { CliOptions } from "./parse_argv.ts";

/** When a rule is checked. */
export type RulePhase = "start" | "dc" | "QualysGuard";

/** One rule between options. */
export interface OptionRule {
  /** When it is checked. */
  readonly phase: RulePhase;
  /** Whether the command line breaks it. */
  readonly when: (cli: CliOptions) => boolean;
  /** A warning (the run goes on), or an error (exit 2). */
  readonly effect: "warn" | "error";
  /** What the user is told. */
  readonly message: string;
}

/** The rules, in the order they are checked. */
export const OPTION_RULES: readonly OptionRule[] = [
  {
    phase: "start",
    when: (cli) => cli.csvfile !== undefined && cli.server !== undefined,
    effect: "warn",
    message: "Both -csvfile and -server are given: -server is ignored, commands go to the CSV",
  },
  {
    phase: "start",
    when: (cli) =>
      !cli.check && !cli.status && cli.csvfile === undefined && cli.server === undefined,
    effect: "error",
    message: "Say where the commands go: -server <Defense Center> or -csvfile <file> (- = stdout)",
  },
  {
    phase: "start",
    when: (cli) => cli.json === "-" && (cli.csvfile === "-" || cli.csvfile === "/dev/stdout"),
    effect: "error",
    message: "-json - and -csvfile - both write to standard output: name a file for one of them",
  },
  {
    phase: "start",
    when: (cli) => (cli.check || cli.status) && (cli.json ?? cli.metrics) !== undefined,
    effect: "warn",
    message: "-json and -metrics record a run: with -check or -status nothing is recorded",
  },
  {
    phase: "start",
    when: (cli) => cli.dryRun && (cli.json ?? cli.metrics) !== undefined,
    effect: "warn",
    message: "-dry-run is not a run of the destination: -json and -metrics are not written",
  },
  {
    phase: "start",
    when: (cli) => cli.full && cli.csvfile !== undefined,
    effect: "warn",
    message: "-full changes nothing with -csvfile: a file gets every host every run " +
      "(-full is for a Defense Center, which otherwise gets only what changed)",
  },
  {
    phase: "dc",
    when: (cli) => cli.insecure && cli.pin !== undefined,
    effect: "warn",
    message: "-insecure is ignored: -pin trusts exactly the Defense Center certificate it names",
  },
  {
    phase: "dc",
    when: (cli) => cli.insecure && cli.pin === undefined,
    effect: "warn",
    message:
      "-insecure: the Defense Center's certificate is NOT verified; anyone on the path can pose as it",
  },
  {
    phase: "QualysGuard",
    when: (cli) => cli.multiinfo !== undefined && cli.report !== undefined,
    effect: "error",
    message: "-multiinfo downloads one report per template: it cannot be used with -report",
  },
];

/**
 * Checks the rules of `options.phase`: warns (through `options.warn`) for each warning rule the
 * command line breaks, then throws the first error rule it breaks.
 *
 * @throws {UsageError} When the command line breaks an error rule (exit 2).
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgv } from "./parse_argv.ts";
 * const warnings: string[] = [];
 * const warn = (m: string) => void warnings.push(m);
 * checkOptionRules(parseArgv(["-c", "-", "-se", "10.0.0.1"]), { phase: "start", warn });
 * assert.match(warnings[0]!, /-server is ignored/);
 * assert.throws(() => checkOptionRules(parseArgv(["-le", "3"]), { phase: "start", warn }),
 *   /Say where/);
 * ```
 */
export function checkOptionRules(
  cli: CliOptions,
  options: { phase: RulePhase; warn: (message: string) => void },
): void {
  const broken = OPTION_RULES.filter((r) => r.phase === options.phase && r.when(cli));
  for (const rule of broken) if (rule.effect === "warn") options.warn(rule.message);
  const error = broken.find((r) => r.effect === "error");
  if (error) throw new UsageError(error.message);
}
