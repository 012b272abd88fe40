/**
 * The temp files this program makes in `TMPDIR` (docs/operations.md: "Signals and temp files",
 * "How the report download works"): one table of their kinds, each with its name prefix (the
 * random part and nothing else follows) and what messages call it; one maker, 0600, in `TMPDIR`
 * or the directory given; and the test the stale-file sweep uses to know the ones a killed run
 * left behind. (A file replaced atomically has its own temp file beside it: `atomic_file.ts`.) A
 * temp file that cannot be made, written or read is a `LocalIoError` (exit 7) naming it and
 * saying to point `TMPDIR` elsewhere.
 *
 * @module
 */

import { fileErrorReason, LocalIoError } from "../errors.ts";

/** Every kind of temp file, by name. */
export const TEMP_FILES = {
  /** Commands held until they can all be delivered to a Defense Center (`sinks/spool_file.ts`). */
  commands: { prefix: "qualys_connector-commands-", what: "the command spool" },
  /** Findings past the spool's memory budget (`findings/finding_spool.ts`). */
  findings: { prefix: "qualys_connector-spool-", what: "the finding spool" },
  /** The glossary past its memory budget (`findings/glossary_store.ts`). */
  glossary: { prefix: "qualys_connector-glossary-", what: "the glossary store" },
  /** The encoder's QID texts past its cache (`encode/_qid_text_cache.ts`). */
  qidTexts: { prefix: "qualys_connector-texts-", what: "the encoder's text spool" },
  /** The next record's result fingerprints past their memory (`ledger/_pages.ts`). */
  fingerprints: { prefix: "qualys_connector-record-", what: "the record's fingerprint spool" },
} as const;

/** A kind of temp file. */
export type TempKind = keyof typeof TEMP_FILES;

const TEMP_NAME = new RegExp(
  `^(?:${Object.values(TEMP_FILES).map((k) => k.prefix).join("|")})[0-9a-f]+$`,
);

/**
 * Whether `name` is the name of one of this program's temp files (of any kind in
 * {@linkcode TEMP_FILES}): what the stale-file sweep removes once a day old.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(isTempFileName("qualys_connector-spool-0a1b2c"), true);
 * assert.equal(isTempFileName("qualys_connector-spool-0a1b2c.bak"), false);
 * ```
 */
export function isTempFileName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/**
 * The error for a temp file in `TMPDIR` (a spool) or its directory that cannot be created,
 * written or read: it names the path and says to point `TMPDIR` elsewhere (exit 7).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const e = tempFileError("write the command spool", "/tmp/x", new Error("No space left on device"));
 * assert.equal(e.message, "/tmp/x: cannot write the command spool: no space left on device: " +
 *   "set TMPDIR to a writable directory on a file system with more free space");
 * ```
 */
export function tempFileError(what: string, path: string, error: unknown): LocalIoError {
  const fix = error instanceof Deno.errors.NotFound
    ? "set TMPDIR to a directory that exists"
    : "set TMPDIR to a writable directory on a file system with more free space";
  return new LocalIoError(`cannot ${what}: ${fileErrorReason(error)}: ${fix}`, {
    path,
    cause: error,
  });
}

/**
 * Creates a 0600 temp file of `kind` (`<prefix><random>` in `tempDir`, by default `TMPDIR`), open
 * for reading and writing. A failure is a `LocalIoError` naming the directory or file and the
 * fix, and leaves no file behind. The caller registers its removal (`onCleanup`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const { path, file } = makeTempFileSync("findings");
 * assert.match(path, /\/qualys_connector-spool-[0-9a-f]+$/);
 * assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
 * file.close();
 * Deno.removeSync(path);
 * ```
 */
export function makeTempFileSync(
  kind: TempKind,
  options: { tempDir?: string | undefined } = {},
): { path: string; file: Deno.FsFile } {
  const { prefix, what } = TEMP_FILES[kind];
  const { tempDir } = options;
  let path: string;
  try {
    path = Deno.makeTempFileSync({ prefix, ...(tempDir ? { dir: tempDir } : {}) });
  } catch (error) {
    throw tempFileError(`create ${what} there`, tempDir ?? systemTempDir(), error);
  }
  try {
    Deno.chmodSync(path, 0o600);
    return { path, file: Deno.openSync(path, { read: true, write: true }) };
  } catch (error) {
    try {
      Deno.removeSync(path);
    } catch { /* gone */ }
    throw tempFileError(`open ${what}`, path, error);
  }
}

/**
 * Creates a temp file of `kind`, as {@linkcode makeTempFileSync} does, without blocking.
 *
 * @throws {LocalIoError} When it cannot be created or opened (exit 7); no file is left behind.
 */
export async function makeTempFile(
  kind: TempKind,
  options: { tempDir?: string | undefined } = {},
): Promise<{ path: string; file: Deno.FsFile }> {
  const { prefix, what } = TEMP_FILES[kind];
  const { tempDir } = options;
  let path: string;
  try {
    path = await Deno.makeTempFile({ prefix, ...(tempDir ? { dir: tempDir } : {}) });
  } catch (error) {
    throw tempFileError(`create ${what} there`, tempDir ?? systemTempDir(), error);
  }
  try {
    await Deno.chmod(path, 0o600);
    return { path, file: await Deno.open(path, { read: true, write: true }) };
  } catch (error) {
    await Deno.remove(path).catch(() => {});
    throw tempFileError(`open ${what}`, path, error);
  }
}

/**
 * The directory temp files go to when none is given: `$TMPDIR`, else `/tmp` (as
 * `Deno.makeTempFile` does), for messages and the stale-file sweep.
 */
export function systemTempDir(): string {
  try {
    return Deno.env.get("TMPDIR") || "/tmp";
  } catch {
    return "/tmp";
  }
}
