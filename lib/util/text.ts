/**
 * Small text helpers: edit distance and the closest of a set of names (for "did you mean"
 * hints), a host name without the brackets of an IPv6 literal, a Basic auth header value, and a
 * count with its noun in the singular or plural ("1 host", "2 hosts").
 *
 * @module
 */

/** The Levenshtein distance between `a` and `b`. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/**
 * The candidate nearest to `word` (ignoring case) and its distance.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(nearest("prot", ["port", "password"]), { name: "port", distance: 2 });
 * ```
 */
export function nearest(
  word: string,
  candidates: readonly string[],
): { name: string; distance: number } {
  let best = { name: "", distance: Infinity };
  const lower = word.toLowerCase();
  for (const name of candidates) {
    const distance = editDistance(lower, name.toLowerCase());
    if (distance < best.distance) best = { name, distance };
  }
  return best;
}

/**
 * A host as a socket wants it: an IPv6 literal without its URL brackets.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(unbracket("[::1]"), "::1");
 * assert.equal(unbracket("fmc.example"), "fmc.example");
 * ```
 */
export function unbracket(host: string): string {
  return host.replace(/^\[|\]$/g, "");
}

/**
 * The value of a `Basic` Authorization (or Proxy-Authorization) header: `user:password` as UTF-8,
 * in base64.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(basicAuth("zaphod", "t0w3L"), "Basic emFwaG9kOnQwdzNM");
 * ```
 */
export function basicAuth(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

/**
 * A count and its noun, singular for 1 and plural otherwise: "1 host", "0 hosts", "2 hosts". The
 * plural is the noun and an "s" unless given.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(plural(1, "host"), "1 host");
 * assert.equal(plural(0, "host"), "0 hosts");
 * assert.equal(plural(2, "duplicate finding"), "2 duplicate findings");
 * assert.equal(plural(1, "repeated host listing"), "1 repeated host listing");
 * assert.equal(plural(3, "entry", "entries"), "3 entries");
 * ```
 */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}
