/**
 * The host input module's scan results: AddScanResult and DeleteScanResult lines queued per
 * `<scanner>_<ip>` (even when they failed), and run when ScanFlush (replace, per host and
 * scanner), ScanUpdate (the queued DeleteScanResults, delete-all, all-vuln, all-generic, then
 * specific, and a merge) or a disconnect (what is left, as deletes + update) comes, against the
 * network map post-processing points at. Failures found while the queues run come after the
 * `Done processing` line.
 *
 * @module
 */

import {
  type Domain,
  type FmcState,
  type MapResult,
  type NetworkMap,
  perlNum,
} from "./fmc_state.ts";
import {
  cloneCmd,
  type Cmd,
  type DeleteFlag,
  type GenericItem,
  HEADERS,
  isValidIp,
  type MappingItem,
  normaliseProto,
  type Params,
  perlSplitComma,
  protoName,
  truthy,
} from "./host_input_grammar.ts";
import { scanTypeByName, sourceRow } from "./host_input_sources.ts";

/** What the scan queues need of the module's connection. */
export interface ModuleContext {
  /** The FMC. */
  readonly fmc: FmcState;
  /** AddLog: a log line with the module's `[file,line]` suffix, in the answer text. */
  log(message: string, line: number): void;
  /** Appends `text` to the answer text (a failure of a queued command). */
  fail(text: string): void;
  /** The network map the queues run against (_AddScanResult / _DeleteScanResult). */
  postMap(): NetworkMap | undefined;
}

/** One connection's scan queues. */
export class ScanQueues {
  readonly #m: ModuleContext;
  #add = new Map<string, Cmd[]>();
  #del = new Map<string, Cmd[]>();

  /** Empty queues of the connection `module`. */
  constructor(module: ModuleContext) {
    this.#m = module;
  }

  /** AddScanResult lines queued and not yet run. */
  get queuedAdds(): number {
    let n = 0;
    for (const q of this.#add.values()) n += q.length;
    return n;
  }

  /** Drops what is queued (the module died, or the connection ended). */
  clear(): void {
    this.#add.clear();
    this.#del.clear();
  }

  // HandleCSVCmd_AddScanResult: checks, and the item queued for post-processing.
  handleAdd(c: Cmd): number {
    const p = c.params;
    if (!normaliseProto(p)) {
      this.#m.log(`Wrong protocol ${p.proto} entered`, 3595);
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
    this.#m.log(
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
    this.#m.log(`CSV Error: can not find the header: '${header}' string in '${s}'`, 3546);
    return false;
  }

  // ProcessDeleteScan: picks what a DeleteScanResult deletes (at queue time, as the module).
  processDelete(c: Cmd, netmap: Domain | undefined): void {
    if (c.mapping || c.generic) return;
    const p = c.params;
    const row = scanTypeByName(this.#m.fmc, p.scanner_id);
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
      p.scanner_id = this.#m.fmc.scanTypes
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
      this.#m.log("Wrong command syntax on DeleteScanResult", 3760);
    }
  }

  // FindVulnListByIdPortProto: the scanner's vulnerability IDs on the host at port/protocol.
  #findVulnList(scanner: string | undefined, p: Params, domain: Domain | undefined): string {
    if (!isValidIp(p.ip_address)) {
      this.#m.log(`'${p.ip_address ?? ""}' is not a valid address`, 846);
      return "";
    }
    if (scanner === undefined || !domain) return "";
    const results = this.#m.fmc.netmaps.get(domain.uuid)?.results.get(p.ip_address)?.get(scanner);
    const port = perlNum(p.port), proto = protoName(p.proto);
    return [...results?.values() ?? []]
      .filter((r) => r.vulnId !== "" && perlNum(r.port) === port && r.proto === proto)
      .map((r) => r.vulnId)
      .join(",");
  }

  // PostProcessingCmds: every parsed command of the buffer, handled or not.
  postProcess(cmds: Cmd[], postNetmap: Domain | undefined): void {
    for (const c of cmds) {
      const ip = c.params.ip_address ?? "";
      if (c.cmd === "AddScanResult") {
        const scanner = truthy(c.params.scanner_id) ? c.params.scanner_id : "";
        queue(this.#add, `${scanner}_${ip}`, c);
      } else if (c.cmd === "DeleteScanResult") {
        const flag = c.flag ?? "";
        const scanners = truthy(c.params.scanner_id) ? c.params.scanner_id : "";
        if (scanners === "" && c.flag) queue(this.#del, `_${ip}_${flag}`, c);
        else {
          for (const name of perlSplitComma(scanners)) {
            const rec = cloneCmd(c);
            rec.params.scanner_id = name;
            this.processDelete(rec, postNetmap);
            queue(this.#del, `${name}_${ip}_${flag}`, rec);
          }
        }
      } else if (c.cmd === "ScanFlush") {
        this.runAdds("flush");
      } else if (c.cmd === "ScanUpdate") {
        this.runDeletes();
        this.runAdds("update");
      }
    }
  }

  runAdds(action: "flush" | "update"): void {
    const groups = [...this.#add.values()];
    this.#add.clear();
    for (const group of groups) {
      const { ip_address: ip, scanner_id: scanner } = group[0]!.params;
      let rval = 0;
      if (!isValidIp(ip)) {
        this.#m.log(`Failed to recognize IP address: ${ip ?? ""}`, 3950);
        rval = -1;
      } else {
        const netmap = this.#m.postMap();
        if (!netmap) rval = -1;
        else {
          const mapped = group.flatMap((c) => (c.mapping ? [c.mapping] : []));
          const generic = group.flatMap((c) => (c.generic ? [c.generic] : []));
          const row = sourceRow(this.#m.fmc, {
            kind: "scanner",
            name: scanner,
            domain: netmap.domain,
            hasVulnInfo: mapped.length > 0,
          });
          // An undefined scanner type (empty, or digits naming no scanner): nothing is stored.
          if (row && this.#m.fmc.storeResults) {
            netmap.applyResults(ip, row.name, [
              ...mapped.map(toResult),
              ...generic.map((g) => toResult({ ...g, vulnId: "" })),
            ], action === "flush");
          }
        }
      }
      if (rval !== 0) this.#m.fail(scanFailure(group));
    }
  }

  runDeletes(): void {
    const keys = [...this.#del.keys()];
    const order: [DeleteFlag, RegExp][] = [
      ["delete_all", /_delete_all$/],
      ["delete_all_vuln", /_delete_all_vuln$/],
      ["delete_all_generic", /_delete_all_generic$/],
      ["delete", /_delete$/],
    ];
    const queued = this.#del;
    this.#del = new Map();
    for (const [flag, suffix] of order) {
      for (const key of keys.filter((k) => suffix.test(k))) this.#runDelete(flag, queued.get(key)!);
    }
  }

  #runDelete(flag: DeleteFlag, group: Cmd[]): void {
    const { ip_address: ip, scanner_id: scanner } = group[0]!.params;
    let rval = 0;
    if (!isValidIp(ip)) {
      this.#m.log(`Failed to recognize IP address: ${ip ?? ""}`, 4076);
      rval = -1;
    } else {
      const netmap = this.#m.postMap();
      if (!netmap) rval = -1;
      else {
        const mapped = group.flatMap((c) => (c.mapping ? [c.mapping] : []));
        const generic = group.flatMap((c) => (c.generic ? [c.generic] : []));
        const row = truthy(scanner)
          ? sourceRow(this.#m.fmc, {
            kind: "scanner",
            name: scanner,
            domain: netmap.domain,
            hasVulnInfo: mapped.length > 0,
          })
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
    if (rval !== 0) this.#m.fail(scanFailure(group));
  }
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

function queue(q: Map<string, Cmd[]>, key: string, c: Cmd): void {
  const list = q.get(key);
  if (list) list.push(c);
  else q.set(key, [c]);
}
