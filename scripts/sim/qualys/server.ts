/**
 * Qualys API simulator: a real HTTPS server on 127.0.0.1 (certificate from a CA made at start)
 * that implements the report flow the connector uses (session-less Basic auth,
 * `/api/2.0/fo/report/` launch, list, fetch, delete: `report_routes.ts`), rate-limit and
 * concurrency headers, and scriptable faults. It serves any report file it is given. For tests
 * and `deno task demo`.
 *
 * Versions: today's Qualys; a version not served is answered as retired, in a form that is
 * switchable since the real one is not public (`versions.ts`). The API gateway (`POST /auth`,
 * Bearer tokens, a KnowledgeBase that wants one) is `gateway.ts`.
 *
 * With a `vmdr` script it also serves Host List Detection, Host List and the KnowledgeBase over
 * a simulated subscription (`vmdr_routes.ts`, `subscription/`). Every request is
 * logged with its parameters, status and body bytes (`log`).
 *
 * To run it alone and point a client at it: `serve.ts`.
 *
 * @module
 */

import { createTestCa, type TestCa } from "../net/mod.ts";
import { Gateway, type SimGateway, type SimGatewayScript } from "./gateway.ts";
import { type ReportFlowScript, ReportRoutes } from "./report_routes.ts";
import { simpleReturn } from "./simple_return.ts";
import {
  type RetiredAnswer,
  retiredAnswer,
  SERVED_VERSIONS,
  type SimApi,
  VMDR_RESOURCES,
} from "./versions.ts";
import type { SimLogEntry, VmdrControl, VmdrSimOptions } from "./vmdr_options.ts";
import { VmdrRoutes } from "./vmdr_routes.ts";

export type { SimGateway, SimGatewayScript } from "./gateway.ts";
export type { ReportFlowScript } from "./report_routes.ts";

const RESOURCE = /^\/api\/(\d+\.\d+)\/fo\/(.*)$/;

/** Faults to inject; counters are consumed as calls arrive. */
export interface QualysSimScript extends ReportFlowScript {
  /** Serve the VMDR APIs over this subscription, with these limits and faults. */
  vmdr?: VmdrSimOptions;
  /** Accepted user and password. @default {"sim_user"/"sim_pass"} */
  user?: string;
  /** Accepted password. */
  password?: string;
  /** Login failures answer CODE 2000 with HTTP 401 (default) or this code/status. */
  badLogin?: { code: string; status: number };
  /** The versions each API serves. @default {SERVED_VERSIONS} */
  versions?: Partial<Record<SimApi, readonly string[]>>;
  /** How a version not served is answered. @default {{ status: 404, body: "simple-return" }} */
  retired?: RetiredAnswer;
  /** The API gateway and the endpoints that want its tokens. */
  gateway?: SimGatewayScript;
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

/** Starts the simulator; `ca` lets several simulators share one CA. Stop it with
 * {@linkcode QualysSim.shutdown}. */
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
  const report = new ReportRoutes(script);
  const log: SimLogEntry[] = [];
  const vmdr = script.vmdr ? new VmdrRoutes(script.vmdr) : undefined;
  let baseUrl = "";
  let inFlight = 0;
  const gateway = new Gateway(script.gateway, { user, password });
  const served = { ...SERVED_VERSIONS, ...script.versions };
  let idleWaiters: (() => void)[] = [];
  // answers outside the VMDR routes carry the report flow's headers
  const headers = (extra: Record<string, string> = {}) => report.headers(extra);
  const xml = (body: string, status = 200, extra: Record<string, string> = {}) =>
    report.xml(body, status, extra);

  // The API gateway's token call: logged with the password hidden.
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
    return gateway.auth(req.method, params);
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
    const { bearer, token, ok: tokenOk } = gateway.check(authz);
    const gw = gateway.script;
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
      const bad = script.badLogin ?? { code: "2000", status: 401 };
      return xml(simpleReturn("Bad Login/Password", bad.code), bad.status);
    }
    if (tokenOk) gateway.use(token);
    const version = m![1]!;
    if (!served[api].includes(version)) {
      return retiredAnswer(
        { path: url.pathname, version, latest: served[api].at(-1) },
        { retired: script.retired, headers },
      );
    }
    if (api !== "report") {
      return vmdr!.handle(api, { entry, ordered, user, baseUrl, path: url.pathname, onFinish });
    }
    return await report.handle(params);
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
    launched: report.launched,
    deleted: report.deleted,
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
