import assert from "node:assert/strict";
import { ProgressLine, withProgress } from "../../lib/log/progress.ts";
import { Logger } from "../../lib/log/logger.ts";

function chunks(n: number, size: number) {
  let left = n;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (left === 0) return Promise.resolve(null);
      left--;
      return Promise.resolve(Math.min(size, p.length));
    },
  };
}

Deno.test("withProgress shows bytes, percent and rate on a terminal, then clears the line", async () => {
  const written: string[] = [];
  const output = {
    writeSync(p: Uint8Array) {
      written.push(new TextDecoder().decode(p));
      return p.length;
    },
  };
  const { reader, done } = withProgress(chunks(4, 500_000), {
    label: "Parsing r.xml",
    total: 2_000_000,
    enabled: true,
    output,
    intervalMs: 0,
  });
  const buf = new Uint8Array(1 << 20);
  while (await reader.read(buf) !== null) { /* drain */ }
  done();
  assert.match(written[0]!, /^\rParsing r\.xml: 0\.5 MB \(25%\), \d+ MB\/s/);
  assert.match(written[3]!, /2\.0 MB \(100%\)/);
  assert.equal(written.at(-1), "\r\x1b[K");
});

Deno.test("withProgress is silent when disabled (cron, pipes)", () => {
  const source = chunks(2, 10);
  const { reader, done } = withProgress(source, { label: "x", enabled: false });
  assert.equal(reader, source);
  done();
});

Deno.test("a log line written to the terminal clears the progress line first; one to a file does not", async () => {
  const written: string[] = [];
  const output = {
    writeSync(p: Uint8Array) {
      written.push(new TextDecoder().decode(p));
      return p.length;
    },
  };
  const line = new ProgressLine({ enabled: true, output, intervalMs: 0 });
  const dir = await Deno.makeTempDir();
  try {
    line.update("Sending: 3 messages, 120 lines, 4000 lines/s");
    const toFile = new Logger({ level: 0, logfile: `${dir}/log` });
    toFile.error("only the file hears this");
    await toFile.close();
    assert.deepEqual(written, ["\rSending: 3 messages, 120 lines, 4000 lines/s  "]);
    const toStderr = new Logger({ level: 0, stderr: true });
    toStderr.error("(a test's log line on stderr, after the progress line was cleared)");
    await toStderr.close();
    assert.deepEqual(written.slice(1), ["\r\x1b[K"]);
    line.update("Sending: 4 messages, 160 lines, 4000 lines/s");
    assert.equal(written.length, 3, "the next update draws the line again");
    line.done();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
