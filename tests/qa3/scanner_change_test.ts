/**
 * QA: `scanner_name` is part of the state's query hash, so changing it makes the next run a full
 * one that "clears the hosts the destination got results for before and that are no longer
 * listed" (README). Those results are under the OLD scanner name; the clear is sent with the new
 * one (a no-op on the DC, hostinput.md §2.3: DeleteScanResult is per scanner), and the state then
 * forgets the hosts: their results stay on the DC for good.
 */

import assert from "node:assert/strict";
import { dcKeys, replayAll, withHarness } from "./_harness.ts";

Deno.test("qa3: after a scanner_name change, a host whose findings were all fixed keeps them on the DC (old scanner), and the state forgets it", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run()).code, 0);
    const day = h.sub.advanceDay({ allFixedHosts: 2, scanShare: 0 });
    const fixedIps = day.allFixedHostIds.map((id) => h.sub.hostAddress(h.sub.hostIndexById(id)));
    assert.ok(fixedIps.length > 0);
    // the user renames the scanner
    const r = await h.run({ config: await h.configWith("scanner_name: Qualys VMDR\n") });
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "full");
    const fmc = replayAll(h.delivered);
    const left = [...dcKeys(fmc, "QualysGuard")].filter((k) => fixedIps.includes(k.split("|")[0]!));
    assert.deepEqual(
      left,
      [],
      `hosts whose findings are all fixed in Qualys keep ${left.length} results on the DC ` +
        `(the clear went out as ${
          JSON.stringify(r.delivered!.match(/^DeleteScanResult.*$/m)?.[0])
        })`,
    );
  });
});
