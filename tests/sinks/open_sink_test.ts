import assert from "node:assert/strict";
import { csvPathFor, destinationName, openSink } from "../../lib/sinks/open_sink.ts";
import type { ClientIdentity } from "../../lib/dc/pkcs12.ts";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

Deno.test("csvPathFor names each -multiinfo template's file <id>_<name> beside the named one", () => {
  assert.equal(csvPathFor("Output.csv", "424242"), "424242_Output.csv");
  assert.equal(csvPathFor("/var/spool/q/Output.csv", "7"), "/var/spool/q/7_Output.csv");
  assert.equal(csvPathFor("-", "7"), "-");
});

Deno.test("destinationName says where a job's commands go", () => {
  const dc = { dc: { host: "10.10.10.10", port: 8307, identity: {} as ClientIdentity } };
  assert.equal(destinationName(dc, { variant: "7" }), "the Defense Center 10.10.10.10");
  assert.equal(destinationName({ csvfile: "out/O.csv" }), "out/O.csv");
  assert.equal(destinationName({ csvfile: "out/O.csv" }, { variant: "7" }), "out/7_O.csv");
  assert.equal(destinationName({ csvfile: "-" }, { variant: "7" }), "stdout");
});

Deno.test("openSink writes a job's variant to its own file, and nothing until close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-opensink-" });
  try {
    const sink = await openSink({ csvfile: `${dir}/O.csv` }, { variant: "7", log: quiet });
    await sink.write(new TextEncoder().encode("ScanFlush\n"));
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).filter((e) => !e.name.startsWith(".")),
      [],
    );
    await sink.close();
    assert.equal(await Deno.readTextFile(`${dir}/7_O.csv`), "ScanFlush\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
