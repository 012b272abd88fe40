import assert from "node:assert/strict";
import { VERSION } from "../lib/version.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const dec = new TextDecoder();

Deno.test("the compiled binary prints its version and converts the sample (SKIP when compile cannot run)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-compile-" });
  try {
    const bin = `${dir}/qualys_connector`;
    // The same flags as the `compile` task in deno.json.
    const compile = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-net",
        "--allow-run=logger",
        "--v8-flags=--max-semi-space-size=1,--expose-gc",
        "--output",
        bin,
        `${ROOT}main.ts`,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (compile.code !== 0) {
      const why = dec.decode(compile.stderr).split("\n").find((l) => /Download|error/.test(l));
      console.log(`SKIP: deno compile cannot run here (${why?.trim() ?? "unknown reason"})`);
      return;
    }
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
