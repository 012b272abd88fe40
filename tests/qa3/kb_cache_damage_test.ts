/**
 * QA: lib/vmdr/kb_cache.ts promises that "a file without its trailer, or with a line that makes
 * no sense, is reported and treated as empty (the entries are fetched again)". A line whose head
 * (`{"q":<qid>,`) is intact but whose rest is garbage passes `KbCache.open` (it only reads the
 * head), is copied into every new cache, and ends every run that needs that QID with exit 7.
 */

import assert from "node:assert/strict";
import { withHarness } from "./_harness.ts";

Deno.test("qa3: a KB cache line with a good head and a damaged body ends every later run with exit 7 instead of a refetch", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    const name = [...Deno.readDirSync(h.stateDir)].find((e) => e.name.endsWith(".jsonl"))!.name;
    const path = `${h.stateDir}/${name}`;
    const lines = Deno.readTextFileSync(path).split("\n");
    // damage the first entry after its head (a flipped block on disk, a bad edit)
    lines[0] = lines[0]!.slice(0, lines[0]!.indexOf(",") + 1) + "\u0000\u0000garbage";
    Deno.writeTextFileSync(path, lines.join("\n"));
    const r = await h.run({ full: true });
    assert.equal(
      r.code,
      0,
      `exit ${r.code}: ${(r.error as Error)?.message}; warnings: ${r.warnings.join(" | ")}`,
    );
    assert.ok(r.warnings.some((w) => /KnowledgeBase cache is damaged/.test(w)));
  });
});
