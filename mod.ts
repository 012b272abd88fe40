/**
 * qualys_connector as a library: parse Qualys reports, encode host input commands, read the
 * plugin configuration and the command line, download reports from the Qualys API, send
 * commands to a Defense Center, and run the whole agent.
 *
 * @module
 */

export * from "./lib/errors.ts";
export * from "./lib/version.ts";
export * from "./lib/cli/options.ts";
export * from "./lib/cli/parse_argv.ts";
export * from "./lib/config/ip_ranges.ts";
export * from "./lib/config/read_config.ts";
export * from "./lib/findings/finding_source.ts";
export * from "./lib/report/parse_report.ts";
export * from "./lib/encode/sanitize.ts";
export * from "./lib/encode/encode_commands.ts";
export * from "./lib/encode/command_line.ts";
export * from "./lib/encode/os_map.ts";
export * from "./lib/encode/write_commands.ts";
export * from "./lib/sink/command_sink.ts";
export * from "./lib/sink/csv_file_sink.ts";
export * from "./lib/sink/open_sink.ts";
export { type DcSinkOptions, openDcSink } from "./lib/sink/dc_sink.ts";
export * from "./lib/log/logger.ts";
export type { CheckStep, InputPlugin, Job, PluginContext } from "./lib/plugins/plugin.ts";
export { DEFAULT_PLUGININFO, qualysGuardPlugin } from "./lib/plugins/qualys_guard.ts";
export { csvPlugin, readLines } from "./lib/plugins/csv.ts";
export { run, type RunOptions, versionLine } from "./lib/agent.ts";
export { QualysClient, type QualysClientOptions } from "./lib/qualys/client.ts";
export {
  type DownloadOptions,
  downloadReport,
  type StreamParser,
} from "./lib/qualys/download_report.ts";
export { describeQualysError } from "./lib/qualys/describe_error.ts";
export { type ClientIdentity, loadPkcs12, readPkcs12 } from "./lib/dc/pkcs12.ts";
export { loadIdentity } from "./lib/dc/identity.ts";
export { type DataAnswer, DcClient, type DcOptions } from "./lib/dc/dc_client.ts";
export { MessagePacker } from "./lib/dc/protocol.ts";
export { countedCommands, type DcResponse, parseDcResponse } from "./lib/dc/answers.ts";
export { sendCommands } from "./lib/dc/send_commands.ts";
