/**
 * The agent core: command line → config → source → parser → encoder → sink, with logging and
 * exit codes. Input plugins are chosen by the plugin word (`QualysGuard`, `csv`).
 *
 * @module
 */

import { type CliOptions, parseArgv } from "./cli/parse_argv.ts";
import { usage } from "./cli/options.ts";
import { defaultConfig, type QualysConfig, readConfig } from "./config/read_config.ts";
import { ByteBuffer, CommandEncoder } from "./encode/encode_commands.ts";
import { ConfigError, ExitCode, exitCodeOf, UsageError } from "./errors.ts";
import { Level, Logger } from "./log/logger.ts";
import { type ParsedReport, parseReport } from "./report/parse_report.ts";
import { ProgressLine, withProgress } from "./log/progress.ts";
import { checkQualys } from "./qualys/check.ts";
import { checkCommandLine } from "./dc/commands.ts";
import type { ClientIdentity } from "./dc/pkcs12.ts";
import { readLines } from "./dc/send_commands.ts";
import { openSpoolFile } from "./sink/spool_file_sink.ts";
import { clientOptionsFromConfig, QualysClient } from "./qualys/client.ts";
import { downloadReport } from "./qualys/download_report.ts";
import { openCsvFileSink, stdoutSink } from "./sink/csv_file_sink.ts";
import type { CommandSink } from "./sink/command_sink.ts";
import { VERSION } from "./version.ts";

/** The default plugin configuration path. */
export const DEFAULT_PLUGININFO = "InputPlugins/QualysGuard.yaml";

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** How the program was invoked (`process_multiple` behaves as `-multiinfo`). @default {"qualys_connector"} */
  programName?: string;
  /** Environment variables. @default {{}} */
  env?: Record<string, string>;
}

const encoder = new TextEncoder();

function print(stream: "stdout" | "stderr", text: string): void {
  const bytes = encoder.encode(text.endsWith("\n") ? text : `${text}\n`);
  const w = stream === "stdout" ? Deno.stdout : Deno.stderr;
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
}

/** The version line, as the original printed it. */
export function versionLine(program = "qualys_connector"): string {
  return `${program} Ver. ${VERSION}`;
}

/**
 * Runs the connector with `argv` and resolves to the exit status. Never exits the process.
 */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const program = options.programName ?? "qualys_connector";
  const env = options.env ?? {};
  if (argv.length === 0 && !program.startsWith("process_multiple")) {
    print("stdout", `${versionLine(program)}\n${usage(program)}`);
    return ExitCode.Ok;
  }
  let cli: CliOptions;
  try {
    cli = parseArgv(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    print("stderr", `${program}: ${error.message}\n\n${usage(program)}`);
    return error.exitCode;
  }
  if (cli.help) {
    print("stdout", usage(program));
    return ExitCode.Ok;
  }
  if (cli.version) {
    print("stdout", versionLine(program));
    return ExitCode.Ok;
  }
  if (program.startsWith("process_multiple") && !cli.multiinfo) {
    print(
      "stderr",
      `${program}: -multiinfo <template_id1,template_id2,...> is required when invoked as ${program}`,
    );
    return ExitCode.Usage;
  }

  const csvToStdout = cli.csvfile === "-";
  let logger: Logger;
  try {
    logger = new Logger({
      level: cli.level,
      stdout: false,
      stderr: cli.stderr || (csvToStdout && !cli.logfile && !cli.syslog),
      logfile: cli.logfile,
      syslog: cli.syslog,
      tag: program,
    });
  } catch (error) {
    print("stderr", `${program}: ${(error as Error).message}`);
    return exitCodeOf(error);
  }
  logger.addSecret(cli.password);
  logger.addSecret(env.QC_PKCS12_PASSWORD);
  try {
    return await runWithLogger(cli, logger, program, env);
  } catch (error) {
    const message = logger.redact((error as Error)?.message ?? String(error));
    logger.error(message);
    if (!logger.onTerminalStream) print("stderr", `${program}: ${message}`);
    const code = exitCodeOf(error);
    if (code === 1) logger.debug(logger.redact(String((error as Error)?.stack ?? "")));
    return code;
  } finally {
    await logger.close();
  }
}

/** Where the commands go: a CSV file (or stdout), or a Defense Center. */
type Destination = { csvfile: string } | { dc: DcTarget };

interface DcTarget {
  host: string;
  port: number;
  ipv6: boolean;
  insecure: boolean;
  identity: ClientIdentity;
}

async function runWithLogger(
  cli: CliOptions,
  logger: Logger,
  program: string,
  env: Record<string, string>,
): Promise<number> {
  if (cli.csvfile !== undefined && cli.server !== undefined) {
    logger.warn("Both -csvfile and -server are given: -server is ignored, commands go to the CSV");
  }
  if (cli.check) return await runCheck(cli, logger, env);
  if (cli.csvfile === undefined && cli.server === undefined) {
    throw new UsageError(
      "Say where the commands go: -server <Defense Center> or -csvfile <file> (- = stdout)",
    );
  }
  const dc = cli.csvfile === undefined ? await dcTarget(cli, logger, env) : undefined;
  const destination = (csvfile: string | undefined): Destination =>
    dc ? { dc } : { csvfile: csvfile! };
  if (cli.plugin === "csv") {
    await runCsvPlugin(cli, destination(cli.csvfile), logger);
    return ExitCode.Ok;
  }
  if (cli.multiinfo && cli.report !== undefined) {
    throw new UsageError(
      "-multiinfo downloads one report per template: it cannot be used with -report",
    );
  }
  const config = await loadConfig(cli, logger);
  if (cli.report !== undefined) {
    const report = await readReport(cli.report, config, logger);
    await convert(report, config, destination(cli.csvfile), logger);
    return ExitCode.Ok;
  }
  const client = openClient(config, await readCaFile(config), logger);
  try {
    if (!cli.multiinfo) {
      const report = await download(client, config.templateId!, config, logger);
      await convert(report, config, destination(cli.csvfile), logger);
      return ExitCode.Ok;
    }
    // -multiinfo (process_multiple): every template is attempted; the worst status wins.
    let worst: number = ExitCode.Ok;
    for (const id of cli.multiinfo) {
      const csv = cli.csvfile === undefined ? undefined : csvPathFor(cli.csvfile, id);
      try {
        logger.info(
          `Template ${id}: downloading its report; commands go to ${
            dc ? `the Defense Center ${dc.host}` : csv === "-" ? "stdout" : csv
          }`,
        );
        await convert(await download(client, id, config, logger), config, destination(csv), logger);
      } catch (error) {
        const code = exitCodeOf(error);
        const message = logger.redact((error as Error)?.message ?? String(error));
        logger.error(`Template ${id} failed: ${message}`);
        if (!logger.onTerminalStream) print("stderr", `${program}: template ${id}: ${message}`);
        worst = Math.max(worst, code);
      }
    }
    return worst;
  } finally {
    await client.close();
  }
}

async function loadIdentity(
  cli: CliOptions,
  logger: Logger,
  env: Record<string, string>,
): Promise<{ identity: ClientIdentity; path: string }> {
  // node-forge and node:tls are loaded only when a Defense Center is involved.
  const { findDefaultPkcs12, readPkcs12 } = await import("./dc/pkcs12.ts");
  let path = cli.pkcs12;
  if (path === undefined) {
    const found = findDefaultPkcs12(".");
    path = found.path;
    if (found.others.length > 0) {
      logger.warn(
        `Several .pkcs12 files here: using ${path}, not ${found.others.join(", ")}; ` +
          "name the right one with -pkcs12",
      );
    }
  }
  const password = cli.password ?? env.QC_PKCS12_PASSWORD;
  const identity = await readPkcs12(path, { password });
  const days = Math.floor((identity.notAfter.getTime() - Date.now()) / 86400_000);
  if (days < 30) {
    logger.warn(
      `The client certificate in ${path} expires in ${days} days: download a new one soon`,
    );
  }
  return { identity, path };
}

async function dcTarget(
  cli: CliOptions,
  logger: Logger,
  env: Record<string, string>,
): Promise<DcTarget> {
  const { identity, path } = await loadIdentity(cli, logger, env);
  logger.info(
    `Client certificate ${path}: ${identity.subject}, valid until ${identity.notAfter.toISOString()}` +
      (identity.caPems.length
        ? ""
        : "; it holds no CA, so the Defense Center is checked against the system roots"),
  );
  if (cli.insecure) {
    logger.warn(
      "-insecure: the Defense Center's certificate is NOT verified; anyone on the path can pose as it",
    );
  }
  return { host: cli.server!, port: cli.port, ipv6: cli.ipv6, insecure: cli.insecure, identity };
}

async function runCsvPlugin(
  cli: CliOptions,
  destination: Destination,
  logger: Logger,
): Promise<void> {
  const input = cli.plugininfo;
  if (input === undefined) {
    throw new UsageError("The csv plugin sends the command file named by -plugininfo (- = stdin)");
  }
  let reader: Deno.FsFile | typeof Deno.stdin;
  try {
    reader = input === "-" ? Deno.stdin : await Deno.open(input);
  } catch (error) {
    throw new UsageError(`Cannot open the command file ${input}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const spool = await openSpoolFile();
  try {
    const problems: string[] = [];
    let n = 0, lines = 0;
    const out: string[] = [];
    const encoder = new TextEncoder();
    for await (const line of readLines(reader)) {
      n++;
      const problem = checkCommandLine(line);
      if (problem) {
        if (problems.length < 20) {
          problems.push(`${input === "-" ? "stdin" : input}:${n}: ${problem}`);
        } else if (problems.length === 20) problems.push("(more problems are not shown)");
        continue;
      }
      if (/^\s*(#|$)/.test(line)) continue;
      lines++;
      out.push(`${line}\n`);
      if (out.length >= 4096) await spool.write(encoder.encode(out.splice(0).join("")));
    }
    await spool.write(encoder.encode(out.join("")));
    await spool.close();
    if (problems.length > 0) {
      throw new ConfigError(
        `${
          problems.length > 20 ? "20+" : problems.length
        } line(s) are not host input commands; nothing was sent:\n  ${problems.join("\n  ")}`,
        input === "-" ? "stdin" : input,
      );
    }
    logger.info(`Checked ${n} lines of ${input === "-" ? "stdin" : input}: ${lines} commands`);
    if ("csvfile" in destination) {
      const sink = destination.csvfile === "-"
        ? stdoutSink()
        : await openCsvFileSink(destination.csvfile);
      const file = await spool.open();
      try {
        const buf = new Uint8Array(1 << 20);
        for (let r = await file.read(buf); r !== null; r = await file.read(buf)) {
          await sink.write(buf.subarray(0, r));
        }
        await sink.close();
      } catch (error) {
        await sink.abort();
        throw error;
      } finally {
        file.close();
      }
      return;
    }
    await sendSpool(spool.path, destination.dc, logger);
  } finally {
    if (reader !== Deno.stdin) (reader as Deno.FsFile).close();
    await spool.remove();
  }
}

async function sendSpool(path: string, dc: DcTarget, logger: Logger): Promise<void> {
  const { DcClient } = await import("./dc/dc_client.ts");
  const { sendCommands } = await import("./dc/send_commands.ts");
  const started = performance.now();
  const line = new ProgressLine();
  const client = await DcClient.connect({
    host: dc.host,
    port: dc.port,
    ipv6: dc.ipv6,
    insecure: dc.insecure,
    identity: dc.identity,
    log: logger,
  });
  logger.info(`Connected to the Defense Center ${dc.host}:${dc.port} (MAX_SIZE ${client.maxSize})`);
  const file = await Deno.open(path);
  try {
    await sendCommands(client, file, {
      log: logger,
      onProgress: (t) => {
        const seconds = Math.max((performance.now() - started) / 1000, 0.001);
        line.update(
          `Sending: ${t.messages} messages, ${t.lines} lines, ${
            Math.round(t.lines / seconds)
          } lines/s`,
        );
      },
    });
  } finally {
    line.done();
    file.close();
    client.close();
    const t = client.totals;
    logger.info(
      `Sent ${t.lines} lines in ${t.messages} messages to ${dc.host}:${dc.port}; the Defense Center ` +
        `processed ${t.processed} commands, rejected ${t.failures}; ${t.reconnects} reconnects; ` +
        `${((performance.now() - started) / 1000).toFixed(2)} s`,
    );
  }
}

/** `-multiinfo` names each template's CSV `<id>_<name>` in the named file's directory. */
export function csvPathFor(csvfile: string, templateId: string): string {
  if (csvfile === "-") return "-";
  const slash = csvfile.lastIndexOf("/");
  return `${csvfile.slice(0, slash + 1)}${templateId}_${csvfile.slice(slash + 1)}`;
}

async function loadConfig(cli: CliOptions, logger: Logger): Promise<QualysConfig> {
  const warn = (m: string) => logger.warn(m);
  const offline = cli.report !== undefined;
  const requirements = {
    credentials: !offline,
    templateId: !offline && !cli.multiinfo,
    onWarning: warn,
  };
  const config: QualysConfig = cli.plugininfo !== undefined
    ? await readConfig(cli.plugininfo, requirements)
    : await readConfig(DEFAULT_PLUGININFO, { ...requirements, missingIsDefault: offline });
  logger.addSecret(config.password);
  logger.addSecret(config.proxyPassword);
  if (config.file === defaultConfig().file) {
    logger.debug(`No ${DEFAULT_PLUGININFO}: using the default settings`);
  } else logger.info(`Read the plugin configuration from ${config.file}`);
  return config;
}

async function readCaFile(config: QualysConfig): Promise<string | undefined> {
  if (!config.caFile) return undefined;
  try {
    const pem = await Deno.readTextFile(config.caFile);
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new ConfigError(
        `ca_file ${config.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
        config.file,
      );
    }
    return pem;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(
      `cannot read ca_file ${config.caFile}: ${(error as Error).message}`,
      config.file,
      0,
      0,
      { cause: error },
    );
  }
}

function openClient(
  config: QualysConfig,
  caPem: string | undefined,
  logger: Logger,
): QualysClient {
  return QualysClient.open({ ...clientOptionsFromConfig(config, caPem), log: logger });
}

async function download(
  client: QualysClient,
  templateId: string,
  config: QualysConfig,
  logger: Logger,
): Promise<ParsedReport> {
  logger.info(`Launching a report of template ${templateId} on ${client.host}`);
  const line = new ProgressLine();
  try {
    const report = await downloadReport(client, templateId, {
      parse: { ipRanges: config.ipRanges, onWarning: (m: string) => logger.warn(m) },
      maxWaitMs: config.maxReportWaitMinutes * 60_000,
      firstPollMs: config.pollIntervalSeconds * 1000,
      onProgress: (phase, detail) =>
        line.update(phase === "wait" ? `Waiting: ${detail}` : `Downloading ${detail}`),
    });
    logger.info(`Downloaded the report of template ${templateId} (${report.stats.bytes} bytes)`);
    return report;
  } finally {
    line.done();
  }
}

async function convert(
  report: ParsedReport,
  config: QualysConfig,
  destination: Destination,
  logger: Logger,
): Promise<void> {
  const started = performance.now();
  try {
    const s = report.stats;
    logger.info("QualysGuard Report Processing Complete");
    logger.info(
      `Parsed an ${report.format} report of ${s.bytes} bytes: ${s.hosts} hosts, ` +
        `${s.findings} findings to import on ${s.hostsKept} hosts, ${s.glossary} QIDs in the glossary`,
    );
    const skipped =
      `skipped: ${s.hostsOutOfRange} hosts outside ip_ranges, ${s.hostsInvalid} hosts ` +
      `with an invalid address, ${s.hostsEmpty} hosts without findings, ${s.fixed} fixed findings, ` +
      `${s.duplicates} duplicates`;
    if ("csvfile" in destination) {
      const csvfile = destination.csvfile;
      const sink = csvToStdoutSink(csvfile) ?? await openCsvFileSink(csvfile);
      const written = await writeCommands(report, config, sink, logger);
      logger.info(
        `Summary: ${s.hostsKept} hosts and ${s.findings} AddScanResult lines written to ` +
          `${csvfile === "-" ? "stdout" : csvfile} (${written} bytes); ${skipped}; ` +
          `${((performance.now() - started) / 1000).toFixed(2)} s`,
      );
      return;
    }
    // Nothing is sent before the whole report has parsed: the commands go to a 0600 spool first.
    const spool = await openSpoolFile();
    try {
      await writeCommands(report, config, spool, logger);
      logger.info(
        `Summary: ${s.hostsKept} hosts and ${s.findings} AddScanResult lines to send; ${skipped}`,
      );
      report.dispose(); // the parse's memory is not needed to send
      (globalThis as { gc?: () => void }).gc?.();
      await sendSpool(spool.path, destination.dc, logger);
    } finally {
      await spool.remove();
    }
  } finally {
    report.dispose();
  }
}

async function runCheck(
  cli: CliOptions,
  logger: Logger,
  env: Record<string, string>,
): Promise<number> {
  let worst: number = ExitCode.Ok;
  const line = (ok: boolean | "skip", what: string, detail: string) => {
    print("stdout", `${ok === "skip" ? "SKIP" : ok ? "OK  " : "FAIL"} ${what}: ${detail}`);
  };
  let config: QualysConfig;
  let caPem: string | undefined;
  try {
    config = await loadConfig(cli, logger);
    caPem = await readCaFile(config);
    line(true, "configuration", config.file);
  } catch (error) {
    line(false, "configuration", (error as Error).message);
    return exitCodeOf(error);
  }
  if (cli.report !== undefined) {
    line("skip", "Qualys", "-report reads a saved report, so no Qualys login is needed");
  } else {
    for (const step of await checkQualys(config, caPem)) {
      line(step.ok, step.what, step.detail);
      if (!step.ok) worst = Math.max(worst, ExitCode.Qualys);
    }
  }
  if (cli.csvfile !== undefined) {
    line("skip", "Defense Center", "-csvfile is given, so nothing is sent");
  } else if (cli.server === undefined) {
    line(false, "Defense Center", "give -server <Defense Center> (or -csvfile to write a file)");
    worst = Math.max(worst, ExitCode.Usage);
  } else {
    for (const step of await checkDc(cli, logger, env)) {
      line(step.ok, step.what, step.detail);
      if (!step.ok) worst = Math.max(worst, step.code ?? ExitCode.Dc);
    }
  }
  return worst;
}

async function checkDc(
  cli: CliOptions,
  logger: Logger,
  env: Record<string, string>,
): Promise<{ ok: boolean; what: string; detail: string; code?: number }[]> {
  const steps: { ok: boolean; what: string; detail: string; code?: number }[] = [];
  let identity: ClientIdentity;
  try {
    const loaded = await loadIdentity(cli, logger, env);
    identity = loaded.identity;
    steps.push({
      ok: true,
      what: `certificate ${loaded.path}`,
      detail: `${identity.subject}, valid ${identity.notBefore.toISOString().slice(0, 10)} to ` +
        `${
          identity.notAfter.toISOString().slice(0, 10)
        }, ${identity.caPems.length} CA certificate(s)`,
    });
  } catch (error) {
    steps.push({
      ok: false,
      what: "certificate",
      detail: (error as Error).message,
      code: exitCodeOf(error),
    });
    return steps;
  }
  const where = `${cli.server}:${cli.port}`;
  try {
    const conn = await Deno.connect({
      hostname: cli.server!.replace(/^\[|\]$/g, ""),
      port: cli.port,
    });
    conn.close();
    steps.push({ ok: true, what: `TCP to ${where}`, detail: "connected" });
  } catch (error) {
    steps.push({
      ok: false,
      what: `TCP to ${where}`,
      detail: `${(error as Error).message}: check -server and -port, and that no firewall blocks ` +
        `port ${cli.port} (telnet ${cli.server} ${cli.port})`,
    });
    return steps;
  }
  try {
    const { DcClient } = await import("./dc/dc_client.ts");
    const client = await DcClient.connect({
      host: cli.server!,
      port: cli.port,
      ipv6: cli.ipv6,
      insecure: cli.insecure,
      identity,
    });
    steps.push({
      ok: true,
      what: `TLS and host input version with ${where}`,
      detail:
        `client certificate accepted, version 1 accepted, MAX_SIZE ${client.maxSize}; no data sent`,
    });
    client.close();
  } catch (error) {
    steps.push({
      ok: false,
      what: `TLS and host input version with ${where}`,
      detail: (error as Error).message,
    });
  }
  return steps;
}

function csvToStdoutSink(csvfile: string): CommandSink | undefined {
  return csvfile === "-" ? stdoutSink() : undefined;
}

async function readReport(
  path: string,
  config: QualysConfig,
  logger: Logger,
): Promise<ParsedReport> {
  const options = { ipRanges: config.ipRanges, onWarning: (m: string) => logger.warn(m) };
  if (path === "-") {
    logger.info("Reading the Qualys report from standard input");
    const progress = withProgress(Deno.stdin, { label: "Parsing the report from stdin" });
    try {
      return await parseReport(progress.reader, options);
    } finally {
      progress.done();
    }
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new UsageError(
      `Cannot open the report ${path}: ${(error as Error).message}: check the -report path`,
      { cause: error },
    );
  }
  logger.info(`Reading the Qualys report ${path}`);
  const size = (await file.stat()).size;
  const progress = withProgress(file, { label: `Parsing ${path}`, total: size });
  try {
    return await parseReport(progress.reader, options);
  } catch (error) {
    if (error instanceof Error && error.name === "ReportSyntaxError") {
      error.message = `${path}: ${error.message}; nothing was written`;
    }
    throw error;
  } finally {
    progress.done();
    file.close();
  }
}

/** Encodes a parsed report into `sink`; on failure the sink is aborted. Returns bytes written. */
export async function writeCommands(
  report: ParsedReport,
  config: Pick<QualysConfig, "addHost" | "scannerName" | "sourceName">,
  sink: CommandSink,
  logger?: Logger,
): Promise<number> {
  const enc = new CommandEncoder(report.glossary, {
    addHost: config.addHost,
    scannerName: config.scannerName,
    sourceName: config.sourceName,
  });
  // Two buffers: one is written (asynchronously, by the sink) while the other fills.
  let out = new ByteBuffer(1 << 20), spare = new ByteBuffer(1 << 20);
  let pending: Promise<void> = Promise.resolve();
  let written = 0;
  const debug = logger?.enabled(Level.Debug) ?? false;
  try {
    out.append(enc.header());
    await report.forEachHost(async (host) => {
      if (debug) {
        for (let k = 0; k < host.count; k++) {
          const qid = host.qids[k]!;
          const where = host.protos[k]
            ? ` ${host.ports[k]}/${host.protos[k] === 1 ? "tcp" : "udp"}`
            : "";
          logger!.debug(
            `Importing QID ${qid}${where} on ${host.ip}: ${report.glossary.get(qid)?.title ?? ""}`,
          );
        }
      }
      enc.encodeHost(host, out);
      if (out.length >= 960 << 10) {
        await pending;
        written += out.length;
        pending = sink.write(out.view());
        [out, spare] = [spare, out];
        out.clear();
      }
    });
    await pending;
    written += out.length;
    await sink.write(out.view());
    await sink.close();
  } catch (error) {
    await pending.catch(() => {});
    await sink.abort();
    throw error;
  }
  if (enc.missingGlossary > 0) {
    logger?.warn(
      `${enc.missingGlossary} QID(s) have findings but no glossary entry: they were sent ` +
        "without title, description, CVE or Bugtraq IDs",
    );
  }
  if (enc.shortened > 0) {
    logger?.info(`${enc.shortened} QID(s) had text shortened to keep lines within 4000 bytes`);
  }
  return written;
}

export { usage };
