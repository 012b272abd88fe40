import assert from "node:assert/strict";
import { VERSION } from "../../lib/version.ts";
import { MAIN, RUN_FLAGS } from "../../scripts/connector_command.ts";
import { ignoreUnless } from "../_skip.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const dec = new TextDecoder();

// `deno compile` needs its runtime, denort, in DENO_DIR (README: Build and install). Whether it
// is there is all that is looked at when this file loads: the binary is built inside the test,
// so a run that leaves this test out (a filter, another file) pays nothing for it.
const denoDir = JSON.parse(
  dec.decode(
    (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
      .output()).stdout,
  ),
).denoDir as string;
const denort = `${denoDir}/dl/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`;
const haveDenort = (() => {
  try {
    return Deno.statSync(denort).isFile;
  } catch {
    return false;
  }
})();
const TEST = "the compiled binary prints its version and converts the sample";
const cannotCompile = ignoreUnless(
  haveDenort,
  TEST,
  `deno compile needs its runtime, denort, at ${denort}, and it is not there (deno compile ` +
    "downloads it on first use, where the machine can reach it)",
);

Deno.test({ name: TEST, ignore: cannotCompile }, async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-compile-" });
  try {
    // Built with the flags of the `compile` task in deno.json.
    const bin = `${dir}/qualys_connector`;
    const compile = await new Deno.Command(Deno.execPath(), {
      args: ["compile", ...RUN_FLAGS, "--output", bin, MAIN],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(compile.success, `deno compile failed:\n${dec.decode(compile.stderr)}`);
    const version = await new Deno.Command(bin, { args: ["-version"], stdout: "piped" }).output();
    assert.equal(dec.decode(version.stdout), `qualys_connector Ver. ${VERSION}\n`);
    const run = await new Deno.Command(bin, {
      args: ["-report", `${ROOT}fixtures/sample_report.xml`, "-c", "-"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0);
    assert.equal(
      dec.decode(run.stdout).split("\n").filter((l) => l.startsWith("AddScanResult")).length,
      23,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
