/**
 * A saved report (`-report PATH`, `-` = stdin), parsed whole, with a progress line on a
 * terminal; a path that cannot be opened is a usage error that says to check it.
 *
 * @module
 */

import type { QualysConfig } from "../../config/read_config.ts";
import {
  fileErrorReason,
  isWrongPath,
  LocalIoError,
  ReportSyntaxError,
  UsageError,
} from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { withProgress } from "../../log/progress.ts";
import { REPORT_MEMORY } from "../../util/memory.ts";
import { guardReads } from "../../util/bytes.ts";
import { type ParsedReport, parseReport, type ParseReportOptions } from "./parse_report.ts";

/** The parser's options from the plugin YAML: `ip_ranges`, and OS data with `set_os`. */
export function parserOptions(config: QualysConfig, log: Logger): ParseReportOptions {
  return {
    ipRanges: config.source.ipRanges,
    collectOs: config.output.setOs,
    onWarning: (m: string) => log.warn(m),
    heapSlack: REPORT_MEMORY.heapSlack,
  };
}

function cannotRead(path: string) {
  return (error: unknown) =>
    new LocalIoError(
      `cannot read the report: ${fileErrorReason(error)}: check the -report path` +
        (error instanceof Deno.errors.NotCapable ? " (-report - reads standard input)" : ""),
      {
        path,
        cause: error,
        usage: isWrongPath(error),
      },
    );
}

/**
 * Parses a saved report (`-report PATH`, `-` = stdin).
 *
 * @throws {UsageError} When the file cannot be opened (exit 2).
 * @throws {LocalIoError} When it cannot be read (exit 7).
 * @throws {ReportSyntaxError} When it is not a report that parses (exit 4), naming the file.
 */
export async function readReport(
  path: string,
  config: QualysConfig,
  log: Logger,
): Promise<ParsedReport> {
  const options = parserOptions(config, log);
  if (path === "-") {
    log.info("Reading the Qualys report from standard input");
    const stdin = guardReads(Deno.stdin, cannotRead("stdin"));
    const progress = withProgress(stdin, { label: "Parsing the report from stdin" });
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
    if (!isWrongPath(error)) throw cannotRead(path)(error);
    throw new UsageError(
      `Cannot open the report ${path}: ${fileErrorReason(error)}: check the -report path` +
        (error instanceof Deno.errors.NotCapable ? " (-report - reads standard input)" : ""),
      { cause: error },
    );
  }
  log.info(`Reading the Qualys report ${path}`);
  const size = (await file.stat()).size;
  const progress = withProgress(guardReads(file, cannotRead(path)), {
    label: `Parsing ${path}`,
    total: size,
  });
  try {
    return await parseReport(progress.reader, options);
  } catch (error) {
    throw error instanceof ReportSyntaxError ? error.inFile(path) : error;
  } finally {
    progress.done();
    file.close();
  }
}
