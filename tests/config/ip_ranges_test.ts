/**
 * The hand-written IPv6 parser and RFC 5952 formatter against ipaddr.js (the oracle), on
 * addresses written every way RFC 4291 allows and on arbitrary strings.
 *
 * ipaddr.js disagrees with RFC 5952 in one place: its `toString()` (`toRFC5952String()`) never
 * writes the dotted quad that §5 recommends for the well-known prefixes that embed an IPv4
 * address (IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96); there the oracle takes
 * ipaddr.js's reading of the address (its `range()` and bytes) and writes §5's form.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { IpRangeSet, parseHostAddress } from "../../lib/config/ip_ranges.ts";

function oracle(text: string): string | undefined {
  if (!ipaddr.IPv6.isValid(text)) return undefined;
  const addr = ipaddr.IPv6.parse(text);
  if (addr.zoneId) return undefined;
  const range = addr.range();
  if (range === "ipv4Mapped" || range === "rfc6145") {
    const quad = addr.toByteArray().slice(12).join(".");
    return `${range === "ipv4Mapped" ? "::ffff:" : "::ffff:0:"}${quad}`;
  }
  return addr.toString();
}

// Eight groups, zeros likely, often under a prefix that embeds IPv4 (or one that does not but
// looks alike), written with random case and leading zeros, and "::" over any run of zero
// groups (not only the longest).
const PREFIXES = [
  [0, 0, 0, 0, 0, 0xffff], // IPv4-mapped
  [0, 0, 0, 0, 0xffff, 0], // IPv4-translated
  [0, 0, 0, 0, 0xffff, 0xffff],
  [0, 0, 0, 1, 0, 0xffff],
  [0x64, 0xff9b, 0, 0, 0, 0], // RFC 6052's well-known prefix: not one RFC 5952 §5 names
];
const written = fc.record({
  groups: fc.tuple(
    fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    }),
    fc.option(fc.constantFrom(...PREFIXES), { freq: 2 }),
  ).map(([groups, prefix]) => prefix ? [...prefix, ...groups.slice(6)] : groups),
  pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
  upper: fc.boolean(),
  pick: fc.nat(),
  dotted: fc.boolean(),
}).map(({ groups, pad, upper, pick, dotted }) => {
  let parts = groups.map((g, i) => {
    const hex = g.toString(16);
    return (upper ? hex.toUpperCase() : hex).padStart(Math.min(4, hex.length + pad[i]!), "0");
  });
  // The last 32 bits as a dotted quad (not after a zero prefix: ipaddr.js reads "::a.b.c.d" as
  // IPv4-mapped, RFC 4291 as IPv4-compatible).
  const v4 = dotted && groups.slice(0, 6).some((g) => g !== 0);
  if (v4) {
    const [a, b] = [groups[6]!, groups[7]!];
    parts = [...parts.slice(0, 6), `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`];
  }
  const runs: [number, number][] = [];
  for (let i = 0; i < parts.length;) {
    if (groups[i] !== 0 || (v4 && i >= 6)) {
      i++;
      continue;
    }
    let j = i;
    while (j < parts.length && groups[j] === 0 && !(v4 && j >= 6)) j++;
    runs.push([i, j]);
    i = j;
  }
  if (runs.length === 0 || pick % 3 === 0) return parts.join(":");
  const [i, j] = runs[pick % runs.length]!;
  return `${parts.slice(0, i).join(":")}::${parts.slice(j).join(":")}`;
});

Deno.test("parseHostAddress reads IPv6 as ipaddr.js does and writes RFC 5952 (fast-check)", () => {
  fc.assert(
    fc.property(written, (text) => {
      assert.equal(parseHostAddress(text)?.text, oracle(text), text);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("parseHostAddress rejects what ipaddr.js rejects, on arbitrary strings (fast-check)", () => {
  const unit = fc.constantFrom("0", "1", "a", "F", "ffff", "12345", "g", ":", "::", ":::");
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 14 }), (text) => {
      if (!text.includes(":")) return;
      assert.equal(parseHostAddress(text)?.text, oracle(text), text);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("parseHostAddress: the cases ipaddr.js reads loosely are refused or read as RFC 4291", () => {
  assert.equal(parseHostAddress("fe80::1%eth0"), undefined); // a zone: not a host address
  assert.equal(parseHostAddress("::ffff:1.2.3.04"), undefined); // a leading zero in the quad
  assert.equal(parseHostAddress("::ffff:0x1.2.3.4"), undefined); // hex in the quad
  assert.equal(parseHostAddress("::1.2.3.4")?.text, "::102:304"); // IPv4-compatible, not mapped
  assert.equal(parseHostAddress("::ffff:1.2.3.4")?.text, "::ffff:1.2.3.4");
  assert.equal(parseHostAddress(" 2001:DB8::1 ")?.value, 0x20010db8000000000000000000000001n);
});

Deno.test("parseHostAddress writes an embedded IPv4 address as a dotted quad where RFC 5952 §5 says so", async (t) => {
  const cases: [string, string, string][] = [
    ["IPv4-mapped, as the issue found it", "::ffff:10.0.0.9", "::ffff:10.0.0.9"],
    ["IPv4-mapped, written in hex", "::ffff:a00:9", "::ffff:10.0.0.9"],
    ["IPv4-mapped, in full and upper case", "0:0:0:0:0:FFFF:0A00:0009", "::ffff:10.0.0.9"],
    ["IPv4-mapped 0.0.0.0", "::ffff:0:0", "::ffff:0.0.0.0"],
    ["IPv4-translated (RFC 2765)", "::ffff:0:a00:9", "::ffff:0:10.0.0.9"],
    ["IPv4-translated, in full", "0:0:0:0:ffff:0:c000:201", "::ffff:0:192.0.2.1"],
    ["IPv4-compatible (deprecated; :: and ::1 share its prefix): hex", "::1.2.3.4", "::102:304"],
    [
      "ISATAP (a marker in the interface ID, no well-known prefix): hex",
      "fe80::5efe:1.2.3.4",
      "fe80::5efe:102:304",
    ],
    [
      "RFC 6052's 64:ff9b::/96 (after RFC 5952; not named in §5): hex",
      "64:ff9b::1.2.3.4",
      "64:ff9b::102:304",
    ],
    ["ffff not right before the last 32 bits: hex", "::ffff:1:0:0", "::ffff:1:0:0"],
    ["a non-zero group before ffff: hex", "1::ffff:1.2.3.4", "1::ffff:102:304"],
    ["the loopback", "::1", "::1"],
    ["the unspecified address", "::", "::"],
  ];
  for (const [name, input, output] of cases) {
    await t.step(name, () => assert.equal(parseHostAddress(input)?.text, output));
  }
});

Deno.test("IpRangeSet takes IPv6 CIDR blocks and ranges", () => {
  const set = IpRangeSet.parse("2001:db8::/32, fe80::1-fe80::ff");
  assert.equal(set.contains(parseHostAddress("2001:db8:ffff::1")!), true);
  assert.equal(set.contains(parseHostAddress("2001:db9::1")!), false);
  assert.equal(set.contains(parseHostAddress("fe80::80")!), true);
  assert.equal(set.contains(parseHostAddress("fe80::100")!), false);
  assert.equal(set.contains(parseHostAddress("10.0.0.1")!), false);
});

Deno.test("IpRangeSet holds an IPv4-mapped address wherever it holds its IPv4 host, and back", () => {
  // The host index merges ::ffff:10.9.9.9 into 10.9.9.9 (one host on the Defense Center): the
  // filter must keep or skip both listings alike, or one listing's findings are lost.
  const v4 = IpRangeSet.parse("10.0.0.0/8");
  assert.equal(v4.contains(parseHostAddress("::ffff:10.9.9.9")!), true);
  assert.equal(v4.contains(parseHostAddress("::ffff:a09:909")!), true);
  assert.equal(v4.contains(parseHostAddress("::ffff:11.0.0.1")!), false);
  assert.equal(v4.contains(parseHostAddress("::ffff:0:10.9.9.9")!), false); // translated: not mapped
  assert.equal(v4.contains(parseHostAddress("::10.9.9.9")!), false); // IPv4-compatible: not mapped
  const v6 = IpRangeSet.parse("::ffff:10.0.0.0/104");
  assert.equal(v6.contains(parseHostAddress("10.9.9.9")!), true);
  assert.equal(v6.contains(parseHostAddress("11.9.9.9")!), false);
});
