import assert from "node:assert/strict";
import { DcError } from "../../lib/errors.ts";
import { loadPkcs12 } from "../../lib/dc/pkcs12.ts";
import { openDcSink } from "../../lib/sinks/dc_sink.ts";
import { startDcSim } from "../../scripts/sim/fmc/mod.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";

const CA = createTestCa("dc sink test CA");
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const enc = new TextEncoder();

async function spools(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
}

Deno.test("DcSink sends nothing before close, then sends everything and removes its spool", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-dcsink-" });
  const sim = await startDcSim({ recordPayloads: true }, { ca: CA });
  try {
    const identity = loadPkcs12(sim.issueClient(), { file: "c.pkcs12" });
    const sink = await openDcSink({ host: sim.host, port: sim.port, identity }, {
      log: quiet,
      tempDir: dir,
    });
    await sink.write(enc.encode("SetSource,x\nAddHost,10.0.0.1\n"));
    assert.equal(sim.connections, 0, "nothing is sent before close()");
    const spooled = await spools(dir);
    assert.equal(spooled.length, 1);
    assert.equal((await Deno.stat(`${dir}/${spooled[0]}`)).mode! & 0o777, 0o600);
    const receipt = await sink.seal();
    assert.deepEqual([receipt, sim.connections], [{
      where: `sent to the Defense Center ${sim.host}:${sim.port}`,
      delivered: false,
    }, 0]);
    await sink.close();
    assert.ok(sim.hosts.has("10.0.0.1"));
    assert.deepEqual(await spools(dir), []);
  } finally {
    await sim.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DcSink.abort removes the spool and never connects", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-dcsink-" });
  const sim = await startDcSim({}, { ca: CA });
  try {
    const identity = loadPkcs12(sim.issueClient(), { file: "c.pkcs12" });
    const sink = await openDcSink({ host: sim.host, port: sim.port, identity }, {
      log: quiet,
      tempDir: dir,
    });
    await sink.write(enc.encode("SetSource,x\nAddHost,10.0.0.1\n"));
    await sink.abort();
    assert.deepEqual(await spools(dir), []);
    assert.equal(sim.connections, 0);
  } finally {
    await sim.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DcSink.close removes the spool also when the Defense Center cannot be reached", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-dcsink-" });
  const sim = await startDcSim({}, { ca: CA });
  const identity = loadPkcs12(sim.issueClient(), { file: "c.pkcs12" });
  const port = sim.port;
  await sim.shutdown(); // nothing listens there now
  try {
    const sink = await openDcSink({ host: "127.0.0.1", port, identity }, {
      log: quiet,
      tempDir: dir,
    });
    await sink.write(enc.encode("SetSource,x\n"));
    await assert.rejects(sink.close(), DcError);
    assert.deepEqual(await spools(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
