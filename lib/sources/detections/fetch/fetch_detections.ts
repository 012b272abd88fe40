/**
 * Fetching every Host List Detection page of a query, concurrently within the API's limit
 * (docs/qualys_api.md section 7; docs/detections.md: "What a run does"):
 *
 * 1. one Host List call (`details=None`, the same host filters) gives the host IDs;
 * 2. they are cut into consecutive ID ranges of `pageSize` hosts that together cover every ID
 *    (the first open below, the last open above, so a host added meanwhile is not missed);
 * 3. each range is one chain of Host List Detection calls (`id_min`/`id_max`, POSTed), following
 *    the `WARNING` (CODE 1980) `id_min` while one comes (a 1980 without its URL fails the run:
 *    the rest of the range is not dropped unseen); the chains run at once, at most
 *    `X-Concurrency-Limit-Limit` of them (1 until an answer has said).
 *
 * Each page is its own document and reaches the host record only once it has parsed whole; a
 * page that is cut is fetched again. The earliest `DATETIME` of all answers is the run's
 * checkpoint candidate: every host processed after it is in this run or the next.
 *
 * @module
 */

import { QualysApiError } from "../../../errors.ts";
import type { QualysClient } from "../../../qualys/client.ts";
import { isNoticeText } from "../../../qualys/notices.ts";
import { Tag } from "../../../xml/tags.ts";
import { parseDateTime } from "../../../qualys/datetime.ts";
import { DetectionPageParser } from "../pages/detection_page.ts";
import { ConcurrencyLimit, PagePacer, runPool } from "../../../qualys/concurrency.ts";
import { fetchParsed, type Traffic } from "../../../qualys/fetch_parsed.ts";
import { IdListParser } from "../pages/id_list.ts";
import { ListingBuffer, type ListingSink } from "../pages/listings.ts";

/** Options for {@linkcode fetchDetections}. */
export interface DetectionFetchOptions {
  /** Host List Detection parameters: the filters (no `action`, paging or ID bounds). */
  params: Readonly<Record<string, string>>;
  /** Host List parameters: the host filters of the same query. */
  hostParams: Readonly<Record<string, string>>;
  /** Counts calls and bytes. */
  traffic: Traffic;
  /** Hosts per page (`truncation_limit`). @default {1000} */
  pageSize?: number;
  /** Most calls at once, even when Qualys allows more. @default no cap */
  maxConcurrency?: number;
  /** The detection TYPEs to import (confirmed, potential, info). @default all */
  types?: readonly string[] | undefined;
  /** Keep each host's OS text and CPE (for SetOS). @default {false} */
  collectOs?: boolean | undefined;
  /** Receives warnings. */
  onWarning?: ((message: string) => void) | undefined;
  /** Stops the fetch (another part of the run failed). */
  signal?: AbortSignal | undefined;
  /** Called after each page with a progress line. */
  onProgress?: ((detail: string) => void) | undefined;
  /** Hears how many host IDs the Host List gave, before the pages come. */
  onHostIds?: ((count: number) => void) | undefined;
  /**
   * The checkpoint an incremental query asks from: when the Host List's DATETIME (Qualys's clock
   * now, the run's first answer) is earlier, the fetch stops there with {@linkcode ClockWentBack}.
   */
  checkpoint?: string | undefined;
  /** Hears the host IDs the Host List gave (ascending), before the pages come. */
  onHostIdList?: ((ids: Uint32Array) => void) | undefined;
}

/**
 * Qualys's clock is earlier than the checkpoint an incremental query asks from: it went back, or
 * the checkpoint was edited. What Qualys processed since may carry times before the checkpoint,
 * which `vm_processed_after` would leave out: the run must be a full one.
 */
export class ClockWentBack extends Error {
  override name = "ClockWentBack";
  /** Qualys's clock (the Host List's DATETIME). */
  readonly datetime: string;
  /** The checkpoint. */
  readonly checkpoint: string;

  /** Qualys said `datetime`, earlier than `checkpoint`. */
  constructor(datetime: string, checkpoint: string) {
    super(`Qualys's clock (${datetime}) is earlier than the checkpoint (${checkpoint})`);
    this.datetime = datetime;
    this.checkpoint = checkpoint;
  }
}

/** What the pages held. */
export interface DetectionFetchResult {
  /** The earliest RESPONSE/DATETIME of the run's answers (each a real UTC time). */
  datetime: string;
  /** Host IDs the Host List gave. */
  hostIds: number;
  /** Pages read. */
  pages: number;
  /** HOST elements. */
  hosts: number;
  /** Open detections. */
  open: number;
  /** Fixed detections. */
  fixed: number;
  /** Detections without a usable QID. */
  noQid: number;
  /** The most Host List Detection calls that ran at once. */
  concurrency: number;
}

function earlier(a: string, b: string): string {
  return a === "" ? b : b === "" || a <= b ? a : b;
}

/** The `id_min` of a WARNING URL; it must move past `after`. */
export function nextIdMin(
  warning: { code: string; url: string },
  after: number | undefined,
): number {
  let text: string | null = null;
  try {
    text = new URL(warning.url).searchParams.get("id_min");
  } catch { /* reported below */ }
  const next = text !== null && /^\d{1,10}$/.test(text) ? Number(text) : undefined;
  if (next === undefined || (after !== undefined && next <= after)) {
    throw new QualysApiError(
      `Qualys's paging WARNING (CODE ${warning.code || "none"}) gives no id_min past ` +
        `${after ?? "the start"} in its URL (${
          JSON.stringify(warning.url.slice(0, 200))
        }): the pages cannot be followed`,
    );
  }
  return next;
}

/**
 * The failure of a page that says it was cut (WARNING CODE 1980) but gives no URL to go on
 * from: the page's parser does not keep its last host ID, so the next `id_min` is unknown, and
 * taking the page as the range's last would drop the rest of the range's hosts unseen.
 */
function cutWithoutUrl(
  page: number,
  warning: { code: string; text: string },
  idMin: number | undefined,
  idMax: number | undefined,
): QualysApiError {
  const range = `id_min ${idMin ?? "none"}, id_max ${idMax ?? "none"}`;
  return new QualysApiError(
    `Qualys's host detection page ${page} says it is not the last (WARNING CODE 1980${
      warning.text ? ` "${warning.text.slice(0, 200)}"` : ""
    }) but gives no URL for the next page: the rest of its ID range (${range}) cannot be ` +
      "fetched, so nothing is sent and the checkpoint stays; run again later, and if it " +
      "recurs, report it to Qualys support",
    { code: warning.code },
  );
}

/**
 * The host IDs of the Host List query `hostParams` (`details=None`), ascending, following the
 * paging WARNING's URL; with the earliest DATETIME of the answers, whether one had none, and the
 * WARNING of an answer that said it was cut (CODE 1980) without the URL of the rest (`cut`).
 *
 * @throws {QualysApiError} When a call fails for good (exit 3).
 * @throws {ReportSyntaxError} When an answer is not the XML expected (exit 4).
 */
export async function listHostIds(
  client: QualysClient,
  options: Pick<DetectionFetchOptions, "hostParams" | "traffic" | "onWarning">,
): Promise<{
  ids: Uint32Array;
  datetime: string;
  missingDatetime: boolean;
  cut: { code: string; text: string } | undefined;
}> {
  let datetime = "", missingDatetime = false;
  let cut: { code: string; text: string } | undefined;
  const parts: Uint32Array[] = [];
  let idMin: number | undefined;
  for (;;) {
    const params: Record<string, string> = {
      action: "list",
      details: "None",
      truncation_limit: "0",
      ...options.hostParams,
      ...(idMin === undefined ? {} : { id_min: String(idMin) }),
    };
    const list = await fetchParsed(
      client,
      { endpoint: "hosts", params },
      () => new IdListParser(Tag.HOST_LIST_OUTPUT),
      { what: "the host ID list", traffic: options.traffic, onWarning: options.onWarning },
    );
    datetime = earlier(datetime, list.datetime);
    if (list.datetime === "") missingDatetime = true;
    parts.push(list.ids.slice());
    if (!list.warning?.url) {
      if (list.warning?.code === "1980") cut = list.warning;
      break;
    }
    idMin = nextIdMin(list.warning, idMin);
  }
  const ids = new Uint32Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    ids.set(p, off);
    off += p.length;
  }
  ids.sort();
  return { ids, datetime, missingDatetime, cut };
}

/** ID ranges of about `size` listed hosts each that together cover every ID. */
function cut(ids: Uint32Array, size: number): { lo?: number; hi?: number }[] {
  const out: { lo?: number; hi?: number }[] = [];
  let lo: number | undefined;
  for (let i = size - 1; i < ids.length - 1; i += size) {
    const hi = ids[i]!;
    if (ids[i + 1] === hi) continue; // a repeated ID: never split between two ranges
    out.push({ ...(lo === undefined ? {} : { lo }), hi });
    lo = hi + 1;
  }
  out.push(lo === undefined ? {} : { lo });
  return out;
}

/**
 * Fetches every page of the query into `sink` (each page whole, in the order the pages complete).
 *
 * @throws {QualysApiError} When a call fails for good (exit 3).
 * @throws {ReportSyntaxError} When a page is not the XML expected (exit 4).
 * @throws {ClockWentBack} With `checkpoint`, when Qualys's clock is earlier (before any page).
 */
export async function fetchDetections(
  client: QualysClient,
  sink: ListingSink,
  options: DetectionFetchOptions,
): Promise<DetectionFetchResult> {
  const pageSize = options.pageSize ?? 1000;
  const list = await listHostIds(client, options);
  const { checkpoint } = options;
  if (checkpoint !== undefined && parseDateTime(list.datetime)! < parseDateTime(checkpoint)!) {
    throw new ClockWentBack(list.datetime, checkpoint);
  }
  options.onHostIds?.(list.ids.length);
  options.onHostIdList?.(list.ids);
  const result: DetectionFetchResult = {
    datetime: list.datetime,
    hostIds: list.ids.length,
    pages: 0,
    hosts: 0,
    open: 0,
    fixed: 0,
    noQid: 0,
    concurrency: 0,
  };
  const ranges = cut(list.ids, pageSize);
  // Calls are added one at a time, each once a page's data has begun: the pages are then
  // computed on Qualys's side while others download, instead of all downloading at once.
  const limit = new ConcurrencyLimit(options.maxConcurrency, { ramp: true });
  // ... and spaced over a page's time, so that they download one after another (PagePacer).
  const pacer = new PagePacer();
  let running = 0, started = 0, done = 0;
  // What a chain reuses from page to page: the read buffer and the page's host buffer (a few
  // hundred KiB each, that would otherwise be garbage after every page).
  const spare: { buffer: Uint8Array | undefined; listings: ListingBuffer }[] = [];
  await runPool(ranges, limit, async (range, signal) => {
    let idMin = range.lo;
    result.concurrency = Math.max(result.concurrency, ++running);
    const reuse = spare.pop() ?? { buffer: undefined, listings: new ListingBuffer() };
    try {
      for (;;) {
        const call = pacer.begin(limit.value);
        if (call.wait > 0) await client.wait(call.wait, signal).catch(() => {});
        if (signal.aborted) {
          pacer.end(call, false);
          return;
        }
        const n = ++started;
        const params: Record<string, string> = {
          action: "list",
          truncation_limit: String(pageSize),
          ...options.params,
          ...(idMin === undefined ? {} : { id_min: String(idMin) }),
          ...(range.hi === undefined ? {} : { id_max: String(range.hi) }),
        };
        const page = await fetchParsed(
          client,
          { endpoint: "detections", params },
          () =>
            new DetectionPageParser({
              onWarning: options.onWarning,
              types: options.types,
              collectOs: options.collectOs,
              listings: reuse.listings,
              onData: () => {
                pacer.data(call);
                limit.rampUp();
              },
            }),
          {
            what: `host detection page ${n}`,
            traffic: options.traffic,
            limit,
            signal,
            onWarning: options.onWarning,
            reuse,
          },
        ).then((page) => {
          pacer.end(call);
          return page;
        }, (error) => {
          pacer.end(call, false);
          throw error;
        });
        if (signal.aborted) return;
        page.listings.replay(sink);
        const s = page.stats;
        result.pages++;
        result.hosts += s.hosts;
        result.open += s.open;
        result.fixed += s.fixed;
        result.noQid += s.noQid;
        result.datetime = earlier(result.datetime, page.datetime);
        options.onProgress?.(
          `${result.pages} pages, ${result.hosts} hosts (${++done} of at least ${ranges.length})`,
        );
        const w = page.warning;
        if (!w?.url) {
          if (w?.code === "1980") throw cutWithoutUrl(n, w, idMin, range.hi);
          // a notice of deprecation is the client's to warn, once (`noteAnswer`)
          if (w && !isNoticeText(w.text)) {
            options.onWarning?.(`Qualys warned on a host detection page: ${w.code} ${w.text}`);
          }
          return;
        }
        idMin = nextIdMin(w, idMin);
      }
    } finally {
      running--;
      spare.push(reuse);
    }
  }, options.signal);
  return result;
}
