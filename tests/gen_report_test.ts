/**
 * The synthetic report generator's next night (`change`), which the ledger bench's two nights
 * stand on: exactly the share of hosts asked for changes, each host it changes has other open
 * findings than before, every other host is written byte for byte as before, and the same seeds
 * give the same bytes.
 */

import assert from "node:assert/strict";
import { type GenerateOptions, generateReport } from "../scripts/gen_report.ts";

function generate(options: GenerateOptions): { text: string; changed: number; findings: number } {
  const gen = generateReport(options);
  const chunks: Uint8Array[] = [];
  for (;;) {
    const r = gen.next();
    if (r.done) {
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let off = 0;
      for (const c of chunks) {
        bytes.set(c, off);
        off += c.length;
      }
      return {
        text: new TextDecoder().decode(bytes),
        changed: r.value.changed,
        findings: r.value.findings,
      };
    }
    chunks.push(r.value.slice());
  }
}

/** Each HOST element's text, by its IP. */
function hosts(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/<HOST>\n<IP network_id="0">([^<]+)<\/IP>[\s\S]*?<\/HOST>\n/g)) {
    out.set(m[1]!, m[0]);
  }
  return out;
}

/** A host's open findings (not Fixed), as the connector keeps them: `qid/port/protocol`, once. */
function openKeys(host: string): string[] {
  const keys = new Set<string>();
  for (const m of host.matchAll(/<VULN_INFO>([\s\S]*?)<\/VULN_INFO>/g)) {
    const v = m[1]!;
    if (/<VULN_STATUS>Fixed</.test(v)) continue;
    const qid = /<QID[^>]*>(\d+)</.exec(v)![1];
    const port = /<PORT>(\d+)</.exec(v)?.[1] ?? "0";
    const proto = /<PROTOCOL>(\w+)</.exec(v)?.[1] ?? "";
    keys.add(`${qid}/${port}/${proto}`);
  }
  return [...keys].sort();
}

const ESTATE: GenerateOptions = { hosts: 500, findingsPerHost: 40, qids: 300, seed: 7 };

Deno.test("the next night changes exactly the share of hosts asked, each for real, and leaves every other host's bytes", () => {
  const night1 = generate(ESTATE);
  const night2 = generate({ ...ESTATE, change: { share: 0.02, seed: 5 } });
  assert.equal(night1.changed, 0);
  assert.equal(night2.changed, 10);
  const before = hosts(night1.text), after = hosts(night2.text);
  assert.equal(before.size, 500);
  assert.deepEqual([...after.keys()], [...before.keys()]);
  const differ = [...before].filter(([ip, xml]) => after.get(ip) !== xml).map(([ip]) => ip);
  assert.equal(differ.length, 10, differ.join(" "));
  const kinds = new Set<string>();
  for (const ip of differ) {
    const was = openKeys(before.get(ip)!), now = openKeys(after.get(ip)!);
    assert.notDeepEqual(now, was, ip);
    kinds.add(now.length > was.length ? "added" : now.length < was.length ? "removed" : "moved");
  }
  // each of the three changes happens among ten hosts
  assert.deepEqual([...kinds].sort(), ["added", "moved", "removed"]);
  // the counts say what the report holds
  const open = (m: Map<string, string>) =>
    [...m.values()].reduce((n, h) => n + openKeys(h).length, 0);
  assert.equal(night2.findings, open(after));
  assert.equal(night1.findings, open(before));
  // outside the hosts, the two nights are the same text
  const strip = (t: string) => t.replace(/<HOST_LIST>[\s\S]*<\/HOST_LIST>/, "");
  assert.equal(strip(night2.text), strip(night1.text));
});

Deno.test("the next night is the same bytes for the same seeds; another change seed changes other hosts", () => {
  const a = generate({ ...ESTATE, change: { share: 0.02, seed: 5 } });
  const b = generate({ ...ESTATE, change: { share: 0.02, seed: 5 } });
  assert.equal(a.text, b.text);
  const c = generate({ ...ESTATE, change: { share: 0.02, seed: 6 } });
  assert.notEqual(c.text, a.text);
  assert.equal(c.changed, 10);
  // a share of 0 is the first night itself
  assert.equal(generate({ ...ESTATE, change: { share: 0 } }).text, generate(ESTATE).text);
});

Deno.test("the next night rounds the share to whole hosts, and can change a host with no open finding", () => {
  // 3 % of 50 hosts is 1.5: two hosts; hosts without findings can only gain one
  const empty = { hosts: 50, findingsPerHost: 0, qids: 20, seed: 2 };
  const night2 = generate({ ...empty, change: { share: 0.03 } });
  assert.equal(night2.changed, 2);
  const added = [...hosts(night2.text).values()].filter((h) => openKeys(h).length === 1);
  assert.equal(added.length, 2);
  assert.equal(night2.findings, 2);
});
