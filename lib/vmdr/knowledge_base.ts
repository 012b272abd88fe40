/**
 * The KnowledgeBase join (docs/qualys_api.md section 7): the title, DIAGNOSIS, CVE and Bugtraq
 * IDs of each QID a run's detections name, from the KB cache and, for what the cache lacks or
 * what changed, from `/api/2.0/fo/knowledge_base/vuln/`:
 *
 * 1. with a cache, one `details=None&last_modified_after=<its checkpoint>` call lists the QIDs
 *    modified since; those the run needs are fetched again, the others dropped from the cache;
 * 2. the QIDs needed and not cached are fetched with `details=All`, `ids=` batches of 500, at
 *    most `X-Concurrency-Limit-Limit` calls at once;
 * 3. the cache is rewritten (atomically) with the new entries, the kept old ones and the new
 *    checkpoint (the earliest DATETIME of this run's KB answers), and the run's glossary holds
 *    the entries of the QIDs it needs.
 *
 * A QID the KnowledgeBase does not return is counted; its findings go without title or IDs.
 *
 * @module
 */

import type { GlossaryEntry } from "../findings/finding_source.ts";
import type { QualysClient } from "../qualys/client.ts";
import { Tag } from "../xml/tags.ts";
import { ConcurrencyLimit, fetchParsed, KB_PATH, runPool, type Traffic } from "./fetch_pages.ts";
import { IdListParser } from "./id_list.ts";
import { KbCache, KbCacheWriter, type KbEntry } from "./kb_cache.ts";
import { KbPageParser } from "./kb_page.ts";

/** Where the join puts each entry a run needs (the packed `GlossaryStore`). */
export interface GlossaryTarget {
  /** Adds the entry of a QID (the first one for a QID wins). */
  add(entry: GlossaryEntry): unknown;
}

/** Options for {@linkcode joinKnowledgeBase}. */
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

/**
 * Joins the KnowledgeBase for the QIDs in `needed`.
 *
 * @throws {QualysApiError} When a call fails for good (exit 3).
 * @throws {LocalIoError} When the cache cannot be written (exit 7).
 */
export async function joinKnowledgeBase(
  client: QualysClient,
  needed: ReadonlySet<number>,
  options: KbJoinOptions,
): Promise<KbJoinResult> {
  const { traffic, glossary } = options;
  const cache = await KbCache.open(options.cachePath, (m) => options.onWarning?.(m));
  const limit = new ConcurrencyLimit(options.maxConcurrency);
  let checkpoint = "";
  let writer: KbCacheWriter | undefined;
  try {
    const modified = new Set<number>();
    if (cache.checkpoint !== undefined) {
      const list = await fetchParsed(
        client,
        {
          path: KB_PATH,
          params: { action: "list", details: "None", last_modified_after: cache.checkpoint },
        },
        () => new IdListParser(Tag.KNOWLEDGE_BASE_VULN_LIST_OUTPUT),
        { what: "the list of modified QIDs", traffic, limit, onWarning: options.onWarning },
      );
      checkpoint = earlier(checkpoint, list.datetime);
      for (const q of list.ids) modified.add(q);
    }
    const wanted = [...needed].filter((q) => !cache.qids.has(q) || modified.has(q))
      .sort((a, b) => a - b);
    const batch = options.batchSize ?? 500;
    const batches: number[][] = [];
    for (let i = 0; i < wanted.length; i += batch) batches.push(wanted.slice(i, i + batch));
    writer = await KbCacheWriter.begin(cache.path);
    const w = writer;
    let n = 0;
    // Buffers a call reuses from the one before (read buffer, entries): no garbage per batch.
    const spare: { buffer: Uint8Array | undefined; lines: Uint8Array | undefined }[] = [];
    const dec = new TextDecoder();
    await runPool(batches, limit, async (qids, signal) => {
      const reuse = spare.pop() ?? { buffer: undefined, lines: undefined };
      try {
        const page = await fetchParsed(
          client,
          { path: KB_PATH, params: { action: "list", details: "All", ids: idRanges(qids) } },
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
            what: `KnowledgeBase batch ${++n}`,
            traffic,
            limit,
            signal,
            onWarning: options.onWarning,
            reuse,
          },
        );
        if (signal.aborted) return;
        checkpoint = earlier(checkpoint, page.datetime);
        await w.append(page.lines, page.qids);
        let start = 0;
        for (const qid of page.qids) {
          const end = page.lines.indexOf(10, start);
          if (needed.has(qid)) {
            glossary.add(toGlossary(JSON.parse(dec.decode(page.lines.subarray(start, end)))));
          }
          start = end + 1;
        }
        options.afterBatch?.();
      } finally {
        spare.push(reuse);
      }
    });
    const fetched = new Set(writer.qids);
    // The old entries: kept unless fetched again or modified since; decoded when needed.
    await cache.copy(writer, {
      keep: (q) => !fetched.has(q) && !modified.has(q),
      want: (q) => needed.has(q) && !fetched.has(q) && !modified.has(q),
      onEntry: (e) => glossary.add(toGlossary(e)),
    });
    const missing = wanted.filter((q) => !fetched.has(q));
    if (checkpoint === "") checkpoint = cache.checkpoint ?? "";
    if (checkpoint !== "") await writer.commit(checkpoint);
    else await writer.discard(); // no call and no cache: nothing to keep
    return {
      needed: needed.size,
      cached: needed.size - wanted.length,
      fetched: wanted.length - missing.length,
      missing,
      modified: modified.size,
      checkpoint,
    };
  } catch (error) {
    await writer?.discard();
    throw error;
  } finally {
    cache.close();
  }
}
