/**
 * Qualys API simulator: a real HTTPS server on 127.0.0.1 (certificate from a CA made at start)
 * that implements the report flow the connector uses (session-less Basic auth,
 * `/api/2.0/fo/report/` launch, list, fetch, delete), rate-limit and concurrency headers, and
 * scriptable faults. It serves any report file it is given. For tests and `deno task demo`.
 *
 * Versions: today's Qualys (../shared/reference/qualys_api_versions.md): Host List Detection and
 * Host List 5.0, KnowledgeBase 4.0, reports 2.0 and 3.0 (3.0 is seen in third-party clients,
 * qualys_api.md section 3.5; its answers are taken to be 2.0's). A version not served is answered
 * as retired: HTTP 404 with a SIMPLE_RETURN naming the version, as issue 17 describes it. How
 * Qualys really answers a retired version is not public, so `retired` switches to the other
 * likely forms (410, an HTML 404 page, a SIMPLE_RETURN with HTTP 200).
 *
 * The API gateway: `POST /auth` (form `username`, `password`, `token=true`) answers a token as
 * text with HTTP 201 (PostHog PR #80101, qualys_api_versions.md). With `gateway.kbWantsToken`
 * the KnowledgeBase answers 401 to Basic auth and takes `Authorization: Bearer <token>`, as
 * PostHog treats KB 4.0; the body of that 401 is not known, so it is switchable.
 *
 * With a `vmdr` script it also serves Host List Detection, Host List and the KnowledgeBase over
 * a simulated subscription (`vmdr_routes.ts`, `subscription/`). Every request is
 * logged with its parameters, status and body bytes (`log`).
 *
 * Run it alone (`deno run -A scripts/sim/qualys/server.ts --hosts 1000`) to point a client at it:
 * it prints the URL, the login and the CA file as one JSON line, advances a day on each `advance`
 * line read from stdin (printing what changed), and stops on `quit`, SIGINT or SIGTERM. Flags:
 * `--seed`, `--hosts`, `--detections` (per host), `--qids`, `--days` (advanced before serving),
 * `--latency-ms` (per page), `--kb-latency-ms` (per KnowledgeBase call), `--concurrency`,
 * `--scan-share` (the share of hosts scanned, and so changed, each day).
 *
 * @module
 */

import { createTestCa, type TestCa } from "../net/pki.ts";
import {
  NOTICE_TEXT,
  noticeHeaders,
  type SimLogEntry,
  type SimNotice,
  VMDR_RESOURCES,
  type VmdrApi,
  type VmdrControl,
  VmdrRoutes,
  type VmdrSimOptions,
} from "./vmdr_routes.ts";
import { formatDateTime, VmdrSubscription } from "./subscription/mod.ts";

export type {
  SimLogEntry,
  SimNotice,
  VmdrControl,
  VmdrFault,
  VmdrSimOptions,
} from "./vmdr_routes.ts";

/** An API of the simulator: a VMDR one, or the report flow. */
export type SimApi = VmdrApi | "report";

/** The versions each API serves by default: today's Qualys. */
export const SERVED_VERSIONS: Readonly<Record<SimApi, readonly string[]>> = {
  detection: ["5.0"],
  host: ["5.0"],
  kb: ["4.0"],
  report: ["2.0", "3.0"],
};

/** How a version that is not served is answered (the real form is not public). */
export interface RetiredAnswer {
  /** HTTP status. @default {404} */
  status?: number;
  /** A SIMPLE_RETURN naming the version (default), or an HTML error page. */
  body?: "simple-return" | "html";
}

/** The API gateway part of a script. */
export interface SimGatewayScript {
  /** The KnowledgeBase answers 401 to Basic auth and wants a gateway token. @default {false} */
  kbWantsToken?: boolean;
  /** The body of that 401: empty (default) or a SIMPLE_RETURN CODE 2000 (not known which). */
  refusal?: "empty" | "simple-return";
  /** Every token is refused with HTTP 401 (an account the API does not take tokens for). */
  refuseTokens?: boolean;
  /** Tokens another simulator's gateway issued are taken too (a gateway on its own host). */
  trustTokensOf?: SimGateway;
}

/** The simulated API gateway, at run time. */
export interface SimGateway {
  /** Every token issued, in order (secrets a test looks for in logs). */
  readonly tokens: string[];
  /** Calls made with each token that it took, by token. */
  readonly uses: Map<string, number>;
  /** Whether `token` was issued here and is still valid. */
  valid(token: string): boolean;
  /** Makes every token issued so far invalid (as once 4 hours have passed). */
  expireTokens(): void;
  /** Changes the script for the following calls. */
  set(script: SimGatewayScript): void;
}

const RESOURCE = /^\/api\/(\d+\.\d+)\/fo\/(.*)$/;

/** Faults to inject; counters are consumed as calls arrive. */
export interface QualysSimScript {
  /** template_id → report file path (or bytes) served for it. @default {{}} */
  reports?: Record<string, string | Uint8Array>;
  /** Serve the VMDR APIs over this subscription, with these limits and faults. */
  vmdr?: VmdrSimOptions;
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
  /** The versions each API serves. @default {SERVED_VERSIONS} */
  versions?: Partial<Record<SimApi, readonly string[]>>;
  /** How a version not served is answered. @default {{ status: 404, body: "simple-return" }} */
  retired?: RetiredAnswer;
  /** The API gateway and the endpoints that want its tokens. */
  gateway?: SimGatewayScript;
  /** A notice of deprecation in the report flow's answers (`header` or `comment`). */
  notice?: SimNotice;
}

/** One request the simulator saw. */
export interface SimRequest {
  /** URL path. */
  path: string;
  /** action parameter. */
  action: string;
  /** All parameters. */
  params: Record<string, string>;
  /** Whether Basic auth matched, or a valid gateway token came. */
  authorized: boolean;
  /** Whether a gateway token came (valid or not). */
  bearer: boolean;
  /** The version in the path ("" for other paths). */
  version: string;
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
  /** Every request with its status and body bytes, in arrival order (all routes). */
  log: SimLogEntry[];
  /** The VMDR routes' controls, when the script has `vmdr`. */
  vmdr?: VmdrControl;
  /** The API gateway (`POST /auth`); give `url` as `gateway_url`. */
  gateway: SimGateway;
  /** Resolves once no response body is being sent (then every log entry is `done`). */
  idle(): Promise<void>;
  /** Stops the server. */
  shutdown(): Promise<void>;
}

const enc = new TextEncoder();

function simpleReturn(
  text: string,
  code = "",
  items: [string, string][] = [],
  comment = "",
): string {
  return `<?xml version="1.0" encoding="UTF-8" ?>\n` +
    `<!DOCTYPE SIMPLE_RETURN SYSTEM "https://qualysapi.qualys.com/api/2.0/simple_return.dtd">\n` +
    `<SIMPLE_RETURN><RESPONSE><DATETIME>${new Date().toISOString().slice(0, 19)}Z</DATETIME>` +
    (comment ? `<!-- ${comment} -->` : "") +
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
  const s = {
    ...script,
    reports: script.reports ?? {},
    conflicts: [...(script.conflicts ?? [])],
    bareAnswers: [...(script.bareAnswers ?? [])],
  };
  const log: SimLogEntry[] = [];
  const vmdr = script.vmdr ? new VmdrRoutes(script.vmdr) : undefined;
  let baseUrl = "";
  let inFlight = 0;
  // the gateway: tokens issued, those still valid, calls each took
  let gw: SimGatewayScript = { ...script.gateway };
  const tokens: string[] = [];
  const validTokens = new Set<string>();
  const tokenUses = new Map<string, number>();
  const gateway: SimGateway = {
    tokens,
    uses: tokenUses,
    expireTokens: () => validTokens.clear(),
    valid: (token) => validTokens.has(token),
    set: (g) => gw = { ...gw, ...g },
  };
  const served = { ...SERVED_VERSIONS, ...script.versions };
  const reportComment = s.notice?.form === "comment" &&
      (!s.notice.apis || s.notice.apis.includes("report"))
    ? s.notice.text ?? NOTICE_TEXT
    : "";
  let idleWaiters: (() => void)[] = [];

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
    ...noticeHeaders(s.notice, "report"),
    ...extra,
  });
  const xml = (body: string, status = 200, extra: Record<string, string> = {}) =>
    new Response(body, { status, headers: headers(extra) });

  const reportBytes = async (template: string): Promise<Uint8Array> => {
    const src = s.reports[template]!;
    return typeof src === "string" ? await Deno.readFile(src) : src;
  };

  // The API gateway's token call (PostHog #80101: form fields, HTTP 201, the token as the body).
  const auth = (req: Request, params: Record<string, string>, entry: SimLogEntry): Response => {
    entry.api = "gateway";
    entry.params = {
      ...params,
      ...(params.password === undefined ? {} : { password: "(hidden)" }),
    };
    requests.push({
      path: "/auth",
      action: "",
      params: entry.params,
      authorized: params.username === user && params.password === password,
      bearer: false,
      version: "",
      requestedWith: req.headers.get("x-requested-with"),
      proxyAuthorization: req.headers.has("proxy-authorization"),
    });
    if (req.method !== "POST" || params.token !== "true") {
      return new Response("token=true is required", { status: 400 });
    }
    if (params.username !== user || params.password !== password) {
      return new Response('{"message":"Unauthorized"}', {
        status: 401,
        headers: { "Content-Type": "application/json" },
      });
    }
    const b64 = (text: string) =>
      btoa(text).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const random = b64(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
    const token = `${b64('{"alg":"HS512"}')}.${
      b64(JSON.stringify({ sub: user, n: tokens.length + 1 }))
    }.${random}`;
    tokens.push(token);
    validTokens.add(token);
    return new Response(token, { status: 201, headers: { "Content-Type": "text/plain" } });
  };

  const route = async (
    req: Request,
    entry: SimLogEntry,
    onFinish: (callback: () => void) => void,
  ): Promise<Response> => {
    const url = new URL(req.url);
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    const ordered: [string, string][] = [...url.searchParams];
    if (req.method === "POST") {
      for (const [k, v] of new URLSearchParams(await req.text())) {
        params[k] = v;
        ordered.push([k, v]);
      }
    }
    entry.params = params;
    if (url.pathname === "/auth") return auth(req, params, entry);
    const m = RESOURCE.exec(url.pathname);
    const api: SimApi | undefined = m?.[2] === "report/"
      ? "report"
      : vmdr
      ? VMDR_RESOURCES[m?.[2] ?? ""]
      : undefined;
    const authz = req.headers.get("authorization") ?? "";
    const bearer = authz.startsWith("Bearer ");
    const token = authz.slice(7);
    const tokenOk = bearer && !gw.refuseTokens &&
      (validTokens.has(token) || gw.trustTokensOf?.valid(token) === true);
    const basicOk = authz === expected;
    const record: SimRequest = {
      path: url.pathname,
      action: params.action ?? "",
      params,
      authorized: basicOk || tokenOk,
      bearer,
      version: m?.[1] ?? "",
      requestedWith: req.headers.get("x-requested-with"),
      proxyAuthorization: req.headers.has("proxy-authorization"),
    };
    requests.push(record);
    if (!api) return new Response("Not Found", { status: 404 });
    entry.api = api;
    if (!record.requestedWith) {
      return xml(simpleReturn("Please specify X-Requested-With header.", "1905"), 400);
    }
    if (api === "kb" && gw.kbWantsToken && !tokenOk) {
      // a KnowledgeBase that wants a gateway token (PostHog #80101); the 401's body is unknown
      return gw.refusal === "simple-return"
        ? xml(simpleReturn("Bad Login/Password", "2000"), 401)
        : new Response(null, { status: 401, headers: headers() });
    }
    if (!basicOk && !tokenOk) {
      const bad = s.badLogin ?? { code: "2000", status: 401 };
      return xml(simpleReturn("Bad Login/Password", bad.code), bad.status);
    }
    if (tokenOk) tokenUses.set(token, (tokenUses.get(token) ?? 0) + 1);
    const version = m![1]!;
    if (!served[api].includes(version)) {
      // A retired version: HTTP 404 with a SIMPLE_RETURN naming it (issue 17; Qualys's real
      // answer is not public, hence `retired`).
      const r = s.retired ?? {};
      const status = r.status ?? 404;
      if (r.body === "html") {
        return new Response(
          `<html><head><title>${status} Not Found</title></head><body><h1>Not Found</h1>` +
            `<p>The requested URL ${url.pathname} was not found on this server.</p></body></html>\n`,
          { status, headers: headers({ "Content-Type": "text/html" }) },
        );
      }
      return xml(
        simpleReturn(
          `API version ${version} of this endpoint is no longer supported. ` +
            `Please use version ${served[api].at(-1)}.`,
        ),
        status,
      );
    }
    if (api !== "report") {
      return vmdr!.handle(api, { entry, ordered, user, baseUrl, path: url.pathname, onFinish });
    }
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
        const id = String(nextId++);
        reports.set(id, { template, polls: 0, fetches: 0 });
        launched.push(id);
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

  /** Answers one request and keeps its log entry: status, CODE, body bytes as they go out. */
  const handler = async (req: Request): Promise<Response> => {
    const entry: SimLogEntry = {
      seq: log.length + 1,
      api: "other",
      method: req.method,
      path: new URL(req.url).pathname,
      params: {},
      status: 0,
      bytes: 0,
      done: false,
      complete: false,
      startMs: performance.now(),
    };
    log.push(entry);
    inFlight++;
    const finishers: (() => void)[] = [];
    let finished = false;
    const finish = (complete: boolean) => {
      if (finished) return;
      finished = true;
      entry.done = true;
      entry.complete = complete;
      entry.endMs = performance.now();
      for (const f of finishers) f();
      if (--inFlight === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    };
    let res: Response;
    try {
      res = await route(req, entry, (f) => finishers.push(f));
    } catch (e) {
      finish(false);
      throw e;
    }
    entry.status = res.status;
    const vmdrApi = entry.api !== "report" && entry.api !== "other";
    if (!vmdrApi && res.body && !res.headers.get("content-type")?.startsWith("application/")) {
      // the report flow's small answers are read here to log a SIMPLE_RETURN's CODE; reports
      // (application/xml) and VMDR pages (which set the CODE themselves) stream untouched
      const text = await res.text();
      entry.code = /<CODE>([^<]*)<\/CODE>/.exec(text)?.[1];
      res = new Response(text, { status: res.status, headers: res.headers });
    }
    if (!res.body) {
      finish(true);
      return res;
    }
    const reader = res.body.getReader();
    const counted = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const r = await reader.read();
          if (r.done) {
            c.close();
            finish(true);
            return;
          }
          entry.bytes += r.value.byteLength;
          c.enqueue(r.value);
        } catch (e) {
          c.error(e);
          finish(false);
        }
      },
      async cancel(reason) {
        finish(false);
        await reader.cancel(reason).catch(() => {});
      },
    }, { highWaterMark: 0 }); // the body's own queue is the buffer: pull only when asked
    return new Response(counted, { status: res.status, headers: res.headers });
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
  baseUrl = `https://127.0.0.1:${port}`;
  return {
    url: baseUrl,
    caPem: ca.caPem,
    requests,
    launched,
    deleted,
    log,
    ...(vmdr ? { vmdr } : {}),
    gateway,
    idle() {
      return inFlight === 0 ? Promise.resolve() : new Promise((r) => idleWaiters.push(r));
    },
    async shutdown() {
      vmdr?.releaseWaits();
      vmdr?.abortAll();
      await httpServer.shutdown();
    },
  };
}

if (import.meta.main) {
  const flag = (name: string, dflt: number): number => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
  };
  const subscription = new VmdrSubscription({
    seed: flag("seed", 1),
    hosts: flag("hosts", 1000),
    detectionsPerHost: flag("detections", 40),
    qids: flag("qids", 2000),
    changes: { scanShare: flag("scan-share", 0.1) },
  });
  for (let d = flag("days", 0); d > 0; d--) subscription.advanceDay();
  const sim = await startQualysSim({
    vmdr: {
      subscription,
      pageLatencyMs: flag("latency-ms", 0),
      kbLatencyMs: flag("kb-latency-ms", 0),
      concurrencyLimit: flag("concurrency", 2),
      // --v2-pages: without what 5.0 answers add (to compare with figures taken before them)
      v5Elements: !Deno.args.includes("--v2-pages"),
    },
  });
  const caFile = await Deno.makeTempFile({ prefix: "qualys_sim_ca_", suffix: ".pem" });
  await Deno.writeTextFile(caFile, sim.caPem);
  console.log(JSON.stringify({
    url: sim.url,
    user_id: "sim_user",
    password: "sim_pass",
    ca_file: caFile,
    clock: formatDateTime(subscription.clock),
  }));
  const stop = async () => {
    await sim.shutdown();
    await Deno.remove(caFile).catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // commands on stdin; at its end the simulator goes on serving until SIGINT or SIGTERM
  for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    for (const cmd of line.split("\n").map((l) => l.trim()).filter(Boolean)) {
      if (cmd === "advance") {
        const r = subscription.advanceDay();
        console.log(JSON.stringify({ ...r, clock: formatDateTime(r.clock) }));
      } else if (cmd === "quit") await stop();
      else console.log(JSON.stringify({ error: `unknown command ${cmd}: advance or quit` }));
    }
  }
}
