import assert from "node:assert/strict";
import { writeText } from "../../lib/util/bytes.ts";

Deno.test("writeText: any text, surrogate pairs across its parts included, comes out as its UTF-8, in parts of at most 48 KiB", async () => {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (
    const text of [
      "",
      "a",
      "x".repeat(16383) + "\u{1F600}" + "y", // a pair across the first part's end
      "\u{1F600}".repeat(30_000),
      "€".repeat(50_000) + "\u{10FFFF}",
      "b".repeat(16384 * 3),
    ]
  ) {
    const parts: Uint8Array[] = [];
    await writeText({ write: (b) => Promise.resolve(void parts.push(b.slice())) }, text);
    assert.ok(parts.every((p) => p.length > 0 && p.length <= 48 << 10));
    const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (whole.set(p, at), at + p.length), 0);
    assert.deepEqual(whole, new TextEncoder().encode(text));
    assert.equal(decoder.decode(whole), text); // each pair whole: no U+FFFD anywhere
  }
});
