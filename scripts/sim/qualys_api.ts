/**
 * Qualys API simulator: a real HTTPS server on 127.0.0.1 (certificate from a CA made at start)
 * that implements the report flow the connector uses (session-less Basic auth,
 * `/api/2.0/fo/report/` launch, list, fetch, delete), rate-limit and concurrency headers, and
 * scriptable faults. It serves any report file it is given. For tests and `deno task demo`.
 *
 * @module
 */

import { createTestCa, type TestCa } from "./pki.ts";

/** Faults to inject; counters are consumed as calls arrive. */
export interface QualysSimScript {
  /** template_id → report file path (or bytes) served for it. */
  reports: Record<string, string | Uint8Array>;
  /** Accepted user and password. @default {"sim_user"/"sim_pass"} */
  user?: string;
  /** Accepted password. */
  password?: string;
  /** Login failures answer CODE 2000 with HTTP 401 (default) or this code/status. */
  badLogin?: { code: string; status: number };
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
}

/** One request the simulator saw. */
export interface SimRequest {
  /** action parameter. */
  action: string;
  /** All parameters. */
  params: Record<string, string>;
  /** Whether Basic auth matched. */
  authorized: boolean;
  /** X-Requested-With value. */
  requestedWith: string | null;
  /** Whether a Proxy-Authorization header reached the origin (it must never). */
  proxyAuthorization: boolean;
}

/** A running simulator. */
export interface QualysSim {
  /** Base URL, e.g. https://127.0.0.1:41234 (give it as `url`). */
  url: string;
  /** The CA certificate to trust (give it as `ca_file`). */
  caPem: string;
  /** Every request, in order. */
  requests: SimRequest[];
  /** Report IDs launched. */
  launched: string[];
  /** Report IDs deleted. */
  deleted: string[];
  /** Stops the server. */
  shutdown(): Promise<void>;
}

const enc = new TextEncoder();

function simpleReturn(text: string, code = "", items: [string, string][] = []): string {
  return `<?xml version="1.0" encoding="UTF-8" ?>\n` +
    `<!DOCTYPE SIMPLE_RETURN SYSTEM "https://qualysapi.qualys.com/api/2.0/simple_return.dtd">\n` +
    `<SIMPLE_RETURN><RESPONSE><DATETIME>${new Date().toISOString().slice(0, 19)}Z</DATETIME>` +
    (code ? `<CODE>${code}</CODE>` : "") + `<TEXT>${text}</TEXT>` +
    (items.length
      ? `<ITEM_LIST>${
        items.map(([k, v]) => `<ITEM><KEY>${k}</KEY><VALUE>${v}</VALUE></ITEM>`).join("")
      }</ITEM_LIST>`
      : "") +
    `</RESPONSE></SIMPLE_RETURN>\n`;
}

/** Starts the simulator; `ca` lets several simulators share one CA. */
export async function startQualysSim(
  script: QualysSimScript,
  options: { ca?: TestCa } = {},
): Promise<QualysSim> {
  const ca = options.ca ?? createTestCa("Qualys simulator CA");
  const server = ca.issue({ cn: "localhost", sans: ["localhost", "127.0.0.1"] });
  const user = script.user ?? "sim_user";
  const password = script.password ?? "sim_pass";
  const expected = `Basic ${btoa(String.fromCharCode(...enc.encode(`${user}:${password}`)))}`;
  const requests: SimRequest[] = [];
  const launched: string[] = [];
  const deleted: string[] = [];
  const reports = new Map<string, { template: string; polls: number; fetches: number }>();
  let nextId = 4927942;
  const s = { ...script, conflicts: [...(script.conflicts ?? [])] };

  const headers = (extra: Record<string, string> = {}) => ({
    "Content-Type": "text/xml; charset=UTF-8",
    "X-RateLimit-Limit": "300",
    "X-RateLimit-Window-Sec": "3600",
    "X-RateLimit-Remaining": String(s.rateLimitRemaining ?? 250),
    "X-Concurrency-Limit-Limit": "2",
    "X-Concurrency-Limit-Running": "1",
    ...(s.sessionCookie
      ? { "Set-Cookie": `QualysSession=${s.sessionCookie}; path=/api; secure` }
      : {}),
    ...extra,
  });
  const xml = (body: string, status = 200, extra: Record<string, string> = {}) =>
    new Response(body, { status, headers: headers(extra) });

  const reportBytes = async (template: string): Promise<Uint8Array> => {
    const src = s.reports[template]!;
    return typeof src === "string" ? await Deno.readFile(src) : src;
  };

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    if (req.method === "POST") {
      for (const [k, v] of new URLSearchParams(await req.text())) params[k] = v;
    }
    const authorized = req.headers.get("authorization") === expected;
    const record: SimRequest = {
      action: params.action ?? "",
      params,
      authorized,
      requestedWith: req.headers.get("x-requested-with"),
      proxyAuthorization: req.headers.has("proxy-authorization"),
    };
    requests.push(record);
    if (url.pathname !== "/api/2.0/fo/report/") {
      return new Response("Not Found", { status: 404 });
    }
    if (!record.requestedWith) {
      return xml(simpleReturn("Please specify X-Requested-With header.", "1905"), 400);
    }
    if (!authorized) {
      const bad = s.badLogin ?? { code: "2000", status: 401 };
      return xml(simpleReturn("Bad Login/Password", bad.code), bad.status);
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
        const id = String(nextId++);
        reports.set(id, { template, polls: 0, fetches: 0 });
        launched.push(id);
        return xml(simpleReturn("New report launched", "", [["ID", id]]));
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
        const bytes = await reportBytes(r.template);
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
        deleted.push(id);
        return xml(simpleReturn("Report deleted", "", [["ID", id]]));
      }
      default:
        return xml(simpleReturn(`Unrecognized parameter(s): action=${params.action}`, "1901"), 400);
    }
  };

  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const httpServer = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: server.certPem,
    key: server.keyPem,
    onListen: ({ port }) => resolve(port),
    onError: () => new Response("error", { status: 500 }),
  }, handler);
  const port = await listening;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: ca.caPem,
    requests,
    launched,
    deleted,
    async shutdown() {
      await httpServer.shutdown();
    },
  };
}
