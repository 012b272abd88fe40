import assert from "node:assert/strict";
import { createTestCa, startConnectProxy } from "../../scripts/sim/net/mod.ts";
import { type QualysSimScript, startQualysSim } from "../../scripts/sim/qualys/mod.ts";

import { runMain as run } from "../_cli.ts";
const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("e2e CA");

function runMain(args: string[], cwd: string, env: Record<string, string> = {}) {
  return run(args, { cwd, env });
}

/** A working directory laid out as the original user guide says: InputPlugins/QualysGuard.yaml (0600). */
async function withSetup(
  script: Partial<QualysSimScript>,
  yamlExtra: string,
  body: (dir: string, sim: Awaited<ReturnType<typeof startQualysSim>>) => Promise<void>,
): Promise<void> {
  const sim = await startQualysSim({ reports: { "424242": SAMPLE, "535353": SAMPLE }, ...script }, {
    ca: CA,
  });
  const dir = await Deno.makeTempDir({ prefix: "qc-e2e-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/ca.pem`, sim.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: 'sim_pass'\ntemplate_id: 424242\nurl: ${sim.url}\n` +
        `ca_file: ${dir}/ca.pem\npoll_interval: 0.01\n${yamlExtra}`,
      { mode: 0o600 },
    );
    await body(dir, sim);
  } finally {
    await sim.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("qualys_connector -csvfile=Output.csv -plugininfo=... downloads the template's report, like the original", async () => {
  await withSetup({ runningPolls: 2 }, "", async (dir, sim) => {
    const r = await runMain(
      ["-csvfile=Output.csv", "-plugininfo=InputPlugins/QualysGuard.yaml"],
      dir,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Launching a report of template 424242 on 127\.0\.0\.1/);
    assert.match(r.stdout, /QualysGuard Report Processing Complete/);
    const csv = await Deno.readTextFile(`${dir}/Output.csv`);
    assert.equal(csv.split("\n").filter((l) => l.startsWith("AddScanResult")).length, 23);
    assert.deepStrictEqual(sim.deleted, sim.launched);
    assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "InputPlugins",
      "Output.csv",
      "ca.pem",
    ]);
  });
});

Deno.test("-multiinfo processes every template, names the CSVs <id>_<name>, and exits with the worst status", async () => {
  await withSetup({}, "", async (dir, sim) => {
    await Deno.mkdir(`${dir}/out`);
    for (const env of [{}, { QC_PROGRAM_NAME: "process_multiple" }] as Record<string, string>[]) {
      const r = await runMain(
        ["-multiinfo", "424242,111,535353", "-c", "out/Output.csv"],
        dir,
        env,
      );
      assert.equal(r.code, 3, r.stdout + r.stderr);
      assert.match(r.stdout, /Template 111 failed: .*check template_id/);
      // the run's last line: the tally, which a cron mail shows without reading the rest
      assert.match(r.stdout, /\[ERROR\] -multiinfo: 1 of 3 templates failed: 111 \(exit 3\)\n$/);
      assert.deepStrictEqual([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort(), [
        "424242_Output.csv",
        "535353_Output.csv",
      ]);
    }
    assert.equal(sim.launched.length, 4);
    assert.deepStrictEqual(sim.deleted, sim.launched);
  });
});

Deno.test("-check prints one line per step and launches no report", async () => {
  await withSetup({}, "", async (dir, sim) => {
    const ok = await runMain(["-check", "-c", "-"], dir);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^OK {3}configuration: InputPlugins\/QualysGuard\.yaml$/m);
    assert.match(ok.stdout, /^OK {3}DNS 127\.0\.0\.1: 127\.0\.0\.1 is an address$/m);
    assert.match(ok.stdout, /^OK {3}TLS to 127\.0\.0\.1:\d+: handshake done/m);
    assert.match(
      ok.stdout,
      /^OK {3}Qualys login of sim_user \(Report API 2\.0\): accepted \(no report launched\)$/m,
    );
    assert.match(ok.stdout, /^SKIP Defense Center: -csvfile is given/m);
    assert.deepStrictEqual(sim.launched, []);
  });
  await withSetup({}, "", async (dir) => {
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      (await Deno.readTextFile(`${dir}/InputPlugins/QualysGuard.yaml`)).replace(
        "'sim_pass'",
        "'wrong'",
      ),
    );
    const bad = await runMain(["-check", "-c", "-"], dir);
    assert.equal(bad.code, 3);
    assert.match(
      bad.stdout,
      /^FAIL Qualys login of sim_user \(Report API 2\.0\): Qualys answered CODE 2000: .*check user_id and password/m,
    );
  });
});

Deno.test("-check goes through the proxy, and names a proxy that refuses the credentials", async () => {
  const proxy = startConnectProxy({ username: "zaphod", password: "right" });
  try {
    for (const [password, code] of [["right", 0], ["wrong", 3]] as const) {
      await withSetup(
        {},
        `proxy: ${proxy.url}\nproxy_username: zaphod\nproxy_password: '${password}'\n`,
        async (dir) => {
          const r = await runMain(["-check", "-c", "-"], dir);
          assert.equal(r.code, code, r.stdout + r.stderr);
          if (code === 0) {
            assert.match(
              r.stdout,
              /^OK {3}TLS to 127\.0\.0\.1:\d+ through http:\/\/127\.0\.0\.1:\d+: handshake done/m,
            );
            assert.match(r.stdout, /^OK {3}Qualys login of sim_user/m);
          } else {
            assert.match(
              r.stdout,
              /^FAIL TLS to .*refused the credentials \(407 Proxy Authentication Required\)/m,
            );
          }
        },
      );
    }
  } finally {
    await proxy.shutdown();
  }
});

Deno.test("-check names a DNS failure with its fix", async () => {
  await withSetup({}, "", async (dir) => {
    const yaml = `${dir}/InputPlugins/QualysGuard.yaml`;
    await Deno.writeTextFile(
      yaml,
      (await Deno.readTextFile(yaml)).replace(/url: .*/, "url: https://no-such-host.invalid"),
    );
    const r = await runMain(["-check", "-c", "-"], dir);
    assert.equal(r.code, 3);
    assert.match(
      r.stdout,
      /^FAIL DNS no-such-host\.invalid: Cannot resolve no-such-host\.invalid \(DNS failure\): check url/m,
    );
  });
});

Deno.test("no secret reaches stdout, stderr, the log or the CSV at -level 3 (password, proxy password, cookies)", async () => {
  const proxy = startConnectProxy({ username: "zaphod", password: "Pr0xy!pw" });
  try {
    await withSetup(
      { password: "Qu4lys!pw", sessionCookie: "c0ffee5ecretc00kie" },
      `proxy: ${proxy.url}\nproxy_username: zaphod\nproxy_password: 'Pr0xy!pw'\n`,
      async (dir, sim) => {
        const yaml = `${dir}/InputPlugins/QualysGuard.yaml`;
        await Deno.writeTextFile(
          yaml,
          (await Deno.readTextFile(yaml)).replace("'sim_pass'", "'Qu4lys!pw'"),
        );
        const r = await runMain([
          "-c",
          "out.csv",
          "-level",
          "3",
          "-stderr",
          "-logfile",
          "qc.log",
          "-pa",
          "Pkcs!pw",
        ], dir);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const all = r.stdout + r.stderr + await Deno.readTextFile(`${dir}/qc.log`) +
          await Deno.readTextFile(`${dir}/out.csv`);
        assert.match(all, /Importing QID/);
        const basic = btoa("sim_user:Qu4lys!pw");
        for (
          const secret of [
            "Qu4lys!pw",
            "Pr0xy!pw",
            "Pkcs!pw",
            "c0ffee5ecretc00kie",
            basic,
            btoa("zaphod:Pr0xy!pw"),
          ]
        ) {
          assert.ok(!all.includes(secret), `${secret} leaked`);
        }
        assert.ok(proxy.seen.length > 0);
        assert.ok(sim.requests.every((q) => !q.proxyAuthorization));
      },
    );
  } finally {
    await proxy.shutdown();
  }
});

Deno.test("a bad Qualys password exits 3 with the fix, and writes no CSV", async () => {
  await withSetup({ password: "other" }, "", async (dir) => {
    const r = await runMain(["-c", "Output.csv"], dir);
    assert.equal(r.code, 3);
    assert.match(
      r.stdout,
      /\[ERROR\] Qualys answered CODE 2000: Bad Login\/Password: check user_id and password/,
    );
    assert.ok(![...Deno.readDirSync(dir)].some((e) => e.name.includes("Output")));
  });
});
