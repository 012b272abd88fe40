import assert from "node:assert/strict";
import { QualysApiError, ReportSyntaxError } from "../../../../lib/errors.ts";
import {
  type DetectionPage,
  DetectionPageParser,
} from "../../../../lib/sources/detections/pages/detection_page.ts";
import { IdListParser } from "../../../../lib/sources/detections/pages/id_list.ts";
import {
  type KbEntry,
  type KbPage,
  KbPageParser,
} from "../../../../lib/sources/detections/pages/kb_page.ts";
import type { ListingInfo } from "../../../../lib/sources/detections/pages/listings.ts";
import { Tag } from "../../../../lib/xml/tags.ts";
import { WrongAnswer } from "../../../../lib/qualys/stream_body.ts";
import { ignoreUnless, NO_SHARED_FIXTURES, SHARED_FIXTURES } from "../../../_skip.ts";

const enc = new TextEncoder();

function feed<T>(
  parser: { push(c: Uint8Array): void; end(): T },
  text: string | Uint8Array,
  size: number,
): T {
  const bytes = typeof text === "string" ? enc.encode(text) : text;
  for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
  return parser.end();
}

interface Listing {
  ip: string | undefined;
  findings: string[];
  info: ListingInfo;
}

function listings(page: DetectionPage): Listing[] {
  const out: Listing[] = [];
  let cur: string[] = [];
  page.listings.replay({
    start: () => (cur = []),
    add: (q, p, r) => cur.push(`${q}/${p}/${r}`),
    end: (ip, info) => out.push({ ip, findings: cur, info }),
  });
  return out;
}

function entries(page: KbPage): KbEntry[] {
  return new TextDecoder().decode(page.lines).split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

const page = (hosts: string, extra = "") =>
  `<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE HOST_LIST_VM_DETECTION_OUTPUT SYSTEM "x.dtd">\n` +
  `<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>2026-03-02T06:00:00Z</DATETIME>` +
  `<HOST_LIST>${hosts}</HOST_LIST>${extra}</RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>\n`;
const det = (qid: number, status: string, port = "") =>
  `<DETECTION><QID>${qid}</QID><TYPE>Confirmed</TYPE>${port}<STATUS>${status}</STATUS></DETECTION>`;

Deno.test({
  name: "DetectionPageParser reads the public HLD sample: two hosts, a detection without PORT",
  ignore: ignoreUnless(SHARED_FIXTURES !== undefined, "HLD sample", NO_SHARED_FIXTURES),
  async fn() {
    const bytes = await Deno.readFile(`${SHARED_FIXTURES}demisto/hld_host_list_detections_raw.xml`);
    for (const size of [1, 13, 4096, bytes.length]) {
      const p = feed(new DetectionPageParser(), bytes, size);
      assert.equal(p.datetime, "2023-05-24T09:59:43Z");
      assert.equal(p.warning, undefined);
      assert.deepEqual(listings(p).map((l) => [l.ip, l.findings]), [
        ["1.1.1.1", [
          "11827/443/1",
          "15033/53/2",
          "15034/53/2",
          "15068/53/2",
          "38628/443/1",
          "38794/443/1",
        ]],
        ["1.2.2.2", ["38726/0/0", "38739/22/1"]],
      ]);
      assert.deepEqual(p.stats, {
        hosts: 2,
        open: 8,
        fixed: 0,
        otherType: 0,
        noQid: 0,
        bytes: bytes.length,
      });
    }
  },
});

Deno.test("DetectionPageParser: IPv6-only hosts by IPV6, dual-stack by IP, Fixed kept as a host without findings", () => {
  const text = page(
    `<HOST><ID>1</ID><IPV6>2001:DB8::1</IPV6><DETECTION_LIST>${
      det(6, "New", "<PORT>22</PORT><PROTOCOL>tcp</PROTOCOL>")
    }</DETECTION_LIST></HOST>` +
      `<HOST><ID>2</ID><IP>10.0.0.2</IP><IPV6>2001:db8::2</IPV6><DETECTION_LIST>${
        det(7, "Re-Opened")
      }${det(8, "Fixed")}</DETECTION_LIST></HOST>` +
      `<HOST><ID>3</ID><IP>10.0.0.3</IP><DETECTION_LIST>${
        det(9, "Fixed")
      }</DETECTION_LIST></HOST>` +
      `<HOST><ID>4</ID><TRACKING_METHOD>AGENT</TRACKING_METHOD><DETECTION_LIST>${
        det(10, "Active")
      }</DETECTION_LIST></HOST>`,
  );
  const p = feed(new DetectionPageParser(), text, 7);
  assert.deepEqual(listings(p).map((l) => [l.ip, l.findings]), [
    ["2001:DB8::1", ["6/22/1"]],
    ["10.0.0.2", ["7/0/0"]],
    ["10.0.0.3", []],
    [undefined, ["10/0/0"]],
  ]);
  assert.deepEqual([p.stats.hosts, p.stats.open, p.stats.fixed], [4, 3, 2]);
});

Deno.test("DetectionPageParser skips comments anywhere and elements it does not know, at any depth", () => {
  const text = page(
    `<!-- keep-alive --><HOST><UNIQUE_X><ID>99</ID><IP>1.2.3.4</IP></UNIQUE_X><ID>1</ID>` +
      `<!-- keep-alive --><IP>10.0.0.1</IP><TAGS><TAG><ID>5</ID><NAME>x</NAME></TAG></TAGS>` +
      `<DETECTION_LIST><!-- keep-alive --><DETECTION><UNIQUE_VULN_ID>7</UNIQUE_VULN_ID>` +
      `<QID>38170</QID><!-- c --><PORT>443</PORT><PROTOCOL>tcp</PROTOCOL><RESULTS><![CDATA[<QID>1</QID>]]></RESULTS>` +
      `<QDS severity="HIGH">70</QDS><STATUS>Active</STATUS><ASSET_CVE>x</ASSET_CVE></DETECTION>` +
      `</DETECTION_LIST><TRURISK_SCORE>3</TRURISK_SCORE></HOST><!-- keep-alive -->`,
  );
  const p = feed(new DetectionPageParser(), text, 3);
  assert.deepEqual(listings(p).map((l) => [l.ip, l.findings]), [["10.0.0.1", ["38170/443/1"]]]);
});

Deno.test("DetectionPageParser: ports without a tcp/udp protocol, or out of range, become none; bad QIDs are skipped", () => {
  const warnings: string[] = [];
  const text = page(
    `<HOST><ID>1</ID><IP>10.0.0.1</IP><DETECTION_LIST>` +
      det(1, "New", "<PORT>80</PORT>") + det(2, "New", "<PORT>0</PORT><PROTOCOL>tcp</PROTOCOL>") +
      det(3, "New", "<PORT>70000</PORT><PROTOCOL>udp</PROTOCOL>") +
      `<DETECTION><QID>x</QID><STATUS>New</STATUS></DETECTION>` +
      `</DETECTION_LIST></HOST>`,
  );
  const p = feed(new DetectionPageParser({ onWarning: (m) => warnings.push(m) }), text, 64);
  assert.deepEqual(listings(p)[0]!.findings, ["1/0/0", "2/0/0", "3/0/0"]);
  assert.equal(p.stats.noQid, 1);
  assert.deepEqual(warnings, ["A detection without a valid QID is skipped"]);
});

Deno.test("DetectionPageParser reads the paging WARNING (CODE 1980 and the next page's URL)", () => {
  const url =
    "https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/detection/?action=list&id_min=143";
  const p = feed(
    new DetectionPageParser(),
    page(
      "",
      `<WARNING><CODE>1980</CODE><TEXT>1000 record limit exceeded. Use URL to get next batch of results.</TEXT>` +
        `<URL><![CDATA[${url}]]></URL></WARNING>`,
    ),
    5,
  );
  assert.deepEqual(p.warning, {
    code: "1980",
    text: "1000 record limit exceeded. Use URL to get next batch of results.",
    url,
  });
});

Deno.test("DetectionPageParser: a Qualys error body is a QualysApiError; a cut page is truncated; another root is refused", () => {
  const err =
    `<?xml version="1.0"?><SIMPLE_RETURN><RESPONSE><DATETIME>x</DATETIME><CODE>1905</CODE>` +
    `<TEXT>Invalid value for ag_ids: 9</TEXT></RESPONSE></SIMPLE_RETURN>`;
  assert.throws(() => feed(new DetectionPageParser(), err, 9), (e: unknown) => {
    assert.ok(e instanceof QualysApiError);
    assert.equal(e.code, "1905");
    assert.match(e.message, /CODE 1905: Invalid value for ag_ids: 9/);
    return true;
  });
  const whole = page(
    `<HOST><ID>1</ID><IP>10.0.0.1</IP><DETECTION_LIST>${det(6, "New")}</DETECTION_LIST></HOST>`,
  );
  assert.throws(
    () => feed(new DetectionPageParser(), whole.slice(0, whole.length - 40), 11),
    (e: unknown) => {
      assert.ok(e instanceof ReportSyntaxError);
      assert.equal(e.truncated, true);
      return true;
    },
  );
  assert.throws(
    () => feed(new DetectionPageParser(), "<HOST_LIST_OUTPUT></HOST_LIST_OUTPUT>", 100),
    /Not a Host List Detection answer/,
  );
});

Deno.test({
  name:
    "KbPageParser reads the public KnowledgeBase samples: CVE and Bugtraq lists, an empty TITLE and CVE ID, keep-alive comments",
  ignore: ignoreUnless(SHARED_FIXTURES !== undefined, "KB samples", NO_SHARED_FIXTURES),
  async fn() {
    const demisto = await Deno.readFile(`${SHARED_FIXTURES}demisto/kb_vulnerabilities_raw.xml`);
    for (const size of [1, 64, demisto.length]) {
      const p = feed(new KbPageParser(), demisto, size);
      assert.equal(p.datetime, "2024-02-12T15:21:40Z");
      const e = entries(p);
      assert.deepEqual(p.qids, e.map((x) => x.q));
      assert.deepEqual(e.map((x) => [x.q, x.t, x.c, x.b, x.m]), [
        [
          10052,
          "Vtecrm Vtenext Multiple Security Vulnerabilities",
          [
            "CVE-2020-10227",
            "CVE-2020-10228",
            "CVE-2020-10229",
          ],
          [],
          "2023-12-19T12:02:30Z",
        ],
        [10186, "", [], ["1881"], "2024-02-10T12:03:39Z"],
      ]);
    }
    const tiny = await Deno.readFile(`${SHARED_FIXTURES}qualysapi/kb_tinykb_keepalive.xml`);
    const p = feed(new KbPageParser(), tiny, 17);
    const e = entries(p);
    assert.deepEqual(p.qids, [6, 9, 11, 32, 1000]);
    assert.equal(e[0]!.t, "DNS Host Name");
    assert.match(
      e[2]!.d,
      /^The Portmapper\/Rpcbind listens on port 111 .*\n<P>\nWhen the portmapper/s,
    );
  },
});

Deno.test("KbPageParser: an error body is a QualysApiError, a VULN without QID is an error", () => {
  assert.throws(
    () =>
      feed(
        new KbPageParser(),
        "<SIMPLE_RETURN><RESPONSE><CODE>2000</CODE><TEXT>Bad Login/Password</TEXT></RESPONSE></SIMPLE_RETURN>",
        10,
      ),
    (e: unknown) => e instanceof QualysApiError && e.code === "2000",
  );
  assert.throws(
    () =>
      feed(
        new KbPageParser(),
        "<KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE><VULN_LIST><VULN><TITLE>x</TITLE></VULN></VULN_LIST>" +
          "</RESPONSE></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>",
        10,
      ),
    /has no QID/,
  );
});

Deno.test("IdListParser reads IDs and ID ranges, the DATETIME and the WARNING, of the Host List and the KnowledgeBase", () => {
  const p = feed(
    new IdListParser(Tag.HOST_LIST_OUTPUT),
    `<HOST_LIST_OUTPUT><RESPONSE><DATETIME>2026-03-02T06:00:00Z</DATETIME><!-- k --><ID_SET><ID>5</ID>` +
      `<ID_RANGE>7-9</ID_RANGE><ID>12</ID></ID_SET><WARNING><CODE>1980</CODE><TEXT>t</TEXT><URL>u</URL>` +
      `</WARNING></RESPONSE></HOST_LIST_OUTPUT>`,
    4,
  );
  assert.deepEqual([...p.ids], [5, 7, 8, 9, 12]);
  assert.equal(p.datetime, "2026-03-02T06:00:00Z");
  assert.deepEqual(p.warning, { code: "1980", text: "t", url: "u" });
  const kb = feed(
    new IdListParser(Tag.KNOWLEDGE_BASE_VULN_LIST_OUTPUT),
    "<KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE><DATETIME>2026-03-02T06:00:00Z</DATETIME></RESPONSE></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>",
    100,
  );
  assert.deepEqual([...kb.ids], []);
  assert.throws(
    () =>
      feed(
        new IdListParser(Tag.HOST_LIST_OUTPUT),
        "<HOST_LIST_OUTPUT><RESPONSE><ID_SET><ID_RANGE>9-7</ID_RANGE></ID_SET></RESPONSE></HOST_LIST_OUTPUT>",
        100,
      ),
    /ID_RANGE is not lo-hi/,
  );
});

Deno.test("each detection-source parser takes an answer only with a real UTC DATETIME: else a WrongAnswer, fetched again", () => {
  const answers: [string, () => { push(c: Uint8Array): void; end(): unknown }, string][] = [
    ["HOST_LIST_VM_DETECTION_OUTPUT", () => new DetectionPageParser(), "<HOST_LIST/>"],
    ["HOST_LIST_OUTPUT", () => new IdListParser(Tag.HOST_LIST_OUTPUT), "<ID_SET/>"],
    [
      "KNOWLEDGE_BASE_VULN_LIST_OUTPUT",
      () => new IdListParser(Tag.KNOWLEDGE_BASE_VULN_LIST_OUTPUT),
      "",
    ],
    ["KNOWLEDGE_BASE_VULN_LIST_OUTPUT", () => new KbPageParser(), "<VULN_LIST/>"],
  ];
  for (const [root, make, body] of answers) {
    const xml = (datetime: string | undefined) =>
      `<${root}><RESPONSE>${
        datetime === undefined ? "" : `<DATETIME>${datetime}</DATETIME>`
      }${body}</RESPONSE></${root}>`;
    assert.doesNotThrow(() => feed(make(), xml(" 2017-04-12T14:52:39Z "), 7), root);
    for (const bad of ["2026-13-45T99:99:99Z", "2026-11-21T25:00:00Z", "garbage", "", undefined]) {
      assert.throws(
        () => feed(make(), xml(bad), 7),
        (e: Error) => {
          assert.ok(e instanceof WrongAnswer, `${root} ${bad}: ${e}`);
          assert.match(e.message, bad ? /which is not a UTC time/ : /has no RESPONSE\/DATETIME/);
          return true;
        },
      );
    }
  }
});
