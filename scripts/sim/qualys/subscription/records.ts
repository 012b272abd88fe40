/**
 * What the simulated VMDR subscription is made of, as the Host List Detection, Host List and
 * KnowledgeBase APIs describe it: detection statuses and types, the query filters those APIs
 * take, and the host, detection and KnowledgeBase records the subscription hands out.
 *
 * @module
 */

/** A detection's status, as the Host List Detection API writes it. */
export type DetectionStatus = "New" | "Active" | "Fixed" | "Re-Opened";
/** A detection's TYPE in Host List Detection output. */
export type DetectionType = "Confirmed" | "Potential" | "Info";
/** A QID's VULN_TYPE in the KnowledgeBase. */
export type VulnType =
  | "Vulnerability"
  | "Potential Vulnerability"
  | "Information Gathered"
  | "Vulnerability or Potential Vulnerability";
/** An inclusive range of integers (host IDs, QIDs, or IPv4 addresses as unsigned 32-bit). */
export type IdRange = readonly [number, number];

/** The four statuses, in the order of their internal codes. */
export const DETECTION_STATUSES: readonly DetectionStatus[] = [
  "New",
  "Active",
  "Fixed",
  "Re-Opened",
];
/** The open statuses: what a connector must show as present. */
export const OPEN_STATUSES: readonly DetectionStatus[] = ["New", "Active", "Re-Opened"];
/** The three detection types, in the order of their internal codes. */
export const DETECTION_TYPES: readonly DetectionType[] = ["Confirmed", "Potential", "Info"];
/** The four VULN_TYPEs, in the order of their internal codes. */
export const VULN_TYPES: readonly VulnType[] = [
  "Vulnerability",
  "Potential Vulnerability",
  "Information Gathered",
  "Vulnerability or Potential Vulnerability",
];

/** The host-level and detection-level filters of the Host List Detection API, parsed. */
export interface VmdrQuery {
  /** Detection statuses. @default {["New", "Active", "Re-Opened"]} */
  statuses?: readonly DetectionStatus[];
  /** Detection types. @default {["Confirmed", "Potential"]} */
  types?: readonly DetectionType[];
  /** Severities 1–5. @default all */
  severities?: readonly number[];
  /** QID ranges (`qids`). */
  qids?: readonly IdRange[];
  /** Host ID ranges (`ids`). */
  ids?: readonly IdRange[];
  /** Lowest host ID (`id_min`). */
  idMin?: number;
  /** Highest host ID (`id_max`). */
  idMax?: number;
  /** IPv4 ranges as unsigned 32-bit integers (`ips`); hosts without IPv4 never match. */
  ipv4?: readonly IdRange[];
  /** IPv6 addresses, canonical form (`ipv6`); hosts without IPv6 never match. */
  ipv6?: readonly string[];
  /** Asset group IDs (`ag_ids`); a host matches when it is in any of them. */
  agIds?: readonly number[];
  /** Network IDs (`network_ids`). */
  networkIds?: readonly number[];
  /** Hosts whose VM data was processed strictly after this time, epoch seconds. */
  vmProcessedAfter?: number;
  /** Hosts whose VM data was processed strictly before this time, epoch seconds. */
  vmProcessedBefore?: number;
  /** Detections whose LAST_UPDATE_DATETIME is at or after this time, epoch seconds. */
  detectionUpdatedSince?: number;
  /** Detections whose LAST_UPDATE_DATETIME is strictly before this time, epoch seconds. */
  detectionUpdatedBefore?: number;
}

/** One asset group of the subscription. */
export interface AssetGroup {
  /** Its ID (`ag_ids`). */
  id: number;
  /** Its title (`ag_titles`). */
  title: string;
}

/** One host, as the API describes it. Times are epoch seconds. */
export interface HostRecord {
  /** Position in ID order (stable: hosts are only ever appended). */
  index: number;
  /** Host ID. */
  id: number;
  /** Asset ID (`show_asset_id=1`). */
  assetId: number;
  /** IPv4 address, dotted, or null for an IPv6-only host. */
  ip: string | null;
  /** IPv6 address, canonical (RFC 5952), or null. */
  ipv6: string | null;
  /** IP, DNS, NETBIOS or QAGENT. */
  trackingMethod: string;
  /** Network ID. */
  networkId: number;
  /** Operating system string, as Qualys writes it. */
  os: string;
  /** `cpe:/o:vendor:product:version…`, or null when Qualys gave none. */
  osCpe: string | null;
  /** Fully qualified name, or null. */
  fqdn: string | null;
  /** NetBIOS name, or null. */
  netbios: string | null;
  /** Asset group IDs. */
  agIds: number[];
  /** Last VM scan (LAST_VM_SCANNED_DATE). */
  lastScan: number;
  /** Its duration in seconds. */
  scanDuration: number;
  /** When its VM data was processed (what `vm_processed_after` compares). */
  processed: number;
  /** Whether the last scan was authenticated (or by the agent). */
  authenticated: boolean;
  /** Cloud instance ID for cloud hosts, or null. */
  cloudInstance: string | null;
  /** Asset criticality score 1–5 (an element the connector ignores). */
  criticality: number;
}

/** One detection. The same object is reused by {@linkcode VmdrSubscription.forEachDetection}. */
export interface DetectionRecord {
  /** The host's index. */
  host: number;
  /** QID. */
  qid: number;
  /** TYPE. */
  type: DetectionType;
  /** SEVERITY (the QID's). */
  severity: number;
  /** PORT, or 0 when the detection has none. */
  port: number;
  /** PROTOCOL, or null when the detection has no port. */
  protocol: "tcp" | "udp" | null;
  /** SSL. */
  ssl: boolean;
  /** STATUS. */
  status: DetectionStatus;
  /** FIRST_FOUND_DATETIME. */
  firstFound: number;
  /** LAST_FOUND_DATETIME. */
  lastFound: number;
  /** LAST_TEST_DATETIME (the host's last scan). */
  lastTest: number;
  /** LAST_UPDATE_DATETIME (the last status change). */
  lastUpdate: number;
  /** LAST_FIXED_DATETIME, or 0. */
  lastFixed: number;
  /** TIMES_FOUND. */
  timesFound: number;
  /** LAST_PROCESSED_DATETIME (the host's processing time). */
  lastProcessed: number;
  /** A stable unique ID for the detection (UNIQUE_VULN_ID). */
  uniqueId: number;
}

/** An open detection, as the ground truth lists it. */
export interface OpenDetection {
  /** QID. */
  qid: number;
  /** Port, or null. */
  port: number | null;
  /** tcp, udp, or null. */
  protocol: "tcp" | "udp" | null;
  /** TYPE. */
  type: DetectionType;
  /** SEVERITY. */
  severity: number;
  /** New, Active or Re-Opened. */
  status: DetectionStatus;
}

/** A KnowledgeBase entry, with its texts (generated on demand). Times are epoch seconds. */
export interface KbRecord {
  /** QID. */
  qid: number;
  /** Whether the KnowledgeBase returns it (false: hosts have it, the KB does not know it). */
  inKb: boolean;
  /** VULN_TYPE. */
  vulnType: VulnType;
  /** SEVERITY_LEVEL. */
  severity: number;
  /** TITLE (may be empty, as observed). */
  title: string;
  /** CATEGORY. */
  category: string;
  /** LAST_SERVICE_MODIFICATION_DATETIME. */
  lastModified: number;
  /** PUBLISHED_DATETIME. */
  published: number;
  /** How many times it was modified since day 0. */
  revision: number;
  /** PATCHABLE. */
  patchable: boolean;
  /** CVE_LIST (an ID may be empty, as observed). */
  cves: { id: string; url: string }[];
  /** BUGTRAQ_LIST. */
  bugtraqs: { id: string; url: string }[];
  /** VENDOR_REFERENCE_LIST. */
  vendorRefs: { id: string; url: string }[];
  /** SOFTWARE_LIST as [product, vendor]. */
  software: [string, string][];
  /** DIAGNOSIS (HTML), or null. */
  diagnosis: string | null;
  /** CONSEQUENCE (HTML), or null. */
  consequence: string | null;
  /** SOLUTION (HTML), or null. */
  solution: string | null;
  /** CVSS base and temporal, or null. */
  cvss: [string, string] | null;
  /** CVSS v3 base and temporal, or null. */
  cvss3: [string, string] | null;
  /** PCI_FLAG. */
  pci: boolean;
  /** THREAT_INTELLIGENCE as [id, name]. */
  threatIntel: [number, string][];
}

const ALL: VmdrQuery = { statuses: DETECTION_STATUSES, types: DETECTION_TYPES };

/** A query that matches every detection of every host.
 * @returns The query (all statuses and types, no filters).
 */
export function allDetections(): VmdrQuery {
  return ALL;
}
