/**
 * The directory of the detection source's state (docs/operations.md: "State files"): created 0700 when
 * missing; every file in it is 0600 and written atomically (a temp file in the same directory,
 * synced, then renamed over the old one), so a crash, a full disk or a kill leaves the old file
 * whole. A per-destination lock (`flock`, released by the kernel when the process ends, however
 * it ends) keeps two runs from syncing one destination at once.
 *
 * @module
 */

import { removeStaleFiles } from "../cleanup.ts";
import { fileErrorReason, LocalIoError } from "../errors.ts";
import { type AtomicFile, createAtomicFile } from "../util/atomic_file.ts";
import { LEDGER_TEMP_FILE } from "../ledger/ledger_file.ts";

export type { AtomicFile };

/**
 * The temp files written in the state directory (`.<name>.<random>.tmp`): this module's (sync
 * state, KnowledgeBase cache) and the run history's (`monitor/run_history.ts`).
 */
const TEMP = /^\.(?:sync|kb|run)-[0-9a-f]+\.(?:json|jsonl)\.[0-9a-f]+\.tmp$/;

/** Hex SHA-256 of `text`, shortened to 16 characters: state file names. */
export async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * The failure of a run that found a directory at `path`, where `file` (a state file) belongs:
 * it says what to remove. Checked before any call, so nothing was sent.
 */
export function directoryInTheWay(path: string, file: string, cause?: unknown): LocalIoError {
  return new LocalIoError(
    `${path} is a directory where ${file} belongs: remove it (rm -r ${path}) and run again ` +
      "(nothing was sent)",
    { path, cause },
  );
}

function stateError(path: string, what: string, error: unknown): LocalIoError {
  return new LocalIoError(
    `cannot ${what}: ${fileErrorReason(error)}: check that the state directory is writable ` +
      "and its file system has space (state_dir in the plugin YAML names another one)",
    { path, cause: error },
  );
}

/**
 * Creates the state directory (0700) when missing and removes the temp files a killed run left
 * there more than a day ago (the sync state's, the KnowledgeBase cache's, the ledger's).
 *
 * @throws {LocalIoError} When it cannot be created (exit 7).
 */
export async function prepareStateDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw stateError(dir, "create the state directory", error);
    }
  }
  await removeStaleFiles(dir, (name) => TEMP.test(name) || LEDGER_TEMP_FILE.test(name));
}

/**
 * A dry run's look at the state directory, writing nothing: where a real run could not make it
 * (a file stands there, or in its path), the same failure.
 *
 * @throws {LocalIoError} When it is not a directory (exit 7).
 */
export async function checkStateDir(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return; // a real run makes it
    throw stateError(dir, "create the state directory", error);
  }
  if (!info.isDirectory) {
    throw stateError(dir, "create the state directory", new Deno.errors.AlreadyExists("a file"));
  }
}

/**
 * Starts writing `path` atomically: a 0600 temp file beside it, removed on a signal or
 * `discard()`, renamed over `path` on `commit()`.
 *
 * @throws {LocalIoError} When the temp file cannot be created or written (exit 7).
 */
export async function writeAtomic(path: string): Promise<AtomicFile> {
  let file: AtomicFile;
  try {
    file = await createAtomicFile(path);
  } catch (error) {
    throw stateError(path, "create a file in the state directory", error);
  }
  return {
    tempPath: file.tempPath,
    get bytes() {
      return file.bytes;
    },
    async write(bytes) {
      try {
        await file.write(bytes);
      } catch (error) {
        await file.discard();
        throw stateError(path, "write the state", error);
      }
    },
    async commit() {
      try {
        await file.commit();
      } catch (error) {
        throw stateError(path, "write the state", error);
      }
    },
    discard: () => file.discard(),
  };
}

/**
 * Takes the lock `path` (created 0600 when missing) for this process, without waiting: the
 * kernel releases it when the process ends. Resolves to the function that releases it, or to
 * undefined when another process holds it.
 *
 * @throws {LocalIoError} When the lock file cannot be opened (exit 7).
 */
export async function tryLock(path: string): Promise<(() => void) | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  } catch (error) {
    if (error instanceof Deno.errors.IsADirectory) {
      throw directoryInTheWay(path, "the lock file", error);
    }
    throw stateError(path, "open the lock file", error);
  }
  if (!(await file.tryLock(true))) {
    file.close();
    return undefined;
  }
  return () => {
    try {
      file.close(); // closing releases the lock
    } catch { /* closed */ }
  };
}
