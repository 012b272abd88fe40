/**
 * Several nights of the CLI (`main.ts` as a child process) against the Defense Center simulator:
 * hosts whose findings are all fixed are cleared, hosts a report no longer lists are untouched,
 * the same IP listed twice keeps all its findings, `clear_clean_hosts: n`, `-multiinfo` with two
 * templates, and `set_os: y`.
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { type DcSim, startDcSim } from "../../scripts/sim/fmc/mod.ts";
import { runMain } from "../_cli.ts";
import { adr, results, withTwoTemplates } from "./_nights.ts";

const CA = createTestCa("nights CA");

interface Setup {
  dir: string;
  dc: DcSim;
  /** Runs one night: writes the report, runs the connector to the DC, waits for the DC. */
  night(xml: string, extra?: string[]): Promise<{ code: number; stdout: string }>;
}

async function withDc(yaml: string, body: (s: Setup) => Promise<void>): Promise<void> {
  const dc = await startDcSim({ maxSize: 4096 }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-nights-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/InputPlugins/QualysGuard.yaml`, yaml, { mode: 0o600 });
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const night = async (xml: string, extra: string[] = []) => {
      await Deno.writeTextFile(`${dir}/night.xml`, xml);
      const r = await runMain(
        [`-server=${dc.host}`, `-port=${dc.port}`, "-pa", "pw", "-r", "night.xml", ...extra],
        { cwd: dir },
      );
      await dc.idle();
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return r;
    };
    await body({ dir, dc, night });
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Nights: all-Fixed hosts are cleared, unlisted hosts untouched, returning hosts imported, IPv6 respelt", async () => {
  await withDc("add_host: y\n", async ({ dc, night }) => {
    await night(adr([
      ["10.8.0.1", [[101], [202]]],
      ["10.8.0.2", [[303, 22]]],
      ["2001:db8::5", [[404, 443]]],
    ]));
    assert.deepStrictEqual(results(dc), {
      "10.8.0.1": ["101/-", "202/-"],
      "10.8.0.2": ["303/22"],
      "2001:db8::5": ["404/443"],
    });
    // night 2: .1 all Fixed, .2 not listed, the IPv6 host spelt otherwise with another finding
    const two = await night(
      adr([
        ["10.8.0.1", [[101, undefined, "Fixed"], [202, undefined, "Fixed"]]],
        ["2001:DB8:0:0::5", [[404, 443, "Fixed"], [405, 443, "Active"]]],
      ]),
      ["-level", "3"],
    );
    assert.deepStrictEqual(results(dc), {
      "10.8.0.2": ["303/22"],
      "2001:db8::5": ["405/443"],
    });
    assert.match(
      two.stdout,
      /\[DEBUG\] Clearing 10\.8\.0\.1: the report lists it without open findings/,
    );
    assert.match(
      two.stdout,
      /Summary: 1 host with 1 AddScanResult line and 1 host cleared, sent to the Defense Center [^;]+; .*skipped: /,
    );
    // night 3: .1 comes back, .2 is listed without findings, the IPv6 host is not listed
    await night(adr([["10.8.0.1", [[101, 8080]]], ["10.8.0.2", []]]));
    assert.deepStrictEqual(results(dc), {
      "10.8.0.1": ["101/8080"],
      "2001:db8::5": ["405/443"],
    });
    assert.deepStrictEqual([...dc.hosts].sort(), ["10.8.0.1", "10.8.0.2", "2001:db8::5"]);
  });
});

Deno.test("Nights on a fresh DC whose first report has no open finding: the scanner still clears vulnerabilities later", async () => {
  await withDc("", async ({ dc, night }) => {
    await night(adr([["10.8.0.9", [[1, undefined, "Fixed"]]]]));
    assert.deepStrictEqual(results(dc), {});
    await night(adr([["10.8.0.9", [[1]]]]));
    assert.deepStrictEqual(results(dc), { "10.8.0.9": ["1/-"] });
    await night(adr([["10.8.0.9", [[1, undefined, "Fixed"]]]]));
    assert.deepStrictEqual(results(dc), {});
  });
});

Deno.test("Nights with clear_clean_hosts: n leave a clean host's old results, as before", async () => {
  await withDc("clear_clean_hosts: n\n", async ({ dc, night }) => {
    await night(adr([["10.8.0.1", [[101], [202]]]]));
    const two = await night(
      adr([["10.8.0.1", [[101, undefined, "Fixed"], [202, undefined, "Fixed"]]]]),
    );
    assert.deepStrictEqual(results(dc), { "10.8.0.1": ["101/-", "202/-"] });
    assert.match(two.stdout, /Summary: 0 hosts with 0 AddScanResult lines and 0 hosts cleared, /);
    assert.match(two.stdout, /skipped: .* 1 host without open findings, 2 fixed findings/);
    // nothing was left to send: the warning says what dropped the host, and which key to check
    assert.match(
      two.stdout,
      /\[WARNING\] Nothing to send: of the report's 1 host, 1 without open findings \(clear_clean_hosts: n\): check clear_clean_hosts in \S+QualysGuard\.yaml\n/,
    );
  });
});

Deno.test("The same IP in two HOST (or SCAN IP) elements keeps the findings of both on the DC, with a network_id warning", async () => {
  await withDc("", async ({ dc, night }) => {
    const r = await night(adr([
      ["10.7.0.1", [[1], [2, 80]], undefined, 0],
      ["10.7.0.2", [[3]]],
      ["10.7.0.1", [[2, 80], [4, 443]], undefined, 1001],
    ]));
    assert.deepStrictEqual(results(dc), {
      "10.7.0.1": ["1/-", "2/80", "4/443"],
      "10.7.0.2": ["3/-"],
    });
    assert.match(
      r.stdout,
      /\[WARNING\] Host 10\.7\.0\.1 is listed more than once, in different networks \(network_id 0, 1001\)/,
    );
    assert.match(
      r.stdout,
      /Summary: 2 hosts with 4 AddScanResult lines .* 1 duplicate finding; 1 repeated host listing merged/,
    );
    const scan =
      `<SCAN value="s"><IP value="10.7.0.2" name="a"><VULNS><CAT value="c" port="22" protocol="tcp">` +
      `<VULN number="5"><TITLE>t</TITLE></VULN></CAT></VULNS></IP><IP value="10.7.0.2" name="b"><VULNS>` +
      `<CAT value="c" port="99999" protocol="tcp"><VULN number="6"><TITLE>t</TITLE></VULN></CAT></VULNS></IP>` +
      `<IP value="10.7.0.1" name="c"><VULNS></VULNS></IP></SCAN>`;
    const s = await night(scan);
    assert.deepStrictEqual(results(dc), { "10.7.0.2": ["5/22", "6/-"] });
    assert.match(
      s.stdout,
      /\[WARNING\] QID 6 on "10\.7\.0\.2" has port "99999", not 1-65535: it is sent without a port/,
    );
    assert.match(s.stdout, /; 1 finding with an invalid port sent without a port/);
  });
});

Deno.test("set_os: y sends SetOS for hosts with results, after AddHost and before the results; none for cleared or unknown", async () => {
  await withDc("set_os: y\nadd_host: y\n", async ({ dc, dir, night }) => {
    const report = adr([
      ["10.6.0.1", [[1]], "Windows 2012 R2 Standard"],
      ["10.6.0.2", [[1]], "Windows 2016/2019/10"],
      ["10.6.0.3", [[1]], "HP LaserJet 4250"],
      ["10.6.0.4", [[1, undefined, "Fixed"]], "Ubuntu 18.04"],
      ["10.6.0.5", [[1]]],
    ]);
    const r = await night(report);
    assert.deepStrictEqual(dc.dumpOs(), {
      "10.6.0.1": { vendor: "Microsoft", product: "Windows Server", version: "2012 R2" },
      "10.6.0.2": { vendor: "Microsoft", product: "Windows", version: undefined },
    });
    assert.match(r.stdout, /SetOS on 2 hosts, 1 with an OS not in the table, 1 without OS data/);
    const csv = await runMain(["-r", "night.xml", "-c", "-"], { cwd: dir });
    assert.equal(csv.code, 0);
    const lines = csv.stdout.split("\n");
    const at = lines.indexOf("AddHost,10.6.0.1");
    assert.deepStrictEqual(lines.slice(at, at + 3), [
      "AddHost,10.6.0.1",
      'SetOS,10.6.0.1,"Microsoft","Windows Server","2012 R2"',
      'AddScanResult,10.6.0.1,"QualysGuard",1,,,"Title 1","Threat 1","cve_ids:","bugtraq_ids:"',
    ]);
    assert.deepStrictEqual(lines.slice(-3), [
      'DeleteScanResult,10.6.0.4,"QualysGuard"',
      "ScanUpdate",
      "",
    ]);
    assert.ok(!lines.some((l) => l.startsWith("SetOS,10.6.0.4") || l === "AddHost,10.6.0.4"));
  });
});

Deno.test("-multiinfo with two templates: each template's clean hosts are cleared, the other template's hosts untouched", async () => {
  await withTwoTemplates(
    { ca: CA, prefix: "qc-nights-multi-" },
    async ({ dc, dcArgs, night: run }) => {
      const night = (a: string, b: string) => run(a, b, dcArgs);
      await night(
        adr([["10.1.0.1", [[1]]], ["10.1.0.2", [[2]]]]),
        adr([["10.2.0.1", [[3]]], ["10.2.0.2", [[4]]]]),
      );
      assert.deepStrictEqual(results(dc), {
        "10.1.0.1": ["1/-"],
        "10.1.0.2": ["2/-"],
        "10.2.0.1": ["3/-"],
        "10.2.0.2": ["4/-"],
      });
      const two = await night(
        adr([["10.1.0.1", [[1, undefined, "Fixed"]]], ["10.1.0.2", [[2]]]]),
        adr([["10.2.0.1", []]]), // 10.2.0.2 not in template B's report tonight
      );
      assert.deepStrictEqual(results(dc), { "10.1.0.2": ["2/-"], "10.2.0.2": ["4/-"] });
      assert.equal(
        two.stdout.match(/Summary: \d+ hosts? with \d+ AddScanResult lines? and 1 host cleared, /g)
          ?.length,
        2,
        "one per template",
      );
      assert.equal(two.stdout.match(/; this template took \d+\.\d\d s\n/g)?.length, 2);
      assert.match(two.stdout, /\[INFO\] -multiinfo: 0 of 2 templates failed\n$/);
      await night(adr([["10.1.0.2", [[2]]]]), adr([["10.2.0.1", [[3]]], ["10.1.0.1", [[5]]]]));
      assert.deepStrictEqual(results(dc), {
        "10.1.0.1": ["5/-"],
        "10.1.0.2": ["2/-"],
        "10.2.0.1": ["3/-"],
        "10.2.0.2": ["4/-"],
      });
    },
  );
});
