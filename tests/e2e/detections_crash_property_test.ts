/**
 * Crash safety of the detection source, with the real CLI (`main.ts` as a child process): over
 * simulated days (fixes, re-openings, new hosts, purged hosts, hosts that move, two hosts on one
 * address), each day's run is killed (SIGKILL: no clean-up, no state note) once or twice at a
 * random moment while it fetches, parses and encodes, or sends to a slow Defense Center, and
 * then a normal run goes through. After it, what the Defense Center simulator holds (the host
 * input module's semantics: a connection that ends runs what it queued as ScanUpdate) is exactly
 * the simulated truth: every open detection of every host in Qualys, merged per address.
 *
 * A kill comes at the k-th host or KnowledgeBase entry the Qualys simulator writes (fetching), at
 * the k-th DATA message the Defense Center receives (sending), or after a time since the start
 * (any phase, encoding included); k and the time are shares of what the last normal run (an
 * incremental one: a first day goes by without kills) took, k at most half of it so that a
 * smaller day still gets there. Each history's first killed day is killed while fetching at
 * least once, its second while sending. The seed is printed; `QC_CRASH_SEED=<seed>` runs that one
 * again.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { connectorArgs } from "../../scripts/connector_command.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { type DcSim, startDcSim } from "../../scripts/sim/fmc/mod.ts";
import {
  type DetectionRecord,
  type QualysSim,
  startQualysSim,
  type VmdrQuery,
} from "../../scripts/sim/qualys/mod.ts";
import { MovingSubscription, unionTruth } from "../sources/detections/_moving_sub.ts";

const CA = createTestCa("crash property CA");
const dec = new TextDecoder();

/** A subscription that tells when the Qualys simulator writes a host's detections or a KB entry. */
class WatchedSubscription extends MovingSubscription {
  onRecord: (() => void) | undefined;

  override forEachDetection(
    index: number,
    query: VmdrQuery,
    visit: (d: DetectionRecord) => void,
  ): void {
    this.onRecord?.();
    super.forEachDetection(index, query, visit);
  }

  override kbEntry(qid: number) {
    this.onRecord?.();
    return super.kbEntry(qid);
  }
}

type Kill = { at: "qualys" | "gap" | "dc" | "time"; share: number };

const kill: fc.Arbitrary<Kill> = fc.record({
  at: fc.constantFrom<Kill["at"]>("qualys", "gap", "dc", "time"),
  share: fc.double({ min: 0, max: 0.999, noNaN: true }),
});

const day = fc.record({
  changes: fc.record({
    scanShare: fc.double({ min: 0.15, max: 0.5, noNaN: true }),
    fixShare: fc.double({ min: 0, max: 0.5, noNaN: true }),
    reopenShare: fc.double({ min: 0, max: 0.3, noNaN: true }),
    allFixedHosts: fc.integer({ min: 0, max: 2 }),
    newHosts: fc.integer({ min: 0, max: 2 }),
    purgedHosts: fc.integer({ min: 0, max: 2 }),
    modifiedQids: fc.integer({ min: 0, max: 3 }),
  }),
  // hosts scanned that day that Qualys now has at another address: a new one, or another host's
  moves: fc.array(fc.tuple(fc.nat(), fc.option(fc.nat(), { nil: undefined })), { maxLength: 2 }),
  kills: fc.array(kill, { minLength: 1, maxLength: 2 }),
});

type Day = typeof day extends fc.Arbitrary<infer T> ? T : never;

function dcKeys(dc: DcSim): Set<string> {
  const keys = new Set<string>();
  for (const [ip, byScanner] of Object.entries(dc.dump())) {
    for (const r of byScanner.QualysGuard ?? []) keys.add(`${ip}|${r.vulnId}|${r.port}|${r.proto}`);
  }
  return keys;
}

function diff(actual: Set<string>, expected: Set<string>): string {
  const extra = [...actual].filter((k) => !expected.has(k));
  const missing = [...expected].filter((k) => !actual.has(k));
  return `extra ${extra.length} ${extra.slice(0, 5).join(" ")}; missing ${missing.length} ${
    missing.slice(0, 5).join(" ")
  }`;
}

/** What a run that went through took: the reference for where the next kills fall. */
interface Took {
  /** Hosts and KnowledgeBase entries the Qualys simulator wrote. */
  records: number;
  /** DATA messages the Defense Center received. */
  messages: number;
  /** Milliseconds from the start: to the end of the last Qualys answer, to the first DATA
   * message, to the end. */
  fetched: number;
  sending: number;
  ms: number;
}

/** Where kills landed, over the whole property. */
const landed: Record<string, number> = {};

async function oneHistory(seed: number, days: Day[]): Promise<void> {
  const sub = new WatchedSubscription({
    seed,
    hosts: 24,
    detectionsPerHost: 4,
    qids: 60,
    changes: { purgedHosts: 0 },
  });
  let onMessage: (() => void) | undefined;
  const q: QualysSim = await startQualysSim({
    vmdr: { subscription: sub, pageLatencyMs: 5, keepAlive: "some" },
  }, { ca: CA });
  // slow: each answer waits, so that sending spans many moments
  const script = { maxSize: 1024, slowResponseMs: 4, onMessage: () => onMessage?.() };
  const dc = await startDcSim(script, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-crash-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.mkdir(`${dir}/tmp`);
    await Deno.writeTextFile(`${dir}/ca.pem`, q.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: 'sim_pass'\nurl: ${q.url}\nca_file: ${dir}/ca.pem\n` +
        "source: detections\n",
      { mode: 0o600 },
    );
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const args = [
      `-server=${dc.host}`,
      `-port=${dc.port}`,
      "-pkcs12=CertFile.pkcs12",
      "-plugininfo=InputPlugins/QualysGuard.yaml",
    ];

    /** One run of the CLI, killed as `plan` says (if it gets that far). */
    const run = async (plan?: { kill: Kill; took: Took }) => {
      let records = 0, messages = 0;
      const connections = dc.connections, calls = q.log.length;
      const child = new Deno.Command(Deno.execPath(), {
        args: connectorArgs(args),
        cwd: dir,
        env: { NO_COLOR: "1", QC_PKCS12_PASSWORD: "pw", TMPDIR: `${dir}/tmp` },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      const start = performance.now();
      let phase: string | undefined;
      const stop = (why: string) => {
        if (phase !== undefined) return;
        // The run's first connection to the DC is the check before its work: not "connecting".
        phase = why === "time"
          ? messages > 0
            ? "sending"
            : dc.connections > connections + 1
            ? "connecting"
            : records > 0 && q.log.slice(calls).every((e) => e.done)
            ? "parsing and encoding"
            : records > 0
            ? "fetching"
            : "starting"
          : why;
        try {
          child.kill("SIGKILL");
        } catch { /* it has ended */ }
      };
      const k = plan?.kill;
      const target = (n: number) => 1 + Math.floor(k!.share * (n - 1) / 2);
      sub.onRecord = () => {
        records++;
        if (k?.at === "qualys" && records === target(plan!.took.records)) stop("fetching");
      };
      let sending = 0;
      onMessage = () => {
        if (messages++ === 0) sending = performance.now() - start;
        if (k?.at === "dc" && messages === target(plan!.took.messages)) stop("sending");
      };
      const t = plan?.took;
      const delay = k?.at === "time"
        ? k.share * t!.ms
        : k?.at === "gap"
        ? t!.fetched + k.share * Math.max(0, t!.sending - t!.fetched) // parsing, encoding
        : undefined;
      const timer = delay === undefined ? 0 : setTimeout(() => stop("time"), delay);
      const out = await output;
      const ms = performance.now() - start;
      clearTimeout(timer);
      sub.onRecord = onMessage = undefined;
      await q.idle();
      await dc.idle();
      const fetched = Math.max(...q.log.slice(calls).map((e) => e.endMs ?? 0)) - start;
      return {
        out,
        phase: out.signal === "SIGKILL" ? phase : undefined, // else it had ended first
        took: { records, messages, fetched, sending, ms },
        text: dec.decode(out.stdout) + dec.decode(out.stderr),
      };
    };

    const expectTruth = (when: string) => {
      const got = dcKeys(dc), want = unionTruth(sub);
      assert.deepEqual(got, want, `${when}: ${diff(got, want)}`);
    };
    const first = await run();
    assert.equal(first.out.code, 0, first.text);
    expectTruth("the first night");
    let fresh = 0;
    // a first day without kills: its incremental run is the measure of the next one
    sub.advanceDay({ scanShare: 0.25, purgedHosts: 1 });
    const warm = await run();
    assert.equal(warm.out.code, 0, warm.text);
    expectTruth("the first incremental night");
    let took = warm.took;
    for (const [i, d] of days.entries()) {
      const yesterday = sub.clock;
      sub.advanceDay(d.changes);
      const scanned = sub.pick({ processedAfter: yesterday });
      for (const [which, onto] of d.moves) {
        if (scanned.length === 0) break;
        const host = scanned[which % scanned.length]!;
        sub.moveIpv4(
          host,
          onto === undefined ? `10.250.0.${++fresh}` : sub.hostAddress(onto % sub.hostCount),
        );
      }
      for (const [j, k] of d.kills.entries()) {
        const forced = j === 0 && i < 2
          ? { ...k, at: i === 0 ? "qualys" as const : "dc" as const }
          : k;
        const r = await run({ kill: forced, took });
        const where = r.phase ?? "not killed: it ended first";
        landed[where] = (landed[where] ?? 0) + 1;
        if (r.phase === undefined) assert.equal(r.out.code, 0, r.text);
      }
      const normal = await run();
      assert.equal(normal.out.code, 0, normal.text);
      expectTruth(`day ${i + 1}, after its normal run`);
      took = normal.took;
    }
  } finally {
    await q.shutdown();
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("detection source, the real CLI killed (SIGKILL) while fetching, encoding and sending, then run again: the Defense Center holds exactly what Qualys has (fast-check)", async () => {
  const env = Deno.env.get("QC_CRASH_SEED");
  const seed = env ? Number(env) : Date.now() % 2_147_483_647;
  console.log(`crash property: fast-check seed ${seed} (QC_CRASH_SEED=${seed} runs it again)`);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(day, { minLength: 2, maxLength: 3 }),
        oneHistory,
      ),
      { seed, numRuns: 4, endOnFailure: true },
    );
  } finally {
    console.log(`crash property: where the kills landed: ${JSON.stringify(landed)}`);
  }
  // the kills did land, in each way of picking their moment
  assert.ok((landed.fetching ?? 0) > 0, JSON.stringify(landed));
  assert.ok((landed.sending ?? 0) > 0, JSON.stringify(landed));
});
