/**
 * The detection sync at its edges: the checkpoint's own second, a narrower ip_ranges, a new
 * scanner_name. Each must leave the destination as Qualys says, with nothing left behind.
 */

import assert from "node:assert/strict";
import {
  OPEN_STATUSES,
  VmdrSubscription,
  type VmdrSubscriptionOptions,
} from "../../../../scripts/sim/qualys/mod.ts";
import { MovingSubscription, unionTruth } from "../_moving_sub.ts";
import { dcKeys, diff, replayAll, truth, withHarness } from "../_harness.ts";
Deno.test("detection sync: a host processed in the checkpoint's own second, after the run's answers, is in the next run", async () => {
  const sub = new MovingSubscription({ seed: 7, hosts: 40, detectionsPerHost: 6, qids: 80 });
  await withHarness({ subscription: sub }, async (h) => {
    assert.equal((await h.run()).code, 0);
    const checkpoint = sub.clock; // run 1's DATETIME, saved as the checkpoint
    const day = sub.advanceDay({ allFixedHosts: 1, scanShare: 0, newHosts: 0 });
    // the all-fixed host's scan was processed in the very second run 1's answers were stamped with
    const x = sub.hostIndexById(day.allFixedHostIds[0]!);
    sub.setProcessed(x, checkpoint);
    const r = await h.run();
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "incremental");
    const dc = dcKeys(replayAll(h.delivered));
    const expected = unionTruth(sub);
    assert.deepEqual(dc, expected, `host ${sub.hostAddress(x)}: ${diff(dc, expected)}`);
  });
});

Deno.test("detection sync: a narrower ip_ranges clears the hosts now outside it", async () => {
  await withHarness({}, async (h) => {
    assert.equal((await h.run({ config: await h.configWith("ip_ranges: 10.0.0.0/8\n") })).code, 0);
    const outside = (k: string) => {
      const ip = k.split("|")[0]!;
      return ip.startsWith("10.") && Number(ip.split(".")[3]) >= 16;
    };
    assert.ok([...dcKeys(replayAll(h.delivered))].some(outside));
    const r = await h.run({ config: await h.configWith("ip_ranges: 10.0.0.0/28\n") });
    assert.equal(r.code, 0, String(r.error));
    assert.equal(r.summary?.mode, "full");
    const left = [...dcKeys(replayAll(h.delivered))].filter(outside);
    const state = JSON.parse(
      Deno.readTextFileSync(
        `${h.stateDir}/${
          [...Deno.readDirSync(h.stateDir)].find((e) => /^sync-.*json$/.test(e.name))!.name
        }`,
      ),
    );
    assert.deepEqual(
      left.slice(0, 3),
      [],
      `${left.length} results of hosts now outside ip_ranges stay on the DC; the state's v4 list ` +
        `is ${atob(state.hosts.v4).length / 4} hosts long`,
    );
  });
});

Deno.test("detection sync: after a scanner_name change, the old scanner's results are cleared", async () => {
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
    assert.match(
      r.infos.join("\n"),
      /scanner_name changed from "QualysGuard": its results on \d+ hosts/,
    );
    assert.deepEqual(dcKeys(fmc, "QualysGuard"), new Set(), "nothing left under the old name");
    assert.deepEqual(dcKeys(fmc, "Qualys VMDR"), truth(h.sub));
    // the next night is incremental under the new name, and clears nothing more
    const config = await h.configWith("scanner_name: Qualys VMDR\n");
    h.sub.advanceDay({ allFixedHosts: 1 });
    const next = await h.run({ config });
    assert.equal(next.summary?.mode, "incremental");
    assert.doesNotMatch(next.delivered!, /"QualysGuard"/);
    assert.deepEqual(dcKeys(replayAll(h.delivered), "Qualys VMDR"), truth(h.sub));
  });
});

/** A subscription whose first IPv6-only host has the IPv4-mapped address ::ffff:10.99.0.1. */
class MappedSubscription extends VmdrSubscription {
  readonly mapped: number;

  constructor(options: VmdrSubscriptionOptions) {
    super(options);
    let i = 0;
    while (
      super.host(i).ip !== null || this.detections(i, { statuses: OPEN_STATUSES }).length === 0
    ) i++;
    this.mapped = i;
  }

  override host(index: number) {
    const h = super.host(index);
    if (index === this.mapped) h.ipv6 = "::ffff:10.99.0.1";
    return h;
  }

  override hostAddress(index: number): string {
    return index === this.mapped ? "10.99.0.1" : super.hostAddress(index);
  }
}

Deno.test("detection sync: an IPv6-only host at ::ffff:10.99.0.1 is the IPv4 host 10.99.0.1, sent as such, inside an IPv4 block of ip_ranges", async () => {
  const sub = new MappedSubscription({
    seed: 7,
    hosts: 40,
    detectionsPerHost: 6,
    qids: 80,
    ipv6OnlyShare: 0.2,
  });
  // an IPv6 block too, so that the query is not narrowed to IPv4 (ips=): the IPv4 block of
  // ip_ranges is what must match the host
  await withHarness(
    { subscription: sub, yaml: "ip_ranges: 10.99.0.0/24, 2001:db8::/32\n" },
    async (h) => {
      const r = await h.run();
      assert.equal(r.code, 0, String(r.error));
      assert.match(r.delivered!, /^AddScanResult,10\.99\.0\.1,/m);
      assert.doesNotMatch(r.delivered!, /ffff/i);
      const state = await Deno.readTextFile(
        `${h.stateDir}/${
          [...Deno.readDirSync(h.stateDir)].find((e) => /^sync-.*json$/.test(e.name))!.name
        }`,
      );
      assert.doesNotMatch(state, /ffff/i);
      const expected = new Set(
        [...unionTruth(sub)].filter((k) => k.startsWith("10.99.0.") || k.includes(":")),
      );
      assert.ok(expected.size > 0);
      assert.deepEqual(dcKeys(replayAll(h.delivered)), expected);
    },
  );
});

Deno.test("detection sync: a full run left with no host warns, naming the filters; an incremental run that sends nothing does not", async () => {
  await withHarness({ model: { hosts: 6, detectionsPerHost: 2 } }, async (h) => {
    const config = await h.configWith("ip_ranges: 192.0.2.1\nseverities: 3-5\n");
    const first = await h.run({ config });
    assert.equal(first.code, 0, String(first.error));
    assert.deepEqual(first.warnings, [
      "Nothing to send: Qualys lists no host with open detections of severities 3, 4, 5; " +
      `vuln_types confirmed, potential; ip_ranges 192.0.2.1: check these filters in ${config.file}`,
    ]);
    const second = await h.run({ config });
    assert.equal(second.code, 0, String(second.error));
    assert.equal(second.summary?.mode, "incremental");
    assert.deepEqual(second.warnings, [], "nothing changed since the checkpoint is normal");
  });
});
