/**
 * A 0600 temp file that holds the commands until the whole report has parsed (SPEC §7: nothing
 * is sent before); removed on exit and on SIGINT/SIGTERM.
 *
 * @module
 */

import { onCleanup } from "../cleanup.ts";
import type { CommandSink } from "./command_sink.ts";

/** A spool file: a sink, then a reader over what was written, then removal. */
export interface SpoolFile extends CommandSink {
  /** The temp file's path. */
  path: string;
  /** Opens the written commands for reading. */
  open(): Promise<Deno.FsFile>;
  /** Removes the file. */
  remove(): Promise<void>;
}

/** Creates the spool file. */
export async function openSpoolFile(tempDir?: string): Promise<SpoolFile> {
  const path = await Deno.makeTempFile({
    prefix: "qualys_connector-commands-",
    ...(tempDir ? { dir: tempDir } : {}),
  });
  await Deno.chmod(path, 0o600);
  const unregister = onCleanup(() => Deno.removeSync(path));
  const file = await Deno.open(path, { write: true, truncate: true });
  let open = true;
  const closeFile = () => {
    if (open) file.close();
    open = false;
  };
  return {
    path,
    async write(bytes) {
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
    },
    close() {
      closeFile();
      return Promise.resolve();
    },
    async abort() {
      closeFile();
      unregister();
      await Deno.remove(path).catch(() => {});
    },
    open: () => Deno.open(path, { read: true }),
    async remove() {
      closeFile();
      unregister();
      await Deno.remove(path).catch(() => {});
    },
  };
}
