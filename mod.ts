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
export * from "./lib/sources/report/parse_report.ts";
export * from "./lib/encode/sanitize.ts";
export * from "./lib/encode/encoder.ts";
export * from "./lib/host_input/grammar.ts";
export * from "./lib/encode/os_map.ts";
export * from "./lib/pipeline/write_blocks.ts";
export * from "./lib/pipeline/delivery.ts";
export { deliver, type DeliverOptions } from "./lib/pipeline/deliver.ts";
export * from "./lib/sinks/sink.ts";
export * from "./lib/sinks/csv_file_sink.ts";
export * from "./lib/sinks/open_sink.ts";
export { type DcSinkOptions, openDcSink } from "./lib/sinks/dc_sink.ts";
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
} from "./lib/sources/report/download_report.ts";
export { describeQualysError } from "./lib/qualys/simple_return.ts";
export { type ClientIdentity, loadPkcs12, readPkcs12 } from "./lib/dc/pkcs12.ts";
export { loadIdentity } from "./lib/dc/identity.ts";
export { type DataAnswer, DcClient, type DcOptions } from "./lib/dc/dc_client.ts";
export { MessagePacker } from "./lib/dc/protocol.ts";
export { countedCommands, type DcResponse, parseDcResponse } from "./lib/dc/answers.ts";
export { sendMessages } from "./lib/dc/send_messages.ts";
