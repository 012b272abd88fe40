/**
 * One streamed answer into a fresh parser, fetched again when it is cut, truncated or stalls
 * (bounded, never kept in part), with the 1960/1965 limits its body may report waited out; and
 * the traffic counts of a run; the heap watched as the answers are parsed (`FETCH_MEMORY`).
 * What the detection source's pages and the KnowledgeBase join fetch goes through here.
 *
 * @module
 */

import { QualysApiError, ReportSyntaxError } from "../errors.ts";
import type { QualysClient } from "./client.ts";
import type { ConcurrencyLimit } from "./concurrency.ts";
import type { Endpoint } from "./endpoints.ts";
import { AnswerTap, refusesVersion } from "./notices.ts";
import { parseQualysResponse } from "./simple_return.ts";
import { DownloadCut, readInto, type StreamParser, WrongAnswer } from "./stream_body.ts";
import { FETCH_LOOK_BYTES, FETCH_MEMORY, HeapWatch } from "../util/memory.ts";

// The heap is the process's: one watch over every answer parsed, whichever call it came from.
const heap = new HeapWatch(FETCH_MEMORY, { every: FETCH_LOOK_BYTES });

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
        heap.tick(chunk.length);
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
