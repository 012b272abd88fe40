/**
 * The page parsers against 5.0-shaped answers (Host List Detection 5.0, Host List 5.0,
 * KnowledgeBase 4.0; `../shared/reference/qualys_api_versions.md`, "What changes in the
 * answers"): the elements 5.0 adds (host TAGS, ASSET_ID, TRURISK_SCORE, cloud METADATA; per
 * detection QDS, QDS_FACTORS, a CVE list, MITRE_*, VULNERABILITY_DETECTION_SOURCES) and unknown
 * ones, before, between and after the elements read, give exactly what the plain answer gives.
 * Their nested names that the parsers read elsewhere (a tag's or a CVE's ID, a source's TYPE,
 * a REQUEST's DATETIME) are never taken for them.
 */

import assert from "node:assert/strict";
import {
  type DetectionPage,
  DetectionPageParser,
} from "../../../../lib/sources/detections/pages/detection_page.ts";
import { IdListParser } from "../../../../lib/sources/detections/pages/id_list.ts";
import { KbPageParser } from "../../../../lib/sources/detections/pages/kb_page.ts";
import { Tag } from "../../../../lib/xml/tags.ts";

const enc = new TextEncoder();

function feed<T>(parser: { push(c: Uint8Array): void; end(): T }, text: string, size: number): T {
  const bytes = enc.encode(text);
  for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
  return parser.end();
}

/** A page's hosts as `ip id network os cpe: qid/port/proto ...`. */
function hosts(page: DetectionPage): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  page.listings.replay({
    start: () => (cur = []),
    add: (q, p, r) => cur.push(`${q}/${p}/${r}`),
    end: (ip, info) =>
      out.push(
        `${ip} ${info.hostId} ${info.networkId} ${info.os} ${info.osCpe}: ${cur.join(" ")}`,
      ),
  });
  return out;
}

// ---- what 5.0 adds, written as the reference describes it (names from elastic/integrations
// PR #16436 and its XSD, the Qualys DTD; the exact form of the new blocks is not public, so they
// carry the names the parsers read, nested, to prove they are skipped)

/** Host-level additions, each holding names the parser reads at the host's own level. */
const HOST_EXTRAS = {
  assetId: "<ASSET_ID>77001</ASSET_ID>",
  tags: "<TAGS><TAG><TAG_ID>9001</TAG_ID><NAME><![CDATA[Prod]]></NAME><COLOR>#fff</COLOR></TAG>" +
    "<TAG><ID>9002</ID><NAME>DMZ</NAME></TAG></TAGS>",
  trurisk: '<TRURISK_SCORE>712</TRURISK_SCORE><ASSET_CRITICALITY_SCORE source="user">4' +
    "</ASSET_CRITICALITY_SCORE>",
  metadata: "<METADATA><EC2><ATTRIBUTE><NAME>latest/meta-data/local-ipv4</NAME>" +
    "<LAST_STATUS>Success</LAST_STATUS><VALUE><![CDATA[172.31.1.9]]></VALUE>" +
    "<LAST_SUCCESS_DATE>2026-03-01T00:00:00Z</LAST_SUCCESS_DATE></ATTRIBUTE>" +
    "<ATTRIBUTE><NAME>instance-id</NAME><ID>4242</ID><IP>172.31.1.9</IP><OS>Amazon</OS>" +
    "</ATTRIBUTE></EC2><ALICLOUD><ATTRIBUTE><NAME>x</NAME><VALUE>y</VALUE></ATTRIBUTE>" +
    "</ALICLOUD></METADATA>",
  cloudTags: "<CLOUD_PROVIDER_TAGS><CLOUD_TAG><NAME>env</NAME><VALUE>prod</VALUE>" +
    "<LAST_SUCCESS_DATE>2026-03-01T00:00:00Z</LAST_SUCCESS_DATE></CLOUD_TAG></CLOUD_PROVIDER_TAGS>",
  future: '<FUTURE_HOST_BLOCK kind="x"><HOST><ID>5</ID><IP>10.9.9.9</IP></HOST>' +
    "<DETECTION_LIST><DETECTION><QID>1</QID><STATUS>New</STATUS></DETECTION></DETECTION_LIST>" +
    "<DETECTION><QID>2</QID><STATUS>New</STATUS></DETECTION><NETWORK_ID>9</NETWORK_ID>" +
    "<OS_CPE>cpe:/o:x</OS_CPE></FUTURE_HOST_BLOCK>",
};

/** Detection-level additions, each holding names the parser reads at the detection's level. */
const DETECTION_EXTRAS = {
  qds: '<QDS severity="HIGH">79</QDS><QDS_FACTORS><QDS_FACTOR name="CVSS"><![CDATA[9.8]]>' +
    '</QDS_FACTOR><QDS_FACTOR name="epss">0.9</QDS_FACTOR></QDS_FACTORS>',
  cves: "<CVE_LIST><CVE><ID><![CDATA[CVE-2024-3094]]></ID><URL>u</URL></CVE>" +
    "<CVE><ID>CVE-2024-1</ID></CVE></CVE_LIST><ASSET_CVE>CVE-2024-3094</ASSET_CVE>",
  mitre: "<MITRE_TACTIC_NAME>Initial Access</MITRE_TACTIC_NAME><MITRE_TACTIC_ID>TA0001" +
    "</MITRE_TACTIC_ID><MITRE_TECHNIQUE_NAME>Exploit</MITRE_TECHNIQUE_NAME>" +
    "<MITRE_TECHNIQUE_ID>T1190</MITRE_TECHNIQUE_ID>",
  sources: "<VULNERABILITY_DETECTION_SOURCES><SOURCE><TYPE>Info</TYPE><NAME>Cloud Agent</NAME>" +
    "<QID>99</QID><PORT>7</PORT><PROTOCOL>udp</PROTOCOL><STATUS>Fixed</STATUS></SOURCE>" +
    "</VULNERABILITY_DETECTION_SOURCES><LATEST_VULNERABILITY_DETECTION_SOURCE>Cloud Agent" +
    "</LATEST_VULNERABILITY_DETECTION_SOURCE><TRURISK_ELIMINATION_STATUS>Open" +
    "</TRURISK_ELIMINATION_STATUS>",
  future: "<UNIQUE_VULN_ID>123</UNIQUE_VULN_ID><FUTURE><QID>5</QID><STATUS>Fixed</STATUS>" +
    "<TYPE>Info</TYPE></FUTURE><!-- keep-alive -->",
};

interface DetectionSpec {
  qid: number;
  type: string;
  status: string;
  port?: number;
  protocol?: string;
}

interface HostSpec {
  id: number;
  ip?: string;
  ipv6?: string;
  networkId?: number;
  os?: string;
  cpe?: string;
  detections: DetectionSpec[];
}

const HOSTS: HostSpec[] = [
  {
    id: 143100001,
    ip: "10.0.0.1",
    networkId: 312001,
    os: "Windows 2016/2019/10",
    cpe: "cpe:/o:microsoft:windows_10",
    detections: [
      { qid: 38170, type: "Confirmed", status: "Active", port: 443, protocol: "tcp" },
      { qid: 105943, type: "Potential", status: "New" },
      { qid: 90007, type: "Confirmed", status: "Fixed", port: 135, protocol: "tcp" },
    ],
  },
  {
    id: 143100007,
    ipv6: "2001:db8::7",
    os: "Linux 3.13",
    detections: [{ qid: 6, type: "Info", status: "Re-Opened", port: 53, protocol: "udp" }],
  },
  { id: 143100009, ip: "10.0.0.9", detections: [] },
];

/**
 * A Host List Detection page; `extras` decides what goes where: `slot` names the place (`head`:
 * after the host's ID, `mid`: between what is read, `tail`: after DETECTION_LIST; `dHead`,
 * `dMid`, `dTail` the same in a detection).
 */
function hldPage(extras: (slot: string) => string, response = ""): string {
  const detection = (d: DetectionSpec) =>
    `<DETECTION>${extras("dHead")}<QID>${d.qid}</QID>${extras("dMid")}<TYPE>${d.type}</TYPE>` +
    `<SEVERITY>3</SEVERITY>${
      d.port === undefined ? "" : `<PORT>${d.port}</PORT>${extras("dMid")}`
    }${d.protocol === undefined ? "" : `<PROTOCOL>${d.protocol}</PROTOCOL>`}<SSL>0</SSL>` +
    `${extras("dMid")}<STATUS>${d.status}</STATUS>${extras("dTail")}</DETECTION>`;
  const host = (h: HostSpec) =>
    `<HOST><ID>${h.id}</ID>${extras("head")}${h.ip ? `<IP>${h.ip}</IP>` : ""}${
      h.ipv6 ? `<IPV6>${h.ipv6}</IPV6>` : ""
    }${extras("mid")}<TRACKING_METHOD>IP</TRACKING_METHOD>${
      h.networkId === undefined ? "" : `<NETWORK_ID>${h.networkId}</NETWORK_ID>`
    }${h.os ? `<OS><![CDATA[${h.os}]]></OS>` : ""}${extras("mid")}${
      h.cpe ? `<OS_CPE>${h.cpe}</OS_CPE>` : ""
    }${extras("mid")}<DETECTION_LIST>${
      h.detections.map(detection).join(extras("between"))
    }</DETECTION_LIST>${extras("tail")}</HOST>`;
  return `<?xml version="1.0" encoding="UTF-8" ?>\n` +
    `<!DOCTYPE HOST_LIST_VM_DETECTION_OUTPUT SYSTEM "https://x/api/5.0/fo/asset/host/vm/detection/dtd/output.dtd">\n` +
    `<HOST_LIST_VM_DETECTION_OUTPUT>${extras("request")}<RESPONSE>${extras("response")}` +
    `<DATETIME>2026-03-02T06:00:00Z</DATETIME>${extras("response")}<HOST_LIST>${
      HOSTS.map(host).join(extras("hosts"))
    }</HOST_LIST>${response}${extras("response")}</RESPONSE>${
      extras("after")
    }</HOST_LIST_VM_DETECTION_OUTPUT>\n`;
}

const REQUEST = "<REQUEST><DATETIME>2026-01-01T00:00:00Z</DATETIME><USER_LOGIN>u</USER_LOGIN>" +
  "<RESOURCE>https://x/api/5.0/fo/asset/host/vm/detection/</RESOURCE><PARAM_LIST><PARAM>" +
  "<KEY>action</KEY><VALUE>list</VALUE></PARAM></PARAM_LIST></REQUEST>";

/** Every 5.0 addition in every place. */
function v5(slot: string): string {
  const host = Object.values(HOST_EXTRAS).join("");
  const det = Object.values(DETECTION_EXTRAS).join("");
  switch (slot) {
    case "head":
    case "mid":
    case "tail":
      return host;
    case "dHead":
    case "dMid":
    case "dTail":
      return det;
    case "between":
      return "<!-- keep-alive --><DETECTION_NOTE><DETECTION><QID>4</QID></DETECTION>" +
        "</DETECTION_NOTE>";
    case "hosts":
      return "<HOST_SUMMARY><ID>8</ID></HOST_SUMMARY>";
    case "request":
      return REQUEST;
    case "response":
      return "<GLOSSARY><HOST><ID>3</ID><IP>10.3.3.3</IP><DETECTION_LIST><DETECTION>" +
        "<QID>3</QID><STATUS>New</STATUS></DETECTION></DETECTION_LIST></HOST></GLOSSARY>" +
        "<SUMMARY><DATETIME>2020-01-01T00:00:00Z</DATETIME><WARNING><CODE>1</CODE>" +
        "<URL>https://x/?id_min=4</URL></WARNING></SUMMARY>";
    default:
      return "<!-- end -->";
  }
}

Deno.test("DetectionPageParser: a 5.0 page with every addition before, between and after what it reads gives what the plain page gives", () => {
  const plain = feed(new DetectionPageParser({ collectOs: true }), hldPage(() => ""), 1 << 20);
  assert.deepEqual(hosts(plain), [
    "10.0.0.1 143100001 312001 Windows 2016/2019/10 cpe:/o:microsoft:windows_10: " +
    "38170/443/1 105943/0/0",
    "2001:db8::7 143100007 undefined Linux 3.13 undefined: 6/53/2",
    "10.0.0.9 143100009 undefined undefined undefined: ",
  ]);
  const text = hldPage(v5);
  for (const size of [1, 7, 4096, text.length]) {
    const page = feed(new DetectionPageParser({ collectOs: true }), text, size);
    assert.deepEqual(hosts(page), hosts(plain), `chunks of ${size}`);
    assert.equal(page.datetime, "2026-03-02T06:00:00Z");
    assert.equal(page.warning, undefined);
    assert.deepEqual(
      [page.stats.hosts, page.stats.open, page.stats.fixed, page.stats.noQid],
      [3, 3, 1, 0],
    );
  }
  // each addition alone, in each place
  for (
    const [name, extra] of [...Object.entries(HOST_EXTRAS), ...Object.entries(DETECTION_EXTRAS)]
  ) {
    for (const slot of ["head", "mid", "tail", "dHead", "dMid", "dTail"]) {
      const page = feed(
        new DetectionPageParser({ collectOs: true }),
        hldPage((s) => (s === slot ? extra : "")),
        13,
      );
      assert.deepEqual(hosts(page), hosts(plain), `${name} at ${slot}`);
    }
  }
});

Deno.test("DetectionPageParser: a 5.0 page's WARNING is read after any addition, a nested one never", () => {
  const warning = "<WARNING><CODE>1980</CODE><TEXT>1000 record limit exceeded.</TEXT><URL>" +
    "<![CDATA[https://x/api/5.0/fo/asset/host/vm/detection/?action=list&id_min=143100010]]>" +
    "</URL></WARNING>";
  const page = feed(new DetectionPageParser(), hldPage(v5, warning), 5);
  assert.deepEqual(page.warning, {
    code: "1980",
    text: "1000 record limit exceeded.",
    url: "https://x/api/5.0/fo/asset/host/vm/detection/?action=list&id_min=143100010",
  });
  assert.equal(page.datetime, "2026-03-02T06:00:00Z");
});

Deno.test("IdListParser: a 5.0 Host List's ID_SET amid additions; a HOST_LIST answer gives each host's own ID, never a tag's", () => {
  const text = `<HOST_LIST_OUTPUT>${REQUEST}<RESPONSE><SUMMARY><ID>1</ID></SUMMARY>` +
    `<DATETIME>2026-03-02T06:00:00Z</DATETIME><!-- k --><ID_SET><ID>5</ID><!-- k -->` +
    `<ID_RANGE>7-9</ID_RANGE><NOTE><ID>99</ID></NOTE><ID>12</ID></ID_SET>` +
    `<GLOSSARY><ID_SET><ID>98</ID></ID_SET></GLOSSARY><FUTURE>x</FUTURE></RESPONSE>` +
    `</HOST_LIST_OUTPUT>`;
  for (const size of [1, 9, text.length]) {
    const list = feed(new IdListParser(Tag.HOST_LIST_OUTPUT), text, size);
    assert.deepEqual([...list.ids], [5, 7, 8, 9, 12]);
    assert.equal(list.datetime, "2026-03-02T06:00:00Z");
    assert.equal(list.warning, undefined);
  }
  const hostList = `<HOST_LIST_OUTPUT><RESPONSE><DATETIME>2026-03-02T06:00:00Z</DATETIME>` +
    `<HOST_LIST><HOST>${HOST_EXTRAS.tags}<ID>143100001</ID>${HOST_EXTRAS.assetId}` +
    `<IP>10.0.0.1</IP>${HOST_EXTRAS.metadata}${HOST_EXTRAS.trurisk}</HOST>` +
    `<HOST><ID>143100002</ID>${HOST_EXTRAS.future}${HOST_EXTRAS.cloudTags}</HOST></HOST_LIST>` +
    `<WARNING><CODE>1980</CODE><TEXT>t</TEXT><URL>u?id_min=143100003</URL></WARNING>` +
    `</RESPONSE></HOST_LIST_OUTPUT>`;
  for (const size of [1, 11, hostList.length]) {
    const list = feed(new IdListParser(Tag.HOST_LIST_OUTPUT), hostList, size);
    assert.deepEqual([...list.ids], [143100001, 143100002]);
    assert.deepEqual(list.warning, { code: "1980", text: "t", url: "u?id_min=143100003" });
  }
  // the KnowledgeBase's ID list never reads a HOST_LIST
  const kb = feed(
    new IdListParser(Tag.KNOWLEDGE_BASE_VULN_LIST_OUTPUT),
    `<KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE><DATETIME>2026-11-20T06:00:00Z</DATETIME><HOST_LIST><HOST><ID>1` +
      `</ID></HOST></HOST_LIST><ID_SET><ID>6</ID></ID_SET></RESPONSE>` +
      `</KNOWLEDGE_BASE_VULN_LIST_OUTPUT>`,
    3,
  );
  assert.deepEqual([...kb.ids], [6]);
});

Deno.test("KbPageParser: a KnowledgeBase 4.0 answer with additions reads each VULN's own QID, TITLE, DIAGNOSIS and CVE and Bugtraq IDs", () => {
  const vuln = (extra: (slot: string) => string) =>
    `<VULN>${extra("head")}<QID>38170</QID>${
      extra("mid")
    }<VULN_TYPE>Vulnerability</VULN_TYPE><SEVERITY_LEVEL>3</SEVERITY_LEVEL>` +
    `<TITLE><![CDATA[SSL Certificate]]></TITLE>${extra("mid")}<CATEGORY>General</CATEGORY>` +
    `<LAST_SERVICE_MODIFICATION_DATETIME>2026-02-01T00:00:00Z</LAST_SERVICE_MODIFICATION_DATETIME>` +
    `<BUGTRAQ_LIST><BUGTRAQ><ID>1881</ID>${extra("item")}<URL>u</URL></BUGTRAQ></BUGTRAQ_LIST>${
      extra("mid")
    }` +
    `<CVE_LIST>${extra("list")}<CVE><ID><![CDATA[CVE-2024-1]]></ID>${
      extra("item")
    }</CVE><CVE><ID>CVE-2024-2</ID></CVE></CVE_LIST>` +
    `<DIAGNOSIS><![CDATA[The <B>certificate</B>]]></DIAGNOSIS>${extra("tail")}</VULN>`;
  const page = (extra: (slot: string) => string) =>
    `<KNOWLEDGE_BASE_VULN_LIST_OUTPUT>${extra("request")}<RESPONSE>${extra("response")}` +
    `<DATETIME>2026-03-02T06:00:00Z</DATETIME><VULN_LIST>${vuln(extra)}${extra("vulns")}` +
    `</VULN_LIST>${extra("response")}</RESPONSE></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>`;
  const additions = (slot: string) => {
    switch (slot) {
      case "head":
      case "mid":
      case "tail":
        return "<PATCH_PUBLISHED_DATE>2026-01-01T00:00:00Z</PATCH_PUBLISHED_DATE>" +
          "<SOFTWARE_LIST><SOFTWARE><PRODUCT>p</PRODUCT><TITLE>t</TITLE><ID>7</ID></SOFTWARE>" +
          "</SOFTWARE_LIST><SUPERSEDED_BY><QID_LIST><QID>99</QID></QID_LIST></SUPERSEDED_BY>" +
          "<CORRELATION><EXPLOITS><EXPLT_SRC><EXPLT_LIST><EXPLT><REF>CVE-2024-9</REF>" +
          "<DIAGNOSIS>d</DIAGNOSIS></EXPLT></EXPLT_LIST></EXPLT_SRC></EXPLOITS></CORRELATION>" +
          '<THREAT_INTELLIGENCE><THREAT_INTEL id="5">Easy_Exploit</THREAT_INTEL>' +
          "</THREAT_INTELLIGENCE><VENDOR_REFERENCE_LIST><VENDOR_REFERENCE><ID>MS-1</ID>" +
          "</VENDOR_REFERENCE></VENDOR_REFERENCE_LIST><FUTURE><CVE_LIST><CVE><ID>CVE-0</ID>" +
          "</CVE></CVE_LIST><LAST_SERVICE_MODIFICATION_DATETIME>x" +
          "</LAST_SERVICE_MODIFICATION_DATETIME></FUTURE><!-- keep-alive -->";
      case "item":
        return "<DETAILS><ID>nested</ID></DETAILS><CVSS3_SCORE>9.8</CVSS3_SCORE>";
      case "list":
        return "<CVE_SUMMARY><ID>CVE-summary</ID></CVE_SUMMARY><ID>CVE-bare</ID>";
      case "request":
        return REQUEST;
      case "response":
        return "<GLOSSARY><VULN_LIST><VULN><QID>1</QID></VULN></VULN_LIST></GLOSSARY>" +
          "<SUMMARY><DATETIME>2020-01-01T00:00:00Z</DATETIME></SUMMARY>";
      default:
        return "<!-- k -->";
    }
  };
  const lines = (text: string, size: number) => {
    const p = feed(new KbPageParser(), text, size);
    return {
      datetime: p.datetime,
      qids: p.qids,
      entries: new TextDecoder().decode(p.lines).split("\n").filter(Boolean).map((l) =>
        JSON.parse(l)
      ),
    };
  };
  const plain = lines(page(() => ""), 1 << 20);
  assert.deepEqual(plain.entries, [{
    q: 38170,
    m: "2026-02-01T00:00:00Z",
    t: "SSL Certificate",
    d: "The <B>certificate</B>",
    c: ["CVE-2024-1", "CVE-2024-2"],
    b: ["1881"],
  }]);
  const text = page(additions);
  for (const size of [1, 17, text.length]) {
    assert.deepEqual(lines(text, size), plain, `chunks of ${size}`);
  }
});
