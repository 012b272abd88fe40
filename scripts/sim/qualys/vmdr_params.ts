/**
 * The parameters of the simulator's VMDR routes, read as Qualys reads them: each API takes the
 * parameters listed here, and one the simulator does not implement is refused (HTTP 400, CODE
 * 1901) rather than silently ignored, so a client never tests against a filter that did nothing;
 * a malformed value is CODE 1905. Host List Detection and Host List parameters become a
 * {@linkcode VmdrQuery} over the subscription; KnowledgeBase parameters become QID filters.
 *
 * @module
 */

import {
  DETECTION_STATUSES,
  type DetectionStatus,
  type DetectionType,
  formatIpv6,
  type IdRange,
  parseIpv4,
  parseQualysDate,
  type VmdrQuery,
  type VmdrSubscription,
} from "./subscription/mod.ts";
import type { VmdrApi } from "./versions.ts";
import type { HostXmlOptions } from "./vmdr_xml.ts";

/** The parameters each API takes. */
export const PARAMS: Record<VmdrApi, ReadonlySet<string>> = {
  detection: new Set([
    "action",
    "truncation_limit",
    "status",
    "vm_processed_after",
    "vm_processed_before",
    "detection_updated_since",
    "detection_updated_before",
    "severities",
    "include_vuln_type",
    "show_igs",
    "qids",
    "ids",
    "id_min",
    "id_max",
    "ips",
    "ipv6",
    "ag_ids",
    "ag_titles",
    "network_ids",
    "show_results",
    "show_qds",
    "show_qds_factors",
    "show_tags",
    "show_asset_id",
    "echo_request",
    "output_format",
    // accepted, no effect here: the subscription has no ignored or disabled detections
    "include_ignored",
    "include_disabled",
    // output options the simulator does not write
    "show_reopened_info",
    "suppress_duplicated_data_from_csv",
  ]),
  host: new Set([
    "action",
    "details",
    "truncation_limit",
    "ids",
    "id_min",
    "id_max",
    "ips",
    "ipv6",
    "ag_ids",
    "ag_titles",
    "network_ids",
    "vm_processed_after",
    "vm_processed_before",
    "show_asset_id",
    "show_tags",
    "echo_request",
  ]),
  kb: new Set([
    "action",
    "details",
    "ids",
    "id_min",
    "id_max",
    "last_modified_after",
    "last_modified_before",
    "published_after",
    "published_before",
    "echo_request",
    "show_disabled_flag",
    "show_pci_reasons",
    "show_supported_modules_info",
  ]),
};

/** A refused call: HTTP 400 with this SIMPLE_RETURN CODE and TEXT. */
export class BadRequest extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function intParam(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()) || +value < min || +value > max) {
    throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
  }
  return +value;
}

function rangesParam(name: string, value: string, max = 4294967295): IdRange[] {
  const out: IdRange[] = [];
  for (const part of value.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
    const lo = +m[1]!, hi = m[2] === undefined ? lo : +m[2];
    if (hi < lo || hi > max) throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
    out.push([lo, hi]);
  }
  return out;
}

function ipv4Param(value: string): IdRange[] {
  const bad = () => new BadRequest("1905", `Invalid value for ips: ${value}`);
  const out: IdRange[] = [];
  for (const raw of value.split(",")) {
    const part = raw.trim();
    const slash = part.indexOf("/");
    if (slash >= 0) {
      const base = parseIpv4(part.slice(0, slash)), bits = Number(part.slice(slash + 1));
      if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) throw bad();
      const size = 2 ** (32 - bits);
      const lo = Math.floor(base / size) * size;
      out.push([lo, lo + size - 1]);
      continue;
    }
    const [a, b] = part.split("-");
    const lo = parseIpv4(a ?? ""), hi = b === undefined ? lo : parseIpv4(b);
    if (lo === undefined || hi === undefined || hi < lo) throw bad();
    out.push([lo, hi]);
  }
  return out;
}

function ipv6Param(value: string): string[] {
  return value.split(",").map((v) => {
    const s = v.trim().toLowerCase();
    if (!/^[0-9a-f:]+$/.test(s) || !s.includes(":")) {
      throw new BadRequest("1905", `Invalid value for ipv6: ${value}`);
    }
    const [head, tail] = s.includes("::") ? s.split("::") as [string, string] : [s, undefined];
    const h = head ? head.split(":") : [], t = tail ? tail.split(":") : [];
    const groups = tail === undefined
      ? h
      : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    if (groups.length !== 8 || groups.some((x) => !/^[0-9a-f]{1,4}$/.test(x))) {
      throw new BadRequest("1905", `Invalid value for ipv6: ${value}`);
    }
    return formatIpv6(groups.map((x) => parseInt(x, 16)));
  });
}

function dateParam(name: string, value: string): number {
  const t = parseQualysDate(value);
  if (t === undefined) throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
  return t;
}

function flagParam(name: string, value: string | undefined, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (value !== "0" && value !== "1") {
    throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
  }
  return value === "1";
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Host List Detection and Host List parameters, read. */
export interface HostParams {
  /** The filters. */
  q: VmdrQuery;
  /** truncation_limit (0: none). */
  limit: number;
  /** Host List `details`. */
  details: "None" | "Basic" | "All";
  /** Host List Detection: how each HOST is written. */
  hostOpts: HostXmlOptions | undefined;
  /** echo_request. */
  echo: boolean;
  /** show_asset_id. */
  showAssetId: boolean;
  /** show_tags. */
  showTags: boolean;
}

/** Reads the parameters `p` of a Host List Detection or Host List call (`call.api`) over
 * `call.sub`; `unknownElements` and `v5Elements` say what its pages write besides.
 * @throws {BadRequest} On a malformed value (CODE 1905).
 */
export function hostParams(
  p: Record<string, string>,
  call: {
    api: "detection" | "host";
    sub: VmdrSubscription;
    unknownElements: boolean;
    v5Elements: boolean;
  },
): HostParams {
  const { api, sub } = call, o = call;
  const q: Mutable<VmdrQuery> = {};
  const limit = p.truncation_limit === undefined
    ? 1000
    : intParam("truncation_limit", p.truncation_limit, 0, 1_000_000);
  if (p.ids !== undefined) q.ids = rangesParam("ids", p.ids);
  if (p.id_min !== undefined) q.idMin = intParam("id_min", p.id_min, 0, 4294967295);
  if (p.id_max !== undefined) q.idMax = intParam("id_max", p.id_max, 0, 4294967295);
  if (p.ips !== undefined) q.ipv4 = ipv4Param(p.ips);
  if (p.ipv6 !== undefined) q.ipv6 = ipv6Param(p.ipv6);
  if (p.ag_ids !== undefined) {
    const ranges = rangesParam("ag_ids", p.ag_ids);
    const ids = sub.assetGroups.map((g) => g.id).filter((id) =>
      ranges.some(([lo, hi]) => id >= lo && id <= hi)
    );
    const asked = ranges.reduce((n, [lo, hi]) => n + (hi - lo + 1), 0);
    if (asked <= 64 && ids.length < asked) {
      throw new BadRequest("1905", `Invalid value for ag_ids: ${p.ag_ids}`);
    }
    q.agIds = ids;
  }
  if (p.ag_titles !== undefined) {
    const titles = p.ag_titles.split(",").map((s) => s.trim());
    const ids = sub.assetGroups.filter((g) => titles.includes(g.title)).map((g) => g.id);
    if (ids.length < titles.length) {
      throw new BadRequest("1905", `Invalid value for ag_titles: ${p.ag_titles}`);
    }
    q.agIds = q.agIds ? q.agIds.filter((id) => ids.includes(id)) : ids;
  }
  if (p.network_ids !== undefined) {
    const ranges = rangesParam("network_ids", p.network_ids);
    q.networkIds = sub.networkIds.filter((id) => ranges.some(([lo, hi]) => id >= lo && id <= hi));
  }
  if (p.vm_processed_after !== undefined) {
    q.vmProcessedAfter = dateParam("vm_processed_after", p.vm_processed_after);
  }
  if (p.vm_processed_before !== undefined) {
    q.vmProcessedBefore = dateParam("vm_processed_before", p.vm_processed_before);
  }
  const showAssetId = flagParam("show_asset_id", p.show_asset_id, false);
  const showTags = flagParam("show_tags", p.show_tags, false);
  const echo = flagParam("echo_request", p.echo_request, false);
  let details: "None" | "Basic" | "All" = "Basic";
  let hostOpts: HostXmlOptions | undefined;
  if (api === "detection") {
    if (p.status !== undefined) {
      const statuses = p.status.split(",").map((s) => {
        const hit = DETECTION_STATUSES.find((x) => x.toLowerCase() === s.trim().toLowerCase());
        if (!hit) throw new BadRequest("1905", `Invalid value for status: ${p.status}`);
        return hit;
      });
      q.statuses = [...new Set<DetectionStatus>(statuses)];
    } else {
      q.statuses = ["New", "Active", "Re-Opened"];
    }
    if (p.severities !== undefined) {
      q.severities = [
        ...new Set(
          rangesParam("severities", p.severities, 5).flatMap(([lo, hi]) => {
            if (lo < 1) {
              throw new BadRequest("1905", `Invalid value for severities: ${p.severities}`);
            }
            return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
          }),
        ),
      ];
    }
    const types: DetectionType[] = [];
    if (p.include_vuln_type !== undefined) {
      for (const v of p.include_vuln_type.split(",").map((s) => s.trim().toLowerCase())) {
        if (v === "confirmed") types.push("Confirmed");
        else if (v === "potential") types.push("Potential");
        else {throw new BadRequest(
            "1905",
            `Invalid value for include_vuln_type: ${p.include_vuln_type}`,
          );}
      }
    } else types.push("Confirmed", "Potential");
    if (flagParam("show_igs", p.show_igs, false)) types.push("Info");
    q.types = types;
    if (p.qids !== undefined) q.qids = rangesParam("qids", p.qids);
    if (p.detection_updated_since !== undefined) {
      q.detectionUpdatedSince = dateParam("detection_updated_since", p.detection_updated_since);
    }
    if (p.detection_updated_before !== undefined) {
      q.detectionUpdatedBefore = dateParam(
        "detection_updated_before",
        p.detection_updated_before,
      );
    }
    if (p.output_format !== undefined && p.output_format.toUpperCase() !== "XML") {
      throw new BadRequest("1905", `Invalid value for output_format: ${p.output_format}`);
    }
    flagParam("include_ignored", p.include_ignored, false);
    flagParam("include_disabled", p.include_disabled, false);
    hostOpts = {
      showResults: flagParam("show_results", p.show_results, true),
      showQds: flagParam("show_qds", p.show_qds, false),
      showQdsFactors: flagParam("show_qds_factors", p.show_qds_factors, false),
      showTags,
      showAssetId,
      unknownElements: o.unknownElements,
      v5Elements: o.v5Elements,
      keepAliveInside: false,
    };
  } else if (p.details !== undefined) {
    const d = p.details.split("/")[0]!;
    if (d !== "None" && d !== "Basic" && d !== "All") {
      throw new BadRequest("1905", `Invalid value for details: ${p.details}`);
    }
    details = d;
  }
  return { q, limit, details, hostOpts, echo, showAssetId, showTags };
}

/** KnowledgeBase parameters, read. */
export interface KbParams {
  /** ids. */
  ids: IdRange[] | undefined;
  /** id_min. */
  idMin: number | undefined;
  /** id_max. */
  idMax: number | undefined;
  /** last_modified_after, epoch seconds. */
  after: number | undefined;
  /** last_modified_before, epoch seconds. */
  before: number | undefined;
  /** published_after, epoch seconds. */
  pubAfter: number | undefined;
  /** published_before, epoch seconds. */
  pubBefore: number | undefined;
  /** details. */
  details: "None" | "Basic" | "All";
  /** echo_request. */
  echo: boolean;
}

/** Reads the parameters `p` of a KnowledgeBase call.
 * @throws {BadRequest} On a malformed value (CODE 1905).
 */
export function kbParams(p: Record<string, string>): KbParams {
  const ids = p.ids === undefined ? undefined : rangesParam("ids", p.ids);
  const idMin = p.id_min === undefined ? undefined : intParam("id_min", p.id_min, 0, 4294967295);
  const idMax = p.id_max === undefined ? undefined : intParam("id_max", p.id_max, 0, 4294967295);
  const after = p.last_modified_after === undefined
    ? undefined
    : dateParam("last_modified_after", p.last_modified_after);
  const before = p.last_modified_before === undefined
    ? undefined
    : dateParam("last_modified_before", p.last_modified_before);
  const pubAfter = p.published_after === undefined
    ? undefined
    : dateParam("published_after", p.published_after);
  const pubBefore = p.published_before === undefined
    ? undefined
    : dateParam("published_before", p.published_before);
  let details: "None" | "Basic" | "All" = "Basic";
  if (p.details !== undefined) {
    if (p.details !== "None" && p.details !== "Basic" && p.details !== "All") {
      throw new BadRequest("1905", `Invalid value for details: ${p.details}`);
    }
    details = p.details;
  }
  const echo = flagParam("echo_request", p.echo_request, false);
  return { ids, idMin, idMax, after, before, pubAfter, pubBefore, details, echo };
}
