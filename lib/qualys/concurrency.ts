/**
 * How many calls of one Qualys API run at once: the limit as Qualys announces it
 * (`X-Concurrency-Limit-Limit`), a pool that runs at most that many calls at once, and a pacer
 * that spaces page calls over a page's time. Both sources' callers share them: the detection
 * pages and the KnowledgeBase join.
 *
 * @module
 */

/**
 * The number of calls of one API that may run at once: 1 until an answer's
 * `X-Concurrency-Limit-Limit` says more (never above `cap`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const limit = new ConcurrencyLimit(8);
 * assert.equal(limit.value, 1);
 * limit.update(new Headers({ "X-Concurrency-Limit-Limit": "2" }));
 * assert.equal(limit.value, 2);
 * ```
 */
export class ConcurrencyLimit {
  #value = 1;
  #cap: number;
  #known = false;
  #ramp: number;
  #hold = Infinity;
  #waiters: (() => void)[] = [];

  /**
   * A limit that never goes above `cap` (at least 1). With `ramp`, calls are added one at a time:
   * each {@linkcode rampUp} allows one more, up to the limit.
   */
  constructor(cap = Infinity, options: { ramp?: boolean } = {}) {
    this.#cap = Math.max(1, cap);
    this.#ramp = options.ramp ? 1 : Infinity;
  }

  /** Calls that may run now. */
  get value(): number {
    return Math.max(1, Math.min(this.#value, this.#ramp, this.#hold));
  }

  /** Holds the calls to at most `n` for now (Infinity: the limit alone again). */
  hold(n: number): void {
    this.#hold = n;
    this.#notify();
  }

  /** Allows one more call, once the ramp (see the constructor) has not reached the limit. */
  rampUp(): void {
    if (this.#ramp >= this.#value) return;
    this.#ramp++;
    this.#notify();
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Whether an answer has announced the limit. */
  get known(): boolean {
    return this.#known;
  }

  /** Reads the limit from an answer's headers. */
  update(headers: Headers): void {
    const text = headers.get("x-concurrency-limit-limit") ??
      headers.get("x-concurrencylimit-limit");
    if (text === null || !/^\s*\d+\s*$/.test(text)) return;
    this.#known = true;
    const v = Math.min(this.#cap, Math.max(1, Number(text)));
    if (v === this.#value) return;
    this.#value = v;
    this.#notify();
  }

  /** Resolves the next time the value changes. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** One page call as {@linkcode PagePacer} follows it. */
export interface PacedCall {
  /** How long (ms) it waits before it starts. */
  readonly wait: number;
  /** When it starts (ms): when it was planned, plus `wait`. */
  readonly start: number;
  /** When its data began (ms), once it has. */
  data?: number;
  /** Its data began more than once: the answer was fetched again, its times say nothing. */
  again?: boolean;
}

/**
 * Spaces the page calls that run at once evenly over a page's time. A page is server time (no
 * data yet) and then a download: calls that start together download together, and then share
 * the line and the parser while none of them is in its server time, which is the time the
 * concurrency is there to fill. Started a page time divided by the limit apart, one downloads
 * while the others wait for Qualys. So a call that would start too soon after the last one
 * waits, at most an average download: a collision costs no more than that. Nothing waits
 * before one page has ended (its times are unknown), nor while no other call runs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * let now = 0;
 * const pacer = new PagePacer({ now: () => now });
 * const a = pacer.begin(2); // page 1: 1,000 ms of server time, then 200 ms of download
 * now = 1000;
 * pacer.data(a);
 * const b = pacer.begin(2); // a second call, once the first one's data came
 * now = 1200;
 * pacer.end(a);
 * assert.equal(pacer.begin(2).wait, 200); // at most one download, to be nearer 600 ms from b
 * ```
 */
export class PagePacer {
  #now: () => number;
  #page = 0;
  #download = 0;
  #running = new Set<PacedCall>();

  /** A pacer on the clock `now` (ms). @default performance.now */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Plans a call, with `limit` calls allowed at once: it runs from now on for the others (they
   * space themselves from its start), and starts once it has waited `wait` ms.
   */
  begin(limit: number): PacedCall {
    const now = this.#now();
    let wait = 0;
    if (this.#page > 0 && limit > 1 && this.#running.size > 0) {
      let last = -Infinity;
      for (const c of this.#running) last = Math.max(last, c.start);
      const early = this.#page / limit - (now - last);
      if (early > 0) wait = Math.round(Math.min(early, this.#download));
    }
    const call: PacedCall = { wait, start: now + wait };
    this.#running.add(call);
    return call;
  }

  /** The call's data begins now (again, when its answer is fetched again). */
  data(call: PacedCall): void {
    if (call.data === undefined) call.data = this.#now();
    else call.again = true;
  }

  /**
   * The call ended: with its data whole, from one download, its times count; else (it failed,
   * was stopped before it started, or its answer was fetched again after a wait) not.
   */
  end(call: PacedCall, whole = true): void {
    this.#running.delete(call);
    if (!whole || call.data === undefined || call.again) return;
    const now = this.#now();
    const mix = (old: number, v: number) => old === 0 ? v : 0.75 * old + 0.25 * v;
    this.#page = mix(this.#page, now - call.start);
    this.#download = mix(this.#download, now - call.data);
  }
}

/**
 * Runs `work` on each item, at most `limit.value` at once (read again whenever a call ends or the
 * limit changes). On the first failure, or when `stop` fires, no new item starts, the others
 * are told to stop (the signal), and the failure (or `stop`'s reason) is thrown once they have.
 */
export async function runPool<T>(
  items: Iterable<T>,
  limit: ConcurrencyLimit,
  work: (item: T, signal: AbortSignal) => Promise<void>,
  stop?: AbortSignal,
): Promise<void> {
  const it = items[Symbol.iterator]();
  const controller = new AbortController();
  let failure: { error: unknown } | undefined;
  const stopped = () => {
    if (failure) return;
    failure = { error: stop!.reason };
    controller.abort(stop!.reason);
  };
  if (stop?.aborted) stopped();
  stop?.addEventListener("abort", stopped);
  // Wakes the loop once when `stop` fires (then it waits for the running calls alone).
  const { promise: halted, resolve: halt } = Promise.withResolvers<void>();
  stop?.addEventListener("abort", () => halt());
  const running = new Set<Promise<void>>();
  let exhausted = false;
  for (;;) {
    while (!failure && !exhausted && running.size < limit.value) {
      const next = it.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const p: Promise<void> = work(next.value, controller.signal)
        .catch((error) => {
          if (failure) return;
          failure = { error };
          controller.abort(new PoolStopped());
        })
        .finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size === 0) break;
    await Promise.race(failure ? running : [...running, limit.changed(), halted]);
  }
  stop?.removeEventListener("abort", stopped);
  if (failure) throw failure.error;
}

/** Why the other calls of a pool stopped: one of them failed. */
class PoolStopped extends Error {
  override name = "PoolStopped";
}
