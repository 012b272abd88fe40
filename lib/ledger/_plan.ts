/**
 * The entries of the next ledger, in address order, for the writer: the last ledger's entries
 * merged with the blocks set this run and the addresses marked unsure (`LedgerBuilder.plan`).
 * One Int32Array says where each entry comes from; nothing else of the full size is made.
 *
 * @module
 */

import { compareKeys, KEY_WORDS } from "./_address.ts";
import { type Columns, DIGEST_BYTES, type EntrySource, UNCERTAIN, UNRECORDED } from "./_format.ts";
import { grow } from "../util/bytes.ts";

/** What the next ledger is made of. */
export interface PlanInput {
  /** The last ledger. */
  old: { size: number; keyAt(i: number, out: Uint32Array, at: number): void };
  /** Its columns. */
  oldColumns: Columns;
  /** Whether the last ledger's entry `i` is forgotten (dropped). */
  dropped: (i: number) => boolean;
  /** The day of the run. */
  today: number;
  /** The blocks set this run. */
  set: {
    /** How many `set` calls. */
    n: number;
    /** The indices of those that count (the last of each address), in address order. */
    order: Uint32Array;
    /** Writes block k's key at `out[0]`. */
    key(k: number, out: Uint32Array): void;
    /** Block k's digest. */
    digest(k: number): Uint8Array;
    /** Where block k's fingerprints start and end. */
    start(k: number): number;
    /** Where block k's fingerprints end. */
    end(k: number): number;
    /** The fingerprints from `from` to `to` (valid until the next call). */
    fps(from: number, to: number): Uint16Array;
  };
  /** The keys marked unsure (`KEY_WORDS` words each, in any order, repeats allowed). */
  unsure: Uint32Array;
}

/** The entries of the next ledger, in order. */
export function planEntries(p: PlanInput): EntrySource {
  const { old, oldColumns: oldC, set } = p, nSet = set.n, fresh = set.order;
  const unsureKeys = p.unsure, unsure = sortedUnique(unsureKeys, unsureKeys.length / KEY_WORDS);
  // src[o] >= 0: old entry; -(k + 1) for set block k; -(nSet + 1 + e) for an unrecorded
  // address, whose key is extra key e.
  const cap = old.size + fresh.length + unsure.length;
  const src = new Int32Array(cap), flags = new Uint8Array(cap);
  let extra = new Uint32Array(0);
  const a = new Uint32Array(KEY_WORDS), b = new Uint32Array(KEY_WORDS);
  const f = new Uint32Array(KEY_WORDS);
  let i = 0, j = 0, u = 0, n = 0, n4 = 0, nfp = 0, nExtra = 0;
  while (i < old.size || j < fresh.length || u < unsure.length) {
    // The smallest key of the three heads.
    let min: Uint32Array | undefined, minAt = 0;
    if (i < old.size) {
      old.keyAt(i, a, 0);
      min = a;
    }
    if (j < fresh.length) {
      set.key(fresh[j]!, f);
      if (!min || compareKeys(f, 0, min, minAt) < 0) [min, minAt] = [f, 0];
    }
    if (u < unsure.length) {
      const at = unsure[u]! * KEY_WORDS;
      if (!min || compareKeys(unsureKeys, at, min, minAt) < 0) [min, minAt] = [unsureKeys, at];
    }
    b.set(min!.subarray(minAt, minAt + KEY_WORDS));
    const hasOld = i < old.size && compareKeys(a, 0, b, 0) === 0;
    const hasNew = j < fresh.length && compareKeys(f, 0, b, 0) === 0;
    const isUnsure = u < unsure.length &&
      compareKeys(unsureKeys, unsure[u]! * KEY_WORDS, b, 0) === 0;
    const flag = isUnsure ? UNCERTAIN : 0;
    let take = true;
    if (hasNew) {
      const k = fresh[j]!;
      src[n] = -(k + 1);
      flags[n] = flag;
      nfp += set.end(k) - set.start(k);
    } else if (hasOld && (!p.dropped(i) || isUnsure)) {
      src[n] = i;
      flags[n] = oldC.flags[i]! | flag;
      nfp += oldC.starts[i + 1]! - oldC.starts[i]!;
    } else if (isUnsure) {
      src[n] = -(nSet + 1 + nExtra);
      flags[n] = UNCERTAIN | UNRECORDED;
      extra = grow(extra, (nExtra + 1) * KEY_WORDS, nExtra * KEY_WORDS);
      extra.set(b, nExtra++ * KEY_WORDS);
    } else take = false;
    if (take) {
      if (b[0] === 4) n4++;
      n++;
    }
    if (hasOld) i++;
    if (hasNew) j++;
    if (isUnsure) u++;
  }
  const today = p.today;
  const zeros = new Uint8Array(DIGEST_BYTES), none = new Uint16Array(0);
  return {
    n,
    n4,
    nfp,
    key: (o, out) => {
      const s = src[o]!;
      if (s >= 0) old.keyAt(s, out, 0);
      else if (s >= -nSet) set.key(-s - 1, out);
      else {
        const e = -s - nSet - 1;
        out.set(extra.subarray(e * KEY_WORDS, (e + 1) * KEY_WORDS));
      }
    },
    digest: (o) => {
      const s = src[o]!;
      if (s >= 0) return oldC.digests.subarray(s * DIGEST_BYTES, (s + 1) * DIGEST_BYTES);
      return s >= -nSet ? set.digest(-s - 1) : zeros;
    },
    day: (o) => {
      const s = src[o]!;
      return s >= 0 ? oldC.days[s]! : s >= -nSet ? today : 0;
    },
    flags: (o) => flags[o]!,
    count: (o) => {
      const s = src[o]!;
      if (s >= 0) return oldC.starts[s + 1]! - oldC.starts[s]!;
      return s >= -nSet ? set.end(-s - 1) - set.start(-s - 1) : 0;
    },
    fps: (o) => {
      const s = src[o]!;
      if (s >= 0) return oldC.fps.view(oldC.starts[s]!, oldC.starts[s + 1]!);
      return s >= -nSet ? set.fps(set.start(-s - 1), set.end(-s - 1)) : none;
    },
  };
}

// The indices of the first `n` keys in key order, one per key (the first given of each).
function sortedUnique(keys: Uint32Array, n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  order.sort((x, y) => compareKeys(keys, x * KEY_WORDS, keys, y * KEY_WORDS) || x - y);
  let m = 0;
  for (let k = 0; k < n; k++) {
    const at = order[k]! * KEY_WORDS;
    if (m > 0 && compareKeys(keys, at, keys, order[m - 1]! * KEY_WORDS) === 0) continue;
    order[m++] = order[k]!;
  }
  return order.subarray(0, m);
}
