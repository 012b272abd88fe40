/**
 * Issue 20: the heap is watched while any Qualys answer is parsed (`FETCH_MEMORY`, a look every
 * `FETCH_LOOK_BYTES`), whichever call it came from: an incremental run's host ID list, with no
 * host in it, grew the heap by 12 MiB before V8 collected it. Against the simulator.
 */

import assert from "node:assert/strict";
import { fetchParsed, Traffic } from "../../lib/qualys/fetch_parsed.ts";
import { KbPageParser } from "../../lib/sources/detections/pages/kb_page.ts";
import { FETCH_LOOK_BYTES } from "../../lib/util/memory.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { startQualysSim, VmdrSubscription } from "../../scripts/sim/qualys/mod.ts";
import { simClient } from "./_sim_client.ts";

Deno.test("fetchParsed looks at the heap as an answer is parsed and collects past the slack", async () => {
  const subscription = new VmdrSubscription({
    seed: 7,
    hosts: 4,
    detectionsPerHost: 1,
    qids: 8000,
  });
  const sim = await startQualysSim({ reports: {}, vmdr: { subscription } }, {
    ca: createTestCa("fetch heap test CA"),
  });
  const client = simClient(sim);
  // collectGarbage calls globalThis.gc (the binary's --expose-gc): counted here instead
  const g = globalThis as { gc?: () => void };
  const saved = g.gc;
  let gcs = 0;
  g.gc = () => void gcs++;
  try {
    const traffic = new Traffic();
    await fetchParsed(
      client,
      { endpoint: "knowledge_base", params: { action: "list", details: "All", ids: "1-100000" } },
      () => new KbPageParser(),
      { what: "KnowledgeBase batch 1", traffic },
    );
    assert.ok(
      traffic.bytes > 2 * FETCH_LOOK_BYTES,
      `a KnowledgeBase answer of ${traffic.bytes} bytes`,
    );
    // the first look finds more than the slack (nothing was collected before it)
    assert.ok(gcs >= 1, "the heap was collected while the answer was parsed");
  } finally {
    g.gc = saved;
    await client.close();
    await sim.shutdown();
  }
});
