/**
 * Test helper: runs a command in `sh` after a setup line, such as a full disk. A full disk is
 * simulated with RLIMIT_FSIZE (`ulimit -f 1`, with SIGXFSZ ignored so that it does not kill the
 * process): a write past 1 KiB fails with EFBIG ("File too large"), as one on a full disk fails
 * with ENOSPC; no root, no tmpfs.
 */

import type { CliResult } from "./_cli.ts";

/** The setup line of a full disk: files cannot grow past 1 KiB. */
export const FULL_DISK = "trap '' XFSZ; ulimit -f 1";

/** Runs `command` (program and arguments) in `sh` after `setup`; stdin is closed. */
export async function runInShell(
  setup: string,
  command: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `${setup}; exec "$@"`, "sh", ...command],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}
