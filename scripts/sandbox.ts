/**
 * `deno task sim`: a sandbox to try every command of the README by hand. It starts the Qualys API
 * simulator (HTTPS: report templates 424242 and 535353, both serving the bundled sample report,
 * and a small VMDR subscription for the detection source) and the Defense Center simulator
 * (mutual TLS, the host input protocol), writes a ready directory (the plugin YAMLs pointing at
 * the Qualys simulator with its CA as `ca_file`, a `CertFile.pkcs12` as the DC's Host Input Client
 * page issues it, and its password in a 0600 file), prints the commands to try there, and keeps
 * both simulators running until Ctrl-C (SIGINT, or SIGTERM, SIGHUP): then it stops them and
 * removes the directory with everything in it. An `advance` line on its standard input lets a
 * day pass in the VMDR subscription (scans, fixes, new findings), for an incremental run.
 *
 * The commands run the connector as a machine with only Node.js and npm does (the README's
 * quick start), from the sandbox directory: `npx -y deno@2.9.6 task --config <tree>/deno.json run`.
 *
 * @module
 */

import { startDcSim } from "./sim/fmc/mod.ts";
import { startQualysSim, VmdrSubscription } from "./sim/qualys/mod.ts";
import { plural } from "../lib/util/text.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The connector command the printed lines start with (the README's form for npm-only). */
export const SANDBOX_RUNNER = `npx -y deno@2.9.6 task --config ${ROOT}/deno.json run`;

/** The line the sandbox prints once everything is ready (tests wait for it). */
export const READY = "sandbox: ready";

/** A running sandbox. */
export interface Sandbox {
  /** The ready directory. */
  dir: string;
  /** The Qualys API simulator's base URL. */
  qualysUrl: string;
  /** The Defense Center simulator's port (on 127.0.0.1). */
  dcPort: number;
  /** What to print: the directory, then the commands to try there. */
  text: string;
  /** Lets a day pass in the VMDR subscription; resolves to what changed, in one line. */
  advanceDay(): string;
  /** What the simulators saw, in one line. */
  tally(): string;
  /** Stops both simulators and removes the directory. */
  stop(): Promise<void>;
}

/**
 * Starts both simulators and writes the ready directory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const box = await startSandbox();
 * try {
 *   assert.match(box.text, /-check -server=127\.0\.0\.1 -port=\d+/);
 *   assert.ok((await Deno.stat(`${box.dir}/CertFile.pkcs12`)).isFile);
 * } finally {
 *   await box.stop();
 * }
 * ```
 */
export async function startSandbox(): Promise<Sandbox> {
  const sample = `${ROOT}/fixtures/sample_report.xml`;
  // A small subscription, as the detection demo's: a full sync takes a second or two.
  const sub = new VmdrSubscription({ seed: 2026, hosts: 40, detectionsPerHost: 8, qids: 150 });
  const sim = await startQualysSim({
    reports: { "424242": sample, "535353": sample },
    vmdr: { subscription: sub },
  });
  const dc = await startDcSim({});
  const dir = await Deno.makeTempDir({ prefix: "qualys_connector-sandbox-" });
  const stop = async () => {
    await sim.shutdown();
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const password = Array.from(crypto.getRandomValues(new Uint8Array(8)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/qualys-sim-ca.pem`, sim.caPem);
    const account = `# written by deno task sim: the Qualys API simulator on ${sim.url}\n` +
      `user_id: sim_user\npassword: 'sim_pass'\nurl: ${sim.url}\n` +
      `ca_file: ${dir}/qualys-sim-ca.pem\n`;
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `${account}template_id: 424242\nadd_host: y\n` +
        "# the simulator's report is ready after one status check; Qualys wants the default 5 s\n" +
        "poll_interval: 1\n",
      { mode: 0o600 },
    );
    await Deno.writeTextFile(
      `${dir}/InputPlugins/Detections.yaml`,
      `${account}source: detections\nseverities: 2-5\n`,
      { mode: 0o600 },
    );
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password }));
    await Deno.writeTextFile(`${dir}/CertFile.password`, `${password}\n`, { mode: 0o600 });
    const dcOpts = `-server=${dc.host} -port=${dc.port}`;
    const qc = (options: string) => `${SANDBOX_RUNNER} ${options}`;
    const text = [
      `sandbox: the Qualys API simulator on ${sim.url}: report templates 424242 and 535353 (both`,
      `  the bundled sample report), a VMDR subscription of ${sub.hostCount} hosts; the Defense ` +
      `Center simulator on ${dc.host}:${dc.port}`,
      `sandbox: in ${dir}:`,
      "  InputPlugins/QualysGuard.yaml   source: report, template 424242, on the Qualys simulator",
      "  InputPlugins/Detections.yaml    source: detections, the same account",
      "  CertFile.pkcs12                 the client certificate, as the DC's Host Input Client " +
      "page issues it",
      "  CertFile.password               its password (0600)",
      "  qualys-sim-ca.pem               the Qualys simulator's CA (ca_file in both YAMLs)",
      "",
      "Try the README's commands in another terminal (the first run of npx fetches Deno):",
      "",
      `cd ${dir}`,
      'export QC_PKCS12_PASSWORD="$(cat CertFile.password)"',
      "# check the YAML, the certificate, the Qualys login and the Defense Center; import nothing",
      qc(`-check ${dcOpts}`),
      "# the report to a file, to look at: Output.csv and the summary line",
      qc("-c=Output.csv -pl=InputPlugins/QualysGuard.yaml"),
      "# send it to the Defense Center (the original cron line)",
      qc(`${dcOpts} -pkcs12=CertFile.pkcs12 -plugininfo=InputPlugins/QualysGuard.yaml`),
      "# or send the very file you looked at (the csv plugin)",
      qc(`${dcOpts} csv -plugininfo=Output.csv`),
      "# two templates in turn: 424242_Output.csv and 535353_Output.csv",
      qc("-multiinfo 424242,535353 -c Output.csv"),
      "# what a run would change at the Defense Center, sending nothing",
      qc(`-dry-run ${dcOpts}`),
      "# what the state directory knows of each destination, with no network call",
      qc("-status"),
      "# the detection source (host detections + KnowledgeBase): a full sync, then incremental",
      qc(`${dcOpts} -plugininfo=InputPlugins/Detections.yaml`),
      qc("-status -plugininfo=InputPlugins/Detections.yaml"),
      "",
      "Type advance and Enter here to let a day pass in Qualys (scans, fixes, new findings), then",
      "run the detection source again. Ctrl-C here stops both simulators and removes",
      `${dir} with everything in it: copy out what you want to keep first.`,
    ].join("\n");
    return {
      dir,
      qualysUrl: sim.url,
      dcPort: dc.port,
      text,
      advanceDay() {
        const d = sub.advanceDay();
        return `a day passed in Qualys: ${plural(d.scannedHosts, "host")} scanned, ` +
          `${plural(d.fixed, "finding")} fixed, ${d.reopened} re-opened, ${d.newDetections} new`;
      },
      tally() {
        return `the Qualys simulator answered ${plural(sim.log.length, "API call")} (reports ` +
          `launched ${sim.launched.length}); the Defense Center simulator took ` +
          `${plural(dc.connections, "connection")} and processed ${plural(dc.messages, "message")}`;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

if (import.meta.main) {
  const box = await startSandbox();
  console.log(box.text);
  console.log(`\n${READY}: both simulators are running; Ctrl-C stops them and removes ${box.dir}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log(`\nsandbox: ${box.tally()}`);
    await box.stop();
    console.log(`sandbox: stopped both simulators and removed ${box.dir}`);
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, stop);
  }
  // `advance` lines on stdin; at its end the sandbox goes on running until a signal
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    for (const cmd of chunk.split("\n").map((l) => l.trim()).filter(Boolean)) {
      console.log(
        cmd === "advance" ? `sandbox: ${box.advanceDay()}` : `sandbox: ${cmd}? Type advance.`,
      );
    }
  }
}
