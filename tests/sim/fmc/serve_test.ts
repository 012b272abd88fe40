/**
 * The Defense Center simulator run alone (`scripts/sim/fmc/serve.ts`), as the ledger bench runs
 * it: it says where it listens and hands a `.pkcs12` the connector sends a report with,
 * counts what it processed on `stats`, and on `quit` stops and removes the `.pkcs12`.
 */

import assert from "node:assert/strict";
import { connectorArgs } from "../../../scripts/connector_command.ts";

const SERVE = new URL("../../../scripts/sim/fmc/serve.ts", import.meta.url).pathname;
const SAMPLE = new URL("../../../fixtures/sample_report.xml", import.meta.url).pathname;

Deno.test("serve.ts hands a working client certificate, counts what it saw, and stops on quit", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SERVE],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  let buf = "";
  const next = async () => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        return JSON.parse(line);
      }
      const r = await reader.read();
      if (r.done) throw new Error("serve.ts stopped");
      buf += r.value;
    }
  };
  try {
    const info = await next();
    assert.equal(info.host, "127.0.0.1");
    assert.ok((await Deno.stat(info.pkcs12)).isFile);
    const cwd = await Deno.makeTempDir();
    const sent = await new Deno.Command(Deno.execPath(), {
      args: connectorArgs([
        `-server=${info.host}`,
        `-port=${info.port}`,
        `-pkcs12=${info.pkcs12}`,
        "-r",
        SAMPLE,
      ]),
      cwd,
      env: { QC_PKCS12_PASSWORD: info.password },
      stdout: "piped",
      stderr: "piped",
    }).output();
    await Deno.remove(cwd, { recursive: true });
    const said = new TextDecoder().decode(sent.stdout) + new TextDecoder().decode(sent.stderr);
    assert.equal(sent.code, 0, said);
    await writer.write(new TextEncoder().encode("stats\n"));
    const stats = await next();
    assert.ok(stats.connections >= 1, JSON.stringify(stats));
    assert.ok(stats.messages > 0, JSON.stringify(stats));
    await writer.write(new TextEncoder().encode("quit\n"));
    assert.equal((await child.status).code, 0);
    await assert.rejects(Deno.stat(info.pkcs12), Deno.errors.NotFound);
  } finally {
    await writer.close().catch(() => {});
    await reader.cancel().catch(() => {});
    try {
      child.kill("SIGTERM");
    } catch { /* stopped */ }
    await child.status;
  }
});
