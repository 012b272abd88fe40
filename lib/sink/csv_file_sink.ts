/**
 * The `-csvfile` sinks: a file written atomically (temp file in the same directory, synced, then
 * renamed over the target), or stdout for `-csvfile -`.
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import { onCleanup } from "../cleanup.ts";
import type { CommandSink } from "./command_sink.ts";

export type { CommandSink };

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

const SYNC_EVERY = 64 << 20;

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += await w.write(bytes.subarray(off));
}

/**
 * Opens `path` for an atomic write. Nothing appears at `path` until `close()`; a new file is
 * created 0600 (it lists vulnerabilities), an existing file keeps its mode.
 *
 * @throws {ConfigError} When the directory cannot take the temp file.
 */
export async function openCsvFileSink(path: string): Promise<CommandSink & { tempPath: string }> {
  const dir = dirOf(path);
  let mode = 0o600;
  try {
    const st = await Deno.stat(path);
    if (st.isDirectory) throw new ConfigError("is a directory: name a file for -csvfile", path);
    if (st.mode !== null) mode = st.mode & 0o777;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      if (error instanceof ConfigError) throw error;
    }
  }
  let tempPath: string;
  try {
    tempPath = await Deno.makeTempFile({ dir, prefix: `.${baseOf(path)}.`, suffix: ".tmp" });
    await Deno.chmod(tempPath, mode);
  } catch (error) {
    throw new ConfigError(
      `cannot create a file in ${dir}: ${(error as Error).message}: ` +
        "check that the directory exists and is writable",
      path,
      0,
      0,
      { cause: error },
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
  let unsynced = 0;
  let syncing: Promise<void> = Promise.resolve();
  return {
    tempPath,
    async write(bytes) {
      await writeAll(file, bytes);
      unsynced += bytes.length;
      if (unsynced >= SYNC_EVERY) {
        unsynced = 0;
        await syncing;
        syncing = file.syncData();
      }
    },
    async close() {
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
        throw new ConfigError(
          `cannot write the CSV file: ${(error as Error).message}`,
          path,
          0,
          0,
          { cause: error },
        );
      }
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
  return {
    async write(bytes) {
      await writeAll(Deno.stdout, bytes);
    },
    close() {
      return Promise.resolve();
    },
    abort() {
      return Promise.resolve();
    },
  };
}
