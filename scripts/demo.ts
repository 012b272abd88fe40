/**
 * `deno task demo`: the main job end to end on loopback, with no set-up. It starts the Qualys
 * API simulator (HTTPS, a CA made on the fly) serving the bundled sample report, writes an
 * `InputPlugins/QualysGuard.yaml` pointing at it in a temp directory, and runs the connector
 * there exactly as a user would (`-csvfile -`): launch, poll, download, parse, delete, and the
 * commands on stdout. Sending to a Defense Center arrives with issue #4.
 *
 * @module
 */

import { startQualysSim } from "./sim/qualys_api.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const sim = await startQualysSim({
  reports: { "424242": `${ROOT}fixtures/sample_report.xml` },
  runningPolls: 2,
});
const dir = await Deno.makeTempDir({ prefix: "qualys_connector-demo-" });
let code = 1;
try {
  await Deno.mkdir(`${dir}/InputPlugins`);
  await Deno.writeTextFile(`${dir}/qualys-sim-ca.pem`, sim.caPem);
  await Deno.writeTextFile(
    `${dir}/InputPlugins/QualysGuard.yaml`,
    `# written by deno task demo: the Qualys API simulator on ${sim.url}\n` +
      `user_id: sim_user\npassword: 'sim_pass'\ntemplate_id: 424242\nurl: ${sim.url}\n` +
      `ca_file: ${dir}/qualys-sim-ca.pem\nadd_host: y\npoll_interval: 0.5\n`,
    { mode: 0o600 },
  );
  console.error(`demo: Qualys API simulator on ${sim.url}; running in ${dir}:`);
  console.error("demo:   qualys_connector -csvfile - -plugininfo InputPlugins/QualysGuard.yaml\n");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      `${ROOT}main.ts`,
      "-csvfile",
      "-",
      "-plugininfo",
      "InputPlugins/QualysGuard.yaml",
    ],
    cwd: dir,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  code = out.code;
  console.error(
    `\ndemo: the simulator saw ${sim.requests.length} API calls ` +
      `(${
        sim.requests.map((r) => r.action).join(", ")
      }); reports launched ${sim.launched.length}, ` +
      `deleted ${sim.deleted.length}; exit status ${code}`,
  );
} finally {
  await sim.shutdown();
  await Deno.remove(dir, { recursive: true });
}
Deno.exit(code);
