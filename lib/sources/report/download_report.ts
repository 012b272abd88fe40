/**
 * The report flow: launch the template's report, poll the list until it is Finished (bounded),
 * fetch it straight into a push parser, and delete the report we launched, also when anything
 * fails. A fetch that is cut, truncated or stalls (no data for longer than the client's time
 * limit, `-timeout`) is tried again with a fresh parser (bounded), so a report is never imported
 * in part.
 *
 * @module
 */

import type { QualysConfig } from "../../config/read_config.ts";
import { QualysApiError } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { ProgressLine } from "../../log/progress.ts";
import type { QualysClient } from "../../qualys/client.ts";
import { itemValue } from "../../qualys/simple_return.ts";
import { DownloadCut, readInto, type StreamParser } from "../../qualys/stream_body.ts";
import { VERSION } from "../../version.ts";
import { type ParsedReport, ReportParser } from "./parse_report.ts";
import { parserOptions } from "./read_report.ts";

export type { StreamParser };

/** Options for {@linkcode downloadReport}. */
export interface DownloadOptions<T> {
  /** Makes the parser each fetch streams into. */
  parser: () => StreamParser<T>;
  /** Receives warnings (waits, retries, a report that could not be deleted). */
  onWarning?: ((message: string) => void) | undefined;
  /** Longest total wait for the report to finish, in ms. @default {10800000} (3 h) */
  maxWaitMs?: number;
  /** First poll interval in ms; later ones grow ×1.5 up to `maxPollMs`. @default {5000} */
  firstPollMs?: number;
  /** Longest poll interval in ms. @default {60000} */
  maxPollMs?: number;
  /** Called while waiting and downloading (for progress on a terminal). */
  onProgress?: ((phase: "wait" | "download", detail: string) => void) | undefined;
  /** Most fetches of the report; another follows 7001, a cut or a truncated one. @default {5} */
  maxFetches?: number;
}

/**
 * Launches the template's report, waits for it and parses it as it downloads, as the plugin YAML
 * says (`max_report_wait`, `poll_interval`, `ip_ranges`, `set_os`), with a progress line on a
 * terminal.
 *
 * @throws {QualysApiError} For every Qualys or network outcome that ends the job (exit 3).
 * @throws {ReportSyntaxError} When the downloaded report cannot be parsed (exit 4).
 */
export async function downloadTemplateReport(
  client: QualysClient,
  templateId: string,
  options: { config: QualysConfig; log: Logger },
): Promise<ParsedReport> {
  const { config, log } = options;
  log.info(`Launching a report of template ${templateId} on ${client.host}`);
  const line = new ProgressLine();
  try {
    const report = await downloadReport(client, templateId, {
      parser: () => new ReportParser(parserOptions(config, log)),
      onWarning: (m) => log.warn(m),
      maxWaitMs: config.source.maxReportWaitMinutes * 60_000,
      firstPollMs: config.source.pollIntervalSeconds * 1000,
      onProgress: (phase, detail) =>
        line.update(phase === "wait" ? `Waiting: ${detail}` : `Downloading ${detail}`),
    });
    log.info(`Downloaded the report of template ${templateId} (${report.stats.bytes} bytes)`);
    return report;
  } finally {
    line.done();
  }
}

/** The report title this tool gives reports it launches (≤ 128 characters). */
export function reportTitle(templateId: string, now = new Date()): string {
  return `qualys_connector ${VERSION} template ${templateId} ${now.toISOString().slice(0, 19)}Z`;
}

/**
 * Launches a report for `templateId` and returns it parsed. Deletes it from the Report Share
 * afterwards, whatever happened.
 *
 * @throws {QualysApiError} For every Qualys or network outcome that ends the job (exit 3).
 * @throws {ReportSyntaxError} When the downloaded report cannot be parsed (exit 4).
 */
export async function downloadReport<T>(
  client: QualysClient,
  templateId: string,
  options: DownloadOptions<T>,
): Promise<T> {
  const log = options.onWarning;
  const id = await launch(client, templateId, log);
  let deleted = false;
  try {
    const report = await waitAndFetch(client, id, options);
    deleted = await remove(client, id, log);
    return report;
  } finally {
    if (!deleted) await remove(client, id, log);
  }
}

async function launch(
  client: QualysClient,
  templateId: string,
  warn?: (m: string) => void,
): Promise<string> {
  for (let busy = 0;; busy++) {
    const r = await client.call({
      action: "launch",
      template_id: templateId,
      output_format: "xml",
      report_type: "Scan",
      report_title: reportTitle(templateId),
    });
    if (/max number of allowed reports/i.test(r.text)) {
      if (busy >= 10) {
        throw new QualysApiError(
          `Qualys answered: ${r.text} Still so after ${busy} tries: too many reports are ` +
            "running for this account; let them finish, then run again",
        );
      }
      warn?.(`Qualys answered: ${r.text} Waiting 60 s, then trying again`);
      await client.wait(60_000 + Math.round(client.jitter() * 10_000));
      continue;
    }
    const id = itemValue(r, "ID");
    if (!id || !/^\d+$/.test(id)) {
      throw new QualysApiError(
        `Qualys did not return a report ID after launch (${
          r.text || "no text"
        }): check template_id`,
      );
    }
    return id;
  }
}

async function remove(client: QualysClient, id: string, warn?: (m: string) => void) {
  try {
    await client.call({ action: "delete", id }, { accept: ["7001"] });
    return true;
  } catch (error) {
    warn?.(
      `Could not delete report ${id} from the Report Share (${(error as Error).message}): ` +
        "it expires by itself after 7 days",
    );
    return true; // do not try twice
  }
}

async function waitFinished<T>(client: QualysClient, id: string, options: DownloadOptions<T>) {
  const maxWait = options.maxWaitMs ?? 3 * 3600_000;
  let interval = options.firstPollMs ?? 5000;
  const maxInterval = options.maxPollMs ?? 60_000;
  let waited = 0, missing = 0;
  for (;;) {
    const r = await client.call({ action: "list", id });
    const report = r.reports.find((x) => x.id === id);
    if (!report) {
      if (++missing > 3) {
        throw new QualysApiError(
          `Report ${id} is not in the report list: it was deleted or expired before it finished`,
        );
      }
    } else {
      missing = 0;
      const state = report.state.toLowerCase();
      if (state === "finished") return;
      if (state === "canceled" || state === "errors") {
        throw new QualysApiError(
          `Report ${id} ended in state ${report.state}${
            report.message ? `: ${report.message}` : ""
          }: check the report template in the Qualys web interface`,
        );
      }
      options.onProgress?.(
        "wait",
        `report ${id} ${report.state}${report.percent ? ` ${report.percent}%` : ""}, waited ${
          Math.round(waited / 1000)
        } s`,
      );
    }
    if (waited >= maxWait) {
      throw new QualysApiError(
        `Report ${id} was not finished after ${Math.round(maxWait / 60000)} minutes: ` +
          "raise max_report_wait in the plugin YAML, or use a smaller template",
      );
    }
    const step = Math.min(interval, maxWait - waited);
    await client.wait(step);
    waited += step;
    interval = Math.min(interval * 1.5, maxInterval);
  }
}

async function waitAndFetch<T>(
  client: QualysClient,
  id: string,
  options: DownloadOptions<T>,
): Promise<T> {
  const maxFetches = options.maxFetches ?? 5;
  for (let attempt = 1;; attempt++) {
    await waitFinished(client, id, options);
    try {
      return await fetchAndParse(client, id, options);
    } catch (error) {
      const again = attempt < maxFetches;
      if (error instanceof QualysApiError && error.code === "7001" && again) {
        options.onWarning?.(`Report ${id} cannot be fetched yet (7001): polling again`);
        continue;
      }
      if (error instanceof DownloadCut && again) {
        options.onWarning?.(`${error.message}; fetching report ${id} again`);
        await client.wait(2000 * attempt);
        continue;
      }
      if (error instanceof DownloadCut) {
        throw new QualysApiError(`${error.message}; gave up after ${attempt} downloads`);
      }
      throw error;
    }
  }
}

async function fetchAndParse<T>(
  client: QualysClient,
  id: string,
  options: DownloadOptions<T>,
): Promise<T> {
  const download = await client.fetchReport(id);
  const onProgress = options.onProgress;
  return await readInto(client, download, options.parser(), {
    what: `report ${id}`,
    onProgress: onProgress && ((detail) => onProgress("download", detail)),
  });
}
