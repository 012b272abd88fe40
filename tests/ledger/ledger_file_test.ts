import assert from "node:assert/strict";
import fc from "fast-check";
import { LocalIoError } from "../../lib/errors.ts";
import { classify } from "../../lib/ledger/compare.ts";
import { Ledger } from "../../lib/ledger/ledger.ts";
import { LEDGER_TEMP_FILE, LedgerFile, stateFileStem } from "../../lib/ledger/ledger_file.ts";

const owner = { destination: "dc 10.0.0.1:8307" };
const digest = (n: number) => new Uint8Array(8).fill(n);

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qc-ledger-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Opens the ledger, collecting what `onDamaged` says.
async function open(dir: string, who: { destination: string; variant?: string } = owner) {
  const said: string[] = [];
  const file = await LedgerFile.open(dir, { ...who, onDamaged: (m) => said.push(m) });
  return { file, said };
}

// A ledger file of a few hosts, saved in `dir`.
async function saveSome(dir: string, who = owner): Promise<LedgerFile> {
  const { file } = await open(dir, who);
  const b = file.ledger.builder({ today: 20000 });
  b.set("10.0.0.1", { digest: digest(1), fingerprints: [3, 1, 2] });
  b.set("10.0.0.2", { digest: digest(2), fingerprints: Array.from({ length: 300 }, (_, i) => i) });
  b.set("2001:db8::7", { digest: digest(3), fingerprints: [] });
  await file.markUncertain(["10.0.0.1", "10.0.0.2", "2001:db8::7"]);
  await file.save(b);
  return file;
}

Deno.test("LedgerFile.save() writes ledger-<stem>.bin, 0600, that LedgerFile.open() reads back whole, and removes the pending list", async () => {
  await withDir(async (dir) => {
    const saved = await saveSome(dir);
    const stem = await stateFileStem(owner);
    assert.equal(saved.path, `${dir}/ledger-${stem}.bin`);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [
      `ledger-${stem}.bin`,
    ]);
    assert.equal((await Deno.stat(saved.path)).mode! & 0o777, 0o600);
    const { file, said } = await open(dir);
    assert.deepEqual(said, []);
    assert.equal(file.ledger.size, 3);
    assert.equal(file.ledger.results, 303);
    assert.deepEqual([...file.ledger.get("10.0.0.1")!.fingerprints], [1, 2, 3]);
    assert.equal(file.ledger.get("10.0.0.2")!.results, 300);
    assert.equal(file.ledger.get("2001:db8::7")!.lastSentDay, 20000);
    assert.ok([...file.ledger].every((e) => e.recorded && !e.uncertain));
  });
});

Deno.test("LedgerFile: a variant has a file of its own", async () => {
  await withDir(async (dir) => {
    await saveSome(dir);
    const { file, said } = await open(dir, { ...owner, variant: "template 42" });
    assert.deepEqual(said, []);
    assert.equal(file.ledger.size, 0);
    assert.notEqual(file.path, (await open(dir)).file.path);
  });
});

Deno.test("LedgerFile.open(): a file cut at any length, or with any byte changed, is reported and read as empty", async () => {
  await withDir(async (dir) => {
    const { path } = await saveSome(dir);
    const good = await Deno.readFile(path);
    const check = async (bytes: Uint8Array) => {
      await Deno.writeFile(path, bytes);
      const { file, said } = await open(dir);
      assert.equal(file.ledger.size, 0);
      assert.equal(said.length, 1);
      assert.match(
        said[0]!,
        /: the record of what dc 10\.0\.0\.1:8307 holds is .+: this run sends every host again$/,
      );
      assert.ok(said[0]!.startsWith(`${path}: `));
    };
    for (let n = 0; n < good.length; n++) await check(good.subarray(0, n));
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i] = bad[i]! ^ (1 << (i % 8));
      await check(bad);
    }
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    await check(longer);
  });
});

Deno.test("LedgerFile.open(): another destination's file, or a newer format, is reported by what it is", async () => {
  await withDir(async (dir) => {
    const other = await saveSome(dir, { destination: "csv /var/out.csv" });
    const mine = (await open(dir)).file.path;
    await Deno.copyFile(other.path, mine);
    let { file, said } = await open(dir);
    assert.equal(file.ledger.size, 0);
    assert.deepEqual(said, [
      `${mine}: the record of what dc 10.0.0.1:8307 holds is not its own (it is the record ` +
      "of another destination, csv /var/out.csv): this run sends every host again",
    ]);
    const bytes = await Deno.readFile(mine);
    new DataView(bytes.buffer).setUint32(8, 2, true);
    await Deno.writeFile(mine, bytes);
    ({ file, said } = await open(dir));
    assert.equal(file.ledger.size, 0);
    assert.match(said[0]!, /holds is format 2, written by another version of the connector: /);
  });
});

Deno.test("LedgerFile.open(): a directory where the record belongs is a LocalIoError naming it (exit 7)", async () => {
  await withDir(async (dir) => {
    const path = (await open(dir)).file.path;
    await Deno.mkdir(path);
    await assert.rejects(open(dir), (error) => {
      assert.ok(error instanceof LocalIoError);
      assert.equal(error.path, path);
      assert.equal(error.exitCode, 7);
      assert.match(error.message, /remove it \(rm -r .+\) and run again \(nothing was sent\)$/);
      return true;
    });
  });
});

Deno.test("LedgerFile.markUncertain(): when the run dies before save(), its addresses are uncertain, and an address never recorded is known as such", async () => {
  await withDir(async (dir) => {
    await saveSome(dir);
    const { file } = await open(dir);
    await file.markUncertain(["10.0.0.1", "192.0.2.9"]);
    // the run dies here
    const { file: after, said } = await open(dir);
    assert.deepEqual(said, []);
    assert.equal(after.ledger.get("10.0.0.1")!.uncertain, true);
    assert.equal(after.ledger.get("10.0.0.1")!.recorded, true);
    assert.equal(after.ledger.get("10.0.0.2")!.uncertain, false);
    assert.deepEqual(after.ledger.get("192.0.2.9")!.recorded, false);
    assert.equal(
      classify(after.ledger.get("10.0.0.1"), { digest: digest(1), today: 20001, refreshDays: 7 }),
      "changed",
    );
  });
});

Deno.test("LedgerFile.markUncertain(): a list longer than a write (a builder's 20,000 IPv6 addresses, given ones, uncertain ones) comes back whole", async () => {
  await withDir(async (dir) => {
    await saveSome(dir);
    const { file } = await open(dir);
    await file.markUncertain(["10.0.0.1"]); // the first run dies here
    const { file: second } = await open(dir);
    const b = second.ledger.builder({ today: 20001 });
    const v6 = (i: number) => `2001:db8::1:${i.toString(16)}`;
    for (let i = 19_999; i >= 0; i--) b.set(v6(i), { digest: digest(1), fingerprints: [i] });
    b.set(v6(5), { digest: digest(2), fingerprints: [] }); // twice: listed once
    await second.markUncertain(b);
    await second.markUncertain(["192.0.2.9", "10.0.0.2"]);
    // the second run dies here
    const { file: after, said } = await open(dir);
    assert.deepEqual(said, []);
    const expect = ["10.0.0.1", "10.0.0.2", "192.0.2.9"];
    for (let i = 0; i < 20_000; i++) expect.push(v6(i));
    const uncertain = [...after.ledger].filter((e) => e.uncertain).map((e) => e.address);
    assert.deepEqual(uncertain.sort(), [...new Set(expect)].sort());
  });
});

Deno.test("LedgerFile.markUncertain(): a second run that dies keeps the first one's uncertain addresses", async () => {
  await withDir(async (dir) => {
    await saveSome(dir);
    await (await open(dir)).file.markUncertain(["10.0.0.1"]); // dies
    await (await open(dir)).file.markUncertain(["10.0.0.2"]); // dies too
    const { file } = await open(dir);
    assert.equal(file.ledger.get("10.0.0.1")!.uncertain, true);
    assert.equal(file.ledger.get("10.0.0.2")!.uncertain, true);
    // A run that sends neither and completes keeps them uncertain in the record itself.
    const next = file.ledger.builder({ today: 20002 });
    next.keep("2001:db8::7");
    await file.save(next);
    const { file: later } = await open(dir);
    assert.equal(later.ledger.get("10.0.0.1")!.uncertain, true);
    assert.equal(later.ledger.get("10.0.0.2")!.uncertain, true);
    assert.equal(later.ledger.get("2001:db8::7")!.uncertain, false);
  });
});

Deno.test("LedgerFile.open(): a damaged pending list makes every recorded address uncertain", async () => {
  await withDir(async (dir) => {
    await saveSome(dir);
    const { file } = await open(dir);
    await file.markUncertain(["10.0.0.1"]);
    const bytes = await Deno.readFile(file.pendingPath);
    await Deno.writeFile(file.pendingPath, bytes.subarray(0, bytes.length - 3));
    const { file: after, said } = await open(dir);
    assert.deepEqual(said, [
      `${file.pendingPath}: the list of addresses a run was sending to dc 10.0.0.1:8307 is cut ` +
      "short: every host recorded is sent again",
    ]);
    assert.ok([...after.ledger].every((e) => e.uncertain));
  });
});

Deno.test("LedgerFile.save(): a record that settles the pending list is read as certain even if the list stayed (killed before removing it)", async () => {
  await withDir(async (dir) => {
    const { file } = await open(dir);
    await file.markUncertain(["10.0.0.1"]);
    const list = await Deno.readFile(file.pendingPath);
    const next = file.ledger.builder({ today: 20000 });
    next.set("10.0.0.1", { digest: digest(1), fingerprints: [] });
    await file.save(next);
    await Deno.writeFile(file.pendingPath, list); // as if the removal never happened
    const { file: after } = await open(dir);
    assert.equal(after.ledger.get("10.0.0.1")!.uncertain, false);
    // and the next save removes it
    await after.save(after.ledger.builder({ today: 20001 }));
    await assert.rejects(Deno.stat(file.pendingPath), Deno.errors.NotFound);
  });
});

Deno.test("LedgerFile.save() takes only a builder of its own ledger, once", async () => {
  await withDir(async (dir) => {
    const { file } = await open(dir);
    await assert.rejects(file.save(Ledger.empty(owner).builder({ today: 1 })), {
      name: "TypeError",
      message: "The next ledger must be built from the one this file read",
    });
    await file.save(file.ledger.builder({ today: 1 }));
    await assert.rejects(file.save(file.ledger.builder({ today: 1 })), {
      name: "TypeError",
      message: "This ledger was saved already",
    });
  });
});

Deno.test("LEDGER_TEMP_FILE matches the temp files the ledger's writes make", async () => {
  await withDir(async (dir) => {
    const temps: string[] = [];
    const rename = Deno.rename;
    Deno.rename = (from, to) => {
      temps.push(String(from).slice(String(from).lastIndexOf("/") + 1));
      return rename(from, to);
    };
    try {
      await saveSome(dir);
    } finally {
      Deno.rename = rename;
    }
    assert.equal(temps.length, 2);
    for (const name of temps) assert.match(name, LEDGER_TEMP_FILE);
    assert.doesNotMatch("ledger-0123456789abcdef.bin", LEDGER_TEMP_FILE);
  });
});

Deno.test("LedgerFile: 100,000 hosts × 40 results are under 10 MB on disk", async () => {
  await withDir(async (dir) => {
    const { file } = await open(dir);
    const b = file.ledger.builder({ today: 20000 });
    const fps = new Uint16Array(40);
    for (let i = 0; i < 100_000; i++) {
      for (let k = 0; k < 40; k++) fps[k] = (i * 7919 + k * 104729) & 0xffff;
      const ip = `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;
      b.set(ip, { digest: digest(i & 255), fingerprints: fps });
    }
    let t = performance.now();
    await file.save(b);
    const saveMs = performance.now() - t;
    const { size } = await Deno.stat(file.path);
    t = performance.now();
    const { file: read, said } = await open(dir);
    const openMs = performance.now() - t;
    t = performance.now();
    let found = 0;
    for (let i = 0; i < 100_000; i++) {
      if (read.ledger.has(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)) found++;
    }
    const lookMs = performance.now() - t;
    console.log(
      `ledger of 100,000 hosts × 40 results: ${size} bytes; save ${saveMs.toFixed(0)} ms, ` +
        `open ${openMs.toFixed(0)} ms, 100,000 look-ups ${lookMs.toFixed(0)} ms`,
    );
    assert.deepEqual(said, []);
    assert.equal(found, 100_000);
    assert.equal(read.ledger.results, 4_000_000);
    // its 8 MB of fingerprints stay in the file, read when asked for
    assert.deepEqual(
      [...read.ledger.get("10.0.0.9")!.fingerprints],
      [...fps.map((_, k) => (9 * 7919 + k * 104729) & 0xffff)].sort((x, y) => x - y),
    );
    read.close();
    assert.ok(size < 10_000_000, `${size} bytes`);
  });
});

// The crash property: nights of a source sent to a simulated destination, each run killed (a
// thrown Crash, and no file operation after it) after any step: the pending list's rename, a
// host delivered, the record's rename, the list's removal. A run clears the addresses that left
// (as the detection source does), or keeps them (as the report source does: a host missing
// from tonight's report keeps its results).
class Crash extends Error {}

Deno.test("LedgerFile: a run killed after any step, then normal runs: never an address recorded as sent that was not, and the destination ends as the source (fast-check)", async () => {
  const pool = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "2001:db8::5"];
  const night = fc.dictionary(fc.constantFrom(...pool), fc.integer({ min: 1, max: 2 }));
  const rename = Deno.rename, remove = Deno.remove;
  let steps = 0, crashAt = Infinity, dead = false;
  const step = () => {
    if (++steps === crashAt) {
      dead = true;
      throw new Crash("killed");
    }
  };
  Deno.rename = async (from, to) => {
    if (dead) throw new Crash("dead");
    await rename(from, to);
    step();
  };
  Deno.remove = async (path, options) => {
    const temp = String(path).endsWith(".tmp");
    if (dead && !temp) throw new Crash("dead");
    await remove(path, options);
    if (!temp) step();
  };
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            truth: night,
            crash: fc.option(fc.integer({ min: 1, max: 7 }), { freq: 4 }),
            keepLeft: fc.boolean(),
          }),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        async (runs) => {
          const dir = await Deno.makeTempDir({ prefix: "qc-ledger-crash-" });
          const dc = new Map<string, number>();
          try {
            let today = 20000;
            const run = async (truth: Record<string, number>, keepLeft = false) => {
              const { file, said } = await open(dir);
              assert.deepEqual(said, []);
              const next = file.ledger.builder({ today });
              const send: string[] = [], clear: string[] = [];
              for (const [ip, d] of Object.entries(truth)) {
                const c = classify(file.ledger.get(ip), {
                  digest: digest(d),
                  today,
                  refreshDays: 3,
                });
                if (c === "unchanged") next.keep(ip);
                else send.push(ip);
              }
              if (!keepLeft) {
                for (const e of file.ledger) if (!(e.address in truth)) clear.push(e.address);
              }
              await file.markUncertain([...send, ...clear]);
              for (const ip of send) {
                dc.set(ip, truth[ip]!);
                step();
                next.set(ip, { digest: digest(truth[ip]!), fingerprints: [] });
              }
              for (const ip of clear) {
                dc.delete(ip);
                step();
                next.drop(ip);
              }
              await file.save(next);
            };
            // What the record says after any run, whole or killed.
            const check = async () => {
              const { file } = await open(dir);
              for (const e of file.ledger) {
                if (e.recorded && !e.uncertain) {
                  assert.deepEqual(e.digest, digest(dc.get(e.address)!));
                }
              }
              for (const ip of dc.keys()) {
                assert.ok(file.ledger.has(ip), `${ip} unknown`);
              }
            };
            for (const { truth, crash, keepLeft } of runs) {
              steps = 0;
              crashAt = crash ?? Infinity;
              dead = false;
              try {
                await run(truth, keepLeft);
              } catch (error) {
                if (
                  !(error instanceof Crash || (error as Error).cause instanceof Crash)
                ) throw error;
              }
              crashAt = Infinity;
              dead = false;
              await check();
              today++;
            }
            const last = runs.at(-1)!.truth;
            await run(last);
            await check();
            assert.deepEqual(
              Object.fromEntries([...dc].sort()),
              Object.fromEntries(
                Object.entries(last).sort(),
              ),
            );
          } finally {
            crashAt = Infinity;
            dead = false;
            await remove(dir, { recursive: true });
          }
        },
      ),
      { numRuns: 300 },
    );
  } finally {
    Deno.rename = rename;
    Deno.remove = remove;
  }
});

Deno.test("LedgerFile: a destination that lost every host is whole again within refresh_days nightly runs", async () => {
  await withDir(async (dir) => {
    const truth = new Map(Array.from({ length: 200 }, (_, i) => [`172.16.0.${i}`, i % 5 + 1]));
    const dc = new Map<string, number>();
    let today = 30000;
    const run = async () => {
      const { file } = await open(dir);
      const next = file.ledger.builder({ today });
      const send: string[] = [];
      for (const [ip, d] of truth) {
        const c = classify(file.ledger.get(ip), { digest: digest(d), today, refreshDays: 7 });
        if (c === "unchanged") next.keep(ip);
        else send.push(ip);
      }
      await file.markUncertain(send);
      for (const ip of send) {
        dc.set(ip, truth.get(ip)!);
        next.set(ip, { digest: digest(truth.get(ip)!), fingerprints: [] });
      }
      await file.save(next);
      today++;
      return send.length;
    };
    assert.equal(await run(), 200); // the first night sends everything
    const sent = [await run(), await run()];
    dc.clear(); // the Defense Center lost every host (a restore)
    for (let night = 0; night < 7; night++) sent.push(await run());
    assert.deepEqual(dc, truth);
    assert.ok(sent.every((n) => n < 200 / 7 * 2), `nightly sends ${sent}`);
  });
});

Deno.test("LedgerFile.open(): a record whose fingerprints stay in its file reads the same, says the same of any damage, and saves the same record", async () => {
  await withDir(async (dir) => {
    const { path } = await saveSome(dir);
    const good = await Deno.readFile(path);
    // Opens it twice: fingerprints read into memory, and left in the file.
    const both = async () => {
      const said = { memory: [] as string[], file: [] as string[] };
      const memory = await LedgerFile.open(dir, {
        ...owner,
        onDamaged: (m) => said.memory.push(m),
      });
      const inFile = await LedgerFile.open(dir, {
        ...owner,
        onDamaged: (m) => said.file.push(m),
        fingerprintsInMemory: 0,
      });
      return { memory, inFile, said };
    };
    const entries = (file: LedgerFile) =>
      [...file.ledger].map((e) => ({ ...e, fingerprints: [...e.fingerprints] }));
    const { memory, inFile, said } = await both();
    assert.deepEqual(said, { memory: [], file: [] });
    assert.deepEqual(entries(inFile), entries(memory));
    assert.equal(inFile.ledger.results, 303);
    inFile.close();
    for (let n = 0; n < good.length; n += 7) {
      await Deno.writeFile(path, good.subarray(0, n));
      const { inFile, said } = await both();
      assert.equal(inFile.ledger.size, 0);
      assert.equal(said.file.length, 1);
      assert.deepEqual(said.file, said.memory);
    }
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i] = bad[i]! ^ (1 << (i % 8));
      await Deno.writeFile(path, bad);
      const { inFile, said } = await both();
      assert.equal(inFile.ledger.size, 0, `byte ${i}`);
      assert.deepEqual(said.file, said.memory, `byte ${i}`);
    }
    // The next record, from each: the same bytes.
    const saved: Uint8Array[] = [];
    for (const fingerprintsInMemory of [undefined, 0]) {
      await Deno.writeFile(path, good);
      const file = await LedgerFile.open(dir, { ...owner, fingerprintsInMemory });
      const b = file.ledger.builder({ today: 20001 });
      b.set("10.0.0.3", { digest: digest(4), fingerprints: [9, 8] });
      b.keep("10.0.0.2");
      b.drop("10.0.0.1");
      assert.deepEqual(file.ledger.get("10.0.0.2")!.fingerprints.length, 300);
      await file.save(b);
      file.close();
      saved.push(await Deno.readFile(path));
    }
    assert.deepEqual(saved[1], saved[0]);
    const again = await LedgerFile.open(dir, { ...owner, fingerprintsInMemory: 0 });
    assert.deepEqual(
      [...again.ledger.get("10.0.0.2")!.fingerprints],
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.equal(again.ledger.has("10.0.0.1"), false);
    again.close();
  });
});

Deno.test("LedgerFile: the file a record's fingerprints were left in is read while the next record replaces it, and closed by close()", async () => {
  await withDir(async (dir) => {
    await saveSome(dir);
    const file = await LedgerFile.open(dir, { ...owner, fingerprintsInMemory: 0 });
    const b = file.ledger.builder({ today: 20001 });
    await file.save(b); // every address kept: their fingerprints copied from the old file
    // the old file is gone from the directory, and still read through the open handle
    assert.deepEqual([...file.ledger.get("10.0.0.2")!.fingerprints].length, 300);
    file.close();
    file.close(); // twice is fine
    using next = await LedgerFile.open(dir, { ...owner, fingerprintsInMemory: 0 });
    assert.equal(next.ledger.results, 303);
  });
});
