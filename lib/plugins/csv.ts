/**
 * The `csv` input plugin: passes on an existing host input command file (`-plugininfo FILE`, or
 * `-` for stdin), as the Cisco SDK's csv plugin did, but checks every line first
 * (`checkCommandLine`: a known command, case-sensitive, with no more fields than it takes, and an
 * AddScanResult's ID headers) and sends nothing when a line is wrong.
 *
 * @module
 */

import { checkCommandLine } from "../host_input/grammar.ts";
import {
  ConfigError,
  exitCodeOf,
  fileErrorReason,
  isWrongPath,
  LocalIoError,
  UsageError,
} from "../errors.ts";
import { openSpoolFile, type SpoolFile } from "../sinks/spool_file.ts";
import { type ByteReader, guardReads } from "../util/bytes.ts";
import type {
  Checked,
  CheckStep,
  InputPlugin,
  Job,
  PluginContext,
  Prepared,
  StatusPlace,
} from "./plugin.ts";

const MAX_PROBLEMS = 20;

/**
 * Reads lines from a byte reader in bounded memory; a CR before the newline is dropped.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const bytes = new TextEncoder().encode("SetSource,x\r\nScanFlush");
 * let done = false;
 * const reader = { read: (p: Uint8Array) => {
 *   if (done) return Promise.resolve(null);
 *   done = true;
 *   p.set(bytes);
 *   return Promise.resolve(bytes.length);
 * } };
 * assert.deepEqual(await Array.fromAsync(readLines(reader)), ["SetSource,x", "ScanFlush"]);
 * ```
 */
export async function* readLines(reader: ByteReader): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(1 << 20);
  let pending = "";
  for (;;) {
    const n = await reader.read(buf);
    if (n === null) break;
    pending += decoder.decode(buf.subarray(0, n), { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) yield l.endsWith("\r") ? l.slice(0, -1) : l;
  }
  pending += decoder.decode();
  if (pending) yield pending;
}

function inputName(input: string): string {
  return input === "-" ? "stdin" : input;
}

async function openInput(input: string | undefined): Promise<Deno.FsFile | typeof Deno.stdin> {
  if (input === undefined) {
    throw new UsageError("The csv plugin sends the command file named by -plugininfo (- = stdin)");
  }
  try {
    return input === "-" ? Deno.stdin : await Deno.open(input);
  } catch (error) {
    if (!isWrongPath(error)) throw cannotRead(input)(error);
    throw new UsageError(`Cannot open the command file ${input}: ${fileErrorReason(error)}`, {
      cause: error,
    });
  }
}

function cannotRead(input: string) {
  return (error: unknown) =>
    new LocalIoError(
      `cannot read the command file: ${fileErrorReason(error)}: check the -plugininfo path`,
      { path: inputName(input), cause: error, usage: isWrongPath(error) },
    );
}

/** Checks every line of `input` and spools the commands; throws when any line is wrong. */
async function readChecked(
  input: string,
  reader: ByteReader,
): Promise<{ spool: SpoolFile; lines: number; commands: number }> {
  const spool = await openSpoolFile();
  try {
    const problems: string[] = [];
    let n = 0, commands = 0;
    const out: string[] = [];
    const encoder = new TextEncoder();
    for await (const line of readLines(guardReads(reader, cannotRead(input)))) {
      n++;
      const problem = checkCommandLine(line);
      if (problem) {
        if (problems.length < MAX_PROBLEMS) problems.push(`${inputName(input)}:${n}: ${problem}`);
        else if (problems.length === MAX_PROBLEMS) problems.push("(more problems are not shown)");
        continue;
      }
      if (/^\s*(#|$)/.test(line)) continue;
      commands++;
      out.push(`${line}\n`);
      if (out.length >= 4096) await spool.write(encoder.encode(out.splice(0).join("")));
    }
    await spool.write(encoder.encode(out.join("")));
    spool.close();
    if (problems.length > 0) {
      throw new ConfigError(
        `${
          problems.length > MAX_PROBLEMS
            ? `${MAX_PROBLEMS}+ lines are not host input commands`
            : problems.length === 1
            ? "1 line is not a host input command"
            : `${problems.length} lines are not host input commands`
        }; nothing was sent:\n  ${problems.join("\n  ")}`,
        { file: inputName(input) },
      );
    }
    return { spool, lines: n, commands };
  } catch (error) {
    await spool.remove();
    throw error;
  }
}

/** The `csv` plugin. */
export const csvPlugin: InputPlugin = {
  name: "csv",

  prepare(context: PluginContext): Promise<Prepared> {
    return Promise.resolve({ dcTrust: {}, jobs: jobsOf(context) });
  },

  async check(context: PluginContext): Promise<Checked> {
    return { steps: await checkFile(context), dcTrust: {} };
  },

  status(): Promise<StatusPlace> {
    return Promise.reject(
      new UsageError("-status shows the state of QualysGuard runs: the csv plugin keeps none"),
    );
  },
};

/** The one job: the command file, checked whole, handed over as it is. */
async function* jobsOf(context: PluginContext): AsyncGenerator<Job> {
  const { cli, log } = context;
  yield {
    async collect() {
      const input = cli.plugininfo;
      const reader = await openInput(input);
      let checked: Awaited<ReturnType<typeof readChecked>>;
      try {
        checked = await readChecked(input!, reader);
      } finally {
        if (reader !== Deno.stdin) (reader as Deno.FsFile).close();
      }
      const { spool, lines, commands } = checked;
      log.info(`Checked ${lines} lines of ${inputName(input!)}: ${commands} commands`);
      return {
        content: { kind: "commands", open: () => spool.open(), lines, commands },
        dispose: () => spool.remove(),
      };
    },
  };
}

/** `-check`: the command file's lines and commands, or what is wrong with it. */
async function checkFile(context: PluginContext): Promise<CheckStep[]> {
  const input = context.cli.plugininfo;
  try {
    const reader = await openInput(input);
    try {
      const { spool, lines, commands } = await readChecked(input!, reader);
      await spool.remove();
      return [{
        ok: true,
        what: `command file ${inputName(input!)}`,
        detail: `${lines} lines, ${commands} commands`,
      }];
    } finally {
      if (reader !== Deno.stdin) (reader as Deno.FsFile).close();
    }
  } catch (error) {
    return [{
      ok: false,
      what: "command file",
      detail: (error as Error).message,
      code: exitCodeOf(error),
      fatal: true,
    }];
  }
}
