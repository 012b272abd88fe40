/**
 * A host's operating system as a report or the detection API names it → the vendor, product and
 * version strings of a host input `SetOS` line (docs/output.md, "Operating systems").
 * Pure: no I/O, no state.
 *
 * A CPE name (`cpe:/o:vendor:product:version`, or CPE 2.3 `cpe:2.3:o:...`) wins when there is
 * one for an operating system: its fields are sent as they are (decoded). Otherwise the OS text
 * goes through {@linkcode OS_TABLE}, first row that matches. A text that names several systems
 * (`Windows 2016/2019/10`, `Ubuntu / Tiny Core Linux / Linux 2.6.x`) or a version range or
 * wildcard (`Linux 2.4-2.6`, `Linux 3.x`) gives vendor and product only, never a guessed
 * version; a text no row knows gives nothing (no SetOS).
 *
 * @module
 */

/** What a `SetOS` line says about a host: vendor_str, product_str and, when known, version_str. */
export interface OsName {
  /** vendor_str, e.g. `Microsoft`. */
  vendor: string;
  /** product_str, e.g. `Windows Server`. */
  product: string;
  /** version_str, e.g. `2019`; undefined when the source does not say, or is ambiguous. */
  version?: string | undefined;
}

/** One row of the mapping table. */
export interface OsRow {
  /** What the row matches, as docs/output.md's table shows it. */
  example: string;
  /** The test; the first capture group (if any) is the version. */
  match: RegExp;
  /** vendor_str. */
  vendor: string;
  /** product_str. */
  product: string;
  /** The family: texts that name several systems of one family send its vendor and product. */
  family: "Windows" | "Linux" | "macOS" | "Cisco IOS";
  /** Turns the captured version into the one sent. @default it as it is */
  version?: (m: RegExpExecArray) => string | undefined;
}

const FAMILY: Record<OsRow["family"], OsName> = {
  "Windows": { vendor: "Microsoft", product: "Windows" },
  "Linux": { vendor: "Linux", product: "Linux" },
  "macOS": { vendor: "Apple", product: "macOS" },
  "Cisco IOS": { vendor: "Cisco", product: "IOS" },
};

const MS = String.raw`^(?:microsoft\s+)?windows`;
const V = String.raw`(\d+(?:\.\d+)*)`; // a version: digits and dots

/**
 * The mapping table, first match wins. docs/output.md's "Operating systems" table lists the same
 * rows.
 */
export const OS_TABLE: readonly OsRow[] = [
  {
    example: "Windows Server 2019 ..., Windows 2012 R2 ..., Windows 2008 R2 Enterprise ...",
    match: new RegExp(
      String.raw`${MS}\s+(?:server\s+)?(2003|2008|2012|2016|2019|2022|2025)(\s+r2)?\b`,
      "i",
    ),
    vendor: "Microsoft",
    product: "Windows Server",
    family: "Windows",
    version: (m) => `${m[1]}${m[2] ? " R2" : ""}`,
  },
  {
    example: "Windows 10 Enterprise 64 bit Edition Version 1909, Windows 7 ..., Windows XP",
    match: new RegExp(String.raw`${MS}\s+(11|10|8\.1|8|7|vista|xp|2000)\b`, "i"),
    vendor: "Microsoft",
    product: "Windows",
    family: "Windows",
    version: (m) => {
      const v = m[1]!.toLowerCase();
      return v === "xp" ? "XP" : v === "vista" ? "Vista" : v;
    },
  },
  {
    example: "Windows Server (no year)",
    match: new RegExp(String.raw`${MS}\s+server\b`, "i"),
    vendor: "Microsoft",
    product: "Windows Server",
    family: "Windows",
  },
  {
    example: "Windows (anything else)",
    match: new RegExp(String.raw`${MS}\b`, "i"),
    vendor: "Microsoft",
    product: "Windows",
    family: "Windows",
  },
  {
    example: "Ubuntu 18.04.3 LTS, Ubuntu Linux 16.04",
    match: new RegExp(String.raw`\bubuntu(?:\s+linux)?(?:\s+${V})?`, "i"),
    vendor: "Canonical",
    product: "Ubuntu Linux",
    family: "Linux",
  },
  {
    example: "Red Hat Enterprise Linux Server release 7.4, RHEL 8",
    match: new RegExp(
      String
        .raw`\b(?:red\s*hat\s+enterprise\s+linux(?:\s+(?:server|workstation|client|es|as|ws))?|rhel)(?:\s+release)?\s*${V}?`,
      "i",
    ),
    vendor: "Red Hat",
    product: "Enterprise Linux",
    family: "Linux",
  },
  {
    example: "CentOS Linux 7.6.1810, CentOS release 6.10",
    match: new RegExp(String.raw`\bcentos(?:\s+linux)?(?:\s+release)?(?:\s+${V})?`, "i"),
    vendor: "CentOS",
    product: "CentOS Linux",
    family: "Linux",
  },
  {
    example: "Debian GNU/Linux 9.11, Debian Linux 10",
    match: new RegExp(String.raw`\bdebian(?:\s+gnu/linux|\s+linux)?(?:\s+${V})?`, "i"),
    vendor: "Debian",
    product: "Debian Linux",
    family: "Linux",
  },
  {
    example: "SUSE Linux Enterprise Server 12 SP4, SLES 15",
    match: /\b(?:suse\s+linux\s+enterprise\s+server|sles)(?:\s+(\d+)(?:\s+(sp\d+))?)?/i,
    vendor: "SUSE",
    product: "Linux Enterprise Server",
    family: "Linux",
    version: (m) => m[1] && `${m[1]}${m[2] ? ` ${m[2].toUpperCase()}` : ""}`,
  },
  {
    example: "Fedora 31, Fedora Core 6",
    match: /\bfedora(?:\s+core)?(?:\s+(\d+))?/i,
    vendor: "Fedora Project",
    product: "Fedora",
    family: "Linux",
  },
  {
    example: "Amazon Linux 2, Amazon Linux AMI 2018.03",
    match: new RegExp(String.raw`\bamazon\s+linux(?:\s+ami)?(?:\s+${V})?`, "i"),
    vendor: "Amazon",
    product: "Amazon Linux",
    family: "Linux",
  },
  {
    example: "Oracle Enterprise Linux 7.7, Oracle Linux Server 8.2",
    match: new RegExp(
      String.raw`\boracle\s+(?:enterprise\s+)?linux(?:\s+server)?(?:\s+${V})?`,
      "i",
    ),
    vendor: "Oracle",
    product: "Linux",
    family: "Linux",
  },
  {
    example: "Linux 2.6, Linux 3.13, Linux Kernel 4.15.0-45-generic (the kernel)",
    match: new RegExp(String.raw`^linux(?:\s+kernel)?(?:\s+${V})?`, "i"),
    vendor: "Linux",
    product: "Linux",
    family: "Linux",
  },
  {
    example: "any other text with the word Linux (Tiny Core Linux)",
    match: /\blinux\b/i,
    vendor: "Linux",
    product: "Linux",
    family: "Linux",
    version: () => undefined,
  },
  {
    example: "Mac OS X 10.15.7, macOS Big Sur 11.2, Apple OS X 10.11",
    match: new RegExp(
      String.raw`\b(?:mac\s*os\s*x|macos|os\s+x)\b(?:(?:\s+[a-z]+){0,2}\s+${V})?`,
      "i",
    ),
    vendor: "Apple",
    product: "macOS",
    family: "macOS",
  },
  {
    example: "Cisco IOS XE 16.9.4, Cisco IOS XE Software, Version 17.3.1",
    match: /\bcisco\s+ios\s+xe\b(?:\s+software)?,?(?:\s+version)?(?:\s+(\d[\w.()]*))?/i,
    vendor: "Cisco",
    product: "IOS XE",
    family: "Cisco IOS",
  },
  {
    example: "Cisco IOS 15.2(4)M, Cisco IOS Version 12.2(55)SE",
    match: /\bcisco\s+ios\b(?!\s+x[er]\b)(?:\s+software)?,?(?:\s+version)?(?:\s+(\d[\w.()]*))?/i,
    vendor: "Cisco",
    product: "IOS",
    family: "Cisco IOS",
  },
];

// A version range (`2.4-2.6`) or wildcard (`2.6.x`, `3.*`): the text does not say which version.
const RANGE = /\d+(?:\.\d+)+\s*-\s*\d+(?:\.\d+)+/;
const WILDCARD = /\d\.[x*](?![a-z0-9])/i;

/**
 * Maps an OS text (and its CPE name, if any) to the strings of a `SetOS` line; undefined when
 * neither says which operating system it is.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(mapOs("Windows 2012 R2 Standard"),
 *   { vendor: "Microsoft", product: "Windows Server", version: "2012 R2" });
 * assert.deepEqual(mapOs("Windows 2016/2019/10"), { vendor: "Microsoft", product: "Windows" });
 * assert.deepEqual(mapOs("Linux 2.6", "cpe:/o:linux:linux_kernel:2.6.32"),
 *   { vendor: "linux", product: "linux_kernel", version: "2.6.32" });
 * assert.equal(mapOs("HP LaserJet"), undefined);
 * ```
 */
export function mapOs(os: string | undefined, cpe?: string | undefined): OsName | undefined {
  const fromCpe = cpe === undefined ? undefined : osFromCpe(cpe);
  if (fromCpe) return fromCpe;
  const text = (os ?? "").replace(/\s+/g, " ").trim();
  if (text === "") return undefined;
  const alternatives = splitAlternatives(text);
  if (alternatives.length === 1) {
    const hit = matchRow(text);
    if (!hit) return undefined;
    const ambiguous = RANGE.test(text) || WILDCARD.test(text);
    return ambiguous ? { vendor: hit.name.vendor, product: hit.name.product } : hit.name;
  }
  // Several systems: one product if they all agree, else their common family, else nothing.
  const rows = alternatives.map((a) => matchRow(a)?.row);
  if (rows.some((r) => r === undefined)) return undefined;
  const first = rows[0]!;
  if (rows.every((r) => r!.vendor === first.vendor && r!.product === first.product)) {
    return { vendor: first.vendor, product: first.product };
  }
  if (rows.every((r) => r!.family === first.family)) return { ...FAMILY[first.family] };
  return undefined;
}

function matchRow(text: string): { name: OsName; row: OsRow } | undefined {
  for (const row of OS_TABLE) {
    const m = row.match.exec(text);
    if (!m) continue;
    const version = row.version ? row.version(m) : m[1];
    const name: OsName = { vendor: row.vendor, product: row.product };
    if (version) name.version = version;
    return { name, row };
  }
  return undefined;
}

// `Windows 2016/2019/10` → `Windows 2016`, `Windows 2019`, `Windows 10`: an alternative that
// starts with a digit (or R2, XP, Vista) borrows the first one's leading word. `GNU/Linux` is
// one name, not two.
function splitAlternatives(text: string): string[] {
  const parts = text.split(/\/(?!(?<=\bgnu\/)linux\b)/i).map((p) => p.trim()).filter((p) =>
    p !== ""
  );
  if (parts.length <= 1) return [text];
  const lead = /^[a-z]+/i.exec(parts[0]!)?.[0] ?? "";
  return parts.map((p) => (/^(\d|r2\b|xp\b|vista\b)/i.test(p) ? `${lead} ${p}` : p));
}

/**
 * The vendor, product and version of an operating system's CPE name: CPE 2.2
 * (`cpe:/o:microsoft:windows_10:1909`) or CPE 2.3 (`cpe:2.3:o:microsoft:windows_10:1909:*:...`).
 * Undefined when it is not an operating system (`cpe:/a:...`, `cpe:/h:...`) or names no
 * vendor and product. The fields are sent as the CPE has them, decoded (`%20`, `\:`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(osFromCpe("cpe:2.3:o:cisco:ios:15.2\\(4\\)m:*:*:*:*:*:*:*"),
 *   { vendor: "cisco", product: "ios", version: "15.2(4)m" });
 * assert.equal(osFromCpe("cpe:/a:apache:http_server:2.4"), undefined);
 * ```
 */
export function osFromCpe(cpe: string): OsName | undefined {
  const s = cpe.trim();
  let fields: string[];
  if (/^cpe:\/o:/i.test(s)) fields = s.slice(7).split(":").map(decodeUri);
  else if (/^cpe:2\.3:o:/i.test(s)) fields = splitFormatted(s.slice(10));
  else return undefined;
  const [vendor, product, version] = fields.map((f) => (f === "*" || f === "-" ? "" : f.trim()));
  if (!vendor || !product) return undefined;
  return { vendor, product, ...(version ? { version } : {}) };
}

function decodeUri(field: string): string {
  try {
    return decodeURIComponent(field);
  } catch {
    return field;
  }
}

// CPE 2.3 formatted string: fields split on unescaped `:`, `\x` stands for `x`.
function splitFormatted(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\" && i + 1 < text.length) cur += text[++i];
    else if (c === ":") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}
