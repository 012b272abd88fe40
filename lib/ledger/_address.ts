/**
 * Host addresses as the ledger keeps them: a key of five u32 words, `[4, v, 0, 0, 0]` for IPv4
 * and `[6, w0, w1, w2, w3]` for IPv6 (the 128 bits, most significant word first), so that keys
 * sort IPv4 first, then by value. Parsed from text here (not from `lib/config/`: this folder
 * stands alone), with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291) taken as the IPv4
 * host, as the Defense Center and the sources take it; formatted back as a dotted quad or RFC
 * 5952 text.
 *
 * @module
 */

/** Words in a key. */
export const KEY_WORDS = 5;

/**
 * Writes the key of `text` (an IPv4 or IPv6 address) into `key` at `at`; false when `text` is not
 * an address (nothing written then).
 */
export function parseKey(text: string, key: Uint32Array, at = 0): boolean {
  const v4 = parseV4(text);
  if (v4 !== undefined) {
    key[at] = 4;
    key[at + 1] = v4;
    key[at + 2] = key[at + 3] = key[at + 4] = 0;
    return true;
  }
  const g = parseV6(text);
  if (!g) return false;
  const w0 = g[0]! * 65536 + g[1]!, w1 = g[2]! * 65536 + g[3]!;
  const w2 = g[4]! * 65536 + g[5]!, w3 = g[6]! * 65536 + g[7]!;
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) { // IPv4-mapped: the IPv4 host
    key[at] = 4;
    key[at + 1] = w3;
    key[at + 2] = key[at + 3] = key[at + 4] = 0;
    return true;
  }
  key[at] = 6;
  key[at + 1] = w0;
  key[at + 2] = w1;
  key[at + 3] = w2;
  key[at + 4] = w3;
  return true;
}

/** The canonical text of the key at `key[at]`. */
export function formatKey(key: Uint32Array, at = 0): string {
  if (key[at] === 4) return formatV4(key[at + 1]!);
  const groups: number[] = [];
  for (let i = 1; i <= 4; i++) groups.push(key[at + i]! >>> 16, key[at + i]! & 0xffff);
  return formatV6(groups);
}

/** Compares the keys at `a[i]` and `b[j]`: negative, 0 or positive. */
export function compareKeys(a: Uint32Array, i: number, b: Uint32Array, j: number): number {
  for (let k = 0; k < KEY_WORDS; k++) {
    const d = a[i + k]! - b[j + k]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** A well-mixed 32-bit hash of the key at `key[at]` (stable across runs and machines). */
export function hashKey(key: Uint32Array, at = 0): number {
  let h = key[at] === 4 ? 0x9e3779b9 : 0x85ebca6b;
  for (let k = 1; k < KEY_WORDS; k++) h = fmix32(h ^ key[at + k]!) + k;
  return fmix32(h) >>> 0;
}

// MurmurHash3's finaliser: every input bit affects every output bit.
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The dotted quad of an IPv4 value. */
export function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function parseV4(text: string): number | undefined {
  let value = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + part;
      part = digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + c - 48;
      if (++digits > 3 || part > 255) return undefined;
    } else return undefined;
  }
  return dots === 3 && digits > 0 ? value * 256 + part : undefined;
}

// RFC 4291 text: eight groups of 1-4 hex digits, at most one "::", an optional dotted quad as
// the last 32 bits. No zone. Returns the eight 16-bit groups.
function parseV6(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 45 || !text.includes(":")) return undefined;
  const gap = text.indexOf("::");
  if (gap >= 0 && text.indexOf("::", gap + 1) >= 0) return undefined;
  const left = groups(gap >= 0 ? text.slice(0, gap) : text, gap < 0);
  const right = gap >= 0 ? groups(text.slice(gap + 2), true) : [];
  if (!left || !right) return undefined;
  const fill = 8 - left.length - right.length;
  if (gap >= 0 ? fill < 1 : fill !== 0) return undefined;
  return [...left, ...new Array<number>(fill).fill(0), ...right];
}

function groups(text: string, last: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":"), out: number[] = [];
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

// RFC 5952: lower case, no leading zeros, the first longest run of two or more zero groups as
// "::"; the IPv4-translated prefix ::ffff:0:0:0/96 (RFC 2765) with its IPv4 address dotted (§5).
// (IPv4-mapped addresses never get here: they are IPv4 keys.)
function formatV6(g: readonly number[]): string {
  const translated = g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0xffff &&
    g[5] === 0;
  if (!translated) return compress(g);
  return `${compress(g.slice(0, 6))}:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
}

function compress(g: readonly number[]): string {
  let best = -1, bestLen = 1;
  for (let i = 0; i < g.length;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < g.length && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((p) => p.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
