/**
 * `CommandEncoder.hostDigest()`: the digest the record keeps of a host block changes whenever a
 * byte of the block would (each field, one at a time; and over any pair of hosts, glossaries
 * and settings: equal digests exactly when the blocks are equal), and it never writes a byte.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BLOCK_FORMAT,
  ByteBuffer,
  CommandEncoder,
  type EncodeOptions,
} from "../../lib/encode/encoder.ts";
import type { GlossaryEntry } from "../../lib/findings/finding_source.ts";
import type { HostFindings } from "../../lib/findings/finding_spool.ts";

type Finding = [qid: number, port: number, proto: number];

function host(ip: string, findings: Finding[], os?: string): HostFindings {
  return {
    ip,
    count: findings.length,
    qids: new Uint32Array(findings.map((f) => f[0])),
    ports: new Uint16Array(findings.map((f) => f[1])),
    protos: new Uint8Array(findings.map((f) => f[2])),
    ...(os === undefined ? {} : { os }),
  };
}

const entry = (qid: number, over: Partial<GlossaryEntry> = {}): GlossaryEntry => ({
  qid,
  title: `Title ${qid}`,
  description: `<P>Threat ${qid}</P>`,
  cves: [`CVE-2020-${1000 + qid}`],
  bugtraqs: [String(qid * 3)],
  ...over,
});

const gl = (...entries: GlossaryEntry[]) => new Map(entries.map((e) => [e.qid, e]));

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/** The block's bytes and its digest, with an encoder of its own. */
function both(
  h: HostFindings,
  glossary: Map<number, GlossaryEntry>,
  options: EncodeOptions = {},
): { text: string; digest: string } {
  const enc = new CommandEncoder(glossary, options);
  const digest = new Uint8Array(8);
  const has = enc.hostDigest(h, digest);
  const out = new ByteBuffer(1024);
  out.append(enc.header());
  enc.encodeHost(h, out);
  enc.dispose();
  return { text: new TextDecoder().decode(out.view()), digest: has ? hex(digest) : "none" };
}

const GLOSSARY = gl(entry(38170), entry(6));
const BASE = host("10.0.0.1", [[38170, 443, 1], [6, 0, 0]], "Windows 2016/2019/10");
const BASE_OPTIONS: EncodeOptions = { setOs: true, addHost: true };

Deno.test("hostDigest(): each field of the block, changed alone, changes the block and its digest", async (t) => {
  const base = both(BASE, GLOSSARY, BASE_OPTIONS);
  const cases: [string, HostFindings, Map<number, GlossaryEntry>, EncodeOptions][] = [
    ["address", { ...BASE, ip: "10.0.0.2" }, GLOSSARY, BASE_OPTIONS],
    ["QID", host("10.0.0.1", [[38171, 443, 1], [6, 0, 0]], BASE.os), GLOSSARY, BASE_OPTIONS],
    ["port", host("10.0.0.1", [[38170, 444, 1], [6, 0, 0]], BASE.os), GLOSSARY, BASE_OPTIONS],
    ["protocol", host("10.0.0.1", [[38170, 443, 2], [6, 0, 0]], BASE.os), GLOSSARY, BASE_OPTIONS],
    [
      "a result more",
      host("10.0.0.1", [[38170, 443, 1], [6, 0, 0], [7, 0, 0]], BASE.os),
      GLOSSARY,
      BASE_OPTIONS,
    ],
    ["a result less", host("10.0.0.1", [[38170, 443, 1]], BASE.os), GLOSSARY, BASE_OPTIONS],
    [
      "the order of results",
      host("10.0.0.1", [[6, 0, 0], [38170, 443, 1]], BASE.os),
      GLOSSARY,
      BASE_OPTIONS,
    ],
    ["title", BASE, gl(entry(38170, { title: "Other" }), entry(6)), BASE_OPTIONS],
    ["description", BASE, gl(entry(38170, { description: "x" }), entry(6)), BASE_OPTIONS],
    ["CVE IDs", BASE, gl(entry(38170, { cves: ["CVE-2021-1"] }), entry(6)), BASE_OPTIONS],
    ["Bugtraq IDs", BASE, gl(entry(38170, { bugtraqs: ["1"] }), entry(6)), BASE_OPTIONS],
    ["no glossary entry", BASE, gl(entry(6)), BASE_OPTIONS],
    ["operating system", { ...BASE, os: "Ubuntu 18.04" }, GLOSSARY, BASE_OPTIONS],
    ["no SetOS", BASE, GLOSSARY, { ...BASE_OPTIONS, setOs: false }],
    ["no AddHost", BASE, GLOSSARY, { ...BASE_OPTIONS, addHost: false }],
    ["scanner name", BASE, GLOSSARY, { ...BASE_OPTIONS, scannerName: "Qualys" }],
    ["source name", BASE, GLOSSARY, { ...BASE_OPTIONS, sourceName: "Other" }],
    ["domain", BASE, GLOSSARY, { ...BASE_OPTIONS, domain: "Global \\ West" }],
    ["a clear instead", host("10.0.0.1", []), GLOSSARY, BASE_OPTIONS],
  ];
  for (const [what, h, glossary, options] of cases) {
    await t.step(what, () => {
      const other = both(h, glossary, options);
      assert.notEqual(other.text, base.text, "the block's bytes differ");
      assert.notEqual(other.digest, base.digest);
    });
  }
  await t.step("the same block, from another encoder: the same digest", () => {
    assert.deepEqual(both(BASE, new Map(GLOSSARY), { ...BASE_OPTIONS }), base);
  });
  await t.step("a clear's digest: its address and scanner; none when clearing is off", () => {
    const a = both(host("10.0.0.1", []), GLOSSARY), b = both(host("10.0.0.2", []), GLOSSARY);
    assert.notEqual(a.digest, b.digest);
    assert.notEqual(a.digest, both(host("10.0.0.1", []), GLOSSARY, { scannerName: "Q" }).digest);
    assert.equal(both(host("10.0.0.1", []), GLOSSARY, { clearCleanHosts: false }).digest, "none");
  });
});

// Small domains, so that equal blocks come up often.
const finding = fc.tuple(
  fc.constantFrom(1, 2, 3),
  fc.constantFrom(0, 22, 443),
  fc.constantFrom(0, 1, 2),
);
const side = fc.record({
  ip: fc.constantFrom("10.0.0.1", "10.0.0.2", "2001:db8::1"),
  findings: fc.array(finding, { maxLength: 3 }),
  os: fc.constantFrom(undefined, "Windows 2016/2019/10", "Ubuntu 18.04", "Unknown thing"),
  titles: fc.array(fc.constantFrom("a", "b", '<b>"x"</b>'), { minLength: 3, maxLength: 3 }),
  cves: fc.constantFrom([], ["CVE-2020-1"], ["CVE-2020-1", "CVE-2020-2"]),
  missing: fc.constantFrom(0, 2),
  setOs: fc.boolean(),
  addHost: fc.boolean(),
  scannerName: fc.constantFrom("QualysGuard", "Q"),
});

const KEYS = [
  "ip",
  "findings",
  "os",
  "titles",
  "cves",
  "missing",
  "setOs",
  "addHost",
  "scannerName",
] as const;

Deno.test("hostDigest(): over any two hosts, glossaries and settings, the digests are equal exactly when the blocks are (fast-check)", () => {
  let same = 0;
  // Half the pairs differ in one field only, so that blocks that come out equal are many.
  const pairs = fc.tuple(side, side, fc.constantFrom(undefined, ...KEYS)).map(([a, b, key]) =>
    [a, key === undefined ? b : { ...a, [key]: b[key] }] as const
  );
  fc.assert(
    fc.property(pairs, ([a, b]) => {
      const encode = (s: typeof a) => {
        const glossary = new Map<number, GlossaryEntry>();
        for (const q of [1, 2, 3]) {
          if (q !== s.missing) {
            glossary.set(q, entry(q, { title: s.titles[q - 1]!, cves: [...s.cves] }));
          }
        }
        const h = host(s.ip, s.findings as Finding[], s.os);
        return both(h, glossary, {
          setOs: s.setOs,
          addHost: s.addHost,
          scannerName: s.scannerName,
        });
      };
      const x = encode(a), y = encode(b);
      if (x.text === y.text) same++;
      assert.equal(x.digest === y.digest, x.text === y.text, `${x.text}\n---\n${y.text}`);
    }),
    { numRuns: 1500 },
  );
  assert.ok(same > 100, `equal blocks came up ${same} times: the property tested both ways`);
});

Deno.test("hostDigest(): writes nothing, counts nothing, and takes a host of 100,000 findings without a buffer", () => {
  const findings: Finding[] = Array.from({ length: 100_000 }, (_, i) => [i % 500, i % 65535, 1]);
  const big = host("10.0.0.9", findings);
  const enc = new CommandEncoder(gl(entry(1)), { setOs: true });
  const digest = new Uint8Array(8);
  assert.equal(enc.hostDigest(big, digest), true);
  assert.notDeepEqual(digest, new Uint8Array(8));
  assert.deepEqual([enc.hostsWithResults, enc.hostsCleared, enc.lines], [0, 0, 0]);
  assert.deepEqual(enc.os, { set: 0, unknown: 0, missing: 0 });
  enc.dispose();
});

Deno.test("hostDigest(): one block's bytes pinned with its digest and BLOCK_FORMAT (a change to the layout must raise BLOCK_FORMAT, so every host is sent once again)", () => {
  const { text, digest } = both(BASE, GLOSSARY, BASE_OPTIONS);
  const pinned = {
    format: BLOCK_FORMAT,
    text: "SetSource,QualysGuard Scan Report\n" +
      "AddHost,10.0.0.1\n" +
      'SetOS,10.0.0.1,"Microsoft","Windows"\n' +
      'AddScanResult,10.0.0.1,"QualysGuard",38170,443,tcp,"Title 38170","Threat 38170",' +
      '"cve_ids: CVE-2020-39170","bugtraq_ids: 114510"\n' +
      'AddScanResult,10.0.0.1,"QualysGuard",6,,,"Title 6","Threat 6","cve_ids: CVE-2020-1006",' +
      '"bugtraq_ids: 18"\n' +
      "ScanFlush\n",
    digest: "785a05f370181a95",
  };
  assert.equal(
    text,
    pinned.text,
    "the block's bytes changed: raise BLOCK_FORMAT in lib/encode/encoder.ts, then pin the new " +
      "text, digest and format here",
  );
  assert.deepEqual({ format: BLOCK_FORMAT, digest }, {
    format: pinned.format,
    digest: pinned.digest,
  });
});

Deno.test("hostDigest(): one encoder gives each host the digest a fresh one does, over 3,000 QIDs and the largest QID", () => {
  const qids = [0, 0xffffffff, ...Array.from({ length: 3000 }, (_, i) => 1 + i * 977)];
  const glossary = gl(
    ...qids.map((q) => entry(q % 100_000)).map((e, i) => ({ ...e, qid: qids[i]! })),
  );
  const hosts = Array.from(
    { length: 60 },
    (_, i) =>
      host(`10.0.1.${i}`, qids.slice(i * 50, i * 50 + 60).map((q, k) => [q, k, 1] as Finding)),
  );
  hosts.push(host("10.0.2.1", [[0xffffffff, 0, 0], [0, 1, 2]]));
  const shared = new CommandEncoder(glossary), d = new Uint8Array(8);
  const first = hosts.map((h) => (shared.hostDigest(h, d), hex(d)));
  const again = hosts.map((h) => (shared.hostDigest(h, d), hex(d)));
  shared.dispose();
  assert.deepStrictEqual(again, first);
  assert.deepStrictEqual(hosts.map((h) => both(h, glossary).digest), first);
  assert.equal(new Set(first).size, hosts.length);
});
