/**
 * The host input command table (`hostinput.md` §2.2) and the line check of the `csv` plugin:
 * each line must name a known command (case-sensitive, as the DC reads it) and have no more
 * fields than the command takes.
 *
 * @module
 */

import { splitCsvLine } from "./protocol.ts";

/** Fields after the command name, by command. */
export const COMMAND_FIELDS: Readonly<Record<string, number>> = {
  SetSourceType: 1,
  SetSource: 2,
  SetMap: 1,
  SetDomain: 1,
  AddHost: 2,
  DeleteHost: 2,
  SetOS: 15,
  UnsetOS: 1,
  AddService: 14,
  SetService: 14,
  UnsetService: 3,
  DeleteService: 3,
  AddClientApp: 4,
  DeleteClientApp: 4,
  DeleteClientAppPayload: 6,
  AddProtocol: 4,
  DeleteProtocol: 4,
  AddFix: 4,
  RemoveFix: 4,
  AddHostAttribute: 2,
  DeleteHostAttribute: 1,
  SetAttributeValue: 3,
  DeleteAttributeValue: 2,
  SetValidVuln: 5,
  SetInvalidVuln: 5,
  AddScanResult: 9,
  DeleteScanResult: 5,
  ScanUpdate: 0,
  ScanFlush: 0,
};

/**
 * Checks one command line; returns what is wrong, or undefined. Blank lines and `#` comments
 * are fine.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(checkCommandLine("ScanFlush"), undefined);
 * assert.match(checkCommandLine("Addhost,1.2.3.4")!, /unknown command "Addhost"/);
 * ```
 */
export function checkCommandLine(line: string): string | undefined {
  if (/^\s*(#|$)/.test(line)) return undefined;
  const fields = splitCsvLine(line);
  if (!fields) return "the quoting is broken (a field has an unmatched or stray double quote)";
  const cmd = (fields[0] ?? "").trim();
  const take = COMMAND_FIELDS[cmd];
  if (take === undefined) {
    const near = Object.keys(COMMAND_FIELDS).find((c) => c.toLowerCase() === cmd.toLowerCase());
    return `unknown command "${cmd}"${
      near ? `: did you mean "${near}" (names are case-sensitive)?` : ""
    }`;
  }
  if (fields.length - 1 > take) {
    return `${cmd} takes at most ${take} field(s) but the line has ${fields.length - 1}`;
  }
  if (cmd === "AddScanResult" && (fields[3] ?? "").trim() !== "") {
    if (!/^\s*cve_ids:/.test(fields[8] ?? "") || !/^\s*bugtraq_ids:/.test(fields[9] ?? "")) {
      return 'AddScanResult with a vuln_id needs the fields "cve_ids: ..." and "bugtraq_ids: ..." (they may be empty after the header)';
    }
  }
  return undefined;
}
