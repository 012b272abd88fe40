/**
 * The `-csvfile` sinks. What the path names decides how it is written:
 *
 * - a regular file, or a name not yet taken: atomically (a temp file in the same directory,
 *   synced, then renamed over the target), so a failed run leaves the previous file in place;
 * - a symbolic link: followed, and its target replaced atomically; the link stays;
 * - a FIFO or a character device (`/dev/null`): written straight into, as its reader
 *   expects; `/dev/stdout` and `/dev/stderr` (also as `/dev/fd/N`) write to this process's own
 *   streams, whatever they are (Deno opens no other devices without `--allow-all`);
 * - anything else (a directory, a socket, a block device): refused (exit 2).
 *
 * `-csvfile -` writes to stdout. {@linkcode probeCsvFile} checks a destination before the run's
 * long work, without leaving anything behind.
 *
 * @module
 */

import { fileErrorReason, isWrongPath, LocalIoError } from "../errors.ts";
import { type AtomicFile, baseOf, createAtomicFile, dirOf } from "../util/atomic_file.ts";
import { writeAll } from "../util/bytes.ts";
import type { CommandSink, SinkReceipt } from "./sink.ts";
import { plural } from "../util/text.ts";

export type { CommandSink };

// Sync in the background every 64 MiB: the last sync, before the rename, has little left to do.
const SYNC_EVERY = 64 << 20;

/**
 * Whether `name` is one of this program's CSV temp files for a CSV named `csvName` (with
 * `-multiinfo`, also `<id>_<csvName>`): `.<name>.<random hex>.tmp`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isCsvTempName(".Output.csv.0a1b2c3d.tmp", "Output.csv"), true);
 * assert.equal(isCsvTempName(".424242_Output.csv.0a1b2c3d.tmp", "Output.csv"), true);
 * assert.equal(isCsvTempName(".Other.csv.0a1b2c3d.tmp", "Output.csv"), false);
 * ```
 */
export function isCsvTempName(name: string, csvName: string): boolean {
  const m = /^\.(?:\d+_)?(.+)\.[0-9a-f]+\.tmp$/.exec(name);
  return m !== null && m[1] === csvName;
}

/** What a `-csvfile` path names, once symbolic links are followed. */
export type CsvTarget =
  /** A regular file, or a name not yet taken: replaced atomically. */
  | { kind: "file"; path: string; info?: Deno.FileInfo }
  /** A FIFO or character device: written straight into. */
  | { kind: "stream"; path: string }
  /** This process's stdout or stderr (`/dev/stdout`, `/dev/fd/2`, ...). */
  | { kind: "stdout" | "stderr"; path: string };

// Deno lets no program open these (nor devices other than /dev/null, /dev/zero and a few more)
// without --allow-all: they are known by name and written through the process's own streams.
const STD_STREAMS: Readonly<Record<string, "stdout" | "stderr">> = {
  "/dev/stdout": "stdout",
  "/dev/fd/1": "stdout",
  "/proc/self/fd/1": "stdout",
  "/dev/stderr": "stderr",
  "/dev/fd/2": "stderr",
  "/proc/self/fd/2": "stderr",
};

function describeKind(info: Deno.FileInfo): string {
  return info.isDirectory
    ? "a directory"
    : info.isSocket
    ? "a socket"
    : info.isBlockDevice
    ? "a block device"
    : "neither a regular file, a FIFO nor a character device";
}

/**
 * Follows `path` through symbolic links to what the commands are written into.
 *
 * @throws {LocalIoError} (exit 2) When it is a directory, a socket or a block device, or the
 * links loop; (exit 7) when it cannot be examined.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.symlink("real.csv", `${dir}/link.csv`);
 * assert.deepEqual(await resolveCsvTarget(`${dir}/link.csv`), { kind: "file", path: `${dir}/real.csv` });
 * assert.equal((await resolveCsvTarget("/dev/null")).kind, "stream");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function resolveCsvTarget(path: string): Promise<CsvTarget> {
  let p = path;
  for (let hops = 0; hops <= 40; hops++) {
    const std = STD_STREAMS[p];
    if (std) return { kind: std, path };
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(p);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { kind: "file", path: p };
      if (error instanceof Deno.errors.NotCapable) throw outOfReach(path, p, error);
      throw new LocalIoError(
        `${p === path ? "" : `leads to ${p}: `}cannot examine it: ${fileErrorReason(error)}: ` +
          "check the path",
        { path, cause: error, usage: isWrongPath(error) },
      );
    }
    if (info.isSymlink) {
      const link = await Deno.readLink(p);
      p = link.startsWith("/") ? link : `${dirOf(p)}/${link}`;
      continue;
    }
    if (info.isFile) return { kind: "file", path: p, info };
    if (info.isFifo || info.isCharDevice) return { kind: "stream", path: p };
    throw new LocalIoError(
      `${p === path ? "is" : `leads to ${p}, which is`} ${describeKind(info)}: ` +
        "-csvfile writes a regular file, a FIFO or a character device; name a file",
      { path, usage: true },
    );
  }
  throw new LocalIoError("too many levels of symbolic links: name the file itself", {
    path,
    usage: true,
  });
}

// A device Deno's sandbox refuses without --allow-all (/dev/full, /dev/tty, ...): a usage error
// (exit 2) that says what can be written, never "run again with the --allow-all flag".
function outOfReach(path: string, device: string, error: unknown): LocalIoError {
  return new LocalIoError(
    `${device === path ? "" : `leads to ${device}: `}out of reach: the connector writes files, ` +
      "FIFOs, /dev/null, and its stdout (-csvfile -) or stderr (/dev/stderr)",
    { path, cause: error, usage: true },
  );
}

function cannotCreate(path: string, dir: string, error: unknown): LocalIoError {
  return new LocalIoError(
    `cannot create a file in ${dir}: ${fileErrorReason(error)}: ` +
      (isWrongPath(error)
        ? "check that the directory exists"
        : "check that the directory is writable and its file system has space"),
    { path, cause: error, usage: isWrongPath(error) },
  );
}

function cannotWrite(path: string, error: unknown, fix: string): LocalIoError {
  return new LocalIoError(
    `cannot write the commands: ${fileErrorReason(error)}: ` +
      (error instanceof Deno.errors.BrokenPipe ? "its reader closed it" : fix),
    { path, cause: error },
  );
}

/**
 * Checks, before any long download or parse, that `-csvfile path` can be written: the kind of
 * file it names, and that its directory takes a new file (one is created and removed at once;
 * with `readOnly`, a dry run's check, only that the directory is one). Nothing is left behind and
 * nothing is written to a FIFO or device.
 *
 * @throws {LocalIoError} When it cannot be written (exit 2 for a path that does not exist or
 * names the wrong kind of file, else 7).
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await probeCsvFile(`${dir}/out.csv`);
 * assert.deepEqual([...Deno.readDirSync(dir)], []);
 * await assert.rejects(probeCsvFile(`${dir}/no/out.csv`), { name: "LocalIoError", exitCode: 2 });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function probeCsvFile(
  path: string,
  options: { readOnly?: boolean } = {},
): Promise<void> {
  if (path === "-") return;
  const target = await resolveCsvTarget(path);
  // A FIFO is not opened: that would wait for its reader, and closing it would end its input.
  // A character device is: Deno refuses some it can examine (/dev/tty) only when they are opened.
  if (target.kind === "stream" && (await Deno.stat(target.path)).isCharDevice) {
    (await openStreamFile(path, target.path)).close();
  }
  if (target.kind !== "file") return;
  const dir = dirOf(target.path);
  if (options.readOnly) {
    // a dry run writes nothing: the directory is looked at, not written to
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(dir);
    } catch (error) {
      throw cannotCreate(path, dir, error);
    }
    if (!info.isDirectory) {
      throw cannotCreate(path, dir, new Deno.errors.NotADirectory("Not a directory"));
    }
    return;
  }
  let probe: string;
  try {
    probe = await Deno.makeTempFile({ dir, prefix: `.${baseOf(target.path)}.`, suffix: ".tmp" });
  } catch (error) {
    throw cannotCreate(path, dir, error);
  }
  await Deno.remove(probe).catch(() => {});
}

/**
 * Opens `-csvfile path` for writing as its kind requires (see the module doc). For a file,
 * nothing appears at the target until `close()`; a new file is created 0600 (it lists
 * vulnerabilities), an existing file keeps its mode.
 *
 * @throws {LocalIoError} When `path` names the wrong kind of file or cannot be written.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const sink = await openCsvFileSink(`${dir}/out.csv`);
 * await sink.write(new TextEncoder().encode("ScanFlush\n"));
 * const receipt = await sink.seal();
 * assert.equal(await Deno.readTextFile(`${dir}/out.csv`), "ScanFlush\n");
 * assert.deepEqual(receipt, { where: `written to ${dir}/out.csv (10 bytes)`, delivered: true });
 * await sink.close(); // nothing left to do
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openCsvFileSink(path: string): Promise<CommandSink> {
  const target = await resolveCsvTarget(path);
  if (target.kind === "file") return await openAtomicSink(path, target.path, target.info);
  if (target.kind === "stream") return await openStreamSink(path, target.path);
  return stdStreamSink(target.kind);
}

/** A regular file `target` (the file `path` leads to), replaced atomically. */
async function openAtomicSink(
  path: string,
  target: string,
  info: Deno.FileInfo | undefined,
): Promise<CommandSink> {
  const dir = dirOf(target);
  let file: AtomicFile;
  try {
    file = await createAtomicFile(target, {
      mode: info?.mode != null ? info.mode & 0o777 : 0o600,
      syncEvery: SYNC_EVERY,
    });
  } catch (error) {
    throw cannotCreate(path, dir, error);
  }
  const where = target === path ? path : `${path} (${target})`;
  const fix = `free space on the file system of ${dir} or name another -csvfile`;
  let sealed: Promise<SinkReceipt> | undefined;
  let aborted = false;
  const seal = () =>
    sealed ??= (async () => {
      try {
        await file.commit();
      } catch (error) {
        throw cannotWrite(target, error, fix);
      }
      return { where: `written to ${where} (${plural(file.bytes, "byte")})`, delivered: true };
    })();
  return {
    async write(bytes) {
      try {
        await file.write(bytes);
      } catch (error) {
        throw cannotWrite(target, error, fix);
      }
    },
    seal,
    async close() {
      if (!aborted) await seal();
    },
    async abort() {
      aborted = true;
      await file.discard();
    },
  };
}

/** A FIFO or character device, written straight into; `abort` cannot take anything back. */
async function openStreamFile(path: string, target: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(target, { write: true }); // a FIFO: this waits for its reader
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw outOfReach(path, target, error);
    throw new LocalIoError(`cannot open it for writing: ${fileErrorReason(error)}`, {
      path,
      cause: error,
      usage: isWrongPath(error),
    });
  }
}

async function openStreamSink(path: string, target: string): Promise<CommandSink> {
  const file = await openStreamFile(path, target);
  let total = 0, open = true;
  const closeFile = () => {
    if (open) file.close();
    open = false;
  };
  return {
    async write(bytes) {
      try {
        await writeAll(file, bytes);
      } catch (error) {
        throw cannotWrite(path, error, "check the device, or name another -csvfile");
      }
      total += bytes.length;
    },
    seal() {
      closeFile();
      return Promise.resolve({
        where: `written to ${path} (${plural(total, "byte")})`,
        delivered: true,
      });
    },
    close() {
      closeFile();
      return Promise.resolve();
    },
    abort() {
      closeFile();
      return Promise.resolve();
    },
  };
}

/**
 * A sink that writes to stdout (`-csvfile -`). `abort` cannot take back what was written.
 *
 * @throws {LocalIoError} From `write`, when stdout cannot take the commands; `brokenPipe` is
 * set when its reader went away (`-c - | head`).
 */
export function stdoutSink(): CommandSink {
  return stdStreamSink("stdout");
}

function stdStreamSink(name: "stdout" | "stderr"): CommandSink {
  const stream = name === "stdout" ? Deno.stdout : Deno.stderr;
  let total = 0;
  return {
    async write(bytes) {
      try {
        await writeAll(stream, bytes);
      } catch (error) {
        throw cannotWrite(name, error, `free space where ${name} goes, or name a -csvfile`);
      }
      total += bytes.length;
    },
    seal() {
      return Promise.resolve({
        where: `written to ${name} (${plural(total, "byte")})`,
        delivered: true,
      });
    },
    close() {
      return Promise.resolve();
    },
    abort() {
      return Promise.resolve();
    },
  };
}
