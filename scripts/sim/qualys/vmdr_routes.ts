/**
 * The VMDR routes of the Qualys API simulator (`server.ts` mounts them): Host List Detection
 * (`/api/5.0/fo/asset/host/vm/detection/`), Host List (`/api/5.0/fo/asset/host/`) and the
 * KnowledgeBase (`/api/4.0/fo/knowledge_base/vuln/`) over a {@linkcode VmdrSubscription}. The
 * versions served are today's (../shared/reference/qualys_api_versions.md: HLD and Host List 5.0,
 * KB 4.0, since Qualys ended 2.0-4.0 and 2.0-3.0); `server.ts` answers the others as retired.
 *
 * Pages are generated while they are sent (`vmdr_pages.ts`), after a real server-side wait per
 * page when `pageLatencyMs` is set. Each API has its own rate-limit window and concurrency count
 * (`X-RateLimit-*`, `X-Concurrency-Limit-*`); a call over the concurrency limit gets HTTP 409
 * with CODE 1960, over the rate limit HTTP 409 with CODE 1965. Faults are scripted by request
 * number (`vmdr_options.ts`). Parameters the simulator does not implement are refused
 * (`vmdr_params.ts`).
 *
 * @module
 */

import { formatDateTime, type VmdrSubscription } from "./subscription/mod.ts";
import { noticeHeaders, noticeText, type SimNotice, type VmdrApi } from "./versions.ts";
import type { VmdrControl, VmdrFault, VmdrRequestContext, VmdrSimOptions } from "./vmdr_options.ts";
import { hostPage, kbPage, nextPageUrl, type Part, selectHosts, toStream } from "./vmdr_pages.ts";
import { BadRequest, hostParams, kbParams, PARAMS } from "./vmdr_params.ts";
import { simpleReturnXml } from "./vmdr_xml.ts";

/** How a scripted fault shapes a whole answer. */
type Shape = { kind: "cut" | "noHosts" | "noUrl"; after?: number | undefined } | undefined;

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
  /** The notice of deprecation `api`'s answers carry in `form`, if any. */
  #notice(api: VmdrApi, form: SimNotice["form"]): string | undefined {
    return noticeText(this.#o.notice, api, form);
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
    answer: { ctx: VmdrRequestContext; shape: Shape; stamp: string },
    signal: AbortSignal,
  ): AsyncGenerator<Part> {
    const { ctx, shape, stamp } = answer;
    const sub = this.subscription;
    const { q, limit, details, hostOpts, echo, showAssetId, showTags } = hostParams(p, {
      api,
      sub,
      unknownElements: this.#o.unknownElements,
      v5Elements: this.#o.v5Elements,
    });

    // select the page now: a snapshot of who is on it
    const page = selectHosts(sub, { q, limit, needDetections: api === "detection" });
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
    const cutAfter = cut ? cut.after ?? Math.floor(page.hosts.length / 2) : -1;
    return hostPage({
      api,
      root,
      echo,
      clock: sub.clock,
      user: ctx.user,
      baseUrl: ctx.baseUrl,
      path,
      ordered: ctx.ordered,
      stamp,
      comment,
      warning,
      keep,
      latency: this.#o.pageLatencyMs,
      signal,
      wake: this.#wake.signal, // a page's waits all end when this fires
      page,
      details,
      cutAfter,
      idRanges: this.#o.idRanges,
      sub,
      q,
      o: hostOpts,
      showAssetId,
      showTags,
      v5Elements: this.#o.v5Elements,
      nextUrl: page.next === undefined ? "" : nextPageUrl(ctx, page.next),
      noUrl: shape?.kind === "noUrl",
      limit,
    });
  }

  /** KnowledgeBase: every matching VULN, ascending QID, no paging. */
  #kb(
    p: Record<string, string>,
    answer: { ctx: VmdrRequestContext; shape: Shape; stamp: string },
    signal: AbortSignal,
  ): AsyncGenerator<Part> {
    const { ctx, shape, stamp } = answer;
    const sub = this.subscription;
    const { ids, idMin, idMax, after, before, pubAfter, pubBefore, details, echo } = kbParams(p);
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
    const keep = this.#keepAlivePage(qids[0] ?? -1);
    const cut = shape?.kind === "cut" ? shape : undefined;
    return kbPage({
      root: "KNOWLEDGE_BASE_VULN_LIST_OUTPUT",
      echo,
      clock: sub.clock,
      ctx,
      path: ctx.path,
      stamp,
      comment: this.#notice("kb", "comment"),
      warning: this.#notice("kb", "warning"),
      keep,
      latency: this.#o.kbLatencyMs,
      signal,
      wake: this.#wake.signal, // a page's waits all end when this fires
      qids,
      details,
      cutAfter: cut ? cut.after ?? Math.floor(qids.length / 2) : -1,
      sub,
      unknown: this.#o.unknownElements,
      v5: this.#o.v5Elements,
    });
  }
}
