/**
 * The KnowledgeBase cache on disk (docs/operations.md: "State files"): one entry per QID (title,
 * DIAGNOSIS, CVE and Bugtraq IDs, as JSON, one a line), then a trailer line with the checkpoint
 * (Qualys's clock before the calls that filled it): every entry is current as of that time, so
 * the next run asks `last_modified_after=<checkpoint>` which of them changed. A file without its
 * trailer, or with a line that makes no sense, is reported and treated as empty (the entries are
 * fetched again). An entry whose head (`{"q":<qid>,`) is whole but whose rest is damaged is found
 * only when a run decodes it: it is then left out of the new cache and returned, to be fetched
 * again. The file is 0600, one per Qualys account (`kb-<hash of url and user>.jsonl`),
 * and replaced atomically at the end of each run's KnowledgeBase step. A directory where it
 * belongs is a damaged cache too, that the run cannot replace: it goes without a cache.
 *
 * Memory stays small whatever the cache holds: opening reads only the QIDs (kept in a `Set`),
 * and the rewrite streams the old entries through, decoding only those the run needs.
 *
 * @module
 */

import { LocalIoError } from "../../../errors.ts";
import { parseDateTime } from "../../../qualys/datetime.ts";
import type { KbEntry } from "../pages/kb_page.ts";
import { type AtomicFile, writeAtomic } from "../../../state/state_dir.ts";
import {
  collectGarbage,
  HeapWatch,
  KB_CACHE_LOOK_BYTES,
  KB_CACHE_MEMORY,
} from "../../../util/memory.ts";

export type { KbEntry };

const FORMAT = "qualys_connector kb cache";
const QID_HEAD = /^\{"q":(\d{1,10}),/;
const enc = new TextEncoder();

/** Reads `file` from its start, line by line (without the `\n`). */
async function* lines(file: Deno.FsFile): AsyncGenerator<string> {
  await file.seek(0, Deno.SeekMode.Start);
  const dec = new TextDecoder("utf-8", { fatal: true });
  const buf = new Uint8Array(256 << 10);
  let carry = "";
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    const text = carry + dec.decode(buf.subarray(0, n), { stream: true });
    const parts = text.split("\n");
    carry = parts.pop()!;
    yield* parts;
  }
  carry += dec.decode();
  if (carry) yield carry;
}

function isEntry(e: unknown): e is KbEntry {
  const x = e as KbEntry;
  return typeof x?.q === "number" && Number.isInteger(x.q) && x.q >= 0 &&
    typeof x.t === "string" && typeof x.d === "string" && typeof x.m === "string" &&
    Array.isArray(x.c) && x.c.every((v) => typeof v === "string") &&
    Array.isArray(x.b) && x.b.every((v) => typeof v === "string");
}

/** The entry of `line`, whose head says `qid`; undefined when it makes no sense. */
function decode(line: string, qid: number): KbEntry | undefined {
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch {
    return undefined;
  }
  return isEntry(e) && e.q === qid ? e : undefined;
}

/** The cache as a run found it: its QIDs and checkpoint; the file stays open for the rewrite. */
export class KbCache {
  /** The cache file. */
  readonly path: string;
  /** The checkpoint, when the cache holds any entry. */
  readonly checkpoint: string | undefined;
  /** The QIDs it holds. */
  readonly qids: ReadonlySet<number>;
  /** Whether a new cache can take its place (false: a directory stands there). */
  readonly replaceable: boolean;
  #file: Deno.FsFile | undefined;

  private constructor(
    path: string,
    file: Deno.FsFile | undefined,
    checkpoint: string | undefined,
    qids: Set<number>,
    replaceable = true,
  ) {
    this.path = path;
    this.#file = file;
    this.checkpoint = checkpoint;
    this.qids = qids;
    this.replaceable = replaceable;
  }

  /**
   * Opens the cache at `path` and reads its QIDs. A missing file is an empty cache; an
   * unreadable or damaged one too, after `onProblem` said why; a directory too, which no new
   * cache can replace (`replaceable` false).
   */
  static async open(path: string, onProblem: (message: string) => void): Promise<KbCache> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        onProblem(`${path}: cannot read the KnowledgeBase cache (${(error as Error).message})`);
      }
      return new KbCache(path, undefined, undefined, new Set());
    }
    if ((await file.stat().catch(() => undefined))?.isDirectory) {
      file.close();
      onProblem(
        `${path} is a directory where the KnowledgeBase cache belongs: this run goes without ` +
          `the cache; remove it (rm -r ${path}) for the next runs to keep one`,
      );
      return new KbCache(path, undefined, undefined, new Set(), false);
    }
    const qids = new Set<number>();
    let checkpoint: string | undefined;
    let trailer = false;
    try {
      let n = 0;
      for await (const line of lines(file)) {
        n++;
        if (trailer) throw new TypeError(`line ${n} follows the trailer`);
        const head = QID_HEAD.exec(line);
        if (head) {
          qids.add(Number(head[1]));
          continue;
        }
        const t = JSON.parse(line);
        if (t?.format !== FORMAT || t.version !== 1 || typeof t.checkpoint !== "string") {
          throw new TypeError(`line ${n} is neither an entry nor the trailer`);
        }
        if (parseDateTime(t.checkpoint) === undefined || t.entries !== qids.size) {
          throw new TypeError("its trailer does not match its entries");
        }
        checkpoint = t.checkpoint;
        trailer = true;
      }
      if (!trailer) throw new TypeError("it has no trailer (cut short)");
    } catch (error) {
      file.close();
      onProblem(
        `${path}: the KnowledgeBase cache is damaged (${
          error instanceof SyntaxError ? "a line is not JSON" : (error as Error).message
        }): its entries are fetched again`,
      );
      return new KbCache(path, undefined, undefined, new Set());
    }
    return new KbCache(path, file, checkpoint, qids);
  }

  /**
   * Streams the cached entries whose QID `want`s (decoding only those) to `onEntry`, and copies
   * every entry that `keep`s into `into`, as it goes. A wanted entry that makes no sense (a
   * damaged line) is neither passed on nor copied: its QID is returned, to be fetched again.
   * Entries that are not wanted are copied undecoded (a damaged one is found when a run wants it).
   *
   * @returns The QIDs of the wanted entries that make no sense, in the file's order.
   * @throws {LocalIoError} When the cache cannot be read again.
   */
  async copy(
    into: KbCacheWriter | undefined,
    options: {
      keep: (qid: number) => boolean;
      want: (qid: number) => boolean;
      onEntry: (entry: KbEntry) => void;
    },
  ): Promise<number[]> {
    const damaged: number[] = [];
    if (!this.#file) return damaged;
    // each entry decoded is garbage once in the glossary: 19,000 of them grew the heap 10 MiB
    const heap = new HeapWatch(KB_CACHE_MEMORY, { every: KB_CACHE_LOOK_BYTES });
    try {
      for await (const line of lines(this.#file)) {
        heap.tick(line.length);
        const head = QID_HEAD.exec(line);
        if (!head) continue; // the trailer
        const qid = Number(head[1]);
        const keep = into !== undefined && options.keep(qid);
        if (!options.want(qid)) {
          if (keep) await into.appendLine(line, qid);
          continue;
        }
        const e = decode(line, qid);
        if (e === undefined) {
          damaged.push(qid);
          continue;
        }
        if (keep) await into.appendLine(line, qid);
        options.onEntry(e);
      }
    } catch (error) {
      if (error instanceof LocalIoError) throw error;
      throw new LocalIoError(
        `cannot read the KnowledgeBase cache: ${(error as Error).message}: delete it, and the ` +
          "next run fetches its entries again",
        { path: this.path, cause: error },
      );
    }
    collectGarbage(); // what the last lines left, before the pages' findings are encoded
    return damaged;
  }

  /** Closes the file. */
  close(): void {
    try {
      this.#file?.close();
    } catch { /* closed */ }
    this.#file = undefined;
  }
}

/**
 * A new cache file being written (atomically, over the old one); or, when no cache can be kept,
 * nothing written ({@linkcode KbCacheWriter.none}): the QIDs are still noted.
 */
export class KbCacheWriter {
  #file: AtomicFile | undefined;
  #qids = new Set<number>();

  private constructor(file: AtomicFile | undefined) {
    this.#file = file;
  }

  /** Starts a new cache file for `path`. */
  static async begin(path: string): Promise<KbCacheWriter> {
    return new KbCacheWriter(await writeAtomic(path));
  }

  /** A writer that writes nothing: a run without a cache. */
  static none(): KbCacheWriter {
    return new KbCacheWriter(undefined);
  }

  /** QIDs written so far. */
  get qids(): ReadonlySet<number> {
    return this.#qids;
  }

  /**
   * Appends entries: `lines` as the KnowledgeBase extractor makes them (JSON lines), their QIDs
   * in `qids`. A QID already written is skipped (the first one wins).
   */
  async append(lines: Uint8Array, qids: readonly number[]): Promise<void> {
    if (qids.every((q) => !this.#qids.has(q))) {
      for (const q of qids) this.#qids.add(q);
      await this.#file?.write(lines);
      return;
    }
    const text = new TextDecoder().decode(lines).split("\n");
    for (let i = 0; i < qids.length; i++) await this.appendLine(text[i]!, qids[i]!);
  }

  /** Appends one entry line (without its `\n`). */
  async appendLine(line: string, qid: number): Promise<void> {
    if (this.#qids.has(qid)) return;
    this.#qids.add(qid);
    await this.#file?.write(enc.encode(line + "\n"));
  }

  /** Writes the trailer with `checkpoint` and renames the file into place. */
  async commit(checkpoint: string): Promise<void> {
    if (!this.#file) return;
    const trailer = { format: FORMAT, version: 1, checkpoint, entries: this.#qids.size };
    await this.#file.write(enc.encode(JSON.stringify(trailer) + "\n"));
    await this.#file.commit();
  }

  /** Drops the new file; the old cache stays. */
  async discard(): Promise<void> {
    await this.#file?.discard();
  }
}
