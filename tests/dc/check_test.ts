/**
 * The Defense Center's check before a run's work (`checkDcBeforeRun`), against the simulator: the
 * session `-check` opens (TLS, the version, with a domain one message holding only SetDomain) on a
 * connection of its own, closed afterwards; a failure is the DcError of the step, said to be found
 * before the work.
 */

import assert from "node:assert/strict";
import { checkDcBeforeRun, checkDcSession } from "../../lib/dc/check.ts";
import { loadPkcs12 } from "../../lib/dc/pkcs12.ts";
import { DcError } from "../../lib/errors.ts";
import {
  type DcSim,
  type DcSimScript,
  SAMPLE_DOMAINS,
  startDcSim,
} from "../../scripts/sim/fmc/mod.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";

const CA = createTestCa("dc check test CA");

async function withDc(script: DcSimScript, body: (sim: DcSim) => Promise<void>): Promise<void> {
  const sim = await startDcSim({ recordPayloads: true, ...script }, { ca: CA });
  try {
    await body(sim);
  } finally {
    await sim.shutdown();
  }
}

function targetOf(sim: DcSim, domain = "Global") {
  const password = "pw";
  const identity = loadPkcs12(sim.issueClient({ password, domain }), {
    password,
    file: "client.pkcs12",
  });
  return { host: sim.host, port: sim.port, identity };
}

/** A log that keeps its info lines. */
function recorder() {
  const info: string[] = [];
  return { info, log: { info: (m: string) => info.push(m), warn() {}, error() {}, debug() {} } };
}

Deno.test("checkDcBeforeRun: one connection, the version exchanged, no DATA, hung up; what passed is logged", async () => {
  await withDc({ maxSize: 4096 }, async (sim) => {
    const { info, log } = recorder();
    await checkDcBeforeRun(targetOf(sim), { log });
    await sim.idle(); // the connection is closed: idle() resolves only then
    assert.deepEqual(sim.dataByConnection, [0]);
    assert.deepEqual(info, [
      `Checked the Defense Center before the run: TLS and host input version with ` +
      `127.0.0.1:${sim.port}: its certificate verified against the CA in the .pkcs12; client ` +
      "certificate accepted, version 1 accepted, MAX_SIZE 4096; no data sent",
    ]);
  });
});

Deno.test("checkDcBeforeRun collects what the certificate and the check left, once", async () => {
  await withDc({ maxSize: 4096 }, async (sim) => {
    const g = globalThis as { gc?: () => void };
    const saved = g.gc;
    let gcs = 0;
    g.gc = () => void gcs++; // collectGarbage's hook (the binary's --expose-gc), counted
    try {
      await checkDcBeforeRun(targetOf(sim), { log: recorder().log });
    } finally {
      if (saved) g.gc = saved;
      else delete g.gc;
    }
    await sim.idle();
    assert.equal(gcs, 1);
  });
});

Deno.test("checkDcBeforeRun with a domain: one message holding only SetDomain, which creates nothing", async () => {
  await withDc({ domains: SAMPLE_DOMAINS }, async (sim) => {
    const { info, log } = recorder();
    const lab = "Global \\ West \\ Lab";
    await checkDcBeforeRun(targetOf(sim), { log, domain: lab });
    await sim.idle();
    assert.deepEqual(sim.dataByConnection, [1]);
    assert.deepEqual(sim.payloads, [`SetDomain,${lab}\n`]);
    assert.deepEqual(sim.fmc.appSources, [], "no source was created");
    assert.deepEqual(Object.values(sim.dumpAll()).map((m) => m.hosts.length), [0, 0, 0]);
    assert.match(
      info[1]!,
      /domain "Global \\ West \\ Lab" on .*: the client certificate may write/,
    );
  });
});

Deno.test("checkDcBeforeRun: a domain outside the certificate's, or a refused version, is the step's DcError, found before the work", async () => {
  await withDc({ domains: SAMPLE_DOMAINS }, async (sim) => {
    await assert.rejects(
      checkDcBeforeRun(targetOf(sim, "Global \\ East"), {
        log: recorder().log,
        domain: "Global \\ West \\ Lab",
      }),
      (e: DcError) => {
        assert.ok(e instanceof DcError);
        assert.equal(e.exitCode, 5);
        assert.equal(e.step, "DATA answer 1");
        assert.ok(e.cause instanceof DcError, "the step's own error is the cause");
        assert.match(
          e.message,
          /refused DATA message 1: "\[SetDomain\]: Domain Global \\ West \\ Lab is not in the certificate domain".*; found before the run's work: nothing was asked of Qualys, read or sent$/,
        );
        return true;
      },
    );
  });
  await withDc({ rejectVersion: true }, async (sim) => {
    await assert.rejects(
      checkDcBeforeRun(targetOf(sim), { log: recorder().log }),
      /rejected host input protocol version 1; upgrade the Defense Center; found before the run's work/,
    );
  });
});

Deno.test("checkDcSession (the steps -check shows): a failed step carries the error it threw", async () => {
  await withDc({ rejectVersion: true }, async (sim) => {
    const steps = await checkDcSession(targetOf(sim));
    assert.equal(steps.length, 1);
    assert.equal(steps[0]!.ok, false);
    assert.ok(steps[0]!.error instanceof DcError);
    assert.equal(steps[0]!.detail, (steps[0]!.error as Error).message);
  });
});
