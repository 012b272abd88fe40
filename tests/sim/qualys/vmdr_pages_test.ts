/**
 * The VMDR routes' pages: paging by truncation_limit with WARNING 1980, the public samples'
 * element names and order (with and without what 5.0 adds), Host List ID sets, keep-alive
 * comments and latency, the same pages for the same seed, and the ground truth a replay of full
 * and incremental syncs gives.
 */

import assert from "node:assert/strict";
import {
  DETECTION_STATUSES,
  V5_ELEMENTS,
  VmdrSubscription,
} from "../../../scripts/sim/qualys/mod.ts";
import {
  allPages,
  expectedHosts,
  type Harness,
  HLD,
  HOSTS,
  hostsOf,
  idsOf,
  KB,
  withVmdr,
} from "./_vmdr.ts";
import { at, child, kids, type Parsed, parseXml, textOf, type XNode } from "./_xml.ts";

// Element order of the public DTD/XSD (reference/qualys_vmdr.md, qualyspy's KB DTD). Names the
// simulator writes that are in none of these are the deliberate unknown elements, listed apart.
const ORDER: Record<string, string[]> = {
  HOST: [
    "ID",
    "ASSET_ID",
    "IP",
    "IPV6",
    "TRACKING_METHOD",
    "NETWORK_ID",
    "OS",
    "OS_CPE",
    "DNS",
    "DNS_DATA",
    "CLOUD_PROVIDER",
    "CLOUD_SERVICE",
    "CLOUD_RESOURCE_ID",
    "EC2_INSTANCE_ID",
    "NETBIOS",
    "QG_HOSTID",
    "LAST_SCAN_DATETIME",
    "LAST_VM_SCANNED_DATE",
    "LAST_VM_SCANNED_DURATION",
    "LAST_VM_AUTH_SCANNED_DATE",
    "LAST_VM_AUTH_SCANNED_DURATION",
    "LAST_PC_SCANNED_DATE",
    "TAGS",
    "METADATA",
    "CLOUD_PROVIDER_TAGS",
    "DETECTION_LIST",
  ],
  DETECTION: [
    "QID",
    "TYPE",
    "SEVERITY",
    "PORT",
    "PROTOCOL",
    "FQDN",
    "SSL",
    "INSTANCE",
    "RESULTS",
    "STATUS",
    "FIRST_FOUND_DATETIME",
    "LAST_FOUND_DATETIME",
    "QDS",
    "QDS_FACTORS",
    "TIMES_FOUND",
    "LAST_TEST_DATETIME",
    "LAST_UPDATE_DATETIME",
    "LAST_FIXED_DATETIME",
    "FIRST_REOPENED_DATETIME",
    "LAST_REOPENED_DATETIME",
    "TIMES_REOPENED",
    "SERVICE",
    "IS_IGNORED",
    "IS_DISABLED",
    "AFFECT_RUNNING_KERNEL",
    "AFFECT_RUNNING_SERVICE",
    "AFFECT_EXPLOITABLE_CONFIG",
    "LAST_PROCESSED_DATETIME",
    "ASSET_CVE",
  ],
  VULN: [
    "QID",
    "VULN_TYPE",
    "SEVERITY_LEVEL",
    "TITLE",
    "CATEGORY",
    "DETECTION_INFO",
    "LAST_CUSTOMIZATION",
    "LAST_SERVICE_MODIFICATION_DATETIME",
    "PUBLISHED_DATETIME",
    "BUGTRAQ_LIST",
    "PATCHABLE",
    "SOFTWARE_LIST",
    "VENDOR_REFERENCE_LIST",
    "CVE_LIST",
    "DIAGNOSIS",
    "DIAGNOSIS_COMMENT",
    "CONSEQUENCE",
    "CONSEQUENCE_COMMENT",
    "SOLUTION",
    "SOLUTION_COMMENT",
    "COMPLIANCE_LIST",
    "CORRELATION",
    "CVSS",
    "CVSS_V3",
    "PCI_FLAG",
    "AUTOMATIC_PCI_FAIL",
    "PCI_REASONS",
    "THREAT_INTELLIGENCE",
    "SUPPORTED_MODULES",
    "DISCOVERY",
    "IS_DISABLED",
    "CHANGE_LOG_LIST",
  ],
  RESPONSE: ["DATETIME", "HOST_LIST", "VULN_LIST", "ID_SET", "WARNING"],
  DNS_DATA: ["HOSTNAME", "DOMAIN", "FQDN"],
  WARNING: ["CODE", "TEXT", "URL"],
  CVE: ["ID", "URL"],
  BUGTRAQ: ["ID", "URL"],
};
// Host List's HOST (HOST_LIST_OUTPUT) has its own order, as public samples show
const HOST_LIST_HOST = [
  "ID",
  "ASSET_ID",
  "IP",
  "IPV6",
  "TRACKING_METHOD",
  "NETWORK_ID",
  "DNS",
  "DNS_DATA",
  "EC2_INSTANCE_ID",
  "NETBIOS",
  "OS",
  "QG_HOSTID",
  "FIRST_FOUND_DATE",
  "LAST_VULN_SCAN_DATETIME",
  "LAST_VM_SCANNED_DATE",
  "LAST_VM_SCANNED_DURATION",
  "TAGS",
];
const UNKNOWN: Record<string, string[]> = {
  HOST: ["ASSET_CRITICALITY_SCORE"],
  DETECTION: ["UNIQUE_VULN_ID"],
  VULN: ["TECHNOLOGY_LIST"],
};
// ... and what 5.0 answers add (V5_ELEMENTS), outside the 2.0 DTD's order
const V5_UNKNOWN: Record<string, string[]> = {
  HOST: ["ASSET_CRITICALITY_SCORE", "CLOUD_PROVIDER_TAGS", "METADATA", "TRURISK_SCORE"],
  DETECTION: [...V5_ELEMENTS.detection, "UNIQUE_VULN_ID"].sort(),
  VULN: [...V5_ELEMENTS.vuln, "TECHNOLOGY_LIST"].sort(),
};

/** Checks every element with a known order; returns the unknown names met, per parent. */
function checkOrder(
  n: XNode,
  unknown = new Map<string, Set<string>>(),
  root = n.name,
): Map<string, Set<string>> {
  const order = n.name === "HOST" && root === "HOST_LIST_OUTPUT" ? HOST_LIST_HOST : ORDER[n.name];
  if (order) {
    let last = -1;
    for (const c of n.children) {
      const i = order.indexOf(c.name);
      if (i < 0) {
        if (!unknown.has(n.name)) unknown.set(n.name, new Set());
        unknown.get(n.name)!.add(c.name);
        continue;
      }
      assert.ok(i >= last, `${n.name}: ${c.name} after ${order[last]}`);
      last = i;
    }
  }
  for (const c of n.children) checkOrder(c, unknown, root);
  return unknown;
}

function sharedFixture(rel: string): string | undefined {
  const path =
    new URL(`../../../../shared/fixtures/qualys-public/${rel}`, import.meta.url).pathname;
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}
const FIXTURES = sharedFixture("README.md") !== undefined;

Deno.test("Host List Detection pages by truncation_limit with WARNING 1980 and a URL with id_min", async () => {
  await withVmdr({ keepAlive: "none" }, async (h) => {
    const params =
      "action=list&truncation_limit=7&status=New,Active,Re-Opened,Fixed&show_results=0";
    const pages = await allPages(h, HLD, params);
    const want = expectedHosts(h.sub, { statuses: DETECTION_STATUSES });
    assert.ok(want.length > 21, "several pages");
    assert.deepStrictEqual(idsOf(pages), want);
    assert.equal(pages.length, Math.ceil(want.length / 7));
    pages.forEach((page, i) => {
      const warning = at(page.root, "RESPONSE", "WARNING");
      if (i === pages.length - 1) {
        assert.equal(warning, undefined, "no WARNING on the last page");
        return;
      }
      assert.equal(hostsOf(page).length, 7);
      assert.equal(textOf(warning!, "CODE"), "1980");
      assert.equal(
        textOf(warning!, "TEXT"),
        "7 record limit exceeded. Use URL to get next batch of results.",
      );
      const url = new URL(textOf(warning!, "URL")!);
      assert.equal(url.origin + url.pathname, h.sim.url + HLD);
      assert.deepStrictEqual([...url.searchParams.keys()], [
        "action",
        "truncation_limit",
        "status",
        "show_results",
        "id_min",
      ]);
      assert.equal(url.searchParams.get("status"), "New,Active,Re-Opened,Fixed");
      assert.equal(Number(url.searchParams.get("id_min")), idsOf([pages[i + 1]!])[0]);
    });
    // the default page is 1000 hosts: one page, no WARNING
    const one = await allPages(h, HLD, "action=list&show_results=0");
    assert.equal(one.length, 1);
    assert.deepStrictEqual(idsOf(one), expectedHosts(h.sub, {}));
  });
});

for (const v5Elements of [true, false]) {
  Deno.test(
    `every page is well-formed XML with the public samples' element names and order (${
      v5Elements ? "with" : "without"
    } what 5.0 adds)`,
    async () => {
      await withVmdr(
        { keepAlive: "every", v5Elements, model: { ipv6OnlyShare: 0.1 } },
        (h) => checkPages(h, v5Elements),
      );
    },
  );
}

async function checkPages(h: Harness, v5Elements: boolean): Promise<void> {
  {
    h.sub.advanceDay(); // a day's scans bring New detections
    const pages = [
      ...await allPages(
        h,
        HLD,
        "action=list&truncation_limit=9&show_igs=1&show_qds=1&show_tags=1&show_asset_id=1" +
          "&status=New,Active,Re-Opened,Fixed&echo_request=1" +
          (v5Elements ? "&show_qds_factors=1" : ""),
      ),
      ...await allPages(h, HOSTS, "action=list&details=All&truncation_limit=15"),
      ...await allPages(h, HOSTS, "action=list&details=None&truncation_limit=0"),
      parseXml((await h.post(KB, `action=list&details=All`)).text),
    ];
    const unknown = new Map<string, Set<string>>();
    for (const page of pages) {
      assert.ok(
        ["HOST_LIST_VM_DETECTION_OUTPUT", "HOST_LIST_OUTPUT", "KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]
          .includes(page.root.name),
      );
      assert.deepStrictEqual(
        page.root.children.map((c) => c.name).filter((n) => n !== "REQUEST"),
        ["RESPONSE"],
      );
      assert.match(page.outside.join(), /CONFIDENTIAL AND PROPRIETARY/);
      for (const [parent, names] of checkOrder(page.root)) {
        for (const n of names) {
          if (!unknown.has(parent)) unknown.set(parent, new Set());
          unknown.get(parent)!.add(n);
        }
      }
    }
    // no misspelt known element: the only names outside the DTDs are the deliberate ones
    assert.deepStrictEqual(
      Object.fromEntries([...unknown].map(([k, v]) => [k, [...v].sort()])),
      v5Elements ? V5_UNKNOWN : UNKNOWN,
    );
    const hld = pages[0]!;
    assert.equal(textOf(at(hld.root, "REQUEST")!, "USER_LOGIN"), "sim_user");
    const allHosts = pages.filter((p) => p.root.name === "HOST_LIST_VM_DETECTION_OUTPUT")
      .flatMap(hostsOf);
    const dets = allHosts.flatMap((x) => kids(child(x, "DETECTION_LIST")!, "DETECTION"));
    assert.ok(allHosts.some((x) => !child(x, "IP") && child(x, "IPV6")), "an IPv6-only host");
    assert.ok(
      allHosts.some((x) => child(x, "OS_CPE")) && allHosts.some((x) => !child(x, "OS_CPE")),
    );
    assert.ok(
      dets.some((d) => !child(d, "PORT") && !child(d, "PROTOCOL")),
      "a detection without port",
    );
    assert.deepStrictEqual(
      [...new Set(dets.map((d) => textOf(d, "TYPE")))].sort(),
      ["Confirmed", "Info", "Potential"],
    );
    assert.deepStrictEqual(
      [...new Set(dets.map((d) => textOf(d, "STATUS")))].sort(),
      ["Active", "Fixed", "New", "Re-Opened"],
    );
    assert.ok(dets.every((d) => child(d, "RESULTS") && at(d, "QDS")?.attrs.severity));
    const hostNames = new Set(allHosts.flatMap((x) => x.children.map((c) => c.name)));
    for (const n of ["METADATA", "CLOUD_PROVIDER_TAGS", "TRURISK_SCORE"]) {
      assert.equal(hostNames.has(n), v5Elements, n);
    }
    const detNames = new Set(dets.flatMap((d) => d.children.map((c) => c.name)));
    for (const n of [...V5_ELEMENTS.detection, "QDS_FACTORS"]) {
      assert.equal(detNames.has(n), v5Elements, n);
    }
    if (v5Elements) {
      assert.ok(dets.some((d) => at(d, "CVE_LIST", "CVE", "ID")), "a CVE's nested ID");
      assert.ok(allHosts.some((x) => at(x, "TAGS", "TAG", "TAG_ID")), "a tag's TAG_ID");
      assert.ok(
        allHosts.some((x) => at(x, "METADATA", "EC2", "ATTRIBUTE", "VALUE")),
        "cloud METADATA",
      );
    }
  }
}

Deno.test(
  { name: "the public samples have the element order the simulator follows", ignore: !FIXTURES },
  () => {
    for (
      const rel of [
        "demisto/hld_host_list_detections_raw.xml",
        "demisto/kb_vulnerabilities_raw.xml",
        "qualysapi/kb_tinykb_keepalive.xml",
      ]
    ) {
      const page = parseXml(sharedFixture(rel)!);
      assert.deepStrictEqual(checkOrder(page.root), new Map(), rel);
      if (rel.includes("keepalive")) {
        assert.ok(page.comments.some((c) => c.parent === "RESPONSE" && /keep-alive/.test(c.text)));
      }
    }
  },
);

Deno.test("Host List details=None lists every host ID, as ID or ID_RANGE, and pages", async () => {
  for (const idRanges of [false, true]) {
    await withVmdr({ idRanges, model: { hosts: 90 } }, async (h) => {
      const all = [...Array(h.sub.hostCount).keys()].map((i) => h.sub.hostId(i));
      const expand = (pages: Parsed[]) =>
        pages.flatMap((p) => at(p.root, "RESPONSE", "ID_SET")?.children ?? []).flatMap((n) => {
          if (n.name === "ID") return [Number(n.text)];
          assert.equal(n.name, "ID_RANGE");
          const [lo, hi] = n.text.split("-").map(Number) as [number, number];
          assert.ok(hi > lo);
          return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
        });
      const one = await allPages(h, HOSTS, "action=list&details=None&truncation_limit=0");
      assert.equal(one.length, 1);
      assert.deepStrictEqual(expand(one), all);
      const ranges = kids(at(one[0]!.root, "RESPONSE", "ID_SET")!, "ID_RANGE").length;
      assert.equal(ranges > 0, idRanges);
      const paged = await allPages(h, HOSTS, "action=list&details=None&truncation_limit=25");
      assert.equal(paged.length, 4);
      assert.deepStrictEqual(expand(paged), all);
      const sub = await allPages(h, HOSTS, `action=list&details=None&ids=${all[5]}-${all[50]}`);
      assert.deepStrictEqual(expand(sub), all.slice(5, 51));
      const basic = await allPages(h, HOSTS, "action=list&truncation_limit=0");
      assert.deepStrictEqual(idsOf(basic), all);
    });
  }
});

Deno.test("per-page latency is a wait on the server, with keep-alive comments during it", async () => {
  await withVmdr({ pageLatencyMs: 150, keepAlive: "every" }, async (h) => {
    const a = await h.post(HLD, "action=list&truncation_limit=5");
    await h.sim.idle();
    const e = h.sim.log.at(-1)!;
    assert.ok(e.endMs! - e.startMs >= 145, `${e.endMs! - e.startMs} ms on the server`);
    const page = parseXml(a.text);
    const inResponse = page.comments.filter((c) => c.parent === "RESPONSE");
    assert.ok(inResponse.length >= 2, "one before the wait, one during it");
    assert.ok(page.comments.some((c) => c.parent === "DETECTION_LIST"), "and among detections");
    assert.ok(page.comments.every((c) => c.text.includes("keep-alive")));
  });
});

Deno.test("keep-alive comments come on every page, on some pages, or on none", async () => {
  const comments = async (keepAlive: "none" | "some" | "every") => {
    let counts: number[] = [];
    await withVmdr({ keepAlive, model: { hosts: 120 } }, async (h) => {
      const pages = await allPages(h, HLD, "action=list&truncation_limit=8&show_results=0");
      counts = pages.map((p) => p.comments.length);
    });
    return counts;
  };
  assert.ok((await comments("every")).every((n) => n > 0));
  assert.ok((await comments("none")).every((n) => n === 0));
  const some = await comments("some");
  assert.ok(some.some((n) => n > 0) && some.some((n) => n === 0), `${some}`);
});

Deno.test("the same seed serves the same pages", async () => {
  const fetchAll = async () => {
    let texts: string[] = [];
    await withVmdr({ model: { seed: 99 } }, async (h) => {
      h.sub.advanceDay();
      const hld = await allPages(h, HLD, "action=list&truncation_limit=6&status=Fixed,New");
      const kb = (await h.post(KB, "action=list&details=All")).text;
      texts = [...hld.map((p) => JSON.stringify(p.root).replace(/127\.0\.0\.1:\d+/g, "")), kb];
    });
    return texts;
  };
  const [a, b] = [await fetchAll(), await fetchAll()];
  assert.ok(a.length > 3);
  assert.deepStrictEqual(a, b);
});

Deno.test("replaying a full sync and daily incremental syncs, dropping the hosts the day's host ID list leaves out (purged), gives the ground truth", async () => {
  const sub = new VmdrSubscription({
    seed: 31,
    hosts: 150,
    detectionsPerHost: 6,
    qids: 200,
    ipv6OnlyShare: 0.1,
    changes: { scanShare: 0.25, allFixedHosts: 2, newHosts: 2, purgedHosts: 2 },
  });
  await withVmdr({ subscription: sub, keepAlive: "some", idRanges: true }, async (h) => {
    const filter = "severities=3-5&include_vuln_type=confirmed,potential";
    const state = new Map<number, Set<string>>(); // host ID → its open detections
    const apply = (pages: Parsed[], full: boolean) => {
      if (full) state.clear();
      for (const host of pages.flatMap(hostsOf)) {
        const ip = textOf(host, "IP") ?? textOf(host, "IPV6")!;
        const open = new Set<string>();
        for (const d of kids(child(host, "DETECTION_LIST")!, "DETECTION")) {
          if (textOf(d, "STATUS") === "Fixed") continue;
          open.add(
            `${ip}|${textOf(d, "QID")}|${textOf(d, "PORT") ?? ""}|${textOf(d, "PROTOCOL") ?? ""}`,
          );
        }
        state.set(Number(textOf(host, "ID")), open);
      }
    };
    const keys = () => new Set([...state.values()].flatMap((s) => [...s]));
    const truth = () => sub.openDetectionKeys({ severities: [3, 4, 5] });
    let pages = await allPages(
      h,
      HLD,
      `action=list&truncation_limit=40&show_results=0&status=New,Active,Re-Opened&${filter}`,
    );
    let checkpoint = textOf(at(pages[0]!.root, "RESPONSE")!, "DATETIME")!;
    apply(pages, true);
    assert.deepStrictEqual(keys(), truth());
    let purged = 0;
    for (let day = 1; day <= 3; day++) {
      purged += sub.advanceDay().purgedHostIds.length;
      pages = await allPages(
        h,
        HLD,
        `action=list&truncation_limit=40&show_results=0&status=New,Active,Re-Opened,Fixed&${filter}&vm_processed_after=${checkpoint}`,
      );
      checkpoint = textOf(at(pages[0]!.root, "RESPONSE")!, "DATETIME")!;
      apply(pages, false);
      // the incremental pages never say a host was purged: only the list of the hosts there are
      const listed = new Set<number>();
      for (const page of await allPages(h, HOSTS, "action=list&details=None&truncation_limit=60")) {
        for (const e of at(page.root, "RESPONSE", "ID_SET")?.children ?? []) {
          const [lo, hi = lo] = e.text.split("-").map(Number);
          for (let id = lo!; id <= hi!; id++) listed.add(id);
        }
      }
      for (const id of state.keys()) if (!listed.has(id)) state.delete(id);
      assert.deepStrictEqual(keys(), truth(), `day ${day}`);
    }
    assert.equal(purged, 6);
  });
});
