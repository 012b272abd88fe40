/**
 * qualys_connector as a library: parse Qualys reports, encode host input commands, read the
 * plugin configuration and the command line, and run the whole agent.
 *
 * @module
 */

export * from "./lib/errors.ts";
export * from "./lib/version.ts";
export * from "./lib/cli/options.ts";
export * from "./lib/cli/parse_argv.ts";
export * from "./lib/config/ip_ranges.ts";
export * from "./lib/config/read_config.ts";
export * from "./lib/report/parse_report.ts";
export * from "./lib/encode/sanitize.ts";
export * from "./lib/encode/encode_commands.ts";
export * from "./lib/sink/csv_file_sink.ts";
export * from "./lib/log/logger.ts";
export { DEFAULT_PLUGININFO, run, versionLine, writeCommands } from "./lib/agent.ts";
