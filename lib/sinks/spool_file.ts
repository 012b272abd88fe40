/**
 * A 0600 temp file that holds commands until they can all be delivered (nothing is sent to a
 * Defense Center before the whole input has been read cleanly); removed on exit and on
 * SIGINT/SIGTERM/SIGHUP. A failure to create, write or read it is a `LocalIoError` (exit 7) that
 * names the file and says to point `TMPDIR` elsewhere.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
import { makeTempFile, tempFileError } from "../util/temp_files.ts";
import { writeAll } from "../util/bytes.ts";

/** A spool file: written, then read back, then removed. */
export interface SpoolFile {
  /** The temp file's path. */
  readonly path: string;
  /** Appends bytes. */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends writing. */
  close(): void;
  /** Opens the written bytes for reading. */
  open(): Promise<Deno.FsFile>;
  /** Closes and removes the file. Safe to call twice. */
  remove(): Promise<void>;
}

/**
 * Creates a spool file in `tempDir` (default: the system temp directory).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const spool = await openSpoolFile();
 * await spool.write(new TextEncoder().encode("ScanFlush\n"));
 * spool.close();
 * assert.equal((await Deno.stat(spool.path)).mode! & 0o777, 0o600);
 * assert.equal(await Deno.readTextFile(spool.path), "ScanFlush\n");
 * await spool.remove();
 * ```
 */
export async function openSpoolFile(tempDir?: string): Promise<SpoolFile> {
  const made = await makeTempFile("commands", { tempDir });
  const path = made.path;
  let file: Deno.FsFile | undefined = made.file;
  const unregister = onCleanup(() => Deno.removeSync(path));
  const remove = async () => {
    file?.close();
    file = undefined;
    unregister();
    await Deno.remove(path).catch(() => {});
  };
  return {
    path,
    async write(bytes) {
      try {
        await writeAll(file!, bytes);
      } catch (error) {
        throw tempFileError("write the command spool", path, error);
      }
    },
    close() {
      file?.close();
      file = undefined;
    },
    open: () =>
      Deno.open(path, { read: true }).catch((error) => {
        throw tempFileError("read the command spool back", path, error);
      }),
    remove,
  };
}

/**
 * Checks that the spool directory takes a file (one is created and removed at once).
 *
 * @throws {LocalIoError} When it does not.
 */
export async function probeSpoolDir(tempDir?: string): Promise<void> {
  await (await openSpoolFile(tempDir)).remove();
}

/** Copies the whole of `from` into `to`, 1 MiB at a time. */
export async function copyAll(
  from: { read(p: Uint8Array): Promise<number | null> },
  to: { write(bytes: Uint8Array): Promise<void> },
): Promise<void> {
  const buf = new Uint8Array(1 << 20);
  for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
    await to.write(buf.subarray(0, n));
  }
}
