import assert from "node:assert/strict";
import fc from "fast-check";
import { runCleanups } from "../../lib/cleanup.ts";
import { LocalIoError } from "../../lib/errors.ts";
import type { GlossaryEntry } from "../../lib/findings/finding_source.ts";
import { type GlossaryInput, GlossaryStore } from "../../lib/findings/glossary_store.ts";
import { FULL_DISK, runInShell } from "../_shell.ts";
import { withWorkDir } from "../_workdir.ts";

const utf8 = new TextEncoder();

function entry(qid: number, over: Partial<GlossaryEntry> = {}): GlossaryEntry {
  return {
    qid,
    title: `title ${qid}`,
    description: `<P>d${qid}</P>`,
    cves: [],
    bugtraqs: [],
    ...over,
  };
}

const tricky: GlossaryEntry[] = [
  entry(0, { title: "", description: "", cves: [], bugtraqs: [] }),
  entry(38170, {
    title: "SSL, weak \u201cquoted\u201d caf\u00e9 \u{1F600}",
    description: "<P>x & y</P>\r\n\t\u00e9\u20ac".repeat(50),
    cves: ["CVE-2014-0160", "", "CVE-2014-0161 junk", "\u00e9"],
    bugtraqs: ["66690", "1"],
  }),
  entry(0xffffffff, { bugtraqs: ["7"] }),
  entry(6, { description: "x".repeat(70_000) }), // larger than a small chunk
];

Deno.test("GlossaryStore gives back every field as added, from memory", () => {
  const store = new GlossaryStore();
  try {
    for (const e of tricky) assert.equal(store.add(e), true);
    assert.equal(store.size, tricky.length);
    assert.equal(store.path, undefined, "nothing went to disk");
    for (const e of tricky) {
      assert.equal(store.has(e.qid), true);
      assert.deepStrictEqual(store.get(e.qid), e);
    }
    assert.equal(store.get(5), undefined);
    assert.equal(store.has(5), false);
    assert.deepStrictEqual([...store], tricky.map((e) => [e.qid, e]));
    assert.deepStrictEqual([...store.values()], tricky);
    assert.deepStrictEqual([...store.keys()], tricky.map((e) => e.qid));
  } finally {
    store.dispose();
  }
});

Deno.test("GlossaryStore takes the description as UTF-8 bytes and copies them", () => {
  const store = new GlossaryStore();
  const bytes = utf8.encode("<P>caf\u00e9</P>");
  store.add({ qid: 1, title: "t", description: bytes, cves: [], bugtraqs: [] });
  bytes.fill(0x41); // the caller reuses its buffer
  assert.equal(store.get(1)?.description, "<P>caf\u00e9</P>");
  store.dispose();
});

Deno.test("GlossaryStore keeps the first entry of a QID", () => {
  const store = new GlossaryStore();
  assert.equal(store.add(entry(9, { title: "first" })), true);
  assert.equal(store.add(entry(9, { title: "second" })), false);
  assert.equal(store.size, 1);
  assert.equal(store.get(9)?.title, "first");
  store.dispose();
});

Deno.test("GlossaryStore goes to a 0600 temp file past its limit and reads back from it", async () => {
  await withWorkDir(async (dir) => {
    const store = new GlossaryStore({ memoryLimit: 4096, tempDir: dir });
    const added: GlossaryEntry[] = [];
    for (let i = 0; i < 500; i++) {
      const e = entry(1000 - i, {
        cves: [`CVE-2020-${i}`],
        description: `<P>${"d".repeat(i)}</P>`,
      });
      store.add(e);
      added.push(e);
      // Reads between adds move the file position; later adds must still append.
      if (i % 7 === 0) assert.deepStrictEqual(store.get(added[i >> 1]!.qid), added[i >> 1]);
    }
    assert.ok(store.path, "it went to disk");
    assert.equal(store.path!.startsWith(dir), true);
    assert.equal((await Deno.stat(store.path!)).mode! & 0o777, 0o600);
    assert.ok((await Deno.stat(store.path!)).size > 4096);
    for (const e of added) assert.deepStrictEqual(store.get(e.qid), e);
    assert.deepStrictEqual([...store.values()], added);
    store.dispose();
    assert.deepStrictEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("GlossaryStore.dispose removes its temp file and empties the store; twice is fine", async () => {
  await withWorkDir((dir) => {
    const store = new GlossaryStore({ memoryLimit: 0, tempDir: dir });
    store.add(entry(1));
    store.add(entry(2));
    assert.equal([...Deno.readDirSync(dir)].length, 1);
    store.dispose();
    store.dispose();
    assert.deepStrictEqual([...Deno.readDirSync(dir)], []);
    assert.equal(store.path, undefined);
    assert.equal(store.size, 0);
    assert.equal(store.get(1), undefined);
    assert.deepStrictEqual([...store], []);
  });
});

Deno.test("runCleanups removes the temp file of a GlossaryStore never disposed", async () => {
  await withWorkDir((dir) => {
    const store = new GlossaryStore({ memoryLimit: 0, tempDir: dir });
    store.add(entry(1));
    store.add(entry(2));
    assert.equal([...Deno.readDirSync(dir)].length, 1);
    runCleanups();
    assert.deepStrictEqual([...Deno.readDirSync(dir)], []);
    store.dispose(); // still safe
  });
});

const ID = fc.string({ unit: "binary", maxLength: 20 });
const INPUT = fc.record({
  qid: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 0xffffffff })),
  title: fc.string({ unit: "binary", maxLength: 80 }),
  description: fc.string({ unit: "binary", maxLength: 3000 }),
  asBytes: fc.boolean(),
  cves: fc.array(ID, { maxLength: 5 }),
  bugtraqs: fc.array(ID, { maxLength: 5 }),
});

Deno.test("GlossaryStore reads like a Map (first wins), QIDs in any order, in memory or on disk (fast-check)", async () => {
  await withWorkDir((dir) => {
    fc.assert(
      fc.property(
        fc.array(INPUT, { maxLength: 60 }),
        fc.constantFrom(0, 100, 5000, 1 << 24),
        (inputs, memoryLimit) => {
          const store = new GlossaryStore({ memoryLimit, tempDir: dir });
          try {
            const expected = new Map<number, GlossaryEntry>();
            for (const { asBytes, ...e } of inputs) {
              // Lone surrogates cannot go through UTF-8: what is stored is their U+FFFD.
              const clean = { ...e, description: e.description.toWellFormed() };
              const input: GlossaryInput = asBytes
                ? { ...e, description: utf8.encode(e.description) }
                : e;
              assert.equal(store.add(input), !expected.has(e.qid));
              if (!expected.has(e.qid)) {
                expected.set(e.qid, {
                  ...clean,
                  title: e.title.toWellFormed(),
                  cves: e.cves.map((c) => c.toWellFormed()),
                  bugtraqs: e.bugtraqs.map((c) => c.toWellFormed()),
                });
              }
            }
            assert.equal(store.size, expected.size);
            assert.deepStrictEqual([...store], [...expected]);
            for (const [qid, e] of expected) assert.deepStrictEqual(store.get(qid), e);
          } finally {
            store.dispose();
          }
          assert.deepStrictEqual([...Deno.readDirSync(dir)], []);
        },
      ),
      { numRuns: 200 },
    );
  });
});

Deno.test("GlossaryStore names the temp directory and the fix when it cannot make its temp file there", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    const store = new GlossaryStore({ memoryLimit: 64, tempDir: `${dir}/not-a-dir` });
    assert.throws(
      () => {
        for (let i = 0; i < 100; i++) store.add(entry(i));
      },
      (e: LocalIoError) => {
        assert.ok(e instanceof LocalIoError);
        assert.match(e.message, /not-a-dir: cannot create the glossary store there: .*set TMPDIR/);
        assert.equal(e.exitCode, 7);
        return true;
      },
    );
    store.dispose();
  });
});

Deno.test("GlossaryStore says which file and what to do when the file system is full", async () => {
  // A child process on a full disk (see tests/_shell.ts); it removes its file all the same.
  await withWorkDir(async (dir) => {
    const module = new URL("../../lib/findings/glossary_store.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/child.ts`,
      `import { GlossaryStore } from "${module}";
      const store = new GlossaryStore({ memoryLimit: 64, tempDir: "${dir}" });
      try {
        for (let i = 0; i < 1000; i++) {
          store.add({ qid: i, title: "t", description: "d".repeat(100), cves: [], bugtraqs: [] });
        }
      } catch (e) {
        console.log(JSON.stringify({ name: e.name, message: e.message, code: e.exitCode }));
      } finally {
        store.dispose();
      }`,
    );
    const { stdout } = await runInShell(FULL_DISK, [
      Deno.execPath(),
      "run",
      "--allow-read",
      "--allow-write",
      `${dir}/child.ts`,
    ]);
    const got = JSON.parse(stdout);
    assert.equal(got.name, "LocalIoError");
    assert.equal(got.code, 7);
    assert.match(
      got.message,
      /qualys_connector-glossary-\w+: cannot write the glossary store: file too large: set TMPDIR/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["child.ts"]);
  });
});

Deno.test("GlossaryStore finds every one of 20,000 QIDs as its index grows, and none it lacks", () => {
  const store = new GlossaryStore({ memoryLimit: 1 << 24 });
  try {
    // Sequential QIDs, QIDs that share their low 16 bits, and past 32 bits: each kind of clash.
    const qids = [
      ...Array.from({ length: 8000 }, (_, i) => 100_000 + i),
      ...Array.from({ length: 8000 }, (_, i) => i * 65536),
      ...Array.from({ length: 4000 }, (_, i) => 2 ** 32 + i * 7),
    ];
    for (const qid of qids) assert.equal(store.add(entry(qid)), true);
    for (const qid of qids) assert.equal(store.add(entry(qid, { title: "again" })), false);
    assert.equal(store.size, qids.length);
    assert.deepStrictEqual([...store.keys()], qids);
    for (const qid of qids) assert.equal(store.get(qid)?.title, `title ${qid}`);
    for (const qid of [1, 99_999, 108_000, 65535, 2 ** 32 + 1, 2 ** 32 - 1]) {
      assert.equal(store.has(qid), false);
      assert.equal(store.get(qid), undefined);
    }
  } finally {
    store.dispose();
  }
  assert.equal(store.size, 0);
  assert.equal(store.has(100_000), false);
});
