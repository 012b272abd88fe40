/**
 * The VMDR routes of the Qualys API simulator (`server.ts` mounts them): Host List Detection
 * (`/api/5.0/fo/asset/host/vm/detection/`), Host List (`/api/5.0/fo/asset/host/`) and the
 * KnowledgeBase (`/api/4.0/fo/knowledge_base/vuln/`) over a {@linkcode VmdrSubscription}. The
 * versions served are today's (../shared/reference/qualys_api_versions.md: HLD and Host List 5.0,
 * KB 4.0, since Qualys ended 2.0-4.0 and 2.0-3.0); `server.ts` answers the others as retired.
 *
 * Pages are generated while they are sent (a pull stream, about 256 KiB at a time, a few chunks ahead), after a real
 * server-side wait per page when `pageLatencyMs` is set. Paging is Qualys's: a `WARNING` with
 * CODE 1980 and a URL repeating the request's parameters plus `id_min=<next host ID>` while more
 * hosts remain. Each API has its own rate-limit window and concurrency count (`X-RateLimit-*`,
 * `X-Concurrency-Limit-*`); a call over the concurrency limit gets HTTP 409 with CODE 1960, over
 * the rate limit HTTP 409 with CODE 1965. Faults are scripted by request number.
 *
 * Parameters the simulator does not implement are refused (HTTP 400, CODE 1901) rather than
 * silently ignored, so a client never tests against a filter that did nothing.
 *
 * @module
 */

import {
  DETECTION_STATUSES,
  type DetectionStatus,
  type DetectionType,
  formatDateTime,
  formatIpv6,
  type IdRange,
  parseIpv4,
  parseQualysDate,
  type VmdrQuery,
  type VmdrSubscription,
} from "./subscription/mod.ts";
import {
  detectionHostXml,
  DTD,
  escapeXml,
  hostListHostXml,
  kbVulnXml,
  keepAlive,
  prolog,
  requestXml,
  simpleReturnXml,
  TRAILER,
  warningXml,
} from "./vmdr_xml.ts";

/** The three VMDR APIs; each has its own limits and request count. */
export type VmdrApi = "detection" | "host" | "kb";

/** Resource (the path after `/api/<version>/fo/`) → API, for the routes this module serves. */
export const VMDR_RESOURCES: Readonly<Record<string, VmdrApi>> = {
  "asset/host/vm/detection/": "detection",
  "asset/host/": "host",
  "knowledge_base/vuln/": "kb",
};

/**
 * A notice of deprecation in the answers of an API. Qualys's form is not public (one 2026 client
 * saw an end-of-support warning on a live 2.0 answer: qualys_api_versions.md), so each guess is a
 * form: an XML comment after DATETIME, a `WARNING` (TEXT only; on answers with no paging WARNING,
 * as the DTDs allow one), or the `Deprecation` and `Sunset` headers of RFC 9745 and 8594.
 */
export interface SimNotice {
  /** Where the notice goes. */
  form: "comment" | "warning" | "header";
  /** The words. @default {"This API version is deprecated and reaches its end of life on 2027-06-30."} */
  text?: string;
  /** The APIs whose answers carry it. @default all */
  apis?: readonly (VmdrApi | "report")[];
}

/** The default words of a {@linkcode SimNotice}. */
export const NOTICE_TEXT =
  "This API version is deprecated and reaches its end of life on 2027-06-30.";

/** The headers of a notice in the `header` form (the date of {@linkcode NOTICE_TEXT}). */
export function noticeHeaders(
  notice: SimNotice | undefined,
  api: VmdrApi | "report",
): Record<string, string> {
  if (notice?.form !== "header" || (notice.apis && !notice.apis.includes(api))) return {};
  return {
    "Deprecation": `@${Date.UTC(2026, 5, 30) / 1000}`,
    "Sunset": new Date(Date.UTC(2027, 5, 30)).toUTCString(),
  };
}

/** A scripted fault: what the `request`-th call to an API (counted from when the fault was
 * scripted, 1-based, every call after authentication) gets instead of its normal answer. */
export interface VmdrFault {
  /** Which API. @default {"detection"} */
  api?: VmdrApi;
  /** The call it hits: 1 is the next call to that API. */
  request: number;
  /** `status`: an HTML error page with HTTP `status`; `cut`: the normal page, cut off (the
   * connection is reset) after `cutAfter` records; `conflict`: HTTP 409 with a SIMPLE_RETURN
   * CODE 1960 or 1965; `simpleReturn`: a SIMPLE_RETURN with `code`, `text` and `status`;
   * `datetime`: the normal answer, its RESPONSE/DATETIME `text` (not seen from Qualys: the
   * hostile cases of issue 18); `empty`: HTTP `status` (default 200) with an empty body, as a
   * load balancer or proxy may answer (seen in the hostile pass of issue 18; no Qualys source).
   * For Host List Detection and the Host List only (answers no one has seen, but that a client
   * must not take for whole lists): `noHosts`, a whole answer that lists nothing; `noUrl`, the
   * first `cutAfter` records and a WARNING CODE 1980 without its URL. */
  kind: "status" | "cut" | "conflict" | "simpleReturn" | "datetime" | "empty" | "noHosts" | "noUrl";
  /** HTTP status for `status` (default 503), `simpleReturn` and `empty` (default 200). */
  status?: number;
  /** CODE: for `conflict` 1960 (default) or 1965; for `simpleReturn` e.g. 2000. */
  code?: string;
  /** TEXT for `simpleReturn` (@default {"Bad Login/Password"}); DATETIME for `datetime`. */
  text?: string;
  /** For `cut` and `noUrl`: records (hosts, IDs or VULNs) sent whole before the cut, or listed.
   * @default half the page */
  cutAfter?: number;
  /** For `conflict` 1965: X-RateLimit-ToWait-Sec and SECONDS_TO_WAIT. @default {60} */
  toWaitSec?: number;
}

/** The VMDR part of a simulator script. Everything but `subscription` can be changed while the
 * simulator runs ({@linkcode VmdrControl.set}). */
export interface VmdrSimOptions {
  /** The subscription served (keep it to advance days and read the ground truth). */
  subscription: VmdrSubscription;
  /** Real server-side wait per Host List Detection and Host List page, ms. @default {0} */
  pageLatencyMs?: number;
  /** Real server-side wait per KnowledgeBase call, ms. @default {0} */
  kbLatencyMs?: number;
  /** Calls of one API that may run at once (X-Concurrency-Limit-Limit). @default {2} */
  concurrencyLimit?: number;
  /** Calls of one API per window (X-RateLimit-Limit). @default {300} */
  rateLimit?: number;
  /** The rate-limit window, seconds (X-RateLimit-Window-Sec), real time. @default {3600} */
  rateWindowSec?: number;
  /** Keep-alive comments inside RESPONSE: on no page, on about one page in three, or on every
   * page. @default {"some"} */
  keepAlive?: "none" | "some" | "every";
  /** Write elements the DTDs do not have (the client must skip them). @default {true} */
  unknownElements?: boolean;
  /** Write what 5.0 answers add (`V5_ELEMENTS` in `vmdr_xml.ts`: tags, cloud metadata, TruRisk,
   * per detection a CVE list, MITRE, detection sources; the KnowledgeBase's
   * PATCH_PUBLISHED_DATE). @default {true} */
  v5Elements?: boolean;
  /** Host List `details=None`: write runs of consecutive IDs as `ID_RANGE`. @default {false} */
  idRanges?: boolean;
  /**
   * Seconds the clock that answers' RESPONSE/DATETIME say is ahead (or, negative, behind) the
   * subscription's, whose processing times stay as they are: a Qualys clock that jumped. Not
   * seen from Qualys; the hostile cases of issue 18 ("answers say 2027-11-21 one day").
   * @default {0}
   */
  clockOffsetSec?: number;
  /** Every answer's RESPONSE/DATETIME as this text (`garbage`, `2026-11-21T25:00:00Z`): not
   * seen from Qualys either (issue 18). @default {""} (the clock) */
  datetimeText?: string;
  /** Faults, counted from the start. */
  faults?: VmdrFault[];
  /** A notice of deprecation in the answers. @default none */
  notice?: SimNotice | undefined;
}

/** One request the simulator answered (every route, the report flow included). */
export interface SimLogEntry {
  /** Arrival order, from 1. */
  seq: number;
  /** The API: a VMDR one, `report`, `gateway` (`/auth`), or `other` (unknown paths). */
  api: VmdrApi | "report" | "gateway" | "other";
  /** HTTP method. */
  method: string;
  /** URL path. */
  path: string;
  /** Query and form parameters (the form wins). */
  params: Record<string, string>;
  /** HTTP status answered. */
  status: number;
  /** SIMPLE_RETURN CODE, when the answer was one with a CODE. */
  code?: string;
  /** Body bytes sent so far; final once `done`. */
  bytes: number;
  /** The body has ended (sent whole, cut, or abandoned by the client). */
  done: boolean;
  /** The body was sent whole. */
  complete: boolean;
  /** Hosts (Host List Detection, Host List) or VULNs (KnowledgeBase) in the answer. */
  records?: number;
  /** The `id_min` of the WARNING URL, when the page was truncated. */
  nextIdMin?: number;
  /** The fault that answered, if any. */
  fault?: VmdrFault["kind"];
  /** `performance.now()` at arrival and when the body ended. */
  startMs: number;
  /** See `startMs`. */
  endMs?: number;
}

/** What the simulator gives the VMDR routes for one request. */
export interface VmdrRequestContext {
  /** The log entry (the routes fill `status`, `code`, `records`, `nextIdMin`, `fault`). */
  entry: SimLogEntry;
  /** Parameters in arrival order (query, then form). */
  ordered: readonly (readonly [string, string])[];
  /** The login, for `echo_request`. */
  user: string;
  /** The simulator's base URL, for WARNING URLs. */
  baseUrl: string;
  /** The request's path (its version included), for WARNING URLs. */
  path: string;
  /** Registers a callback for when the response body ends, however it ends. */
  onFinish(callback: () => void): void;
}

/** Run-time control of the VMDR routes (`QualysSim.vmdr`). */
export interface VmdrControl {
  /** The subscription served. */
  readonly subscription: VmdrSubscription;
  /** Changes options for the following calls (latency, limits, keep-alive, …).
   * @param options The options to change.
   */
  set(options: Partial<Omit<VmdrSimOptions, "subscription" | "faults">>): void;
  /** Scripts a fault; its `request` counts from now.
   * @param fault The fault.
   */
  addFault(fault: VmdrFault): void;
  /** Calls received by an API so far (after authentication).
   * @param api The API.
   * @returns The count.
   */
  requestCount(api: VmdrApi): number;
  /** Calls of an API whose answer is being sent now.
   * @param api The API.
   * @returns The count.
   */
  running(api: VmdrApi): number;
  /** Ends the server-side waits (page and KB latency) now under way; those pages go on at once. */
  releaseWaits(): void;
}

const PARAMS: Record<VmdrApi, ReadonlySet<string>> = {
  detection: new Set([
    "action",
    "truncation_limit",
    "status",
    "vm_processed_after",
    "vm_processed_before",
    "detection_updated_since",
    "detection_updated_before",
    "severities",
    "include_vuln_type",
    "show_igs",
    "qids",
    "ids",
    "id_min",
    "id_max",
    "ips",
    "ipv6",
    "ag_ids",
    "ag_titles",
    "network_ids",
    "show_results",
    "show_qds",
    "show_qds_factors",
    "show_tags",
    "show_asset_id",
    "echo_request",
    "output_format",
    // accepted, no effect here: the subscription has no ignored or disabled detections
    "include_ignored",
    "include_disabled",
    // output options the simulator does not write
    "show_reopened_info",
    "suppress_duplicated_data_from_csv",
  ]),
  host: new Set([
    "action",
    "details",
    "truncation_limit",
    "ids",
    "id_min",
    "id_max",
    "ips",
    "ipv6",
    "ag_ids",
    "ag_titles",
    "network_ids",
    "vm_processed_after",
    "vm_processed_before",
    "show_asset_id",
    "show_tags",
    "echo_request",
  ]),
  kb: new Set([
    "action",
    "details",
    "ids",
    "id_min",
    "id_max",
    "last_modified_after",
    "last_modified_before",
    "published_after",
    "published_before",
    "echo_request",
    "show_disabled_flag",
    "show_pci_reasons",
    "show_supported_modules_info",
  ]),
};

class BadRequest extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

const FLUSH = Symbol("flush");
const CUT = Symbol("cut");
type Part = string | typeof FLUSH | typeof CUT;

const CHUNK = 256 * 1024;

/** Turns an async generator of text into a byte stream of about 256 KiB chunks; `FLUSH` sends
 * what is pending, `CUT` sends what is pending and then errors the stream (a reset connection).
 * A generator that ends because `abort` fired ends the stream in an error too, never cleanly. */
function toStream(parts: AsyncGenerator<Part>, abort: AbortController): ReadableStream<Uint8Array> {
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

function intParam(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()) || +value < min || +value > max) {
    throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
  }
  return +value;
}

function rangesParam(name: string, value: string, max = 4294967295): IdRange[] {
  const out: IdRange[] = [];
  for (const part of value.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
    const lo = +m[1]!, hi = m[2] === undefined ? lo : +m[2];
    if (hi < lo || hi > max) throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
    out.push([lo, hi]);
  }
  return out;
}

function ipv4Param(value: string): IdRange[] {
  const bad = () => new BadRequest("1905", `Invalid value for ips: ${value}`);
  const out: IdRange[] = [];
  for (const raw of value.split(",")) {
    const part = raw.trim();
    const slash = part.indexOf("/");
    if (slash >= 0) {
      const base = parseIpv4(part.slice(0, slash)), bits = Number(part.slice(slash + 1));
      if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) throw bad();
      const size = 2 ** (32 - bits);
      const lo = Math.floor(base / size) * size;
      out.push([lo, lo + size - 1]);
      continue;
    }
    const [a, b] = part.split("-");
    const lo = parseIpv4(a ?? ""), hi = b === undefined ? lo : parseIpv4(b);
    if (lo === undefined || hi === undefined || hi < lo) throw bad();
    out.push([lo, hi]);
  }
  return out;
}

function ipv6Param(value: string): string[] {
  return value.split(",").map((v) => {
    const s = v.trim().toLowerCase();
    if (!/^[0-9a-f:]+$/.test(s) || !s.includes(":")) {
      throw new BadRequest("1905", `Invalid value for ipv6: ${value}`);
    }
    const [head, tail] = s.includes("::") ? s.split("::") as [string, string] : [s, undefined];
    const h = head ? head.split(":") : [], t = tail ? tail.split(":") : [];
    const groups = tail === undefined
      ? h
      : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    if (groups.length !== 8 || groups.some((x) => !/^[0-9a-f]{1,4}$/.test(x))) {
      throw new BadRequest("1905", `Invalid value for ipv6: ${value}`);
    }
    return formatIpv6(groups.map((x) => parseInt(x, 16)));
  });
}

function dateParam(name: string, value: string): number {
  const t = parseQualysDate(value);
  if (t === undefined) throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
  return t;
}

function flagParam(name: string, value: string | undefined, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (value !== "0" && value !== "1") {
    throw new BadRequest("1905", `Invalid value for ${name}: ${value}`);
  }
  return value === "1";
}

/** The VMDR routes over one subscription. */
export class VmdrRoutes implements VmdrControl {
  /** The subscription served. */
  readonly subscription: VmdrSubscription;
  #o: Required<Omit<VmdrSimOptions, "subscription" | "faults" | "notice">> & {
    notice: SimNotice | undefined;
  };
  #faults: { fault: VmdrFault; at: number; fired: boolean }[] = [];
  #count: Record<VmdrApi, number> = { detection: 0, host: 0, kb: 0 };
  #running: Record<VmdrApi, number> = { detection: 0, host: 0, kb: 0 };
  #wake = new AbortController();
  #bodies = new Set<AbortController>();
  #window: Record<VmdrApi, { start: number; used: number }> = {
    detection: { start: 0, used: 0 },
    host: { start: 0, used: 0 },
    kb: { start: 0, used: 0 },
  };

  /** Mounts the routes.
   * @param options The VMDR script.
   */
  constructor(options: VmdrSimOptions) {
    this.subscription = options.subscription;
    this.#o = {
      pageLatencyMs: options.pageLatencyMs ?? 0,
      kbLatencyMs: options.kbLatencyMs ?? 0,
      concurrencyLimit: options.concurrencyLimit ?? 2,
      rateLimit: options.rateLimit ?? 300,
      rateWindowSec: options.rateWindowSec ?? 3600,
      keepAlive: options.keepAlive ?? "some",
      unknownElements: options.unknownElements ?? true,
      v5Elements: options.v5Elements ?? true,
      idRanges: options.idRanges ?? false,
      clockOffsetSec: options.clockOffsetSec ?? 0,
      datetimeText: options.datetimeText ?? "",
      notice: options.notice,
    };
    for (const f of options.faults ?? []) this.#faults.push({ fault: f, at: 0, fired: false });
  }

  /** Changes options for the following calls.
   * @param options The options to change.
   */
  set(options: Partial<Omit<VmdrSimOptions, "subscription" | "faults">>): void {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.#o = { ...this.#o, ...defined };
    if ("notice" in options) this.#o.notice = options.notice;
    if (options.rateLimit !== undefined || options.rateWindowSec !== undefined) {
      for (const w of Object.values(this.#window)) w.used = 0;
    }
  }

  /** Scripts a fault; its `request` counts from now.
   * @param fault The fault.
   */
  addFault(fault: VmdrFault): void {
    this.#faults.push({ fault, at: this.#count[fault.api ?? "detection"], fired: false });
  }

  /** Calls received by an API so far (after authentication).
   * @param api The API.
   * @returns The count.
   */
  requestCount(api: VmdrApi): number {
    return this.#count[api];
  }

  /** Calls of an API whose answer is being sent now.
   * @param api The API.
   * @returns The count.
   */
  running(api: VmdrApi): number {
    return this.#running[api];
  }

  /** Ends the server-side waits now under way; those pages go on at once. */
  releaseWaits(): void {
    this.#wake.abort();
    this.#wake = new AbortController();
  }

  /** Ends every body being sent, in an error (for shutdown). */
  abortAll(): void {
    for (const a of this.#bodies) a.abort();
  }

  /** Answers one authenticated request.
   * @param api Which API the path is.
   * @param ctx The request.
   * @returns The response (its body streams).
   */
  handle(api: VmdrApi, ctx: VmdrRequestContext): Response {
    const n = ++this.#count[api];
    const entry = ctx.entry;
    const now = this.subscription.clock;
    const others = this.#running[api];
    const o = this.#o;
    const w = this.#window[api];
    const t = performance.now();
    if (t - w.start >= o.rateWindowSec * 1000) {
      w.start = t;
      w.used = 0;
    }
    const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
      "Content-Type": "text/xml;charset=UTF-8",
      "X-RateLimit-Limit": String(o.rateLimit),
      "X-RateLimit-Window-Sec": String(o.rateWindowSec),
      "X-RateLimit-Remaining": String(Math.max(0, o.rateLimit - w.used)),
      "X-RateLimit-ToWait-Sec": "0",
      "X-Concurrency-Limit-Limit": String(o.concurrencyLimit),
      "X-Concurrency-Limit-Running": String(others),
      ...extra,
    });
    const answer = (
      status: number,
      text: string,
      code = "",
      items: [string, string][] = [],
      extra: Record<string, string> = {},
    ) => {
      entry.status = status;
      if (code) entry.code = code;
      return new Response(simpleReturnXml(now, text, code, items), {
        status,
        headers: headers(extra),
      });
    };
    const conflict1965 = (wait: number) =>
      answer(
        409,
        `This API cannot be run again for another ${Math.floor(wait / 3600)} hours, ${
          Math.floor((wait % 3600) / 60)
        } minutes and ${wait % 60} seconds.`,
        "1965",
        [["SECONDS_TO_WAIT", String(wait)]],
        { "X-RateLimit-ToWait-Sec": String(wait), "X-RateLimit-Remaining": "0" },
      );

    // scripted faults come first: they stand for trouble on the server's side
    const scripted = this.#faults.find((f) =>
      !f.fired && (f.fault.api ?? "detection") === api && f.at + f.fault.request === n
    );
    if (scripted) scripted.fired = true;
    const fault = scripted?.fault;
    if (fault) entry.fault = fault.kind;
    if (fault?.kind === "status") {
      const status = fault.status ?? 503;
      entry.status = status;
      return new Response(
        `<html><head><title>${status} Error</title></head><body><h1>${status} Error</h1>` +
          `<p>The server encountered a temporary error.</p></body></html>\n`,
        { status, headers: headers({ "Content-Type": "text/html" }) },
      );
    }
    if (fault?.kind === "empty") {
      const status = fault.status ?? 200;
      entry.status = status;
      return new Response(null, { status, headers: headers({ "Content-Length": "0" }) });
    }
    if (fault?.kind === "simpleReturn") {
      return answer(fault.status ?? 200, fault.text ?? "Bad Login/Password", fault.code ?? "2000");
    }
    if (fault?.kind === "conflict") {
      if (fault.code === "1965") return conflict1965(fault.toWaitSec ?? 60);
      return answer(
        409,
        "This API cannot be run again until 1 currently running API instance has finished.",
        "1960",
        [["CALLS_TO_FINISH", "1"]],
        { "X-Concurrency-Limit-Running": String(o.concurrencyLimit) },
      );
    }

    // limits: the concurrency limit takes precedence over the rate limit
    if (others >= o.concurrencyLimit) {
      const over = others - o.concurrencyLimit + 1;
      return answer(
        409,
        `This API cannot be run again until ${over} currently running API instance${
          over === 1 ? " has" : "s have"
        } finished.`,
        "1960",
        [["CALLS_TO_FINISH", String(over)]],
      );
    }
    if (w.used >= o.rateLimit) {
      return conflict1965(Math.max(1, Math.ceil((w.start + o.rateWindowSec * 1000 - t) / 1000)));
    }

    let body: AsyncGenerator<Part>;
    const abort = new AbortController();
    const params: Record<string, string> = {};
    for (const [k, v] of ctx.ordered) params[k] = v;
    try {
      const unknown = [...new Set(ctx.ordered.map(([k]) => k))].filter((k) => !PARAMS[api].has(k));
      if (unknown.length) {
        throw new BadRequest("1901", `Unrecognized parameter(s): ${unknown.join(",")}`);
      }
      if (params.action === undefined) {
        throw new BadRequest("1903", "Missing required parameter(s): action");
      }
      if (params.action !== "list") {
        throw new BadRequest("1905", `Invalid value for action: ${params.action}`);
      }
      const cut = fault?.kind === "cut" || fault?.kind === "noHosts" || fault?.kind === "noUrl"
        ? { kind: fault.kind, after: fault.cutAfter }
        : undefined;
      const stamp = fault?.kind === "datetime"
        ? fault.text ?? ""
        : o.datetimeText || formatDateTime(now + o.clockOffsetSec);
      body = api === "kb"
        ? this.#kb(params, { ctx, shape: cut, stamp }, abort.signal)
        : this.#hosts(api, params, { ctx, shape: cut, stamp }, abort.signal);
    } catch (e) {
      if (e instanceof BadRequest) return answer(400, e.message, e.code);
      throw e;
    }
    w.used++;
    this.#running[api]++;
    this.#bodies.add(abort);
    ctx.onFinish(() => {
      this.#running[api]--;
      this.#bodies.delete(abort);
    });
    entry.status = 200;
    return new Response(toStream(body, abort), {
      status: 200,
      headers: headers({
        "X-RateLimit-Remaining": String(Math.max(0, o.rateLimit - w.used)),
        ...noticeHeaders(o.notice, api),
      }),
    });
  }

  /** The notice of deprecation `api`'s answers carry in `form`, if any. */
  #notice(api: VmdrApi, form: SimNotice["form"]): string | undefined {
    const n = this.#o.notice;
    if (n?.form !== form || (n.apis && !n.apis.includes(api))) return undefined;
    return n.text ?? NOTICE_TEXT;
  }

  /** Whether this page carries keep-alive comments. */
  #keepAlivePage(key: number): boolean {
    const mode = this.#o.keepAlive;
    if (mode === "every") return true;
    if (mode === "none") return false;
    return ((Math.imul(key ^ this.subscription.seed, 0x9e3779b1) >>> 0) % 3) === 0;
  }

  /** Host List Detection and Host List: parse, select the page, then generate it. */
  #hosts(
    api: "detection" | "host",
    p: Record<string, string>,
    answer: {
      ctx: VmdrRequestContext;
      shape: { kind: "cut" | "noHosts" | "noUrl"; after?: number | undefined } | undefined;
      stamp: string;
    },
    signal: AbortSignal,
  ): AsyncGenerator<Part> {
    const { ctx, shape, stamp } = answer;
    const q: Mutable<VmdrQuery> = {};
    const sub = this.subscription;
    const limit = p.truncation_limit === undefined
      ? 1000
      : intParam("truncation_limit", p.truncation_limit, 0, 1_000_000);
    if (p.ids !== undefined) q.ids = rangesParam("ids", p.ids);
    if (p.id_min !== undefined) q.idMin = intParam("id_min", p.id_min, 0, 4294967295);
    if (p.id_max !== undefined) q.idMax = intParam("id_max", p.id_max, 0, 4294967295);
    if (p.ips !== undefined) q.ipv4 = ipv4Param(p.ips);
    if (p.ipv6 !== undefined) q.ipv6 = ipv6Param(p.ipv6);
    if (p.ag_ids !== undefined) {
      const ranges = rangesParam("ag_ids", p.ag_ids);
      const ids = sub.assetGroups.map((g) => g.id).filter((id) =>
        ranges.some(([lo, hi]) => id >= lo && id <= hi)
      );
      const asked = ranges.reduce((n, [lo, hi]) => n + (hi - lo + 1), 0);
      if (asked <= 64 && ids.length < asked) {
        throw new BadRequest("1905", `Invalid value for ag_ids: ${p.ag_ids}`);
      }
      q.agIds = ids;
    }
    if (p.ag_titles !== undefined) {
      const titles = p.ag_titles.split(",").map((s) => s.trim());
      const ids = sub.assetGroups.filter((g) => titles.includes(g.title)).map((g) => g.id);
      if (ids.length < titles.length) {
        throw new BadRequest("1905", `Invalid value for ag_titles: ${p.ag_titles}`);
      }
      q.agIds = q.agIds ? q.agIds.filter((id) => ids.includes(id)) : ids;
    }
    if (p.network_ids !== undefined) {
      const ranges = rangesParam("network_ids", p.network_ids);
      q.networkIds = sub.networkIds.filter((id) => ranges.some(([lo, hi]) => id >= lo && id <= hi));
    }
    if (p.vm_processed_after !== undefined) {
      q.vmProcessedAfter = dateParam("vm_processed_after", p.vm_processed_after);
    }
    if (p.vm_processed_before !== undefined) {
      q.vmProcessedBefore = dateParam("vm_processed_before", p.vm_processed_before);
    }
    const showAssetId = flagParam("show_asset_id", p.show_asset_id, false);
    const showTags = flagParam("show_tags", p.show_tags, false);
    const echo = flagParam("echo_request", p.echo_request, false);
    let details: "None" | "Basic" | "All" = "Basic";
    let hostOpts: Parameters<typeof detectionHostXml>[3] | undefined;
    if (api === "detection") {
      if (p.status !== undefined) {
        const statuses = p.status.split(",").map((s) => {
          const hit = DETECTION_STATUSES.find((x) => x.toLowerCase() === s.trim().toLowerCase());
          if (!hit) throw new BadRequest("1905", `Invalid value for status: ${p.status}`);
          return hit;
        });
        q.statuses = [...new Set<DetectionStatus>(statuses)];
      } else {
        q.statuses = ["New", "Active", "Re-Opened"];
      }
      if (p.severities !== undefined) {
        q.severities = [
          ...new Set(
            rangesParam("severities", p.severities, 5).flatMap(([lo, hi]) => {
              if (lo < 1) {
                throw new BadRequest("1905", `Invalid value for severities: ${p.severities}`);
              }
              return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
            }),
          ),
        ];
      }
      const types: DetectionType[] = [];
      if (p.include_vuln_type !== undefined) {
        for (const v of p.include_vuln_type.split(",").map((s) => s.trim().toLowerCase())) {
          if (v === "confirmed") types.push("Confirmed");
          else if (v === "potential") types.push("Potential");
          else {throw new BadRequest(
              "1905",
              `Invalid value for include_vuln_type: ${p.include_vuln_type}`,
            );}
        }
      } else types.push("Confirmed", "Potential");
      if (flagParam("show_igs", p.show_igs, false)) types.push("Info");
      q.types = types;
      if (p.qids !== undefined) q.qids = rangesParam("qids", p.qids);
      if (p.detection_updated_since !== undefined) {
        q.detectionUpdatedSince = dateParam("detection_updated_since", p.detection_updated_since);
      }
      if (p.detection_updated_before !== undefined) {
        q.detectionUpdatedBefore = dateParam(
          "detection_updated_before",
          p.detection_updated_before,
        );
      }
      if (p.output_format !== undefined && p.output_format.toUpperCase() !== "XML") {
        throw new BadRequest("1905", `Invalid value for output_format: ${p.output_format}`);
      }
      flagParam("include_ignored", p.include_ignored, false);
      flagParam("include_disabled", p.include_disabled, false);
      hostOpts = {
        showResults: flagParam("show_results", p.show_results, true),
        showQds: flagParam("show_qds", p.show_qds, false),
        showQdsFactors: flagParam("show_qds_factors", p.show_qds_factors, false),
        showTags,
        showAssetId,
        unknownElements: this.#o.unknownElements,
        v5Elements: this.#o.v5Elements,
        keepAliveInside: false,
      };
    } else if (p.details !== undefined) {
      const d = p.details.split("/")[0]!;
      if (d !== "None" && d !== "Basic" && d !== "All") {
        throw new BadRequest("1905", `Invalid value for details: ${p.details}`);
      }
      details = d;
    }

    // select the page now: a snapshot of who is on it
    const page = this.#selectHosts(q, limit, api === "detection");
    if (shape?.kind === "noHosts" || shape?.kind === "noUrl") {
      page.hosts = shape.kind === "noHosts"
        ? []
        : page.hosts.slice(0, shape.after ?? Math.floor(page.hosts.length / 2));
      delete page.next;
    }
    const cut = shape?.kind === "cut" ? shape : undefined;
    const root = api === "detection" ? "HOST_LIST_VM_DETECTION_OUTPUT" : "HOST_LIST_OUTPUT";
    const path = ctx.path;
    const comment = this.#notice(api, "comment");
    const warning = this.#notice(api, "warning");
    ctx.entry.records = page.hosts.length;
    if (page.next !== undefined) ctx.entry.nextIdMin = page.next;
    const keep = this.#keepAlivePage(page.hosts.length ? sub.hostId(page.hosts[0]!) : -1);
    const latency = this.#o.pageLatencyMs;
    const cutAfter = cut ? cut.after ?? Math.floor(page.hosts.length / 2) : -1;
    const nextUrl = page.next === undefined ? "" : this.#nextUrl(ctx, path, page.next);
    const noUrl = shape?.kind === "noUrl";
    const o = hostOpts;
    const idRanges = this.#o.idRanges;
    const v5Elements = this.#o.v5Elements;
    const clock = sub.clock;
    const user = ctx.user;
    const ordered = ctx.ordered;
    const baseUrl = ctx.baseUrl;
    const wake = this.#wake.signal; // a page's waits all end when this fires

    return (async function* (): AsyncGenerator<Part> {
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
    })();
  }

  /** Hosts on the page (indices) and the ID of the next matching host, if any. */
  #selectHosts(
    q: VmdrQuery,
    limit: number,
    needDetections: boolean,
  ): { hosts: number[]; next?: number } {
    const sub = this.subscription;
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
  #nextUrl(ctx: VmdrRequestContext, path: string, next: number): string {
    const enc = (s: string) => encodeURIComponent(s).replace(/%2C/gi, ",").replace(/%3A/gi, ":");
    const seen = new Map<string, string>();
    for (const [k, v] of ctx.ordered) if (k !== "id_min") seen.set(k, v);
    const query = [...seen].map(([k, v]) => `${enc(k)}=${enc(v)}`);
    query.push(`id_min=${next}`);
    return `${ctx.baseUrl}${path}?${query.join("&")}`;
  }

  /** KnowledgeBase: every matching VULN, ascending QID, no paging. */
  #kb(
    p: Record<string, string>,
    answer: {
      ctx: VmdrRequestContext;
      shape: { kind: "cut" | "noHosts" | "noUrl"; after?: number | undefined } | undefined;
      stamp: string;
    },
    signal: AbortSignal,
  ): AsyncGenerator<Part> {
    const { ctx, shape, stamp } = answer;
    const sub = this.subscription;
    const ids = p.ids === undefined ? undefined : rangesParam("ids", p.ids);
    const idMin = p.id_min === undefined ? undefined : intParam("id_min", p.id_min, 0, 4294967295);
    const idMax = p.id_max === undefined ? undefined : intParam("id_max", p.id_max, 0, 4294967295);
    const after = p.last_modified_after === undefined
      ? undefined
      : dateParam("last_modified_after", p.last_modified_after);
    const before = p.last_modified_before === undefined
      ? undefined
      : dateParam("last_modified_before", p.last_modified_before);
    const pubAfter = p.published_after === undefined
      ? undefined
      : dateParam("published_after", p.published_after);
    const pubBefore = p.published_before === undefined
      ? undefined
      : dateParam("published_before", p.published_before);
    let details: "None" | "Basic" | "All" = "Basic";
    if (p.details !== undefined) {
      if (p.details !== "None" && p.details !== "Basic" && p.details !== "All") {
        throw new BadRequest("1905", `Invalid value for details: ${p.details}`);
      }
      details = p.details;
    }
    const echo = flagParam("echo_request", p.echo_request, false);
    const qids: number[] = [];
    sub.forEachKbQid((qid, modified, published) => {
      if (ids && !ids.some(([lo, hi]) => qid >= lo && qid <= hi)) return;
      if (idMin !== undefined && qid < idMin) return;
      if (idMax !== undefined && qid > idMax) return;
      if (after !== undefined && !(modified > after)) return;
      if (before !== undefined && !(modified < before)) return;
      if (pubAfter !== undefined && !(published > pubAfter)) return;
      if (pubBefore !== undefined && !(published < pubBefore)) return;
      qids.push(qid);
    });
    ctx.entry.records = qids.length;
    const root = "KNOWLEDGE_BASE_VULN_LIST_OUTPUT";
    const keep = this.#keepAlivePage(qids[0] ?? -1);
    const latency = this.#o.kbLatencyMs;
    const unknown = this.#o.unknownElements;
    const v5 = this.#o.v5Elements;
    const cut = shape?.kind === "cut" ? shape : undefined;
    const cutAfter = cut ? cut.after ?? Math.floor(qids.length / 2) : -1;
    const clock = sub.clock;
    const path = ctx.path;
    const comment = this.#notice("kb", "comment");
    const warning = this.#notice("kb", "warning");
    const wake = this.#wake.signal; // a page's waits all end when this fires
    return (async function* (): AsyncGenerator<Part> {
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
    })();
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
