import assert from "node:assert/strict";
import { ByteBuffer, CommandEncoder } from "../../lib/encode/encoder.ts";
import { writeBlocks } from "../../lib/pipeline/write_blocks.ts";
import { REPORT_MEMORY } from "../../lib/util/memory.ts";

const FLUSH_AT = REPORT_MEMORY.bufferBytes - (64 << 10);
import type {
  FindingSource,
  GlossaryEntry,
  HostFindings,
} from "../../lib/findings/finding_source.ts";

const MAX_LINE = 4000;

function makeHost(ip: string, count: number, qids: number): HostFindings {
  const host: HostFindings = {
    ip,
    count,
    qids: new Uint32Array(count),
    ports: new Uint16Array(count),
    protos: new Uint8Array(count),
  };
  for (let k = 0; k < count; k++) {
    host.qids[k] = 1 + (k % qids);
    host.ports[k] = 1 + Math.floor(k / qids);
    host.protos[k] = 1;
  }
  return host;
}

// A host of 20,000 findings (≈32 MB of lines) between two small ones.
const glossary = new Map<number, GlossaryEntry>();
for (let q = 1; q <= 50; q++) {
  glossary.set(q, {
    qid: q,
    title: `QID ${q}`,
    description: `<P>${"text & more ".repeat(130)}</P>`,
    cves: [`CVE-2020-${1000 + q}`],
    bugtraqs: [],
  });
}
const hosts = [
  makeHost("10.0.0.1", 3, 50),
  makeHost("10.0.0.2", 20_000, 50),
  makeHost("10.0.0.3", 2, 50),
];
const source: FindingSource = {
  glossary,
  async forEachHost(onHost) {
    for (const h of hosts) await onHost(h);
  },
  dispose() {},
};

Deno.test("writeBlocks hands a huge host over in parts of about 1 MiB: the same bytes, ScanFlush last", async () => {
  const reference = new CommandEncoder(glossary, { addHost: true });
  const all = new ByteBuffer();
  all.append(reference.header());
  for (const h of hosts) reference.encodeHost(h, all);
  const expected = new TextDecoder().decode(all.view());

  const writes: Uint8Array[] = [];
  let changedInFlight = 0;
  const written = await writeBlocks(source, {
    write(bytes) {
      const copy = bytes.slice();
      writes.push(copy);
      // Resolve on a later task, after the encoder has gone on filling its other buffer: the
      // bytes handed over must stay as they were until then.
      return new Promise((resolve) =>
        setTimeout(() => {
          if (bytes.some((b, i) => b !== copy[i])) changedInFlight++;
          resolve();
        }, 0)
      );
    },
  }, { addHost: true });

  assert.equal(changedInFlight, 0, "no bytes changed while their write was in flight");
  const text = writes.map((w) => new TextDecoder().decode(w)).join("");
  assert.equal(text, expected);
  assert.equal(written.bytes, all.length);
  assert.ok(writes.length > 25, `${writes.length} writes`);
  for (const w of writes.slice(0, -1)) {
    assert.ok(w.length >= FLUSH_AT && w.length <= FLUSH_AT + MAX_LINE, `a write of ${w.length}`);
    assert.equal(w.at(-1), 10, "every write ends a line");
  }
  const flushes = [...text.matchAll(/^ScanFlush$/gm)].map((m) => m.index);
  assert.equal(flushes.length, 3);
  // The huge host's ScanFlush comes after its last line and before the next host.
  assert.ok(flushes[1]! > text.lastIndexOf("AddScanResult,10.0.0.2,"));
  assert.ok(flushes[1]! < text.indexOf("AddHost,10.0.0.3"));
});

Deno.test("writeBlocks passes qidCacheBytes on to the encoder: the same bytes, QIDs built again", async () => {
  const run = async (qidCacheBytes?: number) => {
    let gets = 0;
    const counting: FindingSource = {
      ...source,
      glossary: {
        ...glossary,
        size: glossary.size,
        has: (q) => glossary.has(q),
        get: (q) => (gets++, glossary.get(q)),
        [Symbol.iterator]: () => glossary[Symbol.iterator](),
      },
    };
    const chunks: Uint8Array[] = [];
    await writeBlocks(counting, {
      write: (b) => Promise.resolve(void chunks.push(b.slice())),
    }, qidCacheBytes === undefined ? {} : { memory: { ...REPORT_MEMORY, qidCacheBytes } });
    return { text: chunks.map((c) => new TextDecoder().decode(c)).join(""), gets };
  };
  const kept = await run(), none = await run(0);
  assert.equal(none.text, kept.text);
  assert.equal(kept.gets, 50, "each QID built once");
  assert.equal(none.gets, 20_005, "each line built anew");
});

Deno.test("writeBlocks spools the texts a small QID cache drops to tempDir, builds each QID once, and leaves no file, also when the output fails", async () => {
  const tempDir = await Deno.makeTempDir({ prefix: "qc-texts-" });
  try {
    const run = async (write: (b: Uint8Array) => Promise<void>, qidCacheBytes: number) => {
      let gets = 0;
      const counting: FindingSource = {
        ...source,
        glossary: { ...glossary, get: (q) => (gets++, glossary.get(q)) } as typeof glossary,
      };
      const seen: string[] = [];
      await writeBlocks(counting, {
        write: (b) => {
          seen.push(...Deno.readDirSync(tempDir).map((e) => e.name));
          return write(b);
        },
      }, { memory: { ...REPORT_MEMORY, qidCacheBytes }, tempDir });
      return { gets, seen };
    };
    const chunks: Uint8Array[] = [];
    const big = await run((b) => Promise.resolve(void chunks.push(b.slice())), 1 << 20);
    const small: Uint8Array[] = [];
    const onDisk = await run((b) => Promise.resolve(void small.push(b.slice())), 4000);
    const text = (c: Uint8Array[]) => c.map((b) => new TextDecoder().decode(b)).join("");
    assert.equal(text(small), text(chunks));
    assert.equal(big.gets, 50);
    assert.equal(onDisk.gets, 50, "each QID built once, then read back from the text spool");
    assert.ok(onDisk.seen.some((n) => n.startsWith("qualys_connector-texts-")), "it went to disk");
    assert.deepEqual([...Deno.readDirSync(tempDir)], [], "and removed the file");
    await assert.rejects(
      run(() => Promise.reject(new Error("the sink broke")), 4000),
      /the sink broke/,
    );
    assert.deepEqual([...Deno.readDirSync(tempDir)], [], "removed after a failure too");
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

Deno.test("writeBlocks logs each finding at debug level, reading each QID's title once", async () => {
  let gets = 0;
  const small: FindingSource = {
    glossary: {
      size: glossary.size,
      has: (q) => glossary.has(q),
      get: (q) => (gets++, glossary.get(q)),
      [Symbol.iterator]: () => glossary[Symbol.iterator](),
    },
    async forEachHost(onHost) {
      await onHost(makeHost("10.0.0.1", 120, 50));
      await onHost(makeHost("10.0.0.2", 60, 60)); // QIDs 51 to 60 have no entry
    },
    dispose() {},
  };
  const lines: string[] = [];
  const log = {
    info() {},
    warn() {},
    debug: (m: string) => void lines.push(m),
    enabled: () => true,
  };
  await writeBlocks(small, { write: () => Promise.resolve() }, {
    log,
    memory: { ...REPORT_MEMORY, qidCacheBytes: 0 },
  });
  assert.equal(lines.length, 180);
  assert.equal(lines[0], "Importing QID 1 1/tcp on 10.0.0.1: QID 1");
  assert.equal(lines[119], "Importing QID 20 3/tcp on 10.0.0.1: QID 20");
  assert.equal(lines[120], "Importing QID 1 1/tcp on 10.0.0.2: QID 1");
  assert.equal(lines[174], "Importing QID 55 1/tcp on 10.0.0.2: ");
  // The log reads 60 titles once each; the encoder, keeping nothing, reads every line's QID.
  assert.equal(gets, 60 + 180);
});
