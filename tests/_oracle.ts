/**
 * Test oracle: the same extraction rules as `lib/sources/report/parse_report.ts`, written the obvious
 * way on top of saxes (a strict, independent XML parser), over a small in-memory tree.
 */

import { SaxesParser } from "saxes";
import { type IpRangeSet, parseHostAddress } from "../lib/config/ip_ranges.ts";
import type { GlossaryEntry, ParsedReport } from "../lib/sources/report/parse_report.ts";

export interface XNode {
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
  text: string; // all descendant text, in order
}

/** Parses XML with saxes into a tree; throws on any well-formedness error. */
export function parseDom(xml: string): XNode {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const root: XNode = { name: "#document", attrs: {}, children: [], text: "" };
  const stack: XNode[] = [root];
  let error: Error | undefined;
  parser.on("error", (e) => {
    error ??= e;
  });
  parser.on("opentag", (tag) => {
    const node: XNode = {
      name: tag.name,
      attrs: tag.attributes as Record<string, string>,
      children: [],
      text: "",
    };
    stack[stack.length - 1]!.children.push(node);
    stack.push(node);
  });
  const onText = (t: string) => {
    for (let k = 1; k < stack.length; k++) stack[k]!.text += t;
  };
  parser.on("text", onText);
  parser.on("cdata", onText);
  parser.on("closetag", () => {
    stack.pop();
  });
  parser.write(xml).close();
  if (error) throw error;
  return root.children[0]!;
}

function child(n: XNode, name: string): XNode | undefined {
  return n.children.find((c) => c.name === name);
}

function* descendants(n: XNode, name: string, stopAt?: string): Generator<XNode> {
  for (const c of n.children) {
    if (c.name === name) yield c;
    else if (c.name !== stopAt) yield* descendants(c, name, stopAt);
  }
}

function int(text: string | undefined): number {
  const t = (text ?? "").trim();
  return /^\d{1,15}$/.test(t) ? Number(t) : -1;
}

export interface Extracted {
  format: string;
  hosts: { ip: string; findings: [number, number, number][] }[];
  glossary: Map<number, GlossaryEntry>;
}

function ipv4Text(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/** The oracle's extraction of a report. */
export function oracleExtract(xml: string, ipRanges?: IpRangeSet): Extracted {
  const root = parseDom(xml);
  const out: Extracted = { format: root.name, hosts: [], glossary: new Map() };
  // One host per address (an IPv4-mapped IPv6 address is the IPv4 host), at its first listing;
  // hosts without findings after those with (README: What is written).
  const byKey = new Map<string, Extracted["hosts"][number]>();
  const addHost = (ip: string | undefined, raw: [number, number, number][]) => {
    const addr = ip === undefined ? undefined : parseHostAddress(ip);
    if (!addr) return;
    if (ipRanges && !ipRanges.contains(addr)) return;
    const v = addr.value;
    const key = typeof v === "bigint" && v >> 32n === 0xffffn
      ? `${Number(v & 0xffffffffn)}`
      : typeof v === "number"
      ? `${v}`
      : addr.text;
    let host = byKey.get(key);
    // an IPv4-mapped address is sent as the IPv4 host it is (a number key: an IPv4 address)
    const text = /^\d+$/.test(key) ? ipv4Text(Number(key)) : addr.text;
    if (!host) byKey.set(key, host = { ip: text, findings: [] });
    const findings = host.findings;
    for (let [q, p, r] of raw) {
      if (q < 0) continue;
      if (r === 0 || p < 1 || p > 65535) p = r = 0;
      if (!findings.some(([a, b, c]) => a === q && b === p && c === r)) findings.push([q, p, r]);
    }
  };
  const proto = (t: string | undefined) => {
    const v = (t ?? "").trim().toLowerCase();
    return v === "tcp" ? 1 : v === "udp" ? 2 : 0;
  };
  const ids = (n: XNode, list: string) => {
    const l = child(n, list);
    if (!l) return [];
    return l.children.flatMap((c) => c.children.filter((g) => g.name === "ID"))
      .map((g) => g.text.trim()).filter((t) => t);
  };
  if (root.name === "ASSET_DATA_REPORT") {
    for (const host of descendants(root, "HOST", "HOST")) {
      const raw: [number, number, number][] = [];
      for (const vi of descendants(host, "VULN_INFO", "VULN_INFO")) {
        if (/^\s*fixed\s*$/i.test(child(vi, "VULN_STATUS")?.text ?? "")) continue;
        raw.push([
          int(child(vi, "QID")?.text),
          int(child(vi, "PORT")?.text),
          proto(child(vi, "PROTOCOL")?.text),
        ]);
      }
      addHost(child(host, "IP")?.text, raw);
    }
    for (const vd of descendants(root, "VULN_DETAILS", "HOST")) {
      const m = /^\s*qid_(\d{1,9})\s*$/.exec(vd.attrs.id ?? "");
      const qid = m ? Number(m[1]) : int(child(vd, "QID")?.text);
      if (qid < 0 || out.glossary.has(qid)) continue;
      out.glossary.set(qid, {
        qid,
        title: child(vd, "TITLE")?.text ?? "",
        description: child(vd, "THREAT")?.text ?? "",
        cves: ids(vd, "CVE_ID_LIST"),
        bugtraqs: ids(vd, "BUGTRAQ_ID_LIST"),
      });
    }
  } else if (root.name === "SCAN") {
    for (const ipNode of root.children.filter((c) => c.name === "IP")) {
      const raw: [number, number, number][] = [];
      for (const cat of descendants(ipNode, "CAT", "CAT")) {
        const port = /^\s*\d{1,5}\s*$/.test(cat.attrs.port ?? "") ? Number(cat.attrs.port) : 0;
        const pr = proto(cat.attrs.protocol);
        for (const v of cat.children) {
          if (!["VULN", "INFO", "SERVICE", "PRACTICE"].includes(v.name)) continue;
          const qid = /^\s*\d{1,9}\s*$/.test(v.attrs.number ?? "") ? Number(v.attrs.number) : -1;
          raw.push([qid, port, pr]);
          if (qid >= 0 && !out.glossary.has(qid)) {
            let cves = ids(v, "CVE_ID_LIST");
            if (cves.length === 0 && v.attrs.cveid) {
              cves = v.attrs.cveid.split(",").map((c) => c.trim()).filter((c) => c);
            }
            out.glossary.set(qid, {
              qid,
              title: child(v, "TITLE")?.text ?? "",
              description: child(v, "DIAGNOSIS")?.text ?? "",
              cves,
              bugtraqs: ids(v, "BUGTRAQ_ID_LIST"),
            });
          }
        }
      }
      addHost(ipNode.attrs.value, raw);
    }
  }
  const hosts = [...byKey.values()];
  out.hosts = [
    ...hosts.filter((h) => h.findings.length > 0),
    ...hosts.filter((h) => !h.findings.length),
  ];
  return out;
}

/** The same shape, read from our parser's result. */
export async function fromParsed(report: ParsedReport): Promise<Extracted> {
  const hosts: Extracted["hosts"] = [];
  await report.forEachHost((h) => {
    const findings: [number, number, number][] = [];
    for (let k = 0; k < h.count; k++) findings.push([h.qids[k]!, h.ports[k]!, h.protos[k]!]);
    hosts.push({ ip: h.ip, findings });
  });
  const glossary = new Map<number, GlossaryEntry>();
  for (const [qid, e] of report.glossary) {
    glossary.set(qid, {
      qid: e.qid,
      title: e.title,
      description: e.description,
      cves: e.cves,
      bugtraqs: e.bugtraqs,
    });
  }
  return { format: report.format, hosts, glossary };
}
