/**
 * What the ledger bench (`bench_ledger.ts`) needs of the record besides the connector's runs:
 *
 * - {@linkcode ageRecord}: a record made a day older, so that the next run is "a day later"
 *   without setting the connector's clock. The record's days are all a run reads of the clock
 *   for the rolling refresh (`lib/ledger/refresh.ts`: a host is due by its day and the day of
 *   its last send): a night after a record of day D−1 sends what a night on day D+1 after a
 *   record of day D does (each refreshes the 1/`refresh_days` of the hosts whose slot is that
 *   day, chosen by a hash of the address).
 * - {@linkcode timeComparison}: the time the record's work takes a run, taken in a process of
 *   its own with the connector's permissions and V8 flags (`connector_command.ts`), on the
 *   night's hosts and the record as it was before the night: the record read, each host's block
 *   digested and compared with it (`CommandEncoder.hostDigest`, `BlockComparer.decide`, as the
 *   block writer calls them), the addresses a run to a Defense Center lists for the rolling
 *   refresh (the detection source's incremental run fetches them), the pending list and the new
 *   record written (synced). The replay of the hosts, which a run makes to encode them anyway,
 *   is timed alone and given apart (`replaySeconds`).
 *
 * Run as a child (`deno run ... scripts/bench_ledger_timing.ts JOB.json`), it reads a
 * {@linkcode TimingJob}, times each night `runs` times and prints one JSON line: each night's
 * `seconds` and `replaySeconds` per run, and its hosts.
 *
 * @module
 */

import { CommandEncoder } from "../lib/encode/encoder.ts";
import type { FindingSource, GlossaryEntry } from "../lib/findings/finding_source.ts";
import { LedgerFile } from "../lib/ledger/ledger_file.ts";
import { dayNumber } from "../lib/ledger/refresh.ts";
import { BlockComparer } from "../lib/pipeline/compare_blocks.ts";
import { parseReport } from "../lib/sources/report/parse_report.ts";
import { DETECTION_MEMORY, type MemoryBudget, REPORT_MEMORY } from "../lib/util/memory.ts";
import { VmdrSubscription, type VmdrSubscriptionOptions } from "./sim/qualys/mod.ts";

/** The record's file in a state directory (`ledger-<stem>.bin`), if there is one. */
export async function recordFile(stateDir: string): Promise<string | undefined> {
  try {
    for await (const e of Deno.readDir(stateDir)) {
      if (e.isFile && /^ledger-[0-9a-f]{16}\.bin$/.test(e.name)) return `${stateDir}/${e.name}`;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return undefined;
}

/**
 * Makes the record of `destination` in `stateDir` `days` days older: every address's last send
 * moves back by `days`, its digest and results stay, through the ledger's own reader and writer.
 * Resolves to the number of addresses.
 *
 * @throws {Error} When there is no record, or it is damaged (it would read as empty), or an
 * address's delivery is uncertain (a record a run left whole has none).
 */
export async function ageRecord(
  stateDir: string,
  options: { destination: string; days?: number },
): Promise<number> {
  const days = options.days ?? 1;
  let damaged: string | undefined;
  using file = await LedgerFile.open(stateDir, {
    destination: options.destination,
    onDamaged: (m) => damaged = m,
  });
  if (damaged !== undefined) throw new Error(damaged);
  const ledger = file.ledger;
  if (ledger.size === 0) throw new Error(`no record of ${options.destination} in ${stateDir}`);
  // one builder per day recorded: a builder sets its own day on every address it is given
  const byDay = new Map<number, string[]>();
  for (const e of ledger) {
    if (e.uncertain) throw new Error(`${e.address}: its last delivery is uncertain`);
    (byDay.get(e.lastSentDay) ?? byDay.set(e.lastSentDay, []).get(e.lastSentDay)!).push(e.address);
  }
  if (byDay.size !== 1) {
    throw new Error(`the record holds ${byDay.size} days: ageRecord ages one night's record`);
  }
  const [day] = [...byDay.keys()];
  const next = ledger.builder({ today: day! - days });
  for (const e of ledger) {
    next.set(e.address, { digest: e.digest.slice(), fingerprints: e.fingerprints.slice() });
  }
  await file.save(next);
  return ledger.size;
}

/** One night to time the record's work on. */
export interface ComparisonNight {
  /** The directory holding the record as it was before the night (none there: an empty one). */
  recordDir: string;
  /** The destination key (`dc 127.0.0.1:8307`). */
  destination: string;
  /** `refresh_days`. */
  refreshDays: number;
  /** The day of the night (`dayNumber`). @default today */
  today?: number;
  /** A full delivery (a detection full sync): the addresses it does not name are forgotten. */
  whole: boolean;
  /** The addresses due for the rolling refresh are listed first (a detection incremental run). */
  listDue: boolean;
}

/** What {@linkcode timeComparison} measured. */
export interface ComparisonTime {
  /** Seconds of the record's work, the replay of the hosts included. */
  seconds: number;
  /** Seconds of the replay of the hosts alone (a run makes it to encode them anyway). */
  replaySeconds: number;
  /** Hosts compared. */
  hosts: number;
  /** Of them, hosts whose block the comparison sends. */
  sent: number;
  /** Addresses listed as due for the rolling refresh (with `listDue`). */
  due: number;
  /** Bytes of the record written. */
  recordBytes: number;
}

/**
 * Times the record's work on `findings` for `night`, on a copy of the record (the original is
 * left as it is).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const host = { ip: "10.0.0.1", count: 1, qids: Uint32Array.of(6), ports: new Uint16Array(1),
 *   protos: new Uint8Array(1) };
 * const findings = { glossary: new Map(), forEachHost: (on: (h: typeof host) => void) =>
 *   Promise.resolve(on(host)), dispose() {} };
 * const dir = await Deno.makeTempDir();
 * const t = await timeComparison(findings, { recordDir: dir, destination: "dc 10.0.0.1:8307",
 *   refreshDays: 7, whole: false, listDue: false });
 * assert.deepEqual([t.hosts, t.sent], [1, 1]);
 * assert.ok(t.recordBytes > 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function timeComparison(
  findings: FindingSource,
  night: ComparisonNight,
  options: { memory?: MemoryBudget } = {},
): Promise<ComparisonTime> {
  const memory = options.memory ?? REPORT_MEMORY;
  const copy = await Deno.makeTempDir({ prefix: "qc-bench-record-" });
  try {
    const from = await recordFile(night.recordDir);
    if (from) await Deno.copyFile(from, `${copy}/${from.slice(from.lastIndexOf("/") + 1)}`);
    let hosts = 0;
    let t = performance.now();
    await findings.forEachHost(() => void hosts++);
    const replaySeconds = (performance.now() - t) / 1000;
    t = performance.now();
    using file = await LedgerFile.open(copy, { destination: night.destination });
    const today = night.today ?? dayNumber(new Date());
    let due = 0;
    if (night.listDue) {
      for (const _ of file.ledger.due({ day: today, refreshDays: night.refreshDays })) due++;
    }
    const compare = new BlockComparer({
      file,
      today,
      refreshDays: night.refreshDays,
      sendAll: false,
      whole: night.whole,
    });
    const enc = new CommandEncoder(findings.glossary, { qidCacheBytes: memory.qidCacheBytes });
    const digest = new Uint8Array(8);
    let sent = 0;
    try {
      await findings.forEachHost((host) => {
        if (enc.hostDigest(host, digest) && compare.decide(host, digest)) sent++;
      });
    } finally {
      enc.dispose();
    }
    if (night.whole) compare.next.dropUntouched();
    await file.markUncertain(compare.next);
    const recordBytes = await file.save(compare.next);
    const seconds = (performance.now() - t) / 1000 + replaySeconds;
    return { seconds, replaySeconds, hosts, sent, due, recordBytes };
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
}

/** A parsed report's hosts and glossary, as the connector parses it (`-report`). */
export async function reportFindings(path: string): Promise<FindingSource> {
  using file = await Deno.open(path);
  return await parseReport(file, {});
}

/**
 * The open detections of a simulated subscription (the Qualys simulator's, built from the same
 * options and advanced `days` days), as hosts and a glossary: the hosts a detection full sync
 * sends, with the KnowledgeBase's titles, diagnoses and IDs.
 */
export function subscriptionFindings(
  options: VmdrSubscriptionOptions,
  days: number,
): FindingSource {
  const sub = new VmdrSubscription(options);
  for (let d = 0; d < days; d++) sub.advanceDay();
  const open = sub.openDetections();
  let total = 0;
  for (const list of open.values()) total += list.length;
  const qids = new Uint32Array(total), ports = new Uint16Array(total);
  const protos = new Uint8Array(total), ips: string[] = [], starts = new Uint32Array(open.size + 1);
  const glossary = new Map<number, GlossaryEntry>();
  let k = 0;
  for (const [ip, list] of open) {
    for (const d of list) {
      qids[k] = d.qid;
      ports[k] = d.port ?? 0;
      protos[k++] = d.protocol === "tcp" ? 1 : d.protocol === "udp" ? 2 : 0;
      if (glossary.has(d.qid)) continue;
      const kb = sub.kbEntry(d.qid);
      if (!kb?.inKb) continue;
      glossary.set(d.qid, {
        qid: d.qid,
        title: kb.title,
        description: kb.diagnosis ?? "",
        cves: kb.cves.map((c) => c.id),
        bugtraqs: kb.bugtraqs.map((b) => b.id),
      });
    }
    ips.push(ip);
    starts[ips.length] = k;
  }
  return {
    glossary,
    async forEachHost(onHost) {
      for (let h = 0; h < ips.length; h++) {
        const [a, b] = [starts[h]!, starts[h + 1]!];
        await onHost({
          ip: ips[h]!,
          count: b - a,
          qids: qids.subarray(a, b),
          ports: ports.subarray(a, b),
          protos: protos.subarray(a, b),
        });
      }
    },
    dispose() {},
  };
}

/** What the child process is asked to time. */
export interface TimingJob {
  /** The nights' hosts: a report file each, or the simulator's subscription on a day each. */
  source:
    | { kind: "report"; reports: string[] }
    | { kind: "detections"; subscription: VmdrSubscriptionOptions; days: number[] };
  /** The nights, in the order of `source`'s. */
  nights: ComparisonNight[];
  /** Times each night is timed. */
  runs: number;
}

/** The child's answer: per night, each run's figures. */
export type TimingAnswer = ComparisonTime[][];

if (import.meta.main) {
  const job: TimingJob = JSON.parse(await Deno.readTextFile(Deno.args[0]!));
  const s = job.source;
  const memory = s.kind === "report" ? REPORT_MEMORY : DETECTION_MEMORY;
  const sources = s.kind === "report"
    ? await Promise.all(s.reports.map(reportFindings))
    : s.days.map((d) => subscriptionFindings(s.subscription, d));
  const answer: TimingAnswer = job.nights.map(() => []);
  for (let r = 0; r < job.runs; r++) {
    for (const [i, night] of job.nights.entries()) {
      answer[i]!.push(await timeComparison(sources[i]!, night, { memory }));
    }
  }
  for (const f of sources) f.dispose();
  console.log(JSON.stringify(answer));
}
