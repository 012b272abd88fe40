/**
 * Test helper: decides at load time whether an optional part of the environment is there, and
 * prints why a test is ignored when it is not (the runner then reports the test as ignored,
 * never as passed).
 */

/**
 * Returns the `ignore` flag for a test that needs `available`; when it is missing, prints
 * `IGNORED <test>: <reason>` once.
 */
export function ignoreUnless(available: boolean, test: string, reason: string): boolean {
  if (!available) console.log(`IGNORED ${test}: ${reason}`);
  return !available;
}

/** The shared public fixtures (`../shared/fixtures/qualys-public/`), when present. */
export const SHARED_FIXTURES: string | undefined = (() => {
  const dir = new URL("../../shared/fixtures/qualys-public/", import.meta.url).pathname;
  try {
    Deno.statSync(dir);
    return dir;
  } catch {
    return undefined;
  }
})();

/** Why a shared-fixture test is ignored. */
export const NO_SHARED_FIXTURES =
  "../shared/fixtures/qualys-public is absent (a user's checkout): the public fixtures are not run";

/** Whether a command can be started here (`name --version` or the given arguments). */
export async function haveCommand(name: string, args = ["--version"]): Promise<boolean> {
  try {
    const out = await new Deno.Command(name, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}
