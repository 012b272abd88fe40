import assert from "node:assert/strict";
import { LocalIoError } from "../../lib/errors.ts";
import { FULL_DISK, runInShell } from "../_shell.ts";
import fc from "fast-check";
import { hostAddress, parseHostAddress } from "../../lib/config/ip_ranges.ts";
import { HostIndex } from "../../lib/findings/host_index.ts";
import { FindingSpool, type HostListing } from "../../lib/findings/finding_spool.ts";

function listing(ip: string, findings: [number, number, number][], extra = {}): HostListing {
  return {
    ip,
    count: findings.length,
    qids: new Uint32Array(findings.map((f) => f[0])),
    ports: new Uint16Array(findings.map((f) => f[1])),
    protos: new Uint8Array(findings.map((f) => f[2])),
    ...extra,
  };
}

interface Seen {
  ip: string;
  findings: [number, number, number][];
  os?: string | undefined;
  osCpe?: string | undefined;
}

async function replayAll(spool: FindingSpool): Promise<Seen[]> {
  const out: Seen[] = [];
  await spool.replay((h) => {
    const findings: [number, number, number][] = [];
    for (let k = 0; k < h.count; k++) findings.push([h.qids[k]!, h.ports[k]!, h.protos[k]!]);
    out.push({
      ip: h.ip,
      findings,
      ...(h.os ? { os: h.os } : {}),
      ...(h.osCpe ? { osCpe: h.osCpe } : {}),
    });
  });
  return out;
}

Deno.test("HostIndex: IPv4 in typed arrays (0.0.0.0 and 255.255.255.255 too), IPv6 by canonical text", () => {
  const index = new HostIndex();
  const addrs = ["0.0.0.0", "255.255.255.255", "10.0.0.1", "2001:db8::1"];
  addrs.forEach((a, k) => index.set(parseHostAddress(a)!, k * 4));
  addrs.forEach((a, k) => assert.equal(index.get(parseHostAddress(a)!), k * 4, a));
  assert.equal(index.get(parseHostAddress("2001:DB8:0:0:0:0:0:1")!), 12, "another spelling");
  // addresses as the host record gives them (hostAddress): IPv4-mapped is the IPv4 host
  assert.equal(index.get(hostAddress("::ffff:10.0.0.1")!), 8, "IPv4-mapped is the IPv4 host");
  assert.equal(index.get(hostAddress("::ffff:10.0.0.2")!), undefined);
  assert.equal(index.get(hostAddress("::10.0.0.1")!), undefined, "IPv4-compatible is not");
  assert.equal(index.size, 4);
  assert.throws(() => index.set(parseHostAddress("10.0.0.9")!, 6), RangeError);
});

Deno.test("HostIndex: 200,000 IPv4 hosts take 2 MiB of typed arrays and all are found", () => {
  const index = new HostIndex();
  const n = 200_000;
  // spread over the address space, as a multiplicative sequence (no two alike)
  const addr = (k: number) => {
    const v = Math.imul(k + 1, 2654435761) >>> 0;
    return { family: 4 as const, value: v, text: "" };
  };
  for (let k = 0; k < n; k++) index.set(addr(k), k * 16);
  assert.equal(index.size, n);
  assert.ok(index.v4Bytes <= 2 << 20, `${index.v4Bytes} bytes`);
  for (let k = 0; k < n; k += 997) assert.equal(index.get(addr(k)), k * 16);
  assert.equal(index.get({ family: 4, value: 0, text: "" }), undefined);
});

Deno.test("FindingSpool: hosts with findings first, then hosts without; a later listing merges at the first", async () => {
  const spool = new FindingSpool();
  const a = spool.addHost(listing("10.0.0.1", [[1, 80, 1], [2, 0, 0]], { networkId: 0 }));
  spool.addHost(listing("10.0.0.2", []));
  const c = spool.addHost(listing("10.0.0.3", []));
  spool.addHost(listing("10.0.0.4", [[9, 0, 0]], { os: "Linux 2.6" }));
  // a repeat of .1: one finding it has, one new
  assert.deepStrictEqual(
    spool.addListing(
      a,
      listing("10.0.0.1", [[2, 0, 0], [3, 443, 1]], { networkId: 5, os: "Windows" }),
    ),
    { added: 1, duplicates: 1, hadFindings: true, networkIds: [0] },
  );
  // .3 listed clean, then with a finding: it is no longer a host to clear
  assert.deepStrictEqual(spool.addListing(c, listing("10.0.0.3", [[7, 22, 1], [7, 22, 1]])), {
    added: 1,
    duplicates: 1,
    hadFindings: false,
    networkIds: [],
  });
  assert.equal(spool.withFindings, 3);
  assert.equal(spool.clean, 1);
  assert.deepStrictEqual(await replayAll(spool), [
    { ip: "10.0.0.1", findings: [[1, 80, 1], [2, 0, 0], [3, 443, 1]], os: "Windows" },
    { ip: "10.0.0.3", findings: [[7, 22, 1]] },
    { ip: "10.0.0.4", findings: [[9, 0, 0]], os: "Linux 2.6" },
    { ip: "10.0.0.2", findings: [] },
  ]);
  spool.dispose();
});

Deno.test("FindingSpool: OS text and CPE are kept (cut at 255 bytes on a character boundary)", async () => {
  const spool = new FindingSpool();
  const long = "é".repeat(200); // 400 bytes
  spool.addHost(listing("10.0.0.1", [[1, 0, 0]], { os: long, osCpe: "cpe:/o:x:y:1" }));
  const [h] = await replayAll(spool);
  assert.equal(h!.os, "é".repeat(127));
  assert.equal(h!.osCpe, "cpe:/o:x:y:1");
  spool.dispose();
});

// A model of the merge: one host per address, findings deduplicated, clean hosts last.
function model(listings: [string, [number, number, number][]][]): Seen[] {
  const hosts = new Map<string, Seen>();
  for (const [ip, findings] of listings) {
    const h = hosts.get(ip) ?? { ip, findings: [] };
    hosts.set(ip, h);
    for (const f of findings) {
      if (!h.findings.some((g) => g[0] === f[0] && g[1] === f[1] && g[2] === f[2])) {
        h.findings.push(f);
      }
    }
  }
  const all = [...hosts.values()];
  return [...all.filter((h) => h.findings.length > 0), ...all.filter((h) => !h.findings.length)];
}

Deno.test("FindingSpool: merges in memory and in a temp file give the model's hosts (fast-check)", async () => {
  const tempDir = await Deno.makeTempDir();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 12 }).map((k) => `10.0.0.${k}`),
            fc.array(
              fc.tuple(
                fc.integer({ min: 1, max: 6 }),
                fc.constantFrom(0, 22, 443),
                fc.constantFrom(0, 1, 2),
              ),
              { maxLength: 5 },
            ),
          ),
          { maxLength: 40 },
        ),
        fc.constantFrom(64, 256, 4096, 1 << 20),
        async (listings, memoryLimit) => {
          // within one listing the parser has removed duplicates already
          const clean = listings.map(([ip, fs]) =>
            [ip, fs.filter((f, i) => fs.findIndex((g) => `${g}` === `${f}`) === i)] as [
              string,
              [number, number, number][],
            ]
          );
          const spool = new FindingSpool({ memoryLimit, tempDir });
          const index = new Map<string, number>();
          for (const [ip, fs] of clean) {
            const first = index.get(ip);
            if (first === undefined) index.set(ip, spool.addHost(listing(ip, fs)));
            else spool.addListing(first, listing(ip, fs));
          }
          try {
            assert.deepStrictEqual(await replayAll(spool), model(clean));
            const want = model(clean);
            assert.equal(spool.withFindings, want.filter((h) => h.findings.length > 0).length);
            assert.equal(spool.clean, want.filter((h) => h.findings.length === 0).length);
          } finally {
            spool.dispose();
          }
          assert.deepStrictEqual([...Deno.readDirSync(tempDir)], []);
        },
      ),
      { numRuns: 200 },
    );
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

Deno.test("FindingSpool names the temp directory and the fix when it cannot make its temp file there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-fspool-" });
  try {
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    const spool = new FindingSpool({ memoryLimit: 64, tempDir: `${dir}/not-a-dir` });
    assert.throws(
      () => {
        for (let i = 0; i < 100; i++) spool.addHost(listing(`10.0.0.${i}`, [[6, 0, 0]]));
      },
      (e: LocalIoError) => {
        assert.ok(e instanceof LocalIoError);
        assert.match(e.message, /not-a-dir: cannot create the finding spool there: .*set TMPDIR/);
        assert.equal(e.exitCode, 7);
        return true;
      },
    );
    spool.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FindingSpool says which file and what to do when the file system is full", async () => {
  // A child process on a full disk (see tests/_shell.ts).
  const dir = await Deno.makeTempDir({ prefix: "qc-fspool-" });
  try {
    const module = new URL("../../lib/findings/finding_spool.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/child.ts`,
      `import { FindingSpool } from "${module}";
      const spool = new FindingSpool({ memoryLimit: 64, tempDir: "${dir}" });
      const q = new Uint32Array([6]), p = new Uint16Array([0]), t = new Uint8Array([0]);
      try {
        for (let i = 0; i < 1000; i++) spool.addHost({ ip: "10.0.0.1", count: 1, qids: q, ports: p, protos: t });
      } catch (e) {
        console.log(JSON.stringify({ name: e.name, message: e.message, code: e.exitCode }));
      } finally {
        spool.dispose();
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
      /qualys_connector-spool-\w+: cannot write the finding spool: file too large: set TMPDIR/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["child.ts"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
