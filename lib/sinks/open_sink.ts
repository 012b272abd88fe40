/**
 * Picks the sink for a destination: the CSV file (or stdout for `-csvfile -`) or the Defense
 * Center. With `-multiinfo`, each template writes its own file, `<id>_<name>` beside the named
 * one. Also checks the destination before the run's work ({@linkcode checkDestination}) and
 * before each job's ({@linkcode probeSink}), and removes what killed runs left behind
 * ({@linkcode removeStaleTempFiles}).
 *
 * @module
 */

import { removeStaleFiles } from "../cleanup.ts";
import { LocalIoError } from "../errors.ts";
import type { Log } from "../log/log.ts";
import type { DcOptions } from "../dc/dc_client.ts";
import { baseOf, dirOf } from "../util/atomic_file.ts";
import type { CommandSink } from "./sink.ts";
import {
  isCsvTempName,
  openCsvFileSink,
  probeCsvFile,
  resolveCsvTarget,
  stdoutSink,
} from "./csv_file_sink.ts";
import type { DcSinkLog } from "./dc_sink.ts";
import { probeSpoolDir } from "./spool_file.ts";
import { isTempFileName, systemTempDir } from "../util/temp_files.ts";

/** Where the commands go: a CSV file (`-` = stdout), or a Defense Center. */
export type Destination = { csvfile: string } | { dc: DcOptions };

/** Options for {@linkcode openSink} and {@linkcode destinationName}. */
export interface OpenSinkOptions {
  /** The variant of the destination a job writes (-multiinfo: the template ID). */
  variant?: string | undefined;
}

/**
 * `-multiinfo` names each template's CSV `<id>_<name>` in the named file's directory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(csvPathFor("out/Output.csv", "424242"), "out/424242_Output.csv");
 * assert.equal(csvPathFor("-", "424242"), "-");
 * ```
 */
export function csvPathFor(csvfile: string, templateId: string): string {
  if (csvfile === "-") return "-";
  const slash = csvfile.lastIndexOf("/");
  return `${csvfile.slice(0, slash + 1)}${templateId}_${csvfile.slice(slash + 1)}`;
}

/**
 * Checks, before any work, that `-csvfile` can take `-multiinfo`'s files: each template writes
 * its own `<id>_<name>` beside the named one, which makes sense only beside a regular file (or a
 * new name). Beside a FIFO, a device or `/dev/stdout` it would create regular files such as
 * `/dev/424242_stdout`; `-` (stdout) takes every template's commands, one after another.
 *
 * @throws {LocalIoError} (exit 2) When the named path is not a regular file, nor a new name.
 */
export async function checkMultiinfoTarget(csvfile: string): Promise<void> {
  if (csvfile === "-") return;
  const target = await resolveCsvTarget(csvfile);
  if (target.kind === "file") return;
  const kind = target.kind === "stream"
    ? (await Deno.stat(target.path)).isFifo ? "a FIFO" : "a character device"
    : `this program's ${target.kind}`;
  throw new LocalIoError(
    `is ${kind}, not a regular file: with -multiinfo each template writes its own file ` +
      `beside the named one (${csvPathFor(csvfile, "<template id>")}), so -csvfile must name a ` +
      "regular file or a new one; use -csvfile - to write every template's commands to stdout",
    { path: csvfile, usage: true },
  );
}

function csvPath(csvfile: string, variant: string | undefined): string {
  return variant === undefined ? csvfile : csvPathFor(csvfile, variant);
}

/** The destination in words, for messages: a file, "stdout", or "the Defense Center <host>". */
export function destinationName(destination: Destination, options: OpenSinkOptions = {}): string {
  if ("dc" in destination) return `the Defense Center ${destination.dc.host}`;
  const path = csvPath(destination.csvfile, options.variant);
  return path === "-" ? "stdout" : path;
}

/**
 * Opens the sink for `destination`. The Defense Center's modules (TLS, the protocol) load only
 * when one is used.
 */
export async function openSink(
  destination: Destination,
  options: OpenSinkOptions & { log: DcSinkLog },
): Promise<CommandSink> {
  if ("dc" in destination) {
    const { openDcSink } = await import("./dc_sink.ts");
    return await openDcSink(destination.dc, { log: options.log });
  }
  const path = csvPath(destination.csvfile, options.variant);
  return path === "-" ? stdoutSink() : await openCsvFileSink(path);
}

/**
 * Checks the run's destination once, before any job's Qualys call or reading (issue 21): a
 * Defense Center is connected to as `-check` does it (TLS, the version exchange, and with a
 * `domain` a message holding only `SetDomain`), then the connection is closed; the commands go
 * on a new one. A CSV file is checked per job ({@linkcode probeSink}): nothing to do here.
 *
 * @throws {DcError} (exit 5) When the Defense Center cannot be reached, refuses the client
 * certificate, the version or the domain.
 */
export async function checkDestination(
  destination: Destination,
  options: { domain?: string | undefined; log: DcSinkLog },
): Promise<void> {
  if (!("dc" in destination)) return;
  const { checkDcBeforeRun } = await import("../dc/check.ts");
  await checkDcBeforeRun(destination.dc, options);
}

/**
 * Checks that a job's destination can be written before its long download or parse: the CSV
 * (its kind, and that its directory takes a new file), or for a Defense Center the spool
 * directory (`TMPDIR`). Leaves nothing behind. `readOnly` (a dry run): only the checks that
 * write nothing (a CSV's kind and directory).
 *
 * @throws {LocalIoError} When it cannot be written (exit 7; 2 for a path that does not exist or
 * names the wrong kind of file).
 */
export async function probeSink(
  destination: Destination,
  options: OpenSinkOptions & { readOnly?: boolean } = {},
): Promise<void> {
  if ("dc" in destination) {
    if (!options.readOnly) await probeSpoolDir();
  } else {
    await probeCsvFile(csvPath(destination.csvfile, options.variant), {
      readOnly: options.readOnly,
    });
  }
}

/**
 * Removes this program's temp files that a killed run left behind (older than a day, owned by
 * this user): finding and command spools and glossary stores in `TMPDIR`, and CSV temp files
 * beside `csvfile` (undefined: the destination is a Defense Center). Logs and resolves to the
 * paths removed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const old = new Date("2020-01-01");
 * for (const name of [".Output.csv.0a1b2c.tmp", ".Output.csv.notours"]) {
 *   await Deno.writeTextFile(`${dir}/${name}`, "");
 *   await Deno.utime(`${dir}/${name}`, old, old);
 * }
 * assert.deepEqual(await removeStaleTempFiles(`${dir}/Output.csv`, { tempDir: dir }),
 *   [`${dir}/.Output.csv.0a1b2c.tmp`]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeStaleTempFiles(
  csvfile: string | undefined,
  options: { tempDir?: string; log?: Pick<Log, "info"> } = {},
): Promise<string[]> {
  const removed = await removeStaleFiles(options.tempDir ?? systemTempDir(), isTempFileName);
  if (csvfile !== undefined && csvfile !== "-") {
    const target = await resolveCsvTarget(csvfile).catch(() => undefined);
    if (target?.kind === "file") {
      const name = baseOf(target.path);
      removed.push(...await removeStaleFiles(dirOf(target.path), (n) => isCsvTempName(n, name)));
    }
  }
  if (removed.length) {
    options.log?.info(`Removed the temp files a killed run left behind: ${removed.join(", ")}`);
  }
  return removed;
}
