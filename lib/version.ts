/** The version of qualys_connector, printed by `-version` and with no arguments. */
export const VERSION = "2.0.0";

/**
 * The version line, as the original printed it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.match(versionLine(), /^qualys_connector Ver\. \d+\.\d+\.\d+$/);
 * ```
 */
export function versionLine(program = "qualys_connector"): string {
  return `${program} Ver. ${VERSION}`;
}
