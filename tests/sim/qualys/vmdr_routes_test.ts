import assert from "node:assert/strict";
import { createTestCa } from "../../../scripts/sim/net/mod.ts";
import {
  DETECTION_STATUSES,
  DETECTION_TYPES,
  formatDateTime,
  type QualysSim,
  startQualysSim,
  V5_ELEMENTS,
  type VmdrQuery,
  type VmdrSimOptions,
  VmdrSubscription,
  type VmdrSubscriptionOptions,
} from "../../../scripts/sim/qualys/mod.ts";
import { at, child, kids, type Parsed, parseXml, textOf, type XNode } from "./_xml.ts";

const CA = createTestCa("VMDR simulator test CA");
const HLD = "/api/5.0/fo/asset/host/vm/detection/";
const HOSTS = "/api/5.0/fo/asset/host/";
const KB = "/api/4.0/fo/knowledge_base/vuln/";

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

interface Harness {
  sim: QualysSim;
  sub: VmdrSubscription;
  /** POSTs a form and reads the whole answer. */
  post(path: string, params: string): Promise<Answer>;
  /** GETs a URL (a WARNING URL) and reads the whole answer. */
  get(url: string): Promise<Answer>;
  /** POSTs a form and returns the response with its body unread. */
  open(path: string, params: string): Promise<Response>;
}

async function withVmdr(
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
async function allPages(h: Harness, path: string, params: string): Promise<Parsed[]> {
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

function hostsOf(page: Parsed): XNode[] {
  return kids(at(page.root, "RESPONSE", "HOST_LIST") ?? page.root, "HOST");
}

function idsOf(pages: Parsed[]): number[] {
  return pages.flatMap(hostsOf).map((h) => Number(textOf(h, "ID")));
}

/** Hosts a Host List Detection call with these filters should return, in ID order. */
function expectedHosts(sub: VmdrSubscription, q: VmdrQuery): number[] {
  const out: number[] = [];
  for (let h = 0; h < sub.hostCount; h++) {
    if (sub.hostMatches(h, q) && sub.countDetections(h, q) > 0) out.push(sub.hostId(h));
  }
  return out;
}

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

Deno.test("DATETIME is the simulated clock and vm_processed_after selects the day's hosts", async () => {
  const sub = new VmdrSubscription({ seed: 21, hosts: 120, detectionsPerHost: 5, qids: 150 });
  await withVmdr({ subscription: sub }, async (h) => {
    const first = await allPages(h, HLD, "action=list&truncation_limit=50&show_results=0");
    const checkpoint = textOf(at(first[0]!.root, "RESPONSE")!, "DATETIME")!;
    assert.equal(checkpoint, formatDateTime(sub.clock));
    assert.equal(checkpoint, "2026-03-02T06:00:00Z");
    const none = await allPages(h, HLD, `action=list&vm_processed_after=${checkpoint}`);
    assert.deepStrictEqual(idsOf(none), [], "nothing was processed after the clock");

    const day = sub.advanceDay({ allFixedHosts: 2, scanShare: 0.2 });
    const withFixed = await allPages(
      h,
      HLD,
      `action=list&truncation_limit=10&show_results=0&status=New,Active,Re-Opened,Fixed&vm_processed_after=${checkpoint}`,
    );
    assert.equal(
      textOf(at(withFixed[0]!.root, "RESPONSE")!, "DATETIME"),
      formatDateTime(day.clock),
    );
    const scanned = new Set<number>();
    for (let i = 0; i < sub.hostCount; i++) {
      if (sub.hostProcessed(i) > Date.parse(checkpoint) / 1000) scanned.add(sub.hostId(i));
    }
    const got = idsOf(withFixed);
    assert.deepStrictEqual(
      got,
      expectedHosts(sub, {
        statuses: DETECTION_STATUSES,
        vmProcessedAfter: Date.parse(checkpoint) / 1000,
      }),
    );
    assert.ok(got.every((id) => scanned.has(id)));
    assert.ok(
      got.length >= scanned.size - 3,
      "the scanned hosts, less those with only Info findings",
    );
    for (const id of [...day.allFixedHostIds, ...day.newHostIds]) {
      assert.ok(got.includes(id), `${id}`);
    }
    const openOnly = idsOf(
      await allPages(
        h,
        HLD,
        `action=list&status=New,Active,Re-Opened&vm_processed_after=${checkpoint}`,
      ),
    );
    for (const id of day.allFixedHostIds) {
      assert.ok(!openOnly.includes(id), "all fixed: not without Fixed");
    }
    assert.ok(openOnly.length > 0 && openOnly.every((id) => got.includes(id)));
  });
});

Deno.test("status, severities and vuln types filter the detections", async () => {
  await withVmdr({ keepAlive: "none" }, async (h) => {
    const count = async (params: string) => {
      const pages = await allPages(h, HLD, `action=list&show_results=0&${params}`);
      return pages.flatMap(hostsOf).flatMap((x) => kids(child(x, "DETECTION_LIST")!, "DETECTION"));
    };
    const total = (q: VmdrQuery) => {
      let n = 0;
      for (let i = 0; i < h.sub.hostCount; i++) {
        if (h.sub.hostMatches(i, q)) n += h.sub.countDetections(i, q);
      }
      return n;
    };
    const fixed = await count("status=Fixed");
    assert.ok(fixed.length > 0 && fixed.every((d) => textOf(d, "STATUS") === "Fixed"));
    assert.equal(fixed.length, total({ statuses: ["Fixed"] }));
    const dflt = await count("");
    assert.ok(dflt.every((d) => textOf(d, "STATUS") !== "Fixed" && textOf(d, "TYPE") !== "Info"));
    assert.equal(dflt.length, total({}));
    const open = await count("status=New,Active,Re-Opened");
    assert.equal(open.length, dflt.length);
    const high = await count("severities=3-5");
    assert.ok(high.every((d) => Number(textOf(d, "SEVERITY")) >= 3));
    assert.equal(high.length, total({ severities: [3, 4, 5] }));
    assert.deepStrictEqual(
      (await h.post(HLD, "action=list&severities=3-5")).text,
      (await h.post(HLD, "action=list&severities=3,4,5")).text,
    );
    const confirmed = await count("include_vuln_type=confirmed");
    assert.ok(confirmed.length > 0 && confirmed.every((d) => textOf(d, "TYPE") === "Confirmed"));
    const potential = await count("include_vuln_type=potential");
    assert.ok(potential.length > 0 && potential.every((d) => textOf(d, "TYPE") === "Potential"));
    const igs = await count("show_igs=1");
    assert.equal(igs.length, total({ types: DETECTION_TYPES }));
    assert.ok(igs.some((d) => textOf(d, "TYPE") === "Info"));
    const qid = Number(textOf(dflt[0]!, "QID"));
    const one = await count(`qids=${qid}`);
    assert.ok(one.length > 0 && one.every((d) => Number(textOf(d, "QID")) === qid));
  });
});

Deno.test("ids, id_min, id_max, ips, ipv6 and ag_ids select hosts", async () => {
  await withVmdr({ model: { ipv6OnlyShare: 0.15, hosts: 60 } }, async (h) => {
    const sub = h.sub;
    const ids = (params: string) =>
      allPages(h, HLD, `action=list&show_results=0&${params}`).then(idsOf);
    const id = (i: number) => sub.hostId(i);
    assert.deepStrictEqual(
      await ids(`ids=${id(3)}-${id(9)},${id(20)}`),
      expectedHosts(sub, { ids: [[id(3), id(9)], [id(20), id(20)]] }),
    );
    assert.ok((await ids(`ids=${id(3)}-${id(9)}`)).length >= 5);
    assert.deepStrictEqual(
      await ids(`id_min=${id(10)}&id_max=${id(30)}`),
      expectedHosts(sub, { idMin: id(10), idMax: id(30) }),
    );
    const byIp = await ids("ips=10.0.0.5-10.0.0.25,10.0.0.40/30");
    assert.ok(byIp.length > 10);
    for (const x of byIp) {
      const ip = sub.host(sub.hostIndexById(x)).ip!;
      const last = Number(ip.split(".")[3]);
      assert.ok((last >= 5 && last <= 25) || (last >= 40 && last <= 43), ip);
    }
    const v6 = [...Array(sub.hostCount).keys()].map((i) => sub.host(i)).filter((x) => x.ipv6);
    assert.ok(v6.length >= 2);
    assert.deepStrictEqual(await ids(`ipv6=${v6[0]!.ipv6},${v6[1]!.ipv6!.toUpperCase()}`), [
      v6[0]!.id,
      v6[1]!.id,
    ]);
    const ag = sub.assetGroups[3]!;
    const byAg = await ids(`ag_ids=${ag.id}`);
    assert.deepStrictEqual(byAg, expectedHosts(sub, { agIds: [ag.id] }));
    assert.deepStrictEqual(await ids(`ag_titles=${encodeURIComponent(ag.title)}`), byAg);
    const net = sub.networkIds.find((n) => n !== 0)!;
    assert.deepStrictEqual(
      await ids(`network_ids=${net}`),
      expectedHosts(sub, { networkIds: [net] }),
    );
    assert.ok((await ids(`network_ids=${net}`)).length > 0);
    assert.deepStrictEqual(await ids("network_ids=0-4000000000"), expectedHosts(sub, {}));
    assert.ok(byAg.length > 0 && byAg.length < sub.hostCount);
  });
});

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

Deno.test("KnowledgeBase answers ids batches and last_modified_after, without the unknown QIDs", async () => {
  await withVmdr({ keepAlive: "every" }, async (h) => {
    const sub = h.sub;
    const vulns = async (params: string) => {
      const a = await h.post(KB, `action=list&details=All&${params}`);
      assert.equal(a.status, 200);
      const page = parseXml(a.text);
      assert.ok(
        page.comments.some((c) => c.parent === "RESPONSE" && c.text.includes("keep-alive")),
      );
      return kids(at(page.root, "RESPONSE", "VULN_LIST") ?? page.root, "VULN");
    };
    const known = sub.kbQids();
    const missing = sub.missingKbQids()[0]!;
    const batch = [...known.slice(0, 5), missing];
    const got = await vulns(`ids=${batch.join(",")}`);
    assert.deepStrictEqual(got.map((v) => Number(textOf(v, "QID"))), known.slice(0, 5));
    for (const v of got) {
      const e = sub.kbEntry(Number(textOf(v, "QID")))!;
      assert.equal(textOf(v, "TITLE"), e.title);
      assert.equal(textOf(v, "VULN_TYPE"), e.vulnType);
      assert.equal(Number(textOf(v, "SEVERITY_LEVEL")), e.severity);
      assert.equal(textOf(v, "LAST_SERVICE_MODIFICATION_DATETIME"), formatDateTime(e.lastModified));
      assert.deepStrictEqual(
        kids(child(v, "CVE_LIST") ?? v, "CVE").map((c) => textOf(c, "ID")),
        e.cves.map((c) => c.id),
      );
      assert.deepStrictEqual(
        kids(child(v, "BUGTRAQ_LIST") ?? v, "BUGTRAQ").map((c) => textOf(c, "ID")),
        e.bugtraqs.map((c) => c.id),
      );
      assert.equal(child(v, "DIAGNOSIS")?.text ?? null, e.diagnosis);
    }
    const every = await vulns("");
    assert.equal(every.length, known.length);
    assert.ok(
      every.some((v) => child(v, "CVE_LIST")) && every.some((v) => child(v, "BUGTRAQ_LIST")),
    );
    assert.ok(every.some((v) => child(v, "DIAGNOSIS") && child(v, "SOLUTION")));
    const basic = parseXml((await h.post(KB, `action=list&ids=${known[0]}-${known[9]}`)).text);
    const basicVulns = kids(at(basic.root, "RESPONSE", "VULN_LIST")!, "VULN");
    assert.equal(basicVulns.length, 10);
    assert.ok(basicVulns.every((v) => !child(v, "DIAGNOSIS") && !child(v, "SOLUTION")));

    const since = formatDateTime(sub.clock);
    assert.deepStrictEqual(await vulns(`last_modified_after=${since}`), []);
    const day = sub.advanceDay({ newQids: 3, modifiedQids: 4 });
    const changed = await vulns(`last_modified_after=${since}`);
    assert.deepStrictEqual(
      changed.map((v) => Number(textOf(v, "QID"))),
      [...day.newQids, ...day.modifiedQids].sort((a, b) => a - b),
    );
    const ids = parseXml(
      (await h.post(KB, `action=list&details=None&ids=${day.newQids.join(",")}`)).text,
    );
    assert.deepStrictEqual(
      kids(at(ids.root, "RESPONSE", "ID_SET")!, "ID").map((n) => Number(n.text)),
      [...day.newQids].sort((a, b) => a - b),
    );
  });
});

Deno.test("a call over the concurrency limit gets HTTP 409 with CODE 1960", async () => {
  await withVmdr({ pageLatencyMs: 600_000, concurrencyLimit: 2 }, async (h) => {
    const a = await h.open(HLD, "action=list");
    const b = await h.open(HLD, "action=list");
    assert.equal(a.headers.get("x-concurrency-limit-running"), "0");
    assert.equal(b.headers.get("x-concurrency-limit-running"), "1");
    assert.equal(h.sim.vmdr!.running("detection"), 2);
    const c = await h.post(HLD, "action=list");
    assert.equal(c.status, 409);
    assert.equal(c.headers.get("x-concurrency-limit-limit"), "2");
    assert.equal(c.headers.get("x-concurrency-limit-running"), "2");
    const r = parseXml(c.text);
    assert.equal(r.root.name, "SIMPLE_RETURN");
    assert.equal(textOf(at(r.root, "RESPONSE")!, "CODE"), "1960");
    assert.match(textOf(at(r.root, "RESPONSE")!, "TEXT")!, /currently running API instance/);
    // another API has its own count (its page waits too)
    const other = await h.open(HOSTS, "action=list&details=None&truncation_limit=0");
    assert.equal(other.status, 200);
    // the waits end: both pages come whole, and the slots free up
    h.sim.vmdr!.releaseWaits();
    assert.match(await a.text(), /<\/HOST_LIST_VM_DETECTION_OUTPUT>/);
    assert.match(await b.text(), /<\/HOST_LIST_VM_DETECTION_OUTPUT>/);
    assert.match(await other.text(), /<\/HOST_LIST_OUTPUT>/);
    await h.sim.idle();
    assert.equal(h.sim.vmdr!.running("detection"), 0);
    h.sim.vmdr!.set({ pageLatencyMs: 0 });
    assert.equal((await h.post(HLD, "action=list")).status, 200);
    const log = h.sim.log.filter((e) => e.api === "detection");
    assert.deepStrictEqual(log.map((e) => [e.status, e.code, e.complete]), [
      [200, undefined, true],
      [200, undefined, true],
      [409, "1960", true],
      [200, undefined, true],
    ]);
  });
});

Deno.test("the rate limit answers HTTP 409 with CODE 1965 and the wait", async () => {
  await withVmdr({ rateLimit: 2, rateWindowSec: 600 }, async (h) => {
    const first = await h.post(KB, "action=list&details=None");
    assert.equal(first.headers.get("x-ratelimit-limit"), "2");
    assert.equal(first.headers.get("x-ratelimit-window-sec"), "600");
    assert.equal(first.headers.get("x-ratelimit-remaining"), "1");
    assert.equal(
      (await h.post(KB, "action=list&details=None")).headers.get("x-ratelimit-remaining"),
      "0",
    );
    const third = await h.post(KB, "action=list&details=None");
    assert.equal(third.status, 409);
    const wait = Number(third.headers.get("x-ratelimit-towait-sec"));
    assert.ok(wait > 0 && wait <= 600);
    const r = at(parseXml(third.text).root, "RESPONSE")!;
    assert.equal(textOf(r, "CODE"), "1965");
    assert.match(
      textOf(r, "TEXT")!,
      /^This API cannot be run again for another \d+ hours, \d+ minutes/,
    );
    assert.equal(textOf(at(r, "ITEM_LIST", "ITEM")!, "KEY"), "SECONDS_TO_WAIT");
    assert.equal(Number(textOf(at(r, "ITEM_LIST", "ITEM")!, "VALUE")), wait);
    assert.equal((await h.post(HLD, "action=list")).status, 200, "each API has its own window");
  });
});

Deno.test("scripted faults: 5xx on page N, a cut mid-page, 409 1960 and 1965, a SIMPLE_RETURN", async () => {
  await withVmdr({
    faults: [
      { request: 2, kind: "status", status: 502 },
      { request: 4, kind: "cut" },
      { api: "kb", request: 1, kind: "conflict", code: "1965", toWaitSec: 90 },
      { api: "kb", request: 2, kind: "conflict" },
      { api: "host", request: 1, kind: "simpleReturn", code: "2000", status: 401 },
    ],
  }, async (h) => {
    const params = "action=list&truncation_limit=10&show_results=0";
    const p1 = await h.post(HLD, params);
    const next = textOf(at(parseXml(p1.text).root, "RESPONSE", "WARNING")!, "URL")!;
    const p2 = await h.get(next); // page 2: the 5xx
    assert.equal(p2.status, 502);
    assert.match(p2.text, /<html>/);
    const p2again = await h.get(next);
    assert.equal(p2again.status, 200);
    const full = p2again.text;
    // the cut: over HTTP/2 the reset may reach the client before or after the headers
    await assert.rejects(async () => {
      const cut = await h.open(HLD, `${params}&id_min=${new URL(next).searchParams.get("id_min")}`);
      assert.equal(cut.status, 200);
      await cut.text();
    }, "the page ends in a reset, never cleanly");
    await h.sim.idle();
    const cutEntry = h.sim.log.at(-1)!;
    assert.equal(cutEntry.fault, "cut");
    assert.equal(cutEntry.complete, false);
    assert.ok(cutEntry.bytes > 0 && cutEntry.bytes < new TextEncoder().encode(full).length);

    const k1 = await h.post(KB, "action=list");
    assert.equal(k1.status, 409);
    assert.equal(k1.headers.get("x-ratelimit-towait-sec"), "90");
    assert.equal(textOf(at(parseXml(k1.text).root, "RESPONSE")!, "CODE"), "1965");
    const k2 = await h.post(KB, "action=list");
    assert.equal(k2.status, 409);
    assert.equal(textOf(at(parseXml(k2.text).root, "RESPONSE")!, "CODE"), "1960");
    assert.equal((await h.post(KB, "action=list&details=None")).status, 200);

    const bad = await h.post(HOSTS, "action=list");
    assert.equal(bad.status, 401);
    assert.equal(textOf(at(parseXml(bad.text).root, "RESPONSE")!, "CODE"), "2000");
    assert.equal(textOf(at(parseXml(bad.text).root, "RESPONSE")!, "TEXT"), "Bad Login/Password");

    // faults scripted later count from then
    h.sim.vmdr!.addFault({ request: 1, kind: "status" });
    assert.equal((await h.post(HLD, params)).status, 503);
    assert.equal((await h.post(HLD, params)).status, 200);
    assert.deepStrictEqual(
      h.sim.log.filter((e) => e.fault).map((e) => [e.api, e.fault, e.status]),
      [
        ["detection", "status", 502],
        ["detection", "cut", 200],
        ["kb", "conflict", 409],
        ["kb", "conflict", 409],
        ["host", "simpleReturn", 401],
        ["detection", "status", 503],
      ],
    );
  });
});

Deno.test("scripted faults of a whole answer: one that lists nothing, one cut by a 1980 WARNING without its URL", async () => {
  await withVmdr({
    faults: [
      { api: "host", request: 1, kind: "noHosts" },
      { api: "host", request: 2, kind: "noUrl", cutAfter: 3 },
      { request: 1, kind: "noUrl", cutAfter: 2 },
    ],
  }, async (h) => {
    const ids = (text: string) =>
      (at(parseXml(text).root, "RESPONSE", "ID_SET")?.children ?? []).map((c) => c.text);
    const params = "action=list&details=None&truncation_limit=0";
    const empty = await h.post(HOSTS, params);
    assert.equal(empty.status, 200);
    assert.deepStrictEqual(ids(empty.text), []);
    assert.equal(at(parseXml(empty.text).root, "RESPONSE", "WARNING"), undefined);
    const cut = parseXml((await h.post(HOSTS, params)).text);
    assert.equal(at(cut.root, "RESPONSE", "ID_SET")!.children.length, 3);
    const w = at(cut.root, "RESPONSE", "WARNING")!;
    assert.equal(textOf(w, "CODE"), "1980");
    assert.equal(child(w, "URL"), undefined);
    assert.equal(ids((await h.post(HOSTS, params)).text).length, 40, "then whole again");
    const page = parseXml((await h.post(HLD, "action=list&show_results=0")).text);
    assert.equal(hostsOf(page).length, 2);
    assert.equal(textOf(at(page.root, "RESPONSE", "WARNING")!, "CODE"), "1980");
    assert.deepStrictEqual(
      h.sim.log.filter((e) => e.fault).map((e) => [e.api, e.fault, e.status]),
      [["host", "noHosts", 200], ["host", "noUrl", 200], ["detection", "noUrl", 200]],
    );
  });
});

Deno.test("bad credentials and bad parameters get SIMPLE_RETURN errors", async () => {
  await withVmdr({}, async (h) => {
    const client = Deno.createHttpClient({ caCerts: [h.sim.caPem] });
    const noAuth = await fetch(h.sim.url + HLD + "?action=list", {
      headers: { "x-requested-with": "t" },
      client,
    }).then(async (r) => ({ status: r.status, text: await r.text() }));
    client.close();
    assert.equal(noAuth.status, 401);
    assert.match(noAuth.text, /<CODE>2000<\/CODE>/);
    for (
      const [params, code] of [
        ["action=list&bogus=1", "1901"],
        ["truncation_limit=5", "1903"],
        ["action=launch", "1905"],
        ["action=list&severities=0-9", "1905"],
        ["action=list&status=Open", "1905"],
        ["action=list&vm_processed_after=yesterday", "1905"],
        ["action=list&ips=10.0.0.300", "1905"],
        ["action=list&include_vuln_type=all", "1905"],
        ["action=list&ag_ids=1", "1905"],
      ] as const
    ) {
      const a = await h.post(HLD, params);
      assert.equal(a.status, 400, params);
      assert.equal(textOf(at(parseXml(a.text).root, "RESPONSE")!, "CODE"), code, params);
    }
  });
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

Deno.test("the request log counts every call with its status and body bytes", async () => {
  await withVmdr({ keepAlive: "none" }, async (h) => {
    const pages = await allPages(h, HLD, "action=list&truncation_limit=15&show_results=0");
    const kb = await h.post(KB, "action=list&details=None");
    const notFound = await h.post("/api/2.0/fo/nothing/", "action=list");
    assert.equal(notFound.status, 404);
    await h.sim.idle();
    const log = h.sim.log;
    assert.deepStrictEqual(log.map((e) => e.seq), log.map((_, i) => i + 1));
    assert.deepStrictEqual(log.map((e) => e.api), [...pages.map(() => "detection"), "kb", "other"]);
    assert.ok(log.every((e) => e.done && e.complete));
    const hld = log.filter((e) => e.api === "detection");
    assert.deepStrictEqual(hld.map((e) => e.records), pages.map((p) => hostsOf(p).length));
    assert.deepStrictEqual(
      hld.map((e) => e.nextIdMin),
      [...pages.slice(1).map((p) => idsOf([p])[0]), undefined],
    );
    assert.equal(hld[1]!.params.id_min, String(hld[0]!.nextIdMin));
    assert.equal(log.at(-2)!.bytes, new TextEncoder().encode(kb.text).length);
    assert.equal(log.at(-2)!.records, h.sub.kbQids().length);
  });
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
