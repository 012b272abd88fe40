/**
 * MurmurHash3 x86_128 (Austin Appleby's reference, public domain), whole or as a stream: the
 * ledger's block digests (`ledger/compare.ts`) and the encoder's digest of a host block
 * (`encode/encoder.ts`). Not a cryptographic hash: it tells a changed block from an unchanged
 * one. Synchronous, and about as fast as reading the bytes.
 *
 * @module
 */

const C1 = 0x239b961b, C2 = 0xab0e9789, C3 = 0x38b34ae5, C4 = 0xa1e38b93;

/**
 * MurmurHash3_x86_128 of `data` with `seed`: the four 32-bit words.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const fox = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
 * assert.equal(murmur3x86x128(fox, 0)[0]!.toString(16), "2f1583c3");
 * ```
 */
export function murmur3x86x128(data: Uint8Array, seed: number): number[] {
  const m = new Murmur128(seed);
  m.update(data);
  return m.words();
}

/**
 * MurmurHash3_x86_128 fed in parts: bytes ({@linkcode Murmur128.update}) and 32-bit words
 * ({@linkcode Murmur128.word}, as their 4 little-endian bytes), in any mix. The answer is the
 * hash of the bytes fed, however they were split.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const bytes = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
 * const m = new Murmur128(0);
 * m.update(bytes.subarray(0, 5));
 * m.update(bytes.subarray(5));
 * assert.deepEqual(m.words(), murmur3x86x128(bytes, 0));
 * const w = new Murmur128(0);
 * w.word(0x04030201);
 * const b = new Murmur128(0);
 * b.update(Uint8Array.of(1, 2, 3, 4));
 * assert.deepEqual(w.words(), b.words());
 * ```
 */
export class Murmur128 {
  #h1 = 0;
  #h2 = 0;
  #h3 = 0;
  #h4 = 0;
  // The block being filled: its 4 words, and how many of its 16 bytes are in.
  #k1 = 0;
  #k2 = 0;
  #k3 = 0;
  #k4 = 0;
  #fill = 0;
  #length = 0;

  /** Starts a hash with `seed` (a 32-bit number). */
  constructor(seed = 0) {
    this.reset(seed);
  }

  /** Starts over with `seed`. */
  reset(seed = 0): void {
    this.#h1 =
      this.#h2 =
      this.#h3 =
      this.#h4 =
        seed >>> 0;
    this.#k1 =
      this.#k2 =
      this.#k3 =
      this.#k4 =
        0;
    this.#fill = 0;
    this.#length = 0;
  }

  /** Feeds the 4 little-endian bytes of the 32-bit word `w`. */
  word(w: number): void {
    const fill = this.#fill;
    if ((fill & 3) !== 0) {
      this.#byte(w & 255);
      this.#byte((w >>> 8) & 255);
      this.#byte((w >>> 16) & 255);
      this.#byte(w >>> 24);
      return;
    }
    this.#length += 4;
    if (fill === 0) this.#k1 = w | 0;
    else if (fill === 4) this.#k2 = w | 0;
    else if (fill === 8) this.#k3 = w | 0;
    else {
      this.#k4 = w | 0;
      this.#block(this.#k1, this.#k2, this.#k3, w | 0);
      this.#fill = 0;
      return;
    }
    this.#fill = fill + 4;
  }

  /**
   * Feeds four 32-bit words (16 little-endian bytes): one block of the hash at once when what
   * was fed so far is a whole number of blocks ({@linkcode Murmur128.pad}), else word by word.
   */
  words4(a: number, b: number, c: number, d: number): void {
    if (this.#fill !== 0) {
      this.word(a);
      this.word(b);
      this.word(c);
      this.word(d);
      return;
    }
    this.#length += 16;
    this.#block(a | 0, b | 0, c | 0, d | 0);
  }

  /** Feeds zero bytes up to the end of the block being filled (none when it is empty). */
  pad(): void {
    while (this.#fill !== 0) this.#byte(0);
  }

  /** Feeds `data`. */
  update(data: Uint8Array): void {
    let i = 0;
    const len = data.length;
    while (i < len && this.#fill !== 0) this.#byte(data[i++]!);
    const blocks = i + ((len - i) & ~15);
    this.#length += blocks - i;
    for (; i < blocks; i += 16) {
      this.#block(
        data[i]! | data[i + 1]! << 8 | data[i + 2]! << 16 | data[i + 3]! << 24,
        data[i + 4]! | data[i + 5]! << 8 | data[i + 6]! << 16 | data[i + 7]! << 24,
        data[i + 8]! | data[i + 9]! << 8 | data[i + 10]! << 16 | data[i + 11]! << 24,
        data[i + 12]! | data[i + 13]! << 8 | data[i + 14]! << 16 | data[i + 15]! << 24,
      );
    }
    for (; i < len; i++) this.#byte(data[i]!);
  }

  /** The hash of what was fed: the four 32-bit words (the stream can go on being fed). */
  words(): number[] {
    let h1 = this.#h1, h2 = this.#h2, h3 = this.#h3, h4 = this.#h4;
    const rest = this.#fill;
    if (rest > 12) h4 ^= Math.imul(rotl(Math.imul(mask(this.#k4, rest - 12), C4), 18), C1);
    if (rest > 8) h3 ^= Math.imul(rotl(Math.imul(mask(this.#k3, rest - 8), C3), 17), C4);
    if (rest > 4) h2 ^= Math.imul(rotl(Math.imul(mask(this.#k2, rest - 4), C2), 16), C3);
    if (rest > 0) h1 ^= Math.imul(rotl(Math.imul(mask(this.#k1, rest), C1), 15), C2);
    const len = this.#length;
    h1 ^= len;
    h2 ^= len;
    h3 ^= len;
    h4 ^= len;
    h1 = h1 + h2 + h3 + h4 | 0;
    h2 = h2 + h1 | 0;
    h3 = h3 + h1 | 0;
    h4 = h4 + h1 | 0;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h3 = fmix(h3);
    h4 = fmix(h4);
    h1 = h1 + h2 + h3 + h4 | 0;
    h2 = h2 + h1 | 0;
    h3 = h3 + h1 | 0;
    h4 = h4 + h1 | 0;
    return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
  }

  /** Writes the first 8 bytes of the hash (its first two words, little-endian) at `out[at]`. */
  digestInto(out: Uint8Array, at = 0): void {
    const [h1, h2] = this.words();
    for (let i = 0; i < 4; i++) {
      out[at + i] = (h1! >>> (8 * i)) & 255;
      out[at + 4 + i] = (h2! >>> (8 * i)) & 255;
    }
  }

  #byte(b: number): void {
    this.#length++;
    this.#put(b);
  }

  #put(b: number): void {
    const fill = this.#fill, shift = (fill & 3) * 8;
    if (fill < 4) this.#k1 = (shift === 0 ? 0 : this.#k1) | b << shift;
    else if (fill < 8) this.#k2 = (shift === 0 ? 0 : this.#k2) | b << shift;
    else if (fill < 12) this.#k3 = (shift === 0 ? 0 : this.#k3) | b << shift;
    else this.#k4 = (shift === 0 ? 0 : this.#k4) | b << shift;
    if (fill === 15) {
      this.#block(this.#k1, this.#k2, this.#k3, this.#k4);
      this.#fill = 0;
    } else this.#fill = fill + 1;
  }

  #block(k1: number, k2: number, k3: number, k4: number): void {
    let h1 = this.#h1, h2 = this.#h2, h3 = this.#h3, h4 = this.#h4;
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= k1;
    h1 = rotl(h1, 19) + h2 | 0;
    h1 = Math.imul(h1, 5) + 0x561ccd1b | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h2 ^= k2;
    h2 = rotl(h2, 17) + h3 | 0;
    h2 = Math.imul(h2, 5) + 0x0bcaa747 | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h3 ^= k3;
    h3 = rotl(h3, 15) + h4 | 0;
    h3 = Math.imul(h3, 5) + 0x96cd1c35 | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h4 ^= k4;
    h4 = rotl(h4, 13) + h1 | 0;
    h4 = Math.imul(h4, 5) + 0x32ac3b17 | 0;
    this.#h1 = h1;
    this.#h2 = h2;
    this.#h3 = h3;
    this.#h4 = h4;
  }
}

// The low `bytes` bytes of `k` (1-4): the tail block's bytes, as the reference reads them.
function mask(k: number, bytes: number): number {
  return bytes >= 4 ? k : k & ((1 << (bytes * 8)) - 1);
}

function rotl(x: number, r: number): number {
  return x << r | x >>> (32 - r);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
