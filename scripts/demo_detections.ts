/**
 * `deno task demo -- --detections`: the detection source over two nights, on loopback, with no
 * set-up. The Qualys API simulator serves a small VMDR subscription (Host List Detection, Host
 * List, KnowledgeBase); the Defense Center simulator takes the commands. The connector runs
 * twice with the same cron line and `source: detections` in its YAML: the first night is a full
 * sync, then a day passes in the subscription (scans, fixes, a host whose findings are all
 * fixed, new findings, a host purged from Qualys) and the second night is incremental. The demo
 * prints what each run did, what the DC's map lost and gained between the nights (the fixed
 * findings and the purged host's leave it), and the state the connector keeps.
 *
 * @module
 */

import { connectorArgs } from "./connector_command.ts";
import { TEMP_DIR, writeDemoSetup } from "./demo_setup.ts";
import { startDcSim } from "./sim/fmc/mod.ts";
import { startQualysSim, VmdrSubscription } from "./sim/qualys/mod.ts";

/** Runs the demo; resolves to the exit status. */
export async function runDetectionsDemo(): Promise<number> {
  // The simulated clock starts yesterday morning (UTC), so that night 2 is this morning: the
  // checkpoints and dates the demo prints are near today.
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const sub = new VmdrSubscription({
    seed: 2026,
    hosts: 40,
    detectionsPerHost: 8,
    qids: 150,
    start: `${yesterday}T06:00:00Z`,
  });
  // The YAML's severities: what the connector imports, and so what the DC's map can hold.
  const SEVERITIES = [2, 3, 4, 5];
  const sim = await startQualysSim({ vmdr: { subscription: sub, pageLatencyMs: 100 } });
  const dc = await startDcSim({});
  const dir = await Deno.makeTempDir({ prefix: "qualys_connector-demo-" });
  let code = 1;
  try {
    const args = await writeDemoSetup(dir, {
      sim,
      dc,
      yaml: "source: detections\nseverities: 2-5\n",
    });
    console.log(
      `demo: Qualys API simulator on ${sim.url} (${sub.hostCount} hosts), Defense Center ` +
        `simulator on ${dc.host}:${dc.port}`,
    );
    console.log(`demo: in ${TEMP_DIR}: qualys_connector ${args.join(" ")}`);
    const night = async (n: number) => {
      console.log(`\ndemo: ---- night ${n} ----`);
      const calls = sim.log.length;
      const out = await new Deno.Command(Deno.execPath(), {
        args: connectorArgs(args),
        cwd: dir,
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      const made = sim.log.slice(calls).map((e) =>
        `${e.api}${e.params.details ? `(${e.params.details})` : ""}`
      );
      console.log(`demo: exit status ${out.code}; Qualys calls: ${made.join(", ")}`);
      return out.code;
    };
    const snapshot = () => {
      const map = new Map<string, string>();
      for (const [ip, byScanner] of Object.entries(dc.dump())) {
        for (const r of byScanner.QualysGuard ?? []) {
          map.set(`${ip} QID ${r.vulnId} ${r.port ? `${r.port}/${r.proto}` : "-"}`, r.name);
        }
      }
      return map;
    };

    code = await night(1);
    const first = snapshot();
    console.log(
      `demo: the DC's map holds ${first.size} QualysGuard results on ` +
        `${new Set([...first.keys()].map((k) => k.split(" ")[0])).size} hosts`,
    );

    const inScope = () => sub.openDetectionKeys({ severities: SEVERITIES });
    const everySeverity = () => sub.openDetectionKeys();
    const before = { scope: inScope(), all: everySeverity() };
    const day = sub.advanceDay({
      allFixedHosts: 1,
      scanShare: 0.25,
      fixShare: 0.2,
      purgedHosts: 1,
    });
    const ipOf = (id: number) => sub.hostAddress(sub.hostIndexById(id));
    const purged = day.purgedHostIds.map(ipOf);
    const atIp = (map: Map<string, string>, ip: string) =>
      [...map.keys()].filter((k) => k.startsWith(`${ip} `)).length;
    // What the day did to the open detections, of every severity and of those imported, the
    // purged host's apart (its detections leave every answer, they are not fixed).
    const hostOf = (key: string) => key.split("|")[0]!;
    const purgedIps = new Set(purged);
    const change = (was: Set<string>, now: Set<string>) => ({
      fixed: [...was].filter((k) => !now.has(k) && !purgedIps.has(hostOf(k))).length,
      added: [...now].filter((k) => !was.has(k)).length,
    });
    const after = {
      scope: change(before.scope, inScope()),
      all: change(before.all, everySeverity()),
    };
    console.log(
      `\ndemo: a day passes in Qualys: ${day.scannedHosts} hosts scanned, ${after.all.fixed} open ` +
        `findings fixed (all of host ${day.allFixedHostIds.map(ipOf).join(", ")}'s), ` +
        `${after.all.added} new or re-opened; host ${
          day.purgedHostIds.map((id) => `${id} (${ipOf(id)})`).join(", ")
        } purged from Qualys (no detection query says so: only the list of the hosts there)`,
    );
    console.log(
      `demo: the connector imports severities 2-5 (its YAML says severities: 2-5): ` +
        `${after.scope.fixed} of the ${after.all.fixed} fixed and ${after.scope.added} of the ` +
        `${after.all.added} new are of those severities; the others never reach the DC`,
    );
    for (const ip of purged) {
      console.log(`demo: the DC's map holds ${atIp(first, ip)} results of ${ip} before night 2`);
    }
    code = Math.max(code, await night(2));
    const second = snapshot();
    const gone = [...first.keys()].filter((k) => !second.has(k));
    const added = [...second.keys()].filter((k) => !first.has(k));
    console.log(`\ndemo: what night 2 changed in the DC's map:`);
    for (const k of gone.slice(0, 12)) console.log(`  - ${k}  ${shorten(first.get(k)!, 50)}`);
    if (gone.length > 12) console.log(`  ... and ${gone.length - 12} more findings removed`);
    for (const k of added.slice(0, 6)) console.log(`  + ${k}  ${shorten(second.get(k)!, 50)}`);
    if (added.length > 6) console.log(`  ... and ${added.length - 6} more new findings`);
    for (const ip of purged) {
      console.log(
        `demo: the purged host's address ${ip}: ${atIp(first, ip)} results before night 2, ` +
          `${atIp(second, ip)} after (${atIp(second, ip) === 0 ? "cleared" : "NOT cleared"})`,
      );
    }
    const truth = sub.openDetectionKeys({ severities: [2, 3, 4, 5] }).size;
    const ofPurged = purged.reduce((n, ip) => n + atIp(first, ip), 0);
    const fixedRemoved = gone.length - ofPurged;
    console.log(
      `demo: ${fixedRemoved} fixed findings removed (${
        fixedRemoved === after.scope.fixed ? "the" : "NOT the"
      } ${after.scope.fixed} fixed of severity 2-5), ${ofPurged} of the purged host removed, ` +
        `${added.length} added (${added.length === after.scope.added ? "the" : "NOT the"} ` +
        `${after.scope.added} new of severity 2-5); the map now holds ${second.size} results, ` +
        `and Qualys has ${truth} open detections of severity 2-5 ` +
        `(${second.size === truth ? "the same" : "NOT the same"})`,
    );
    console.log(
      'demo: the log\'s "fixed detections" count every Fixed detection Qualys lists for the ' +
        "hosts processed since the last run, fixed that day or before: they are cleared if the " +
        "DC still holds them, else left alone",
    );
    console.log("\ndemo: the state the connector keeps, in InputPlugins/QualysGuard.state:");
    for (const e of Deno.readDirSync(`${dir}/InputPlugins/QualysGuard.state`)) {
      const path = `${dir}/InputPlugins/QualysGuard.state/${e.name}`;
      const info = Deno.statSync(path);
      let note = "";
      if (e.name.endsWith(".json")) {
        const s = JSON.parse(Deno.readTextFileSync(path));
        note = `: ${s.destination}, checkpoint ${s.checkpoint}`;
      } else if (e.name.endsWith(".jsonl")) note = ": the KnowledgeBase cache";
      console.log(
        `  ${e.name} (${info.size} bytes, mode ${(info.mode! & 0o777).toString(8)})${note}`,
      );
    }
  } finally {
    await sim.shutdown();
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  return code;
}

/**
 * `text` cut to at most `max` characters at a word's end, with "…" when cut.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(shorten("Remote Desktop Security Update", 20), "Remote Desktop\u2026");
 * assert.equal(shorten("Short", 20), "Short");
 * ```
 */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${space > max / 2 ? cut.slice(0, space) : cut}\u2026`;
}

if (import.meta.main) Deno.exit(await runDetectionsDemo());
