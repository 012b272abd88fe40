/**
 * The record of what each destination holds (issue 20), with the real CLI: a Defense Center
 * gets only what changed; `-dry-run` says what a run would send and leaves every file (bytes and
 * modification time) and the Defense Center as they were; a damaged record means one full send,
 * warned; without a plugin YAML nothing is kept; `-multiinfo` templates that share a host leave
 * it as full sends would; a detection run to a CSV writes the whole picture every time; a run
 * killed (SIGKILL) at any DATA message of its send, then a normal run: nothing lost, nothing
 * stale.
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { type DcSim, startDcSim } from "../../scripts/sim/fmc/mod.ts";
import { startQualysSim, VmdrSubscription } from "../../scripts/sim/qualys/mod.ts";
import { runMain } from "../_cli.ts";
import { adr, results, type V, withTwoTemplates } from "./_nights.ts";
import { connectorArgs } from "../../scripts/connector_command.ts";

const CA = createTestCa("record e2e CA");

/** Every file under `dir`: its bytes and modification time. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) {
        out.set(`${path}/`, "directory");
        await walk(path);
      } else {
        const st = await Deno.stat(path);
        const bytes = await Deno.readFile(path);
        out.set(path, `${bytes.length} ${st.mtime?.getTime()} ${bytes.join(",").length}`);
        out.set(`${path}#`, new TextDecoder().decode(bytes));
      }
    }
  };
  await walk(dir);
  return out;
}

const HOSTS: [string, V[]][] = Array.from({ length: 12 }, (_, i) => [
  `10.9.0.${i + 1}`,
  [[100 + (i % 3)], [200, 443]],
]);

interface Setup {
  dir: string;
  dc: DcSim;
  /** Runs the connector on `xml` to the Defense Center. */
  night(xml: string, extra?: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

async function withDc(yaml: string, body: (s: Setup) => Promise<void>): Promise<void> {
  const dc = await startDcSim({ maxSize: 4096 }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-record-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/InputPlugins/QualysGuard.yaml`, yaml, { mode: 0o600 });
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const night = async (xml: string, extra: string[] = []) => {
      const old = await Deno.readTextFile(`${dir}/night.xml`).catch(() => undefined);
      if (old !== xml) await Deno.writeTextFile(`${dir}/night.xml`, xml);
      const r = await runMain(
        [`-server=${dc.host}`, `-port=${dc.port}`, "-pa", "pw", "-r", "night.xml", ...extra],
        { cwd: dir },
      );
      await dc.idle();
      return r;
    };
    await body({ dir, dc, night });
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

// A refresh long enough that a run crossing midnight refreshes none of the dozen hosts
const NO_REFRESH_TODAY = "refresh_days: 3650\n";

Deno.test("A Defense Center gets only what changed; -dry-run says so per host and touches no file and not the Defense Center", async () => {
  await withDc(NO_REFRESH_TODAY, async ({ dir, dc, night }) => {
    const first = await night(adr(HOSTS));
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const state = [...Deno.readDirSync(`${dir}/InputPlugins/QualysGuard.state`)].map((e) => e.name);
    assert.ok(state.some((n) => /^ledger-[0-9a-f]{16}\.bin$/.test(n)), state.join(" "));
    assert.ok(state.some((n) => /^sync-[0-9a-f]{16}\.lock$/.test(n)), state.join(" "));
    // the next night: .1 gains a finding and loses one, .2 has none open, .13 is new
    const next: [string, V[]][] = [...HOSTS];
    next[0] = ["10.9.0.1", [[100], [300, 22]]];
    next[1] = ["10.9.0.2", []];
    next.push(["10.9.0.13", [[100]]]);
    await Deno.writeTextFile(`${dir}/night.xml`, adr(next));
    const before = await snapshot(dir), held = results(dc);
    const messages = dc.messages, payloads = dc.payloads.length;
    const dry = await night(adr(next), ["-dry-run", "-level", "3"]);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /\[DEBUG\] 10\.9\.0\.1: changed \(\+1 \u22121 results\)/);
    assert.match(dry.stdout, /\[DEBUG\] 10\.9\.0\.2: cleared/);
    assert.match(dry.stdout, /\[DEBUG\] 10\.9\.0\.13: added \(1 results\)/);
    assert.match(dry.stdout, /\[DEBUG\] 10\.9\.0\.3: unchanged, not sent/);
    const totals =
      /Dry run: a real run would send (\d+) lines \((\d+) bytes\): 1 host added, 1 changed \(\+1 \u22121 results\), 1 cleared, (\d+) unchanged \(not sent\), (\d+) refreshed/
        .exec(dry.stdout);
    assert.ok(totals, dry.stdout);
    assert.deepEqual([totals[3], totals[4]], ["10", "0"]);
    assert.deepEqual(await snapshot(dir), before, "no file was written, touched or removed");
    assert.deepEqual(results(dc), held);
    assert.equal(dc.messages, messages);
    assert.equal(dc.payloads.length, payloads);
    // the real run sends what the dry run said, and no more
    const real = await night(adr(next));
    assert.equal(real.code, 0, real.stdout + real.stderr);
    const sent = /Sent (\d+) lines in/.exec(real.stdout);
    assert.equal(sent?.[1], totals[1]);
    assert.match(
      real.stdout,
      /Summary: 2 hosts with 3 AddScanResult lines and 1 host cleared, sent to the Defense Center [^;]+; 10 hosts unchanged, not sent; 0 hosts sent again unchanged; /,
    );
    assert.deepEqual(
      results(dc),
      Object.fromEntries(
        next.filter(([, vs]) => vs.length > 0).map((
          [ip, vs],
        ) => [ip, vs.map(([q, p]) => `${q}/${p ?? "-"}`).sort()]).sort(),
      ),
    );
    // -full: every host this run
    const full = await night(adr(next), ["-full"]);
    assert.match(
      full.stdout,
      /Summary: 12 hosts with 23 AddScanResult lines and 1 host cleared, sent to the Defense Center [^;]+; 0 hosts unchanged, not sent; 13 hosts sent again unchanged; /,
    );
  });
});

Deno.test("-dry-run to a CSV leaves the file and the state as they were, and exits as a real run would before sending", async () => {
  await withDc("", async ({ dir, night }) => {
    const csv = await night(adr(HOSTS), ["-c", "out.csv"]);
    assert.equal(csv.code, 0, csv.stdout + csv.stderr);
    const before = await snapshot(dir);
    const next = adr([...HOSTS.slice(1), ["10.9.0.99", [[100]]]]);
    await Deno.writeTextFile(`${dir}/night.xml`, next);
    const snap = await snapshot(dir);
    assert.notDeepEqual(snap, before); // the report changed, nothing else
    const dry = await night(next, ["-c", "out.csv", "-dry-run"]);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    // a file gets the whole picture: every host counts, the unchanged ones as refreshed
    assert.match(
      dry.stdout,
      /1 host added, 0 changed .*, 0 cleared, 0 unchanged \(not sent\), 11 refreshed/,
    );
    assert.deepEqual(await snapshot(dir), snap);
    // a report that cannot be parsed: exit 4 as a real run, nothing written
    await Deno.writeTextFile(`${dir}/night.xml`, "<ASSET_DATA_REPORT><HOST_LIST>");
    const broken = await runMain(["-r", "night.xml", "-c", "out.csv", "-dry-run"], { cwd: dir });
    assert.equal(broken.code, 4, broken.stderr);
  });
});

Deno.test("A damaged record is warned and means one full send; the next run sends only what changed", async () => {
  await withDc(NO_REFRESH_TODAY, async ({ dir, dc, night }) => {
    assert.equal((await night(adr(HOSTS))).code, 0);
    const stateDir = `${dir}/InputPlugins/QualysGuard.state`;
    const ledger = [...Deno.readDirSync(stateDir)].find((e) => e.name.startsWith("ledger-"))!;
    const bytes = await Deno.readFile(`${stateDir}/${ledger.name}`);
    bytes[bytes.length - 20]! ^= 0xff;
    await Deno.writeFile(`${stateDir}/${ledger.name}`, bytes);
    dc.map.clear(); // so that what the full send brings is seen
    const again = await night(adr(HOSTS));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(
      again.stdout,
      /\[WARNING\] .*ledger-[0-9a-f]{16}\.bin: the record of what dc .* holds is .*: this run sends every host again/,
    );
    assert.match(
      again.stdout,
      /Summary: 12 hosts with 24 AddScanResult lines and 0 hosts cleared, sent to the Defense Center /,
    );
    assert.equal(Object.keys(results(dc)).length, 12);
    const third = await night(adr(HOSTS));
    assert.doesNotMatch(third.stdout, /WARNING/);
    assert.match(
      third.stdout,
      /Summary: 0 hosts with 0 AddScanResult lines and 0 hosts cleared, sent to the Defense Center [^;]+; 12 hosts unchanged, not sent; 0 hosts sent again unchanged; /,
    );
  });
});

Deno.test("Without a plugin YAML nothing is kept: no state directory, every host sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-record-noyaml-" });
  try {
    await Deno.writeTextFile(`${dir}/r.xml`, adr(HOSTS));
    const work = `${dir}/work`;
    await Deno.mkdir(work);
    for (const out of ["-", "out.csv", "out.csv"]) {
      const r = await runMain(["-r", `${dir}/r.xml`, "-c", out], { cwd: work });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual([...Deno.readDirSync(work)].map((e) => e.name), ["out.csv"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-multiinfo to one Defense Center: templates that share a host leave it as full sends would", async () => {
  await withTwoTemplates({ ca: CA, prefix: "qc-record-multi-" }, async ({ dc, dcArgs, night }) => {
    // both templates list 10.2.0.1; the second one's block is what stays
    await night(adr([["10.2.0.1", [[1]]]]), adr([["10.2.0.1", [[2]]]]), dcArgs);
    assert.deepEqual(results(dc), { "10.2.0.1": ["2/-"] });
    // the first template's block changes, the second's does not: the second still wins
    await night(adr([["10.2.0.1", [[3]]]]), adr([["10.2.0.1", [[2]]]]), dcArgs);
    assert.deepEqual(results(dc), { "10.2.0.1": ["2/-"] });
    // to CSV files, each template's file has its own record: a dry run compares with its own
    await night(adr([["10.2.0.1", [[3]]]]), adr([["10.2.0.1", [[2]]]]), ["-c", "out.csv"]);
    const dry = await night(adr([["10.2.0.1", [[3]]]]), adr([["10.2.0.1", [[4]]]]), [
      "-c",
      "out.csv",
      "-dry-run",
    ]);
    const lines = dry.stdout.split("\n").filter((l) => l.includes("Dry run:"));
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /0 changed .* 1 refreshed/);
    assert.match(lines[1]!, /1 changed \(\+1 \u22121 results\)/);
  });
});

Deno.test("source: detections to a CSV: a second run writes the whole picture again, not only what changed", async () => {
  const sub = new VmdrSubscription({ seed: 5, hosts: 30, detectionsPerHost: 6, qids: 60 });
  const q = await startQualysSim({ vmdr: { subscription: sub } }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-record-det-csv-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/ca.pem`, q.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: sim_pass\nurl: ${q.url}\nca_file: ${dir}/ca.pem\n` +
        "source: detections\n",
      { mode: 0o600 },
    );
    const first = await runMain(["-c", "out.csv"], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const size1 = (await Deno.stat(`${dir}/out.csv`)).size;
    sub.advanceDay({ scanShare: 0.1, fixShare: 0.2 });
    const second = await runMain(["-c", "out.csv"], { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr + second.stdout, /Full sync of csv .*a file gets the whole picture/);
    const text = await Deno.readTextFile(`${dir}/out.csv`);
    assert.ok(text.length > size1 / 2, `${text.length} bytes after ${size1}`);
    const hosts = new Set([...text.matchAll(/^AddScanResult,([^,]+),/gm)].map((m) => m[1]));
    const truth = new Set([...sub.openDetectionKeys()].map((k) => k.split("|")[0]));
    assert.deepEqual([...hosts].sort(), [...truth].sort());
    // a dry run of the detection source touches nothing: the sync state, the KnowledgeBase
    // cache, the record, the file
    sub.advanceDay({ scanShare: 0.1 });
    const before = await snapshot(dir);
    const dry = await runMain(["-c", "out.csv", "-dry-run"], { cwd: dir });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr + dry.stdout, /Dry run: a real run would send \d+ lines/);
    assert.deepEqual(await snapshot(dir), before);
  } finally {
    await q.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("The CLI killed (SIGKILL) at any DATA message of a send, then run again: the Defense Center holds what the report says", async () => {
  let onMessage: ((n: number) => void) | undefined, seen = 0;
  const dc = await startDcSim({
    maxSize: 1024,
    slowResponseMs: 2,
    onMessage: (n) => {
      seen = n;
      onMessage?.(n);
    },
  }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-record-kill-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/InputPlugins/QualysGuard.yaml`, NO_REFRESH_TODAY);
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const args = [`-server=${dc.host}`, `-port=${dc.port}`, "-pa", "pw", "-r", "night.xml"];
    /** One run; killed at its `killAt`-th DATA message (counted over every connection). */
    const run = async (killAt?: number) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: connectorArgs(args),
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const start = seen;
      onMessage = (n) => {
        if (killAt !== undefined && n === start + killAt) child.kill("SIGKILL");
      };
      const out = await child.output();
      onMessage = undefined;
      await dc.idle();
      return { code: out.code, signal: out.signal, text: dec.decode(out.stdout) };
    };
    const dec = new TextDecoder();
    const truth = (hosts: [string, V[]][]) =>
      Object.fromEntries(
        hosts.filter(([, vs]) => vs.length > 0)
          .map(([ip, vs]) => [ip, [...new Set(vs.map(([q, p]) => `${q}/${p ?? "-"}`))].sort()])
          .sort(),
      );
    let hosts: [string, V[]][] = Array.from({ length: 40 }, (_, i) => [
      `10.3.${i >> 4}.${i & 15}`,
      [[1 + (i % 5)], [9, 443]],
    ]);
    await Deno.writeTextFile(`${dir}/night.xml`, adr(hosts));
    assert.equal((await run()).code, 0);
    for (const [night, killAt] of [1, 2, 4, 7, 3].entries()) {
      // a night changes a third of the hosts (one with a finding less, one cleared)
      hosts = hosts.map(([ip, vs], i) =>
        (i + night) % 3 === 0
          ? [ip, i % 7 === 0 ? [] : [[1 + ((i + night) % 5)], [9, 443]]] as [string, V[]]
          : [ip, vs]
      );
      await Deno.writeTextFile(`${dir}/night.xml`, adr(hosts, `Title v${night}`));
      const killed = await run(killAt);
      assert.equal(killed.signal, "SIGKILL", `night ${night}: ended before message ${killAt}`);
      const normal = await run();
      assert.equal(normal.code, 0, normal.text);
      assert.deepEqual(results(dc), truth(hosts), `night ${night}, killed at message ${killAt}`);
    }
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
