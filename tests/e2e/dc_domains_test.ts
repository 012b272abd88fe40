/**
 * Multi-domain FMCs and the per-message reconcile, through the CLI against the simulator with
 * `SAMPLE_DOMAINS` (Global \ East; Global \ West with Lab and Prod): `domain` puts SetDomain at
 * the head of every message and file; a domain the DC refuses is one clear message and exit 5
 * (before the run's work when the certificate may not write to it);
 * `-check` with `domain` sends one message holding only SetDomain; and a message the DC processed
 * fewer commands of than it carried is exit 6 naming it.
 */

import assert from "node:assert/strict";
import { type DcSim, SAMPLE_DOMAINS, startDcSim } from "../../scripts/sim/fmc/mod.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { type CliResult, runMain } from "../_cli.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("dc domains test CA");
const LAB = "Global \\ West \\ Lab";

interface Setup {
  /** Runs the connector in the temp directory against the DC. */
  run(args: string[]): Promise<CliResult>;
  dc: DcSim;
  dir: string;
  /** Writes q.yaml holding only this domain. */
  domain(value: string): Promise<void>;
  /** Writes the .pkcs12 of a certificate issued for this domain as CertFile.pkcs12. */
  certificate(domain: string): Promise<void>;
}

async function withDomains(
  body: (s: Setup) => Promise<void>,
  script: Parameters<typeof startDcSim>[0] = {},
): Promise<void> {
  const dc = await startDcSim({ domains: SAMPLE_DOMAINS, recordPayloads: true, ...script }, {
    ca: CA,
  });
  const dir = await Deno.makeTempDir({ prefix: "qc-dc-domains-" });
  try {
    await body({
      run: (args) => runMain([`-server=${dc.host}`, `-port=${dc.port}`, ...args], { cwd: dir }),
      dc,
      dir,
      domain: (value) =>
        Deno.writeTextFile(`${dir}/q.yaml`, `add_host: y\ndomain: ${value}\n`, { mode: 0o600 }),
      certificate: (domain) => Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ domain })),
    });
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

const all = (r: CliResult) => r.stdout + r.stderr;
const hostsIn = (dc: DcSim) =>
  Object.fromEntries(Object.entries(dc.dumpAll()).map(([d, m]) => [d, Object.keys(m.results)]));
const SAMPLE_HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"];

Deno.test("domain: a leaf-domain certificate writes to its leaf; SetDomain heads every message and the file", async () => {
  await withDomains(async ({ run, dc, dir, domain, certificate }) => {
    await certificate("Global \\ East");
    const plain = await run(["-r", SAMPLE]);
    assert.equal(plain.code, 0, all(plain));
    assert.deepEqual(Object.keys(dc.dump("Global \\ East")).length, 4);
    await domain("Global \\ East");
    const before = dc.processed.length;
    const r = await run(["-r", SAMPLE, "-pl", "q.yaml"]);
    assert.equal(r.code, 0, all(r));
    assert.match(
      r.stdout,
      /the Defense Center processed 31 of the 31 commands, 0 of them rejected/,
    );
    // The check before the run sends a message holding only SetDomain (as -check does); then
    // the commands, on a connection of their own.
    const [checked, ...sent] = dc.processed.slice(before);
    assert.equal(checked, "SetDomain,Global \\ East\n");
    assert.deepEqual(dc.dataByConnection.slice(-2), [1, sent.length]);
    assert.ok(sent.length > 1, "several messages");
    for (const p of sent) {
      assert.match(p, /^SetDomain,Global \\ East\nSetSource,QualysGuard Scan Report\n/);
    }
    const file = await run(["-r", SAMPLE, "-pl", "q.yaml", "-c", "out.csv"]);
    assert.equal(file.code, 0, all(file));
    assert.match(
      await Deno.readTextFile(`${dir}/out.csv`),
      /^SetDomain,Global \\ East\nSetSource,QualysGuard Scan Report\nAddHost,/,
    );
  }, { maxSize: 2048 });
});

Deno.test("domain: a Global certificate writes to the leaf domain set, and only there", async () => {
  await withDomains(async ({ run, dc, domain, certificate }) => {
    await certificate("Global");
    await domain(LAB);
    const r = await run(["-r", SAMPLE, "-pl", "q.yaml"]);
    assert.equal(r.code, 0, all(r));
    assert.match(r.stdout, /processed 31 of the 31 commands, 0 of them rejected/);
    assert.deepEqual(hostsIn(dc), {
      "Global \\ East": [],
      [LAB]: SAMPLE_HOSTS,
      "Global \\ West \\ Prod": [],
    });
  });
});

Deno.test("csv plugin: a command file's own SetDomain line is kept, and sent before SetSource", async () => {
  await withDomains(async ({ run, dc, dir, certificate }) => {
    await certificate("Global");
    await Deno.writeTextFile(
      `${dir}/commands.csv`,
      `SetSource,Other scanner\nSetDomain,${LAB}\nAddHost,10.9.0.1\n` +
        'AddScanResult,10.9.0.1,"Other",77,22,tcp,"ssh","weak","cve_ids:","bugtraq_ids:"\nScanFlush\n',
    );
    const r = await run(["csv", "-pl", "commands.csv"]);
    assert.equal(r.code, 0, all(r));
    assert.deepEqual(dc.processed, [
      `SetDomain,${LAB}\nSetSource,Other scanner\n`,
      `SetDomain,${LAB}\nSetSource,Other scanner\nAddHost,10.9.0.1\n` +
      'AddScanResult,10.9.0.1,"Other",77,22,tcp,"ssh","weak","cve_ids:","bugtraq_ids:"\nScanFlush\n',
    ]);
    assert.deepEqual(hostsIn(dc)[LAB], ["10.9.0.1"]);
  });
});

Deno.test("domain: a domain that is not a leaf, or none with a Global certificate: exit 5, one clear message, nothing imported", async () => {
  await withDomains(async ({ run, dc, domain, certificate }) => {
    await certificate("Global");
    await domain("Global \\ West");
    const r = await run(["-r", SAMPLE, "-pl", "q.yaml"]);
    assert.equal(r.code, 5, all(r));
    assert.match(
      r.stdout,
      /\[ERROR\] The Defense Center at 127\.0\.0\.1:\d+ refused DATA message 1: "\[SetSource\]: Global \\ West is not a leaf domain": "Global \\ West" is not a leaf domain, and only a leaf domain \(one without sub-domains\) holds a network map to import into \(the domain set is "Global \\ West"\)\. Set "domain" in the plugin YAML .* to a leaf domain the certificate may write to: its own domain or one below it, .*; nothing was imported\n/,
    );
    assert.equal(r.stdout.match(/\[ERROR\]/g)?.length, 1, "one message, not a list");
    assert.doesNotMatch(all(r), /Failure to Run Scan API/);
    // Only SetSource finds a domain that is not a leaf: the check before the run (a message
    // holding only SetDomain, as -check sends) passes, and the run's first message is refused.
    assert.deepEqual(dc.processed.slice(0, 1), ["SetDomain,Global \\ West\n"]);
    assert.equal(dc.processed.length, 2, "the check's message, the first message, and no more");
    const none = await run(["-r", SAMPLE]);
    assert.equal(none.code, 5, all(none));
    assert.match(
      none.stdout,
      /refused DATA message 1: "\[SetSource\]: Global is not a leaf domain": .*\(no domain is set, so the DC uses the client certificate's domain\)/,
    );
    assert.deepEqual(hostsIn(dc), {
      "Global \\ East": [],
      [LAB]: [],
      "Global \\ West \\ Prod": [],
    });
  });
});

Deno.test("domain: a domain outside the certificate's: exit 5 with the fix, nothing imported", async () => {
  await withDomains(async ({ run, dc, domain, certificate }) => {
    await certificate("Global \\ East");
    await domain(LAB);
    const r = await run(["-r", SAMPLE, "-pl", "q.yaml"]);
    assert.equal(r.code, 5, all(r));
    assert.match(
      r.stdout,
      /refused DATA message 1: "\[SetDomain\]: Domain Global \\ West \\ Lab is not in the certificate domain": the client certificate may not write to domain "Global \\ West \\ Lab", or the FMC has no such domain .*Set "domain" .*or create a Host Input Client in that domain and use its certificate; nothing was imported; found before the run's work: nothing was asked of Qualys, read or sent\n/,
    );
    assert.doesNotMatch(r.stdout, /Reading the Qualys report/, "refused before the report is read");
    assert.deepEqual(dc.dataByConnection, [1], "the check's message holding only SetDomain");
    assert.equal(r.stdout.match(/\[ERROR\]/g)?.length, 1);
    assert.deepEqual(hostsIn(dc)["Global \\ East"], []);
  });
});

Deno.test("-check with domain sends one message holding only SetDomain, which creates nothing, and says whether it may be used", async () => {
  await withDomains(async ({ run, dc, domain, certificate }) => {
    await certificate("Global");
    const bare = await run(["-check", "-r", SAMPLE]);
    assert.equal(bare.code, 0, all(bare));
    assert.match(bare.stdout, /^OK {3}TLS and host input version .*no data sent$/m);
    assert.equal(dc.payloads.length, 0);
    await domain(LAB);
    const ok = await run(["-check", "-r", SAMPLE, "-pl", "q.yaml"]);
    assert.equal(ok.code, 0, all(ok));
    assert.match(
      ok.stdout,
      /^OK {3}domain "Global \\ West \\ Lab" on 127\.0\.0\.1:\d+: the client certificate may write to it/m,
    );
    assert.deepEqual(dc.payloads, [`SetDomain,${LAB}\n`]);
    await certificate("Global \\ East");
    const refused = await run(["-check", "-r", SAMPLE, "-pl", "q.yaml"]);
    assert.equal(refused.code, 5, all(refused));
    assert.match(
      refused.stdout,
      /^FAIL domain "Global \\ West \\ Lab" on .*: The Defense Center at .* refused DATA message 1: "\[SetDomain\]: Domain Global \\ West \\ Lab is not in the certificate domain"/m,
    );
    assert.deepEqual(dc.fmc.appSources, [], "no source was created");
    assert.deepEqual(hostsIn(dc), {
      "Global \\ East": [],
      [LAB]: [],
      "Global \\ West \\ Prod": [],
    });
  });
});

Deno.test("a csv-plugin file whose CR line and non-ASCII line the DC drops silently: exit 6 naming the message and the count", async () => {
  await withDomains(async ({ run, dc, dir }) => {
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient());
    await Deno.writeTextFile(
      `${dir}/commands.csv`,
      "SetSource,Other scanner\nAddHost,10.9.0.1\nAddHost,10.9.0.2\rAddHost,10.9.0.3\n" +
        'AddScanResult,10.9.0.1,"Other",77,22,tcp,"Caf\u00e9 ssh","weak","cve_ids:","bugtraq_ids:"\n' +
        'AddScanResult,10.9.0.1,"Other",78,22,tcp,"ssh","weak","cve_ids:","bugtraq_ids:"\nScanFlush\n',
    );
    const r = await run(["csv", "-pl", "commands.csv"]);
    assert.equal(r.code, 6, all(r));
    assert.match(
      r.stdout,
      /\[ERROR\] Defense Center: DATA message 1 \(first command: AddHost,10\.9\.0\.1\): the Defense Center processed 3 of the 5 commands it was sent; 2 were dropped without a word .*; such lines in the message: line 3 \(a CR\): "AddHost,10\.9\.0\.2\\rAddHost,10\.9\.0\.3"; line 4 \(a character outside ASCII\): "AddScanResult,10\.9\.0\.1,\\"Other\\",77,22,tcp,\\"Café ssh\\"/,
    );
    assert.match(
      r.stdout,
      /The Defense Center processed 2 fewer commands than it was sent \(DATA message 1\): 3 of the 5 commands processed in 1 message \(a rejected command counts as processed\); see the errors above/,
    );
    assert.deepEqual(dc.dump()["10.9.0.1"]!["Other"]!.map((x) => x.vulnId), ["78"]);
  }, { domains: [] });
});
