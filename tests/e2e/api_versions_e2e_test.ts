/**
 * Issue 17, items 1-3, through the real entry point against the simulator: `-check` names the
 * endpoint and version of each call and checks the gateway; a KnowledgeBase that wants a gateway
 * token is synced at `-level 3` with neither the token nor the password in any output, log, CSV
 * or state file; no gateway known, a retired version, a bad `api_versions` each end with the
 * exit status and the line that says what to change; a deprecation notice is warned once per
 * endpoint and the run goes on.
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import {
  type QualysSim,
  type QualysSimScript,
  type SimNotice,
  startQualysSim,
  VmdrSubscription,
} from "../../scripts/sim/qualys/mod.ts";
import { runMain } from "../_cli.ts";

const CA = createTestCa("API versions e2e CA");

async function withSim(
  script: Omit<QualysSimScript, "vmdr"> & { notice?: SimNotice },
  yaml: (sim: QualysSim) => string,
  body: (dir: string, sim: QualysSim, sub: VmdrSubscription) => Promise<void>,
): Promise<void> {
  const sub = new VmdrSubscription({ seed: 21, hosts: 20, detectionsPerHost: 4, qids: 40 });
  const sim = await startQualysSim({
    ...script,
    vmdr: { subscription: sub, notice: script.notice },
  }, {
    ca: CA,
  });
  const dir = await Deno.makeTempDir({ prefix: "qc-api-versions-e2e-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/ca.pem`, sim.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: 'sim_pass'\nurl: ${sim.url}\nca_file: ${dir}/ca.pem\n` +
        `source: detections\n${yaml(sim)}`,
      { mode: 0o600 },
    );
    await body(dir, sim, sub);
  } finally {
    await sim.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

const PLUGIN = "-plugininfo=InputPlugins/QualysGuard.yaml";

/** Every file under `dir`, as text (the YAML, which holds the password by design, left out). */
async function filesUnder(dir: string): Promise<string> {
  let all = "";
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) all += await filesUnder(path);
    else if (!e.name.endsWith(".yaml")) all += await Deno.readTextFile(path);
  }
  return all;
}

Deno.test("-check names each endpoint's version and checks the gateway; the token is not shown", async () => {
  await withSim(
    { gateway: { kbWantsToken: true } },
    (sim) => `gateway_url: ${sim.url}\n`,
    async (dir, sim) => {
      const r = await runMain(["-check", "-c", "out.csv", PLUGIN], { cwd: dir });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /^OK {3}Qualys login of sim_user and a Host List Detection API 5\.0 call: accepted/m,
      );
      assert.match(
        r.stdout,
        /^OK {3}KnowledgeBase API 4\.0 call \(QID \d+\): answered, with a token of the API gateway$/m,
      );
      assert.match(
        r.stdout,
        /^OK {3}Qualys API gateway 127\.0\.0\.1:\d+: gave a token \(not shown\)/m,
      );
      assert.equal(sim.gateway.tokens.length, 1);
      for (const secret of [sim.gateway.tokens[0]!, "sim_pass"]) {
        assert.ok(!(r.stdout + r.stderr).includes(secret), "a secret was printed");
      }
    },
  );
});

Deno.test("a KnowledgeBase that wants a token, synced at -level 3: exit 0, the token and the password nowhere", async () => {
  await withSim(
    { gateway: { kbWantsToken: true } },
    (sim) => `gateway_url: ${sim.url}\n`,
    async (dir, sim, sub) => {
      const r = await runMain(
        ["-c", "out.csv", "-level", "3", "-logfile", "run.log", PLUGIN],
        { cwd: dir },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const csv = await Deno.readTextFile(`${dir}/out.csv`);
      assert.equal(
        csv.split("\n").filter((l) => l.startsWith("AddScanResult,")).length,
        sub.openDetectionKeys().size,
      );
      const log = await Deno.readTextFile(`${dir}/run.log`);
      assert.match(log, /KnowledgeBase API 4\.0 answered HTTP 401 .*wants a token/);
      assert.ok(sim.requests.some((q) => q.bearer && q.path.includes("knowledge_base")));
      assert.equal(sim.gateway.tokens.length, 1);
      const everything = r.stdout + r.stderr + await filesUnder(dir);
      assert.ok(everything.includes("QualysGuard"), "the files were read");
      for (const secret of [sim.gateway.tokens[0]!, "sim_pass", "Bearer "]) {
        assert.ok(!everything.includes(secret), `${secret.slice(0, 8)}... leaked`);
      }
    },
  );
});

Deno.test("a KnowledgeBase that wants a token and no gateway known: exit 3 naming gateway_url, nothing written", async () => {
  await withSim({ gateway: { kbWantsToken: true } }, () => "", async (dir, sim) => {
    const r = await runMain(["-c", "out.csv", PLUGIN], { cwd: dir });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(
      r.stdout + r.stderr,
      /KnowledgeBase API 4\.0 answered HTTP 401 .*it wants a token from the Qualys API gateway, and none is known for url https:\/\/127\.0\.0\.1:\d+: set gateway_url in the plugin YAML/,
    );
    assert.throws(() => Deno.statSync(`${dir}/out.csv`));
    assert.equal(sim.gateway.tokens.length, 0);
  });
});

Deno.test("api_versions naming a retired version: a warning, then exit 3 with one line naming the endpoint, the version and the entry", async () => {
  await withSim({}, () => "api_versions: detections=4.0\n", async (dir, sim) => {
    const r = await runMain(["-c", "out.csv", PLUGIN], { cwd: dir });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(
      out,
      /QualysGuard\.yaml:6:15: "api_versions" asks Host List Detection 4\.0, which Qualys has ended/,
    );
    const line = out.split("\n").find((l) => l.includes("does not serve"));
    assert.ok(line, out);
    assert.match(
      line,
      /Qualys does not serve the Host List Detection API 4\.0 \(HTTP 404 to action=list on \/api\/4\.0\/fo\/asset\/host\/vm\/detection\/: "API version 4\.0 of this endpoint is no longer supported\. Please use version 5\.0\."\): that version is retired or unknown; set api_versions: detections=5\.0 in the plugin YAML/,
    );
    assert.equal(sim.log.filter((e) => e.api === "detection").length, 1);
  });
});

Deno.test("api_versions that is not name=digits.digits: exit 2 naming the file, line and column; no call", async () => {
  await withSim({}, () => "api_versions: detections=latest\n", async (dir, sim) => {
    const r = await runMain(["-c", "out.csv", PLUGIN], { cwd: dir });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stdout + r.stderr,
      /QualysGuard\.yaml:6:15: "api_versions" gives detections the version "latest": a version is digits\.digits/,
    );
    assert.equal(sim.log.length, 0);
  });
});

Deno.test("a deprecation notice on every answer: one warning per endpoint, with its date, and the run goes on", async () => {
  await withSim({ notice: { form: "warning" } }, () => "", async (dir, _sim, sub) => {
    const r = await runMain(["-c", "out.csv", PLUGIN], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const notices = (r.stdout + r.stderr).split("\n").filter((l) => l.includes("gives notice"));
    assert.equal(notices.length, 3, notices.join("\n"));
    for (
      const title of ["Host List Detection API 5.0", "Host List API 5.0", "KnowledgeBase API 4.0"]
    ) {
      assert.ok(
        notices.some((l) =>
          l.includes(`the ${title} is deprecated or ending (date given: 2027-06-30)`)
        ),
        title,
      );
    }
    assert.doesNotMatch(r.stdout + r.stderr, /Qualys warned on a host detection page/);
    const csv = await Deno.readTextFile(`${dir}/out.csv`);
    assert.equal(
      csv.split("\n").filter((l) => l.startsWith("AddScanResult,")).length,
      sub.openDetectionKeys().size,
    );
  });
});
