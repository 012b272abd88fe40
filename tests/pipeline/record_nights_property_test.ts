/**
 * The report source's nights through the delivery pipeline with the destination's record
 * (issue 20), replayed through the host input module's semantics (`replayCommands`): only what
 * changed is sent, unchanged hosts are refreshed every `refresh_days`, hosts listed without
 * findings are cleared, `-full` sends everything; some nights the Defense Center takes part of
 * the commands and drops the connection, takes them all and the run is killed before it records
 * them, rejects some, takes part and answers (exit 6), or is not reached. After every night, each address the record holds as
 * delivered holds exactly the results it records (nothing is recorded as sent that was not);
 * after a night that went through, each host the report lists holds exactly its open findings,
 * and a host it does not list what it last held; a last night that lists every host leaves the
 * Defense Center as that report says.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { DcError, DcRejectedError, exitCodeOf } from "../../lib/errors.ts";
import { resultFingerprint } from "../../lib/ledger/compare.ts";
import { LedgerFile } from "../../lib/ledger/ledger_file.ts";
import { NO_LOG } from "../../lib/log/log.ts";
import { deliver } from "../../lib/pipeline/deliver.ts";
import type { DeliveryRecord } from "../../lib/pipeline/delivery.ts";
import type { CommandSink } from "../../lib/sinks/sink.ts";
import { openDestinationState } from "../../lib/state/destination_state.ts";
import { ReportParser } from "../../lib/sources/report/parse_report.ts";
import { reportDelivery } from "../../lib/sources/report/report_delivery.ts";
import { defaultConfig } from "../../lib/config/read_config.ts";
import { Logger } from "../../lib/log/logger.ts";
import { FmcState, replayCommands } from "../../scripts/sim/fmc/mod.ts";

const DESTINATION = "dc 127.0.0.1:8307";
const POOL = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "192.168.7.200", "2001:db8::7", "fe80::1:2"];
const QIDS = [101, 102, 103, 104];

type Finding = [qid: number, port: number, proto: "" | "tcp" | "udp"];
/** Per address of the pool: not listed, or listed with these findings (none: cleared). */
type Report = (Finding[] | undefined)[];

const finding: fc.Arbitrary<Finding> = fc.tuple(
  fc.constantFrom(...QIDS),
  fc.constantFrom(0, 22, 443),
  fc.constantFrom<Finding[2]>("", "tcp", "udp"),
);
const report: fc.Arbitrary<Report> = fc.array(
  fc.option(fc.uniqueArray(finding, { maxLength: 4, selector: (f) => f.join("/") }), {
    nil: undefined,
    freq: 4,
  }),
  { minLength: POOL.length, maxLength: POOL.length },
);

type Take = "ok" | "rejected" | "short" | "cut" | "killed" | "down";
const night = fc.record({
  // a night changes a few hosts of the last report, or is a new report
  report: fc.option(report, { nil: undefined, freq: 2 }),
  changes: fc.array(fc.tuple(fc.nat({ max: POOL.length - 1 }), report.map((r) => r[0])), {
    maxLength: 2,
  }),
  take: fc.constantFrom<Take>("ok", "ok", "ok", "rejected", "short", "cut", "killed", "down"),
  cutAt: fc.double({ min: 0, max: 1, noNaN: true }),
  full: fc.constantFrom(false, false, false, true),
  skipped: fc.constantFrom(0, 0, 0, 1, 3), // nights without a run before this one
});

function reportXml(r: Report, titles: number): string {
  const hosts = POOL.flatMap((ip, i) => {
    const fs = r[i];
    if (fs === undefined) return [];
    return [
      `<HOST><IP>${ip}</IP><VULN_INFO_LIST>${
        fs.map(([q, port, proto]) =>
          `<VULN_INFO><QID id="qid_${q}">${q}</QID>` +
          (port ? `<PORT>${port}</PORT>` : "") +
          (proto ? `<PROTOCOL>${proto}</PROTOCOL>` : "") + "</VULN_INFO>"
        ).join("")
      }</VULN_INFO_LIST></HOST>`,
    ];
  });
  const glossary = QIDS.map((q) =>
    `<VULN_DETAILS id="qid_${q}"><QID>${q}</QID><TITLE>t${q} v${
      q === 101 ? titles : 0
    }</TITLE></VULN_DETAILS>`
  );
  return `<ASSET_DATA_REPORT><HOST_LIST>${hosts.join("")}</HOST_LIST><GLOSSARY>` +
    `<VULN_DETAILS_LIST>${glossary.join("")}</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>`;
}

/** The results the Defense Center holds from us at `ip`, as sorted `qid/port/proto` keys. */
function held(fmc: FmcState, ip: string): string[] {
  const results = fmc.netmap("Global").results.get(ip)?.get("QualysGuard");
  return [...(results?.values() ?? [])].map((r) => `${r.vulnId}/${r.port || 0}/${r.proto}`)
    .sort();
}

/** A report's findings of one host as the Defense Center would hold them. */
function expected(fs: Finding[]): string[] {
  // a port and a protocol make a place; either alone is none (as the report parser reads it)
  return [
    ...new Set(fs.map(([q, port, proto]) => port && proto ? `${q}/${port}/${proto}` : `${q}/0/`)),
  ].sort();
}

function fingerprints(keys: string[]): number[] {
  return keys.map((k) => {
    const [q, port, proto] = k.split("/");
    return resultFingerprint(Number(q), {
      port: Number(port),
      protocol: proto === "tcp" ? 1 : proto === "udp" ? 2 : 0,
    });
  }).sort((a, b) => a - b);
}

/** A Defense Center sink: the commands replayed as `take` says (one connection). */
function dcSink(fmc: FmcState, take: Take, cutAt: number): CommandSink {
  const parts: string[] = [];
  return {
    write(bytes) {
      parts.push(new TextDecoder().decode(bytes));
      return Promise.resolve();
    },
    seal: () => Promise.resolve({ where: "to send", delivered: false }),
    close() {
      const text = parts.join("");
      if (take === "down") return Promise.reject(new DcError("connection refused"));
      if (take === "cut" || take === "short") {
        const lines = text.split("\n").slice(0, -1);
        replayCommands(fmc, lines.slice(0, Math.floor(lines.length * cutAt)).join("\n") + "\n");
        // short: the Defense Center answered, but processed only part (a message it stopped, an
        // ERROR answer): exit 6, what it took of each host unknown
        if (take === "short") return Promise.reject(new DcRejectedError("processed fewer"));
        return Promise.reject(new DcError("connection lost", { retryable: true }));
      }
      replayCommands(fmc, text);
      // killed once the Defense Center has it all: the record is not saved (a kill skips it)
      if (take === "killed") return Promise.reject(new Error("killed"));
      if (take === "rejected") return Promise.reject(new DcRejectedError("rejected 1"));
      return Promise.resolve();
    },
    abort: () => Promise.resolve(),
  };
}

Deno.test("Report nights with the record: only what changed is sent, and the Defense Center ends as the reports say (fast-check)", async () => {
  const log = new Logger({ level: 0, stderr: false, stdout: false });
  await fc.assert(
    fc.asyncProperty(
      report,
      fc.array(night, { minLength: 1, maxLength: 6 }),
      fc.constantFrom(0, 1, 3, 7),
      async (first, nights, refreshDays) => {
        const dir = await Deno.makeTempDir({ prefix: "qc-record-nights-" });
        const fmc = new FmcState();
        let today = 20000, titles = 0, last = first;
        // what each address last held for sure, and whether a failed night may have touched it
        const lastHeld = new Map<string, string[]>();
        const unsure = new Set<string>();
        const runNight = async (
          r: Report,
          o: { take: Take; cutAt: number; full: boolean },
        ) => {
          const state = await openDestinationState(dir, {
            destination: DESTINATION,
            onDamaged: (m) => assert.fail(m),
          });
          const record: DeliveryRecord = {
            file: state.ledger!,
            today,
            refreshDays,
            sendAll: o.full,
            whole: false,
          };
          const parser = new ReportParser();
          parser.push(new TextEncoder().encode(reportXml(r, titles)));
          const delivery = reportDelivery(parser.end(), defaultConfig(), log, {
            record,
            release: state.release,
          });
          let code = 0;
          try {
            await deliver(delivery, {
              openSink: () => Promise.resolve(dcSink(fmc, o.take, o.cutAt)),
              log: NO_LOG,
            });
          } catch (error) {
            code = exitCodeOf(error);
          }
          assert.equal(code, { ok: 0, rejected: 6, short: 6, cut: 5, down: 5, killed: 1 }[o.take]);
          return o.take === "ok" || o.take === "rejected";
        };
        const checkRecord = async (when: string) => {
          const file = await LedgerFile.open(dir, { destination: DESTINATION });
          for (const e of file.ledger) {
            if (e.uncertain) continue;
            assert.deepEqual(
              [...e.fingerprints],
              fingerprints(held(fmc, e.address)),
              `${when}: ${e.address} is recorded as holding what it does not`,
            );
          }
        };
        const checkHosts = (r: Report, when: string) => {
          POOL.forEach((ip, i) => {
            const fs = r[i];
            if (fs !== undefined) {
              lastHeld.set(ip, expected(fs));
              unsure.delete(ip);
            }
            if (unsure.has(ip) || !lastHeld.has(ip)) return;
            assert.deepEqual(held(fmc, ip), lastHeld.get(ip), `${when}: ${ip}`);
          });
        };
        try {
          assert.ok(await runNight(first, { take: "ok", cutAt: 0, full: false }));
          checkHosts(first, "the first night");
          await checkRecord("the first night");
          for (const [k, n] of nights.entries()) {
            today += 1 + n.skipped;
            if (k % 3 === 2) titles++; // a glossary text changes now and then
            const r = [...(n.report ?? last)];
            for (const [i, fs] of n.changes) r[i] = fs;
            last = r;
            const whole = await runNight(r, n);
            if (whole) checkHosts(r, `night ${k + 2}`);
            else r.forEach((fs, i) => fs !== undefined && unsure.add(POOL[i]!));
            await checkRecord(`night ${k + 2}`);
          }
          // a last night lists every host: the Defense Center holds exactly what it says
          today++;
          const all: Report = POOL.map((_, i) => last[i] ?? []);
          assert.ok(await runNight(all, { take: "ok", cutAt: 0, full: false }));
          POOL.forEach((ip, i) => assert.deepEqual(held(fmc, ip), expected(all[i]!), ip));
          await checkRecord("the last night");
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    ),
    { numRuns: 60 },
  );
  await log.close();
});
