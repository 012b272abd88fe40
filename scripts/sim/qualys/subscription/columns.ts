/**
 * Column storage for the simulated subscription: its hosts, detections and KnowledgeBase entries
 * are held in typed arrays (≈17 bytes per detection, not millions of objects) that grow.
 *
 * @module
 */

/** A copy of `a` with room for `n` entries (the new ones zero). */
export function grow<T extends Uint8Array | Uint16Array | Int16Array | Uint32Array>(
  a: T,
  n: number,
): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}
