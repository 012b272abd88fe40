import assert from "node:assert/strict";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { LocalIoError } from "../../lib/errors.ts";
import { Ledger, type LedgerBuilder, type LedgerEntry } from "../../lib/ledger/ledger.ts";
import { isTempFileName, TEMP_FILES } from "../../lib/util/temp_files.ts";
import { refreshSlot } from "../../lib/ledger/refresh.ts";

const owner = { destination: "dc 10.0.0.1:8307" };
const digest = (n: number) => new Uint8Array(8).fill(n);

// What an entry says, as plain data.
function plain(e: LedgerEntry | undefined) {
  return e && {
    address: e.address,
    recorded: e.recorded,
    uncertain: e.uncertain,
    digest: [...e.digest],
    lastSentDay: e.lastSentDay,
    results: e.results,
    fingerprints: [...e.fingerprints],
  };
}

Deno.test("Ledger.get() finds an address in any of its IPv6 spellings, and an IPv4-mapped one as IPv4", () => {
  const b = Ledger.empty(owner).builder({ today: 100 });
  b.set("10.1.2.3", { digest: digest(1), fingerprints: [] });
  b.set("2001:db8::1", { digest: digest(2), fingerprints: [] });
  b.set("::ffff:0:10.9.9.9", { digest: digest(3), fingerprints: [] });
  const ledger = b.build();
  assert.equal(ledger.get("::ffff:10.1.2.3")?.address, "10.1.2.3");
  assert.equal(ledger.get("::FFFF:a01:203")?.address, "10.1.2.3");
  assert.equal(ledger.get("2001:DB8:0:0:0:0:0:1")?.address, "2001:db8::1");
  assert.equal(ledger.get("::ffff:0:a09:909")?.address, "::ffff:0:10.9.9.9");
  assert.equal(ledger.get("not an address"), undefined);
  assert.equal(ledger.get("10.1.2.4"), undefined);
  assert.deepEqual([...ledger].map((e) => e.address), [
    "10.1.2.3",
    "::ffff:0:10.9.9.9",
    "2001:db8::1",
  ]);
});

Deno.test("Ledger keeps any address as the RFC 5952 text ipaddr.js gives it (oracle)", () => {
  fc.assert(fc.property(fc.ipV6(), (text) => {
    const parsed = ipaddr.IPv6.parse(text);
    if (parsed.isIPv4MappedAddress()) return;
    const b = Ledger.empty(owner).builder({ today: 1 });
    b.set(text, { digest: digest(1), fingerprints: [] });
    const address = [...b.build()][0]!.address;
    assert.deepEqual(ipaddr.IPv6.parse(address).toByteArray(), parsed.toByteArray());
    if (!/^::ffff:0:/.test(address)) assert.equal(address, parsed.toRFC5952String());
  }));
});

Deno.test("LedgerBuilder.set() rejects what is not an address or a digest of 8 bytes", () => {
  const b = Ledger.empty(owner).builder({ today: 1 });
  assert.throws(() => b.set("10.0.0", { digest: digest(1), fingerprints: [] }), {
    name: "RangeError",
    message: 'Not an IP address: "10.0.0"',
  });
  assert.throws(() => b.set("10.0.0.1", { digest: new Uint8Array(16), fingerprints: [] }), {
    name: "RangeError",
    message: "A block digest is 8 bytes, not 16",
  });
  assert.throws(() => Ledger.empty(owner).builder({ today: 65536 }), RangeError);
});

// A model of the builder's rules, on plain maps.
type Op =
  | { kind: "set"; ip: number; d: number; fps: number[] }
  | { kind: "keep" | "drop" | "unsure"; ip: number };
interface ModelEntry {
  d: number;
  day: number;
  fps: number[];
  uncertain: boolean;
  recorded: boolean;
}

function applyModel(old: Map<string, ModelEntry>, ops: Op[], today: number) {
  const set = new Map<string, ModelEntry>(), dropped = new Set<string>();
  const touched = new Set<string>(), unsure = new Set<string>();
  for (const op of ops) {
    const ip = `10.0.0.${op.ip}`;
    if (op.kind === "set") {
      const fps = [...op.fps].sort((a, b) => a - b);
      set.set(ip, { d: op.d, day: today, fps, uncertain: false, recorded: true });
      touched.add(ip);
    } else if (op.kind === "unsure") unsure.add(ip);
    else if (old.has(ip)) {
      touched.add(ip);
      if (op.kind === "drop") dropped.add(ip);
      else dropped.delete(ip);
    }
  }
  const next = new Map<string, ModelEntry>();
  for (const [ip, e] of old) if (!dropped.has(ip) || unsure.has(ip)) next.set(ip, e);
  for (const [ip, e] of set) next.set(ip, e);
  for (const ip of unsure) {
    const e = next.get(ip);
    next.set(
      ip,
      e ? { ...e, uncertain: true } : {
        d: 0,
        day: 0,
        fps: [],
        uncertain: true,
        recorded: false,
      },
    );
  }
  const untouched = [...old.keys()].filter((ip) => !touched.has(ip));
  return { next, untouched };
}

Deno.test("LedgerBuilder: any nights of set, keep, drop and unsure, in any order, end as the model says (set wins; an untouched address is kept)", () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant("set" as const),
      ip: fc.integer({ min: 1, max: 12 }),
      d: fc.integer({ min: 1, max: 255 }),
      fps: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 }),
    }),
    fc.record({
      kind: fc.constantFrom("keep" as const, "drop" as const, "unsure" as const),
      ip: fc.integer({ min: 1, max: 12 }),
    }),
  );
  fc.assert(fc.property(fc.array(fc.array(op, { maxLength: 20 }), { maxLength: 4 }), (nights) => {
    let ledger = Ledger.empty(owner);
    let model = new Map<string, ModelEntry>();
    nights.forEach((ops, night) => {
      const today = 1000 + night;
      const b = ledger.builder({ today });
      const expect = applyModel(model, ops, today);
      for (const o of ops) {
        const ip = `10.0.0.${o.ip}`;
        if (o.kind === "set") b.set(ip, { digest: digest(o.d), fingerprints: o.fps });
        else if (o.kind === "keep") assert.equal(b.keep(ip), model.has(ip));
        else if (o.kind === "drop") assert.equal(b.drop(ip), model.has(ip));
        else b.unsure(ip);
      }
      assert.deepEqual(
        [...b.untouched()].sort(),
        expect.untouched.sort(),
      );
      ledger = b.build();
      model = expect.next;
      assert.equal(ledger.size, model.size);
      for (const [ip, e] of model) {
        assert.deepEqual(plain(ledger.get(ip)), {
          address: ip,
          recorded: e.recorded,
          uncertain: e.uncertain,
          digest: [...digest(e.d)],
          lastSentDay: e.day,
          results: e.fps.length,
          fingerprints: e.fps,
        });
      }
      assert.equal(ledger.results, [...model.values()].reduce((n, e) => n + e.fps.length, 0));
    });
  }));
});

Deno.test("Ledger.summary() counts hosts, results, uncertain addresses and those due on a day", () => {
  const b = Ledger.empty(owner).builder({ today: 700 });
  const ips = Array.from({ length: 50 }, (_, i) => `192.0.2.${i + 1}`);
  for (const ip of ips) b.set(ip, { digest: digest(1), fingerprints: [1, 2, 3] });
  b.unsure("192.0.2.1");
  b.unsure("198.51.100.1");
  const ledger = b.build();
  const day = 701;
  const due = ips.slice(1).filter((ip) => refreshSlot(ip, 7) === day % 7).length;
  assert.deepEqual(ledger.summary({ day, refreshDays: 7 }), {
    hosts: 51,
    results: 150,
    uncertain: 2,
    due,
  });
  assert.equal(ledger.summary({ day: 707, refreshDays: 7 }).due, 49);
  assert.equal(ledger.summary({ day: 700, refreshDays: 0 }).due, 49);
});

// 70,001 blocks set out of address order (a report's), one of 600,000 fingerprints (more than
// a page) in the middle; built, each must come back whole.
function crossPages(b: LedgerBuilder): Ledger {
  const n = 70_000, ip = (i: number) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;
  const fpsOf = (i: number) =>
    Array.from({ length: (i * 7) % 15 }, (_, k) => (i * 31 + k * 977) & 0xffff);
  const big = Array.from({ length: 600_000 }, (_, k) => (k * 40503) & 0xffff);
  for (let r = 0; r < n; r++) {
    const i = (r * 7919) % n;
    b.set(ip(i), { digest: digest(i & 255), fingerprints: fpsOf(i) });
    if (r === n / 2) b.set("2001:db8::1", { digest: digest(7), fingerprints: big });
  }
  const ledger = b.build();
  assert.equal(ledger.size, n + 1);
  let results = big.length;
  for (let i = 0; i < n; i++) {
    const fps = fpsOf(i).sort((x, y) => x - y);
    results += fps.length;
    const e = ledger.get(ip(i));
    assert.deepEqual([...e!.fingerprints], fps, ip(i));
    assert.deepEqual([...e!.digest], [...digest(i & 255)], ip(i));
  }
  assert.deepEqual(
    [...ledger.get("2001:db8::1")!.fingerprints],
    big.sort((x, y) => x - y),
  );
  assert.equal(ledger.results, results);
  return ledger;
}

Deno.test("LedgerBuilder keeps whole the blocks that cross its pages (65,536 keys, 524,288 fingerprints a page), one larger than a page, in any order set", () => {
  crossPages(Ledger.empty(owner).builder({ today: 20000 }));
});

Deno.test("LedgerBuilder: fingerprints past their memory go to a 0600 temp file, read back whole in any order, removed by dispose()", async () => {
  const tempDir = await Deno.makeTempDir({ prefix: "qc-ledger-" });
  try {
    const b = Ledger.empty(owner).builder({
      today: 20000,
      fingerprints: { memoryValues: 1, tempDir }, // one page: 524,288
    });
    crossPages(b);
    const files = [...Deno.readDirSync(tempDir)].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.ok(isTempFileName(files[0]!), String(files[0]));
    assert.match(files[0]!, new RegExp(`^${TEMP_FILES.fingerprints.prefix}`));
    assert.equal(Deno.statSync(`${tempDir}/${files[0]}`).mode! & 0o777, 0o600);
    b.dispose();
    b.dispose();
    assert.deepEqual([...Deno.readDirSync(tempDir)], []);
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

Deno.test("LedgerBuilder: a temp file that cannot be made is a LocalIoError naming the directory (exit 7)", () => {
  const b = Ledger.empty(owner).builder({
    today: 20000,
    fingerprints: { memoryValues: 1, tempDir: "/nonexistent/qc-ledger" },
  });
  const fps = new Uint16Array(2 ** 20 + 1); // a page in memory, one in the buffer, and one more
  assert.throws(() => b.set("10.0.0.1", { digest: digest(1), fingerprints: fps }), (e) => {
    assert.ok(e instanceof LocalIoError);
    assert.equal(e.exitCode, 7);
    assert.equal(e.path, "/nonexistent/qc-ledger");
    return true;
  });
});
