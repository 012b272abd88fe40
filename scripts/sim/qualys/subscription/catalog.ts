/**
 * The static tables the simulated subscription draws from: operating systems (with their CPEs
 * and how often they are seen), asset groups, networks, DNS domains, and the QID categories with
 * their QID ranges, ports, vulnerability types, severities and products.
 *
 * @module
 */

import type { AssetGroup } from "./records.ts";

/** How a host is tracked, by its internal code. */
export const TRACKING = ["IP", "DNS", "NETBIOS", "QAGENT"] as const;

/** [name, OS_CPE or "", family, weight]; ambiguous fingerprints have "/" and no CPE. */
export const OS_TABLE: readonly (readonly [string, string, string, number])[] = [
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
/** OS_TABLE's indices with their weights, for a weighted draw. */
export const OS_WEIGHTED = OS_TABLE.map((o, i) => [i, o[3]] as const);

/** The subscription's asset groups. */
export const ASSET_GROUPS: readonly AssetGroup[] = [
  { id: 4601101, title: "Datacenter East" },
  { id: 4601102, title: "Datacenter West" },
  { id: 4601103, title: "DMZ" },
  { id: 4601104, title: "Workstations" },
  { id: 4601105, title: "PCI Scope" },
  { id: 4601106, title: "Network Devices" },
  { id: 4601107, title: "Cloud - AWS" },
  { id: 4601108, title: "Branch Offices" },
];
/** Network IDs hosts are drawn in (0, the default network, most often). */
export const NETWORKS = [0, 0, 0, 0, 0, 0, 0, 312001, 312002, 312003];
/** DNS domains of the hosts' names. */
export const DOMAINS = [
  "corp.example.com",
  "dmz.example.com",
  "branch.example.net",
  "lab.example.org",
];

/** A detection's port: port, proto (0 none, 1 tcp, 2 udp), ssl. */
export type Port = readonly [number, 0 | 1 | 2, 0 | 1];
const WEB: Port[] = [[443, 1, 1], [80, 1, 0], [8443, 1, 1], [8080, 1, 0]];
const NONE: Port[] = [[0, 0, 0]];

/** name, QID range, ports, [V, PV, IG, V-or-PV] weights, severity weights 1–5. */
export const CATEGORIES: readonly {
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
/** A host's platform code by OS family (0: any other), as CATEGORY_PLATFORM uses it. */
export const PLATFORM_CODE: Record<string, number> = { win: 1, linux: 2, cisco: 3, esx: 4 };
/** The platform a category's QIDs belong to (0: any), by category index. */
export const CATEGORY_PLATFORM = CATEGORIES.map((c) =>
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

/** The index in CATEGORIES of the category a QID belongs to. */
export function categoryOf(qid: number): number {
  let best = 0;
  for (const [lo, i] of CATEGORY_OF) if (qid >= lo && qid <= CATEGORIES[i]!.hi) best = i;
  return best;
}
