import assert from "node:assert/strict";
import { DcError, DcRejectedError } from "../../lib/errors.ts";
import type { FindingSource, HostFindings } from "../../lib/findings/finding_source.ts";
import { NO_LOG } from "../../lib/log/log.ts";
import { deliver, type DeliveryCounts } from "../../lib/pipeline/deliver.ts";
import type { CommandSink } from "../../lib/sinks/sink.ts";
import { REPORT_MEMORY } from "../../lib/util/memory.ts";

const host = (ip: string, qids: number[]): HostFindings => ({
  ip,
  count: qids.length,
  qids: Uint32Array.from(qids),
  ports: new Uint16Array(qids.length),
  protos: new Uint8Array(qids.length),
});

// Two hosts with results (3 AddScanResult lines) and one without (cleared).
const findings = (): FindingSource => ({
  glossary: new Map(),
  forEachHost: async (on) => {
    for (const h of [host("10.0.0.1", [6, 7]), host("10.0.0.2", [8]), host("10.0.0.3", [])]) {
      await on(h);
    }
  },
  dispose() {},
});

function sink(close: () => Promise<void>): CommandSink & { text: () => string } {
  const chunks: string[] = [];
  return {
    text: () => chunks.join(""),
    write: (b) => Promise.resolve(void chunks.push(new TextDecoder().decode(b))),
    seal: () => Promise.resolve({ where: "to send", delivered: false }),
    close,
    abort: () => Promise.resolve(),
  };
}

function attempt(close: () => Promise<void>) {
  const counted: DeliveryCounts[] = [];
  const heard: string[] = [];
  const s = sink(close);
  const done = deliver({
    content: { kind: "findings", findings: findings(), encode: { memory: REPORT_MEMORY } },
    onTaken: (outcome) => Promise.resolve(void heard.push(`taken ${outcome}`)),
    onUncertain: () => Promise.resolve(void heard.push("uncertain")),
    dispose() {},
  }, {
    openSink: () => Promise.resolve(s),
    log: NO_LOG,
    onCounts: (c) => void counted.push(c),
  });
  return { done, counted, heard, text: s.text };
}

Deno.test("deliver() counts what passed into the sink and reports it once the destination took it", async () => {
  const { done, counted, heard, text } = attempt(() => Promise.resolve());
  const delivered = await done;
  const lines = text().split("\n").filter((l) => l !== "");
  const expected: DeliveryCounts = {
    hostsSent: 2,
    resultsSent: 3,
    hostsCleared: 1,
    hostsUnchanged: 0,
    hostsRefreshed: 0,
    linesSent: lines.length,
    bytesSent: new TextEncoder().encode(text()).length,
  };
  assert.equal(lines.filter((l) => l.startsWith("AddScanResult,")).length, 3);
  assert.deepEqual(delivered.counts, expected);
  assert.deepEqual(counted, [expected]);
  assert.deepEqual(heard, ["taken all"]);
});

Deno.test("deliver(): a Defense Center that rejected commands took the data: the counts are reported before the error", async () => {
  const { done, counted, heard } = attempt(() =>
    Promise.reject(new DcRejectedError("1 command rejected"))
  );
  await assert.rejects(done, DcRejectedError);
  assert.equal(counted.length, 1);
  assert.equal(counted[0]!.resultsSent, 3);
  assert.deepEqual(heard, ["taken partial"]);
});

Deno.test("deliver(): a delivery that may not have arrived reports no counts", async () => {
  const { done, counted, heard } = attempt(() => Promise.reject(new DcError("connection reset")));
  await assert.rejects(done, DcError);
  assert.deepEqual(counted, []);
  assert.deepEqual(heard, ["uncertain"]);
});
