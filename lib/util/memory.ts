/**
 * The memory a run may use, in one place: how much of the findings, the glossary and the
 * encoder's QID texts stays in memory before going to a 0600 temp file, how big the encoder's
 * two write buffers are, and when garbage is collected ({@linkcode collectGarbage}, the one hook
 * to V8's `gc()`). Two budgets: a report's ({@linkcode REPORT_MEMORY}), and the detection
 * source's ({@linkcode DETECTION_MEMORY}), which holds a full sync of 100,000 hosts under the
 * 100 MiB `deno task bench` checks, with the pages' sockets and buffers beside it.
 *
 * @module
 */

/** What a run's findings, glossary and encoding may hold in memory. */
export interface MemoryBudget {
  /** Finding spool bytes kept in memory before the rest goes to a temp file. */
  readonly findingBytes: number;
  /** Packed glossary bytes kept in memory before the rest goes to a temp file. */
  readonly glossaryBytes: number;
  /** Bytes of encoded QID texts the encoder keeps; the rest it reads back from its text spool. */
  readonly qidCacheBytes: number;
  /** Bytes of each of the encoder's two write buffers (a write is made 64 KiB before full). */
  readonly bufferBytes: number;
  /**
   * While parsing (a report) and encoding, the heap is looked at every 250 hosts and collected
   * once it has grown this much since the last collection; undefined: never.
   */
  readonly heapSlack?: number | undefined;
  /** Collect before encoding (what the fetching left) and after it (the encoder's). */
  readonly collectAroundEncode: boolean;
}

/**
 * A report's budget: the defaults of the spool (2 MiB), the glossary store (16 MiB) and the
 * encoder (16 MiB of QID texts, buffers of 1 MiB).
 *
 * The heap is watched while the report is parsed (`ParseReportOptions.heapSlack`) and while it is
 * encoded, and collected before and after encoding. Parsing leaves garbage that V8, with the
 * small young generation the binary runs with, lets the old generation grow by several MiB before
 * it collects: more so in a run to a Defense Center, whose client certificate (node-forge) and
 * check before the run leave a larger heap behind (a 2.2 GB report of 100,000 hosts: 21 MB of heap
 * at the end of the parse instead of 10, 24 at the end of the encode). A slack of 4 MiB keeps it
 * near what is live for 8 collections (60-70 ms) in that run: 1 MiB took 59 (0.8 s) for the
 * same peak, 8 MiB 6 collections for 1 MiB more. On the ≈250 MB report of `deno task bench`: 4
 * collections, 35 ms.
 */
export const REPORT_MEMORY: MemoryBudget = Object.freeze({
  findingBytes: 2 << 20,
  glossaryBytes: 16 << 20,
  qidCacheBytes: 16 << 20,
  bufferBytes: 1 << 20,
  heapSlack: 4 << 20,
  collectAroundEncode: true,
});

/**
 * The detection source's budget. The pages' sockets and buffers leave less room under the
 * 100 MiB the bench holds a full sync of 100,000 hosts to than a report has: the findings go
 * to a temp file past 512 KiB, the QID texts (a KnowledgeBase join may name tens of thousands) past
 * 256 KiB, and the encoder keeps 2 MiB of encoded texts instead of 16 (the rest it reads back
 * from its text spool: 5 s to encode the bench's 100,000 hosts with 4 MiB, against 4 s with all
 * of them in memory and 12 s building them again; 2 MiB, the peak of a night to a Defense Center
 * 2 MiB lower, adds about 1 s to the 80 s of a full sync) and writes in parts of 256 KiB.
 *
 * Encoding leaves garbage (a QID's text built from its glossary entry, the hosts read back) that
 * V8, with the small young generation the binary runs with, lets grow the old generation to
 * several times what is live (at 30,000 hosts, 141 MiB instead of 97). So every 250 hosts the
 * heap is looked at, and collected once it has grown 1 MiB since the last collection (3 MiB:
 * 2 MiB more at the peak, 1 s less to encode); a fixed rhythm (every 1,000 hosts) kept the same
 * peak but took 60 % longer.
 */
export const DETECTION_MEMORY: MemoryBudget = Object.freeze({
  findingBytes: 512 << 10,
  glossaryBytes: 256 << 10,
  qidCacheBytes: 2 << 20,
  bufferBytes: 256 << 10,
  heapSlack: 1 << 20,
  collectAroundEncode: true,
});

/**
 * Sending to a Defense Center: the heap is looked at every 250 DATA messages (`HeapWatch.tick`
 * once a message) and collected once it has grown 4 MiB, so that a send of millions of lines
 * does not let the garbage of each message's answer grow the old generation.
 */
export const SEND_MEMORY: Pick<MemoryBudget, "heapSlack"> = Object.freeze({ heapSlack: 4 << 20 });

/**
 * Fetching from Qualys (the detection source's pages, the host ID list, the KnowledgeBase) and
 * reading the KnowledgeBase cache: the heap is looked at every {@linkcode FETCH_LOOK_BYTES} parsed
 * and collected once it has grown 2 MiB, so that the garbage of the answers' XML does not grow
 * the old generation. Looked at every 250 hosts of the pages instead, an incremental run of the
 * bench's 100,000 hosts held 34 MiB of heap at its peak, 18 of it live (22 after); the host ID
 * list of the same run (2.5 MB, no host in it) still grew the heap by 12 MiB before V8 collected
 * it, the cache's 19,000 entries by 10. With 4 MiB (before collections gave pages back) the end
 * of the pages was an incremental night's peak; 2 MiB takes 13 collections in a full sync's pages.
 */
export const FETCH_MEMORY: Pick<MemoryBudget, "heapSlack"> = Object.freeze({ heapSlack: 2 << 20 });

/** Bytes parsed between two looks at the heap ({@linkcode FETCH_MEMORY}). */
export const FETCH_LOOK_BYTES = 1 << 20;

/**
 * Reading the KnowledgeBase cache into the glossary (`KbCache.copy`): a look every
 * {@linkcode KB_CACHE_LOOK_BYTES} read, a collection once the heap has grown 2 MiB, and one at the
 * end. Each line read is a string, and each entry wanted an object decoded from it, garbage once
 * in the glossary: with `FETCH_MEMORY`'s 4 MiB, the 19,000 entries of an incremental night of the
 * bench left the heap 4 MiB over what is live as the encoding began, that night's peak.
 */
export const KB_CACHE_MEMORY: Pick<MemoryBudget, "heapSlack"> = Object.freeze({
  heapSlack: 2 << 20,
});

/** Bytes of the KnowledgeBase cache read between two looks at the heap ({@linkcode KB_CACHE_MEMORY}). */
export const KB_CACHE_LOOK_BYTES = 256 << 10;

/** Hosts between two looks at the heap while parsing or encoding ({@linkcode MemoryBudget.heapSlack}). */
export const HEAP_CHECK_HOSTS = 250;

/**
 * A full garbage collection when the runtime offers one (`--expose-gc`, as the binary is built
 * and `deno task run` runs); nothing otherwise. The only call to V8's `gc()`.
 *
 * V8's "last resort" collection: it compacts the heap and gives its empty pages back, as V8 does
 * when the system is short of memory. A plain `gc()` frees the objects but keeps the pages they
 * were on: after one, a heap of 4 MiB of objects still held 18 MiB of pages (5 after this one).
 *
 * @example Usage
 * ```ts
 * collectGarbage(); // a no-op without --expose-gc
 * ```
 */
export function collectGarbage(): void {
  (globalThis as { gc?: (options: V8GcOptions) => void }).gc?.(LAST_RESORT);
}

/** What V8's `gc()` takes (`--expose-gc`). */
interface V8GcOptions {
  type: "major" | "minor";
  execution: "sync" | "async";
  flavor: "regular" | "last-resort";
}

const LAST_RESORT: V8GcOptions = { type: "major", execution: "sync", flavor: "last-resort" };

/**
 * Watches the heap while parsing or encoding, as `budget.heapSlack` says:
 * {@linkcode HeapWatch.tick} once per host (or per byte parsed, with `every`) looks at the heap
 * every so often and collects when it has grown past the slack since the last collection.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const watch = new HeapWatch({ heapSlack: undefined });
 * for (let i = 0; i < 1000; i++) watch.tick(); // no slack: never looks
 * assert.equal(watch.collections, 0);
 * ```
 */
export class HeapWatch {
  readonly #slack: number | undefined;
  readonly #every: number;
  #base = 0;
  #count = 0;
  /** Collections made. */
  collections = 0;

  /**
   * A watch with the budget's slack (none: it never looks), looking once `every` units have been
   * ticked since its last look (default {@linkcode HEAP_CHECK_HOSTS}: hosts).
   */
  constructor(budget: Pick<MemoryBudget, "heapSlack">, options: { every?: number } = {}) {
    this.#slack = budget.heapSlack;
    this.#every = options.every ?? HEAP_CHECK_HOSTS;
  }

  /** `units` more (one host, or a chunk's bytes): every `every` units, a look at the heap. */
  tick(units = 1): void {
    if (this.#slack === undefined || (this.#count += units) < this.#every) return;
    this.#count = 0;
    const used = Deno.memoryUsage().heapUsed;
    if (used - this.#base > this.#slack) {
      collectGarbage();
      this.collections++;
      this.#base = Deno.memoryUsage().heapUsed;
    }
  }
}
