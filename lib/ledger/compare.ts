/**
 * What the pipeline asks of the ledger for each host block it could send: is it new, changed,
 * the same as recorded, or the same but due for its rolling refresh ({@linkcode classify}); how
 * its results moved (`+N −M`, {@linkcode resultDelta}); and the values it records: a 64-bit
 * digest of the block as sent ({@linkcode blockDigest}) and one 16-bit fingerprint per result
 * ({@linkcode resultFingerprint}, {@linkcode fingerprintResults}).
 *
 * @module
 */

import { dueForRefresh } from "./refresh.ts";
import { DIGEST_BYTES, type LedgerEntry } from "./ledger.ts";
import { Murmur128, murmur3x86x128 } from "../util/murmur.ts";

export { DIGEST_BYTES, murmur3x86x128 };

/** What a host block is, compared with what the destination holds from us. */
export type BlockClass = "added" | "changed" | "unchanged" | "refresh";

/** What {@linkcode classify} compares an entry with. */
export interface ClassifyOptions {
  /** The digest of the block this run would send ({@linkcode blockDigest}). */
  digest: Uint8Array;
  /** The day of this run (`dayNumber`). */
  today: number;
  /** `refresh_days`: 0 resends every unchanged host. */
  refreshDays: number;
  /** `-full`: every unchanged host is sent this run. @default {false} */
  full?: boolean;
}

/**
 * Classifies a host block: `"added"` when the ledger has no entry for its address (or only
 * knows that a send to it was under way when a run died), `"changed"` when the recorded digest
 * differs or the last delivery is uncertain, else `"refresh"` when `full` or the address is due
 * for its rolling refresh (`dueForRefresh`), else `"unchanged"` (not sent). Added, changed and
 * refreshed blocks are sent whole.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Ledger } from "./ledger.ts";
 * const digest = blockDigest(new TextEncoder().encode("AddHost,10.0.0.1\n"));
 * const b = Ledger.empty({ destination: "csv /tmp/x.csv" }).builder({ today: 20000 });
 * b.set("10.0.0.1", { digest, fingerprints: new Uint16Array() });
 * const ledger = b.build(), old = ledger.get("10.0.0.1");
 * assert.equal(classify(undefined, { digest, today: 20001, refreshDays: 7 }), "added");
 * assert.equal(classify(old, { digest: new Uint8Array(8), today: 20001, refreshDays: 7 }), "changed");
 * assert.equal(classify(old, { digest, today: 20000, refreshDays: 7 }), "unchanged");
 * assert.equal(classify(old, { digest, today: 20000, refreshDays: 7, full: true }), "refresh");
 * assert.equal(classify(old, { digest, today: 20007, refreshDays: 7 }), "refresh");
 * ```
 *
 * @throws {RangeError} When the digest is not 8 bytes.
 */
export function classify(old: LedgerEntry | undefined, options: ClassifyOptions): BlockClass {
  const { digest, today, refreshDays, full = false } = options;
  if (digest.length !== DIGEST_BYTES) {
    throw new RangeError(`A block digest is ${DIGEST_BYTES} bytes, not ${digest.length}`);
  }
  if (old === undefined || !old.recorded) return "added";
  if (old.uncertain) return "changed";
  for (let i = 0; i < DIGEST_BYTES; i++) if (old.digest[i] !== digest[i]) return "changed";
  if (full || dueForRefresh(old.address, { lastSentDay: old.lastSentDay, today, refreshDays })) {
    return "refresh";
  }
  return "unchanged";
}

/**
 * How many results a changed host gains and loses: `added` counts the fingerprints in `now` and
 * not in `before`, `removed` those in `before` and not in `now`, as multisets. Both lists sorted
 * ascending (as the ledger keeps them and {@linkcode fingerprintResults} returns them).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const before = new Uint16Array([3, 5, 5, 9]), now = new Uint16Array([1, 3, 5, 9, 9]);
 * assert.deepEqual(resultDelta(before, now), { added: 2, removed: 1 });
 * ```
 */
export function resultDelta(
  before: ArrayLike<number>,
  now: ArrayLike<number>,
): { added: number; removed: number } {
  let i = 0, j = 0, same = 0;
  while (i < before.length && j < now.length) {
    const a = before[i]!, b = now[j]!;
    if (a === b) {
      same++;
      i++;
      j++;
    } else if (a < b) i++;
    else j++;
  }
  return { added: now.length - same, removed: before.length - same };
}

/** Where a result is: its port and protocol, as the findings carry them. */
export interface ResultPlace {
  /** The port; 0 for none. @default {0} */
  port?: number;
  /** The protocol: 0 none, 1 tcp, 2 udp. @default {0} */
  protocol?: number;
}

/**
 * The 16-bit fingerprint of one result (one `AddScanResult` line): a hash of its QID, port and
 * protocol (a port without a protocol is written as none, and counts as none). Fixed by the
 * ledger's format: it never changes between versions.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const f = resultFingerprint(38170, { port: 443, protocol: 1 });
 * assert.ok(f >= 0 && f <= 0xffff);
 * assert.notEqual(f, resultFingerprint(38170, { port: 443, protocol: 2 }));
 * assert.equal(resultFingerprint(6), resultFingerprint(6, { port: 0, protocol: 0 }));
 * ```
 */
export function resultFingerprint(qid: number, place: ResultPlace = {}): number {
  const protocol = place.protocol ?? 0;
  return fingerprint(qid, protocol ? place.port ?? 0 : 0, protocol);
}

/** A host's results, as the findings carry them: the first `count` of each array. */
export interface HostResults {
  /** Number of results. */
  count: number;
  /** QIDs. */
  qids: ArrayLike<number>;
  /** Ports (0: none). */
  ports: ArrayLike<number>;
  /** Protocols: 0 none, 1 tcp, 2 udp. */
  protos: ArrayLike<number>;
}

/**
 * The fingerprints of a host's results ({@linkcode resultFingerprint} of each), sorted: what
 * the ledger records for the host.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const fps = fingerprintResults({ count: 2, qids: [9, 6], ports: [0, 22], protos: [0, 1] });
 * assert.deepEqual([...fps], [resultFingerprint(9), resultFingerprint(6, { port: 22, protocol: 1 })].sort((a, b) => a - b));
 * ```
 */
export function fingerprintResults(host: HostResults): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(host.count);
  for (let k = 0; k < host.count; k++) {
    const protocol = host.protos[k]!; // no protocol: no port (as the line is written)
    out[k] = fingerprint(host.qids[k]!, protocol ? host.ports[k]! : 0, protocol);
  }
  return out.sort();
}

function fingerprint(qid: number, port: number, protocol: number): number {
  let h = Math.imul(qid >>> 0, 0x9e3779b1) ^ ((port & 0xffff) << 2 | (protocol & 3));
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 16;
}

/**
 * The 64-bit digest of bytes: the first half of MurmurHash3 x86_128 (seed 0), little-endian.
 * Not a cryptographic hash: it tells a changed block from an unchanged one, with a false
 * "unchanged" about once in 10^19 blocks that differ. (The pipeline records the digest the
 * encoder makes of a host block from what fixes its bytes: `CommandEncoder.hostDigest`.)
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const a = blockDigest(new TextEncoder().encode("AddHost,10.0.0.1\nScanFlush\n"));
 * assert.equal(a.length, 8);
 * assert.notDeepEqual(a, blockDigest(new TextEncoder().encode("AddHost,10.0.0.2\nScanFlush\n")));
 * ```
 */
export function blockDigest(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const m = new Murmur128(0);
  m.update(bytes);
  const out = new Uint8Array(DIGEST_BYTES);
  m.digestInto(out);
  return out;
}
