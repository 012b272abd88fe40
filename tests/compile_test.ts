import assert from "node:assert/strict";
import { VERSION } from "../lib/version.ts";
import { MAIN, RUN_FLAGS } from "../scripts/connector_command.ts";
import { ignoreUnless } from "./_skip.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const dec = new TextDecoder();

// The binary is built once, when this file loads, with the flags of the `compile` task in
// deno.json; where `deno compile` cannot fetch its runtime (denort), the test is ignored with
// the reason instead of passing.
const dir = await Deno.makeTempDir({ prefix: "qc-compile-" });
const bin = `${dir}/qualys_connector`;
const compile = await new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    ...RUN_FLAGS,
    "--output",
    bin,
    MAIN,
  ],
  cwd: ROOT,
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const stderr = dec.decode(compile.stderr);
const why = /denort/.test(stderr)
  ? "it cannot download its runtime, denort, on this machine"
  : stderr.split("\n").find((l) => /error/.test(l))?.replace(/https?:\/\/\S+/g, "<url>").trim();
const TEST = "the compiled binary prints its version and converts the sample";
const cannotCompile = ignoreUnless(
  compile.success,
  TEST,
  `deno compile cannot run here (${why ?? "unknown reason"})`,
);
if (cannotCompile) await Deno.remove(dir, { recursive: true });

Deno.test({ name: TEST, ignore: cannotCompile }, async () => {
  try {
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
