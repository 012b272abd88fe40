/**
 * Test helper for the VMDR routes' tests: a Qualys simulator serving a small subscription, a
 * client that posts forms and follows WARNING URLs, and the hosts a filter should give.
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../../scripts/sim/net/mod.ts";
import {
  type QualysSim,
  startQualysSim,
  type VmdrQuery,
  type VmdrSimOptions,
  VmdrSubscription,
  type VmdrSubscriptionOptions,
} from "../../../scripts/sim/qualys/mod.ts";
import { at, kids, type Parsed, parseXml, textOf, type XNode } from "./_xml.ts";

const CA = createTestCa("VMDR simulator test CA");
export const HLD = "/api/5.0/fo/asset/host/vm/detection/";
export const HOSTS = "/api/5.0/fo/asset/host/";
export const KB = "/api/4.0/fo/knowledge_base/vuln/";

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export interface Harness {
  sim: QualysSim;
  sub: VmdrSubscription;
  /** POSTs a form and reads the whole answer. */
  post(path: string, params: string): Promise<Answer>;
  /** GETs a URL (a WARNING URL) and reads the whole answer. */
  get(url: string): Promise<Answer>;
  /** POSTs a form and returns the response with its body unread. */
  open(path: string, params: string): Promise<Response>;
}

export async function withVmdr(
  options: Partial<VmdrSimOptions> & {
    subscription?: VmdrSubscription;
    model?: VmdrSubscriptionOptions;
  },
  body: (h: Harness) => Promise<void>,
): Promise<void> {
  const { model, ...rest } = options;
  const sub = options.subscription ??
    new VmdrSubscription({ seed: 4, hosts: 40, detectionsPerHost: 6, qids: 120, ...model });
  const sim = await startQualysSim({ vmdr: { ...rest, subscription: sub } }, { ca: CA });
  const client = Deno.createHttpClient({ caCerts: [sim.caPem] });
  const headers = {
    authorization: `Basic ${btoa("sim_user:sim_pass")}`,
    "x-requested-with": "vmdr simulator test",
  };
  const open = (path: string, params: string) =>
    fetch(sim.url + path, {
      method: "POST",
      client,
      headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
      body: params,
    });
  const read = async (res: Response): Promise<Answer> => ({
    status: res.status,
    headers: res.headers,
    text: await res.text(),
  });
  try {
    await body({
      sim,
      sub,
      open,
      post: async (path, params) => read(await open(path, params)),
      get: async (url) => read(await fetch(url, { client, headers })),
    });
  } finally {
    client.close();
    await sim.shutdown(); // ends page waits and bodies still going
  }
}

/** Follows WARNING URLs from a first POST; returns every page, parsed. */
export async function allPages(h: Harness, path: string, params: string): Promise<Parsed[]> {
  const pages: Parsed[] = [];
  let answer = await h.post(path, params);
  for (;;) {
    assert.equal(answer.status, 200, answer.text);
    const page = parseXml(answer.text);
    pages.push(page);
    const url = textOf(at(page.root, "RESPONSE", "WARNING") ?? page.root, "URL");
    if (!at(page.root, "RESPONSE", "WARNING")) return pages;
    assert.ok(url);
    answer = await h.get(url);
  }
}

export function hostsOf(page: Parsed): XNode[] {
  return kids(at(page.root, "RESPONSE", "HOST_LIST") ?? page.root, "HOST");
}

export function idsOf(pages: Parsed[]): number[] {
  return pages.flatMap(hostsOf).map((h) => Number(textOf(h, "ID")));
}

/** Hosts a Host List Detection call with these filters should return, in ID order. */
export function expectedHosts(sub: VmdrSubscription, q: VmdrQuery): number[] {
  const out: number[] = [];
  for (let h = 0; h < sub.hostCount; h++) {
    if (sub.hostMatches(h, q) && sub.countDetections(h, q) > 0) out.push(sub.hostId(h));
  }
  return out;
}
