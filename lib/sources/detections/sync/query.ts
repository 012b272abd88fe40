/**
 * What a detection run asks Qualys for: the Host List Detection and Host List parameters of its
 * filters (incremental from a checkpoint, or full), and the hash of them that a saved state is
 * made under (a state made under other filters means a full sync).
 *
 * @module
 */

import type { QualysConfig } from "../../../config/read_config.ts";
import { shortHash } from "../../../state/state_dir.ts";
import { OVERLAP_SECONDS, secondsBefore } from "../state/sync_state.ts";

/**
 * The hash of what a run asks for: a state made under another one means a full sync.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../../../config/read_config.ts";
 * const a = await queryHash(defaultConfig());
 * assert.match(a, /^[0-9a-f]{16}$/);
 * const other = { ...defaultConfig().output, scannerName: "Other" };
 * assert.notEqual(await queryHash({ ...defaultConfig(), output: other }), a);
 * ```
 */
export function queryHash(config: QualysConfig): Promise<string> {
  return shortHash(JSON.stringify({
    url: config.account.url,
    user: config.account.userId ?? "",
    severities: config.source.severities ?? "all",
    types: config.source.vulnTypes,
    agIds: config.source.assetGroupIds ?? "all",
    ipRanges: config.source.ipRanges?.source.replace(/\s+/g, "") ?? "all",
    scanner: config.output.scannerName,
  }));
}

/** The parameters of a run's calls. */
export interface QueryParams {
  /** Host List Detection: the filters, without `action`, paging or ID bounds. */
  params: Record<string, string>;
  /** Host List: the host filters of the same query. */
  hostParams: Record<string, string>;
}

/**
 * The Host List Detection and Host List parameters of a run: incremental from `since` (less
 * {@linkcode OVERLAP_SECONDS}), else full; `fixed` asks for Fixed detections too (always in an
 * incremental run; in a full run whose list of the hosts the destination holds was lost with a
 * damaged state, so that hosts whose findings are all fixed are cleared all the same).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../../../config/read_config.ts";
 * const q = queryParams(defaultConfig(), "2026-03-02T06:00:00Z");
 * assert.equal(q.hostParams.vm_processed_after, "2026-03-02T05:55:00Z");
 * assert.equal(q.params.status, "New,Active,Re-Opened,Fixed");
 * ```
 */
export function queryParams(
  config: QualysConfig,
  since: string | undefined,
  fixed = since !== undefined,
): QueryParams {
  const hostParams: Record<string, string> = {};
  const ips = config.source.ipRanges?.ipv4Ranges();
  if (ips) hostParams.ips = ips.join(",");
  if (config.source.assetGroupIds) hostParams.ag_ids = config.source.assetGroupIds.join(",");
  if (since !== undefined) {
    hostParams.vm_processed_after = secondsBefore(since, OVERLAP_SECONDS);
  }
  const params: Record<string, string> = {
    ...hostParams,
    show_results: "0",
    status: fixed ? "New,Active,Re-Opened,Fixed" : "New,Active,Re-Opened",
  };
  const types = config.source.vulnTypes;
  const confirmed = types.includes("confirmed"), potential = types.includes("potential");
  if (confirmed !== potential) params.include_vuln_type = confirmed ? "confirmed" : "potential";
  if (types.includes("info")) params.show_igs = "1";
  if (config.source.severities) params.severities = config.source.severities.join(",");
  return { params, hostParams };
}
