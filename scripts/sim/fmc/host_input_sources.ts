/**
 * The host input module's source tables: applications and scanners (`rna_source_app_str`,
 * `rna_scan_type`), each known per network map. A name is put into the module's SQL by
 * interpolation, so a quote in it ends the module ({@linkcode ModuleDeath}), all digits name an
 * existing ID, empty is an undefined source, and an unknown name is a new source.
 *
 * @module
 */

import { type Domain, type FmcState, perlNum, type SourceRow } from "./fmc_state.ts";
import { ModuleDeath, truthy } from "./host_input_grammar.ts";

/** Source type IDs of rna_source_type_str, by name (MySQL compares them case-insensitively). */
export const SOURCE_TYPES: Record<string, number> = { user: 1, scanner: 2, application: 3 };
/** The scanner and application source types. */
export const SOURCE_TYPE_SCAN = 2, SOURCE_TYPE_APP = 3;

/** The source set with SetSource. */
export interface CurrentSource {
  /** Application or scanner source. */
  kind: "application" | "scanner";
  /** Its ID. */
  id: number;
  /** Its name. */
  name: string;
}

/** GetSourceIDByName: the source SetSource names, in `domain`'s network map. */
export function findSource(
  fmc: FmcState,
  request: {
    type: number | undefined;
    name: string | undefined;
    option: string | undefined;
    domain: Domain;
  },
): CurrentSource | undefined {
  const { type, name, option, domain } = request;
  if (type !== undefined && type < SOURCE_TYPE_SCAN) return undefined;
  if (type === SOURCE_TYPE_SCAN) {
    const hasVuln = !(option !== undefined && (option === "generic" || perlNum(option) === 0));
    const row = sourceRow(fmc, { kind: "scanner", name, domain, hasVulnInfo: hasVuln });
    return row && { kind: "scanner", id: row.id, name: row.name };
  }
  const row = sourceRow(fmc, { kind: "application", name, domain, hasVulnInfo: true });
  return row && { kind: "application", id: row.id, name: row.name };
}

/** findAppTypeID / findScanTypeID: an ID, a known name, or a new source. */
export function sourceRow(
  fmc: FmcState,
  wanted: {
    kind: "application" | "scanner";
    name: string | undefined;
    domain: Domain;
    hasVulnInfo: boolean;
  },
): SourceRow | undefined {
  const { kind, name, domain, hasVulnInfo } = wanted;
  const rows = kind === "scanner" ? fmc.scanTypes : fmc.appSources;
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

/** GetScanTypeByName: `select ... where name="$name"`. */
export function scanTypeByName(fmc: FmcState, name: string | undefined): SourceRow | undefined {
  if (!truthy(name)) return undefined;
  if (name.includes('"')) {
    throw new ModuleDeath(
      `Database Error: the quote in scanner name '${name}' breaks the SQL statement ` +
        `(GetScanTypeByName builds it by interpolation)`,
    );
  }
  return fmc.scanTypes.find((r) => r.name === name);
}
