/**
 * The record of what each destination holds (issue 20), tried as an adversary would, through the
 * real CLI against the simulators: a Defense Center that answered a send with an ERROR (exit 6:
 * nothing says what it processed) must not leave its hosts recorded as held.
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { startDcSim, startFaultyDc } from "../../scripts/sim/fmc/mod.ts";
import { type CliResult, runMain } from "../_cli.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("record hostile test CA");
/** A run that has not ended after this long hangs: killed, so the test fails. A guard. */
const HANG_GUARD_MS = 300_000;

const all = (r: CliResult) => r.stdout + r.stderr;

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(path));
}

Deno.test("exit 6 from an ERROR answer (nothing says what the DC processed): the next run sends those hosts again", async () => {
  // The first DATA message is answered with an ERROR, the later ones correctly.
  const dc = await startFaultyDc({ data: { type: 4, text: "Internal failure" }, dataFaults: 1 }, {
    ca: CA,
  });
  const dir = await Deno.makeTempDir({ prefix: "qc-record-hostile-6-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/InputPlugins/QualysGuard.yaml`, "refresh_days: 3650\n", {
      mode: 0o600,
    });
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const run = (args: string[]) =>
      runMain(
        [`-server=${dc.host}`, `-port=${dc.port}`, "-pa", "pw", "-r", SAMPLE, ...args],
        { cwd: dir, signal: AbortSignal.timeout(HANG_GUARD_MS) },
      );
    const first = await run(["-json", "one.json"]);
    assert.equal(first.code, 6, all(first));
    assert.equal(dc.dataMessages, 1, "the whole report went in one DATA message");
    assert.equal((await readJson(`${dir}/one.json`)).hosts_sent, 4);
    // The DC answers correctly now: the four hosts it may never have taken go again.
    const second = await run(["-json", "two.json"]);
    assert.equal(second.code, 0, all(second));
    const two = await readJson(`${dir}/two.json`);
    assert.equal(two.hosts_sent, 4, all(second));
    assert.equal(two.hosts_unchanged, 0);
    // and once it took them, they are held: nothing goes the night after
    const third = await run(["-json", "three.json"]);
    assert.equal(third.code, 0, all(third));
    assert.deepEqual(
      [
        (await readJson(`${dir}/three.json`)).hosts_sent,
        (await readJson(`${dir}/three.json`)).hosts_unchanged,
      ],
      [0, 4],
    );
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-dry-run to a CSV whose directory is missing, or is a file: the exit status a real run ends with before sending, and nothing written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-record-hostile-dry-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/InputPlugins/QualysGuard.yaml`, "refresh_days: 7\n", {
      mode: 0o600,
    });
    await Deno.writeTextFile(`${dir}/afile`, "");
    for (const csv of ["nodir/out.csv", "afile/out.csv"]) {
      const real = await runMain(["-r", SAMPLE, "-c", csv], { cwd: dir });
      assert.notEqual(real.code, 0, all(real));
      const dry = await runMain(["-r", SAMPLE, "-c", csv, "-dry-run"], { cwd: dir });
      assert.equal(dry.code, real.code, `${csv}: ${all(dry)}`);
    }
    // a directory that exists: the dry run goes through, and leaves it empty
    await Deno.mkdir(`${dir}/out`);
    const ok = await runMain(["-r", SAMPLE, "-c", "out/out.csv", "-dry-run"], { cwd: dir });
    assert.equal(ok.code, 0, all(ok));
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-dry-run with a state_dir a real run cannot make (a file stands there): the real run's exit 7, nothing written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-record-hostile-state-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/afile`, "");
    for (const stateDir of ["../afile", "../afile/state"]) {
      await Deno.writeTextFile(
        `${dir}/InputPlugins/QualysGuard.yaml`,
        `refresh_days: 7\nstate_dir: ${stateDir}\n`,
        { mode: 0o600 },
      );
      const real = await runMain(["-r", SAMPLE, "-c", "out.csv"], { cwd: dir });
      assert.equal(real.code, 7, all(real));
      const dry = await runMain(["-r", SAMPLE, "-c", "out.csv", "-dry-run"], { cwd: dir });
      assert.equal(dry.code, real.code, `${stateDir}: ${all(dry)}`);
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "InputPlugins",
      "afile",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("A connection dropped inside a changed host's lines (ScanUpdate, a merge, instead of ScanFlush): the next run sends that host again, so a fixed finding goes", async () => {
  const drops = new Set<number>();
  const dc = await startDcSim({ maxSize: 1024, dropOnMessages: drops }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-record-hostile-drop-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/InputPlugins/QualysGuard.yaml`, "refresh_days: 3650\n", {
      mode: 0o600,
    });
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const night = async (qids: number[]) => {
      await Deno.writeTextFile(`${dir}/night.xml`, oneHost("10.7.0.1", qids));
      const r = await runMain(
        [`-server=${dc.host}`, `-port=${dc.port}`, "-pa", "pw", "-r", "night.xml"],
        { cwd: dir, signal: AbortSignal.timeout(HANG_GUARD_MS) },
      );
      await dc.idle();
      assert.equal(r.code, 0, all(r));
    };
    const held = () =>
      (dc.dump()["10.7.0.1"]?.QualysGuard ?? []).map((r) => Number(r.vulnId)).sort((a, b) => a - b);
    const all30 = Array.from({ length: 30 }, (_, i) => i + 1);
    await night(all30);
    assert.deepEqual(held(), all30);
    // QID 1 is fixed; the connection drops on the second message, inside the host's lines
    const before = dc.messages;
    drops.add(before + 2);
    await night(all30.slice(1));
    assert.ok(dc.messages > before + 2, "the host's lines spanned several messages");
    assert.deepEqual(held(), all30, "merged: the fixed finding stayed this time");
    // the next run makes the host whole again
    await night(all30.slice(1));
    assert.deepEqual(held(), all30.slice(1));
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** An ASSET_DATA_REPORT of one host with these QIDs (titles long enough to fill messages). */
function oneHost(ip: string, qids: number[]): string {
  const title = (q: number) => `Finding ${q} ${"x".repeat(60)}`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ASSET_DATA_REPORT><HOST_LIST><HOST><IP>${ip}` +
    `</IP><VULN_INFO_LIST>${
      qids.map((q) => `<VULN_INFO><QID id="qid_${q}">${q}</QID></VULN_INFO>`).join("")
    }</VULN_INFO_LIST></HOST></HOST_LIST><GLOSSARY><VULN_DETAILS_LIST>${
      Array.from({ length: 30 }, (_, i) => i + 1).map((q) =>
        `<VULN_DETAILS id="qid_${q}"><QID id="qid_${q}">${q}</QID><TITLE>${title(q)}</TITLE>` +
        "</VULN_DETAILS>"
      ).join("")
    }</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>\n`;
}
