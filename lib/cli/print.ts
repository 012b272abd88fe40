/**
 * Writing a whole text to the terminal's stdout or stderr, for what the agent prints outside the
 * log (usage, the version line, -check's steps).
 *
 * @module
 */

import { writeAllSync } from "../util/bytes.ts";

const encoder = new TextEncoder();

/** Writes `text` (with a final newline) to the stream; a closed stream is ignored. */
export function print(stream: "stdout" | "stderr", text: string): void {
  try {
    const to = stream === "stdout" ? Deno.stdout : Deno.stderr;
    writeAllSync(to, encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
  } catch { /* a closed stream: there is nobody left to tell */ }
}
