/**
 * The `-csvfile` sinks: a file written atomically (temp file in the same directory, synced, then
 * renamed over the target), or stdout for `-csvfile -`.
 *
 * @module
 */

import { isWrongPath, LocalIoError } from "../errors.ts";
import { onCleanup } from "../cleanup.ts";
import { writeAll } from "../util/bytes.ts";
import type { CloseOptions, CommandSink } from "./command_sink.ts";

export type { CommandSink };

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

const SYNC_EVERY = 64 << 20;

/**
 * Opens `path` for an atomic write. Nothing appears at `path` until `close()`; a new file is
 * created 0600 (it lists vulnerabilities), an existing file keeps its mode.
 *
 * @throws {LocalIoError} When `path` is a directory or its directory cannot take the temp file.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const sink = await openCsvFileSink(`${dir}/out.csv`);
 * await sink.write(new TextEncoder().encode("ScanFlush\n"));
 * let summary = "";
 * await sink.close({ onComplete: (where) => (summary = where) });
 * assert.equal(await Deno.readTextFile(`${dir}/out.csv`), "ScanFlush\n");
 * assert.equal(summary, `written to ${dir}/out.csv (10 bytes)`);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openCsvFileSink(path: string): Promise<CommandSink & { tempPath: string }> {
  const dir = dirOf(path);
  let mode = 0o600;
  try {
    const st = await Deno.stat(path);
    if (st.isDirectory) {
      throw new LocalIoError("is a directory: name a file for -csvfile", { path, usage: true });
    }
    if (st.mode !== null) mode = st.mode & 0o777;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      if (error instanceof LocalIoError) throw error;
    }
  }
  let tempPath: string;
  try {
    tempPath = await Deno.makeTempFile({ dir, prefix: `.${baseOf(path)}.`, suffix: ".tmp" });
    await Deno.chmod(tempPath, mode);
  } catch (error) {
    throw new LocalIoError(
      `cannot create a file in ${dir}: ${(error as Error).message}: ` +
        "check that the directory exists and is writable",
      { path, cause: error, usage: isWrongPath(error) },
    );
  }
  const file = await Deno.open(tempPath, { write: true, truncate: true });
  let done = false;

  const unregister = onCleanup(() => {
    try {
      Deno.removeSync(tempPath);
    } catch { /* gone */ }
  });
  // Sync in the background every SYNC_EVERY bytes, so the final sync (before the rename) has
  // little left to flush and the disk works while the encoder runs.
  let unsynced = 0, total = 0;
  let syncing: Promise<void> = Promise.resolve();
  return {
    tempPath,
    async write(bytes) {
      await writeAll(file, bytes);
      unsynced += bytes.length;
      total += bytes.length;
      if (unsynced >= SYNC_EVERY) {
        unsynced = 0;
        await syncing;
        syncing = file.syncData();
      }
    },
    async close(options: CloseOptions = {}) {
      if (done) return;
      done = true;
      unregister();
      try {
        await syncing;
        await file.syncData();
        file.close();
        await Deno.rename(tempPath, path);
      } catch (error) {
        try {
          await Deno.remove(tempPath);
        } catch { /* gone */ }
        throw new LocalIoError(`cannot write the CSV file: ${(error as Error).message}`, {
          path,
          cause: error,
        });
      }
      options.onComplete?.(`written to ${path} (${total} bytes)`, true);
    },
    async abort() {
      if (done) return;
      done = true;
      unregister();
      await syncing.catch(() => {});
      try {
        file.close();
      } catch { /* closed */ }
      try {
        await Deno.remove(tempPath);
      } catch { /* gone */ }
    },
  };
}

/** A sink that writes to stdout (`-csvfile -`). `abort` cannot take back what was written. */
export function stdoutSink(): CommandSink {
  let total = 0;
  return {
    async write(bytes) {
      await writeAll(Deno.stdout, bytes);
      total += bytes.length;
    },
    close(options: CloseOptions = {}) {
      options.onComplete?.(`written to stdout (${total} bytes)`, true);
      return Promise.resolve();
    },
    abort() {
      return Promise.resolve();
    },
  };
}
