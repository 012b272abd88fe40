/**
 * The pages of the simulator's VMDR routes, generated while they are sent (a pull stream, about
 * 256 KiB at a time, a few chunks ahead), after a real server-side wait per page when a latency
 * is set, with keep-alive comments during the wait and among the records on the pages that carry
 * them. Paging is Qualys's: a `WARNING` with CODE 1980 and a URL repeating the request's
 * parameters plus `id_min=<next host ID>` while more hosts remain. A page can be cut mid-record
 * (the connection reset), as a scripted fault asks.
 *
 * @module
 */

import type { VmdrQuery, VmdrSubscription } from "./subscription/mod.ts";
import type { VmdrRequestContext } from "./vmdr_options.ts";
import {
  detectionHostXml,
  DTD,
  escapeXml,
  hostListHostXml,
  type HostXmlOptions,
  kbVulnXml,
  keepAlive,
  prolog,
  requestXml,
  TRAILER,
  warningXml,
} from "./vmdr_xml.ts";

/** Sends what is pending (a page's head goes out before its wait). */
export const FLUSH: unique symbol = Symbol("flush");
/** Sends what is pending, then errors the stream (a reset connection). */
export const CUT: unique symbol = Symbol("cut");
/** A piece of a page: text, FLUSH or CUT. */
export type Part = string | typeof FLUSH | typeof CUT;

const CHUNK = 256 * 1024;

/** Turns an async generator of text into a byte stream of about 256 KiB chunks; `FLUSH` sends
 * what is pending, `CUT` sends what is pending and then errors the stream (a reset connection).
 * A generator that ends because `abort` fired ends the stream in an error too, never cleanly. */
export function toStream(
  parts: AsyncGenerator<Part>,
  abort: AbortController,
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let cutNext = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (cutNext) {
        c.error(new Error("simulated connection cut"));
        return;
      }
      let buf = "";
      while (buf.length < CHUNK) {
        const r = await parts.next();
        if (r.done) {
          if (abort.signal.aborted) {
            c.error(new Error("response abandoned"));
            return;
          }
          if (buf) c.enqueue(enc.encode(buf));
          c.close();
          return;
        }
        if (r.value === CUT) {
          cutNext = true;
          if (buf) {
            c.enqueue(enc.encode(buf));
            return;
          }
          c.error(new Error("simulated connection cut"));
          return;
        }
        if (r.value === FLUSH) {
          if (buf) break;
          continue;
        }
        buf += r.value;
      }
      c.enqueue(enc.encode(buf));
    },
    cancel() {
      abort.abort();
    },
  }, { highWaterMark: 3 }); // generate a little ahead of the socket
}

/** Waits `ms`, or less when either signal fires. */
function sleep(ms: number, signal: AbortSignal, wake: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted || wake.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      wake.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
    wake.addEventListener("abort", done);
  });
}

/** Hosts on the page (indices) and the ID of the next matching host, if any. */
export function selectHosts(
  sub: VmdrSubscription,
  page: { q: VmdrQuery; limit: number; needDetections: boolean },
): { hosts: number[]; next?: number } {
  const { q, limit, needDetections } = page;
  let from = q.idMin !== undefined ? sub.hostIndexFrom(q.idMin) : 0;
  let maxId = q.idMax ?? Infinity;
  if (q.ids) {
    from = Math.max(from, sub.hostIndexFrom(Math.min(...q.ids.map((r) => r[0]))));
    maxId = Math.min(maxId, Math.max(...q.ids.map((r) => r[1])));
  }
  const hosts: number[] = [];
  for (let h = from; h < sub.hostCount; h++) {
    if (sub.hostId(h) > maxId) break;
    if (!sub.hostMatches(h, q)) continue;
    if (needDetections && sub.countDetections(h, q) === 0) continue;
    if (limit && hosts.length === limit) return { hosts, next: sub.hostId(h) };
    hosts.push(h);
  }
  return { hosts };
}

/** The WARNING URL: the same parameters, `id_min` replaced by the next host's ID. */
export function nextPageUrl(ctx: VmdrRequestContext, next: number): string {
  const path = ctx.path;
  const enc = (s: string) => encodeURIComponent(s).replace(/%2C/gi, ",").replace(/%3A/gi, ":");
  const seen = new Map<string, string>();
  for (const [k, v] of ctx.ordered) if (k !== "id_min") seen.set(k, v);
  const query = [...seen].map(([k, v]) => `${enc(k)}=${enc(v)}`);
  query.push(`id_min=${next}`);
  return `${ctx.baseUrl}${path}?${query.join("&")}`;
}

/** What a Host List Detection or Host List page is made of, fixed when the call arrives. */
export interface HostPageInput {
  /** Which API. */
  api: "detection" | "host";
  /** The root element. */
  root: string;
  /** echo_request: write the REQUEST. */
  echo: boolean;
  /** The subscription's clock when the call arrived (REQUEST's DATETIME). */
  clock: number;
  /** The login, the base URL, the path and the parameters, for REQUEST and WARNING. */
  user: string;
  /** See `user`. */
  baseUrl: string;
  /** See `user`. */
  path: string;
  /** See `user`. */
  ordered: readonly (readonly [string, string])[];
  /** RESPONSE/DATETIME's text. */
  stamp: string;
  /** A notice of deprecation as a comment, and as a WARNING (when no paging WARNING is due). */
  comment: string | undefined;
  /** See `comment`. */
  warning: string | undefined;
  /** Keep-alive comments on this page. */
  keep: boolean;
  /** The server-side wait before the records, ms. */
  latency: number;
  /** Fires when the client went away. */
  signal: AbortSignal;
  /** Fires to end the wait at once. */
  wake: AbortSignal;
  /** The hosts on the page (indices). */
  page: { hosts: number[] };
  /** Host List `details`. */
  details: "None" | "Basic" | "All";
  /** The record after which the page is cut (-1: none). */
  cutAfter: number;
  /** Host List `details=None`: runs of consecutive IDs as ID_RANGE. */
  idRanges: boolean;
  /** The subscription and the filters. */
  sub: VmdrSubscription;
  /** See `sub`. */
  q: VmdrQuery;
  /** Host List Detection: how each HOST is written. */
  o: HostXmlOptions | undefined;
  /** show_asset_id and show_tags (Host List). */
  showAssetId: boolean;
  /** See `showAssetId`. */
  showTags: boolean;
  /** Write what 5.0 answers add (Host List). */
  v5Elements: boolean;
  /** The paging WARNING's URL ("" when no host remains). */
  nextUrl: string;
  /** A paging WARNING without its URL (a scripted fault). */
  noUrl: boolean;
  /** truncation_limit, for the WARNING's TEXT. */
  limit: number;
}

/** A Host List Detection or Host List page. */
export async function* hostPage(input: HostPageInput): AsyncGenerator<Part> {
  const {
    api,
    root,
    echo,
    clock,
    user,
    baseUrl,
    path,
    ordered,
    stamp,
    comment,
    warning,
    keep,
    latency,
    signal,
    wake,
    page,
    details,
    cutAfter,
    idRanges,
    sub,
    q,
    o,
    showAssetId,
    showTags,
    v5Elements,
    nextUrl,
    noUrl,
    limit,
  } = input;
  yield prolog(root, api === "detection" ? DTD.detection : DTD.host);
  if (echo) yield requestXml(clock, user, baseUrl + path, ordered);
  yield `  <RESPONSE>\n    <DATETIME>${escapeXml(stamp)}</DATETIME>\n`;
  if (comment) yield `    <!-- ${comment} -->\n`;
  if (keep) yield keepAlive(root);
  yield FLUSH;
  if (latency > 0) {
    await sleep(keep ? latency / 2 : latency, signal, wake);
    if (keep && !signal.aborted) {
      yield keepAlive(root);
      yield FLUSH;
      await sleep(latency / 2, signal, wake);
    }
    if (signal.aborted) return;
  }
  const hosts = page.hosts;
  if (hosts.length) {
    if (api === "host" && details === "None") {
      yield "    <ID_SET>\n";
      for (let i = 0; i < hosts.length;) {
        if (i === cutAfter) {
          yield "      <ID>";
          yield CUT;
          return;
        }
        let j = i;
        const lo = sub.hostId(hosts[i]!);
        while (
          idRanges && j + 1 < hosts.length && j + 1 !== cutAfter &&
          sub.hostId(hosts[j + 1]!) === sub.hostId(hosts[j]!) + 1
        ) j++;
        yield j > i
          ? `      <ID_RANGE>${lo}-${sub.hostId(hosts[j]!)}</ID_RANGE>\n`
          : `      <ID>${lo}</ID>\n`;
        i = j + 1;
        if (keep && i % 500 === 0) yield keepAlive(root);
      }
      yield "    </ID_SET>\n";
    } else {
      yield "    <HOST_LIST>\n";
      for (let i = 0; i < hosts.length; i++) {
        if (signal.aborted) return;
        const h = hosts[i]!;
        let x: string;
        if (api === "detection") {
          // the day may have moved since the page was chosen: a host left with nothing is skipped
          if (sub.countDetections(h, q) === 0) continue;
          x = detectionHostXml(sub, h, q, { ...o!, keepAliveInside: keep && i === 0 });
        } else {
          x = hostListHostXml(sub.host(h), details === "All" ? "All" : "Basic", {
            showAssetId,
            showTags,
            v5Elements,
          });
        }
        if (i === cutAfter) {
          yield x.slice(0, x.length >> 1);
          yield CUT;
          return;
        }
        yield x;
        if (keep && i % 7 === 3) yield keepAlive(root);
      }
      yield "    </HOST_LIST>\n";
    }
  } else if (cutAfter === 0) {
    yield CUT;
    return;
  }
  if (nextUrl || noUrl) yield warningXml(limit, nextUrl);
  else if (warning) yield `    <WARNING>\n      <TEXT>${warning}</TEXT>\n    </WARNING>\n`;
  yield `  </RESPONSE>\n</${root}>\n` + TRAILER;
}

/** What a KnowledgeBase answer is made of, fixed when the call arrives. */
export interface KbPageInput {
  /** The root element. */
  root: string;
  /** echo_request: write the REQUEST. */
  echo: boolean;
  /** The subscription's clock when the call arrived (REQUEST's DATETIME). */
  clock: number;
  /** The call (login, base URL, parameters), for REQUEST. */
  ctx: VmdrRequestContext;
  /** The path, for REQUEST. */
  path: string;
  /** RESPONSE/DATETIME's text. */
  stamp: string;
  /** A notice of deprecation as a comment, and as a WARNING. */
  comment: string | undefined;
  /** See `comment`. */
  warning: string | undefined;
  /** Keep-alive comments on this answer. */
  keep: boolean;
  /** The server-side wait before the records, ms. */
  latency: number;
  /** Fires when the client went away. */
  signal: AbortSignal;
  /** Fires to end the wait at once. */
  wake: AbortSignal;
  /** The QIDs in the answer, ascending. */
  qids: number[];
  /** `details`. */
  details: "None" | "Basic" | "All";
  /** The record after which the answer is cut (-1: none). */
  cutAfter: number;
  /** The subscription. */
  sub: VmdrSubscription;
  /** Write elements the DTDs do not have. */
  unknown: boolean;
  /** Write what 5.0 answers add. */
  v5: boolean;
}

/** A KnowledgeBase answer: every matching VULN, ascending QID, no paging. */
export async function* kbPage(input: KbPageInput): AsyncGenerator<Part> {
  const {
    root,
    echo,
    clock,
    ctx,
    path,
    stamp,
    comment,
    warning,
    keep,
    latency,
    signal,
    wake,
    qids,
    details,
    cutAfter,
    sub,
    unknown,
    v5,
  } = input;
  yield prolog(root, DTD.kb);
  if (echo) yield requestXml(clock, ctx.user, ctx.baseUrl + path, ctx.ordered);
  yield `  <RESPONSE>\n    <DATETIME>${escapeXml(stamp)}</DATETIME>\n`;
  if (comment) yield `    <!-- ${comment} -->\n`;
  if (keep) yield keepAlive(root) + keepAlive(root);
  yield FLUSH;
  if (latency > 0) {
    await sleep(latency, signal, wake);
    if (signal.aborted) return;
  }
  if (qids.length) {
    yield details === "None" ? "    <ID_SET>\n" : "    <VULN_LIST>\n";
    for (let i = 0; i < qids.length; i++) {
      if (signal.aborted) return;
      const x = details === "None"
        ? `      <ID>${qids[i]}</ID>\n`
        : kbVulnXml(sub.kbEntry(qids[i]!)!, details, unknown, v5);
      if (i === cutAfter) {
        yield x.slice(0, x.length >> 1);
        yield CUT;
        return;
      }
      yield x;
      if (keep && i % 50 === 7) yield keepAlive(root);
    }
    yield details === "None" ? "    </ID_SET>\n" : "    </VULN_LIST>\n";
  } else if (cutAfter === 0) {
    yield CUT;
    return;
  }
  if (warning) yield `    <WARNING>\n      <TEXT>${warning}</TEXT>\n    </WARNING>\n`;
  yield `  </RESPONSE>\n</${root}>\n` + TRAILER;
}
