/**
 * A parsed report as the delivery pipeline takes it: its findings, the plugin YAML's output
 * settings, and the report's summary line (docs/output.md, "The summary").
 *
 * @module
 */

import type { QualysConfig } from "../../config/read_config.ts";
import type { Logger } from "../../log/logger.ts";
import type { Delivery, DeliveryRecord } from "../../pipeline/delivery.ts";
import { plural } from "../../util/text.ts";
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
  // The original's words, which users grep for, now with what was parsed.
  log.info(
    `QualysGuard Report Processing Complete: parsed an ${report.format} report of ` +
      `${plural(s.bytes, "byte")}: ${plural(s.hosts, "host")}, ` +
      `${plural(s.findings, "finding")} to import on ${plural(s.hostsKept, "host")}, ` +
      `${plural(s.hostsEmpty, "host")} without open findings, ` +
      `${plural(s.glossary, "QID")} in the glossary`,
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
    summary: () => ({ details: summaryDetails(report, config), noHost: noHost(report, config) }),
    dispose: () => report.dispose(),
    record: state.record,
    release: state.release,
  };
}

/**
 * The report's part of the summary (docs/output.md, "The summary"): what was skipped, what was
 * merged or sent differently.
 */
function summaryDetails(report: ParsedReport, config: QualysConfig): string[] {
  const s = report.stats;
  const parts = [
    `skipped: ${plural(s.hostsOutOfRange, "host")} outside ip_ranges, ` +
    `${plural(s.hostsInvalid, "host")} with an invalid address, ${
      config.output.clearCleanHosts ? "" : `${plural(s.hostsEmpty, "host")} without open findings, `
    }${plural(s.fixed, "fixed finding")}, ${plural(s.duplicates, "duplicate finding")}`,
  ];
  if (s.hostsMerged > 0) parts.push(`${plural(s.hostsMerged, "repeated host listing")} merged`);
  if (s.invalidPorts > 0) {
    parts.push(`${plural(s.invalidPorts, "finding")} with an invalid port sent without a port`);
  }
  return parts;
}

/** What left the run without a host to send or clear, as a warning that says what to check. */
function noHost(report: ParsedReport, config: QualysConfig): string {
  const s = report.stats;
  if (s.hosts === 0) {
    return "Nothing to send: the report lists no host: check the report template's asset " +
      "groups or IPs in Qualys";
  }
  const reasons: string[] = [], keys: string[] = [];
  if (s.hostsOutOfRange > 0) {
    reasons.push(`${s.hostsOutOfRange} outside ip_ranges (${config.source.ipRanges?.source})`);
    keys.push("ip_ranges");
  }
  if (s.hostsInvalid > 0) reasons.push(`${s.hostsInvalid} without a valid address`);
  if (!config.output.clearCleanHosts && s.hostsEmpty > 0) {
    reasons.push(`${s.hostsEmpty} without open findings (clear_clean_hosts: n)`);
    keys.push("clear_clean_hosts");
  }
  return `Nothing to send: of the report's ${plural(s.hosts, "host")}, ${reasons.join(", ")}: ` +
    (keys.length ? `check ${keys.join(" and ")} in ${config.file}` : "check the report");
}
