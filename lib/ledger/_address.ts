/**
 * Host addresses as the ledger keeps them: a key of five u32 words, `[4, v, 0, 0, 0]` for IPv4
 * and `[6, w0, w1, w2, w3]` for IPv6 (the 128 bits, most significant word first), so that keys
 * sort IPv4 first, then by value. Read with the tree's one address normalisation
 * (`hostAddress()`: an IPv4-mapped IPv6 address `::ffff:a.b.c.d` is the IPv4 host, as the Defense
 * Center and the sources take it), written back as its canonical text.
 *
 * @module
 */

import { hostAddress, ipv6Text } from "../config/ip_ranges.ts";

/** Words in a key. */
export const KEY_WORDS = 5;

const LOW_32 = 0xffffffffn;

/**
 * Writes the key of `text` (an IPv4 or IPv6 address) into `key` at `at`; false when `text` is not
 * an address (nothing written then).
 */
export function parseKey(text: string, key: Uint32Array, at = 0): boolean {
  const address = hostAddress(text);
  if (address === undefined) return false;
  if (address.family === 4) {
    key[at] = 4;
    key[at + 1] = address.value as number;
    key[at + 2] = key[at + 3] = key[at + 4] = 0;
    return true;
  }
  const v = address.value as bigint;
  key[at] = 6;
  key[at + 1] = Number((v >> 96n) & LOW_32);
  key[at + 2] = Number((v >> 64n) & LOW_32);
  key[at + 3] = Number((v >> 32n) & LOW_32);
  key[at + 4] = Number(v & LOW_32);
  return true;
}

/** The canonical text of the key at `key[at]`. */
export function formatKey(key: Uint32Array, at = 0): string {
  if (key[at] === 4) return formatV4(key[at + 1]!);
  const groups: number[] = [];
  for (let i = 1; i <= 4; i++) groups.push(key[at + i]! >>> 16, key[at + i]! & 0xffff);
  return ipv6Text(groups);
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
