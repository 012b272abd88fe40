/**
 * The Qualys client's waits: its clock (real, or a test's fake) and backoff with jitter for
 * retries; the rate and concurrency limits, waited out as Qualys asks (`X-RateLimit-ToWait-Sec`,
 * `SECONDS_TO_WAIT`, else 30 s as Qualys's own clients do) and bounded (how many waits, how long
 * one may be); and one warning when few calls are left in the rate-limit window.
 *
 * @module
 */

import { QualysApiError } from "../errors.ts";
import type { Log } from "../log/log.ts";
import { itemValue, type QualysResponse } from "./simple_return.ts";

/** Options for {@linkcode ApiWaits}. */
export interface ApiWaitsOptions {
  /** How to wait; tests pass a fake clock. @default a real timer */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** Random numbers in [0, 1) for jitter. @default Math.random */
  random?: (() => number) | undefined;
  /** Waits for rate or concurrency limits before giving up. @default {10} */
  maxLimitWaits?: number | undefined;
  /** Longest single wait for a limit, in seconds; a longer one is an error. @default {900} */
  maxLimitWaitSeconds?: number | undefined;
  /** Where waits and a low rate limit are warned. */
  log: Pick<Log, "warn">;
}

/**
 * How the client waits.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const slept: number[] = [];
 * const waits = new ApiWaits({ sleep: (ms) => Promise.resolve(void slept.push(ms)),
 *   random: () => 0.5, log: { warn() {} } });
 * assert.equal(waits.backoff(0), 750);
 * await waits.waitForLimit(waits.limitSeconds(new Headers(), undefined), 0, "limited");
 * assert.deepEqual(slept, [30_000]);
 * ```
 */
export class ApiWaits {
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #maxLimitWaits: number;
  readonly #maxLimitWait: number;
  readonly #log: Pick<Log, "warn">;
  #warnedRemaining = false;

  /** Waits with `options`' clock and bounds. */
  constructor(options: ApiWaitsOptions) {
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#random = options.random ?? Math.random;
    this.#maxLimitWaits = options.maxLimitWaits ?? 10;
    this.#maxLimitWait = options.maxLimitWaitSeconds ?? 900;
    this.#log = options.log;
  }

  /** A random number for jitter (real or fake). */
  random(): number {
    return this.#random();
  }

  /** The wait before retry `attempt` (0 first), in ms: exponential up to 30 s, with jitter. */
  backoff(attempt: number): number {
    const base = Math.min(1000 * 2 ** attempt, 30_000);
    return Math.round(base / 2 + this.#random() * base / 2);
  }

  /** Warns once when the rate-limit window has 10 calls or fewer left. */
  checkRemaining(headers: Headers): void {
    const remaining = headers.get("x-ratelimit-remaining");
    if (remaining !== null && Number(remaining) <= 10 && !this.#warnedRemaining) {
      this.#warnedRemaining = true;
      this.#log.warn(
        `Only ${remaining} Qualys API calls are left in this rate-limit window ` +
          `(${headers.get("x-ratelimit-limit") ?? "?"} per ${
            headers.get("x-ratelimit-window-sec") ?? "?"
          } s): other scripts share this account's limit`,
      );
    }
  }

  /** How long a rate or concurrency limit says to wait, in seconds. */
  limitSeconds(headers: Headers, r: QualysResponse | undefined): number {
    const toWait = Number(headers.get("x-ratelimit-towait-sec") ?? NaN);
    if (Number.isFinite(toWait) && toWait > 0) return toWait;
    const seconds = Number(r ? itemValue(r, "SECONDS_TO_WAIT") ?? NaN : NaN);
    if (Number.isFinite(seconds) && seconds > 0) return seconds;
    return 30; // concurrency (1960) and unexplained 409s: Qualys's own clients wait 30 s
  }

  /**
   * Waits `seconds` out for a limit (`why`, for the warning and the error), unless `waits` have
   * been made already or the wait is too long.
   *
   * @throws {QualysApiError} When it will not wait (exit 3).
   */
  async waitForLimit(
    seconds: number,
    waits: number,
    why: string,
    signal?: AbortSignal,
  ): Promise<void> {
    if (waits >= this.#maxLimitWaits) {
      throw new QualysApiError(
        `${why}: still limited after ${waits} waits; run the connector later, or less often`,
      );
    }
    if (seconds > this.#maxLimitWait) {
      throw new QualysApiError(
        `${why}: Qualys asks to wait ${
          Math.round(seconds)
        } s, longer than ${this.#maxLimitWait} s; ` +
          "run the connector later",
      );
    }
    this.#log.warn(`${why}: waiting ${Math.round(seconds)} s as Qualys asks, then trying again`);
    await this.sleep(seconds * 1000, signal);
  }

  /** Waits `ms` with the clock, cut short (with the signal's reason) when `signal` fires. */
  async sleep(ms: number, signal?: AbortSignal | undefined): Promise<void> {
    if (!signal) return await this.#sleep(ms);
    signal.throwIfAborted();
    const { promise, reject } = Promise.withResolvers<never>();
    const stop = () => reject(signal.reason);
    signal.addEventListener("abort", stop);
    try {
      await Promise.race([this.#sleep(ms), promise]);
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }
}
