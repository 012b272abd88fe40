/**
 * A run checks its Defense Center before its long work (issue 21): TLS, the version exchange and
 * the `domain` as `-check` does it, on a connection of its own, before the first Qualys call (or
 * the reading of a saved report or command file). A DC that cannot be used ends the run with
 * exit 5 and nothing asked of Qualys (the Qualys simulator's request log stays empty), for a
 * template's report, the detection source and `-multiinfo` (checked once per run); a DC that is
 * fine sees one extra connection that sends no DATA (with a `domain`: one message holding only
 * SetDomain), then the commands on a new one.
 *
 * Each run has `-timeout 2`, and a guard that kills a run still going after a minute, so that a
 * hang fails the test: a bound, not a speed assertion (the issue asks for "under 10 seconds").
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import {
  type DcSim,
  type DcSimScript,
  startDcSim,
  startFaultyDc,
} from "../../scripts/sim/fmc/mod.ts";
import { type QualysSim, startQualysSim, VmdrSubscription } from "../../scripts/sim/qualys/mod.ts";
import { type CliResult, runMain } from "../_cli.ts";
import { withWorkDir } from "../_workdir.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("dc precheck test CA");
/** A run still going after this long hangs: it is killed and the test fails. A guard. */
const HANG_GUARD_MS = 60_000;
/** The three ways a run asks Qualys: a template's report, the detection source, -multiinfo. */
const SOURCES = {
  template: ["-plugininfo=report.yaml"],
  detections: ["-plugininfo=detections.yaml"],
  multiinfo: ["-plugininfo=report.yaml", "-multiinfo", "424242,424243"],
} as const;
const FOUND_BEFORE = /found before the run's work: nothing was asked of Qualys, read or sent\n/;

interface Setup {
  dir: string;
  q: QualysSim;
  /** Runs the connector in `dir` against the DC at `port`. */
  run(port: number, args: readonly string[]): Promise<CliResult>;
}

/** The Qualys simulator (two templates and a VMDR subscription), and the YAML of each source. */
async function withQualys(
  issuer: { issueClient(o: { password: string }): Uint8Array },
  body: (s: Setup) => Promise<void>,
  yamlExtra = "",
): Promise<void> {
  const sub = new VmdrSubscription({ seed: 5, hosts: 6, detectionsPerHost: 3, qids: 12 });
  const q = await startQualysSim({
    reports: { "424242": SAMPLE, "424243": SAMPLE },
    vmdr: { subscription: sub },
  }, { ca: CA });
  try {
    await withWorkDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/ca.pem`, q.caPem);
      const account = `user_id: sim_user\npassword: 'sim_pass'\nurl: ${q.url}\n` +
        `ca_file: ${dir}/ca.pem\n${yamlExtra}`;
      const yaml = (name: string, text: string) =>
        Deno.writeTextFile(`${dir}/${name}`, account + text, { mode: 0o600 });
      await yaml("report.yaml", "template_id: 424242\npoll_interval: 0.01\nadd_host: y\n");
      await yaml("detections.yaml", "source: detections\n");
      await Deno.writeFile(`${dir}/CertFile.pkcs12`, issuer.issueClient({ password: "pw" }));
      const run = (port: number, args: readonly string[]) =>
        runMain(["-server=127.0.0.1", `-port=${port}`, "-pa", "pw", "-timeout", "2", ...args], {
          cwd: dir,
          signal: AbortSignal.timeout(HANG_GUARD_MS),
        });
      await body({ dir, q, run });
    }, "qc-dc-precheck-");
  } finally {
    await q.shutdown();
  }
}

async function withDc(
  script: DcSimScript,
  body: (s: Setup & { dc: DcSim }) => Promise<void>,
  yamlExtra = "",
): Promise<void> {
  const dc = await startDcSim({ maxSize: 4096, recordPayloads: true, ...script }, { ca: CA });
  try {
    await withQualys(dc, (s) => body({ ...s, dc }), yamlExtra);
  } finally {
    await dc.shutdown();
  }
}

/** A port nothing listens on (a wrong -port). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const all = (r: CliResult) => r.stdout + r.stderr;

/** Exit 5 with `why`, said to be found before the work, and not a request to Qualys. */
function assertStoppedBefore(r: CliResult, q: QualysSim, why: RegExp, what: string): void {
  assert.equal(r.code, 5, `${what}: ${all(r)}`);
  assert.match(all(r), why, what);
  assert.match(all(r), FOUND_BEFORE, what);
  assert.deepEqual(q.log.map((e) => e.path), [], `${what}: nothing asked of Qualys`);
  assert.deepEqual(q.launched, [], what);
  assert.doesNotMatch(all(r), /Launching a report|Template \d+: downloading/, what);
}

Deno.test("a wrong -port: exit 5 before any Qualys call, for a template's report, the detection source and -multiinfo", async () => {
  await withDc({}, async ({ q, run }) => {
    const port = closedPort();
    for (const [what, args] of Object.entries(SOURCES)) {
      const r = await run(port, args);
      assertStoppedBefore(
        r,
        q,
        new RegExp(
          `\\[ERROR\\] Connection to 127\\.0\\.0\\.1:${port} was refused: check -server and ` +
            "-port, that the Defense Center listens on",
        ),
        what,
      );
      assert.equal(all(r).match(/\[ERROR\]/g)?.length, 1, `${what}: one error, once`);
    }
  });
});

Deno.test("a wrong -port with a saved report or the csv plugin: exit 5 before the file is read", async () => {
  await withDc({}, async ({ dir, q, run }) => {
    const port = closedPort();
    const report = await run(port, ["-r", SAMPLE]);
    assertStoppedBefore(report, q, /was refused/, "-report");
    assert.doesNotMatch(report.stdout, /Reading the Qualys report/);
    await Deno.writeTextFile(`${dir}/commands.csv`, "SetSource,Other\nAddHost,10.9.0.1\n");
    const csv = await run(port, ["csv", "-pl", "commands.csv"]);
    assertStoppedBefore(csv, q, /was refused/, "csv plugin");
    assert.doesNotMatch(csv.stdout, /Checked \d+ lines/);
  });
});

Deno.test("a DC that refuses the client certificate, or the version: exit 5 before any Qualys call, for each source", async () => {
  const cases = [
    {
      script: { rejectCertificate: true },
      why:
        /The Defense Center at 127\.0\.0\.1:\d+ rejected the client certificate .*re-download it/,
    },
    {
      script: { rejectVersion: true },
      why:
        /closed the connection after the version exchange: it rejected host input protocol version 1/,
    },
  ];
  for (const { script, why } of cases) {
    await withDc(script, async ({ q, run, dc }) => {
      for (const [what, args] of Object.entries(SOURCES)) {
        assertStoppedBefore(await run(dc.port, args), q, why, what);
      }
      assert.deepEqual(dc.dataByConnection.filter((n) => n > 0), [], "no DATA");
    });
  }
});

Deno.test("a DC that accepts TCP and never starts TLS: exit 5 within -timeout, before any Qualys call", async () => {
  const dc = await startFaultyDc({ noTls: true }, { ca: CA });
  try {
    await withQualys(dc, async ({ q, run }) => {
      const r = await run(dc.port, SOURCES.template);
      assertStoppedBefore(r, q, /TLS handshake timed out: .* within 2 s/, "template");
      assert.equal(dc.connections, 1);
    });
  } finally {
    await dc.shutdown();
  }
});

Deno.test("a DC that is fine: one extra connection before the first Qualys call, with no DATA; then the run goes through", async () => {
  await withDc({}, async ({ q, run, dc }) => {
    for (const what of ["template", "detections"] as const) {
      const before = dc.connections, calls = q.log.length;
      const r = await run(dc.port, SOURCES[what]);
      assert.equal(r.code, 0, `${what}: ${all(r)}`);
      const checked = r.stdout.indexOf(
        "Checked the Defense Center before the run: TLS and host " +
          `input version with 127.0.0.1:${dc.port}: its certificate verified against the CA in the ` +
          ".pkcs12; client certificate accepted, version 1 accepted, MAX_SIZE 4096; no data sent\n",
      );
      assert.ok(checked >= 0, `${what}: ${r.stdout}`);
      const asked = r.stdout.search(/Launching a report|sync of dc/);
      assert.ok(asked > checked, `${what}: checked before Qualys is asked: ${r.stdout}`);
      assert.ok(q.log.length > calls, what);
      const [check, ...sends] = dc.dataByConnection.slice(before);
      assert.equal(check, 0, `${what}: the check sends no DATA`);
      assert.equal(sends.length, 1, `${what}: the commands on one new connection`);
      assert.ok(sends[0]! > 0, what);
    }
  });
});

Deno.test("-multiinfo checks the DC once, with the domain as -check does: one message holding only SetDomain", async () => {
  await withDc({}, async ({ q, run, dc }) => {
    const r = await run(dc.port, SOURCES.multiinfo);
    assert.equal(r.code, 0, all(r));
    assert.equal(r.stdout.match(/Checked the Defense Center before the run/g)?.length, 2, r.stdout);
    assert.match(
      r.stdout,
      /Checked the Defense Center before the run: domain "Global" on 127\.0\.0\.1:\d+: the client certificate may write to it/,
    );
    assert.deepEqual(q.launched.length, 2);
    // The check (one DATA: SetDomain only), then one connection per template's commands.
    assert.equal(dc.dataByConnection.length, 3, String(dc.dataByConnection));
    assert.equal(dc.dataByConnection[0], 1);
    assert.equal(dc.payloads[0], "SetDomain,Global\n");
    assert.ok(dc.payloads.slice(1).every((p) => p.startsWith("SetDomain,Global\nSetSource,")));
  }, "domain: Global\n");
});

Deno.test("a usage error of the source's options still comes first: -multiinfo with source: detections is exit 2, not the DC's 5", async () => {
  await withDc({}, async ({ q, run }) => {
    const r = await run(closedPort(), [...SOURCES.detections, "-multiinfo", "1,2"]);
    assert.equal(r.code, 2, all(r));
    assert.match(all(r), /-multiinfo .* does not apply with source: detections/);
    assert.doesNotMatch(all(r), /was refused/);
    assert.deepEqual(q.log, []);
  });
});
