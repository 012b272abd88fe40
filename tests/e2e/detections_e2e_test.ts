import assert from "node:assert/strict";
import { createTestCa, startConnectProxy } from "../../scripts/sim/net/mod.ts";
import { type DcSim, startDcSim } from "../../scripts/sim/fmc/mod.ts";
import { type QualysSim, startQualysSim, VmdrSubscription } from "../../scripts/sim/qualys/mod.ts";
import { runMain } from "../_cli.ts";

const CA = createTestCa("detections e2e CA");

function dcKeys(dc: DcSim): Set<string> {
  const keys = new Set<string>();
  for (const [ip, byScanner] of Object.entries(dc.dump())) {
    for (const r of byScanner.QualysGuard ?? []) keys.add(`${ip}|${r.vulnId}|${r.port}|${r.proto}`);
  }
  return keys;
}

async function withSims(
  body: (dir: string, q: QualysSim, dc: DcSim, sub: VmdrSubscription) => Promise<void>,
): Promise<void> {
  const sub = new VmdrSubscription({ seed: 11, hosts: 30, detectionsPerHost: 6, qids: 60 });
  const q = await startQualysSim({ vmdr: { subscription: sub } }, { ca: CA });
  const dc = await startDcSim({ maxSize: 4096 }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-detections-e2e-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/ca.pem`, q.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: 'sim_pass'\nurl: ${q.url}\nca_file: ${dir}/ca.pem\n` +
        "source: detections\n",
      { mode: 0o600 },
    );
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "P12!secret" }));
    await body(dir, q, dc, sub);
  } finally {
    await q.shutdown();
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("source: detections, the cron line of two nights: a full sync, then one that removes a fixed finding from the DC", async () => {
  await withSims(async (dir, _q, dc, sub) => {
    const args = [
      `-server=${dc.host}`,
      `-port=${dc.port}`,
      "-pkcs12=CertFile.pkcs12",
      "-plugininfo=InputPlugins/QualysGuard.yaml",
    ];
    const env = { QC_PKCS12_PASSWORD: "P12!secret" };
    const first = await runMain(args, { cwd: dir, env });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(
      first.stdout,
      new RegExp(`Full sync of dc ${dc.host}:${dc.port} \\(no earlier run`),
    );
    assert.deepEqual(dcKeys(dc), sub.openDetectionKeys());
    // the state lives beside the YAML, one file per destination, 0600
    const state = [...Deno.readDirSync(`${dir}/InputPlugins/QualysGuard.state`)].map((e) => e.name);
    const syncFile = state.find((n) => /^sync-[0-9a-f]{16}\.json$/.test(n))!;
    assert.ok(state.some((n) => /^kb-[0-9a-f]{16}\.jsonl$/.test(n)));
    const path = `${dir}/InputPlugins/QualysGuard.state/${syncFile}`;
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    assert.equal(JSON.parse(Deno.readTextFileSync(path)).destination, `dc ${dc.host}:${dc.port}`);

    // a night later one host is patched completely, and others change
    const before = dcKeys(dc);
    const day = sub.advanceDay({ allFixedHosts: 1, fixShare: 0.3 });
    const patched = sub.hostAddress(sub.hostIndexById(day.allFixedHostIds[0]!));
    assert.ok([...before].some((k) => k.startsWith(`${patched}|`)));
    const second = await runMain(args, { cwd: dir, env });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /Incremental sync of dc .*: hosts processed after 20\d\d-/);
    const after = dcKeys(dc);
    assert.deepEqual(after, sub.openDetectionKeys());
    assert.ok(![...after].some((k) => k.startsWith(`${patched}|`)));
    assert.ok([...before].some((k) => !after.has(k))); // fixed findings are gone
    assert.doesNotMatch(first.stdout + second.stdout + first.stderr + second.stderr, /sim_pass/);
  });
});

Deno.test("source: detections: -check makes one detection call and one KnowledgeBase call, and says what the next run does", async () => {
  await withSims(async (dir, q) => {
    const r = await runMain(
      ["-check", "-c", "out.csv", "-plugininfo=InputPlugins/QualysGuard.yaml"],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /OK {3}Qualys login of sim_user and a Host List Detection API 5\.0 call: accepted: 1 host\(s\)/,
    );
    assert.match(r.stdout, /OK {3}KnowledgeBase API 4\.0 call \(QID \d+\): answered/);
    assert.match(
      r.stdout,
      /OK {3}sync state in .*QualysGuard\.state: csv .*out\.csv: the next run is a full sync/,
    );
    const calls = q.log.filter((e) => e.api !== "other");
    assert.deepEqual(calls.map((e) => e.api), ["detection", "kb"]);
    assert.equal(calls[0]!.params.truncation_limit, "1");
    assert.equal(calls.every((e) => e.method === "POST"), true);
    // -check launches nothing and saves nothing
    assert.throws(() => Deno.statSync(`${dir}/InputPlugins/QualysGuard.state`));
  });
});

Deno.test("source: detections: -check says what to remove when a directory stands where the sync state belongs", async () => {
  await withSims(async (dir) => {
    const args = ["-c", "out.csv", "-plugininfo=InputPlugins/QualysGuard.yaml"];
    assert.equal((await runMain(args, { cwd: dir })).code, 0);
    const stateDir = `${dir}/InputPlugins/QualysGuard.state`;
    const name = [...Deno.readDirSync(stateDir)].find((e) => /^sync-.*\.json$/.test(e.name))!.name;
    Deno.removeSync(`${stateDir}/${name}`);
    Deno.mkdirSync(`${stateDir}/${name}`);
    const r = await runMain(["-check", ...args], { cwd: dir });
    assert.equal(r.code, 7, r.stdout + r.stderr);
    // one check line among the others, which all ran
    assert.match(
      r.stdout,
      /FAIL {1,3}sync state in .*: .*sync-[0-9a-f]+\.json is a directory where the sync state of csv .*out\.csv belongs: remove it \(rm -r /,
    );
    assert.match(r.stdout, /OK {3}KnowledgeBase API 4\.0 call/);
  });
});

Deno.test("source: detections: -multiinfo is a usage error, before any call", async () => {
  await withSims(async (dir, q) => {
    const r = await runMain(
      ["-multiinfo", "1,2", "-c", "out.csv", "-plugininfo=InputPlugins/QualysGuard.yaml"],
      { cwd: dir },
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr + r.stdout, /-multiinfo .* does not apply with source: detections/);
    assert.equal(q.log.length, 0);
  });
});

Deno.test("source: detections through an authenticating proxy: every call tunnels, the passwords are never shown", async () => {
  const proxy = startConnectProxy({ username: "zaphod", password: "pr0xy!pw" });
  try {
    await withSims(async (dir, q, _dc, sub) => {
      const yaml = `${dir}/InputPlugins/QualysGuard.yaml`;
      await Deno.writeTextFile(
        yaml,
        `${await Deno.readTextFile(yaml)}proxy: ${proxy.url}\nproxy_username: zaphod\n` +
          "proxy_password: 'pr0xy!pw'\n",
      );
      const r = await runMain(
        ["-csvfile=out.csv", "-plugininfo=InputPlugins/QualysGuard.yaml", "-level", "3"],
        { cwd: dir },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const csv = await Deno.readTextFile(`${dir}/out.csv`);
      assert.equal(new Set(csv.match(/^AddScanResult,[^,]+/gm)).size, sub.openDetections().size);
      const target = new URL(q.url).host;
      assert.ok(proxy.seen.length >= 1 && proxy.seen.every((c) => c.target === target));
      assert.ok(proxy.seen.every((c) => c.proxyAuthorization?.startsWith("Basic ")));
      for (const secret of ["pr0xy!pw", "sim_pass"]) {
        assert.ok(!(r.stdout + r.stderr + csv).includes(secret), `${secret} shown`);
      }
    });
  } finally {
    await proxy.shutdown();
  }
});
