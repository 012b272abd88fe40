/**
 * A file replaced atomically: written to a temp file beside it (`.<name>.<random>.tmp`, so on the
 * same file system), synced, then renamed over it. A crash, a kill or a full disk leaves the old
 * file whole; a signal removes the temp file (`lib/cleanup.ts`). Used by the `-csvfile` sink and
 * the detection source's state files, which map its raw errors to their own messages.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
import { writeAll } from "./bytes.ts";

/**
 * The directory part of a path: `.` for a bare name, `/` for a file in the root.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(dirOf("/etc/qc/out.csv"), "/etc/qc");
 * assert.equal(dirOf("out.csv"), ".");
 * assert.equal(dirOf("/out.csv"), "/");
 * ```
 */
export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/** The last part of a path. */
export function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** A file being written in place of its target: `commit()` renames it over, `discard()` drops it. */
export interface AtomicFile {
  /** The temp file's path. */
  readonly tempPath: string;
  /** Bytes written so far. */
  readonly bytes: number;
  /** Appends bytes; an error is the OS's, and leaves the temp file for `discard()`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Syncs, closes and renames the temp file over the target. On an error (the OS's) the temp
   * file is discarded first. A second call does nothing. */
  commit(): Promise<void>;
  /** Closes and removes the temp file; never throws. */
  discard(): Promise<void>;
}

/** Options of {@linkcode createAtomicFile}. */
export interface AtomicFileOptions {
  /** The file's mode. @default {0o600} */
  mode?: number;
  /** Sync in the background after this many bytes, so the last sync has little left to do and
   * the disk works while the writer does. @default {Infinity} */
  syncEvery?: number;
}

/**
 * Starts writing `path` atomically.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const file = await createAtomicFile(`${dir}/state.json`);
 * await file.write(new TextEncoder().encode("{}"));
 * await file.commit();
 * assert.equal(await Deno.readTextFile(`${dir}/state.json`), "{}");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @throws {Error} The OS's error when the temp file cannot be created or opened (nothing is
 * left behind).
 */
export async function createAtomicFile(
  path: string,
  options: AtomicFileOptions = {},
): Promise<AtomicFile> {
  const tempPath = await Deno.makeTempFile({
    dir: dirOf(path),
    prefix: `.${baseOf(path)}.`,
    suffix: ".tmp",
  });
  const unregister = onCleanup(() => {
    try {
      Deno.removeSync(tempPath);
    } catch { /* gone */ }
  });
  let file: Deno.FsFile;
  try {
    await Deno.chmod(tempPath, options.mode ?? 0o600);
    file = await Deno.open(tempPath, { write: true, truncate: true });
  } catch (error) {
    unregister();
    await Deno.remove(tempPath).catch(() => {});
    throw error;
  }
  const syncEvery = options.syncEvery ?? Infinity;
  let done = false, total = 0, unsynced = 0;
  let syncing: Promise<void> = Promise.resolve();
  const discard = async () => {
    if (done) return;
    done = true;
    unregister();
    await syncing.catch(() => {});
    try {
      file.close();
    } catch { /* closed */ }
    await Deno.remove(tempPath).catch(() => {});
  };
  return {
    tempPath,
    get bytes() {
      return total;
    },
    async write(bytes) {
      await writeAll(file, bytes);
      total += bytes.length;
      unsynced += bytes.length;
      if (unsynced >= syncEvery) {
        unsynced = 0;
        await syncing;
        syncing = file.syncData();
      }
    },
    async commit() {
      if (done) return;
      try {
        await syncing;
        await file.syncData();
        file.close();
        done = true;
        await Deno.rename(tempPath, path);
        unregister();
      } catch (error) {
        done = false;
        await discard();
        throw error;
      }
    },
    discard,
  };
}
