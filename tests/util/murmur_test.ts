import assert from "node:assert/strict";
import fc from "fast-check";
import { Murmur128, murmur3x86x128 } from "../../lib/util/murmur.ts";

Deno.test("Murmur128: bytes fed in any parts, as words or bytes, hash as the bytes whole (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 80 }),
      fc.array(fc.nat({ max: 80 }), { maxLength: 6 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (bytes, cuts, seed) => {
        const want = murmur3x86x128(bytes, seed);
        const m = new Murmur128(seed);
        let at = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          const to = Math.min(cut, bytes.length);
          // a whole word where one starts in the stream, else bytes
          if (to - at === 4) {
            const v = new DataView(bytes.buffer, bytes.byteOffset + at, 4);
            m.word(v.getUint32(0, true));
          } else m.update(bytes.subarray(at, to));
          at = Math.max(at, to);
        }
        m.update(bytes.subarray(at));
        assert.deepEqual(m.words(), want);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("Murmur128: words4() and pad() feed what their bytes would", () => {
  const a = new Murmur128(7), b = new Murmur128(7);
  a.update(Uint8Array.of(1, 2, 3));
  a.pad();
  a.words4(0x04030201, 5, 6, 0xffffffff);
  a.words4(1, 2, 3, 4); // aligned: one block at once
  const bytes = [
    1,
    2,
    3,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    0,
    0,
    0,
    6,
    0,
    0,
    0,
  ];
  b.update(Uint8Array.from([...bytes, 255, 255, 255, 255, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]));
  b.update(Uint8Array.of(4, 0, 0, 0));
  assert.deepEqual(a.words(), b.words());
  const c = new Murmur128(7);
  c.update(Uint8Array.of(9));
  c.words4(1, 2, 3, 4); // not aligned: word by word
  const d = new Murmur128(7);
  d.update(Uint8Array.of(9, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0));
  assert.deepEqual(c.words(), d.words());
});
