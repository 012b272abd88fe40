/**
 * IPv4/IPv6 addresses and the `ip_ranges` filter: single addresses, CIDR blocks and dashed
 * ranges, comma separated (README: Configuration).
 *
 * The parsers are written here rather than taken from ipaddr.js (which the tests use as an
 * oracle): they run for every host of every report, and loading that CommonJS package costs
 * about 18 ms of Node-compatibility start-up on every run (docs/platform.md, "Start-up").
 *
 * @module
 */

/** A parsed host address: family and numeric value (IPv6 as a bigint). */
export interface HostAddress {
  /** 4 or 6. */
  family: 4 | 6;
  /** The address as a number (IPv4) or bigint (IPv6). */
  value: number | bigint;
  /** The canonical text: dotted quad, or RFC 5952 for IPv6. */
  text: string;
}

function parseV4(text: string): number | undefined {
  let value = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return undefined; // no leading zeros
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + part;
}

// RFC 4291 text: eight groups of 1-4 hex digits, one "::" for a run of zero groups, and an
// optional dotted quad as the last 32 bits. No zone ("%eth0"). Returns the 16-bit groups.
function parseV6(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const gap = text.indexOf("::");
  if (gap >= 0 && text.indexOf("::", gap + 1) >= 0) return undefined;
  const head = gap >= 0 ? text.slice(0, gap) : text;
  const tail = gap >= 0 ? text.slice(gap + 2) : "";
  const left = groups(head, gap < 0);
  const right = gap >= 0 ? groups(tail, true) : [];
  if (!left || !right) return undefined;
  const fill = 8 - left.length - right.length;
  if (gap >= 0 ? fill < 1 : fill !== 0) return undefined;
  return [...left, ...new Array<number>(fill).fill(0), ...right];
}

// The colon-separated groups of one side of "::" (a dotted quad allowed last when `last`).
function groups(text: string, last: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (last && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseV4(part);
      if (v4 === undefined) return undefined;
      out.push(Math.floor(v4 / 65536), v4 % 65536);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(parseInt(part, 16));
    else return undefined;
  }
  return out;
}

/**
 * The RFC 5952 text of an IPv6 address given as its eight 16-bit groups (what
 * {@linkcode parseHostAddress} makes of any spelling).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(ipv6Text([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), "2001:db8::1");
 * ```
 */
export function ipv6Text(groups: readonly number[]): string {
  return formatV6(groups);
}

// RFC 5952: lower case, no leading zeros, the first longest run of two or more zero groups
// written "::" (§4). An address under a well-known prefix that embeds an IPv4 address in its
// last 32 bits is written with that address as a dotted quad (§5): IPv4-mapped ::ffff:0:0/96
// (RFC 4291) and IPv4-translated ::ffff:0:0:0/96 (RFC 2765), the prefixes §5 names. Not the
// IPv4-compatible ::/96 (RFC 4291 deprecates it, and :: and ::1 are in it) nor ISATAP (its
// marker is in the interface ID under any prefix, not a well-known prefix).
function formatV6(parts: readonly number[]): string {
  const embedsV4 = parts[0] === 0 && parts[1] === 0 && parts[2] === 0 &&
    ((parts[3] === 0 && parts[4] === 0 && parts[5] === 0xffff) ||
      (parts[3] === 0 && parts[4] === 0xffff && parts[5] === 0));
  if (!embedsV4) return compressV6(parts);
  const [hi, lo] = [parts[6]!, parts[7]!];
  return `${compressV6(parts.slice(0, 6))}:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

// The groups in hex with the first longest run of two or more zero groups written "::".
function compressV6(parts: readonly number[]): string {
  let best = -1, bestLen = 1;
  for (let i = 0; i < parts.length;) {
    if (parts[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < parts.length && parts[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = parts.map((p) => p.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/**
 * Parses one IPv4 or IPv6 address (surrounding blanks allowed); undefined when it is not one.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseHostAddress(" 10.1.2.3 ")?.text, "10.1.2.3");
 * assert.equal(parseHostAddress("2001:DB8:0:0::1")?.text, "2001:db8::1");
 * assert.equal(parseHostAddress("::FFFF:a00:9")?.text, "::ffff:10.0.0.9");
 * assert.equal(parseHostAddress("10.1.2.256"), undefined);
 * ```
 */
export function parseHostAddress(input: string): HostAddress | undefined {
  const text = input.trim();
  const v4 = parseV4(text);
  if (v4 !== undefined) return { family: 4, value: v4, text };
  if (!text.includes(":")) return undefined;
  const parts = parseV6(text);
  if (!parts) return undefined;
  let value = 0n;
  for (const part of parts) value = (value << 16n) | BigInt(part);
  return { family: 6, value, text: formatV6(parts) };
}

/**
 * A host's address as the Defense Center holds it, for every source (reports and detections
 * alike): {@linkcode parseHostAddress}, with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
 * RFC 4291) as the IPv4 host `a.b.c.d`. The IPv4-translated form (`::ffff:0:a.b.c.d`) stays IPv6.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(hostAddress("::ffff:10.99.0.1"), { family: 4, value: 174260225, text: "10.99.0.1" });
 * assert.equal(hostAddress("::FFFF:a63:1")?.text, "10.99.0.1");
 * assert.equal(hostAddress("::ffff:0:10.99.0.1")?.text, "::ffff:0:10.99.0.1");
 * ```
 */
export function hostAddress(input: string): HostAddress | undefined {
  const addr = parseHostAddress(input);
  if (addr?.family !== 6) return addr;
  const v = addr.value as bigint;
  if (v >> 32n !== 0xffffn) return addr;
  const value = Number(v & 0xffffffffn);
  const text = `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
  return { family: 4, value, text };
}

interface Range {
  family: 4 | 6;
  lo: number | bigint;
  hi: number | bigint;
}

/** A set of address ranges; `contains` tells whether a host is inside. */
export class IpRangeSet {
  readonly #ranges: readonly Range[];
  /** The text the set was parsed from, for messages. */
  readonly source: string;

  private constructor(ranges: Range[], source: string) {
    this.#ranges = ranges;
    this.source = source;
  }

  /**
   * Parses a comma-separated list; throws a `RangeError` naming the bad item.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * const set = IpRangeSet.parse("192.168.1.0/24, 10.1.2.3-10.1.2.10, 42.4.2.1");
   * assert.equal(set.contains(parseHostAddress("10.1.2.5")!), true);
   * assert.equal(set.contains(parseHostAddress("10.1.2.11")!), false);
   * ```
   */
  static parse(text: string): IpRangeSet {
    const ranges: Range[] = [];
    for (const raw of text.split(",")) {
      const item = raw.trim();
      if (item === "") continue;
      ranges.push(parseRange(item));
    }
    if (ranges.length === 0) throw new RangeError("the list is empty");
    return new IpRangeSet(ranges, text);
  }

  /**
   * The ranges as Qualys's `ips` parameter takes them (`10.0.0.0-10.255.255.255`, `42.4.2.1`),
   * or undefined when the set also holds IPv6 ranges: a query narrowed to IPv4 addresses would
   * leave out the IPv6-only hosts those cover.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * assert.deepEqual(IpRangeSet.parse("10.0.0.0/8, 42.4.2.1").ipv4Ranges(),
   *   ["10.0.0.0-10.255.255.255", "42.4.2.1"]);
   * assert.equal(IpRangeSet.parse("10.0.0.0/8, 2001:db8::/32").ipv4Ranges(), undefined);
   * ```
   */
  ipv4Ranges(): string[] | undefined {
    if (this.#ranges.some((r) => r.family === 6)) return undefined;
    const text = (v: number) =>
      `${Math.floor(v / 16777216)}.${Math.floor(v / 65536) % 256}.${Math.floor(v / 256) % 256}.${
        v % 256
      }`;
    return this.#ranges.map((r) =>
      r.lo === r.hi ? text(r.lo as number) : `${text(r.lo as number)}-${text(r.hi as number)}`
    );
  }

  /**
   * True when `addr` is inside one of the ranges. An IPv4-mapped address (`::ffff:10.0.0.1`) is
   * its IPv4 host, as the host index and the Defense Center hold it: it is inside a range that
   * holds either form, so both listings of one host are kept or skipped together.
   */
  contains(addr: HostAddress): boolean {
    const other = otherForm(addr);
    for (const r of this.#ranges) {
      if (r.family === addr.family && addr.value >= r.lo && addr.value <= r.hi) return true;
      if (other && r.family === other.family && other.value >= r.lo && other.value <= r.hi) {
        return true;
      }
    }
    return false;
  }
}

const MAPPED = 0xffffn << 32n;

// The other form of an address that has two: IPv4 ⇄ IPv4-mapped IPv6 (::ffff:0:0/96).
function otherForm(addr: HostAddress): { family: 4 | 6; value: number | bigint } | undefined {
  if (addr.family === 4) return { family: 6, value: MAPPED | BigInt(addr.value) };
  const v = addr.value as bigint;
  return v >> 32n === 0xffffn ? { family: 4, value: Number(v & 0xffffffffn) } : undefined;
}

function parseRange(item: string): Range {
  const bad = (why: string) =>
    new RangeError(`"${item}" is not an address, CIDR block or dashed range: ${why}`);
  const slash = item.indexOf("/");
  if (slash >= 0) {
    const base = parseHostAddress(item.slice(0, slash));
    const bitsText = item.slice(slash + 1).trim();
    if (!base) throw bad("the address before '/' is not valid");
    const max = base.family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) {
      throw bad(`the prefix length must be 0-${max}`);
    }
    const bits = Number(bitsText);
    if (base.family === 4) {
      const size = 2 ** (32 - bits);
      const lo = Math.floor((base.value as number) / size) * size;
      return { family: 4, lo, hi: lo + size - 1 };
    }
    const hostBits = BigInt(128 - bits);
    const lo = ((base.value as bigint) >> hostBits) << hostBits;
    return { family: 6, lo, hi: lo + (1n << hostBits) - 1n };
  }
  const dash = item.indexOf("-");
  if (dash >= 0) {
    const a = parseHostAddress(item.slice(0, dash));
    const b = parseHostAddress(item.slice(dash + 1));
    if (!a || !b) throw bad("both ends of a range must be addresses");
    if (a.family !== b.family) throw bad("both ends must be IPv4, or both IPv6");
    if (a.value > b.value) throw bad("the first address is greater than the second");
    return { family: a.family, lo: a.value, hi: b.value };
  }
  const one = parseHostAddress(item);
  if (!one) throw bad("not a valid IPv4 or IPv6 address");
  return { family: one.family, lo: one.value, hi: one.value };
}
