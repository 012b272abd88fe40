/**
 * What a script and a test say to the simulator's VMDR routes: the VMDR part of a simulator
 * script (limits, latency, keep-alive comments, what the pages write, faults), the faults it can
 * script, the request log entry every route fills, and the run-time control of the routes.
 *
 * @module
 */

import type { VmdrSubscription } from "./subscription/mod.ts";
import type { SimNotice, VmdrApi } from "./versions.ts";

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
