/**
 * What the end-to-end tests of nights (a report a night, sent to the Defense Center simulator)
 * share: a report written from a list of hosts, the DC's results as a map, and the setup of two
 * templates served by the Qualys simulator for `-multiinfo`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { TestCa } from "../../scripts/sim/net/mod.ts";
import { type DcSim, startDcSim } from "../../scripts/sim/fmc/mod.ts";
import { type QualysSim, startQualysSim } from "../../scripts/sim/qualys/mod.ts";
import { runMain } from "../_cli.ts";

/** A finding: its QID, port (none: no port) and VULN_STATUS (none: open). */
export type V = [qid: number, port?: number, status?: string];

const VI = ([qid, port, status]: V) =>
  `<VULN_INFO><QID id="qid_${qid}">${qid}</QID><TYPE>Vuln</TYPE>` +
  (port === undefined ? "" : `<PORT>${port}</PORT><PROTOCOL>tcp</PROTOCOL>`) +
  (status === undefined ? "" : `<VULN_STATUS>${status}</VULN_STATUS>`) + `</VULN_INFO>`;

/** An ASSET_DATA_REPORT: [ip, vulns, OS?, network_id?] per HOST element; `title` starts each TITLE. */
export function adr(hosts: [string, V[], string?, number?][], title = "Title"): string {
  const qids = [...new Set(hosts.flatMap(([, vs]) => vs.map((v) => v[0])))];
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ASSET_DATA_REPORT><HOST_LIST>${
    hosts.map(([ip, vs, os, net]) =>
      `<HOST><IP${net === undefined ? "" : ` network_id="${net}"`}>${ip}</IP>` +
      `<TRACKING_METHOD>IP</TRACKING_METHOD>${
        os === undefined ? "" : `<OPERATING_SYSTEM><![CDATA[${os}]]></OPERATING_SYSTEM>`
      }<VULN_INFO_LIST>${vs.map(VI).join("")}</VULN_INFO_LIST></HOST>`
    ).join("")
  }</HOST_LIST><GLOSSARY><VULN_DETAILS_LIST>${
    qids.map((q) =>
      `<VULN_DETAILS id="qid_${q}"><QID id="qid_${q}">${q}</QID><TITLE>${title} ${q}</TITLE>` +
      `<THREAT>Threat ${q}</THREAT></VULN_DETAILS>`
    ).join("")
  }</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>\n`;
}

/** The DC's results from one scanner: ip → sorted `qid/port`. */
export function results(dc: DcSim, scanner = "QualysGuard"): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [ip, byScanner] of Object.entries(dc.dump())) {
    const rs = byScanner[scanner] ?? [];
    if (rs.length > 0) out[ip] = rs.map((r) => `${r.vulnId}/${r.port || "-"}`).sort();
  }
  return out;
}

/** Two templates (424242 and 535353) on the Qualys simulator, a YAML and a client certificate. */
export interface TwoTemplates {
  dir: string;
  dc: DcSim;
  /** `-server` and `-port` of the Defense Center simulator. */
  dcArgs: string[];
  /** One night: writes both templates' reports, runs `-multiinfo` with `args`, waits for the DC. */
  night(a: string, b: string, args: string[]): Promise<{ code: number; stdout: string }>;
}

/** Runs `body` with {@linkcode TwoTemplates} set up, and stops and removes it all after. */
export async function withTwoTemplates(
  o: { ca: TestCa; prefix: string },
  body: (t: TwoTemplates) => Promise<void>,
): Promise<void> {
  const dc = await startDcSim({ maxSize: 4096 }, { ca: o.ca });
  const dir = await Deno.makeTempDir({ prefix: o.prefix });
  const reports = { a: `${dir}/a.xml`, b: `${dir}/b.xml` };
  let q: QualysSim | undefined;
  try {
    q = await startQualysSim({ reports: { "424242": reports.a, "535353": reports.b } }, {
      ca: o.ca,
    });
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/ca.pem`, q.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: sim_pass\nurl: ${q.url}\nca_file: ${dir}/ca.pem\n` +
        "poll_interval: 0.01\n",
      { mode: 0o600 },
    );
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const night = async (a: string, b: string, args: string[]) => {
      await Deno.writeTextFile(reports.a, a);
      await Deno.writeTextFile(reports.b, b);
      const r = await runMain(["-multiinfo", "424242,535353", ...args, "-pa", "pw"], { cwd: dir });
      await dc.idle();
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return r;
    };
    await body({ dir, dc, dcArgs: [`-server=${dc.host}`, `-port=${dc.port}`], night });
  } finally {
    await q?.shutdown();
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}
