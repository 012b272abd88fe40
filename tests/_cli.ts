/** Test helper: runs the real entry point (`main.ts`) as a child process. */

import { connectorArgs } from "../scripts/connector_command.ts";

/** What a run printed and how it ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode runMain}. */
export interface RunMainOptions {
  /** Working directory. */
  cwd?: string;
  /** Environment variables (the only ones the run sees, with NO_COLOR=1). */
  env?: Record<string, string>;
  /** Text for stdin; stdin is closed when absent. */
  stdin?: string;
  /** Kills the run when aborted: a guard that turns a hang into a failed test. */
  signal?: AbortSignal;
}

/** Runs `main.ts` as the binary runs (permissions and V8 flags); stdin is closed unless `stdin` is given. */
export async function runMain(args: string[], options: RunMainOptions = {}): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: connectorArgs(args),
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    ...(options.signal ? { signal: options.signal } : {}),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
