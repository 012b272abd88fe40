/**
 * The report flow of the Qualys simulator (`/api/2.0/fo/report/`, and 3.0): launch, list (the
 * report Running for `runningPolls` calls, then Finished or another final state), fetch (the
 * report file streamed from disk, or bytes, with scriptable faults mid-body) and delete, after
 * the scripted faults that stand in front of every call: bare answers, 503s, 409 conflicts. It
 * serves any report file it is given. Its headers (rate limit, concurrency, session cookie,
 * notice) are those of every answer outside the VMDR routes.
 *
 * @module
 */

import { simpleReturn } from "./simple_return.ts";
import { noticeHeaders, noticeText, type SimNotice } from "./versions.ts";

/** The report flow's part of a simulator script: faults to inject; counters are consumed as
 * calls arrive. */
export interface ReportFlowScript {
  /** template_id → report file path (or bytes) served for it. @default {{}} */
  reports?: Record<string, string | Uint8Array>;
  /** The next N calls (any action) answer HTTP 409 with this CODE and wait. */
  conflicts?: { code: "1960" | "1965"; toWaitSec?: number; secondsToWaitItem?: number }[];
  /** The next N launches answer "Max number of allowed reports already running". */
  maxReportsRunning?: number;
  /** Number of list calls that show Running before Finished. @default {1} */
  runningPolls?: number;
  /** The report ends in this state instead of Finished. */
  finalState?: "Canceled" | "Errors";
  /** Number of fetches answered with 7001 before the report. @default {0} */
  fetch7001?: number;
  /** The next N calls answer HTTP 503. */
  serverErrors?: number;
  /**
   * The next calls of the report flow answer these, one each: an HTTP status with an empty body
   * or an HTML page, as a proxy, a firewall or a load balancer may (issue 18's hostile pass; no
   * Qualys source).
   */
  bareAnswers?: { status: number; body?: "empty" | "html" }[];
  /** The next N fetches send part of the body, then reset the connection. */
  resetMidDownload?: number;
  /** The next N fetches declare the full length but send only half, then close. */
  truncatedBody?: number;
  /** Milliseconds between body chunks of a fetch. */
  slowBodyMs?: number;
  /** Every fetch answers this SIMPLE_RETURN CODE with HTTP 200 (e.g. 2001 account expired). */
  fetchSimpleReturn?: { code: string; text: string };
  /** X-RateLimit-Remaining sent on every answer. @default {250} */
  rateLimitRemaining?: number;
  /** A session cookie value set on every answer (a secret the connector must never log). */
  sessionCookie?: string;
  /** A notice of deprecation in the report flow's answers (`header` or `comment`). */
  notice?: SimNotice;
}

/** The report flow at run time. */
export class ReportRoutes {
  /** Report IDs launched. */
  readonly launched: string[] = [];
  /** Report IDs deleted. */
  readonly deleted: string[] = [];
  readonly #s: ReportFlowScript & Required<Pick<ReportFlowScript, "reports" | "conflicts">>;
  readonly #reports = new Map<string, { template: string; polls: number; fetches: number }>();
  #nextId = 4927942;
  readonly #comment: string;

  /** The report flow as `script` plays it (a copy: its counters are consumed here). */
  constructor(script: ReportFlowScript) {
    this.#s = {
      ...script,
      reports: script.reports ?? {},
      conflicts: [...(script.conflicts ?? [])],
      bareAnswers: [...(script.bareAnswers ?? [])],
    };
    this.#comment = noticeText(this.#s.notice, "report", "comment") ?? "";
  }

  /** The headers of an answer outside the VMDR routes, with `extra`. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    const s = this.#s;
    return {
      "Content-Type": "text/xml; charset=UTF-8",
      "X-RateLimit-Limit": "300",
      "X-RateLimit-Window-Sec": "3600",
      "X-RateLimit-Remaining": String(s.rateLimitRemaining ?? 250),
      "X-Concurrency-Limit-Limit": "2",
      "X-Concurrency-Limit-Running": "1",
      ...(s.sessionCookie
        ? { "Set-Cookie": `QualysSession=${s.sessionCookie}; path=/api; secure` }
        : {}),
      ...noticeHeaders(s.notice, "report"),
      ...extra,
    };
  }

  /** An XML answer with those headers. */
  xml(body: string, status = 200, extra: Record<string, string> = {}): Response {
    return new Response(body, { status, headers: this.headers(extra) });
  }

  async #reportBytes(template: string): Promise<Uint8Array> {
    const src = this.#s.reports[template]!;
    return typeof src === "string" ? await Deno.readFile(src) : src;
  }

  /** Answers one authorized call of the report flow with parameters `params`. */
  async handle(params: Record<string, string>): Promise<Response> {
    const s = this.#s, reports = this.#reports, reportComment = this.#comment;
    const xml = this.xml.bind(this), headers = this.headers.bind(this);
    const bare = s.bareAnswers?.shift();
    if (bare) {
      return bare.body === "html"
        ? new Response(`<html><body><h1>${bare.status}</h1>Request blocked.</body></html>`, {
          status: bare.status,
          headers: { "Content-Type": "text/html" },
        })
        : new Response(null, { status: bare.status });
    }
    if (s.serverErrors && s.serverErrors > 0) {
      s.serverErrors--;
      return new Response("<html><body>503 Service Unavailable</body></html>", { status: 503 });
    }
    const conflict = s.conflicts.shift();
    if (conflict) {
      const extra: Record<string, string> = conflict.toWaitSec !== undefined
        ? { "X-RateLimit-ToWait-Sec": String(conflict.toWaitSec) }
        : {};
      const text = conflict.code === "1965"
        ? "This API cannot be run again for another 23 hours, 57 minutes and 54 seconds."
        : "This API cannot be run again until 1 currently running API instance has finished.";
      const items: [string, string][] = conflict.secondsToWaitItem !== undefined
        ? [["SECONDS_TO_WAIT", String(conflict.secondsToWaitItem)]]
        : conflict.code === "1960"
        ? [["CALLS_TO_FINISH", "1"]]
        : [];
      return xml(simpleReturn(text, conflict.code, items), 409, extra);
    }
    switch (params.action) {
      case "launch": {
        if (s.maxReportsRunning && s.maxReportsRunning > 0) {
          s.maxReportsRunning--;
          return xml(
            simpleReturn("Max number of allowed reports already running. Please try again later."),
          );
        }
        const template = params.template_id ?? "";
        if (!(template in s.reports) || params.output_format !== "xml") {
          return xml(
            simpleReturn("Internal error. Please contact customer support.", "999", [[
              "Incident Signature",
              "Tried to launch invalid report.",
            ]]),
            500,
          );
        }
        const id = String(this.#nextId++);
        reports.set(id, { template, polls: 0, fetches: 0 });
        this.launched.push(id);
        return xml(simpleReturn("New report launched", "", [["ID", id]], reportComment));
      }
      case "list": {
        const r = reports.get(params.id ?? "");
        let body = "";
        if (r) {
          r.polls++;
          const state = r.polls > (s.runningPolls ?? 1) ? (s.finalState ?? "Finished") : "Running";
          const pct = state === "Running" ? `<PERCENT>${Math.min(99, r.polls * 30)}</PERCENT>` : "";
          body = `<REPORT><ID>${params.id}</ID><TITLE><![CDATA[sim]]></TITLE><TYPE>Scan</TYPE>` +
            `<OUTPUT_FORMAT>XML</OUTPUT_FORMAT><STATUS><STATE>${state}</STATE>` +
            (state === "Errors" ? "<MESSAGE>Report generation failed</MESSAGE>" : "") +
            `${pct}</STATUS></REPORT>`;
        }
        return xml(
          `<?xml version="1.0" encoding="UTF-8" ?>\n<REPORT_LIST_OUTPUT><RESPONSE><DATETIME>x</DATETIME>` +
            (reportComment ? `<!-- ${reportComment} -->` : "") +
            `<REPORT_LIST>${body}</REPORT_LIST></RESPONSE></REPORT_LIST_OUTPUT>\n`,
        );
      }
      case "fetch": {
        const r = reports.get(params.id ?? "");
        if (s.fetchSimpleReturn) {
          return xml(simpleReturn(s.fetchSimpleReturn.text, s.fetchSimpleReturn.code));
        }
        if (!r || r.polls <= (s.runningPolls ?? 1)) {
          return xml(simpleReturn("Report cannot be fetched.", "7001"));
        }
        r.fetches++;
        if (r.fetches <= (s.fetch7001 ?? 0)) {
          return xml(simpleReturn("Report cannot be fetched.", "7001"));
        }
        const fileHeaders = headers({
          "Content-Type": "application/xml",
          "Content-Disposition": `attachment; filename=Scan_Report_sim_${params.id}.xml`,
        });
        const src = s.reports[r.template]!;
        const faulty = (s.truncatedBody ?? 0) > 0 || (s.resetMidDownload ?? 0) > 0 || s.slowBodyMs;
        if (typeof src === "string" && !faulty) {
          // A big report is streamed from disk, never held whole in the simulator's memory.
          const file = await Deno.open(src);
          const size = (await file.stat()).size;
          return new Response(file.readable, {
            headers: { ...fileHeaders, "Content-Length": String(size) },
          });
        }
        const bytes = await this.#reportBytes(r.template);
        if (s.truncatedBody && s.truncatedBody > 0) {
          s.truncatedBody--;
          const half = bytes.subarray(0, bytes.length >> 1);
          let sent = false;
          return new Response(
            new ReadableStream({
              pull(c) {
                if (sent) c.error(new Error("simulated truncation"));
                else c.enqueue(half);
                sent = true;
              },
            }),
            { headers: { ...fileHeaders, "Content-Length": String(bytes.length) } },
          );
        }
        const reset = s.resetMidDownload && s.resetMidDownload > 0;
        if (reset) s.resetMidDownload!--;
        const chunk = 65536;
        let off = 0;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (reset && off >= bytes.length >> 1) {
                c.error(new Error("simulated connection reset"));
                return;
              }
              if (off >= bytes.length) {
                c.close();
                return;
              }
              if (s.slowBodyMs) await new Promise((r) => setTimeout(r, s.slowBodyMs));
              c.enqueue(bytes.subarray(off, off + chunk));
              off += chunk;
            },
          }),
          { headers: fileHeaders },
        );
      }
      case "delete": {
        const id = params.id ?? "";
        if (!reports.delete(id)) return xml(simpleReturn("Report cannot be fetched.", "7001"));
        this.deleted.push(id);
        return xml(simpleReturn("Report deleted", "", [["ID", id]]));
      }
      default:
        return xml(simpleReturn(`Unrecognized parameter(s): action=${params.action}`, "1901"), 400);
    }
  }
}
