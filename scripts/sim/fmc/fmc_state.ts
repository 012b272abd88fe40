/**
 * What a Defense Center (FMC) holds that the host input module reads and changes: the domain tree
 * (Global, sub-domains, one network map per leaf domain), the source tables (applications and
 * scanners, each known per network map), the third-party map names, and each leaf's network map
 * (hosts, MAC addresses, operating systems, scan results by host and scanner). It is the database
 * side of the simulator; `host_input_session.ts` applies the commands to it.
 *
 * @module
 */

/** The Global domain's UUID, the same on every FMC. */
export const GLOBAL_DOMAIN_UUID = "e276abec-e0f2-11e3-8169-6d9ed49b625f";

/** A domain below Global, as a simulator script gives it. */
export interface DomainSpec {
  /** The domain's name (one level, e.g. `East`). */
  name: string;
  /** Its UUID. @default a UUID made from its place in the tree */
  uuid?: string;
  /** Its sub-domains; a domain without any is a leaf and has a network map. @default {[]} */
  children?: DomainSpec[];
}

/**
 * A small multi-domain tree for tests and the demo: `Global \ East` (a leaf), and `Global \ West`
 * (not a leaf) with the leaves `Global \ West \ Lab` and `Global \ West \ Prod`.
 */
export const SAMPLE_DOMAINS: readonly DomainSpec[] = [
  { name: "East" },
  { name: "West", children: [{ name: "Lab" }, { name: "Prod" }] },
];

/** A domain of the tree. */
export interface Domain {
  /** UUID, lower case with dashes. */
  uuid: string;
  /** Its own name (`Global` for the root). */
  name: string;
  /** Its full name as the FMC writes it: `Global \ West \ Lab`. */
  path: string;
  /** The parent (undefined for Global). */
  parent: Domain | undefined;
  /** Sub-domains. */
  children: Domain[];
  /** True when it has no sub-domains: only a leaf holds a network map. */
  leaf: boolean;
}

/** The domain tree: Global alone (a single-domain FMC, where Global is the leaf) or a tree. */
export class DomainTree {
  /** The root. */
  readonly global: Domain;
  readonly #byUuid = new Map<string, Domain>();

  /** Builds the tree from Global's sub-domains (none: a single-domain FMC). */
  constructor(children: readonly DomainSpec[] = []) {
    this.global = this.#add({ name: "Global", uuid: GLOBAL_DOMAIN_UUID, children: [...children] }, [
      1,
    ], undefined);
  }

  #add(spec: DomainSpec, place: number[], parent: Domain | undefined): Domain {
    const uuid = normalUuid(spec.uuid ?? madeUuid(place));
    if (!uuid) throw new TypeError(`Domain "${spec.name}": "${spec.uuid}" is not a UUID`);
    if (this.#byUuid.has(uuid)) throw new TypeError(`Domain "${spec.name}": UUID ${uuid} is taken`);
    const d: Domain = {
      uuid,
      name: spec.name,
      path: parent ? `${parent.path} \\ ${spec.name}` : spec.name,
      parent,
      children: [],
      leaf: !spec.children?.length,
    };
    this.#byUuid.set(uuid, d);
    spec.children?.forEach((c, k) => d.children.push(this.#add(c, [...place, k + 1], d)));
    return d;
  }

  /** Every domain, depth first from Global. */
  all(): Domain[] {
    const out: Domain[] = [];
    const walk = (d: Domain) => {
      out.push(d);
      d.children.forEach(walk);
    };
    walk(this.global);
    return out;
  }

  /** The leaf domains, in tree order. */
  leaves(): Domain[] {
    return this.all().filter((d) => d.leaf);
  }

  /** The domain with this UUID (dashes optional, any case). */
  byUuid(uuid: string): Domain | undefined {
    const u = normalUuid(uuid);
    return u ? this.#byUuid.get(u) : undefined;
  }

  /**
   * The domain at a path of names below Global (`["West", "Lab"]`); `["Global"]` is Global.
   * Names are case-sensitive.
   */
  byNames(names: readonly string[]): Domain | undefined {
    if (names.length === 1 && names[0] === "Global") return this.global;
    let d: Domain | undefined = this.global;
    for (const n of names) d = d?.children.find((c) => c.name === n);
    return d === this.global ? undefined : d;
  }

  /**
   * Finds a domain by UUID or by name path (`Global \ West \ Lab`, or `West \ Lab`).
   *
   * @throws {RangeError} When there is no such domain.
   */
  find(key: string): Domain {
    const names = key.split(/\s*\\\s*/);
    if (names.length >= 2 && names[0] === "Global") names.shift();
    const d = this.byUuid(key) ?? this.byNames(names);
    if (!d) throw new RangeError(`No domain "${key}" in this FMC's domain tree`);
    return d;
  }

  /** True when `ancestor` is a proper ancestor of `d`. */
  isAncestor(ancestor: Domain, d: Domain): boolean {
    for (let p = d.parent; p; p = p.parent) if (p === ancestor) return true;
    return false;
  }
}

/** Lower-case dashed form of a UUID given with or without dashes; undefined if it is not one. */
export function normalUuid(s: string): string | undefined {
  const m = /^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$/i.exec(s);
  return m ? m.slice(1).join("-").toLowerCase() : undefined;
}

function madeUuid(place: number[]): string {
  const hex = place.map((n) => n.toString(16).padStart(2, "0")).join("").padEnd(12, "0");
  return `d0a1a100-0000-4000-8000-${hex.slice(0, 12)}`;
}

/** One scan result in a network map. */
export interface MapResult {
  /** vuln_id; empty for a generic result (no vuln_id, or a Perl-false one such as `0`). */
  vulnId: string;
  /** Port as given (the module does not check it; empty when there is none). */
  port: string;
  /** Protocol as stored: `tcp` (6), `udp` (17) or empty. */
  proto: string;
  /** name. */
  name: string;
  /** description. */
  desc: string;
  /**
   * CVE IDs as the module reads them (the first `cve_ids:` and every `CVE-` removed, split on
   * white space), shown with `CVE-` in front again; empty for a generic result.
   */
  cves: string[];
  /** Bugtraq IDs (the first `bugtraq_ids:` removed, split on white space). */
  bugtraqs: string[];
}

/** The OS a host was given with SetOS. */
export interface OsRecord {
  /** vendor_str (undefined when the field was absent). */
  vendor: string | undefined;
  /** product_str. */
  product: string | undefined;
  /** version_str. */
  version: string | undefined;
}

/** A network map as plain data: host → scanner → results (sorted), for comparisons. */
export type ResultsDump = Record<string, Record<string, MapResult[]>>;

function resultKey(r: { vulnId: string; port: string; proto: string }): string {
  return `${r.vulnId}/${perlNum(r.port)}/${r.proto}`;
}

/** The network map of one leaf domain. */
export class NetworkMap {
  /** The leaf domain it belongs to. */
  readonly domain: Domain;
  /** Hosts added with AddHost: their IP address, or the MAC address of a MAC-only host. */
  readonly hosts: Set<string> = new Set();
  /** MAC address given with AddHost, by IP address. */
  readonly macs: Map<string, string> = new Map();
  /** Operating systems set with SetOS, by IP address. */
  readonly os: Map<string, OsRecord> = new Map();
  /** Scan results: IP address → scanner name → `vulnId/port/proto` → result. */
  readonly results: Map<string, Map<string, Map<string, MapResult>>> = new Map();

  /** An empty map for `domain`. */
  constructor(domain: Domain) {
    this.domain = domain;
  }

  /**
   * Applies a scanner's results for one host: `replace` (ScanFlush) first removes all that
   * scanner's results on the host, else they are merged (ScanUpdate).
   */
  applyResults(ip: string, scanner: string, results: MapResult[], replace: boolean): void {
    const byScanner = this.results.get(ip) ?? new Map<string, Map<string, MapResult>>();
    this.results.set(ip, byScanner);
    const current = replace ? new Map<string, MapResult>() : byScanner.get(scanner) ?? new Map();
    for (const r of results) current.set(resultKey(r), r);
    byScanner.set(scanner, current);
  }

  /**
   * Deletes results of a host: `scanner` undefined means every scanner's; `which` picks all,
   * vulnerability results only, generic results only, or those matching `match`.
   */
  deleteResults(
    ip: string,
    scanner: string | undefined,
    which: "all" | "vuln" | "generic" | ((r: MapResult) => boolean),
  ): void {
    const byScanner = this.results.get(ip);
    if (!byScanner) return;
    for (const [name, results] of byScanner) {
      if (scanner !== undefined && name !== scanner) continue;
      for (const [key, r] of results) {
        const hit = which === "all" ||
          (which === "vuln" && r.vulnId !== "") ||
          (which === "generic" && r.vulnId === "") ||
          (typeof which === "function" && which(r));
        if (hit) results.delete(key);
      }
    }
  }

  /** Removes a host: its address, MAC, OS and results. */
  deleteHost(ip: string): void {
    this.hosts.delete(ip);
    this.macs.delete(ip);
    this.os.delete(ip);
    this.results.delete(ip);
  }

  /** Results as plain data, hosts and results sorted. */
  dump(): ResultsDump {
    const out: ResultsDump = {};
    for (const ip of [...this.results.keys()].sort()) {
      out[ip] = {};
      for (const [scanner, results] of this.results.get(ip)!) {
        out[ip][scanner] = [...results.values()].sort((a, b) =>
          `${a.vulnId}/${a.port}/${a.proto}`.localeCompare(`${b.vulnId}/${b.port}/${b.proto}`)
        );
      }
    }
    return out;
  }

  /** Operating systems as plain data, by IP address (sorted). */
  dumpOs(): Record<string, OsRecord> {
    const out: Record<string, OsRecord> = {};
    for (const ip of [...this.os.keys()].sort()) out[ip] = { ...this.os.get(ip)! };
    return out;
  }
}

/** A row of a source table (`rna_source_app_str` or `rna_scan_type`). */
export interface SourceRow {
  /** Its ID. */
  id: number;
  /** Its name. */
  name: string;
  /** Scanners only: it reports vulnerabilities (else generic results). */
  hasVulnInfo: boolean;
  /** UUIDs of the leaf domains whose network map knows it. */
  netmaps: Set<string>;
}

/** Options for {@linkcode FmcState}. */
export interface FmcOptions {
  /** Global's sub-domains; none makes a single-domain FMC, where Global is the leaf. @default {[]} */
  domains?: readonly DomainSpec[];
  /** Names of the user third-party maps (defined in Global, so every domain sees them). @default {[]} */
  maps?: readonly string[];
  /** Store scan results (the bench turns it off to stay small). @default {true} */
  storeResults?: boolean;
}

/** The FMC's data: domains, network maps, sources, scanners and third-party maps. */
export class FmcState {
  /** The domain tree. */
  readonly domains: DomainTree;
  /** One network map per leaf domain, by domain UUID. */
  readonly netmaps: Map<string, NetworkMap> = new Map();
  /** Application sources. */
  readonly appSources: SourceRow[] = [];
  /** Scanners (`Nmap` exists in every network map, as the FMC creates it with each domain). */
  readonly scanTypes: SourceRow[] = [];
  /** Third-party map names. */
  readonly maps: Set<string>;
  /** Whether scan results are stored. */
  readonly storeResults: boolean;

  /** A fresh FMC. */
  constructor(options: FmcOptions = {}) {
    this.domains = new DomainTree(options.domains);
    this.maps = new Set(options.maps ?? []);
    this.storeResults = options.storeResults ?? true;
    const leaves = this.domains.leaves();
    for (const d of leaves) this.netmaps.set(d.uuid, new NetworkMap(d));
    this.scanTypes.push({
      id: 1,
      name: "Nmap",
      hasVulnInfo: true,
      netmaps: new Set(leaves.map((d) => d.uuid)),
    });
  }

  /** The network map of a leaf domain (UUID or name path). @throws {RangeError} If not a leaf. */
  netmap(domain: string): NetworkMap {
    const d = this.domains.find(domain);
    const m = this.netmaps.get(d.uuid);
    if (!m) throw new RangeError(`Domain "${d.path}" is not a leaf domain: it has no network map`);
    return m;
  }
}

/**
 * Perl's numeric value of a string: leading white space, then the longest number prefix; 0 when
 * there is none (`"06"` is 6, `"6abc"` is 6, `"tcp"` is 0).
 */
export function perlNum(s: string | undefined): number {
  if (s === undefined || s === "") return 0;
  if (/^\d{1,15}$/.test(s)) return Number(s);
  const m = /^[ \t\n\r\f\v]*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/.exec(s);
  if (m) return Number(m[1]);
  const special = /^[ \t\n\r\f\v]*([+-]?)(inf(?:inity)?|nan)/i.exec(s);
  if (!special) return 0;
  if (special[2]!.toLowerCase() === "nan") return NaN;
  return special[1] === "-" ? -Infinity : Infinity;
}
