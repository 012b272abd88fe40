/**
 * One timed run of a command for `deno task bench`: wall time and peak RSS, read with
 * getrusage(RUSAGE_CHILDREN) through python3 (so no extra tool is needed), with an optional time
 * limit past which the command is killed (and waited for). Shared by the bench's case files.
 *
 * @module
 */

import { type Spread, spread } from "./bench_report.ts";

/** One run's figures. */
export interface Measure {
  /** Wall time, seconds. */
  seconds: number;
  /** Peak RSS of the command (the largest of its processes), MiB. */
  rssMiB: number;
  /** Its exit status (-999 when killed at the time limit). */
  code: number;
  /** Whether it ran past the time limit and was killed. */
  timedOut: boolean;
  /** Its standard output (with its standard error), when asked for with `capture`. */
  output: string;
}

/** Options for {@linkcode measure}. */
export interface MeasureOptions {
  /** Working directory. */
  cwd?: string;
  /** Environment variables added to this process's. */
  env?: Record<string, string>;
  /** Kill the command after this many seconds (0: no limit). @default {0} */
  timeoutSeconds?: number;
  /** Keep its standard output and standard error (else: output discarded, stderr shown). */
  capture?: boolean;
  /** Throw when it exits non-zero or times out. @default {true} */
  check?: boolean;
}

const RUSAGE = "import resource,subprocess,sys,time\n" +
  "limit=float(sys.argv[1]) or None\n" +
  "out=sys.stderr if sys.argv[2]=='capture' else subprocess.DEVNULL\n" +
  "t=time.perf_counter()\n" +
  "try: rc=subprocess.run(sys.argv[3:],stdout=out,timeout=limit).returncode\n" +
  "except subprocess.TimeoutExpired: rc=-999\n" +
  "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)";

/** Runs `cmd` once, timed, under getrusage. */
export async function measure(
  cmd: readonly string[],
  options: MeasureOptions = {},
): Promise<Measure> {
  const out = await new Deno.Command("python3", {
    args: [
      "-c",
      RUSAGE,
      String(options.timeoutSeconds ?? 0),
      options.capture ? "capture" : "discard",
      ...cmd,
    ],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: options.env } : {}),
    stdout: "piped",
    stderr: options.capture ? "piped" : "inherit",
  }).output();
  const output = options.capture ? new TextDecoder().decode(out.stderr) : "";
  const [seconds, rssKiB, code] = new TextDecoder().decode(out.stdout).trim().split(" ")
    .map(Number);
  const m: Measure = {
    seconds: seconds!,
    rssMiB: rssKiB! / 1024,
    code: code!,
    timedOut: code === -999,
    output,
  };
  if ((options.check ?? true) && m.code !== 0) {
    throw new Error(
      `${cmd.join(" ")} ${
        m.timedOut ? `ran past ${options.timeoutSeconds} s` : `exited with ${m.code}`
      }${output ? `:\n${output.slice(-2000)}` : ""}`,
    );
  }
  return m;
}

/** The spreads of several runs' time and peak RSS. */
export function spreads(runs: readonly Measure[]): { seconds: Spread; rssMiB: Spread } {
  return { seconds: spread(runs.map((m) => m.seconds)), rssMiB: spread(runs.map((m) => m.rssMiB)) };
}
