import assert from "node:assert/strict";
import { splitCsvLine } from "../../lib/host_input/grammar.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { type DcSim, startDcSim } from "../../scripts/sim/fmc/mod.ts";
import { type QualysSim, startQualysSim } from "../../scripts/sim/qualys/mod.ts";

import { runMain as run } from "../_cli.ts";
const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("dc e2e CA");

function runMain(
  args: string[],
  cwd: string,
  options: { env?: Record<string, string>; stdin?: string } = {},
) {
  return run(args, { cwd, ...options });
}

function mapOf(csv: string) {
  const out: Record<string, Record<string, string[]>> = {};
  for (const line of csv.split("\n")) {
    if (!line.startsWith("AddScanResult,")) continue;
    const f = splitCsvLine(line)!;
    ((out[f[1]!] ??= {})[f[2]!] ??= []).push(
      `${f[3]}/${f[4]}/${f[5]}|${f[6]}|${f[7]}|${f[8]}|${f[9]}`,
    );
  }
  for (const byScanner of Object.values(out)) for (const l of Object.values(byScanner)) l.sort();
  return out;
}

function simMap(sim: DcSim) {
  const out: Record<string, Record<string, string[]>> = {};
  for (const [ip, byScanner] of Object.entries(sim.dump())) {
    for (const [scanner, results] of Object.entries(byScanner)) {
      (out[ip] ??= {})[scanner] = results.map((r) =>
        `${r.vulnId}/${r.port}/${r.proto}|${r.name}|${r.desc}|${
          ["cve_ids:", ...r.cves].join(" ")
        }|${["bugtraq_ids:", ...r.bugtraqs].join(" ")}`
      ).sort();
    }
  }
  return out;
}

async function withBoth(
  body: (dir: string, q: QualysSim, dc: DcSim) => Promise<void>,
  dcScript: Parameters<typeof startDcSim>[0] = {},
): Promise<void> {
  const q = await startQualysSim({ reports: { "424242": SAMPLE } }, { ca: CA });
  const dc = await startDcSim({ maxSize: 4096, ...dcScript }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-dc-e2e-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/ca.pem`, q.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: sim_pass\ntemplate_id: 424242\nurl: ${q.url}\nca_file: ${dir}/ca.pem\n` +
        `poll_interval: 0.01\nadd_host: y\n`,
      { mode: 0o600 },
    );
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "P12!secret" }));
    await body(dir, q, dc);
  } finally {
    await q.shutdown();
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("qualys_connector -server=... -pkcs12=CertFile.pkcs12 -plugininfo=... imports what -csvfile would write", async () => {
  await withBoth(async (dir, q, dc) => {
    const csv = await runMain(
      ["-csvfile=Output.csv", "-plugininfo=InputPlugins/QualysGuard.yaml"],
      dir,
    );
    assert.equal(csv.code, 0, csv.stdout);
    const r = await runMain(
      [
        `-server=${dc.host}`,
        `-port=${dc.port}`,
        "-pkcs12=CertFile.pkcs12",
        "-plugininfo=InputPlugins/QualysGuard.yaml",
        "-pa",
        "P12!secret",
      ],
      dir,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /QualysGuard Report Processing Complete[\s\S]*Connected to the Defense Center/,
    );
    // The real module's count (SRV l.456): every line past the source check, ScanFlush too, but
    // not SetSource: 4 AddHost + 23 AddScanResult + 4 ScanFlush. Each message repeats SetSource,
    // and the line says so, so that its figures add up: 31 commands + 1 header line per message.
    const sent =
      /Sent (\d+) lines in (\d+) messages? to [^:]+:\d+: 31 commands and (\d+) header lines? \(SetSource, SetDomain: not commands to the Defense Center\); the Defense Center processed 31 of the 31 commands, 0 of them rejected; 0 reconnects; \d+\.\d\d s\n/
        .exec(r.stdout);
    assert.ok(sent, r.stdout);
    assert.equal(Number(sent[1]), 31 + Number(sent[2]));
    assert.equal(sent[3], sent[2]);
    assert.deepStrictEqual(simMap(dc), mapOf(await Deno.readTextFile(`${dir}/Output.csv`)));
    assert.equal(dc.hosts.size, 4);
    assert.deepStrictEqual(q.deleted, q.launched);
    assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "CertFile.pkcs12",
      "InputPlugins",
      "Output.csv",
      "ca.pem",
    ], "no spool left behind");
  });
});

Deno.test("the default .pkcs12 is the first by name, with a warning naming the others; the password comes from env too", async () => {
  await withBoth(async (dir, _q, dc) => {
    await Deno.copyFile(`${dir}/CertFile.pkcs12`, `${dir}/ZZ.pkcs12`);
    const r = await runMain([`-se=${dc.host}`, `-po=${dc.port}`, "-r", SAMPLE], dir, {
      env: { QC_PKCS12_PASSWORD: "P12!secret" },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Several \.pkcs12 files here: using CertFile\.pkcs12, not ZZ\.pkcs12/);
  });
});

Deno.test("the csv plugin checks every line and sends the file (or stdin), or writes it with -csvfile", async () => {
  await withBoth(async (dir, _q, dc) => {
    const commands = "SetSource,Other scanner\n# a comment\nAddHost,10.9.9.9\n" +
      'AddScanResult,10.9.9.9,"Other",77,22,tcp,"ssh","weak","cve_ids: CVE-2020-1234","bugtraq_ids:"\nScanFlush\n';
    await Deno.writeTextFile(`${dir}/commands.csv`, commands);
    const base = [`-server=${dc.host}`, `-port=${dc.port}`, "-pa", "P12!secret", "csv"];
    const r = await runMain([...base, "-plugininfo=commands.csv"], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepStrictEqual(Object.keys(simMap(dc)["10.9.9.9"]!), ["Other"]);
    const fromStdin = await runMain([...base, "-pl", "-"], dir, {
      stdin: commands.replace("10.9.9.9", "10.8.8.8").replaceAll("10.9.9.9", "10.8.8.8"),
    });
    assert.equal(fromStdin.code, 0, fromStdin.stdout);
    assert.ok(dc.hosts.has("10.8.8.8"));
    const written = await runMain(["csv", "-pl", "commands.csv", "-c", "checked.csv"], dir);
    assert.equal(written.code, 0);
    assert.equal(
      await Deno.readTextFile(`${dir}/checked.csv`),
      commands.replace("# a comment\n", ""),
    );
    const before = dc.messages;
    await Deno.writeTextFile(
      `${dir}/bad.csv`,
      "SetSource,x\naddhost,10.0.0.1\nAddHost,1,2,3\nScanFlush,x\n",
    );
    const bad = await runMain([...base, "-pl", "bad.csv"], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /bad\.csv:2: unknown command "addhost": did you mean "AddHost"/);
    assert.match(bad.stdout, /bad\.csv:3: AddHost takes at most 2 field\(s\) but the line has 3/);
    assert.match(bad.stdout, /bad\.csv:4: ScanFlush takes at most 0/);
    assert.match(bad.stdout, /nothing was sent/);
    assert.equal(dc.messages, before, "nothing was sent");
  });
});

Deno.test("the DC's rejections are logged and give exit 6; a wrong .pkcs12 password exit 5, a missing file exit 2", async () => {
  await withBoth(async (dir, _q, dc) => {
    await Deno.writeTextFile(
      `${dir}/c.csv`,
      'SetSource,x\nAddScanResult,10.0.0.1,"QG",1,80,icmp,"t","d","cve_ids:","bugtraq_ids:"\nScanFlush\n',
    );
    const rejected = await runMain([
      `-server=${dc.host}`,
      `-port=${dc.port}`,
      "-pa",
      "P12!secret",
      "csv",
      "-pl",
      "c.csv",
    ], dir);
    assert.equal(rejected.code, 6, rejected.stdout);
    assert.match(rejected.stdout, /\[ERROR\] Defense Center: Wrong protocol icmp entered/);
    assert.match(rejected.stdout, /rejected 1 command/);
    const wrong = await runMain([
      `-server=${dc.host}`,
      `-port=${dc.port}`,
      "-pa",
      "nope",
      "-r",
      SAMPLE,
    ], dir);
    assert.equal(wrong.code, 5);
    assert.match(wrong.stdout, /Wrong password for CertFile\.pkcs12: give it with -password/);
    const missing = await runMain(
      [`-server=${dc.host}`, "-pkcs12", "none.pkcs12", "-r", SAMPLE],
      dir,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stdout, /none\.pkcs12: Cannot read the client certificate/);
  });
});

Deno.test("-check tests the certificate, TCP, TLS and the version exchange without sending data", async () => {
  await withBoth(async (dir, q, dc) => {
    const r = await runMain([
      "-check",
      `-server=${dc.host}`,
      `-port=${dc.port}`,
      "-pa",
      "P12!secret",
    ], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^OK {3}certificate CertFile\.pkcs12: qualys-connector-host, valid .* 1 CA certificate/m,
    );
    assert.match(r.stdout, /^OK {3}TCP to 127\.0\.0\.1:\d+: connected$/m);
    assert.match(
      r.stdout,
      /^OK {3}TLS and host input version with .*MAX_SIZE 4096; no data sent$/m,
    );
    assert.match(r.stdout, /^OK {3}Qualys login of sim_user/m);
    assert.equal(dc.messages, 0);
    assert.deepStrictEqual(q.launched, []);
  });
  await withBoth(async (dir, _q, dc) => {
    const r = await runMain([
      "-check",
      `-server=${dc.host}`,
      `-port=${dc.port}`,
      "-pa",
      "P12!secret",
    ], dir);
    assert.equal(r.code, 5);
    assert.match(
      r.stdout,
      /^FAIL TLS and host input version .*rejected host input protocol version 1/m,
    );
  }, { rejectVersion: true });
});

Deno.test("the .pkcs12 password never appears in any output at -level 3, and -insecure warns", async () => {
  await withBoth(async (dir, _q, dc) => {
    const r = await runMain(
      [
        `-server=${dc.host}`,
        `-port=${dc.port}`,
        "-password=P12!secret",
        "-level",
        "3",
        "-stderr",
        "-logfile",
        "qc.log",
        "-insecure",
      ],
      dir,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /-insecure: the Defense Center's certificate is NOT verified/);
    const all = r.stdout + r.stderr + await Deno.readTextFile(`${dir}/qc.log`);
    assert.match(all, /Importing QID/);
    assert.ok(!all.includes("P12!secret"));
    assert.ok(!all.includes("sim_pass"));
  });
});
