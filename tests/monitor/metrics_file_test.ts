import assert from "node:assert/strict";
// A maintained npm parser of the text format (a port of the Prometheus Python client's sample
// parser) is the oracle for lines, labels and escapes; it does not check the rules between
// lines, which strictFamilies() below checks from the format's specification.
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { LocalIoError } from "../../lib/errors.ts";
import {
  checkMetricsFile,
  escapeLabelValue,
  METRICS,
  metricsText,
  writeMetricsFile,
} from "../../lib/monitor/metrics_file.ts";
import { type RunRecord, runRecord } from "../../lib/monitor/run_record.ts";

interface OracleFamily {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
const oracle = parsePrometheusTextFormat as (text: string) => OracleFamily[];

// The exposition format's rules between lines (prometheus.io/docs/instrumenting/
// exposition_formats, "Text format details"): at most one HELP and one TYPE line per metric
// name, the TYPE before its samples, a family's samples together, no series twice, a newline at
// the end. Returns the families' names in order.
function strictFamilies(text: string): string[] {
  assert.ok(text.endsWith("\n"), "the last line ends with a newline");
  const names: string[] = [], seen = new Set<string>(), series = new Set<string>();
  let current = "";
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const name = meta ? meta[2]! : /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)?.[1];
    assert.ok(name, `a line of the format: ${JSON.stringify(line)}`);
    if (name !== current) {
      assert.ok(!seen.has(name), `${name} in two places`);
      seen.add(name);
      names.push(name);
      current = name;
      assert.equal(meta?.[1], "HELP", `${name} starts with its HELP line`);
    } else if (meta) {
      assert.equal(meta[1], "TYPE", `${name}: one HELP line`);
      assert.equal(meta[3], "gauge");
    } else {
      const key = line.slice(0, line.lastIndexOf(" "));
      assert.ok(!series.has(key), `${key} twice`);
      series.add(key);
    }
  }
  return names;
}

function record(destination: string, exitCode: number, overrides: Partial<RunRecord> = {}) {
  return {
    ...runRecord({
      destination,
      source: "detections",
      started: new Date("2026-08-01T02:00:00Z"),
      finished: new Date("2026-08-01T02:10:00.5Z"),
      exitCode,
      error: exitCode ? "failed" : undefined,
      counts: { hosts_sent: 12, results_sent: 480, api_calls: 9, bytes_downloaded: 123456 },
    }),
    ...overrides,
  };
}

// Every series of the text, as `name{labels}` → value, through the oracle.
function series(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of oracle(text)) {
    for (const m of f.metrics) {
      const labels = Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
      out.set(`${f.name}{${labels.join(",")}}`, m.value);
    }
  }
  return out;
}

Deno.test("metricsText() writes every metric as a gauge with HELP, TYPE and the destination label, in the text format", () => {
  const text = metricsText("", record("dc 10.0.0.1:8307", 0), { destination: "dc 10.0.0.1:8307" });
  assert.deepEqual(strictFamilies(text), METRICS.map((m) => m.name));
  const families = oracle(text);
  assert.deepEqual(families.map((f) => [f.name, f.type]), METRICS.map((m) => [m.name, "GAUGE"]));
  assert.deepEqual(families.map((f) => f.help), METRICS.map((m) => m.help));
  const got = series(text), d = '{destination="dc 10.0.0.1:8307"}';
  const finished = String(Date.parse("2026-08-01T02:10:00Z") / 1000);
  assert.equal(got.get(`qualys_connector_last_run_timestamp_seconds${d}`), finished);
  assert.equal(got.get(`qualys_connector_last_success_timestamp_seconds${d}`), finished);
  assert.equal(got.get(`qualys_connector_last_exit_code${d}`), "0");
  assert.equal(got.get(`qualys_connector_last_duration_seconds${d}`), "600.5");
  assert.equal(got.get(`qualys_connector_hosts_sent${d}`), "12");
  assert.equal(got.get(`qualys_connector_results_sent${d}`), "480");
  assert.equal(got.get(`qualys_connector_hosts_cleared${d}`), "0");
  assert.equal(got.get(`qualys_connector_api_calls${d}`), "9");
  assert.equal(got.get(`qualys_connector_bytes_downloaded${d}`), "123456");
  for (
    const name of [
      "last_run_timestamp_seconds",
      "last_success_timestamp_seconds",
      "last_exit_code",
      "last_duration_seconds",
      "hosts_sent",
      "results_sent",
      "hosts_cleared",
      "hosts_unchanged",
      "api_calls",
      "bytes_downloaded",
    ]
  ) assert.ok(got.has(`qualys_connector_${name}${d}`), name);
});

Deno.test("metricsText() escapes backslash, double quote and newline in a label value", () => {
  const destination = 'csv C:\\out "new"\nfile.csv';
  const text = metricsText("", record(destination, 0), { destination, variant: "t\\1" });
  strictFamilies(text);
  assert.ok(text.includes(`destination="${escapeLabelValue(destination)}"`));
  const labels = oracle(text)[0]!.metrics[0]!.labels;
  assert.deepEqual(labels, { destination, variant: "t\\1" });
  // and our own reading of it gives them back: the series is replaced, not added
  const again = metricsText(text, record(destination, 5), { destination, variant: "t\\1" });
  assert.equal(oracle(again)[0]!.metrics.length, 1);
});

Deno.test("metricsText() keeps the other destinations' series and replaces its own", () => {
  let text = metricsText("", record("dc b", 0), { destination: "dc b" });
  text = metricsText(text, record("dc a", 0), { destination: "dc a" });
  text = metricsText(text, record("dc a", 0), { destination: "dc a", variant: "42" });
  text = metricsText(text, record("dc b", 5, { hosts_sent: 1 }), { destination: "dc b" });
  strictFamilies(text);
  const got = series(text);
  assert.equal(got.size, METRICS.length * 3);
  assert.equal(got.get('qualys_connector_last_exit_code{destination="dc a"}'), "0");
  assert.equal(got.get('qualys_connector_last_exit_code{destination="dc a",variant="42"}'), "0");
  assert.equal(got.get('qualys_connector_last_exit_code{destination="dc b"}'), "5");
  assert.equal(got.get('qualys_connector_hosts_sent{destination="dc b"}'), "1");
  // a failed run keeps its last success from the file when it is not told
  assert.equal(
    got.get('qualys_connector_last_success_timestamp_seconds{destination="dc b"}'),
    String(Date.parse("2026-08-01T02:10:00Z") / 1000),
  );
});

Deno.test("metricsText() takes the last success it is told, 0 for never", () => {
  const failed = record("dc a", 3);
  const told = metricsText("", failed, {
    destination: "dc a",
    lastSuccess: "2026-07-30T02:00:00Z",
  });
  assert.equal(
    series(told).get('qualys_connector_last_success_timestamp_seconds{destination="dc a"}'),
    String(Date.parse("2026-07-30T02:00:00Z") / 1000),
  );
  const never = metricsText(told, failed, { destination: "dc a", lastSuccess: null });
  assert.equal(
    series(never).get('qualys_connector_last_success_timestamp_seconds{destination="dc a"}'),
    "0",
  );
});

Deno.test("metricsText() keeps another version's families for the other destinations", () => {
  const newer = "# HELP qualys_connector_future_total Something new.\n" +
    "# TYPE qualys_connector_future_total counter\n" +
    'qualys_connector_future_total{destination="dc a"} 3\n' +
    'qualys_connector_future_total{destination="dc b"} 4\n';
  const text = metricsText(newer, record("dc a", 0), { destination: "dc a" });
  const got = series(text);
  assert.equal(got.get('qualys_connector_future_total{destination="dc b"}'), "4");
  assert.equal(got.has('qualys_connector_future_total{destination="dc a"}'), false);
});

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qc-metrics-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("writeMetricsFile() writes a 0644 file and leaves only it and its lock beside it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/qualys_connector.prom`;
    await writeMetricsFile(path, record("dc a", 0), { destination: "dc a" });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assert.deepEqual(names, [".qualys_connector.prom.lock", "qualys_connector.prom"]);
    await Deno.chmod(path, 0o640);
    await writeMetricsFile(path, record("dc b", 0), { destination: "dc b" });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    strictFamilies(await Deno.readTextFile(path));
  });
});

Deno.test("writeMetricsFile(): runs ending together all keep their series (the lock)", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/qc.prom`;
    const names = Array.from({ length: 12 }, (_, i) => `dc 10.0.0.${i}:8307`);
    await Promise.all(
      names.map((n) => writeMetricsFile(path, record(n, 0), { destination: n })),
    );
    const text = await Deno.readTextFile(path);
    strictFamilies(text);
    assert.equal(series(text).size, METRICS.length * names.length);
  });
});

Deno.test("writeMetricsFile() refuses, naming it, a file that holds other metrics or is not the format, and leaves it as it was", async () => {
  await withDir(async (dir) => {
    const cases = [
      {
        text: "# HELP node_load1 Load.\n# TYPE node_load1 gauge\nnode_load1 0.5\n",
        why: "it holds metrics that are not the connector's (node_load1)",
      },
      {
        text: "Hello, world\n",
        why: 'it is not a Prometheus text file the connector wrote (line 1: bad value ",")',
      },
      {
        text: 'qualys_connector_hosts_sent{destination="a} 1\n',
        why: "it is not a Prometheus text file the connector wrote (line 1: bad labels)",
      },
    ];
    for (const { text, why } of cases) {
      const path = `${dir}/other.prom`;
      await Deno.writeTextFile(path, text);
      const attempts = [
        () => checkMetricsFile(path),
        () => writeMetricsFile(path, record("dc a", 0), { destination: "dc a" }),
      ];
      for (const attempt of attempts) {
        await assert.rejects(attempt(), (error) => {
          assert.ok(error instanceof LocalIoError);
          assert.equal(error.path, path);
          assert.equal(error.exitCode, 7);
          assert.equal(
            error.message,
            `${path}: not written: ${why}: -metrics (metrics_file) needs a file of its own, ` +
              `such as ${dir}/qualys_connector.prom; remove this one only if nothing else ` +
              "writes it",
          );
          return true;
        });
      }
      assert.equal(await Deno.readTextFile(path), text);
    }
  });
});

Deno.test("writeMetricsFile() into a directory that does not exist is a LocalIoError naming the file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/missing/qc.prom`;
    await assert.rejects(
      writeMetricsFile(path, record("dc a", 0), { destination: "dc a" }),
      (error) => error instanceof LocalIoError && error.path === path && error.exitCode === 7,
    );
  });
});
