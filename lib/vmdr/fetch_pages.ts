/**
 * How the detection source fetches: one streamed answer into a fresh parser, fetched again when it
 * is cut, truncated or stalls (bounded, never kept in part); the API's concurrency limit as
 * Qualys announces it (`X-Concurrency-Limit-Limit`); a pool that runs at most that many calls at
 * once; and the traffic counts of a run.
 *
 * @module
 */

import { QualysApiError, ReportSyntaxError } from "../errors.ts";
import type { QualysClient } from "../qualys/client.ts";
import type { Endpoint } from "../qualys/endpoints.ts";
import { AnswerTap, refusesVersion } from "../qualys/notices.ts";
import { parseQualysResponse } from "../qualys/responses.ts";
import { DownloadCut, readInto, type StreamParser, WrongAnswer } from "../qualys/stream_body.ts";

/** API calls and bytes downloaded, per path and in total. */
export class Traffic {
  /** Calls made (each try counts). */
  calls = 0;
  /** Body bytes read (each try counts). */
  bytes = 0;
  /** The same, per path. */
  readonly byPath = new Map<string, { calls: number; bytes: number }>();

  /** Counts one call to `path` that read `bytes`. */
  count(path: string, bytes: number): void {
    this.calls++;
    this.bytes += bytes;
    const p = this.byPath.get(path) ?? { calls: 0, bytes: 0 };
    p.calls++;
    p.bytes += bytes;
    this.byPath.set(path, p);
  }
}

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

/** Options for {@linkcode fetchParsed}. */
export interface FetchParsedOptions {
  /** What is fetched, for messages ("host detection page 3"). */
  what: string;
  /** Counts calls and bytes. */
  traffic: Traffic;
  /** Updated from each answer's headers. */
  limit?: ConcurrencyLimit | undefined;
  /** Stops the fetch. */
  signal?: AbortSignal | undefined;
  /** Most fetches of the answer (a cut one is fetched again). @default {5} */
  maxFetches?: number;
  /** Receives warnings (a cut answer fetched again). */
  onWarning?: ((message: string) => void) | undefined;
  /** A read buffer to reuse (see `readInto`). */
  reuse?: { buffer: Uint8Array | undefined } | undefined;
}

/**
 * POSTs `params` to `endpoint` and streams the answer into a parser from `makeParser`, until one
 * answer parses whole: a cut, truncated, empty or stalled one is fetched again with a fresh
 * parser (bounded: then exit 3); a Qualys body saying 1960 or 1965 is waited out like the
 * client's own limits, one saying the version is not supported ends the run naming the
 * `api_versions` entry. A notice of deprecation at the start or the end of a whole answer is
 * handed to the client (`noteAnswer`). What the parser throws otherwise ends the fetch.
 *
 * @throws {QualysApiError} When the answer cannot be had (exit 3).
 * @throws {ReportSyntaxError} When it is not the XML expected (exit 4).
 */
export async function fetchParsed<T>(
  client: QualysClient,
  request: { endpoint: Endpoint; params: Record<string, string> },
  makeParser: () => StreamParser<T>,
  options: FetchParsedOptions,
): Promise<T> {
  const { endpoint, params } = request;
  const path = client.path(endpoint);
  const { what, traffic, signal, maxFetches = 5 } = options;
  let limitWaits = 0;
  for (let attempt = 1;; attempt++) {
    const answer = await client.fetchStream(endpoint, params, { signal });
    options.limit?.update(answer.headers);
    const inner = makeParser();
    const tap = new AnswerTap();
    let bytes = 0;
    const counting: StreamParser<T> = {
      push(chunk) {
        bytes += chunk.length;
        tap.push(chunk);
        inner.push(chunk);
      },
      end: () => inner.end(),
      abort: () => inner.abort(),
    };
    try {
      const result = await readInto(client, answer, counting, {
        what,
        signal,
        reuse: options.reuse,
      });
      client.noteAnswer(endpoint, answer.headers, tap.texts());
      return result;
    } catch (error) {
      signal?.throwIfAborted();
      const again = attempt < maxFetches;
      if (error instanceof DownloadCut) {
        if (!again) {
          throw new QualysApiError(
            `${error.message}; gave up after ${attempt} downloads` +
              (error instanceof WrongAnswer
                ? ": nothing was sent and the checkpoint stays; run again later, and if it " +
                  "recurs, report it to Qualys support"
                : ""),
          );
        }
        options.onWarning?.(`${error.message}; fetching it again`);
        await client.wait(2000 * attempt, signal);
        continue;
      }
      if (error instanceof QualysApiError && (error.code === "1960" || error.code === "1965")) {
        await client.waitForBodyLimit({ code: error.code, items: [] }, limitWaits++, {
          label: client.label(endpoint, params),
          signal,
        });
        attempt--;
        continue;
      }
      const refusal = error instanceof QualysApiError ? versionRefusal(tap) : undefined;
      if (refusal !== undefined) {
        throw client.refusedVersion(endpoint, {
          status: answer.status,
          text: refusal,
          label: client.label(endpoint, params),
        });
      }
      if (error instanceof ReportSyntaxError) throw error.inFile(what);
      throw error;
    } finally {
      traffic.count(path, bytes);
    }
  }
}

// The TEXT of a small SIMPLE_RETURN answer that says the version is not supported.
function versionRefusal(tap: AnswerTap): string | undefined {
  const whole = tap.whole();
  if (!whole) return undefined;
  try {
    const r = parseQualysResponse(whole);
    return r.root === "SIMPLE_RETURN" && refusesVersion(r.text) ? r.text : undefined;
  } catch {
    return undefined;
  }
}
