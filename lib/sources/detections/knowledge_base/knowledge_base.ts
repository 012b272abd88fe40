/**
 * The KnowledgeBase join (docs/qualys_api.md section 7): the title, DIAGNOSIS, CVE and Bugtraq
 * IDs of each QID a run's detections name, from the KB cache and, for what the cache lacks or
 * what changed, from the KnowledgeBase API (`knowledge_base` in the endpoint table). It runs
 * while the detection pages are fetched (the KnowledgeBase has its own limits), QIDs being named
 * as the pages bring them:
 *
 * 1. with a cache, one `details=None&last_modified_after=<its checkpoint>` call lists the QIDs
 *    modified since; those the run needs are fetched again, the others dropped from the cache
 *    (all of them, warned, when that answer's DATETIME is earlier than the checkpoint: Qualys's
 *    clock went back, or the cache was edited, and what changed since may be dated before it);
 * 2. the QIDs needed and not cached are fetched with `details=All`, `ids=` batches of 500 (each
 *    sent once it is full, the last at the end), at most `X-Concurrency-Limit-Limit` at once;
 * 3. at the end the cache is rewritten (atomically) with the new entries, the kept old ones and
 *    the new checkpoint (the earliest DATETIME of this run's KB answers), and the run's glossary
 *    holds the entries of the QIDs it needs.
 *
 * A QID the KnowledgeBase does not return is counted; its findings go without title or IDs.
 *
 * @module
 */

import type { GlossaryEntry } from "../../../findings/finding_source.ts";
import type { QualysClient } from "../../../qualys/client.ts";
import { Tag } from "../../../xml/tags.ts";
import { parseDateTime } from "../../../qualys/datetime.ts";
import { ConcurrencyLimit } from "../../../qualys/concurrency.ts";
import { fetchParsed, type Traffic } from "../../../qualys/fetch_parsed.ts";
import { IdListParser } from "../pages/id_list.ts";
import { KbCache, KbCacheWriter, type KbEntry } from "./kb_cache.ts";
import { KbPageParser } from "../pages/kb_page.ts";
import { OVERLAP_SECONDS, secondsBefore } from "../state/sync_state.ts";

/** Where the join puts each entry a run needs (the packed `GlossaryStore`). */
export interface GlossaryTarget {
  /** Adds the entry of a QID (the first one for a QID wins). */
  add(entry: GlossaryEntry): unknown;
}

/** Options for {@linkcode KnowledgeBaseJoin.start}. */
export interface KbJoinOptions {
  /** The cache file. */
  cachePath: string;
  /** Counts calls and bytes. */
  traffic: Traffic;
  /** Receives the entries of the QIDs the run needs. */
  glossary: GlossaryTarget;
  /** QIDs per `details=All` call. @default {500} */
  batchSize?: number;
  /** Most calls at once, even when Qualys allows more. @default no cap */
  maxConcurrency?: number;
  /** Receives warnings (a damaged cache). */
  onWarning?: ((message: string) => void) | undefined;
  /** Called after each batch has gone into the cache and the glossary. */
  afterBatch?: (() => void) | undefined;
  /** Read the cache, write none (`-dry-run`). @default {false} */
  readOnly?: boolean | undefined;
}

/** What the join did. */
export interface KbJoinResult {
  /** QIDs the run needed. */
  needed: number;
  /** Of them, taken from the cache. */
  cached: number;
  /** Of them, fetched (new or modified). */
  fetched: number;
  /** QIDs the KnowledgeBase did not return. */
  missing: number[];
  /** QIDs modified since the cache's checkpoint (all of them, needed or not). */
  modified: number;
  /** The cache's new checkpoint ("" when it has none). */
  checkpoint: string;
}

/**
 * Qualys ID list text for sorted IDs: runs become ranges.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(idRanges([1, 2, 3, 7, 9, 10]), "1-3,7,9-10");
 * ```
 */
export function idRanges(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(",");
}

function toGlossary(e: KbEntry): GlossaryEntry {
  return { qid: e.q, title: e.t, description: e.d, cves: e.c, bugtraqs: e.b };
}

function earlier(a: string, b: string): string {
  return a === "" ? b : b === "" || a <= b ? a : b;
}

/** A KnowledgeBase join under way: `need` each QID, then `finish` (or `abort`). */
export class KnowledgeBaseJoin {
  readonly #client: QualysClient;
  readonly #options: KbJoinOptions;
  readonly #cache: KbCache;
  readonly #writer: KbCacheWriter;
  readonly #limit: ConcurrencyLimit;
  readonly #batch: number;
  readonly #stop = new AbortController();
  readonly #needed = new Set<number>();
  readonly #asked: number[] = []; // QIDs sent for with details=All
  #modified: Set<number> | undefined; // undefined until the list has come
  #listing: Promise<void> = Promise.resolve();
  #pending: number[] = [];
  #waiting: number[][] = [];
  #running = 0;
  #idle: (() => void)[] = [];
  #failure: { error: unknown } | undefined;
  #checkpoint = "";
  #calls = 0;
  #clockNote: string | undefined; // the cache's checkpoint is later than Qualys's clock
  // Buffers a call reuses from the one before (read buffer, entries): no garbage per batch.
  readonly #spare: { buffer: Uint8Array | undefined; lines: Uint8Array | undefined }[] = [];

  private constructor(
    client: QualysClient,
    options: KbJoinOptions,
    cache: KbCache,
    writer: KbCacheWriter,
  ) {
    this.#client = client;
    this.#options = options;
    this.#cache = cache;
    this.#writer = writer;
    this.#limit = new ConcurrencyLimit(options.maxConcurrency);
    // While the pages come, one call at a time: the pages take long enough to hide the calls,
    // and each connection at once costs memory. At the end, as many as Qualys allows.
    this.#limit.hold(1);
    this.#batch = options.batchSize ?? 500;
  }

  /**
   * Opens the cache, starts the new cache file, and (with a cache) asks which QIDs changed.
   *
   * @throws {LocalIoError} When the new cache file cannot be created (exit 7).
   */
  static async start(client: QualysClient, options: KbJoinOptions): Promise<KnowledgeBaseJoin> {
    const cache = await KbCache.open(options.cachePath, (m) => options.onWarning?.(m));
    let writer: KbCacheWriter;
    try {
      writer = cache.replaceable && !options.readOnly
        ? await KbCacheWriter.begin(cache.path)
        : KbCacheWriter.none();
    } catch (error) {
      cache.close();
      throw error;
    }
    const join = new KnowledgeBaseJoin(client, options, cache, writer);
    if (cache.checkpoint !== undefined) join.#listing = join.#listModified(cache.checkpoint);
    else join.#modified = new Set();
    return join;
  }

  /** Fires when a call failed for good: the run cannot succeed, its other work may stop. */
  get failed(): AbortSignal {
    return this.#stop.signal;
  }

  /** Names a QID the run needs (again: nothing happens). */
  need(qid: number): void {
    if (this.#needed.has(qid) || this.#failure) return;
    this.#needed.add(qid);
    // Before the list of modified QIDs has come, cached QIDs wait for it.
    if (!this.#cache.qids.has(qid) || this.#modified?.has(qid)) this.#queue(qid);
  }

  #queue(qid: number): void {
    this.#pending.push(qid);
    if (this.#pending.length >= this.#batch) this.#flush();
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    this.#waiting.push(this.#pending.sort((a, b) => a - b));
    this.#pending = [];
    this.#pump();
  }

  #pump(): void {
    while (!this.#failure && this.#waiting.length && this.#running < this.#limit.value) {
      const qids = this.#waiting.shift()!;
      this.#running++;
      this.#fetch(qids)
        .catch((error) => this.#fail(error))
        .finally(() => {
          this.#running--;
          this.#pump();
          if (this.#running === 0 && (this.#waiting.length === 0 || this.#failure)) {
            for (const resolve of this.#idle.splice(0)) resolve();
          }
        });
    }
  }

  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#stop.abort(error);
  }

  async #listModified(checkpoint: string): Promise<void> {
    try {
      const list = await fetchParsed(
        this.#client,
        {
          endpoint: "knowledge_base",
          params: {
            action: "list",
            details: "None",
            last_modified_after: secondsBefore(checkpoint, OVERLAP_SECONDS),
          },
        },
        () => new IdListParser(Tag.KNOWLEDGE_BASE_VULN_LIST_OUTPUT),
        {
          what: "the list of modified QIDs",
          traffic: this.#options.traffic,
          limit: this.#limit,
          signal: this.#stop.signal,
          onWarning: this.#options.onWarning,
        },
      );
      this.#checkpoint = earlier(this.#checkpoint, list.datetime);
      if (parseDateTime(list.datetime)! < parseDateTime(checkpoint)!) {
        this.#clockNote = `${this.#cache.path}: the KnowledgeBase cache's checkpoint ` +
          `(${checkpoint}) is later than Qualys's clock (${list.datetime}): Qualys's clock went ` +
          "back, or the cache was edited; its entries are fetched again";
        this.#modified = new Set(this.#cache.qids);
      } else this.#modified = new Set(list.ids);
      for (const q of this.#needed) {
        if (this.#cache.qids.has(q) && this.#modified.has(q)) this.#queue(q);
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  async #fetch(qids: number[]): Promise<void> {
    const reuse = this.#spare.pop() ?? { buffer: undefined, lines: undefined };
    const signal = this.#stop.signal;
    try {
      this.#asked.push(...qids);
      const page = await fetchParsed(
        this.#client,
        {
          endpoint: "knowledge_base",
          params: { action: "list", details: "All", ids: idRanges(qids) },
        },
        () => {
          const parser = new KbPageParser({ lines: reuse.lines });
          return {
            push: (chunk) => parser.push(chunk),
            end: () => {
              const page = parser.end();
              reuse.lines = parser.buffer; // grown, perhaps
              return page;
            },
            abort: () => parser.abort(),
          };
        },
        {
          what: `KnowledgeBase batch ${++this.#calls}`,
          traffic: this.#options.traffic,
          limit: this.#limit,
          signal,
          onWarning: this.#options.onWarning,
          reuse,
        },
      );
      if (signal.aborted) return;
      this.#checkpoint = earlier(this.#checkpoint, page.datetime);
      await this.#writer.append(page.lines, page.qids);
      const dec = new TextDecoder();
      let start = 0;
      for (const qid of page.qids) {
        const end = page.lines.indexOf(10, start);
        if (this.#needed.has(qid)) {
          const entry = JSON.parse(dec.decode(page.lines.subarray(start, end)));
          this.#options.glossary.add(toGlossary(entry));
        }
        start = end + 1;
      }
      this.#options.afterBatch?.();
    } finally {
      this.#spare.push(reuse);
    }
  }

  /**
   * Sends what is left, waits for every call, and writes the new cache.
   *
   * @throws {QualysApiError} When a call failed for good (exit 3).
   * @throws {LocalIoError} When the cache cannot be written (exit 7).
   */
  async finish(): Promise<KbJoinResult> {
    try {
      await this.#listing;
      this.#limit.hold(Infinity);
      this.#flush();
      this.#pump();
      // Once nothing runs, nothing waits either (the pump starts what waits), unless it failed.
      if (this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      if (this.#failure) throw this.#failure.error;
      if (this.#clockNote) this.#options.onWarning?.(this.#clockNote);
      const cache = this.#cache, writer = this.#writer, needed = this.#needed;
      const modified = this.#modified ?? new Set<number>();
      const fetched = new Set(writer.qids);
      // The old entries: kept unless fetched again or modified since; decoded when needed.
      const damaged = await cache.copy(writer, {
        keep: (q) => !fetched.has(q) && !modified.has(q),
        want: (q) => needed.has(q) && !fetched.has(q) && !modified.has(q),
        onEntry: (e) => this.#options.glossary.add(toGlossary(e)),
      });
      if (damaged.length > 0) await this.#fetchDamaged(damaged);
      // what was asked for and did not come (the copy holds none of it: asked means not cached
      // or modified, neither of which is copied)
      const missing = this.#asked.filter((q) => !writer.qids.has(q)).sort((a, b) => a - b);
      const checkpoint = this.#checkpoint || (cache.checkpoint ?? "");
      if (checkpoint !== "") await writer.commit(checkpoint);
      else await writer.discard(); // no call and no cache: nothing to keep
      return {
        needed: needed.size,
        cached: needed.size - this.#asked.length,
        fetched: this.#asked.length - missing.length,
        missing,
        modified: modified.size,
        checkpoint,
      };
    } catch (error) {
      await this.abort();
      throw error;
    } finally {
      this.#cache.close();
    }
  }

  /** Says that the cache held damaged entries the run needs, and fetches them. */
  async #fetchDamaged(qids: number[]): Promise<void> {
    const shown = qids.slice(0, 5).join(", ") + (qids.length > 5 ? ", ..." : "");
    this.#options.onWarning?.(
      `${this.#cache.path}: the KnowledgeBase cache is damaged (${
        qids.length === 1
          ? `QID ${shown}: its entry makes no sense): it is`
          : `${qids.length} QIDs, ${shown}: their entries make no sense): they are`
      } fetched again`,
    );
    for (const q of qids) this.#queue(q);
    this.#flush();
    this.#pump();
    if (this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    if (this.#failure) throw this.#failure.error;
  }

  /** Stops the calls (the run failed elsewhere) and drops the new cache; never throws. */
  async abort(): Promise<void> {
    this.#fail(new Error("the run stopped"));
    await this.#listing.catch(() => {});
    if (this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.#writer.discard();
    this.#cache.close();
  }
}
