import assert from "node:assert/strict";
import { withProgress } from "../../lib/log/progress.ts";

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
