/**
 * The connector as a child process: `deno run` with the permissions and V8 flags of the `run`
 * and `compile` tasks in `deno.json` (`tests/connector_command_test.ts` holds them to it), so
 * that demos, benches and CLI tests run what the binary runs.
 *
 * @module
 */

/** The entry point's path. */
export const MAIN: string = new URL("../main.ts", import.meta.url).pathname;

/** The permissions and V8 flags the binary is built with. */
export const RUN_FLAGS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-run=logger",
  "--no-code-cache",
  "--v8-flags=--max-semi-space-size=1,--expose-gc",
];

/**
 * The arguments of `deno` that run the connector with `args`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const args = connectorArgs(["-version"]);
 * assert.equal(args[0], "run");
 * assert.deepEqual(args.slice(-2), [MAIN, "-version"]);
 * ```
 */
export function connectorArgs(args: readonly string[]): string[] {
  return ["run", ...RUN_FLAGS, MAIN, ...args];
}
