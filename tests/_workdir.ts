/**
 * Test helper: a fresh temp directory for a test, removed with everything in it when the test is
 * done, whatever became of it: `await using dir = await workDir()` (then `dir.path`), or
 * `await withWorkDir(async (path) => ...)`.
 */

/** A temp directory that removes itself when disposed. */
export interface WorkDir extends AsyncDisposable {
  /** Its path. */
  readonly path: string;
}

/** Makes a temp directory (`prefix` names it, for whoever finds one left behind). */
export async function workDir(prefix = "qc-test-"): Promise<WorkDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Runs `body` in a fresh temp directory, removed afterwards. */
export async function withWorkDir(
  body: (path: string) => Promise<void> | void,
  prefix?: string,
): Promise<void> {
  await using dir = await workDir(prefix);
  await body(dir.path);
}
