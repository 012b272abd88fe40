/**
 * Deterministic randomness for the simulated subscription: a 32-bit hash of a few integers (for
 * values that must not depend on the order of generation) and a small seeded generator (for the
 * draws of one stream). The same seed gives the same subscription, day after day.
 *
 * @module
 */

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** A 32-bit hash of up to four integers. */
export function hash(a: number, b: number, c = 0, d = 0): number {
  return mix((mix((mix((mix(a) ^ b) | 0) + c) | 0) ^ d) | 0);
}

/** A seeded generator of numbers in [0, 1), and draws made from them. */
export class Rng {
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
