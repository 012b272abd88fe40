/**
 * `deno task demo`: the main job end to end on loopback, with no set-up. It starts the Qualys
 * API simulator (HTTPS) serving the bundled sample report and the Defense Center simulator
 * (mutual TLS, the host input protocol), each with certificates made on the fly; writes an
 * `InputPlugins/QualysGuard.yaml` and a `CertFile.pkcs12` (as the DC's Host Input Client page
 * issues it) in a temp directory; runs the connector there as the original cron line does
 * (`-server=... -pkcs12=CertFile.pkcs12 -plugininfo=InputPlugins/QualysGuard.yaml`): launch,
 * poll, download, parse, delete, send; and prints what the DC's network map now holds. With
 * `--detections`, the detection source over two nights (`demo_detections.ts`).
 *
 * @module
 */

import { connectorArgs } from "./connector_command.ts";
import { TEMP_DIR, writeDemoSetup } from "./demo_setup.ts";
import { startDcSim } from "./sim/fmc/mod.ts";
import { startQualysSim } from "./sim/qualys/mod.ts";
import { plural } from "../lib/util/text.ts";

// `deno task demo -- --detections`: the detection source over two nights instead.
if (Deno.args.includes("--detections")) {
  const { runDetectionsDemo } = await import("./demo_detections.ts");
  Deno.exit(await runDetectionsDemo());
}

const ROOT = new URL("..", import.meta.url).pathname;
const sim = await startQualysSim({
  reports: { "424242": `${ROOT}fixtures/sample_report.xml` },
  runningPolls: 2,
});
const dc = await startDcSim({});
const dir = await Deno.makeTempDir({ prefix: "qualys_connector-demo-" });
let code = 1;
try {
  const args = await writeDemoSetup(dir, {
    sim,
    dc,
    yaml: "template_id: 424242\nadd_host: y\npoll_interval: 0.5\n",
  });
  console.log(
    `demo: Qualys API simulator on ${sim.url}, Defense Center simulator on ${dc.host}:${dc.port}`,
  );
  console.log(`demo: in ${TEMP_DIR}: qualys_connector ${args.join(" ")}\n`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: connectorArgs(args),
    cwd: dir,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  code = out.code;
  console.log(
    `\ndemo: the Qualys simulator saw ${sim.requests.length} API calls ` +
      `(${
        sim.requests.map((r) => r.action).join(", ")
      }); reports launched ${sim.launched.length}, ` +
      `deleted ${sim.deleted.length}. The DC processed ${
        plural(dc.messages, "message")
      }; exit status ${code}.`,
  );
  console.log(
    "\ndemo: what the Defense Center's network map now holds (host → scanner → results):",
  );
  for (const [ip, byScanner] of Object.entries(dc.dump())) {
    for (const [scanner, results] of Object.entries(byScanner)) {
      console.log(`  ${ip}  ${scanner}: ${plural(results.length, "result")}`);
      for (const r of results) {
        console.log(
          `    QID ${r.vulnId.padEnd(6)} ${(r.port ? `${r.port}/${r.proto}` : "-").padEnd(9)} ` +
            `${r.name.slice(0, 60)}${r.cves.length ? `  [${r.cves.join(" ")}]` : ""}`,
        );
      }
    }
  }
} finally {
  await sim.shutdown();
  await dc.shutdown();
  await Deno.remove(dir, { recursive: true });
}
Deno.exit(code);
