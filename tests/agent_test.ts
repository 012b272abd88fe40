/**
 * The agent in process, with a clock of its own (`run(argv, { now })`): a Defense Center that
 * lost every host (its discovery policy's host timeout, a restore) is whole again within
 * `refresh_days` nightly runs of an unchanged report, each night sending about 1/`refresh_days`
 * of the hosts, never all of them.
 */

import assert from "node:assert/strict";
import { run } from "../lib/agent.ts";
import { createTestCa } from "../scripts/sim/net/mod.ts";
import { startDcSim } from "../scripts/sim/fmc/mod.ts";

const CA = createTestCa("agent test CA");

function report(hosts: number): string {
  const host = (i: number) =>
    `<HOST><IP>10.7.${i >> 8}.${i & 255}</IP><VULN_INFO_LIST><VULN_INFO><QID id="qid_1">1</QID>` +
    `</VULN_INFO></VULN_INFO_LIST></HOST>`;
  return `<ASSET_DATA_REPORT><HOST_LIST>${
    Array.from({ length: hosts }, (_, i) => host(i + 1)).join("")
  }</HOST_LIST><GLOSSARY><VULN_DETAILS_LIST><VULN_DETAILS id="qid_1"><QID>1</QID>` +
    `<TITLE>One</TITLE></VULN_DETAILS></VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>`;
}

Deno.test("run(): a Defense Center that lost its hosts is whole again within refresh_days nights, a share of them each night", async () => {
  const dc = await startDcSim({ maxSize: 65535 }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-agent-clock-" });
  const hosts = 60, refreshDays = 4;
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `refresh_days: ${refreshDays}\n`,
      { mode: 0o600 },
    );
    await Deno.writeFile(`${dir}/c.pkcs12`, dc.issueClient({ password: "pw" }));
    await Deno.writeTextFile(`${dir}/r.xml`, report(hosts));
    const night = async (day: number) => {
      const now = () => new Date(2026, 2, day, 2, 30);
      const code = await run([
        `-server=${dc.host}`,
        `-port=${dc.port}`,
        `-pkcs12=${dir}/c.pkcs12`,
        "-pa",
        "pw",
        `-pl=${dir}/InputPlugins/QualysGuard.yaml`,
        `-r=${dir}/r.xml`,
        `-logfile=${dir}/log`,
      ], { now });
      await dc.idle();
      assert.equal(code, 0, await Deno.readTextFile(`${dir}/log`));
      return dc.map.size;
    };
    assert.equal(await night(1), hosts);
    dc.map.clear(); // the Defense Center lost every host
    const whole: number[] = [];
    for (let day = 2; day <= 1 + refreshDays; day++) whole.push(await night(day));
    assert.equal(whole[whole.length - 1], hosts, `hosts held night by night: ${whole}`);
    for (let k = 1; k < whole.length; k++) assert.ok(whole[k]! > whole[k - 1]!, String(whole));
    assert.ok(whole[0]! > 0 && whole[0]! < hosts / 2, `the first night sent ${whole[0]}`);
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
