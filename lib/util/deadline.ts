/**
 * Deadlines for network steps (`-timeout`): a step (connect, a TLS handshake, one whole answer)
 * either finishes within its time limit or is abandoned, its connection closed, and a
 * {@linkcode DeadlineError} naming the step takes its place. The limit covers the whole step,
 * so an answer that trickles in a byte at a time does not keep it alive.
 *
 * @module
 */

/** A network step that did not finish within its time limit. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
  /** The step, in words: "connect", "TLS handshake", "DATA answer 3". */
  readonly step: string;
  /** The limit that passed, in ms. */
  readonly ms: number;

  /** Creates the error; the message is "`step` timed out after N s". */
  constructor(step: string, ms: number) {
    super(`${step} timed out after ${seconds(ms)} s`);
    this.step = step;
    this.ms = ms;
  }
}

/**
 * A duration in ms as seconds for messages: whole seconds, or one decimal below 10 s.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(seconds(300_000), "300");
 * assert.equal(seconds(1500), "1.5");
 * ```
 */
export function seconds(ms: number): string {
  return ms >= 10_000 || ms % 1000 === 0 ? String(Math.round(ms / 1000)) : (ms / 1000).toFixed(1);
}

/**
 * Resolves as `work` does, or rejects with a {@linkcode DeadlineError} for `step` once `ms`
 * have passed. On expiry `onExpire` runs (it closes the connection, so the abandoned work ends
 * too; an error it throws, such as closing what is closed already, is ignored), and whatever
 * `work` does later is ignored.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const never = new Promise<void>(() => {});
 * let closed = false;
 * await assert.rejects(withDeadline(never, { ms: 10, step: "MAX_SIZE answer", onExpire: () => (closed = true) }), {
 *   name: "DeadlineError",
 *   step: "MAX_SIZE answer",
 * });
 * assert.ok(closed);
 * assert.equal(await withDeadline(Promise.resolve(7), { ms: 10, step: "x" }), 7);
 * ```
 */
export function withDeadline<T>(
  work: Promise<T>,
  options: { ms: number; step: string; onExpire?: () => void },
): Promise<T> {
  const { ms, step, onExpire } = options;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        onExpire?.();
      } catch { /* what it closes may be closed already */ }
      reject(new DeadlineError(step, ms));
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
