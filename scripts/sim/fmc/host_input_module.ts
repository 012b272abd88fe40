/**
 * The host input semantics of the FMC's server module `SF::SFDataCorrelator::HostInput`
 * (`hostinput.md` §2, "SRV"), re-implemented for the Defense Center simulator and for tests that
 * replay command files without TLS. One {@linkcode HostInputSession} is one client connection (or
 * one `nmimport.pl` run); {@linkcode HostInputSession.handle} takes one DATA buffer and returns
 * the answer the daemon sends back. It follows the real module where the public copy shows it:
 *
 * - Each line: comment and blank lines skipped (`^\s*#|^\s$`), parsed as `Text::CSV` with
 *   `allow_whitespace` and binary off (a CR, any control character or non-ASCII byte fails the
 *   parse), an optional `SetMap:<name>` first field, then the command table. Parse failures and
 *   unknown commands are logged but the result text is cleared before the commands run, so the
 *   client never sees them.
 * - `SetSource` is kept for the whole connection; `SetSourceType` and `SetDomain` only for the
 *   buffer. A command other than AddScanResult, DeleteScanResult, ScanUpdate and ScanFlush
 *   without a source is answered `[<cmd>]: Must set source application` and still runs.
 * - `SetDomain` is checked against the certificate's domain; a foreign or unknown domain, and
 *   `SetSource` in a non-leaf domain, stop the buffer (no `Done processing` line), yet the
 *   buffer's scan commands are still queued and its ScanFlush/ScanUpdate still run, as the real
 *   post-processing goes over every parsed command.
 * - AddScanResult lines are queued per `<scanner>_<ip>` even when they failed; ScanFlush replaces
 *   (per host and scanner), ScanUpdate runs the queued DeleteScanResults (delete-all, all-vuln,
 *   all-generic, then specific) and merges; a disconnect runs what is left as deletes + update.
 * - `Done processing N commands.` counts every command past the source check (not SetSource,
 *   SetSourceType, SetDomain); failures found while running the queues come after it.
 * - Source and scanner names are put into SQL by interpolation: a `'` ends the module (the client
 *   sees the connection close without an answer), all digits name an existing ID, empty is an
 *   undefined source.
 *
 * Log lines carry the module's `[file,line]` suffix. The line numbers are those of the public
 * copy, counted by hand (they may be off by a line or two and differ between FMC releases):
 * match on the text before ` [`.
 *
 * @module
 */

import {
  type Domain,
  type FmcState,
  type MapResult,
  type NetworkMap,
  normalUuid,
  perlNum,
  type SourceRow,
} from "./fmc_state.ts";

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

// Commands that act on a network map and fail outside a leaf domain (getCurrentLeafDomain).
const NEEDS_LEAF = new Set([
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
const SCAN_COMMANDS = new Set(["AddScanResult", "DeleteScanResult", "ScanUpdate", "ScanFlush"]);
// Source type IDs of rna_source_type_str, by name (MySQL compares them case-insensitively).
const SOURCE_TYPES: Record<string, number> = { user: 1, scanner: 2, application: 3 };
const SOURCE_TYPE_SCAN = 2, SOURCE_TYPE_APP = 3;

/** The source set with SetSource. */
export interface CurrentSource {
  /** Application or scanner source. */
  kind: "application" | "scanner";
  /** Its ID. */
  id: number;
  /** Its name. */
  name: string;
}

/** What the module did with one DATA buffer. */
export interface BufferOutcome {
  /** The answer text; undefined when the module died (no answer is sent). */
  answer: string | undefined;
  /** Why the module died: the client sees its connection close without an answer. */
  died: string | undefined;
}

/** Options for {@linkcode HostInputSession}. */
export interface SessionOptions {
  /** UUID of the domain the client certificate was issued for. @default Global */
  certDomain?: string;
  /**
   * Commands arrive over a socket (the daemon); false emulates `nmimport.pl` on the FMC: no
   * certificate domain, `Must set source` stops the buffer, an unknown domain is named so, and
   * each buffer's queues run as deletes + update at its end. @default {true}
   */
  viaSocket?: boolean;
}

/** The module died (a quote broke an SQL statement): nothing more runs on this connection. */
class ModuleDeath extends Error {
  override name = "ModuleDeath";
}

// Ends HandleCmds early (`return` in the Perl loop).
class Abort extends Error {
  override name = "Abort";
}

type Params = Record<string, string | undefined>;

interface Cmd {
  cmd: string;
  params: Params;
  customMap: string | undefined;
  mapping?: MappingItem;
  generic?: GenericItem;
  flag?: DeleteFlag;
}

interface MappingItem {
  vulnId: string;
  port: string | undefined;
  proto: string | undefined;
  name: string | undefined;
  desc: string | undefined;
  cveField: string | undefined; // parsed when stored (the header is checked when handled)
  bugtraqField: string | undefined;
  idList: string | undefined; // DeleteScanResult
}

interface GenericItem {
  port: string | undefined;
  proto: string | undefined;
  name: string | undefined;
  desc: string | undefined;
}

type DeleteFlag = "delete" | "delete_all" | "delete_all_vuln" | "delete_all_generic";

/** Perl truth: undefined, empty and `"0"` are false. */
function truthy(v: string | undefined): v is string {
  return v !== undefined && v !== "" && v !== "0";
}

const PERL_SPACE = "[ \\t\\n\\r\\f\\v]";
const HEADERS: Record<string, RegExp> = {
  "cve_ids:": new RegExp(`cve_ids:${PERL_SPACE}*`),
  "bugtraq_ids:": new RegExp(`bugtraq_ids:${PERL_SPACE}*`),
};
const SKIP_LINE = new RegExp(`^${PERL_SPACE}*#|^${PERL_SPACE}$`);
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

function validIpv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return !!m && m.slice(1).every((p) => Number(p) <= 255);
}

function validIpv6(s: string): boolean {
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

function protoName(p: string | undefined): string {
  const n = perlNum(p);
  return n === 6 ? "tcp" : n === 17 ? "udp" : "";
}

/**
 * One client connection to the host input daemon (or one `nmimport.pl` run), with the module's
 * per-connection state: the source, the third-party map, the scan queues, the network map the
 * queues run against.
 */
export class HostInputSession {
  /** The FMC it works on. */
  readonly fmc: FmcState;
  /** The domain of the client certificate. */
  readonly certDomain: Domain;
  /** Every log line the module wrote (AddLog), including those cleared before an answer. */
  readonly recorded: string[] = [];
  readonly #socket: boolean;
  #result = "";
  #source: CurrentSource | undefined;
  #map: string | undefined;
  #addQueue = new Map<string, Cmd[]>();
  #delQueue = new Map<string, Cmd[]>();
  #postNetmap: Domain | undefined; // $postprocessing_netmap_num
  #switched: Domain; // the domain switched to outside HandleCmds
  #dead: string | undefined;

  /** A new connection from a client whose certificate is for `options.certDomain`. */
  constructor(fmc: FmcState, options: SessionOptions = {}) {
    this.fmc = fmc;
    this.#socket = options.viaSocket ?? true;
    const cert = this.#socket && options.certDomain
      ? fmc.domains.byUuid(options.certDomain)
      : fmc.domains.global;
    if (!cert) throw new RangeError(`No domain with UUID ${options.certDomain}`);
    this.certDomain = cert;
    this.#switched = fmc.domains.global;
  }

  /** The source set with SetSource (it lasts for the connection); undefined when none is. */
  get source(): CurrentSource | undefined {
    return this.#source;
  }

  /** The third-party map set with SetMap (it lasts for the connection). */
  get currentMap(): string | undefined {
    return this.#map;
  }

  /** AddScanResult lines queued and not yet run, by `<scanner>_<ip>`. */
  get queuedAdds(): number {
    let n = 0;
    for (const q of this.#addQueue.values()) n += q.length;
    return n;
  }

  /** Why the module died on this connection, if it did. */
  get died(): string | undefined {
    return this.#dead;
  }

  /**
   * Processes one DATA buffer (ProcessCSVBuffer: parse, HandleCmds, PostProcessingCmds) and
   * returns the answer text.
   *
   * @throws {Error} When the module already died on this connection.
   */
  handle(text: string): BufferOutcome {
    if (this.#dead) throw new Error(`The host input module died on this connection: ${this.#dead}`);
    const cmds = this.#parse(text);
    try {
      this.#handleCmds(cmds);
      this.#postProcess(cmds);
    } catch (e) {
      if (!(e instanceof ModuleDeath)) throw e;
      this.#dead = e.message;
      this.#addQueue.clear();
      this.#delQueue.clear();
      return { answer: undefined, died: e.message };
    }
    return { answer: this.#result, died: undefined };
  }

  /**
   * The client went away (socketCleanUp): the queued deletes and adds run as ScanUpdate.
   * Returns the result text they produced, which nobody receives.
   */
  disconnect(): string {
    if (this.#dead || !this.#socket) return "";
    this.#result = "";
    try {
      this.#runDeletes();
      this.#runAdds("update");
    } catch (e) {
      if (!(e instanceof ModuleDeath)) throw e;
      this.#dead = e.message;
    }
    this.#addQueue.clear();
    this.#delQueue.clear();
    return this.#result;
  }

  #log(message: string, line: number): void {
    const s = `${message} [${MODULE_PATH},${line}]\n`;
    this.recorded.push(s);
    this.#result += s;
  }

  // parseCSVBuffer + procLine.
  #parse(text: string): Cmd[] {
    const cmds: Cmd[] = [];
    for (const line of text.split("\n")) {
      const c0 = line.charCodeAt(0);
      if (line === "" || (!(c0 >= 65 && c0 <= 90) && SKIP_LINE.test(line))) continue;
      let list = parseCsvLine(line);
      if (!list) {
        this.#log(`Text::CSV::parse() failed on line: ${line}, argument: ${line}`, 285);
        list = [];
      }
      let customMap: string | undefined;
      if (list[0]?.startsWith("SetMap:")) {
        const name = list[0].slice("SetMap:".length);
        customMap = truthy(name) ? name : undefined;
        list = list.slice(1);
      }
      const cmd = list[0] ?? "";
      const fields = Object.hasOwn(HOST_INPUT_FIELDS, cmd) ? HOST_INPUT_FIELDS[cmd] : undefined;
      if (!fields) {
        this.#log(`WARN: ignoring unknown key '${cmd}'. Line: ${line}`, 334);
        continue;
      }
      const params: Params = {};
      for (let k = 0; k < fields.length; k++) params[fields[k]!] = list[k + 1];
      cmds.push({ cmd, params, customMap });
    }
    return cmds;
  }

  // HandleCmds: the answer text is cleared first, so parse failures never reach the client.
  #handleCmds(cmds: Cmd[]): void {
    this.#result = "";
    let sourceType: number | undefined = SOURCE_TYPE_APP;
    let domain = this.certDomain;
    let count = 0;
    this.#switched = domain;
    try {
      for (const c of cmds) {
        const p = c.params;
        if (c.cmd === "SetSource") {
          if (!domain.leaf) {
            this.#log(`[SetSource]: ${domain.path} is not a leaf domain\n`, 372);
            throw new Abort();
          }
          this.#source = this.#findSource(sourceType, p.source_name, p.option, domain);
          continue;
        }
        if (c.cmd === "SetSourceType") {
          const name = (p.source_type_name ?? "").toLowerCase();
          sourceType = Object.hasOwn(SOURCE_TYPES, name) ? SOURCE_TYPES[name] : undefined;
          continue;
        }
        if (c.cmd === "SetDomain") {
          domain = this.#setDomain(p.domain ?? "");
          this.#switched = domain;
          continue;
        }
        if (!SCAN_COMMANDS.has(c.cmd) && !this.#source) {
          if (!this.#socket) throw new Abort(); // nmimport.pl: printed, and the buffer ends
          this.#result += `[${c.cmd}]: Must set source application\n`;
        }
        count++;
        const saved = this.#map;
        if (c.customMap !== undefined) {
          this.#setMap(c.customMap);
          this.#result += ` (map using '${c.customMap}')\n`;
        }
        const rval = this.#run(c, domain);
        this.#map = c.cmd === "SetMap" ? this.#map : saved;
        if (rval !== 0) this.#result += `Failed to Execute Command: ${cmdInfo(c)}\n`;
      }
    } catch (e) {
      if (e instanceof Abort) return; // no Done line; the domain stays switched
      throw e;
    }
    this.#postNetmap = domain.leaf ? domain : undefined;
    this.#result += `Done processing ${count} commands.\n`;
    this.#switched = this.fmc.domains.global; // MultiTenancy::reset_module: domains unswitched
  }

  #setDomain(name: string): Domain {
    const tree = this.fmc.domains;
    let target: Domain | undefined;
    const byUuid = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(name);
    if (byUuid) target = tree.byUuid(name);
    else {
      const names = name.split(/\s*\\\s*/);
      if (names.length >= 2 && names[0] === "Global") names.shift();
      target = tree.byNames(names);
      if (!target) {
        this.#log(
          this.#socket
            ? `[SetDomain]: Domain ${name} is not in the certificate domain\n`
            : `[SetDomain]: Unknown domain: ${name}\n`,
          412,
        );
        throw new Abort();
      }
    }
    const cert = this.certDomain;
    if (
      target !== cert && cert !== tree.global && !(target && tree.isAncestor(cert, target))
    ) {
      this.#log(`[SetDomain]: Domain ${name} is not in the certificate domain\n`, 421);
      throw new Abort();
    }
    if (!target) { // switchDomain fails on a UUID that names no domain
      this.#log(`[SetDomain]: Invalid domain uuid\n`, 431);
      throw new Abort();
    }
    return target;
  }

  // SetCurrent3rdPartyMap. Maps are defined in Global, which every domain's lookup includes.
  #setMap(name: string | undefined): void {
    if (name === undefined || !this.fmc.maps.has(name)) {
      this.#map = undefined;
      this.#log(`Failed to find map '${name ?? ""}'`, 922);
      throw new Abort();
    }
    this.#map = name;
  }

  // getCurrentLeafDomain: the network map of `domain`, or a logged failure.
  #leaf(domain: Domain): NetworkMap | undefined {
    if (!domain.leaf) {
      this.#log(`${domain.path} is not a leaf domain`, 856);
      return undefined;
    }
    return this.fmc.netmaps.get(domain.uuid)!;
  }

  // GetSourceIDByName.
  #findSource(
    type: number | undefined,
    name: string | undefined,
    option: string | undefined,
    domain: Domain,
  ): CurrentSource | undefined {
    if (type !== undefined && type < SOURCE_TYPE_SCAN) return undefined;
    if (type === SOURCE_TYPE_SCAN) {
      const hasVuln = !(option !== undefined && (option === "generic" || perlNum(option) === 0));
      const row = this.#sourceRow("scanner", name, domain, hasVuln);
      return row && { kind: "scanner", id: row.id, name: row.name };
    }
    const row = this.#sourceRow("application", name, domain, true);
    return row && { kind: "application", id: row.id, name: row.name };
  }

  // findAppTypeID / findScanTypeID: an ID, a known name, or a new source.
  #sourceRow(
    kind: "application" | "scanner",
    name: string | undefined,
    domain: Domain,
    hasVulnInfo: boolean,
  ): SourceRow | undefined {
    const rows = kind === "scanner" ? this.fmc.scanTypes : this.fmc.appSources;
    if (name !== undefined && /^\d+$/.test(name)) {
      return rows.find((r) => r.id === Number(name) && r.netmaps.has(domain.uuid));
    }
    if (name?.includes("'")) {
      throw new ModuleDeath(
        `Database Error: the quote in ${kind} name "${name}" breaks the SQL statement ` +
          `(CheckSourceName builds it by interpolation)`,
      );
    }
    const known = rows.find((r) => r.name === (name ?? ""));
    if (known) {
      known.netmaps.add(domain.uuid);
      return known;
    }
    if (!truthy(name)) return undefined;
    const row = {
      id: rows.reduce((m, r) => Math.max(m, r.id), 0) + 1,
      name,
      hasVulnInfo,
      netmaps: new Set([domain.uuid]),
    };
    rows.push(row);
    return row;
  }

  // GetScanTypeByName: `select ... where name="$name"`.
  #scanTypeByName(name: string | undefined): SourceRow | undefined {
    if (!truthy(name)) return undefined;
    if (name.includes('"')) {
      throw new ModuleDeath(
        `Database Error: the quote in scanner name '${name}' breaks the SQL statement ` +
          `(GetScanTypeByName builds it by interpolation)`,
      );
    }
    return this.fmc.scanTypes.find((r) => r.name === name);
  }

  // The command itself; returns rval (0 success).
  #run(c: Cmd, domain: Domain): number {
    const p = c.params;
    if (c.cmd === "SetMap") {
      this.#setMap(p.map_name);
      return 0;
    }
    if (c.cmd === "AddScanResult") return this.#handleAddScanResult(c);
    if (c.cmd === "DeleteScanResult") {
      const netmap = this.#leaf(domain);
      if (!netmap) return -1;
      if (!normaliseProto(p)) {
        this.#log(`Wrong protocol ${p.proto} entered`, 3793);
        return -1;
      }
      this.#processDeleteScan(c, domain);
      return 0;
    }
    if (c.cmd === "ScanFlush" || c.cmd === "ScanUpdate") return 0;
    if (c.cmd === "AddHost") return this.#addHost(p, domain);
    if (!NEEDS_LEAF.has(c.cmd)) return 0; // host attributes: accepted, not modelled
    const netmap = this.#leaf(domain);
    if (!netmap) return -1;
    if (c.cmd === "SetOS") {
      const ips = this.#addresses(p.ip_address);
      if (
        p.vendor_str === undefined && p.product_str === undefined && p.version_str === undefined
      ) return 0;
      for (const ip of ips) {
        netmap.os.set(ip, { vendor: p.vendor_str, product: p.product_str, version: p.version_str });
      }
    } else if (c.cmd === "UnsetOS") {
      for (const ip of this.#addresses(p.ip_address)) netmap.os.delete(ip);
    } else if (c.cmd === "DeleteHost") {
      for (const ip of this.#addresses(p.ip_address)) netmap.deleteHost(ip);
    }
    return 0; // the other commands: accepted, not modelled
  }

  // strToRangeList: the single addresses of an address list (ranges and blocks are checked,
  // logged when malformed, and not applied).
  #addresses(list: string | undefined): string[] {
    if (list === undefined || normalUuid(list.replace(/,.*$/s, ""))) return []; // host IDs
    const out: string[] = [];
    for (let item of list.split(",")) {
      item = item.replace(/\s/g, "").replace(/^!/, "");
      if (item.includes("/")) {
        const [addr = "", bits = ""] = item.split("/", 2);
        const v4 = validIpv4(addr) && /^\d+$/.test(bits) && Number(bits) <= 32;
        const v6 = validIpv6(addr) && /^\d+$/.test(bits) && Number(bits) <= 128;
        if (!v4 && !v6) this.#log(`'${item}' is not a valid address`, 729);
      } else if (item.includes("-")) {
        const [low = "", high = ""] = item.split("-", 2);
        const ok = (validIpv4(low) && validIpv4(high)) || (validIpv6(low) && validIpv6(high));
        if (!ok) this.#log(`'${item}' is not a valid address range`, 759);
      } else if (isValidIp(item)) out.push(item);
      else this.#log(`'${item}' is not a valid address`, 846);
    }
    return out;
  }

  #addHost(p: Params, domain: Domain): number {
    const ip = p.ip_address, mac = p.mac_address;
    if (isValidIp(ip)) {
      if (truthy(mac) && !isValidMac(mac)) {
        this.#log(`Failed to recognize MAC address: ${mac}`, 2945);
        return -1;
      }
    } else {
      if (truthy(ip)) {
        this.#log(`Failed to recognize IP address: ${ip}`, 2955);
        return -1;
      }
      if (!isValidMac(mac)) {
        this.#log(`Failed to recognize MAC address: ${mac ?? ""}`, 2961);
        return -1;
      }
    }
    const netmap = this.#leaf(domain);
    if (!netmap) return -1;
    if (isValidIp(ip)) {
      netmap.hosts.add(ip);
      if (isValidMac(mac)) netmap.macs.set(ip, mac);
    } else netmap.hosts.add(mac!);
    return 0;
  }

  // HandleCSVCmd_AddScanResult: checks, and the item queued for post-processing.
  #handleAddScanResult(c: Cmd): number {
    const p = c.params;
    if (!normaliseProto(p)) {
      this.#log(`Wrong protocol ${p.proto} entered`, 3595);
      return -1;
    }
    const vulnId = p.vuln_id;
    if (truthy(vulnId) && p.cve_id_list !== undefined && p.bugtraq_id_list !== undefined) {
      if (!this.#hasHeader(p.cve_id_list, "cve_ids:")) return -1;
      if (!this.#hasHeader(p.bugtraq_id_list, "bugtraq_ids:")) return -1;
      c.mapping = {
        vulnId,
        port: p.port,
        proto: p.proto,
        name: p.name,
        desc: p.desc,
        cveField: p.cve_id_list,
        bugtraqField: p.bugtraq_id_list,
        idList: undefined,
      };
      return 0;
    }
    if (!truthy(vulnId)) {
      c.generic = { port: p.port, proto: p.proto, name: p.name, desc: p.desc };
      return 0;
    }
    this.#log(
      `Wrong command syntax on Vuln ID: ${vulnId}, CVE: ${p.cve_id_list ?? ""}, BugTraq: ${
        p.bugtraq_id_list ?? ""
      }`,
      3628,
    );
    return -1;
  }

  // parseStringList, first part: the header must be there, anywhere (not anchored).
  #hasHeader(s: string, header: "cve_ids:" | "bugtraq_ids:"): boolean {
    if (HEADERS[header]!.test(s)) return true;
    this.#log(`CSV Error: can not find the header: '${header}' string in '${s}'`, 3546);
    return false;
  }

  // ProcessDeleteScan: picks what a DeleteScanResult deletes (at queue time, as the module).
  #processDeleteScan(c: Cmd, netmap: Domain | undefined): void {
    if (c.mapping || c.generic) return;
    const p = c.params;
    const row = this.#scanTypeByName(p.scanner_id);
    const hasVuln = row?.hasVulnInfo ?? false;
    const port = truthy(p.port), proto = truthy(p.proto);
    if (truthy(p.id_list) || (hasVuln && port && proto)) {
      c.flag = "delete";
      c.mapping = {
        vulnId: "",
        port: p.port,
        proto: p.proto,
        name: undefined,
        desc: undefined,
        cveField: undefined,
        bugtraqField: undefined,
        idList: truthy(p.id_list) ? p.id_list : this.#findVulnList(row?.name, p, netmap),
      };
    } else if (!truthy(p.scanner_id) && port && proto) {
      c.flag = "delete";
      p.scanner_id = this.fmc.scanTypes
        .filter((r) => !netmap || r.netmaps.has(netmap.uuid))
        .map((r) => r.name)
        .join(",");
    } else if (!truthy(p.id_list) && port && proto) {
      c.flag = "delete";
      c.generic = { port: p.port, proto: p.proto, name: undefined, desc: undefined };
    } else if (truthy(p.scanner_id) && !port && !proto) {
      c.flag = hasVuln ? "delete_all_vuln" : "delete_all_generic";
    } else if (!truthy(p.scanner_id) && !port && !proto) {
      c.flag = "delete_all";
    } else {
      this.#log("Wrong command syntax on DeleteScanResult", 3760);
    }
  }

  // FindVulnListByIdPortProto: the scanner's vulnerability IDs on the host at port/protocol.
  #findVulnList(scanner: string | undefined, p: Params, domain: Domain | undefined): string {
    if (!isValidIp(p.ip_address)) {
      this.#log(`'${p.ip_address ?? ""}' is not a valid address`, 846);
      return "";
    }
    if (scanner === undefined || !domain) return "";
    const results = this.fmc.netmaps.get(domain.uuid)?.results.get(p.ip_address)?.get(scanner);
    const port = perlNum(p.port), proto = protoName(p.proto);
    return [...results?.values() ?? []]
      .filter((r) => r.vulnId !== "" && perlNum(r.port) === port && r.proto === proto)
      .map((r) => r.vulnId)
      .join(",");
  }

  // PostProcessingCmds: every parsed command of the buffer, handled or not.
  #postProcess(cmds: Cmd[]): void {
    for (const c of cmds) {
      const ip = c.params.ip_address ?? "";
      if (c.cmd === "AddScanResult") {
        const scanner = truthy(c.params.scanner_id) ? c.params.scanner_id : "";
        queue(this.#addQueue, `${scanner}_${ip}`, c);
      } else if (c.cmd === "DeleteScanResult") {
        const flag = c.flag ?? "";
        const scanners = truthy(c.params.scanner_id) ? c.params.scanner_id : "";
        if (scanners === "" && c.flag) queue(this.#delQueue, `_${ip}_${flag}`, c);
        else {
          for (const name of perlSplitComma(scanners)) {
            const rec = cloneCmd(c);
            rec.params.scanner_id = name;
            this.#processDeleteScan(rec, this.#postNetmap);
            queue(this.#delQueue, `${name}_${ip}_${flag}`, rec);
          }
        }
      } else if (c.cmd === "ScanFlush") {
        this.#runAdds("flush");
      } else if (c.cmd === "ScanUpdate") {
        this.#runDeletes();
        this.#runAdds("update");
      }
    }
    if (!this.#socket) { // nmimport.pl: the end of the file is an update
      this.#runDeletes();
      this.#runAdds("update");
    }
  }

  // The network map the queues run against (_AddScanResult / _DeleteScanResult).
  #postMap(): NetworkMap | undefined {
    return this.#postNetmap
      ? this.fmc.netmaps.get(this.#postNetmap.uuid)!
      : this.#leaf(this.#switched);
  }

  #runAdds(action: "flush" | "update"): void {
    const groups = [...this.#addQueue.values()];
    this.#addQueue.clear();
    for (const group of groups) {
      const { ip_address: ip, scanner_id: scanner } = group[0]!.params;
      let rval = 0;
      if (!isValidIp(ip)) {
        this.#log(`Failed to recognize IP address: ${ip ?? ""}`, 3950);
        rval = -1;
      } else {
        const netmap = this.#postMap();
        if (!netmap) rval = -1;
        else {
          const mapped = group.flatMap((c) => (c.mapping ? [c.mapping] : []));
          const generic = group.flatMap((c) => (c.generic ? [c.generic] : []));
          const row = this.#sourceRow("scanner", scanner, netmap.domain, mapped.length > 0);
          // An undefined scanner type (empty, or digits naming no scanner): nothing is stored.
          if (row && this.fmc.storeResults) {
            netmap.applyResults(ip, row.name, [
              ...mapped.map(toResult),
              ...generic.map((g) => toResult({ ...g, vulnId: "" })),
            ], action === "flush");
          }
        }
      }
      if (rval !== 0) this.#result += scanFailure(group);
    }
  }

  #runDeletes(): void {
    const keys = [...this.#delQueue.keys()];
    const order: [DeleteFlag, RegExp][] = [
      ["delete_all", /_delete_all$/],
      ["delete_all_vuln", /_delete_all_vuln$/],
      ["delete_all_generic", /_delete_all_generic$/],
      ["delete", /_delete$/],
    ];
    const queued = this.#delQueue;
    this.#delQueue = new Map();
    for (const [flag, suffix] of order) {
      for (const key of keys.filter((k) => suffix.test(k))) this.#runDelete(flag, queued.get(key)!);
    }
  }

  #runDelete(flag: DeleteFlag, group: Cmd[]): void {
    const { ip_address: ip, scanner_id: scanner } = group[0]!.params;
    let rval = 0;
    if (!isValidIp(ip)) {
      this.#log(`Failed to recognize IP address: ${ip ?? ""}`, 4076);
      rval = -1;
    } else {
      const netmap = this.#postMap();
      if (!netmap) rval = -1;
      else {
        const mapped = group.flatMap((c) => (c.mapping ? [c.mapping] : []));
        const generic = group.flatMap((c) => (c.generic ? [c.generic] : []));
        const row = truthy(scanner)
          ? this.#sourceRow("scanner", scanner, netmap.domain, mapped.length > 0)
          : undefined;
        if (flag === "delete_all") netmap.deleteResults(ip, undefined, "all");
        else if (row && flag === "delete_all_vuln") netmap.deleteResults(ip, row.name, "vuln");
        else if (row && flag === "delete_all_generic") {
          netmap.deleteResults(ip, row.name, "generic");
        } else if (flag === "delete" && (row || !truthy(scanner))) {
          netmap.deleteResults(ip, row?.name, (r) => matchesDelete(r, mapped, generic));
        }
      }
    }
    if (rval !== 0) this.#result += scanFailure(group);
  }
}

// proto: `tcp` → 6, `udp` → 17 (exact strings), then any other true value must be 6 or 17 as a
// number. Returns false for a wrong protocol; the params keep the converted value.
function normaliseProto(p: Params): boolean {
  if (p.proto === "tcp") p.proto = "6";
  else if (p.proto === "udp") p.proto = "17";
  if (!truthy(p.proto)) return true;
  const n = perlNum(p.proto);
  return n === 6 || n === 17;
}

function matchesDelete(r: MapResult, mapped: MappingItem[], generic: GenericItem[]): boolean {
  const at = (port: string | undefined, proto: string | undefined) =>
    perlNum(r.port) === perlNum(port) && r.proto === protoName(proto);
  if (r.vulnId === "") return generic.some((g) => at(g.port, g.proto));
  return mapped.some((m) =>
    (m.idList ?? "").split(",").some((id) => id.trim() !== "" && id.trim() === r.vulnId) &&
    (!truthy(m.port) || at(m.port, m.proto))
  );
}

// parseStringList, second part: the first header and every sub-header removed, then split.
function idList(s: string | undefined, header: "cve_ids:" | "bugtraq_ids:", sub?: string) {
  if (s === undefined) return [];
  let rest = s.replace(HEADERS[header]!, "");
  if (sub !== undefined) { while (rest.includes(sub)) rest = rest.replace(sub, ""); }
  const list = rest.split(/[ \t\n\r\f\v]+/);
  while (list.length > 0 && list[list.length - 1] === "") list.pop();
  return list;
}

function toResult(
  m: Omit<MappingItem, "idList" | "cveField" | "bugtraqField"> & Partial<MappingItem>,
): MapResult {
  return {
    vulnId: m.vulnId,
    port: m.port ?? "",
    proto: protoName(m.proto),
    name: m.name ?? "",
    desc: m.desc ?? "",
    cves: idList(m.cveField, "cve_ids:", "CVE-").map((c) => `CVE-${c}`),
    bugtraqs: idList(m.bugtraqField, "bugtraq_ids:"),
  };
}

// formatScanResult + formatScanCmds.
function scanFailure(group: Cmd[]): string {
  const first = group[0]!;
  return `Failure to Run Scan API: \nCommand: ${first.cmd}, IP: ${
    first.params.ip_address ?? ""
  }, vuln_count = ${group.length}\n\n\n`;
}

// getCmdInfo: " Command: X field: value ..." for the fields that are defined.
function cmdInfo(c: Cmd): string {
  let s = ` Command: ${c.cmd}`;
  for (const f of HOST_INPUT_FIELDS[c.cmd] ?? []) {
    const v = c.params[f];
    if (v !== undefined) s += ` ${f}: ${v}`;
  }
  return s;
}

function queue(q: Map<string, Cmd[]>, key: string, c: Cmd): void {
  const list = q.get(key);
  if (list) list.push(c);
  else q.set(key, [c]);
}

function cloneCmd(c: Cmd): Cmd {
  return structuredClone(c);
}

// Perl `split ',', $s`: trailing empty fields dropped, an empty string gives none.
function perlSplitComma(s: string): string[] {
  const parts = s.split(",");
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** What a replay of a command file produced. */
export interface ReplayOutcome {
  /** The answer to each DATA message (undefined after the module died). */
  answers: (string | undefined)[];
  /** The result text of the disconnect (queued results run as update); nobody receives it. */
  closing: string;
  /** Why the module died, if it did. */
  died: string | undefined;
  /** The session, for its state (source, map, recorded log lines). */
  session: HostInputSession;
}

/**
 * Replays DATA messages as one connection: each is handled in turn, and the end counts as the
 * client's disconnect (queued results run as ScanUpdate), as `nmimport.pl` ends a file.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FmcState } from "./fmc_state.ts";
 * const fmc = new FmcState();
 * const r = replayCommands(fmc, [
 *   'SetSource,QualysGuard Scan Report\nAddScanResult,10.0.0.1,"QG",38170,443,tcp,"t","d","cve_ids:","bugtraq_ids:"\n',
 * ]);
 * assert.equal(r.answers[0], "Done processing 1 commands.\n");
 * assert.deepEqual(Object.keys(fmc.netmap("Global").dump()), ["10.0.0.1"]); // run at the end
 * ```
 */
export function replayCommands(
  fmc: FmcState,
  messages: string | readonly string[],
  options: SessionOptions = {},
): ReplayOutcome {
  const session = new HostInputSession(fmc, options);
  const answers: (string | undefined)[] = [];
  let died: string | undefined;
  for (const m of typeof messages === "string" ? [messages] : messages) {
    if (died) {
      answers.push(undefined);
      continue;
    }
    const r = session.handle(m);
    answers.push(r.answer);
    died = r.died;
  }
  return { answers, closing: died ? "" : session.disconnect(), died, session };
}
