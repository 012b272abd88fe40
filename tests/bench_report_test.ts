/**
 * The bench's reporting, without a long run: the spread of a figure, targets met, missed or
 * skipped, the exit status, and a case in its own process handing its targets to `bench.ts`.
 */

import assert from "node:assert/strict";
import {
  BenchReport,
  exitStatus,
  formatSpread,
  formatTarget,
  mapSpread,
  noiseLine,
  RESULTS_ENV,
  runCase,
  spread,
  summaryLines,
  target,
} from "../scripts/bench_report.ts";
import { formatMachine, type MachineState, machineState } from "../scripts/bench_machine.ts";
import { withWorkDir } from "./_workdir.ts";

const MACHINE_URL = new URL("../scripts/bench_machine.ts", import.meta.url).href;
const REPORT_URL = new URL("../scripts/bench_report.ts", import.meta.url).href;

Deno.test("spread: min, median and max of the runs, in any order; an even count's median is the middle mean", () => {
  assert.deepEqual(spread([5, 1, 4, 2, 3]), { min: 1, median: 3, max: 5, runs: 5 });
  assert.deepEqual(spread([10, 40, 20, 30]), { min: 10, median: 25, max: 40, runs: 4 });
  assert.deepEqual(spread([7]), { min: 7, median: 7, max: 7, runs: 1 });
  assert.throws(() => spread([]), RangeError);
  assert.throws(() => spread([1, NaN]), RangeError);
  assert.throws(() => spread([1, Infinity]), RangeError);
});

Deno.test("mapSpread: a figure derived run by run keeps min below max (seconds → MB/s)", () => {
  const mbps = mapSpread(spread([1, 2, 4]), (s) => 100 / s);
  assert.deepEqual(mbps, { min: 25, median: 50, max: 100, runs: 3 });
});

Deno.test("formatSpread: the median first, then min–max and the runs", () => {
  assert.equal(
    formatSpread(spread([1.234, 1.5, 1.1]), { digits: 2, unit: " s" }),
    "1.23 s (1.10–1.50, 3 runs)",
  );
  assert.equal(
    formatSpread(spread([0.02, 0.03]), { scale: 100, digits: 1, unit: " %" }),
    "2.5 % (2.0–3.0, 2 runs)",
  );
  assert.equal(formatSpread(spread([2.5]), { prefix: "×", digits: 2 }), "×2.50 (1 run)");
  assert.equal(formatSpread(150_000), "150000");
});

Deno.test("target: at least / at most, judged on the median or on the worst run; no figure is SKIPPED", () => {
  const speed = spread([140, 160, 170]);
  assert.equal(target("s", speed, { atLeast: 150 }).status, "MET");
  assert.equal(target("s", speed, { atLeast: 150, judge: "worst" }).status, "MISSED");
  assert.equal(target("s", speed, { atLeast: 161 }).status, "MISSED");
  const rss = spread([90, 95, 101]);
  assert.equal(target("r", rss, { atMost: 100 }).status, "MET");
  assert.equal(target("r", rss, { atMost: 100, judge: "worst" }).status, "MISSED");
  assert.equal(target("r", 100, { atMost: 100 }).status, "MET"); // the limit itself meets it
  assert.equal(target("x", undefined, { atLeast: 1 }).status, "SKIPPED");
  assert.equal(target("x", NaN, { atLeast: 1 }).status, "SKIPPED");
});

Deno.test("formatTarget: the figure, the limit as written for people, and the verdict", () => {
  const t = target("incremental bytes", spread([0.024, 0.021, 0.03]), {
    atMost: 0.05,
    scale: 100,
    digits: 2,
    unit: " %",
  }, "detections");
  assert.equal(
    formatTarget(t),
    "  incremental bytes: 2.40 % (2.10–3.00, 3 runs), target ≤ 5 %: MET",
  );
  const r = target("peak RSS", spread([90, 99]), { atMost: 100, judge: "worst", unit: " MiB" });
  assert.match(formatTarget(r), /target ≤ 100 MiB \(every run\): MET$/);
  const x = target("against xmlwf", spread([1.2]), { atLeast: 0.7, prefix: "×", digits: 2 });
  assert.match(formatTarget(x), /×1\.20 \(1 run\), target ≥ ×0\.7: MET$/);
});

Deno.test("exitStatus: 0 when every target is met (skipped ones too), 1 on a missed one, 2 when a part failed", () => {
  const met = target("a", 2, { atLeast: 1 });
  const missed = target("b", 0, { atLeast: 1 });
  const skipped = target("c", undefined, { atLeast: 1 });
  assert.equal(exitStatus([met, skipped], []), 0);
  assert.equal(exitStatus([met, missed], []), 1);
  assert.equal(exitStatus([met], ["[reports] send: refused"]), 2);
  assert.equal(exitStatus([missed], ["[reports] send: refused"]), 2);
});

Deno.test("summaryLines: counts, each target not met, the noise and the exit status", () => {
  const lines = summaryLines([
    target("fast", spread([90, 100, 110]), { atLeast: 50 }, "reports"),
    target("small", spread([120, 130]), { atMost: 100, judge: "worst" }, "reports"),
  ], []);
  assert.equal(lines[0], "targets: 1 met, 1 missed, 0 skipped");
  assert.match(lines[1]!, /^MISSED: \[reports\] small: 125 \(120–130, 2 runs\), target ≤ 100/);
  assert.match(lines.at(-2)!, /^noise: .* up to 20 % .*widest: fast\)$/);
  assert.equal(lines.at(-1), "exit status 1: a target was missed");
  // a limit every run must keep (memory, time) is no speed figure: not counted as noise
  const rss = target("rss", spread([50, 90]), { atMost: 100, judge: "worst" });
  assert.equal(noiseLine([rss]), "noise: no speed figure was taken over several runs");
  assert.equal(
    noiseLine([target("one", 3, { atLeast: 1 })]),
    "noise: no speed figure was taken over several runs",
  );
});

Deno.test("BenchReport: prints each target as stated; alone, ends with its summary and exit status", async () => {
  const printed: string[] = [];
  const report = new BenchReport("ledger", { print: (l) => printed.push(l) });
  assert.equal(
    report.target("lines, second night / first", spread([0.1, 0.12]), { atMost: 0.2 }),
    true,
  );
  assert.equal(report.target("record size", spread([12, 11]), { atMost: 10, unit: " MB" }), false);
  await report.part("explodes", () => Promise.reject(new Error("the simulator stopped\nstack")));
  assert.match(printed[0]!, /^ {2}lines, second night \/ first: .*: MET$/);
  assert.match(printed[1]!, /^ {2}record size: 12 MB \(11–12, 2 runs\), target ≤ 10 MB: MISSED$/);
  assert.deepEqual(report.failed, ["[ledger] explodes: the simulator stopped"]);
  const saved = Deno.env.get(RESULTS_ENV);
  Deno.env.delete(RESULTS_ENV);
  try {
    assert.equal(await report.end(), 2);
  } finally {
    if (saved !== undefined) Deno.env.set(RESULTS_ENV, saved);
  }
  assert.ok(
    printed.includes("MISSED: [ledger] record size: 12 MB (11–12, 2 runs), target ≤ 10 MB"),
  );
  assert.equal(printed.at(-1), "exit status 2: a part failed to run (its figures are missing)");
});

async function caseFile(dir: string, body: string): Promise<string> {
  const path = `${dir}/bench_case.ts`;
  await Deno.writeTextFile(
    path,
    `import { BenchReport, spread } from "${REPORT_URL}";\n` +
      `const report = new BenchReport("tiny");\n${body}\nDeno.exit(await report.end());\n`,
  );
  return path;
}

Deno.test("a case in its own file: alone, it exits 1 on a missed target; under bench.ts, runCase gathers its targets", async () => {
  await withWorkDir(async (dir) => {
    const path = await caseFile(
      dir,
      'report.target("speed", spread([3, 4, 5]), { atLeast: 10 });\n' +
        'report.target("memory", spread([1, 2]), { atMost: 10, judge: "worst" });',
    );
    const { [RESULTS_ENV]: _, ...env } = Deno.env.toObject();
    const alone = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", path],
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(alone.stdout);
    assert.equal(alone.code, 1, text + new TextDecoder().decode(alone.stderr));
    assert.match(text, /speed: 4 \(3–5, 3 runs\), target ≥ 10: MISSED/);
    assert.match(text, /exit status 1: a target was missed/);

    const gathered = await runCase(path);
    assert.deepEqual(gathered.failed, []);
    assert.deepEqual(
      gathered.targets.map((t) => [t.case, t.name, t.status]),
      [["tiny", "speed", "MISSED"], ["tiny", "memory", "MET"]],
    );
    assert.equal(exitStatus(gathered.targets, gathered.failed), 1);
  });
});

Deno.test("runCase: a case that dies before stating its targets is a failed part (exit status 2)", async () => {
  await withWorkDir(async (dir) => {
    const path = await caseFile(dir, 'throw new Error("a case that dies (this test expects it)");');
    const gathered = await runCase(path);
    assert.equal(gathered.targets.length, 0);
    assert.equal(gathered.failed.length, 1);
    assert.match(gathered.failed[0]!, /ended with exit status 1 before stating its targets/);
    assert.equal(exitStatus(gathered.targets, gathered.failed), 2);
  });
});

Deno.test("machineState, as the bench (-A) sees it: cores, memory, load; on Linux the CPUs' busy share", async () => {
  // Deno lets only --allow-all read /proc: in a process of its own, as the bench task runs
  const script = `import { machineState } from "${MACHINE_URL}";\n` +
    "console.log(JSON.stringify(await machineState(50)));";
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const m: MachineState = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(m.cores >= 1 && m.memoryGiB.total > 0 && m.loadavg.length === 3, JSON.stringify(m));
  if (Deno.build.os === "linux") {
    assert.ok(m.busy !== undefined && m.busy >= 0 && m.busy <= 1, String(m.busy));
  }
  assert.match(formatMachine(m), /^\d+ cores.*GiB memory .*\n {2}load average \d/);
});

Deno.test("machineState without --allow-all: what needs /proc is left out, and said so", async () => {
  const m = await machineState(10);
  assert.ok(m.cores >= 1);
  assert.match(formatMachine(m), /^\d+ cores/);
});
