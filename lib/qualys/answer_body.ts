/**
 * The body of a small answer (an error, a report list), read whole up to a limit, and what kind
 * of body it is, for messages that describe a body without quoting it.
 *
 * @module
 */

/** The most of a small answer (an error, a list) read; more is not such an answer. */
export const SMALL_ANSWER = 1 << 20;

/** Up to `max` bytes of a body; the rest is let go. */
export async function readSmall(
  response: Response,
  max = SMALL_ANSWER,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < max) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
      n += r.value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The media type of an answer, for messages ("text/html"). */
export function contentType(response: Response): string {
  return response.headers.get("content-type")?.split(";")[0]?.trim() || "no content type";
}
