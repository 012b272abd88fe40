/**
 * The host input module's command grammar, as the FMC's `SF::SFDataCorrelator::HostInput` reads
 * it (`hostinput.md` §2, "SRV"): the command table (each command's fields), lines split as
 * `Text::CSV` with `allow_whitespace` and binary off, IP and MAC address checks, protocol names
 * and numbers, Perl's truth and `split`, and the parsed command the session and the scan queues
 * pass around.
 *
 * @module
 */

import { perlNum } from "./fmc_state.ts";

/** Where the module lives on an FMC: the `[file,line]` suffix of its log lines names it. */
export const MODULE_PATH = "/usr/local/sf/lib/perl/5.10.1/SF/SFDataCorrelator/HostInput.pm";

/** The command table: fields after the command name (SRV `$host_input_fields`). */
export const HOST_INPUT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  AddHost: ["ip_address", "mac_address"],
  DeleteHost: ["ip_address", "mac_address"],
  SetValidVuln: ["ip_address", "port", "proto", "type", "vuln_id"],
  SetInvalidVuln: ["ip_address", "port", "proto", "type", "vuln_id"],
  AddProtocol: ["ip_address", "mac_address", "proto", "type"],
  DeleteProtocol: ["ip_address", "mac_address", "proto", "type"],
  AddHostAttribute: ["attribute_name", "attribute_type"],
  DeleteHostAttribute: ["attribute_name"],
  SetAttributeValue: ["ip_address", "attribute", "value"],
  DeleteAttributeValue: ["ip_address", "attribute"],
  AddClientApp: ["ip_address", "app_name", "app_type", "version"],
  DeleteClientApp: ["ip_address", "app_name", "app_type", "version"],
  DeleteClientAppPayload: [
    "ip_address",
    "app_name",
    "app_type",
    "version",
    "payload_type",
    "payload_id",
  ],
  DeleteService: ["ip_address", "port", "proto"],
  AddService: [
    "ip_address",
    "port",
    "proto",
    "service",
    "vendor_str",
    "version_str",
    "vendor_id",
    "product_id",
    "major",
    "minor",
    "revision",
    "build",
    "patch",
    "extension",
  ],
  SetService: [
    "ip_address",
    "port",
    "proto",
    "service",
    "vendor_str",
    "version_str",
    "vendor_id",
    "product_id",
    "major",
    "minor",
    "revision",
    "build",
    "patch",
    "extension",
  ],
  UnsetService: ["ip_address", "port", "proto"],
  SetOS: [
    "ip_address",
    "vendor_str",
    "product_str",
    "version_str",
    "vendor_id",
    "product_id",
    "major",
    "minor",
    "revision",
    "build",
    "patch",
    "extension",
    "device_string",
    "mobile",
    "jailbroken",
  ],
  UnsetOS: ["ip_address"],
  AddFix: ["ip_address", "port", "proto", "fix_id"],
  RemoveFix: ["ip_address", "port", "proto", "fix_id"],
  SetMap: ["map_name"],
  SetSourceType: ["source_type_name"],
  SetSource: ["source_name", "option"],
  SetDomain: ["domain"],
  AddScanResult: [
    "ip_address",
    "scanner_id",
    "vuln_id",
    "port",
    "proto",
    "name",
    "desc",
    "cve_id_list",
    "bugtraq_id_list",
  ],
  DeleteScanResult: ["ip_address", "scanner_id", "id_list", "port", "proto"],
  ScanUpdate: [],
  ScanFlush: [],
};

/** Commands that act on a network map and fail outside a leaf domain (getCurrentLeafDomain). */
export const NEEDS_LEAF = new Set([
  "AddHost",
  "DeleteHost",
  "SetValidVuln",
  "SetInvalidVuln",
  "AddProtocol",
  "DeleteProtocol",
  "SetAttributeValue",
  "DeleteAttributeValue",
  "AddClientApp",
  "DeleteClientApp",
  "DeleteClientAppPayload",
  "DeleteService",
  "AddService",
  "SetService",
  "UnsetService",
  "SetOS",
  "UnsetOS",
  "AddFix",
  "RemoveFix",
]);

/** The scan commands: they run without a source. */
export const SCAN_COMMANDS = new Set([
  "AddScanResult",
  "DeleteScanResult",
  "ScanUpdate",
  "ScanFlush",
]);

/** The module died (a quote broke an SQL statement): nothing more runs on this connection. */
export class ModuleDeath extends Error {
  override name = "ModuleDeath";
}

/** Ends HandleCmds early (`return` in the Perl loop). */
export class Abort extends Error {
  override name = "Abort";
}

export type Params = Record<string, string | undefined>;

export interface Cmd {
  cmd: string;
  params: Params;
  customMap: string | undefined;
  mapping?: MappingItem;
  generic?: GenericItem;
  flag?: DeleteFlag;
}

export interface MappingItem {
  vulnId: string;
  port: string | undefined;
  proto: string | undefined;
  name: string | undefined;
  desc: string | undefined;
  cveField: string | undefined; // parsed when stored (the header is checked when handled)
  bugtraqField: string | undefined;
  idList: string | undefined; // DeleteScanResult
}

export interface GenericItem {
  port: string | undefined;
  proto: string | undefined;
  name: string | undefined;
  desc: string | undefined;
}

export type DeleteFlag = "delete" | "delete_all" | "delete_all_vuln" | "delete_all_generic";

/** Perl truth: undefined, empty and `"0"` are false. */
export function truthy(v: string | undefined): v is string {
  return v !== undefined && v !== "" && v !== "0";
}

const PERL_SPACE = "[ \\t\\n\\r\\f\\v]";
export const HEADERS: Record<string, RegExp> = {
  "cve_ids:": new RegExp(`cve_ids:${PERL_SPACE}*`),
  "bugtraq_ids:": new RegExp(`bugtraq_ids:${PERL_SPACE}*`),
};
export const SKIP_LINE = new RegExp(`^${PERL_SPACE}*#|^${PERL_SPACE}$`);
const BINARY = /[^\t\x20-\x7e]/; // binary off: TAB and printable ASCII only

/**
 * Splits a line as `Text::CSV->new({ allow_whitespace => 1 })->parse` does: `"` quotes, `""` a
 * literal quote, spaces and tabs around fields dropped; undefined when the parse fails (a quote
 * out of place, or a byte outside TAB and printable ASCII, as binary is off).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseCsvLine(' AddHost , "1.2.3.4" ,'), ["AddHost", "1.2.3.4", ""]);
 * assert.equal(parseCsvLine("ScanFlush\r"), undefined);
 * ```
 */
export function parseCsvLine(line: string): string[] | undefined {
  if (BINARY.test(line)) return undefined;
  const n = line.length;
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (i < n && (line[i] === " " || line[i] === "\t")) i++;
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      while (i < n && (line[i] === " " || line[i] === "\t")) i++;
      fields.push(value);
      if (i >= n) return fields;
      if (line[i] !== ",") return undefined;
      i++;
    } else {
      const comma = line.indexOf(",", i);
      let e = comma < 0 ? n : comma;
      while (e > i && (line[e - 1] === " " || line[e - 1] === "\t")) e--;
      const value = line.slice(i, e);
      if (value.includes('"')) return undefined;
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

export function validIpv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return !!m && m.slice(1).every((p) => Number(p) <= 255);
}

export function validIpv6(s: string): boolean {
  if (!s.includes(":") || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  let head = s;
  if (s.includes(".")) {
    const last = s.lastIndexOf(":");
    if (!validIpv4(s.slice(last + 1))) return false;
    head = `${s.slice(0, last + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? groups.length < 8 : groups.length === 8;
}

/** An IPv4 or IPv6 address, as `SF::Types::is_valid('ip', …, { ipv4or6 => 1 })` takes it. */
export function isValidIp(s: string | undefined): s is string {
  return s !== undefined && (validIpv4(s) || validIpv6(s));
}

/** A MAC address: six pairs of hex digits separated by colons. */
export function isValidMac(s: string | undefined): s is string {
  return s !== undefined && /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s);
}

export function protoName(p: string | undefined): string {
  const n = perlNum(p);
  return n === 6 ? "tcp" : n === 17 ? "udp" : "";
}

/** proto: `tcp` → 6, `udp` → 17 (exact strings), then any other true value must be 6 or 17 as a
 * number. Returns false for a wrong protocol; the params keep the converted value. */
export function normaliseProto(p: Params): boolean {
  if (p.proto === "tcp") p.proto = "6";
  else if (p.proto === "udp") p.proto = "17";
  if (!truthy(p.proto)) return true;
  const n = perlNum(p.proto);
  return n === 6 || n === 17;
}

/** getCmdInfo: " Command: X field: value ..." for the fields that are defined. */
export function cmdInfo(c: Cmd): string {
  let s = ` Command: ${c.cmd}`;
  for (const f of HOST_INPUT_FIELDS[c.cmd] ?? []) {
    const v = c.params[f];
    if (v !== undefined) s += ` ${f}: ${v}`;
  }
  return s;
}

export function cloneCmd(c: Cmd): Cmd {
  return structuredClone(c);
}

/** Perl `split ',', $s`: trailing empty fields dropped, an empty string gives none. */
export function perlSplitComma(s: string): string[] {
  const parts = s.split(",");
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}
