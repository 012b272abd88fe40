/**
 * Issue 20, items 4-6, through the CLI: the JSON run record (`-json`, `json_file`), the
 * Prometheus text file (`-metrics`, `metrics_file`) and the run history `-status` reads, on
 * success and on each kind of failure (exit 2 to 7, a signal), for both sources, against the
 * Qualys and Defense Center simulators.
 */

import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { connectorArgs } from "../../scripts/connector_command.ts";
import { startDcSim, startFaultyDc } from "../../scripts/sim/fmc/mod.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { type QualysSim, startQualysSim, VmdrSubscription } from "../../scripts/sim/qualys/mod.ts";
import { type CliResult, runMain } from "../_cli.ts";
import { workDir } from "../_workdir.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("monitoring e2e CA");
/** A run that has not ended after this long hangs: it is killed (a guard, not a speed assert). */
const HANG_GUARD_MS = 300_000;

const all = (r: CliResult) => r.stdout + r.stderr;
const run = (args: string[], cwd: string, env: Record<string, string> = {}) =>
  runMain(args, { cwd, env, signal: AbortSignal.timeout(HANG_GUARD_MS) });

const FIELDS = [
  "destination",
  "source",
  "started",
  "finished",
  "duration_seconds",
  "exit_code",
  "error",
  "hosts_sent",
  "results_sent",
  "hosts_cleared",
  "hosts_unchanged",
  "hosts_refreshed",
  "lines_sent",
  "bytes_sent",
  "api_calls",
  "bytes_downloaded",
  "checkpoint",
];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** Reads a JSON run record and checks what every record holds. */
async function readRecord(path: string): Promise<Record<string, unknown>> {
  const record = JSON.parse(await Deno.readTextFile(path));
  assert.deepEqual(Object.keys(record), FIELDS);
  assert.match(record.started, ISO);
  assert.match(record.finished, ISO);
  assert.ok(record.finished >= record.started);
  assert.equal(typeof record.duration_seconds, "number");
  assert.equal(record.error === null, record.exit_code === 0, JSON.stringify(record));
  return record;
}

const ZERO_COUNTS = {
  hosts_sent: 0,
  results_sent: 0,
  hosts_cleared: 0,
  hosts_unchanged: 0,
  hosts_refreshed: 0,
  lines_sent: 0,
  bytes_sent: 0,
};

/** The metrics file's samples, as the oracle parses them: metric name → destination → value. */
function samples(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const family of parsePrometheusTextFormat(text)) {
    assert.equal(family.type, "GAUGE", family.name);
    assert.ok(family.help.length > 0, family.name);
    const byDestination = new Map<string, string>();
    for (const m of family.metrics as { labels: Record<string, string>; value: string }[]) {
      byDestination.set(m.labels.destination!, m.value);
    }
    out.set(family.name, byDestination);
  }
  return out;
}

/** A work directory with InputPlugins/QualysGuard.yaml (0600) holding `yaml`. */
async function withYaml(yaml: string, body: (dir: string) => Promise<void>): Promise<void> {
  await using dir = await workDir("qc-monitoring-");
  await Deno.mkdir(`${dir.path}/InputPlugins`);
  await Deno.writeTextFile(`${dir.path}/InputPlugins/QualysGuard.yaml`, yaml, { mode: 0o600 });
  await body(dir.path);
}

const PL = "-pl=InputPlugins/QualysGuard.yaml";

Deno.test("two report runs to two CSV files: each JSON record's fields, one metrics file holding both destinations' series, and -status", async () => {
  await withYaml("json_file: run.json\n", async (dir) => {
    const a = await run(["-r", SAMPLE, "-c", "a.csv", PL, "-metrics", "qc.prom"], dir);
    assert.equal(a.code, 0, all(a));
    // json_file is relative to the YAML's directory
    const record = await readRecord(`${dir}/InputPlugins/run.json`);
    const csv = await Deno.readTextFile(`${dir}/a.csv`);
    assert.deepEqual(record, {
      ...record,
      destination: `csv ${dir}/a.csv`,
      source: "report",
      exit_code: 0,
      error: null,
      hosts_sent: 4,
      results_sent: 23,
      hosts_cleared: 0,
      hosts_unchanged: 0,
      hosts_refreshed: 0,
      lines_sent: csv.split("\n").length - 1,
      bytes_sent: new TextEncoder().encode(csv).length,
      api_calls: 0,
      bytes_downloaded: 0,
      checkpoint: null,
    });
    assert.equal(Deno.statSync(`${dir}/InputPlugins/run.json`).mode! & 0o777, 0o644);

    const b = await run(["-r", SAMPLE, "-c", "b.csv", PL, "-metrics", "qc.prom"], dir);
    assert.equal(b.code, 0, all(b));
    assert.equal(
      (await readRecord(`${dir}/InputPlugins/run.json`)).destination,
      `csv ${dir}/b.csv`,
    );
    const text = await Deno.readTextFile(`${dir}/qc.prom`);
    const m = samples(text);
    for (
      const name of ["last_run_timestamp_seconds", "last_success_timestamp_seconds", "api_calls"]
    ) {
      assert.ok(m.has(`qualys_connector_${name}`), name);
    }
    assert.equal(m.size, 13);
    for (const [name, series] of m) {
      assert.deepEqual([...series.keys()].sort(), [`csv ${dir}/a.csv`, `csv ${dir}/b.csv`], name);
    }
    assert.equal(m.get("qualys_connector_results_sent")!.get(`csv ${dir}/a.csv`), "23");
    assert.equal(m.get("qualys_connector_last_exit_code")!.get(`csv ${dir}/b.csv`), "0");
    // nothing but the file and its lock beside it
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes("prom")).sort(),
      [".qc.prom.lock", "qc.prom"],
    );

    const status = await run(["-status", PL], dir);
    assert.equal(status.code, 0, all(status));
    const state = `${dir}/InputPlugins/QualysGuard.state`;
    assert.ok(
      status.stdout.startsWith(`State directory ${state}: 2 destinations\n`),
      status.stdout,
    );
    assert.match(status.stdout, new RegExp(`\\ncsv ${dir}/a\\.csv\\n  source: +report\\n`));
    assert.match(status.stdout, /last run: +\d{4}-\S+Z \(just now\), exit 0 after \d+\.\d s\n/);
    assert.doesNotMatch(status.stdout, /INFO/); // the log goes to stderr
    for (const e of Deno.readDirSync(state)) {
      assert.equal(Deno.statSync(`${state}/${e.name}`).mode! & 0o777, 0o600, e.name);
    }
  });
});

Deno.test("-json -: the record alone on stdout, the log on stderr; with -c - too: refused, exit 2", async () => {
  await using dir = await workDir("qc-monitoring-");
  const r = await run(["-r", SAMPLE, "-c", "out.csv", "-json", "-"], dir.path);
  assert.equal(r.code, 0, all(r));
  const record = JSON.parse(r.stdout);
  assert.equal(record.results_sent, 23);
  assert.match(
    r.stderr,
    /\[INFO\] Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written to out\.csv/,
  );
  // without a plugin YAML, no state: nothing is created in the current directory
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["out.csv"]);

  const both = await run(["-r", SAMPLE, "-c", "-", "-json", "-"], dir.path);
  assert.equal(both.code, 2, all(both));
  assert.match(both.stderr, /-json - and -csvfile - both write to standard output/);
  assert.equal(both.stdout, "");
});

Deno.test("a YAML that cannot be read: -json is written (exit 2, the error), json_file and the history are not", async () => {
  await withYaml("add_host: maybe\njson_file: yaml.json\n", async (dir) => {
    const r = await run(["-r", SAMPLE, "-c", "out.csv", PL, "-json", "run.json"], dir);
    assert.equal(r.code, 2, all(r));
    const record = await readRecord(`${dir}/run.json`);
    assert.equal(record.exit_code, 2);
    assert.match(record.error as string, /"add_host" must be y, yes, n or no/);
    assert.equal(record.destination, `csv ${dir}/out.csv`);
    assert.equal(record.source, "report");
    assert.deepEqual({ ...record, ...ZERO_COUNTS }, record);
    assert.throws(() => Deno.statSync(`${dir}/InputPlugins/yaml.json`));
    assert.throws(() => Deno.statSync(`${dir}/InputPlugins/QualysGuard.state`));
  });
});

Deno.test("a command line without a destination, -check, -status and -dry-run write no record", async () => {
  await withYaml("", async (dir) => {
    const none = await run(["-r", SAMPLE, PL, "-json", "run.json", "-metrics", "m.prom"], dir);
    assert.equal(none.code, 2, all(none));
    assert.match(all(none), /Say where the commands go/);
    const check = await run(["-check", "-r", SAMPLE, "-c", "o.csv", PL, "-json", "run.json"], dir);
    assert.equal(check.code, 0, all(check));
    assert.match(check.stdout, /-json and -metrics record a run: with -check or -status nothing/);
    const dry = await run(["-dry-run", "-r", SAMPLE, "-c", "o.csv", PL, "-json", "run.json"], dir);
    assert.match(all(dry), /-dry-run is not a run of the destination: -json and -metrics are not/);
    await run(["-r", SAMPLE, "-c", "o.csv", PL], dir); // a run: the state directory exists
    const before = [...Deno.readDirSync(`${dir}/InputPlugins/QualysGuard.state`)];
    const status = await run(["-status", PL, "-json", "run.json", "-metrics", "m.prom"], dir);
    assert.equal(status.code, 0, all(status));
    assert.match(status.stderr, /nothing is recorded/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/InputPlugins/QualysGuard.state`)], before);
    assert.ok(![...Deno.readDirSync(dir)].some((e) => /run\.json|m\.prom/.test(e.name)));
  });
});

Deno.test("-status without a state directory: exit 2 naming it; the csv plugin keeps none: exit 2", async () => {
  await withYaml("state_dir: /nonexistent/qc-state\nsource: detections\n", async (dir) => {
    const r = await run(["-status", PL], dir);
    assert.equal(r.code, 2, all(r));
    assert.match(r.stderr, /\/nonexistent\/qc-state: no such state directory/);
    assert.equal(r.stdout, "");
    const none = await run(["-status"], dir + "/InputPlugins"); // no YAML at the default path
    assert.equal(none.code, 2, all(none));
    assert.match(none.stderr, /InputPlugins\/QualysGuard\.state: no such state directory/);
    const csv = await run(["-status", "csv", "-pl", "x.csv"], dir);
    assert.equal(csv.code, 2, all(csv));
    assert.match(csv.stderr, /the csv plugin keeps none/);
  });
});

Deno.test("a report that cannot be parsed: exit 4 in the record, the history and the metrics; -status shows the last success", async () => {
  await withYaml("metrics_file: qc.prom\n", async (dir) => {
    const good = await run(["-r", SAMPLE, "-c", "out.csv", PL, "-json", "run.json"], dir);
    assert.equal(good.code, 0, all(good));
    const text = await Deno.readTextFile(SAMPLE);
    await Deno.writeTextFile(`${dir}/cut.xml`, text.slice(0, text.length / 2));
    const r = await run(["-r", "cut.xml", "-c", "out.csv", PL, "-json", "run.json"], dir);
    assert.equal(r.code, 4, all(r));
    const record = await readRecord(`${dir}/run.json`);
    assert.equal(record.exit_code, 4);
    assert.deepEqual({ ...record, ...ZERO_COUNTS }, record);
    const m = samples(await Deno.readTextFile(`${dir}/InputPlugins/qc.prom`));
    const key = `csv ${dir}/out.csv`;
    assert.equal(m.get("qualys_connector_last_exit_code")!.get(key), "4");
    const success = Number(m.get("qualys_connector_last_success_timestamp_seconds")!.get(key));
    const last = Number(m.get("qualys_connector_last_run_timestamp_seconds")!.get(key));
    assert.ok(success > 0 && success <= last, `${success} ${last}`);
    const status = await run(["-status", PL], dir);
    assert.match(status.stdout, /last run: +\S+ \(just now\), exit 4 after [^:]+: .*cut\.xml/);
    assert.match(status.stdout, /last success: +\S+ \(just now\), exit 0 after/);
  });
});

Deno.test("a metrics file of another exporter: refused before the run starts (exit 7), left as it was; the JSON record says why", async () => {
  await withYaml("", async (dir) => {
    const foreign = "# TYPE node_cpu_seconds_total counter\nnode_cpu_seconds_total 7\n";
    await Deno.writeTextFile(`${dir}/node.prom`, foreign);
    const r = await run(
      ["-r", SAMPLE, "-c", "out.csv", PL, "-metrics", "node.prom", "-json", "run.json"],
      dir,
    );
    assert.equal(r.code, 7, all(r));
    assert.equal(await Deno.readTextFile(`${dir}/node.prom`), foreign);
    assert.throws(() => Deno.statSync(`${dir}/out.csv`));
    const record = await readRecord(`${dir}/run.json`);
    assert.equal(record.exit_code, 7);
    assert.match(record.error as string, /node\.prom|not written: it holds metrics/);
    assert.equal(r.stdout.match(/holds metrics that are not the connector's/g)?.length, 1);
  });
});

Deno.test("a record that cannot be written: the run is done, the others are written, exit 7 instead of 0", async () => {
  await withYaml("", async (dir) => {
    const r = await run(
      ["-r", SAMPLE, "-c", "out.csv", PL, "-json", "no/such/dir/run.json", "-metrics", "qc.prom"],
      dir,
    );
    assert.equal(r.code, 7, all(r));
    assert.match(
      r.stdout,
      /\[ERROR\] no\/such\/dir\/run\.json: cannot write the run record .*: check that its directory exists/,
    );
    assert.ok(Deno.statSync(`${dir}/out.csv`).size > 0);
    const m = samples(await Deno.readTextFile(`${dir}/qc.prom`));
    assert.equal(m.get("qualys_connector_last_exit_code")!.get(`csv ${dir}/out.csv`), "0");
  });
});

/** A work directory with a YAML for the Qualys simulator (a report template), and the simulator. */
async function withQualys(
  script: Parameters<typeof startQualysSim>[0],
  yamlExtra: string,
  body: (dir: string, sim: QualysSim) => Promise<void>,
): Promise<void> {
  const sim = await startQualysSim(script, { ca: CA });
  try {
    await withYaml("", async (dir) => {
      await Deno.writeTextFile(`${dir}/ca.pem`, sim.caPem);
      await Deno.writeTextFile(
        `${dir}/InputPlugins/QualysGuard.yaml`,
        `user_id: sim_user\npassword: 'sim_pass'\ntemplate_id: 424242\nurl: ${sim.url}\n` +
          `ca_file: ${dir}/ca.pem\npoll_interval: 0.01\njson_file: ../run.json\n${yamlExtra}`,
      );
      await body(dir, sim);
    });
  } finally {
    await sim.shutdown();
  }
}

Deno.test("Qualys refuses the login: exit 3, the calls and bytes it took, in the record; -status: never a success", async () => {
  await withQualys({ reports: { "424242": SAMPLE }, password: "other" }, "", async (dir, sim) => {
    const r = await run(["-c", "out.csv", PL], dir);
    assert.equal(r.code, 3, all(r));
    await sim.idle();
    const record = await readRecord(`${dir}/run.json`);
    assert.equal(record.exit_code, 3);
    assert.match(record.error as string, /Bad Login\/Password/);
    assert.ok(sim.log.length >= 1);
    assert.equal(record.api_calls, sim.log.length);
    assert.equal(record.bytes_downloaded, sim.log.reduce((n, e) => n + e.bytes, 0));
    const status = await run(["-status", PL], dir);
    assert.match(status.stdout, /exit 3 after .*Bad Login/);
    assert.match(status.stdout, /last success: +never\n/);
  });
});

Deno.test("-multiinfo: one record and one series for the run (worst status, counts summed, the first error named), the history per template", async () => {
  await withQualys({ reports: { "424242": SAMPLE, "535353": SAMPLE } }, "", async (dir, sim) => {
    const r = await run(
      ["-multiinfo", "424242,111,535353", "-c", "Output.csv", PL, "-metrics", "qc.prom"],
      dir,
    );
    assert.equal(r.code, 3, all(r));
    await sim.idle();
    const record = await readRecord(`${dir}/run.json`);
    assert.equal(record.destination, `csv ${dir}/Output.csv`);
    assert.equal(record.exit_code, 3);
    assert.match(record.error as string, /^template 111: .*template_id/);
    assert.equal(record.results_sent, 46);
    assert.equal(record.hosts_sent, 8);
    assert.equal(record.api_calls, sim.log.length);
    const m = samples(await Deno.readTextFile(`${dir}/qc.prom`));
    assert.deepEqual([...m.get("qualys_connector_last_exit_code")!], [[record.destination, "3"]]);
    const status = await run(["-status", PL], dir);
    assert.match(status.stdout, /: 3 destinations\n/);
    assert.match(
      status.stdout,
      /Output\.csv \(111\)\n {2}source: +report\n {2}last run: .*exit 3 /,
    );
    assert.match(
      status.stdout,
      /Output\.csv \(424242\)\n {2}source: +report\n {2}last run: .*exit 0 /,
    );
  });
});

Deno.test("SIGTERM while the report is made: the record, the metrics and the history say 143 and the signal", async () => {
  await withQualys(
    { reports: { "424242": SAMPLE }, runningPolls: 1_000_000 },
    "metrics_file: qc.prom\n",
    async (dir) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: connectorArgs(["-c", "out.csv", PL, "-stderr"]),
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const guard = setTimeout(() => child.kill("SIGKILL"), HANG_GUARD_MS); // a guard, not a wait
      try {
        const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
        let seen = "";
        while (!/Launching a report of template 424242/.test(seen)) {
          const { value, done } = await reader.read();
          if (done) break;
          seen += value;
        }
        child.kill("SIGTERM");
        for (let r = await reader.read(); !r.done; r = await reader.read()) seen += r.value;
        assert.equal((await child.status).code, 143, seen);
        const record = await readRecord(`${dir}/run.json`);
        assert.equal(record.exit_code, 143);
        assert.equal(record.error, "Stopped by SIGTERM (exit 143)");
        const m = samples(await Deno.readTextFile(`${dir}/InputPlugins/qc.prom`));
        assert.equal(m.get("qualys_connector_last_exit_code")!.get(`csv ${dir}/out.csv`), "143");
        const status = await run(["-status", PL], dir);
        assert.match(status.stdout, /exit 143 after .*: Stopped by SIGTERM/);
      } finally {
        clearTimeout(guard);
      }
    },
  );
});

Deno.test("a Defense Center: sent (exit 0), unreachable (exit 5: nothing counted), rejecting commands (exit 6: what it took, and why)", async () => {
  await using dir = await workDir("qc-monitoring-");
  const dc = await startDcSim({}, { ca: CA });
  const faulty = await startFaultyDc({ data: { type: 4, text: "Internal failure" } }, { ca: CA });
  try {
    await Deno.writeFile(`${dir.path}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const args = (port: number) => [
      "-server=127.0.0.1",
      `-port=${port}`,
      "-pa",
      "pw",
      "-r",
      SAMPLE,
      "-json",
      "run.json",
    ];
    const ok = await run(args(dc.port), dir.path);
    assert.equal(ok.code, 0, all(ok));
    const sent = await readRecord(`${dir.path}/run.json`);
    assert.equal(sent.destination, `dc 127.0.0.1:${dc.port}`);
    assert.equal(sent.results_sent, 23);
    assert.equal(sent.hosts_sent, 4);

    await Deno.writeFile(`${dir.path}/CertFile.pkcs12`, faulty.issueClient({ password: "pw" }));
    const rejected = await run(args(faulty.port), dir.path);
    assert.equal(rejected.code, 6, all(rejected));
    const six = await readRecord(`${dir.path}/run.json`);
    assert.equal(six.exit_code, 6);
    assert.ok(typeof six.error === "string" && six.error.length > 0);
    assert.equal(six.results_sent, 23);
    assert.equal(six.lines_sent, sent.lines_sent);

    const port = dc.port;
    await dc.shutdown();
    const gone = await run(args(port), dir.path);
    assert.equal(gone.code, 5, all(gone));
    const five = await readRecord(`${dir.path}/run.json`);
    assert.equal(five.exit_code, 5);
    assert.match(five.error as string, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.deepEqual({ ...five, ...ZERO_COUNTS }, five);
  } finally {
    await dc.shutdown().catch(() => {});
    await faulty.shutdown();
  }
});

Deno.test("source: detections: the record's api_calls and bytes_downloaded are the Qualys traffic, its checkpoint the state's; -status shows it", async () => {
  const sub = new VmdrSubscription({ seed: 11, hosts: 30, detectionsPerHost: 6, qids: 60 });
  const sim = await startQualysSim({ vmdr: { subscription: sub } }, { ca: CA });
  try {
    await withYaml("", async (dir) => {
      await Deno.writeTextFile(`${dir}/ca.pem`, sim.caPem);
      await Deno.writeTextFile(
        `${dir}/InputPlugins/QualysGuard.yaml`,
        `user_id: sim_user\npassword: 'sim_pass'\nurl: ${sim.url}\nca_file: ${dir}/ca.pem\n` +
          "source: detections\njson_file: run.json\nmetrics_file: qc.prom\n",
      );
      for (const night of [1, 2]) {
        const before = sim.log.length;
        const r = await run(["-c", "out.csv", PL], dir);
        assert.equal(r.code, 0, all(r));
        await sim.idle();
        const record = await readRecord(`${dir}/InputPlugins/run.json`);
        const calls = sim.log.slice(before);
        assert.equal(record.source, "detections");
        assert.equal(record.api_calls, calls.length, `night ${night}`);
        assert.equal(record.bytes_downloaded, calls.reduce((n, e) => n + e.bytes, 0));
        assert.match(
          all(r),
          new RegExp(`${record.api_calls} API calls, ${record.bytes_downloaded} bytes downloaded`),
        );
        const state = `${dir}/InputPlugins/QualysGuard.state`;
        const sync = [...Deno.readDirSync(state)].find((e) => /^sync-.*\.json$/.test(e.name))!;
        const checkpoint = JSON.parse(Deno.readTextFileSync(`${state}/${sync.name}`)).checkpoint;
        assert.match(checkpoint, ISO);
        assert.equal(record.checkpoint, checkpoint);
        const status = await run(["-status", PL], dir);
        assert.equal(status.code, 0, all(status));
        assert.match(status.stdout, new RegExp(`\\n  checkpoint: +${checkpoint}\\n`));
        assert.match(status.stdout, /\n {2}source: +detections\n/);
        sub.advanceDay({ fixShare: 0.2 });
      }
    });
  } finally {
    await sim.shutdown();
  }
});
