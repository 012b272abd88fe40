/**
 * QA: a Host List Detection page that says it was truncated (WARNING CODE 1980, "Use URL to get
 * next batch") but whose URL is missing or empty is taken as the end of its ID range, silently
 * (the code-1980 case is not even warned): the rest of the range is dropped and the run goes on
 * as if complete. It should follow `id_min` (last host ID + 1) or fail (exit 3/4), never drop.
 */

import assert from "node:assert/strict";
import { QualysClient } from "../../lib/qualys/client.ts";
import { fetchDetections } from "../../lib/vmdr/fetch_detections.ts";
import { HLD_PATH, Traffic } from "../../lib/vmdr/fetch_pages.ts";
import { ListingBuffer } from "../../lib/vmdr/listings.ts";
import { withHarness } from "./_harness.ts";

/** The client, with the WARNING URL of every Host List Detection answer emptied. */
function withoutWarningUrl(client: QualysClient): QualysClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === "fetchStream") {
        return async (...args: Parameters<QualysClient["fetchStream"]>) => {
          const answer = await target.fetchStream(...args);
          if (args[0] !== HLD_PATH) return answer;
          const text = (await new Response(answer.body).text())
            .replace(/<URL>[\s\S]*?<\/URL>/, "<URL><![CDATA[]]></URL>");
          const bytes = new TextEncoder().encode(text);
          const body = new ReadableStream<Uint8Array>({
            type: "bytes",
            start(c) {
              c.enqueue(bytes);
              c.close();
            },
          });
          return { ...answer, body, contentLength: undefined };
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

Deno.test("qa3: a WARNING 1980 page without its URL ends the range silently, dropping the rest of its hosts", async () => {
  await withHarness({}, async (h) => {
    const client = QualysClient.open({
      url: h.sim.url,
      userId: "sim_user",
      password: "sim_pass",
      caPem: h.sim.caPem,
    });
    try {
      const page = new ListingBuffer();
      const warnings: string[] = [];
      let result;
      let error: unknown;
      try {
        // a host list that names no ID leaves one open range: one chain of pages
        result = await fetchDetections(withoutWarningUrl(client), page, {
          params: { show_results: "0", status: "New,Active,Re-Opened" },
          hostParams: { ids: "1" },
          traffic: new Traffic(),
          pageSize: 7,
          onWarning: (m) => warnings.push(m),
        });
      } catch (e) {
        error = e;
      }
      const all = h.sub.openDetections().size;
      assert.ok(
        (error !== undefined && !(error instanceof TypeError)) || page.listings === all,
        `no error, ${page.listings} of ${all} hosts, ${result?.pages} page(s), warnings: ${
          JSON.stringify(warnings)
        }`,
      );
    } finally {
      await client.close();
    }
  });
});
