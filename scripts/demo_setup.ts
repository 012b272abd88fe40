/**
 * What both demos lay out in their temp directory, as a user would: the plugin YAML (with the
 * Qualys simulator's URL and CA), and a `CertFile.pkcs12` as the DC's Host Input Client page
 * issues it; and the original's cron line against the DC simulator.
 *
 * @module
 */

import type { DcSim } from "./sim/fmc/mod.ts";
import type { QualysSim } from "./sim/qualys/mod.ts";

/**
 * How the demos name the directory they work in: they remove it at the end, so they print no
 * path in it (`deno task sim` keeps one, to try commands in).
 */
export const TEMP_DIR = "a temp directory (removed at the end; `deno task sim` keeps one)";

/**
 * Writes `InputPlugins/QualysGuard.yaml` (the account, `url`, `ca_file`, then `yaml`) and
 * `CertFile.pkcs12` in `dir`; resolves to the connector's arguments.
 */
export async function writeDemoSetup(
  dir: string,
  sims: { sim: QualysSim; dc: DcSim; yaml: string },
): Promise<string[]> {
  const { sim, dc } = sims;
  await Deno.mkdir(`${dir}/InputPlugins`);
  await Deno.writeTextFile(`${dir}/qualys-sim-ca.pem`, sim.caPem);
  await Deno.writeTextFile(
    `${dir}/InputPlugins/QualysGuard.yaml`,
    `# written by deno task demo: the Qualys API simulator on ${sim.url}\n` +
      `user_id: sim_user\npassword: 'sim_pass'\nurl: ${sim.url}\n` +
      `ca_file: ${dir}/qualys-sim-ca.pem\n${sims.yaml}`,
    { mode: 0o600 },
  );
  await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "demo" }));
  return [
    `-server=${dc.host}`,
    `-port=${dc.port}`,
    "-pkcs12=CertFile.pkcs12",
    "-password=demo",
    "-plugininfo=InputPlugins/QualysGuard.yaml",
  ];
}
