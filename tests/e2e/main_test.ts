import assert from "node:assert/strict";
import { VERSION } from "../../lib/version.ts";
import { connectorArgs } from "../../scripts/connector_command.ts";
import { runMain } from "../_cli.ts";
import { ignoreUnless, NO_SHARED_FIXTURES, SHARED_FIXTURES } from "../_skip.ts";
import { withWorkDir } from "../_workdir.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;

Deno.test("main with no arguments prints the version line and the usage, exit 0", async () => {
  const r = await runMain([]);
  assert.equal(r.code, 0);
  assert.ok(r.stdout.startsWith(`qualys_connector Ver. ${VERSION}\nUsage: qualys_connector`));
  assert.equal(r.stderr, "");
});

Deno.test("main -help and -version print to stdout, exit 0", async () => {
  const help = await runMain(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: /);
  const version = await runMain(["-version"]);
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `qualys_connector Ver. ${VERSION}\n`);
});

Deno.test("main -c - writes only CSV to stdout and logs to stderr", async () => {
  await withWorkDir(async (cwd) => {
    const r = await runMain(["-report", SAMPLE, "-c", "-"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "SetSource,QualysGuard Scan Report");
    assert.ok(lines.every((l) => /^(SetSource|AddScanResult|ScanFlush)/.test(l)));
    assert.equal(lines.filter((l) => l.startsWith("AddScanResult")).length, 23);
    assert.equal(lines.filter((l) => l === "ScanFlush").length, 4);
    assert.match(
      r.stderr,
      /\[INFO\] QualysGuard Report Processing Complete: parsed an ASSET_DATA_REPORT report of 18824 bytes: 4 hosts, 23 findings to import on 4 hosts, 0 hosts without open findings, 6 QIDs in the glossary\n/,
    );
    assert.match(
      r.stderr,
      /\[INFO\] Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written to stdout \(4649 bytes\); skipped: 0 hosts outside ip_ranges, 0 hosts with an invalid address, 1 fixed finding, 0 duplicate findings; the run took \d+\.\d\d s\n$/,
    );
  });
});

Deno.test("main reads the report from stdin with -report -", async () => {
  const xml = await Deno.readTextFile(SAMPLE);
  await withWorkDir(async (cwd) => {
    const r = await runMain(["-r", "-", "-c", "-"], { stdin: xml, cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("AddScanResult")).length, 23);
  });
});

Deno.test("main -csvfile writes the file atomically, 0600, with logs on stdout", async () => {
  await withWorkDir(async (dir) => {
    const out = `${dir}/Output.csv`;
    const r = await runMain(["-report", SAMPLE, "-csvfile", out], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /QualysGuard Report Processing Complete/);
    assert.equal(r.stderr, "");
    const csv = await Deno.readTextFile(out);
    assert.ok(csv.startsWith("SetSource,QualysGuard Scan Report\n"));
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
    assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["Output.csv"]);
  });
});

Deno.test("main leaves the previous CSV untouched and no temp file when the report is bad", async () => {
  await withWorkDir(async (dir) => {
    const out = `${dir}/Output.csv`;
    await Deno.writeTextFile(out, "previous good file\n");
    const xml = await Deno.readTextFile(SAMPLE);
    for (
      const [bad, code, message] of [
        [xml.slice(0, Math.floor(xml.length / 2)), 4, /truncated.*nothing was written/],
        [xml.replace("</HOST>", "</HOTS>"), 4, /does not match <HOST>/],
        ["<QUALYS_REPORT/>", 4, /Not a Qualys vulnerability report/],
        [
          "<SIMPLE_RETURN><RESPONSE><CODE>2000</CODE><TEXT>Bad Login/Password</TEXT></RESPONSE></SIMPLE_RETURN>",
          3,
          /CODE 2000.*check user_id and password/,
        ],
      ] as const
    ) {
      await Deno.writeTextFile(`${dir}/bad.xml`, bad);
      const r = await runMain(["-report", `${dir}/bad.xml`, "-c", out], { cwd: dir });
      assert.equal(r.code, code, r.stdout + r.stderr);
      assert.match(r.stdout, /\[ERROR\]/);
      assert.match(r.stdout, message);
      assert.equal(await Deno.readTextFile(out), "previous good file\n");
      assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "Output.csv",
        "bad.xml",
      ]);
    }
  });
});

Deno.test("main exits 2 with a clear message for usage and set-up errors", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["-bogus"],
      /^qualys_connector: Unknown option "-bogus": run "qualys_connector -help" for the options\n$/,
    ],
    [["-s", "x"], /ambiguous: it could be -server, -syslog, -stderr/],
    [["-server=10.10.10.10"], /\[ERROR\] \/: No \*\.pkcs12 certificate in the current directory/],
    [["-c", "-"], /InputPlugins\/QualysGuard\.yaml: The plugin configuration file does not exist/],
    [
      ["-check", "-c", "-"],
      /FAIL configuration: InputPlugins\/QualysGuard\.yaml: The plugin configuration/,
    ],
    [["-c", "-", "csv"], /The csv plugin sends the command file named by -plugininfo/],
    [
      ["-multiinfo", "1,2", "-c", "x.csv"],
      /QualysGuard\.yaml: The plugin configuration file does not exist/,
    ],
    [
      ["-multiinfo", "1,2", "-c", "x.csv", "-r", "x.xml"],
      /-multiinfo .* cannot be used with -report/,
    ],
    [
      ["-report", "/nonexistent/r.xml", "-c", "-"],
      /Cannot open the report \/nonexistent\/r.xml: no such file or directory: check the -report path\n/,
    ],
    [
      ["-report", SAMPLE, "-c", "-", "-pl", "/nonexistent/q.yaml"],
      /q\.yaml: The plugin configuration file does not exist/,
    ],
    [["-report", SAMPLE], /Say where the commands go/],
  ];
  for (const [args, message] of cases) {
    const r = await runMain(args, { cwd: "/" });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout + r.stderr, message, args.join(" "));
  }
});

Deno.test("main invoked as process_multiple requires -multiinfo", async () => {
  const r = await runMain(["-c", "x.csv"], { env: { QC_PROGRAM_NAME: "process_multiple" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /-multiinfo <template_id1,template_id2,...> is required/);
});

Deno.test("main -logfile appends, and -level 0 logs only errors", async () => {
  await withWorkDir(async (dir) => {
    const log = `${dir}/qc.log`;
    for (let i = 0; i < 2; i++) {
      const r = await runMain(["-report", SAMPLE, "-c", `${dir}/o.csv`, "-logfile", log], {
        cwd: dir,
      });
      assert.equal(r.code, 0);
      assert.equal(r.stdout, "", "logs go to the file instead of stdout");
    }
    const text = await Deno.readTextFile(log);
    assert.equal(text.match(/Report Processing Complete/g)?.length, 2);
    const quiet = await runMain(["-report", SAMPLE, "-c", `${dir}/o.csv`, "-level", "0"], {
      cwd: dir,
    });
    assert.equal(quiet.stdout, "");
    // -level 1: no info line, but the summary, as a heartbeat for a cron log
    const heartbeat = await runMain(["-report", SAMPLE, "-c", `${dir}/o.csv`, "-level", "1"], {
      cwd: dir,
    });
    assert.match(
      heartbeat.stdout,
      /^\S+ \S+ \[INFO\] Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written to \S+o\.csv \(4649 bytes\); .*; the run took \d+\.\d\d s\n$/,
    );
  });
});

Deno.test("main -level 3 logs every vulnerability imported", async () => {
  await withWorkDir(async (dir) => {
    const r = await runMain(["-report", SAMPLE, "-c", "-", "-le", "3"], { cwd: dir });
    assert.equal(r.stderr.match(/\[DEBUG\] Importing QID \d+/g)?.length, 23);
    assert.match(r.stderr, /Importing QID 38170 161\/udp on 10\.0\.0\.1: SSL Certificate/);
  });
});

const SYSLOG_FALLBACK = "main -syslog without a reachable syslog logs to stderr and says so once";
Deno.test({
  name: SYSLOG_FALLBACK,
  ignore: ignoreUnless(
    (() => {
      try {
        Deno.statSync("/dev/log");
        return false;
      } catch {
        return true;
      }
    })(),
    SYSLOG_FALLBACK,
    "/dev/log exists here, so the fallback to stderr cannot be shown",
  ),
}, async () => {
  await withWorkDir(async (dir) => {
    const r = await runMain(["-report", SAMPLE, "-c", `${dir}/o.csv`, "-syslog"], { cwd: dir });
    assert.equal(r.code, 0);
    assert.equal(r.stderr.match(/Cannot reach syslog/g)?.length, 1);
    assert.match(r.stderr, /Report Processing Complete/);
  });
});

Deno.test("main warns that -server is ignored with -csvfile, and applies add_host and ip_ranges", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/q.yaml`,
      "add_host: Yes\nip_ranges: 10.0.0.1-10.0.0.2\nscanner_name: QG\n",
      { mode: 0o600 },
    );
    const r = await runMain(
      ["-report", SAMPLE, "-c", "-", "-server=10.10.10.10", "-pl", `${dir}/q.yaml`],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[WARNING\] Both -csvfile and -server are given: -server is ignored/);
    const lines = r.stdout.trimEnd().split("\n");
    assert.deepStrictEqual(lines.filter((l) => l.startsWith("AddHost")), [
      "AddHost,10.0.0.1",
      "AddHost,10.0.0.2",
    ]);
    assert.ok(
      lines.filter((l) => l.startsWith("AddScanResult")).every((l) => l.includes(',"QG",')),
    );
    assert.match(r.stderr, /2 hosts outside ip_ranges/);
  });
});

Deno.test("main never shows a secret: passwords stay out of stdout, stderr, log and CSV", async () => {
  await withWorkDir(async (dir) => {
    const secrets = ["Qu4lys!pw", "Pr0xy#pw", "Pkcs12$pw", "EnvPkcs12%pw"];
    await Deno.writeTextFile(
      `${dir}/q.yaml`,
      `user_id: dirk_g\npassword: '${secrets[0]}'\ntemplate_id: 1\nproxy: http://p:3128\n` +
        `proxy_username: z\nproxy_password: '${secrets[1]}'\n`,
      { mode: 0o644 },
    );
    await Deno.chmod(`${dir}/q.yaml`, 0o644);
    const r = await runMain(
      [
        "-report",
        SAMPLE,
        "-c",
        `${dir}/o.csv`,
        "-pl",
        `${dir}/q.yaml`,
        "-level",
        "3",
        "-stderr",
        "-logfile",
        `${dir}/qc.log`,
        "-pa",
        secrets[2]!,
        "-se",
        "dc",
      ],
      { cwd: dir, env: { QC_PKCS12_PASSWORD: secrets[3]! } },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /readable by other users/);
    const everything = r.stdout + r.stderr + await Deno.readTextFile(`${dir}/qc.log`) +
      await Deno.readTextFile(`${dir}/o.csv`);
    for (const s of secrets) assert.ok(!everything.includes(s), `${s} leaked`);
  });
});

Deno.test("main exits 143 on SIGTERM while it waits for the report, and logs the signal", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: connectorArgs(["-r", "-", "-c", "-"]),
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("Reading the Qualys report from standard input")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGTERM");
  const status = await child.status;
  for (let r = await reader.read(); !r.done; r = await reader.read()) seen += r.value;
  await child.stdout.cancel();
  await child.stdin.close().catch(() => {});
  assert.equal(status.code, 143);
  // A cron log does not just end: the signal is its last line (nothing was being sent).
  assert.match(seen, /\[ERROR\] Stopped by SIGTERM \(exit 143\)\n$/);
});

async function assertEmptyReport(report: string, dir: string): Promise<void> {
  const r = await runMain(["-report", report, "-c", "-"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "SetSource,QualysGuard Scan Report\n");
  assert.match(
    r.stderr,
    /\[WARNING\] Nothing to send: the report lists no host: check the report template's asset groups or IPs in Qualys\n.*\[INFO\] Summary: 0 hosts with 0 AddScanResult lines and 0 hosts cleared/,
  );
}

Deno.test("main turns an empty report into just SetSource, exit 0", async () => {
  await withWorkDir(async (dir) => {
    const empty = `${dir}/empty.xml`;
    await Deno.writeTextFile(
      empty,
      `<?xml version="1.0"?><ASSET_DATA_REPORT><HEADER/><APPENDICES/></ASSET_DATA_REPORT>\n`,
    );
    await assertEmptyReport(empty, dir);
  });
});

const EMPTY_SHARED =
  "main turns Qualys's own empty report (the public fixture) into just SetSource";
Deno.test({
  name: EMPTY_SHARED,
  ignore: ignoreUnless(SHARED_FIXTURES !== undefined, EMPTY_SHARED, NO_SHARED_FIXTURES),
}, async () => {
  await withWorkDir(async (dir) => {
    await assertEmptyReport(`${SHARED_FIXTURES}defectdojo/empty.xml`, dir);
  });
});
