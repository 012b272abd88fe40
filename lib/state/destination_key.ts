/**
 * Which state a run uses: the destination's name, which keys its state (a CSV's absolute path, or
 * the Defense Center's host, port and domain), and the state directory beside the plugin YAML.
 *
 * @module
 */

import { dirOf } from "../util/atomic_file.ts";

function absolute(path: string): string {
  if (path.startsWith("/")) return path;
  const cwd = Deno.cwd();
  return `${cwd === "/" ? "" : cwd}/${path.replace(/^\.\//, "")}`;
}

/**
 * The destination's name, which keys its sync state: the CSV's absolute path (`csv -` for
 * stdout), or the Defense Center's host and port (and domain, on a multi-domain FMC).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(destinationKey({ server: "10.0.0.1", port: 8307 }, {}), "dc 10.0.0.1:8307");
 * assert.equal(destinationKey({ csvfile: "/var/out.csv", port: 8307 }, {}), "csv /var/out.csv");
 * assert.equal(destinationKey({ server: "fmc", port: 8307 }, { domain: "Global \\ East" }),
 *   "dc fmc:8307 domain Global \\ East");
 * ```
 */
export function destinationKey(
  cli: { csvfile?: string | undefined; server?: string | undefined; port: number },
  config: { domain?: string | undefined },
): string {
  if (cli.csvfile !== undefined) return `csv ${cli.csvfile === "-" ? "-" : absolute(cli.csvfile)}`;
  return `dc ${cli.server}:${cli.port}${config.domain ? ` domain ${config.domain}` : ""}`;
}

/**
 * The state directory: `state_dir` (relative to the YAML's directory), else `<YAML name>.state`
 * beside the YAML (`InputPlugins/QualysGuard.state` for `InputPlugins/QualysGuard.yaml`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(stateDirOf("/etc/qc/QualysGuard.yaml", undefined), "/etc/qc/QualysGuard.state");
 * assert.equal(stateDirOf("/etc/qc/q.yml", "state"), "/etc/qc/state");
 * ```
 */
export function stateDirOf(yamlFile: string, stateDir: string | undefined): string {
  if (stateDir !== undefined) return besideYaml(yamlFile, stateDir);
  const yaml = absolute(yamlFile);
  const dir = dirOf(yaml);
  return `${dir}/${yaml.slice(dir.length + 1).replace(/\.ya?ml$/i, "")}.state`;
}

/**
 * A path the plugin YAML names (`state_dir`, `json_file`, `metrics_file`): a relative one is
 * relative to the YAML's directory, whatever directory the run starts in.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(besideYaml("/etc/qc/q.yml", "run.json"), "/etc/qc/run.json");
 * assert.equal(besideYaml("/etc/qc/q.yml", "/var/lib/qc.prom"), "/var/lib/qc.prom");
 * ```
 */
export function besideYaml(yamlFile: string, path: string): string {
  return path.startsWith("/") ? path : `${dirOf(absolute(yamlFile))}/${path}`;
}
