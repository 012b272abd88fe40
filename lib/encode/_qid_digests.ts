/**
 * The digest of each QID's encoded text (its `QidText.tail`: title, description, CVE and Bugtraq
 * IDs), kept for the run so that a host block's digest (`CommandEncoder.hostDigest`) costs a few
 * multiplications a line, not a pass over its text: QID → two 32-bit words, in typed arrays
 * (open addressing, at most 75 % full), 12 to 16 bytes a QID whatever the texts' size: 512 KiB
 * for the 20,000 QIDs of a large KnowledgeBase join (1 MiB with 8-byte keys at half load).
 *
 * @module
 */

import { NO_QID } from "./_qid_text_cache.ts";

/** QID → the two words of its text's digest. */
export class QidDigests {
  #keys = new Uint32Array(1024); // QID + 1; 0: empty
  #d1 = new Uint32Array(1024);
  #d2 = new Uint32Array(1024);
  #mask = 1023;
  #size = 0;

  /** The slot of `qid`'s digest (read it with `first` and `second`); -1 when none. */
  find(qid: number): number {
    const keys = this.#keys, mask = this.#mask, key = qid + 1;
    for (let s = hash(key) & mask;; s = (s + 1) & mask) {
      const k = keys[s]!;
      if (k === key) return s;
      if (k === 0) return -1;
    }
  }

  /** The first word of the digest in slot `s`. */
  first(s: number): number {
    return this.#d1[s]!;
  }

  /** The second word of the digest in slot `s`. */
  second(s: number): number {
    return this.#d2[s]!;
  }

  /**
   * Keeps `qid`'s digest; returns its slot, or -1 for the one QID the table cannot key
   * (0xffffffff: its digest is made again each time it is asked for).
   */
  set(qid: number, d1: number, d2: number): number {
    if (qid >= NO_QID) return -1;
    if ((this.#size + 1) * 4 > this.#keys.length * 3) this.#grow();
    const keys = this.#keys, mask = this.#mask, key = qid + 1;
    let s = hash(key) & mask;
    while (keys[s] !== 0 && keys[s] !== key) s = (s + 1) & mask;
    if (keys[s] === 0) this.#size++;
    keys[s] = key;
    this.#d1[s] = d1;
    this.#d2[s] = d2;
    return s;
  }

  #grow(): void {
    const keys = this.#keys, d1 = this.#d1, d2 = this.#d2;
    const size = keys.length * 2;
    this.#keys = new Uint32Array(size);
    this.#d1 = new Uint32Array(size);
    this.#d2 = new Uint32Array(size);
    this.#mask = size - 1;
    this.#size = 0;
    for (let s = 0; s < keys.length; s++) if (keys[s] !== 0) this.set(keys[s]! - 1, d1[s]!, d2[s]!);
  }
}

function hash(key: number): number {
  let h = Math.imul(key | 0, 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca6b) ^ (h >>> 13);
}
