/**
 * Test helper: the detection sync run in-process against the Qualys API simulator, into a sink
 * that plays a destination (a Defense Center that takes all, part or none of the commands, and
 * whose record is kept; or a file), with a client whose waits take no time; each run is the
 * next day, for the rolling refresh. What each run delivered is kept, so a test
 * can replay it through the host input module's semantics.
 */

import { parseConfig, type QualysConfig } from "../../../lib/config/read_config.ts";
import { DcError, DcRejectedError, exitCodeOf } from "../../../lib/errors.ts";
import { Level } from "../../../lib/log/log.ts";
import { QualysClient } from "../../../lib/qualys/client.ts";
import type { CommandSink } from "../../../lib/sinks/sink.ts";
import {
  collectDetectionRun,
  type SyncSummary,
} from "../../../lib/sources/detections/sync/detection_run.ts";
import { deliver } from "../../../lib/pipeline/deliver.ts";
import { createTestCa } from "../../../scripts/sim/net/mod.ts";
import {
  type QualysSim,
  startQualysSim,
  type VmdrQuery,
  type VmdrSimOptions,
  VmdrSubscription,
  type VmdrSubscriptionOptions,
} from "../../../scripts/sim/qualys/mod.ts";
import { FmcState, replayCommands } from "../../../scripts/sim/fmc/mod.ts";

const CA = createTestCa("detection sync test CA");
const dec = new TextDecoder();

/** How the destination takes a run's commands. */
export type Delivery =
  /** Takes them all. */
  | "ok"
  /** Takes them all and rejects some (exit 6). */
  | "rejected"
  /** Takes the first part (whole lines), then the connection is lost (exit 5). */
  | "cut"
  /**
   * Takes the first part (whole lines) and answers (exit 6): an ERROR answer, a message it
   * stopped or processed short; what it took of each host is unknown.
   */
  | "short"
  /** Cannot be reached (exit 5): takes nothing. */
  | "down";

/** What a run did. */
export interface RunResult {
  /** Exit status the error means (0: none). */
  code: number;
  /** The error, if any. */
  error?: unknown;
  /** What the run's summary said (on success and exit 6). */
  summary?: SyncSummary;
  /** The commands the destination took (undefined: none). */
  delivered?: string;
  /** Warnings logged. */
  warnings: string[];
  /** Info lines logged. */
  infos: string[];
  /** Debug lines logged (`-level 3`), when the run asked for them. */
  debugs: string[];
}

/** Options of one run. */
export interface RunOptions {
  /** `-full`. */
  full?: boolean;
  /** How the destination takes the commands. @default {"ok"} */
  delivery?: Delivery;
  /** Where a "cut" delivery ends, as a share of the lines. @default {0.5} */
  cutAt?: number;
  /** Hosts per page. */
  pageSize?: number;
  /** QIDs per KB call. */
  kbBatchSize?: number;
  /** Cap on calls at once. */
  maxConcurrency?: number;
  /** Client retries. */
  maxRetries?: number;
  /** Another configuration for this run (see `Harness.configWith`). */
  config?: QualysConfig;
  /** Another destination name for this run (its deliveries are not added to `delivered`). */
  destination?: string;
  /** Log at `-level 3` too (`debugs`). */
  debug?: boolean;
  /**
   * What the destination is: a Defense Center (only what changed, and the rolling refresh), or
   * a file (a full sync, every host, every run). @default {"dc"}
   */
  kind?: "dc" | "file";
  /** `refresh_days` (0: every block sent, as before the record). @default {0} */
  refreshDays?: number;
  /** The run's day (`dayNumber`). @default the day after the harness's last run */
  day?: number;
  /** `-dry-run`. @default {false} */
  dryRun?: boolean;
}

/** A simulator, a state directory, and the runs made. */
export interface Harness {
  sim: QualysSim;
  sub: VmdrSubscription;
  /** The state directory. */
  stateDir: string;
  /** The parsed config. */
  config: QualysConfig;
  /** The destination's name. */
  destination: string;
  /** Every run's delivered commands, in order (the destination's history). */
  delivered: string[];
  /** The day of the last run (`dayNumber`); each run is the next day unless told. */
  day: number;
  /** Client waits asked for (ms). */
  waits: number[];
  /** One sync. */
  run(options?: RunOptions): Promise<RunResult>;
  /** The configuration with extra YAML lines (e.g. another scanner_name). */
  configWith(yaml: string): Promise<QualysConfig>;
  /** The state file's checkpoint (undefined: no file). */
  checkpoint(): Promise<string | undefined>;
}

/** Options of {@linkcode withHarness}. */
export interface HarnessOptions {
  /** The subscription's model. */
  model?: VmdrSubscriptionOptions;
  /** Simulator options. */
  sim?: Omit<Partial<VmdrSimOptions>, "subscription">;
  /** Extra YAML lines (filters). */
  yaml?: string;
  /** The subscription to serve (a subclass that models IP changes, ...); else one from `model`. */
  subscription?: VmdrSubscription;
}

/** Runs `body` with a fresh simulator and state directory; stops and removes them after. */
export async function withHarness(
  options: HarnessOptions,
  body: (h: Harness) => Promise<void>,
): Promise<void> {
  const sub = options.subscription ?? new VmdrSubscription({
    seed: 7,
    hosts: 40,
    detectionsPerHost: 6,
    qids: 80,
    ...options.model,
  });
  const sim = await startQualysSim({ vmdr: { ...options.sim, subscription: sub } }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "vmdr-sync-test-" });
  const config = await parseConfig(
    `user_id: sim_user\npassword: sim_pass\nurl: ${sim.url}\nsource: detections\n${
      options.yaml ?? ""
    }`,
    `${dir}/QualysGuard.yaml`,
  );
  const delivered: string[] = [];
  const waits: number[] = [];
  const stateDir = `${dir}/state`;
  const h: Harness = {
    sim,
    sub,
    stateDir,
    config,
    destination: "dc 127.0.0.1:8307",
    delivered,
    waits,
    day: 20000,
    async run(o = {}) {
      h.day = o.day ?? h.day + 1;
      const warnings: string[] = [], infos: string[] = [], debugs: string[] = [];
      const client = QualysClient.open({
        url: sim.url,
        userId: "sim_user",
        password: "sim_pass",
        caPem: sim.caPem,
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
        random: () => 0.5,
        ...(o.maxRetries !== undefined ? { maxRetries: o.maxRetries } : {}),
      });
      const result: RunResult = { code: 0, warnings, infos, debugs };
      try {
        const log = {
          error: (m: string) => warnings.push(m),
          info: (m: string) => infos.push(m),
          warn: (m: string) => warnings.push(m),
          debug: (m: string) => o.debug && debugs.push(m),
          enabled: (level: number) => level <= (o.debug ? Level.Debug : Level.Info),
        };
        const run = await collectDetectionRun({
          client,
          config: o.config ?? config,
          destination: o.destination ?? h.destination,
          stateDir,
          full: o.full ?? false,
          target: {
            kind: o.kind ?? "dc",
            refreshDays: o.refreshDays ?? 0,
            full: o.full ?? false,
            today: h.day,
            dryRun: o.dryRun ?? false,
          },
          log,
          ...(o.pageSize ? { pageSize: o.pageSize } : {}),
          ...(o.kbBatchSize ? { kbBatchSize: o.kbBatchSize } : {}),
          maxConcurrency: o.maxConcurrency,
        });
        const done = await deliver(run, {
          openSink: () => Promise.resolve(sink(o, (text) => (result.delivered = text))),
          log,
          dryRun: o.dryRun ?? false,
        });
        result.summary = run.summarize(done.written!);
      } catch (error) {
        result.error = error;
        result.code = exitCodeOf(error);
      } finally {
        await client.close();
        await sim.idle();
      }
      if (result.delivered !== undefined && o.destination === undefined) {
        delivered.push(result.delivered);
      }
      return result;
    },
    configWith(yaml: string) {
      return parseConfig(
        `user_id: sim_user\npassword: sim_pass\nurl: ${sim.url}\nsource: detections\n${
          options.yaml ?? ""
        }${yaml}`,
        `${dir}/QualysGuard.yaml`,
      );
    },
    async checkpoint() {
      let names: string[];
      try {
        names = [...Deno.readDirSync(stateDir)].map((e) => e.name);
      } catch {
        return undefined;
      }
      const name = names.find((n) => /^sync-.*\.json$/.test(n));
      if (!name) return undefined;
      return JSON.parse(await Deno.readTextFile(`${stateDir}/${name}`)).checkpoint;
    },
  };
  try {
    await body(h);
  } finally {
    await sim.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

function sink(o: RunOptions, deliver: (text: string) => void): CommandSink {
  const parts: Uint8Array[] = [];
  return {
    write(bytes) {
      parts.push(bytes.slice());
      return Promise.resolve();
    },
    seal() {
      return Promise.resolve({ where: "sent to the test destination", delivered: true });
    },
    close() {
      const text = parts.map((p) => dec.decode(p)).join("");
      const delivery = o.delivery ?? "ok";
      if (delivery === "down") return Promise.reject(new DcError("connect refused"));
      if (delivery === "cut" || delivery === "short") {
        const lines = text.split("\n").slice(0, -1);
        const n = Math.floor(lines.length * (o.cutAt ?? 0.5));
        deliver(lines.slice(0, n).map((l) => `${l}\n`).join(""));
        if (delivery === "short") {
          return Promise.reject(new DcRejectedError("The Defense Center processed fewer"));
        }
        return Promise.reject(new DcError("connection lost", { retryable: true }));
      }
      deliver(text);
      if (delivery === "rejected") {
        return Promise.reject(new DcRejectedError("The Defense Center rejected 1 command(s)"));
      }
      return Promise.resolve();
    },
    abort() {
      return Promise.resolve();
    },
  };
}

/** Replays every delivered command file, in order (each as one connection), on a fresh DC. */
export function replayAll(delivered: readonly string[]): FmcState {
  const fmc = new FmcState();
  for (const text of delivered) replayCommands(fmc, [text]);
  return fmc;
}

/** The DC's QualysGuard results as `ip|qid|port|proto` keys. */
export function dcKeys(fmc: FmcState, scanner = "QualysGuard"): Set<string> {
  const keys = new Set<string>();
  for (const [ip, byScanner] of Object.entries(fmc.netmap("Global").dump())) {
    for (const r of byScanner[scanner] ?? []) keys.add(`${ip}|${r.vulnId}|${r.port}|${r.proto}`);
  }
  return keys;
}

/** The ground truth for a harness's filters. */
export function truth(sub: VmdrSubscription, query: VmdrQuery = {}): Set<string> {
  return sub.openDetectionKeys(query);
}

/** Differences of two key sets, for assertion messages. */
export function diff(actual: Set<string>, expected: Set<string>): string {
  const extra = [...actual].filter((k) => !expected.has(k));
  const missing = [...expected].filter((k) => !actual.has(k));
  return `extra ${extra.length} ${extra.slice(0, 5).join(" ")}; missing ${missing.length} ${
    missing.slice(0, 5).join(" ")
  }`;
}
