/**
 * The APIs the Qualys simulator serves and their versions: today's Qualys
 * (../shared/reference/qualys_api_versions.md): Host List Detection and Host List 5.0,
 * KnowledgeBase 4.0, reports 2.0 and 3.0 (3.0 is seen in third-party clients, qualys_api.md
 * section 3.5; its answers are taken to be 2.0's). A version not served is answered as retired:
 * HTTP 404 with a SIMPLE_RETURN naming the version, as issue 17 describes it. How Qualys really
 * answers a retired version is not public, so `retired` switches to the other likely forms (410,
 * an HTML 404 page, a SIMPLE_RETURN with HTTP 200). Where a notice of deprecation would be is
 * not public either: each guess is a form of {@linkcode SimNotice}.
 *
 * @module
 */

import { simpleReturn } from "./simple_return.ts";

/** The three VMDR APIs; each has its own limits and request count. */
export type VmdrApi = "detection" | "host" | "kb";

/** Resource (the path after `/api/<version>/fo/`) → API, for the VMDR routes (`vmdr_routes.ts`). */
export const VMDR_RESOURCES: Readonly<Record<string, VmdrApi>> = {
  "asset/host/vm/detection/": "detection",
  "asset/host/": "host",
  "knowledge_base/vuln/": "kb",
};

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

/**
 * The answer to `path`, a version of an API that is not served: by default HTTP 404 with a
 * SIMPLE_RETURN naming the version and the latest one served (issue 17; Qualys's real answer is
 * not public, hence `answer.retired`). `answer.headers` gives the answer's headers.
 */
export function retiredAnswer(
  request: { path: string; version: string; latest: string | undefined },
  answer: {
    retired: RetiredAnswer | undefined;
    headers: (extra?: Record<string, string>) => Record<string, string>;
  },
): Response {
  const { retired, headers } = answer;
  const r = retired ?? {};
  const status = r.status ?? 404;
  if (r.body === "html") {
    return new Response(
      `<html><head><title>${status} Not Found</title></head><body><h1>Not Found</h1>` +
        `<p>The requested URL ${request.path} was not found on this server.</p></body></html>\n`,
      { status, headers: headers({ "Content-Type": "text/html" }) },
    );
  }
  return new Response(
    simpleReturn(
      `API version ${request.version} of this endpoint is no longer supported. ` +
        `Please use version ${request.latest}.`,
    ),
    { status, headers: headers() },
  );
}

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

/** The words of the notice `api`'s answers carry in `form`, if they carry one. */
export function noticeText(
  notice: SimNotice | undefined,
  api: VmdrApi | "report",
  form: SimNotice["form"],
): string | undefined {
  if (notice?.form !== form || (notice.apis && !notice.apis.includes(api))) return undefined;
  return notice.text ?? NOTICE_TEXT;
}
