/**
 * A 0600 temp file that holds commands until they can all be delivered (nothing is sent to a
 * Defense Center before the whole input has been read cleanly); removed on exit and on
 * SIGINT/SIGTERM.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
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
  const path = await Deno.makeTempFile({
    prefix: "qualys_connector-commands-",
    ...(tempDir ? { dir: tempDir } : {}),
  });
  await Deno.chmod(path, 0o600);
  const unregister = onCleanup(() => Deno.removeSync(path));
  const file = await Deno.open(path, { write: true, truncate: true });
  let open = true;
  const close = () => {
    if (open) file.close();
    open = false;
  };
  return {
    path,
    write: (bytes) => writeAll(file, bytes),
    close,
    open: () => Deno.open(path, { read: true }),
    async remove() {
      close();
      unregister();
      await Deno.remove(path).catch(() => {});
    },
  };
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
