import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const SAMPLE = `${ROOT}fixtures/sample_report.xml`;

Deno.test("deno task run runs the connector from source in the caller's directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-runtask-" });
  try {
    await Deno.copyFile(SAMPLE, `${dir}/r.xml`);
    // As from a shell: Deno sets INIT_CWD only when it is not set (here, by `deno task test`).
    const { INIT_CWD: _, ...env } = Deno.env.toObject();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--config", `${ROOT}deno.json`, "run", "-r", "r.xml", "-c", "out.csv"],
      cwd: dir,
      clearEnv: true,
      env: { ...env, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(
      stdout,
      /Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written to out\.csv/,
    );
    assert.match(await Deno.readTextFile(`${dir}/out.csv`), /^SetSource,QualysGuard Scan Report\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
