/**
 * A simulated Qualys VMDR subscription for the Qualys API simulator: hosts with their detections
 * (Host List Detection data) and the KnowledgeBase, generated deterministically from a seed, held
 * in typed arrays (a 100,000-host × 40-detection subscription is ≈17 bytes per detection, not
 * millions of objects), and advanced one simulated day at a time: fixes, re-openings, new
 * detections, hosts whose findings are all fixed, new hosts, hosts purged or moved to other asset
 * groups, new and modified QIDs.
 *
 * It also answers the ground truth a test compares a connector's output with: the open detections
 * (New, Active, Re-Opened) of the current day per host address, under the same filters the API
 * takes. The XML is written by `../vmdr_xml.ts`, the HTTP side is `../vmdr_routes.ts`.
 *
 * Time model: simulated day `d` ends at `clock = start + d days` (the server's `DATETIME` all
 * that day). Everything that happens on day `d` (a scan, its processing, a KB change) happens
 * strictly between the clocks of day `d − 1` and day `d`, so `vm_processed_after=<clock of day
 * d − 1>` selects exactly the hosts scanned on day `d` or later.
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
const VULN_TYPES: readonly VulnType[] = [
  "Vulnerability",
  "Potential Vulnerability",
  "Information Gathered",
  "Vulnerability or Potential Vulnerability",
];

const DAY = 86400;
const DAY_BIAS = 8192; // stored day = simulated day + DAY_BIAS; 0 means "none"
const ST_NEW = 0, ST_ACTIVE = 1, ST_FIXED = 2, ST_REOPENED = 3;
const TRACKING = ["IP", "DNS", "NETBIOS", "QAGENT"] as const;

/** How much changes when a day passes; counts are per day, shares are of the current totals. */
export interface DayChanges {
  /** Share of hosts scanned (their VM data processed) that day; changes happen on them. @default {0.1} */
  scanShare?: number;
  /** Chance that an open detection of a scanned host is found fixed. @default {0.05} */
  fixShare?: number;
  /** Chance that a Fixed detection of a scanned host is found again (Re-Opened). @default {0.05} */
  reopenShare?: number;
  /** Mean new detections per scanned host. @default {0.3} */
  newDetectionsPerHost?: number;
  /** Hosts (scanned that day) whose open findings are all fixed. @default {1} */
  allFixedHosts?: number;
  /** Hosts added (their detections are all New). @default {max(1, 0.2 % of the hosts)} */
  newHosts?: number;
  /**
   * Hosts purged that day (by hand, by the API, or by an auto-purge rule for hosts not scanned
   * for N days: `../shared/reference/qualys_api_versions.md`, "Purged hosts"): from then on in
   * no answer, and nothing in an incremental query says they left. Drawn from a random stream
   * of their own, so the other changes of a day are the same whatever this is.
   * @default {max(1, 0.1 % of the hosts)}
   */
  purgedHosts?: number;
  /**
   * Hosts moved to other asset groups that day (an administrator's change: their VM data is not
   * processed again, so `vm_processed_after` does not list them). @default {0}
   */
  regroupedHosts?: number;
  /** QIDs added to the KnowledgeBase (some are detected the same day). @default {max(1, 0.05 % of the QIDs)} */
  newQids?: number;
  /** KnowledgeBase entries modified (their LAST_SERVICE_MODIFICATION_DATETIME moves). @default {max(1, 0.1 % of the QIDs)} */
  modifiedQids?: number;
}

/** How to generate a subscription. */
export interface VmdrSubscriptionOptions {
  /** Seed: the same seed and options give the same subscription, day after day. @default {1} */
  seed?: number;
  /** Hosts at day 0. @default {200} */
  hosts?: number;
  /** Mean detections per host (all statuses and types). @default {12} */
  detectionsPerHost?: number;
  /** Distinct QIDs in the KnowledgeBase at day 0 (detections use them all). @default {500} */
  qids?: number;
  /** The server clock on day 0 (`YYYY-MM-DDTHH:MM:SSZ`). @default {"2026-03-02T06:00:00Z"} */
  start?: string;
  /** Share of hosts with only an IPv6 address. @default {0.03} */
  ipv6OnlyShare?: number;
  /** Share of hosts with both an IPv4 and an IPv6 address. @default {0.08} */
  dualStackShare?: number;
  /** Share of QIDs that hosts have but the KnowledgeBase does not return (at least 1). @default {0.004} */
  kbMissingShare?: number;
  /** Default changes for {@linkcode VmdrSubscription.advanceDay}. */
  changes?: DayChanges;
}

/** What {@linkcode VmdrSubscription.advanceDay} changed. */
export interface DayReport {
  /** The new simulated day. */
  day: number;
  /** Its clock, epoch seconds. */
  clock: number;
  /** Hosts scanned (their VM data processed) that day. */
  scannedHosts: number;
  /** Detections that became Fixed (including those of the all-fixed hosts). */
  fixed: number;
  /** Detections that became Re-Opened. */
  reopened: number;
  /** New detections, on existing and new hosts. */
  newDetections: number;
  /** IDs of the hosts whose findings were all fixed. */
  allFixedHostIds: number[];
  /** IDs of the hosts added. */
  newHostIds: number[];
  /** IDs of the hosts purged. */
  purgedHostIds: number[];
  /** IDs of the hosts moved to other asset groups. */
  regroupedHostIds: number[];
  /** QIDs added to the KnowledgeBase. */
  newQids: number[];
  /** QIDs whose KnowledgeBase entry was modified. */
  modifiedQids: number[];
}

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

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

function hash(a: number, b: number, c = 0, d = 0): number {
  return mix((mix((mix((mix(a) ^ b) | 0) + c) | 0) ^ d) | 0);
}

class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed | 0;
  }
  next(): number {
    const t0 = (this.#s = (this.#s + 0x6d2b79f5) | 0);
    let t = Math.imul(t0 ^ (t0 >>> 15), t0 | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  weighted<T>(a: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of a) total += w;
    let r = this.next() * total;
    for (const [v, w] of a) if ((r -= w) < 0) return v;
    return a[a.length - 1]![0];
  }
}

// ---------------------------------------------------------------------------------------------
// Static tables

/** [name, OS_CPE or "", family, weight]; ambiguous fingerprints have "/" and no CPE. */
const OS_TABLE: readonly (readonly [string, string, string, number])[] = [
  ["Windows 2016/2019/10", "", "win", 10],
  ["Windows 2008 R2/7", "", "win", 3],
  [
    "Windows Server 2019 Datacenter 64 bit Edition Version 1809 Build 17763",
    "cpe:/o:microsoft:windows_server_2019:1809::x64",
    "win",
    8,
  ],
  [
    "Windows Server 2016 Standard 64 bit Edition Version 1607 Build 14393",
    "cpe:/o:microsoft:windows_server_2016:1607::x64",
    "win",
    6,
  ],
  [
    "Windows Server 2012 R2 Standard 64 bit Edition",
    "cpe:/o:microsoft:windows_server_2012:r2::x64",
    "win",
    5,
  ],
  [
    "Windows Server 2022 Standard 64 bit Edition Version 21H2 Build 20348",
    "cpe:/o:microsoft:windows_server_2022:21h2::x64",
    "win",
    5,
  ],
  [
    "Windows Server 2003 R2 64 bit Edition Service Pack 2",
    "cpe:/o:microsoft:windows_2003_server::r2:x64:",
    "win",
    1,
  ],
  [
    "Windows 10 Enterprise 64 bit Edition Version 22H2 Build 19045",
    "cpe:/o:microsoft:windows_10:22h2::x64",
    "win",
    14,
  ],
  [
    "Windows 11 Pro 64 bit Edition Version 23H2 Build 22631",
    "cpe:/o:microsoft:windows_11:23h2::x64",
    "win",
    6,
  ],
  ["Linux 2.4-2.6", "", "linux", 3],
  ["Linux 3.13", "", "linux", 2],
  ["Ubuntu / Tiny Core Linux / Linux 2.6.x", "", "linux", 2],
  ["Ubuntu Linux 22.04.4 LTS", "cpe:/o:canonical:ubuntu_linux:22.04", "linux", 7],
  ["Ubuntu Linux 20.04.6 LTS", "cpe:/o:canonical:ubuntu_linux:20.04", "linux", 4],
  ["Red Hat Enterprise Linux 8.9", "cpe:/o:redhat:enterprise_linux:8.9", "linux", 6],
  ["Red Hat Enterprise Linux Server 7.9", "cpe:/o:redhat:enterprise_linux:7.9", "linux", 3],
  ["CentOS Linux 7.9.2009", "cpe:/o:centos:centos:7.9.2009", "linux", 3],
  ["Debian GNU/Linux 12", "cpe:/o:debian:debian_linux:12", "linux", 3],
  ["SUSE Linux Enterprise Server 15 SP5", "cpe:/o:suse:linux_enterprise_server:15:sp5", "linux", 2],
  ["Amazon Linux 2", "cpe:/o:amazon:amazon_linux:2", "linux", 3],
  ["macOS 14.4", "cpe:/o:apple:macos:14.4", "mac", 2],
  ["Mac OS X 10.15.7", "cpe:/o:apple:mac_os_x:10.15.7", "mac", 1],
  ["Cisco IOS 15.2(4)E10", "cpe:/o:cisco:ios:15.2(4)e10", "cisco", 2],
  ["Cisco IOS XE 17.3.4a", "cpe:/o:cisco:ios_xe:17.3.4a", "cisco", 1],
  ["VMware ESXi 7.0.3 build-21930508", "cpe:/o:vmware:esxi:7.0.3", "esx", 1],
  ["FreeBSD 13.2-RELEASE", "cpe:/o:freebsd:freebsd:13.2", "bsd", 1],
];
const OS_WEIGHTED = OS_TABLE.map((o, i) => [i, o[3]] as const);

const ASSET_GROUPS: readonly AssetGroup[] = [
  { id: 4601101, title: "Datacenter East" },
  { id: 4601102, title: "Datacenter West" },
  { id: 4601103, title: "DMZ" },
  { id: 4601104, title: "Workstations" },
  { id: 4601105, title: "PCI Scope" },
  { id: 4601106, title: "Network Devices" },
  { id: 4601107, title: "Cloud - AWS" },
  { id: 4601108, title: "Branch Offices" },
];
const NETWORKS = [0, 0, 0, 0, 0, 0, 0, 312001, 312002, 312003];
const DOMAINS = ["corp.example.com", "dmz.example.com", "branch.example.net", "lab.example.org"];

type Port = readonly [number, 0 | 1 | 2, 0 | 1]; // port, proto (0 none, 1 tcp, 2 udp), ssl
const WEB: Port[] = [[443, 1, 1], [80, 1, 0], [8443, 1, 1], [8080, 1, 0]];
const NONE: Port[] = [[0, 0, 0]];

/** name, QID range, ports, [V, PV, IG, V-or-PV] weights, severity weights 1–5. */
const CATEGORIES: readonly {
  name: string;
  lo: number;
  hi: number;
  ports: readonly Port[];
  types: readonly number[];
  sev: readonly number[];
  product: readonly [string, string][];
}[] = [
  {
    name: "Information gathering",
    lo: 45000,
    hi: 45599,
    ports: NONE,
    types: [0, 0, 1, 0],
    sev: [5, 3, 1, 0, 0],
    product: [["Host", "generic"]],
  },
  {
    name: "TCP/IP",
    lo: 82000,
    hi: 82099,
    ports: NONE,
    types: [1, 1, 2, 0],
    sev: [4, 3, 2, 1, 0],
    product: [["TCP/IP stack", "generic"]],
  },
  {
    name: "CGI",
    lo: 11000,
    hi: 12999,
    ports: WEB,
    types: [6, 3, 1, 1],
    sev: [1, 3, 4, 2, 1],
    product: [["vtenext", "vtenext"], ["WordPress", "wordpress"], ["phpMyAdmin", "phpmyadmin"]],
  },
  {
    name: "DNS and BIND",
    lo: 15000,
    hi: 15299,
    ports: [[53, 2, 0], [53, 1, 0]],
    types: [5, 2, 2, 0],
    sev: [2, 3, 3, 2, 1],
    product: [["BIND", "isc"], ["Unbound", "nlnetlabs"]],
  },
  {
    name: "Database",
    lo: 19000,
    hi: 20599,
    ports: [[1433, 1, 0], [3306, 1, 0], [5432, 1, 0], [1521, 1, 0]],
    types: [6, 2, 1, 1],
    sev: [1, 2, 4, 3, 2],
    product: [["MySQL", "oracle"], ["PostgreSQL", "postgresql"], ["SQL Server", "microsoft"]],
  },
  {
    name: "General remote services",
    lo: 38000,
    hi: 38999,
    ports: [[22, 1, 0], [443, 1, 1], [3389, 1, 1], [636, 1, 1], [993, 1, 1]],
    types: [6, 3, 2, 1],
    sev: [2, 3, 4, 2, 1],
    product: [["OpenSSH", "openbsd"], ["OpenSSL", "openssl"], ["Remote Desktop", "microsoft"]],
  },
  {
    name: "SNMP",
    lo: 78000,
    hi: 78099,
    ports: [[161, 2, 0]],
    types: [5, 2, 1, 0],
    sev: [1, 2, 4, 2, 1],
    product: [["net-snmp", "net-snmp"]],
  },
  {
    name: "Web server",
    lo: 86000,
    hi: 87499,
    ports: WEB,
    types: [6, 3, 1, 1],
    sev: [2, 3, 4, 2, 1],
    product: [["HTTP Server", "apache"], ["nginx", "f5"], ["IIS", "microsoft"], [
      "Tomcat",
      "apache",
    ]],
  },
  {
    name: "Windows",
    lo: 90000,
    hi: 92499,
    ports: NONE,
    types: [8, 1, 1, 0],
    sev: [1, 2, 3, 4, 3],
    product: [["Windows", "microsoft"], ["Office", "microsoft"], ["Edge", "microsoft"]],
  },
  {
    name: "Local",
    lo: 106000,
    hi: 106999,
    ports: NONE,
    types: [5, 1, 3, 0],
    sev: [3, 3, 3, 1, 1],
    product: [["Operating System", "generic"]],
  },
  {
    name: "Ubuntu",
    lo: 195000,
    hi: 199999,
    ports: NONE,
    types: [9, 0, 0, 1],
    sev: [1, 2, 4, 3, 1],
    product: [["ubuntu_linux", "canonical"], ["linux_kernel", "linux"]],
  },
  {
    name: "RedHat",
    lo: 236000,
    hi: 241999,
    ports: NONE,
    types: [9, 0, 0, 1],
    sev: [1, 2, 4, 3, 1],
    product: [["enterprise_linux", "redhat"], ["openssl", "openssl"]],
  },
  {
    name: "Debian",
    lo: 170000,
    hi: 179999,
    ports: NONE,
    types: [9, 0, 0, 1],
    sev: [1, 2, 4, 3, 1],
    product: [["debian_linux", "debian"]],
  },
  {
    name: "Amazon Linux",
    lo: 350000,
    hi: 356999,
    ports: NONE,
    types: [9, 0, 0, 1],
    sev: [1, 2, 4, 3, 1],
    product: [["amazon_linux", "amazon"]],
  },
  {
    name: "SUSE",
    lo: 750000,
    hi: 759999,
    ports: NONE,
    types: [9, 0, 0, 1],
    sev: [1, 2, 4, 3, 1],
    product: [["linux_enterprise_server", "suse"]],
  },
  {
    name: "CentOS",
    lo: 256000,
    hi: 258999,
    ports: NONE,
    types: [9, 0, 0, 1],
    sev: [1, 2, 4, 3, 1],
    product: [["centos", "centos"]],
  },
  {
    name: "Oracle Linux",
    lo: 157000,
    hi: 159999,
    ports: NONE,
    types: [9, 0, 0, 1],
    sev: [1, 2, 4, 3, 1],
    product: [["linux", "oracle"]],
  },
  {
    name: "Cisco",
    lo: 316000,
    hi: 317499,
    ports: [[0, 0, 0], [22, 1, 0], [161, 2, 0], [443, 1, 1]],
    types: [6, 3, 0, 1],
    sev: [1, 2, 3, 3, 2],
    product: [["ios", "cisco"], ["ios_xe", "cisco"]],
  },
  {
    name: "VMware",
    lo: 216000,
    hi: 216799,
    ports: [[443, 1, 1], [902, 1, 1]],
    types: [7, 2, 0, 1],
    sev: [1, 2, 3, 3, 2],
    product: [["esxi", "vmware"], ["vcenter_server", "vmware"]],
  },
  {
    name: "Security Policy",
    lo: 105000,
    hi: 105999,
    ports: NONE,
    types: [1, 1, 6, 0],
    sev: [3, 2, 1, 0, 0],
    product: [["Policy", "generic"]],
  },
];
const LINUX_CATEGORIES = [
  "Ubuntu",
  "RedHat",
  "Debian",
  "Amazon Linux",
  "SUSE",
  "CentOS",
  "Oracle Linux",
];
const PLATFORM_CODE: Record<string, number> = { win: 1, linux: 2, cisco: 3, esx: 4 };
/** The platform a category's QIDs belong to (0: any), by category index. */
const CATEGORY_PLATFORM = CATEGORIES.map((c) =>
  c.name === "Windows"
    ? 1
    : LINUX_CATEGORIES.includes(c.name)
    ? 2
    : c.name === "Cisco"
    ? 3
    : c.name === "VMware"
    ? 4
    : 0
);
const CATEGORY_OF = (() => {
  const all: [number, number][] = []; // [lo, category index] sorted, ranges do not overlap
  CATEGORIES.forEach((c, i) => all.push([c.lo, i]));
  return all.sort((a, b) => a[0] - b[0]);
})();

function categoryOf(qid: number): number {
  let best = 0;
  for (const [lo, i] of CATEGORY_OF) if (qid >= lo && qid <= CATEGORIES[i]!.hi) best = i;
  return best;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const P2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const dayStrings = new Map<number, string>();

/** Formats epoch seconds as Qualys does: `2026-03-02T06:00:00Z`.
 * @param seconds Epoch seconds.
 * @returns The date and time, UTC, to the second.
 */
export function formatDateTime(seconds: number): string {
  const day = Math.floor(seconds / DAY);
  let prefix = dayStrings.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY * 1000).toISOString().slice(0, 11);
    if (dayStrings.size > 20000) dayStrings.clear();
    dayStrings.set(day, prefix);
  }
  const s = seconds - day * DAY;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return `${prefix}${P2[h]}:${P2[m]}:${P2[s % 60]}Z`;
}

/** Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[Z]` (UTC) as Qualys takes dates.
 * @param text The parameter value.
 * @returns Epoch seconds, or undefined when the text is not such a date.
 */
export function parseQualysDate(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})Z?)?$/.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(ms).getUTCDate() !== d) return undefined;
  return ms / 1000;
}

/** Formats an unsigned 32-bit IPv4 address as dotted decimal.
 * @param n The address.
 * @returns For example `10.0.1.7`.
 */
export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Parses a dotted IPv4 address.
 * @param text For example `10.0.1.7`.
 * @returns The address as an unsigned 32-bit integer, or undefined when malformed.
 */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

/** Writes eight 16-bit groups as a canonical (RFC 5952) IPv6 address.
 * @param g The groups.
 * @returns Lower case, leading zeros dropped, the longest run of two or more zero groups as `::`.
 */
export function formatIpv6(g: readonly number[]): string {
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

function inRanges(x: number, ranges: readonly IdRange[]): boolean {
  for (const [lo, hi] of ranges) if (x >= lo && x <= hi) return true;
  return false;
}

function grow<T extends Uint8Array | Uint16Array | Int16Array | Uint32Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

// ---------------------------------------------------------------------------------------------

interface Compiled {
  agMask: number;
  statusMask: number;
  typeMask: number;
  sevMask: number;
  qids?: readonly IdRange[];
  updatedSince?: number;
  updatedBefore?: number;
}

/** The simulated subscription. */
export class VmdrSubscription {
  /** The seed it was generated from. */
  readonly seed: number;
  /** Its asset groups. */
  readonly assetGroups: readonly AssetGroup[] = ASSET_GROUPS;
  /** Its network IDs (0 is the default network). */
  readonly networkIds: readonly number[] = [...new Set(NETWORKS)];
  readonly #opts: Required<Omit<VmdrSubscriptionOptions, "changes">>;
  readonly #changes: DayChanges;
  readonly #start: number;
  #day = 0;

  // hosts, by index (= ID order)
  #hosts = 0;
  #hId = new Uint32Array(0);
  #hIp = new Uint32Array(0); // 0: no IPv4
  #hAddr = new Uint8Array(0); // bit 0: IPv4, bit 1: IPv6
  #hOs = new Uint8Array(0);
  #hAttr = new Uint8Array(0); // bits 0-1 tracking, 2 cpe, 3 dns, 4 cloud, 5 auth
  #hAg = new Uint8Array(0); // asset group bitmask
  #hNet = new Uint8Array(0);
  #hScan = new Int16Array(0); // last scan, simulated day
  #hStart = new Uint32Array(0);
  #hCount = new Uint16Array(0);
  #hCap = new Uint16Array(0);
  #hGone = new Uint8Array(0); // 1: purged

  // detections, an arena of per-host blocks kept sorted by (QID, port, protocol)
  #dLen = 0;
  #dQid = new Uint32Array(0);
  #dPort = new Uint16Array(0);
  #dFlags = new Uint8Array(0); // bits 0-1 status, 2-3 proto, 4-5 type, 6 ssl
  #dFirst = new Uint16Array(0);
  #dFound = new Uint16Array(0);
  #dUpdate = new Uint16Array(0);
  #dFixed = new Uint16Array(0);
  #dTimes = new Uint16Array(0);

  // KnowledgeBase, by entry index (stable); #kbSorted lists entry indices by QID
  #kb = 0;
  #kQid = new Uint32Array(0);
  #kSev = new Uint8Array(0);
  #kType = new Uint8Array(0);
  #kCat = new Uint8Array(0);
  #kPub = new Uint32Array(0);
  #kMod = new Uint32Array(0);
  #kRev = new Uint16Array(0);
  #kMissing = new Uint8Array(0);
  #kbSorted: number[] = [];
  #kbByQid = new Map<number, number>();
  #byRank: number[] = []; // popularity rank → entry index; later QIDs are appended (rare)
  #freshQids: number[] = []; // entry indices of QIDs added on the current day
  #compiled = new WeakMap<VmdrQuery, Compiled>(); // queries are not mutated once given

  /** Generates the subscription of day 0.
   * @param options Sizes, seed, start clock and change rates.
   * @throws {RangeError} When a size is out of range.
   */
  constructor(options: VmdrSubscriptionOptions = {}) {
    this.#opts = {
      seed: options.seed ?? 1,
      hosts: options.hosts ?? 200,
      detectionsPerHost: options.detectionsPerHost ?? 12,
      qids: options.qids ?? 500,
      start: options.start ?? "2026-03-02T06:00:00Z",
      ipv6OnlyShare: options.ipv6OnlyShare ?? 0.03,
      dualStackShare: options.dualStackShare ?? 0.08,
      kbMissingShare: options.kbMissingShare ?? 0.004,
    };
    this.#changes = options.changes ?? {};
    this.seed = this.#opts.seed | 0;
    const start = parseQualysDate(this.#opts.start);
    if (start === undefined) throw new RangeError(`Cannot read start "${this.#opts.start}"`);
    this.#start = start;
    const { hosts, detectionsPerHost: perHost, qids } = this.#opts;
    if (!(hosts >= 0 && hosts <= 4_000_000)) throw new RangeError(`hosts ${hosts} out of range`);
    if (!(perHost >= 1 && perHost <= 2000)) {
      throw new RangeError(`detectionsPerHost ${perHost} out of range`);
    }
    const universe = CATEGORIES.reduce((n, c) => n + c.hi - c.lo + 1, 0);
    if (!(qids >= 1 && qids <= universe / 2)) {
      throw new RangeError(`qids ${qids} out of range 1..${Math.floor(universe / 2)}`);
    }
    this.#initKb(qids);
    this.#reserveHosts(hosts);
    this.#reserveDetections(Math.ceil(hosts * (perHost + 4) * 1.02) + 64);
    for (let i = 0; i < hosts; i++) this.#addHost(0, true);
  }

  // ------------------------------------------------------------------------- public: state

  /** The current simulated day (0 at start). */
  get day(): number {
    return this.#day;
  }

  /** The server clock of the current day, epoch seconds (the API's `DATETIME`). */
  get clock(): number {
    return this.#clockOf(this.#day);
  }

  /** Number of hosts. */
  get hostCount(): number {
    return this.#hosts;
  }

  /** Number of detections, all statuses and types. */
  get detectionCount(): number {
    let n = 0;
    for (let h = 0; h < this.#hosts; h++) n += this.#hCount[h]!;
    return n;
  }

  /** Number of distinct QIDs, including those the KnowledgeBase does not return. */
  get qidCount(): number {
    return this.#kb;
  }

  // ------------------------------------------------------------------------- public: hosts

  /** The index of the first host whose ID is at least `id` (the host count when none is).
   * @param id A host ID.
   * @returns A host index.
   */
  hostIndexFrom(id: number): number {
    let lo = 0, hi = this.#hosts;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#hId[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The index of the host with this ID, or -1.
   * @param id A host ID.
   * @returns Its index.
   */
  hostIndexById(id: number): number {
    const i = this.hostIndexFrom(id);
    return i < this.#hosts && this.#hId[i] === id ? i : -1;
  }

  /** A host's ID.
   * @param index A host index.
   * @returns Its ID.
   */
  hostId(index: number): number {
    return this.#hId[index]!;
  }

  /** A host, as the API describes it.
   * @param index A host index.
   * @returns Its record (a new object).
   */
  host(index: number): HostRecord {
    const attr = this.#hAttr[index]!;
    const os = OS_TABLE[this.#hOs[index]!]!;
    const family = os[2];
    const day = this.#hScan[index]!;
    const name = `${
      family === "win"
        ? (os[0].includes("Server") ? "srv" : "ws")
        : family === "cisco"
        ? "rtr"
        : family
    }-${String(index).padStart(6, "0")}`;
    const domain = DOMAINS[hash(this.seed, index, 77) % DOMAINS.length]!;
    const scan = this.#scanTime(index, day);
    const agIds: number[] = [];
    for (let b = 0; b < 8; b++) if (this.#hAg[index]! & (1 << b)) agIds.push(ASSET_GROUPS[b]!.id);
    return {
      index,
      id: this.#hId[index]!,
      assetId: 30000000 + this.#hId[index]! % 70000000,
      ip: this.#hAddr[index]! & 1 ? formatIpv4(this.#hIp[index]!) : null,
      ipv6: this.#hAddr[index]! & 2 ? this.#ipv6Of(index) : null,
      trackingMethod: TRACKING[attr & 3]!,
      networkId: NETWORKS[this.#hNet[index]!]!,
      os: os[0],
      osCpe: attr & 4 ? os[1] : null,
      fqdn: attr & 8 ? `${name}.${domain}` : null,
      netbios: family === "win" && attr & 8 ? name.toUpperCase() : null,
      agIds,
      lastScan: scan,
      scanDuration: this.#scanDuration(index, day),
      processed: this.#processedTime(index, day),
      authenticated: (attr & 32) !== 0,
      cloudInstance: attr & 16
        ? `i-0${(hash(this.seed, index, 5) >>> 0).toString(16).padStart(8, "0")}${
          (hash(this.seed, index, 6) >>> 0).toString(16).padStart(8, "0")
        }`.slice(0, 19)
        : null,
      criticality: 1 + hash(this.seed, index, 9) % 5,
    };
  }

  /** When a host's VM data was last processed (what `vm_processed_after` compares).
   * @param index A host index.
   * @returns Epoch seconds.
   */
  hostProcessed(index: number): number {
    return this.#processedTime(index, this.#hScan[index]!);
  }

  /** Whether a host was purged (it is then in no answer and no ground truth).
   * @param index A host index.
   * @returns True once purged.
   */
  isPurged(index: number): boolean {
    return this.#hGone[index] === 1;
  }

  /** Purges a host from now on, as Qualys does (its ID is never used again).
   * @param index A host index.
   */
  purge(index: number): void {
    this.#hGone[index] = 1;
  }

  /** Puts a host in other asset groups from now on (its VM data is not processed again).
   * @param index A host index.
   * @param agIds Asset group IDs of {@linkcode assetGroups}.
   * @throws {RangeError} When an ID is not one of them.
   */
  setAssetGroups(index: number, agIds: readonly number[]): void {
    let mask = 0;
    for (const id of agIds) {
      const b = ASSET_GROUPS.findIndex((g) => g.id === id);
      if (b < 0) throw new RangeError(`no asset group ${id}`);
      mask |= 1 << b;
    }
    this.#hAg[index] = mask;
  }

  /** The key the ground truth uses for a host: its IPv4 address, else its IPv6 address.
   * @param index A host index.
   * @returns The address.
   */
  hostAddress(index: number): string {
    return this.#hAddr[index]! & 1 ? formatIpv4(this.#hIp[index]!) : this.#ipv6Of(index);
  }

  /** Whether a host passes the host-level filters of a query (IDs, addresses, asset groups,
   * networks, processing time).
   * @param index A host index.
   * @param query The filters.
   * @returns True when it does.
   */
  hostMatches(index: number, query: VmdrQuery): boolean {
    if (this.#hGone[index]) return false; // a purged host is in no answer
    const id = this.#hId[index]!;
    if (query.idMin !== undefined && id < query.idMin) return false;
    if (query.idMax !== undefined && id > query.idMax) return false;
    if (query.ids && !inRanges(id, query.ids)) return false;
    if (query.ipv4 && !(this.#hAddr[index]! & 1 && inRanges(this.#hIp[index]!, query.ipv4))) {
      return false;
    }
    if (query.ipv6 && !(this.#hAddr[index]! & 2 && query.ipv6.includes(this.#ipv6Of(index)))) {
      return false;
    }
    if (query.agIds && !(this.#hAg[index]! & this.#compile(query).agMask)) return false;
    if (query.networkIds && !query.networkIds.includes(NETWORKS[this.#hNet[index]!]!)) return false;
    if (query.vmProcessedAfter !== undefined || query.vmProcessedBefore !== undefined) {
      const p = this.hostProcessed(index);
      if (query.vmProcessedAfter !== undefined && !(p > query.vmProcessedAfter)) return false;
      if (query.vmProcessedBefore !== undefined && !(p < query.vmProcessedBefore)) return false;
    }
    return true;
  }

  /** Counts a host's detections that pass the detection-level filters of a query (host-level
   * filters are not applied: see {@linkcode hostMatches}).
   * @param index A host index.
   * @param query The filters.
   * @returns The count.
   */
  countDetections(index: number, query: VmdrQuery): number {
    const c = this.#compile(query);
    let n = 0;
    const s = this.#hStart[index]!, e = s + this.#hCount[index]!;
    for (let d = s; d < e; d++) if (this.#detMatches(d, c, index)) n++;
    return n;
  }

  /** Calls `visit` for each of a host's detections that pass the detection-level filters, in
   * QID order, with one reused record object.
   * @param index A host index.
   * @param query The filters.
   * @param visit Receives the record; copy what you keep.
   */
  forEachDetection(index: number, query: VmdrQuery, visit: (d: DetectionRecord) => void): void {
    const c = this.#compile(query);
    const s = this.#hStart[index]!, e = s + this.#hCount[index]!;
    const scanDay = this.#hScan[index]!;
    const rec: DetectionRecord = {
      host: index,
      qid: 0,
      type: "Confirmed",
      severity: 0,
      port: 0,
      protocol: null,
      ssl: false,
      status: "New",
      firstFound: 0,
      lastFound: 0,
      lastTest: this.#scanTime(index, scanDay),
      lastUpdate: 0,
      lastFixed: 0,
      timesFound: 0,
      lastProcessed: this.#processedTime(index, scanDay),
      uniqueId: 0,
    };
    for (let d = s; d < e; d++) {
      if (!this.#detMatches(d, c, index)) continue;
      const f = this.#dFlags[d]!;
      rec.qid = this.#dQid[d]!;
      rec.type = DETECTION_TYPES[(f >> 4) & 3]!;
      rec.severity = this.#kSev[this.#kbByQid.get(rec.qid)!]!;
      rec.port = this.#dPort[d]!;
      rec.protocol = (f >> 2) & 3 ? ((f >> 2) & 3) === 1 ? "tcp" : "udp" : null;
      rec.ssl = (f & 64) !== 0;
      rec.status = DETECTION_STATUSES[f & 3]!;
      rec.firstFound = this.#scanTime(index, this.#dFirst[d]! - DAY_BIAS);
      rec.lastFound = this.#scanTime(index, this.#dFound[d]! - DAY_BIAS);
      rec.lastUpdate = this.#processedTime(index, this.#dUpdate[d]! - DAY_BIAS);
      rec.lastFixed = this.#dFixed[d] ? this.#scanTime(index, this.#dFixed[d]! - DAY_BIAS) : 0;
      rec.timesFound = this.#dTimes[d]!;
      rec.uniqueId = 1 +
        hash(this.seed, this.#hId[index]!, rec.qid, rec.port * 4 + ((f >> 2) & 3)) % 2_000_000_000;
      visit(rec);
    }
  }

  /** A host's detections that pass the detection-level filters (for tests: allocates).
   * @param index A host index.
   * @param query The filters. @default all statuses and types
   * @returns Copies of the records.
   */
  detections(index: number, query: VmdrQuery = ALL): DetectionRecord[] {
    const out: DetectionRecord[] = [];
    this.forEachDetection(index, query, (d) => out.push({ ...d }));
    return out;
  }

  /** The ground truth: every open detection (New, Active, Re-Opened) of the current day that
   * passes the filters, per host address (IPv4, else IPv6), hosts in ID order. Hosts with none
   * are absent. `query.statuses` is ignored.
   * @param query Filters: types (default Confirmed, Potential), severities, asset groups, IPv4
   *   ranges, and any other field of {@linkcode VmdrQuery}.
   * @returns Address → open detections in QID order.
   */
  openDetections(query: VmdrQuery = {}): Map<string, OpenDetection[]> {
    const out = new Map<string, OpenDetection[]>();
    const q: VmdrQuery = { ...query, statuses: OPEN_STATUSES };
    for (let h = 0; h < this.#hosts; h++) {
      if (!this.hostMatches(h, q)) continue;
      const list: OpenDetection[] = [];
      this.forEachDetection(h, q, (d) =>
        list.push({
          qid: d.qid,
          port: d.protocol ? d.port : null,
          protocol: d.protocol,
          type: d.type,
          severity: d.severity,
          status: d.status,
        }));
      if (list.length) out.set(this.hostAddress(h), list);
    }
    return out;
  }

  /** The ground truth as a set of `address|qid|port|protocol` strings (port and protocol empty
   * for a detection without a port), for comparing with what a connector sent.
   * @param query As for {@linkcode openDetections}.
   * @returns The keys.
   */
  openDetectionKeys(query: VmdrQuery = {}): Set<string> {
    const keys = new Set<string>();
    for (const [ip, list] of this.openDetections(query)) {
      for (const d of list) keys.add(`${ip}|${d.qid}|${d.port ?? ""}|${d.protocol ?? ""}`);
    }
    return keys;
  }

  // ------------------------------------------------------------------------- public: KB

  /** A KnowledgeBase entry with its texts, or undefined for a QID the subscription never had.
   * Entries with `inKb: false` are QIDs hosts have but the KnowledgeBase does not return.
   * @param qid A QID.
   * @returns The entry.
   */
  kbEntry(qid: number): KbRecord | undefined {
    const k = this.#kbByQid.get(qid);
    return k === undefined ? undefined : this.#kbRecord(k);
  }

  /** The QIDs the KnowledgeBase returns, ascending.
   * @returns QIDs.
   */
  kbQids(): number[] {
    return this.#kbSorted.filter((k) => !this.#kMissing[k]).map((k) => this.#kQid[k]!);
  }

  /** The QIDs hosts may have but the KnowledgeBase does not return, ascending.
   * @returns QIDs.
   */
  missingKbQids(): number[] {
    return this.#kbSorted.filter((k) => this.#kMissing[k]).map((k) => this.#kQid[k]!);
  }

  /** Calls `visit` with each QID the KnowledgeBase returns, ascending, with its modification and
   * publication times (no texts are generated).
   * @param visit Receives QID, last modified and published, epoch seconds.
   */
  forEachKbQid(visit: (qid: number, lastModified: number, published: number) => void): void {
    for (const k of this.#kbSorted) {
      if (!this.#kMissing[k]) visit(this.#kQid[k]!, this.#kMod[k]!, this.#kPub[k]!);
    }
  }

  // ------------------------------------------------------------------------- public: time

  /** Moves the subscription one day on: hosts are scanned, detections fixed, re-opened and
   * found, hosts added, all of one host's findings fixed, QIDs added to and modified in the
   * KnowledgeBase; the clock moves one day. Deterministic: day N of a seed is always the same.
   * @param changes Overrides of the rates given at construction.
   * @returns What changed.
   */
  advanceDay(changes: DayChanges = {}): DayReport {
    const ch = { ...this.#changes, ...changes };
    const d = this.#day + 1;
    const rng = new Rng(hash(this.seed, 0xda7, d));
    const hostsBefore = this.#hosts;
    const report: DayReport = {
      day: d,
      clock: this.#clockOf(d),
      scannedHosts: 0,
      fixed: 0,
      reopened: 0,
      newDetections: 0,
      allFixedHostIds: [],
      newHostIds: [],
      purgedHostIds: [],
      regroupedHostIds: [],
      newQids: [],
      modifiedQids: [],
    };

    // KnowledgeBase first, so that today's new QIDs can be detected today.
    this.#freshQids = [];
    const newQids = ch.newQids ?? Math.max(1, Math.round(this.#opts.qids * 0.0005));
    for (let i = 0; i < newQids; i++) {
      const k = this.#addQid(rng, d);
      if (k >= 0) {
        this.#freshQids.push(k);
        this.#byRank.push(k);
        report.newQids.push(this.#kQid[k]!);
      }
    }
    const modified = ch.modifiedQids ?? Math.max(1, Math.round(this.#opts.qids * 0.001));
    const modSet = new Set<number>();
    for (let i = 0; i < modified * 4 && modSet.size < Math.min(modified, this.#kb); i++) {
      const k = rng.int(this.#kb);
      if (this.#kMissing[k] || this.#freshQids.includes(k) || modSet.has(k)) continue;
      modSet.add(k);
      this.#kRev[k]!++;
      this.#kMod[k] = this.#clockOf(d) - 900 - hash(this.seed, k, d, 3) % 80000;
    }
    report.modifiedQids = [...modSet].map((k) => this.#kQid[k]!).sort((a, b) => a - b);

    // Which hosts are scanned today: a share of them, plus the ones whose findings are all fixed.
    const scanned = new Set<number>();
    const scans = Math.round((ch.scanShare ?? 0.1) * hostsBefore);
    for (let tries = 0; scanned.size < scans && tries < scans * 20; tries++) {
      const h = rng.int(hostsBefore);
      if (!this.#hGone[h]) scanned.add(h);
    }
    const allFixed = new Set<number>();
    const wantAllFixed = ch.allFixedHosts ?? 1;
    for (let tries = 0; allFixed.size < wantAllFixed && tries < 50 * wantAllFixed + 50; tries++) {
      const h = rng.int(hostsBefore);
      if (!allFixed.has(h) && !this.#hGone[h] && this.#hostHasOpen(h)) allFixed.add(h);
    }
    for (const h of allFixed) scanned.add(h);

    // Scan them: what is still there is found again, some findings are fixed, some fixed ones
    // come back, and new ones appear.
    const fixShare = ch.fixShare ?? 0.05, reopenShare = ch.reopenShare ?? 0.05;
    const perHost = ch.newDetectionsPerHost ?? 0.3;
    for (const h of [...scanned].sort((a, b) => a - b)) {
      const s = this.#hStart[h]!, e = s + this.#hCount[h]!;
      const fixAll = allFixed.has(h);
      for (let det = s; det < e; det++) {
        const st = this.#dFlags[det]! & 3;
        if (st !== ST_FIXED) {
          if (fixAll || rng.chance(fixShare)) {
            this.#setStatus(det, ST_FIXED);
            this.#dFixed[det] = d + DAY_BIAS;
            this.#dUpdate[det] = d + DAY_BIAS;
            report.fixed++;
          } else {
            if (st === ST_NEW || st === ST_REOPENED) {
              this.#setStatus(det, ST_ACTIVE);
              this.#dUpdate[det] = d + DAY_BIAS;
            }
            this.#dFound[det] = d + DAY_BIAS;
            this.#dTimes[det] = Math.min(65535, this.#dTimes[det]! + 1);
          }
        } else if (!fixAll && rng.chance(reopenShare)) {
          this.#setStatus(det, ST_REOPENED);
          this.#dFound[det] = d + DAY_BIAS;
          this.#dUpdate[det] = d + DAY_BIAS;
          this.#dTimes[det] = Math.min(65535, this.#dTimes[det]! + 1);
          report.reopened++;
        }
      }
      this.#hScan[h] = d;
      if (fixAll) continue;
      const adds = Math.floor(perHost) + (rng.chance(perHost % 1) ? 1 : 0);
      for (let i = 0; i < adds; i++) if (this.#addDetection(h, rng, d)) report.newDetections++;
    }
    report.allFixedHostIds = [...allFixed].sort((a, b) => a - b).map((h) => this.#hId[h]!);

    const newHosts = ch.newHosts ?? Math.max(1, Math.round(this.#opts.hosts * 0.002));
    for (let i = 0; i < newHosts; i++) {
      const h = this.#addHost(d, false);
      report.newHostIds.push(this.#hId[h]!);
      report.newDetections += this.#hCount[h]!;
    }
    report.scannedHosts = scanned.size + newHosts;

    // Purges and asset group changes last, from streams of their own: the day's other changes
    // are the same whatever they are. Today's new hosts are neither purged nor moved.
    const purges = ch.purgedHosts ?? Math.max(1, Math.round(this.#opts.hosts * 0.001));
    const prng = new Rng(hash(this.seed, 0x9a7e, d));
    for (let i = 0, tries = 0; i < purges && tries < 50 * purges + 50; tries++) {
      const h = prng.int(hostsBefore);
      if (this.#hGone[h]) continue;
      this.#hGone[h] = 1;
      report.purgedHostIds.push(this.#hId[h]!);
      i++;
    }
    report.purgedHostIds.sort((a, b) => a - b);
    const regroups = ch.regroupedHosts ?? 0;
    const grng = new Rng(hash(this.seed, 0xa6, d));
    const moved = new Set<number>();
    for (let tries = 0; moved.size < regroups && tries < 50 * regroups + 50; tries++) {
      const h = grng.int(hostsBefore);
      if (this.#hGone[h] || moved.has(h)) continue;
      moved.add(h);
      let ag = this.#hAg[h]!;
      for (let b = 0; b < 8 && ag === this.#hAg[h]; b++) ag = 1 << grng.int(8);
      this.#hAg[h] = ag;
    }
    report.regroupedHostIds = [...moved].sort((a, b) => a - b).map((h) => this.#hId[h]!);
    this.#day = d;
    return report;
  }

  // ------------------------------------------------------------------------- internals: time

  #clockOf(day: number): number {
    return this.#start + day * DAY;
  }

  /** When host `h` was scanned on day `day`: within (clock(day − 1), clock(day) − 1 h]. */
  #scanTime(h: number, day: number): number {
    return this.#clockOf(day) - 3600 - hash(this.seed, h, day, 1) % 79200;
  }

  #scanDuration(h: number, day: number): number {
    return 240 + hash(this.seed, h, day, 2) % 2400;
  }

  /** When that scan was processed: after the scan, before the day's clock. */
  #processedTime(h: number, day: number): number {
    return this.#scanTime(h, day) + this.#scanDuration(h, day) + 60 +
      hash(this.seed, h, day, 4) % 540;
  }

  #ipv6Of(h: number): string {
    const sub = Math.floor(h / 250);
    return formatIpv6([
      0x2001,
      0x0db8,
      0x100 + ((sub >>> 16) & 0xff),
      sub & 0xffff,
      0,
      0,
      0,
      1 + h % 250,
    ]);
  }

  // ------------------------------------------------------------------------- internals: KB

  #initKb(n: number): void {
    const rng = new Rng(hash(this.seed, 0x6b62));
    const universe: number[] = [];
    for (const c of CATEGORIES) for (let q = c.lo; q <= c.hi; q++) universe.push(q);
    for (let i = 0; i < n; i++) { // partial Fisher–Yates
      const j = i + rng.int(universe.length - i);
      [universe[i], universe[j]] = [universe[j]!, universe[i]!];
    }
    const chosen = universe.slice(0, n).sort((a, b) => a - b);
    this.#reserveKb(n + 64);
    for (const qid of chosen) this.#pushQid(qid, rng, -rng.int(3650) - 30, true);
    // popularity: a random permutation; draws favour low ranks
    const ranks = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [ranks[i], ranks[j]] = [ranks[j]!, ranks[i]!];
    }
    this.#byRank = ranks;
    const missing = Math.max(1, Math.round(n * this.#opts.kbMissingShare));
    for (let i = 0; i < missing; i++) {
      // spread over popularity so that hosts do have them; rank 0 stays known
      const rank = Math.min(n - 1, 1 + Math.floor((i * n) / (missing * 4)));
      this.#kMissing[this.#byRank[rank]!] = 1;
    }
  }

  #reserveKb(n: number): void {
    if (n <= this.#kQid.length) return;
    const cap = Math.max(n, Math.ceil(this.#kQid.length * 1.5));
    this.#kQid = grow(this.#kQid, cap);
    this.#kSev = grow(this.#kSev, cap);
    this.#kType = grow(this.#kType, cap);
    this.#kCat = grow(this.#kCat, cap);
    this.#kPub = grow(this.#kPub, cap);
    this.#kMod = grow(this.#kMod, cap);
    this.#kRev = grow(this.#kRev, cap);
    this.#kMissing = grow(this.#kMissing, cap);
  }

  /** Adds a QID; `day` ≤ 0 for day-0 QIDs (published in the past), else the day it appears. */
  #pushQid(qid: number, rng: Rng, day: number, initial: boolean): number {
    this.#reserveKb(this.#kb + 1);
    const k = this.#kb++;
    const cat = categoryOf(qid);
    const c = CATEGORIES[cat]!;
    const type = rng.weighted(c.types.map((w, i) => [i, w] as const));
    const sevWeights = type === 2 ? [6, 3, 1, 0, 0] : c.sev;
    this.#kQid[k] = qid;
    this.#kCat[k] = cat;
    this.#kType[k] = type;
    this.#kSev[k] = 1 + rng.weighted(sevWeights.map((w, i) => [i, w] as const));
    if (initial) {
      const pub = this.#clockOf(day) - rng.int(DAY);
      this.#kPub[k] = pub;
      this.#kMod[k] = Math.min(this.#clockOf(0) - DAY, pub + rng.int(Math.max(1, -day) * DAY));
    } else {
      const t = this.#clockOf(day) - 1200 - hash(this.seed, qid, day, 8) % 80000;
      this.#kPub[k] = t;
      this.#kMod[k] = t;
    }
    this.#kbByQid.set(qid, k);
    // keep #kbSorted ordered by QID
    let lo = 0, hi = this.#kbSorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#kQid[this.#kbSorted[mid]!]! < qid) lo = mid + 1;
      else hi = mid;
    }
    this.#kbSorted.splice(lo, 0, k);
    return k;
  }

  #addQid(rng: Rng, day: number): number {
    for (let tries = 0; tries < 200; tries++) {
      const c = CATEGORIES[rng.int(CATEGORIES.length)]!;
      const qid = c.lo + rng.int(c.hi - c.lo + 1);
      if (!this.#kbByQid.has(qid)) return this.#pushQid(qid, rng, day, false);
    }
    return -1;
  }

  #kbRecord(k: number): KbRecord {
    const qid = this.#kQid[k]!;
    const rev = this.#kRev[k]!;
    const cat = CATEGORIES[this.#kCat[k]!]!;
    const r = new Rng(hash(this.seed, qid, 0x7e47)); // stable across revisions
    const [product, vendor] = r.pick(cat.product);
    const sev = this.#kSev[k]!;
    const type = this.#kType[k]!;
    const version = `${1 + r.int(12)}.${r.int(20)}.${r.int(30)}`;
    const advisory = `${["USN", "RHSA", "DSA", "ALAS", "MS", "cisco-sa", "VMSA"][r.int(7)]}-${
      2015 + r.int(11)
    }-${String(r.int(9999)).padStart(4, "0")}`;
    const titles = type === 2
      ? [
        `${product} Version Detected`,
        `Open ${cat.name} Services List`,
        `${product} Configuration Information`,
      ]
      : [
        `${vendor} ${product} Multiple Security Vulnerabilities (${advisory})`,
        `${product} Prior to ${version} Remote Code Execution Vulnerability`,
        `${product} Denial of Service, Information Disclosure and Privilege Escalation`,
        `"${product}" Cross-Site Scripting (XSS) Vulnerability`,
        `${vendor} ${product} Télécommande Security Update for ${advisory}`,
        `${product} Security Update & Hotfix Rollup, ${advisory}`,
      ];
    let title = r.pick(titles);
    if (hash(this.seed, qid, 0x7171) % 250 === 0) title = ""; // observed: an empty TITLE
    const published = this.#kPub[k]!;
    const year = new Date(published * 1000).getUTCFullYear();
    const cve = (rr: Rng) => {
      const id = `CVE-${Math.min(year, 2025) - rr.int(2)}-${1000 + rr.int(48000)}`;
      return { id, url: `http://web.nvd.nist.gov/view/vuln/detail?vulnId=${id}` };
    };
    const cves: { id: string; url: string }[] = [];
    const nCve = type === 2 ? 0 : r.int(4) + (r.chance(0.3) ? 1 : 0);
    for (let i = 0; i < nCve; i++) cves.push(cve(r));
    if (cves.length && hash(this.seed, qid, 0xce) % 40 === 0) cves.push({ id: "", url: "" });
    const bugtraqs: { id: string; url: string }[] = [];
    if (r.chance(0.3)) {
      for (let i = 0, n = 1 + r.int(3); i < n; i++) {
        const id = String(1000 + r.int(110000));
        bugtraqs.push({ id, url: r.chance(0.7) ? `http://www.securityfocus.com/bid/${id}` : "" });
      }
    }
    // each modification adds a CVE (what a connector's KB cache must pick up)
    for (let i = 1; i <= rev; i++) cves.push(cve(new Rng(hash(this.seed, qid, i, 0xc0e))));
    const vendorRefs = type === 2 ? [] : [{
      id: advisory,
      url: `https://security.example.com/advisories/${advisory.toLowerCase()}`,
    }];
    const diagnosis = r.chance(0.9)
      ? `${product} is ${
        type === 2 ? "present on the host" : "prone to multiple vulnerabilities"
      }.` +
        `\n<P>\nAffected versions: ${product} before ${version}. See the vendor&apos;s ` +
        `<A HREF="https://security.example.com/${qid}" TARGET="_blank">advisory</A> for the ` +
        `&quot;${advisory}&quot; details.` +
        (rev ? `\n<P>Updated by the service (revision ${rev}).` : "")
      : null;
    const consequence = type === 2
      ? null
      : `Successful exploitation allows a remote attacker to execute arbitrary code, read ` +
        `sensitive information or cause a denial of service.\n<P>\nCVSS impact: ${sev}/5.`;
    const solution = type === 2
      ? null
      : `Customers are advised to upgrade ${product} to ${version} or later.` +
        `\n<P>Patch:<BR>\nFollowing are links for downloading patches to fix the vulnerabilities:\n` +
        `<A HREF="https://security.example.com/${advisory}" TARGET="_blank">${advisory}</A>` +
        (rev ? `\n<P>Revision ${rev}: the fix list was updated.` : "");
    const base = (sev * 2 - r.next()).toFixed(1);
    return {
      qid,
      inKb: !this.#kMissing[k],
      vulnType: VULN_TYPES[type]!,
      severity: sev,
      title,
      category: cat.name,
      lastModified: this.#kMod[k]!,
      published,
      revision: rev,
      patchable: type !== 2 && r.chance(0.8),
      cves,
      bugtraqs,
      vendorRefs,
      software: [[product.toLowerCase().replace(/ /g, "_"), vendor]],
      diagnosis,
      consequence,
      solution,
      cvss: type === 2 ? null : [base, (+base * 0.85).toFixed(1)],
      cvss3: type === 2 || r.chance(0.2)
        ? null
        : [(+base + 0.5).toFixed(1), (+base * 0.9).toFixed(1)],
      pci: sev >= 4 || r.chance(0.2),
      threatIntel: sev >= 4 ? [[2, "Exploit_Public"], [15, "Remote_Code_Execution"]] : [],
    };
  }

  // ------------------------------------------------------------------------- internals: hosts

  #reserveHosts(n: number): void {
    if (n <= this.#hId.length) return;
    const cap = Math.max(n, Math.ceil(this.#hId.length * 1.25) + 16);
    this.#hId = grow(this.#hId, cap);
    this.#hIp = grow(this.#hIp, cap);
    this.#hAddr = grow(this.#hAddr, cap);
    this.#hOs = grow(this.#hOs, cap);
    this.#hAttr = grow(this.#hAttr, cap);
    this.#hAg = grow(this.#hAg, cap);
    this.#hNet = grow(this.#hNet, cap);
    this.#hScan = grow(this.#hScan, cap);
    this.#hStart = grow(this.#hStart, cap);
    this.#hCount = grow(this.#hCount, cap);
    this.#hCap = grow(this.#hCap, cap);
    this.#hGone = grow(this.#hGone, cap);
  }

  #reserveDetections(n: number): void {
    if (n <= this.#dQid.length) return;
    const cap = Math.max(n, Math.ceil(this.#dQid.length * 1.25) + 1024);
    this.#dQid = grow(this.#dQid, cap);
    this.#dPort = grow(this.#dPort, cap);
    this.#dFlags = grow(this.#dFlags, cap);
    this.#dFirst = grow(this.#dFirst, cap);
    this.#dFound = grow(this.#dFound, cap);
    this.#dUpdate = grow(this.#dUpdate, cap);
    this.#dFixed = grow(this.#dFixed, cap);
    this.#dTimes = grow(this.#dTimes, cap);
  }

  /** Appends a host; `initial` hosts get a history, later ones are new (all detections New). */
  #addHost(day: number, initial: boolean): number {
    this.#reserveHosts(this.#hosts + 1);
    const h = this.#hosts++;
    const rng = new Rng(hash(this.seed, 0x4057, h));
    const prev = h ? this.#hId[h - 1]! : 143_100_000 + hash(this.seed, 1) % 90000;
    this.#hId[h] = prev + (rng.chance(0.6) ? 1 : 2 + rng.int(40));
    const sub = Math.floor(h / 250);
    this.#hIp[h] = ((10 << 24) >>> 0) + ((sub & 0xffff) << 8) + 1 + h % 250;
    const v = rng.next();
    const { ipv6OnlyShare, dualStackShare } = this.#opts;
    this.#hAddr[h] = v < ipv6OnlyShare ? 2 : v < ipv6OnlyShare + dualStackShare ? 3 : 1;
    const os = rng.weighted(OS_WEIGHTED);
    this.#hOs[h] = os;
    const family = OS_TABLE[os]![2];
    const tracking = family !== "cisco" && rng.chance(0.2)
      ? 3
      : family === "win" && rng.chance(0.2)
      ? 2
      : rng.chance(0.25)
      ? 1
      : 0;
    const auth = tracking === 3 || rng.chance(0.5);
    const cpe = OS_TABLE[os]![1] !== "" && (auth || rng.chance(0.3));
    const dns = family === "cisco" ? rng.chance(0.5) : rng.chance(0.85);
    const cloud = rng.chance(0.1);
    this.#hAttr[h] = tracking | (cpe ? 4 : 0) | (dns ? 8 : 0) | (cloud ? 16 : 0) |
      (auth ? 32 : 0);
    let ag = 1 << (cloud ? 6 : family === "cisco" ? 5 : rng.int(8));
    if (rng.chance(0.3)) ag |= 1 << rng.int(8);
    this.#hAg[h] = ag;
    this.#hNet[h] = rng.int(NETWORKS.length);
    const lastScan = initial ? -rng.int(14) : day;
    this.#hScan[h] = lastScan;

    // detections: a spread around the mean; a few hosts with very few
    const mean = this.#opts.detectionsPerHost;
    let n = rng.chance(0.03) ? 1 + rng.int(3) : Math.round(mean * (0.5 + rng.next()));
    n = Math.max(1, Math.min(n, 4000));
    const cap = n + 4;
    this.#reserveDetections(this.#dLen + cap);
    this.#hStart[h] = this.#dLen;
    this.#hCount[h] = 0;
    this.#hCap[h] = cap;
    this.#dLen += cap;
    // key = ((QID × 65536 + port) × 4 + protocol) × 2 + ssl; unique per host without the ssl bit
    const keys = new Float64Array(n), bare = new Float64Array(n);
    let got = 0;
    for (let tries = 0; got < n && tries < n * 20; tries++) {
      const k = this.#drawQid(rng, family);
      const [port, proto, ssl] = this.#drawPort(rng, k);
      const key = ((this.#kQid[k]! * 65536 + (proto ? port : 0)) * 4 + proto) * 2;
      let dup = false;
      for (let i = 0; i < got; i++) {
        if (bare[i] === key) {
          dup = true;
          break;
        }
      }
      if (dup) continue;
      bare[got] = key;
      keys[got++] = key + ssl;
    }
    for (const key of keys.subarray(0, got).sort()) {
      const ssl = key % 2, proto = Math.floor(key / 2) % 4, portQid = Math.floor(key / 8);
      this.#writeDetection(
        h,
        Math.floor(portQid / 65536),
        portQid % 65536,
        proto,
        ssl === 1,
        rng,
        lastScan,
        initial,
      );
    }
    return h;
  }

  /** Draws a QID entry index, favouring popular ones and the host's platform. */
  #drawQid(rng: Rng, family: string): number {
    const n = this.#byRank.length;
    const platform = PLATFORM_CODE[family] ?? 0;
    for (;;) {
      const k = this.#byRank[Math.min(n - 1, Math.floor(n * rng.next() ** 1.6))]!;
      const needs = CATEGORY_PLATFORM[this.#kCat[k]!]!;
      if (needs === 0 || needs === platform || rng.chance(0.05)) return k;
    }
  }

  #drawPort(rng: Rng, k: number): Port {
    const ports = CATEGORIES[this.#kCat[k]!]!.ports;
    const canonical = ports[hash(this.seed, this.#kQid[k]!, 0x9a) % ports.length]!;
    return rng.chance(0.85) ? canonical : rng.pick(ports);
  }

  /** Appends a detection to host `h`'s block (the caller keeps QID order). */
  #writeDetection(
    h: number,
    qid: number,
    port: number,
    proto: number,
    ssl: boolean,
    rng: Rng,
    lastScan: number,
    history: boolean,
  ): void {
    const det = this.#hStart[h]! + this.#hCount[h]!++;
    const k = this.#kbByQid.get(qid)!;
    const kt = this.#kType[k]!;
    const type = kt === 3 ? rng.int(2) : kt;
    let status = ST_NEW, first = lastScan, found = lastScan, update = lastScan, fixed = 0;
    if (history) {
      first = lastScan - rng.int(700);
      const span = lastScan - first;
      const r = rng.next();
      if (span >= 1 && r < 0.1) {
        status = ST_FIXED;
        fixed = first + 1 + rng.int(span);
        found = first + rng.int(fixed - first);
        update = fixed;
      } else if (span >= 2 && r < 0.14) {
        status = ST_REOPENED;
        fixed = first + 1 + rng.int(span - 1);
        update = lastScan;
      } else if (span >= 1) {
        status = ST_ACTIVE;
        update = Math.min(lastScan, first + 1 + rng.int(7));
        if (rng.chance(0.05)) fixed = first + rng.int(span); // fixed once, found again since
        if (fixed === 0 || fixed >= update) fixed = 0;
      }
    }
    this.#dQid[det] = qid;
    this.#dPort[det] = proto ? port : 0;
    this.#dFlags[det] = status | (proto << 2) | (type << 4) | (ssl ? 64 : 0);
    this.#dFirst[det] = first + DAY_BIAS;
    this.#dFound[det] = found + DAY_BIAS;
    this.#dUpdate[det] = update + DAY_BIAS;
    this.#dFixed[det] = fixed ? fixed + DAY_BIAS : 0;
    this.#dTimes[det] = Math.min(65535, 1 + Math.floor((found - first) / 3));
  }

  /** Adds a New detection found on day `day` to host `h` in QID order; false when it has it. */
  #addDetection(h: number, rng: Rng, day: number): boolean {
    const family = OS_TABLE[this.#hOs[h]!]![2];
    const k = this.#freshQids.length && rng.chance(0.3)
      ? rng.pick(this.#freshQids)
      : this.#drawQid(rng, family);
    const [port, proto, ssl] = this.#drawPort(rng, k);
    const qid = this.#kQid[k]!;
    const key = qid * 262144 + (proto ? port : 0) * 4 + proto;
    const s = this.#hStart[h]!, n = this.#hCount[h]!;
    let pos = 0;
    for (; pos < n; pos++) {
      const other = this.#dQid[s + pos]! * 262144 + this.#dPort[s + pos]! * 4 +
        ((this.#dFlags[s + pos]! >> 2) & 3);
      if (other === key) return false;
      if (other > key) break;
    }
    if (n === this.#hCap[h]) this.#relocate(h, n + Math.max(4, n >> 1));
    const base = this.#hStart[h]!;
    for (let i = n; i > pos; i--) this.#copyDetection(base + i - 1, base + i);
    const det = base + pos;
    const kt = this.#kType[k]!;
    const type = kt === 3 ? rng.int(2) : kt;
    this.#dQid[det] = qid;
    this.#dPort[det] = proto ? port : 0;
    this.#dFlags[det] = ST_NEW | (proto << 2) | (type << 4) | (ssl ? 64 : 0);
    this.#dFirst[det] = day + DAY_BIAS;
    this.#dFound[det] = day + DAY_BIAS;
    this.#dUpdate[det] = day + DAY_BIAS;
    this.#dFixed[det] = 0;
    this.#dTimes[det] = 1;
    this.#hCount[h] = n + 1;
    return true;
  }

  #relocate(h: number, cap: number): void {
    this.#reserveDetections(this.#dLen + cap);
    const from = this.#hStart[h]!, n = this.#hCount[h]!, to = this.#dLen;
    for (let i = 0; i < n; i++) this.#copyDetection(from + i, to + i);
    this.#hStart[h] = to;
    this.#hCap[h] = cap;
    this.#dLen += cap;
  }

  #copyDetection(from: number, to: number): void {
    this.#dQid[to] = this.#dQid[from]!;
    this.#dPort[to] = this.#dPort[from]!;
    this.#dFlags[to] = this.#dFlags[from]!;
    this.#dFirst[to] = this.#dFirst[from]!;
    this.#dFound[to] = this.#dFound[from]!;
    this.#dUpdate[to] = this.#dUpdate[from]!;
    this.#dFixed[to] = this.#dFixed[from]!;
    this.#dTimes[to] = this.#dTimes[from]!;
  }

  #setStatus(det: number, status: number): void {
    this.#dFlags[det] = (this.#dFlags[det]! & ~3) | status;
  }

  #hostHasOpen(h: number): boolean {
    const s = this.#hStart[h]!, e = s + this.#hCount[h]!;
    for (let d = s; d < e; d++) if ((this.#dFlags[d]! & 3) !== ST_FIXED) return true;
    return false;
  }

  // ------------------------------------------------------------------------- internals: filters

  #compile(q: VmdrQuery): Compiled {
    const cached = this.#compiled.get(q);
    if (cached) return cached;
    let agMask = 0, statusMask = 0, typeMask = 0, sevMask = 0;
    ASSET_GROUPS.forEach((g, b) => {
      if (q.agIds?.includes(g.id)) agMask |= 1 << b;
    });
    for (const s of q.statuses ?? OPEN_STATUSES) statusMask |= 1 << DETECTION_STATUSES.indexOf(s);
    for (const t of q.types ?? ["Confirmed", "Potential"] as const) {
      typeMask |= 1 << DETECTION_TYPES.indexOf(t);
    }
    for (const s of q.severities ?? [1, 2, 3, 4, 5]) sevMask |= 1 << s;
    const c: Compiled = {
      agMask,
      statusMask,
      typeMask,
      sevMask,
      qids: q.qids,
      updatedSince: q.detectionUpdatedSince,
      updatedBefore: q.detectionUpdatedBefore,
    };
    this.#compiled.set(q, c);
    return c;
  }

  #detMatches(d: number, c: Compiled, h: number): boolean {
    const f = this.#dFlags[d]!;
    if (!(c.statusMask & (1 << (f & 3)))) return false;
    if (!(c.typeMask & (1 << ((f >> 4) & 3)))) return false;
    const qid = this.#dQid[d]!;
    if (c.sevMask !== 62 && !(c.sevMask & (1 << this.#kSev[this.#kbByQid.get(qid)!]!))) {
      return false;
    }
    if (c.qids && !inRanges(qid, c.qids)) return false;
    if (c.updatedSince !== undefined || c.updatedBefore !== undefined) {
      const t = this.#processedTime(h, this.#dUpdate[d]! - DAY_BIAS);
      if (c.updatedSince !== undefined && t < c.updatedSince) return false;
      if (c.updatedBefore !== undefined && !(t < c.updatedBefore)) return false;
    }
    return true;
  }
}

const ALL: VmdrQuery = { statuses: DETECTION_STATUSES, types: DETECTION_TYPES };

/** A query that matches every detection of every host.
 * @returns The query (all statuses and types, no filters).
 */
export function allDetections(): VmdrQuery {
  return ALL;
}
