/**
 * The digest of each QID's encoded text (its `QidText.tail`: title, description, CVE and Bugtraq
 * IDs), kept for the run so that a host block's digest (`CommandEncoder.hostDigest`) costs a few
 * multiplications a line, not a pass over its text: QID → two 32-bit words, in typed arrays
 * (open addressing), 12 bytes a QID whatever the texts' size.
 *
 * @module
 */

/** QID → the two words of its text's digest. */
export class QidDigests {
  #keys = new Float64Array(1024).fill(-1);
  #d1 = new Uint32Array(1024);
  #d2 = new Uint32Array(1024);
  #mask = 1023;
  #size = 0;

  /** The slot of `qid`'s digest (read it with `first` and `second`); -1 when none. */
  find(qid: number): number {
    const keys = this.#keys, mask = this.#mask;
    for (let s = hash(qid) & mask;; s = (s + 1) & mask) {
      const k = keys[s]!;
      if (k === qid) return s;
      if (k === -1) return -1;
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

  /** Keeps `qid`'s digest; returns its slot. */
  set(qid: number, d1: number, d2: number): number {
    if ((this.#size + 1) * 2 > this.#keys.length) this.#grow();
    const keys = this.#keys, mask = this.#mask;
    let s = hash(qid) & mask;
    while (keys[s] !== -1 && keys[s] !== qid) s = (s + 1) & mask;
    if (keys[s] === -1) this.#size++;
    keys[s] = qid;
    this.#d1[s] = d1;
    this.#d2[s] = d2;
    return s;
  }

  #grow(): void {
    const keys = this.#keys, d1 = this.#d1, d2 = this.#d2;
    const size = keys.length * 2;
    this.#keys = new Float64Array(size).fill(-1);
    this.#d1 = new Uint32Array(size);
    this.#d2 = new Uint32Array(size);
    this.#mask = size - 1;
    this.#size = 0;
    for (let s = 0; s < keys.length; s++) if (keys[s] !== -1) this.set(keys[s]!, d1[s]!, d2[s]!);
  }
}

function hash(qid: number): number {
  let h = Math.imul(qid | 0, 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca6b) ^ (h >>> 13);
}
