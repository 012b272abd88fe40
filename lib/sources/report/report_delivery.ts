/**
 * A parsed report as the delivery pipeline takes it: its findings, the plugin YAML's output
 * settings, and the report's summary line (README: What is written, "The summary").
 *
 * @module
 */

import type { QualysConfig } from "../../config/read_config.ts";
import type { Logger } from "../../log/logger.ts";
import type { Delivery, DeliveryRecord, WriteSummary } from "../../pipeline/delivery.ts";
import { REPORT_MEMORY } from "../../util/memory.ts";
import type { ParsedReport } from "./parse_report.ts";

/**
 * Logs what the report held and hands it over: its findings to encode, its summary line, its
 * memory to let go once the commands are in the sink's hands, and (`state`) what the destination
 * holds with the lock held until the delivery is over.
 */
export function reportDelivery(
  report: ParsedReport,
  config: QualysConfig,
  log: Logger,
  state: { record?: DeliveryRecord | undefined; release?: () => void } = {},
): Delivery {
  const s = report.stats;
  log.info("QualysGuard Report Processing Complete");
  log.info(
    `Parsed an ${report.format} report of ${s.bytes} bytes: ${s.hosts} hosts, ` +
      `${s.findings} findings to import on ${s.hostsKept} hosts, ${s.hostsEmpty} hosts ` +
      `without open findings, ${s.glossary} QIDs in the glossary`,
  );
  return {
    content: {
      kind: "findings",
      findings: report,
      encode: {
        ...config.output,
        memory: REPORT_MEMORY,
      },
    },
    summary: ({ written, where, delivered, seconds }) =>
      `Summary: ${written.hosts} hosts and ${written.results} AddScanResult lines ${where}; ` +
      `${summaryDetails(report, config, written)}${delivered ? `; ${seconds.toFixed(2)} s` : ""}`,
    dispose: () => report.dispose(),
    record: state.record,
    release: state.release,
  };
}

/**
 * The summary's middle part (README: What is written, "The summary"): hosts cleared, what was
 * skipped, what was merged or sent differently, and the operating systems.
 */
function summaryDetails(report: ParsedReport, config: QualysConfig, w: WriteSummary): string {
  const s = report.stats;
  const parts: string[] = [];
  if (config.output.clearCleanHosts) parts.push(`${w.cleared} hosts cleared: no open findings`);
  parts.push(
    `skipped: ${s.hostsOutOfRange} hosts outside ip_ranges, ${s.hostsInvalid} hosts with an ` +
      `invalid address, ${
        config.output.clearCleanHosts ? "" : `${s.hostsEmpty} hosts without open findings, `
      }${s.fixed} fixed findings, ${s.duplicates} duplicates`,
  );
  if (s.hostsMerged > 0) parts.push(`${s.hostsMerged} repeated host listings merged`);
  if (s.invalidPorts > 0) {
    parts.push(`${s.invalidPorts} findings with an invalid port sent without a port`);
  }
  if (config.output.setOs) {
    parts.push(
      `SetOS on ${w.os.set} hosts, ${w.os.unknown} with an OS not in the table, ` +
        `${w.os.missing} without OS data`,
    );
  }
  if (w.compared) {
    parts.push(
      `${w.compared.unchanged} hosts unchanged, not sent; ${w.compared.refreshed} sent again ` +
        "unchanged",
    );
  }
  return parts.join("; ");
}
