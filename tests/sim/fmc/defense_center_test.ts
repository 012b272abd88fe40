import assert from "node:assert/strict";
import tls from "node:tls";
import forge from "node-forge";
import { type DcSim, SAMPLE_DOMAINS, startDcSim } from "../../../scripts/sim/fmc/mod.ts";
import { createTestCa } from "../../../scripts/sim/net/mod.ts";

const CA = createTestCa("dc sim test CA");

/** A bare host input client: TLS with the `.pkcs12`, VERSION, then DATA and its answer. */
async function connect(sim: DcSim, p12: Uint8Array) {
  const bag = forge.pkcs12.pkcs12FromAsn1(
    forge.asn1.fromDer(forge.util.binary.raw.encode(p12)),
    "",
  );
  const certBag = forge.pki.oids.certBag!, keyBag = forge.pki.oids.pkcs8ShroudedKeyBag!;
  const cert = bag.getBags({ bagType: certBag })[certBag]![0]!.cert!;
  const key = bag.getBags({ bagType: keyBag })[keyBag]![0]!.key!;
  const socket = tls.connect({
    host: sim.host,
    port: sim.port,
    ca: [sim.caPem],
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(key),
    checkServerIdentity: () => undefined, // the DC's certificate names the DC, not 127.0.0.1
  });
  let buf = new Uint8Array(0);
  let ended = false;
  let wake: (() => void) | undefined;
  socket.on("data", (d: Uint8Array) => {
    const joined = new Uint8Array(buf.length + d.length);
    joined.set(buf);
    joined.set(d, buf.length);
    buf = joined;
    wake?.();
  });
  socket.on("close", () => {
    ended = true;
    wake?.();
  });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  const write = (type: number, value: Uint8Array) => {
    const head = new Uint8Array(8);
    new DataView(head.buffer).setUint32(0, type, false);
    new DataView(head.buffer).setUint32(4, value.length, false);
    socket.write(head);
    socket.write(value);
  };
  // One message, or undefined when the connection closes first.
  const read = async (): Promise<{ type: number; value: Uint8Array } | undefined> => {
    for (;;) {
      if (buf.length >= 8) {
        const v = new DataView(buf.buffer, buf.byteOffset);
        const len = v.getUint32(4, false);
        if (buf.length >= 8 + len) {
          const msg = { type: v.getUint32(0, false), value: buf.slice(8, 8 + len) };
          buf = buf.slice(8 + len);
          return msg;
        }
      }
      if (ended) return undefined;
      await new Promise<void>((r) => (wake = r));
    }
  };
  write(2, Uint8Array.of(0, 0, 0, 1));
  const maxSize = await read();
  assert.equal(maxSize?.type, 1);
  return {
    /** Sends one DATA message; the answer text, or undefined when the DC closed instead. */
    async send(text: string): Promise<string | undefined> {
      write(3, new TextEncoder().encode(text));
      const m = await read();
      return m && new TextDecoder().decode(m.value);
    },
    /** Closes the connection and waits until the DC has run its clean-up. */
    async close(): Promise<void> {
      socket.end();
      await sim.idle();
    },
  };
}

async function withSim(
  script: Parameters<typeof startDcSim>[0],
  body: (sim: DcSim) => Promise<void>,
): Promise<void> {
  const sim = await startDcSim(script, { ca: CA });
  try {
    await body(sim);
  } finally {
    await sim.shutdown();
  }
}

const result = (ip: string, id: string) =>
  `AddScanResult,${ip},"QualysGuard",${id},443,tcp,"t","d","cve_ids: CVE-2014-0160","bugtraq_ids:"`;

Deno.test("startDcSim: a certificate is for the domain it was issued for; each leaf has its network map", async () => {
  await withSim({ domains: SAMPLE_DOMAINS }, async (sim) => {
    assert.equal(sim.defaultDomain.path, "Global \\ East");
    const lab = await connect(sim, sim.issueClient({ domain: "Global \\ West \\ Lab" }));
    assert.equal(
      await lab.send(`SetSource,S\nAddHost,10.0.0.1\n${result("10.0.0.1", "1")}\nScanFlush\n`),
      "Done processing 3 commands.\n",
    );
    await lab.close();
    const global = await connect(sim, sim.issueClient());
    assert.equal(
      await global.send("SetSource,S\nAddHost,10.0.0.2\n"),
      "[SetSource]: Global is not a leaf domain\n" +
        " [/usr/local/sf/lib/perl/5.10.1/SF/SFDataCorrelator/HostInput.pm,372]\n",
    );
    assert.equal(
      await global.send("SetDomain,Global \\ East\nSetSource,S\nAddHost,10.0.0.2\n"),
      "Done processing 1 commands.\n",
    );
    await global.close();
    const all = sim.dumpAll();
    assert.deepEqual(Object.keys(all), [
      "Global \\ East",
      "Global \\ West \\ Lab",
      "Global \\ West \\ Prod",
    ]);
    assert.deepEqual(all["Global \\ West \\ Lab"]!.hosts, ["10.0.0.1"]);
    assert.deepEqual(all["Global \\ West \\ Lab"]!.results["10.0.0.1"]!["QualysGuard"]![0]!.cves, [
      "CVE-2014-0160",
    ]);
    assert.deepEqual(sim.dump("West \\ Lab"), all["Global \\ West \\ Lab"]!.results);
    assert.deepEqual([...sim.hosts], ["10.0.0.2"], "sim.hosts is the default domain's (East)");
    assert.throws(() => sim.issueClient({ domain: "Global \\ North" }), /No domain/);
  });
});

Deno.test("startDcSim: SetSource lasts across messages; the disconnect runs the queue as ScanUpdate", async () => {
  await withSim({}, async (sim) => {
    const c = await connect(sim, sim.issueClient());
    assert.equal(await c.send("SetSource,S\n"), "Done processing 0 commands.\n");
    assert.equal(
      await c.send(`AddHost,10.0.0.1\n${result("10.0.0.1", "1")}\n`),
      "Done processing 2 commands.\n",
    );
    assert.deepEqual(sim.dump(), {}, "queued until ScanFlush, ScanUpdate or the end");
    await c.close();
    assert.deepEqual(Object.keys(sim.dump()), ["10.0.0.1"]);
    assert.deepEqual(sim.closings, [""]);
    assert.equal(sim.messages, 2);
  });
});

Deno.test("startDcSim: when the module dies (a quote in a name) the connection closes without an answer", async () => {
  await withSim({ recordPayloads: true }, async (sim) => {
    const c = await connect(sim, sim.issueClient());
    assert.equal(
      await c.send(`SetSource,S\n${result("10.0.0.1", "1")}\n`),
      "Done processing 1 commands.\n",
    );
    assert.equal(await c.send("SetSource,Bob's scanner\n"), undefined);
    await c.close();
    assert.equal(sim.moduleDeaths.length, 1);
    assert.match(sim.moduleDeaths[0]!, /Bob's scanner/);
    assert.deepEqual(sim.dump(), {}, "what was queued died with the module");
    assert.equal(sim.processed.length, 1);
    assert.equal(sim.payloads.length, 2);
    const again = await connect(sim, sim.issueClient());
    assert.equal(
      await again.send("SetSource,Bob scanner\nAddHost,10.0.0.2\n"),
      "Done processing 1 commands.\n",
    );
    await again.close();
  });
});

Deno.test("startDcSim: dumpOs shows SetOS data; a missing third-party map stops the buffer", async () => {
  await withSim({ maps: ["Qualys map"] }, async (sim) => {
    const c = await connect(sim, sim.issueClient({ password: "" }));
    assert.equal(
      await c.send('SetSource,S\nSetMap,Qualys map\nSetOS,10.0.0.1,Microsoft,Windows,"10 Pro"\n'),
      "Done processing 2 commands.\n",
    );
    assert.match(
      (await c.send("SetMap,Other\nAddHost,10.0.0.1\n"))!,
      /^Failed to find map 'Other' \[/,
    );
    await c.close();
    assert.deepEqual(sim.dumpOs(), {
      "10.0.0.1": { vendor: "Microsoft", product: "Windows", version: "10 Pro" },
    });
    assert.equal(sim.hosts.size, 0);
  });
});
