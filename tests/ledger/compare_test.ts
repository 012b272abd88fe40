import assert from "node:assert/strict";
import fc from "fast-check";
import {
  blockDigest,
  classify,
  fingerprintResults,
  murmur3x86x128,
  resultDelta,
  resultFingerprint,
} from "../../lib/ledger/compare.ts";
import { Ledger } from "../../lib/ledger/ledger.ts";

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const words = (w: number[]) => {
  const out = new Uint8Array(16), view = new DataView(out.buffer);
  w.forEach((v, i) => view.setUint32(i * 4, v, true));
  return hex(out);
};

Deno.test("murmur3x86x128() gives the reference's answers", () => {
  // NHasher's MurmurHash128X32V3Tests (C# port, checked against Appleby's C), hex of the four
  // words as little-endian bytes.
  const fox = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
  assert.equal(words(murmur3x86x128(fox, 0)), "c383152f672ceeec6cf67b5d2c1de9e5");
  assert.equal(
    words(murmur3x86x128(new Uint8Array(), 2538058380)),
    "a1d5bef71c6a575b1c6a575b1c6a575b",
  );
  assert.equal(words(murmur3x86x128(fox, 2538058380)), "5ed5d48a7161b84c9c3aa78e3e79b6cd");
});

Deno.test("blockDigest() is the first 8 bytes of MurmurHash3 x86_128 for every tail length", () => {
  // Python's mmh3 (a binding of Appleby's C reference): hash_bytes(data[:n], 0,
  // x64arch=False)[:8].hex() for data = bytes((i * 37 + 11) & 255 for i in range(64)).
  // deno-fmt-ignore
  const expected = [
    "0000000000000000", "3c892a1a6bb55d82", "6a085be2e0376694", "47d55defd3e14f81",
    "70ef21d08e0afabf", "f5d9bda19789b5fc", "19c60411a21f3a53", "3f3efbfe4e68f70c",
    "d54101fc67909af8", "385fdd372cc99d0f", "089771be12ff318b", "b0ddd8b7682cff02",
    "8b8bbe6ba2e2dd92", "29daedcb2c887c10", "425dbe3b67293b26", "3d1634e81c11c188",
    "73203aaa4518c4a8", "c08d07c51f51e3fb", "6b1ed112e85201ee", "4a36bd6bda96aa9c",
    "d8dec8ff23e82369", "ef44e186ebec85f1", "08181ff4798a1eb5", "030fe46a235b4e2e",
    "b9f9b3f76631022e", "c6eb401506ea5eac", "dffe034858f1a814", "e7d5f37c59a157b9",
    "fe915c3b49b45e3c", "eaed69f5f3883e89", "ecd77fdb92705142", "16a41f66c469e564",
    "37f75fce38b3dfe3", "1752cef28f8d7528",
  ];
  const data = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 255);
  assert.deepEqual(expected.map((_, n) => hex(blockDigest(data.subarray(0, n)))), expected);
});

Deno.test("resultFingerprint() keeps the values the ledger's format fixed", () => {
  assert.deepEqual([
    resultFingerprint(38170, { port: 443, protocol: 1 }),
    resultFingerprint(6),
    resultFingerprint(105943, { port: 53, protocol: 2 }),
    resultFingerprint(4294967295, { port: 65535, protocol: 2 }),
  ], [24882, 32983, 26696, 16764]);
});

Deno.test("fingerprintResults() fingerprints the first count results and sorts them", () => {
  const host = {
    count: 3,
    qids: new Uint32Array([9, 6, 9, 77]),
    ports: new Uint16Array([0, 22, 80, 1]),
    protos: new Uint8Array([0, 1, 1, 2]),
  };
  const expected = [
    resultFingerprint(9),
    resultFingerprint(6, { port: 22, protocol: 1 }),
    resultFingerprint(9, { port: 80, protocol: 1 }),
  ].sort((a, b) => a - b);
  assert.deepEqual([...fingerprintResults(host)], expected);
});

Deno.test("resultDelta() counts what a multiset difference counts", () => {
  const sorted = fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 30 })
    .map((a) => a.sort((x, y) => x - y));
  fc.assert(fc.property(sorted, sorted, (before, now) => {
    const count = (a: number[]) => a.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map());
    const b = count(before), n = count(now);
    let added = 0, removed = 0;
    for (const v of new Set([...before, ...now])) {
      const d = (n.get(v) ?? 0) - (b.get(v) ?? 0);
      if (d > 0) added += d;
      else removed -= d;
    }
    assert.deepEqual(resultDelta(before, now), { added, removed });
  }));
});

Deno.test("classify() says added, changed, unchanged or refresh", async (t) => {
  const d1 = new Uint8Array(8).fill(1), d2 = new Uint8Array(8).fill(2);
  const b = Ledger.empty({ destination: "csv /x.csv" }).builder({ today: 7000 });
  b.set("10.0.0.1", { digest: d1, fingerprints: [1] });
  b.set("10.0.0.2", { digest: d1, fingerprints: [1] });
  b.unsure("10.0.0.2");
  b.unsure("10.0.0.3");
  const ledger = b.build();
  const sent = ledger.get("10.0.0.1")!;
  // a day after 7000 that is not 10.0.0.1's slot day, and one that is
  let quiet = 7001, slot = 7001;
  while (classify(sent, { digest: d1, today: quiet, refreshDays: 7 }) !== "unchanged") quiet++;
  while (classify(sent, { digest: d1, today: slot, refreshDays: 7 }) !== "refresh") slot++;
  const cases = [
    { name: "no entry: added", old: undefined, digest: d1, today: quiet, want: "added" },
    {
      name: "only known as uncertain: added",
      old: ledger.get("10.0.0.3"),
      digest: d1,
      today: quiet,
      want: "added",
    },
    { name: "other digest: changed", old: sent, digest: d2, today: quiet, want: "changed" },
    {
      name: "same digest, delivery uncertain: changed",
      old: ledger.get("10.0.0.2"),
      digest: d1,
      today: quiet,
      want: "changed",
    },
    { name: "same digest: unchanged", old: sent, digest: d1, today: quiet, want: "unchanged" },
    {
      name: "same digest, its slot day: refresh",
      old: sent,
      digest: d1,
      today: slot,
      want: "refresh",
    },
    {
      name: "same digest, 7 days on: refresh",
      old: sent,
      digest: d1,
      today: 7007,
      want: "refresh",
    },
    {
      name: "same digest, -full: refresh",
      old: sent,
      digest: d1,
      today: quiet,
      full: true,
      want: "refresh",
    },
    {
      name: "same digest, refresh_days 0: refresh",
      old: sent,
      digest: d1,
      today: 7000,
      days: 0,
      want: "refresh",
    },
  ];
  assert.ok(slot - 7000 < 7);
  for (const c of cases) {
    await t.step(c.name, () => {
      const got = classify(c.old, {
        digest: c.digest,
        today: c.today,
        refreshDays: c.days ?? 7,
        full: c.full ?? false,
      });
      assert.equal(got, c.want);
    });
  }
  assert.throws(
    () => classify(sent, { digest: new Uint8Array(4), today: 1, refreshDays: 7 }),
    { name: "RangeError", message: "A block digest is 8 bytes, not 4" },
  );
});
