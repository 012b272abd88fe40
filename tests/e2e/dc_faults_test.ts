/**
 * The connector against Defense Centers that misbehave (scripts/sim/fmc/faulty_dc.ts), through the
 * CLI: a main run (`-report` → `-server`) and `-check`. Every run must end with exit 5 naming the
 * step, and end boundedly: a timeout is retried like a dropped connection, a fixed number of
 * times (counted by the fake's connections), a protocol error not at all. A run connects once
 * before its work, as -check does (TLS and VERSION, no DATA): a fault there ends it at once.
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { type FaultyDc, type FaultyDcScript, startFaultyDc } from "../../scripts/sim/fmc/mod.ts";
import { connectorArgs } from "../../scripts/connector_command.ts";
import { type CliResult, runMain } from "../_cli.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("faulty DC test CA");
/** -timeout for the tests that wait for one: short, yet long enough for a loaded machine's TLS. */
const TIMEOUT = "2";
/**
 * A run that has not ended after this long hangs (the longest expected one takes about 30 s):
 * it is killed, so the test fails instead of hanging. A guard, not a speed assertion.
 */
const HANG_GUARD_MS = 300_000;
const HTTP_PAGE = "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n" +
  "Content-Length: 50\r\n\r\n<html><body>400 The plain HTTP request was sent to HTTPS port</body></html>";

async function withFaultyDc(
  script: FaultyDcScript,
  body: (run: (args: string[]) => Promise<CliResult>, dc: FaultyDc) => Promise<void>,
): Promise<void> {
  const dc = await startFaultyDc(script, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-dc-faults-" });
  try {
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const base = [`-server=${dc.host}`, `-port=${dc.port}`, "-pa", "pw", "-r", SAMPLE];
    await body(
      (args) =>
        runMain([...base, ...args], { cwd: dir, signal: AbortSignal.timeout(HANG_GUARD_MS) }),
      dc,
    );
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The whole output of a run. */
const all = (r: CliResult) => r.stdout + r.stderr;
/** How many times the run reconnected to send the unacknowledged message again. */
const reconnects = (r: CliResult) => all(r).split("reconnecting in").length - 1;

Deno.test("a DC that accepts TCP and never starts TLS: exit 5 naming the TLS handshake, in a run and in -check", async () => {
  await withFaultyDc({ noTls: true }, async (run, dc) => {
    const r = await run(["-timeout", TIMEOUT]);
    assert.equal(r.code, 5, all(r));
    assert.match(
      all(r),
      /TLS handshake timed out: 127\.0\.0\.1:\d+ accepted the connection but did not complete a TLS handshake within 2 s: check that \d+ is the Defense Center's host input port/,
    );
    assert.equal(dc.connections, 1, "the check before the run is not retried");
    assert.match(all(r), /found before the run's work: nothing was asked of Qualys, read or sent/);
    const c = await run(["-check", "-timeout", TIMEOUT]);
    assert.equal(c.code, 5, all(c));
    assert.match(c.stdout, /^OK {3}TCP to 127\.0\.0\.1:\d+: connected$/m);
    assert.match(c.stdout, /^FAIL TLS handshake with 127\.0\.0\.1:\d+: TLS handshake timed out/m);
    assert.equal(dc.connections, 3);
  });
});

Deno.test("a DC that completes TLS and never answers VERSION: exit 5 naming the MAX_SIZE answer", async () => {
  await withFaultyDc({ version: "silent" }, async (run, dc) => {
    const r = await run(["-timeout", TIMEOUT]);
    assert.equal(r.code, 5, all(r));
    assert.match(
      all(r),
      /MAX_SIZE answer timed out: the Defense Center at 127\.0\.0\.1:\d+ did not answer the version message whole within 2 s \(0 bytes came\): check that its host input service runs/,
    );
    assert.equal(dc.connections, 1);
    const c = await run(["-check", "-timeout", TIMEOUT]);
    assert.equal(c.code, 5, all(c));
    assert.match(
      c.stdout,
      /^FAIL host input version with 127\.0\.0\.1:\d+: MAX_SIZE answer timed out/m,
    );
  });
});

Deno.test("a DC that never answers DATA, or answers a byte at a time: reconnects 5 times, then exit 5 naming DATA answer 1", async () => {
  const silent = withFaultyDc({ data: "silent" }, async (run, dc) => {
    const r = await run(["-timeout", TIMEOUT]);
    assert.equal(r.code, 5, all(r));
    assert.match(
      all(r),
      /DATA answer 1 timed out: the Defense Center at 127\.0\.0\.1:\d+ did not answer DATA message 1 \(\d+ bytes\) whole within 2 s \(0 bytes came\): it may be overloaded; check its load, or raise -timeout; gave up after 5 reconnects/,
    );
    assert.equal(reconnects(r), 5);
    assert.equal(dc.connections, 1 + 6, "the check before the run, then 6 tries");
    assert.equal(dc.dataMessages, 6, "the unacknowledged message is sent again each time");
    assert.doesNotMatch(
      all(r),
      /processed \d+ of the \d+ commands, 0 of them rejected; 0 reconnects/,
    );
    // -check sends no DATA: it passes, and says so.
    const c = await run(["-check", "-timeout", TIMEOUT]);
    assert.equal(c.code, 0, all(c));
    assert.match(c.stdout, /^OK {3}TLS and host input version with .*no data sent$/m);
    assert.equal(dc.dataMessages, 6);
  });
  // 36 bytes at 300 ms each take 10 s: far over 2 s, though no gap reaches 2 s.
  const trickle = withFaultyDc({ data: { trickle: 300 } }, async (run, dc) => {
    const r = await run(["-timeout", TIMEOUT]);
    assert.equal(r.code, 5, all(r));
    const came =
      /DATA answer 1 timed out: .* whole within 2 s \((\d+) bytes came\).*; gave up after 5 reconnects/
        .exec(all(r));
    assert.ok(came, all(r));
    assert.ok(Number(came[1]) > 0 && Number(came[1]) < 36, `${came[1]} bytes came`);
    assert.equal(reconnects(r), 5);
    assert.equal(dc.connections, 1 + 6);
  });
  await Promise.all([silent, trickle]);
});

Deno.test("a DATA answer that times out once is sent again on a new connection, and the run succeeds", async () => {
  await withFaultyDc({ data: "silent", dataFaults: 1 }, async (run, dc) => {
    const r = await run(["-timeout", TIMEOUT]);
    assert.equal(r.code, 0, all(r));
    assert.match(
      all(r),
      /\[WARNING\] DATA answer 1 timed out: .*; reconnecting in 0\.5 s to send the unacknowledged message again/,
    );
    assert.match(
      all(r),
      /Sent \d+ lines in 1 message .*; the Defense Center processed \d+ of the \d+ commands, 0 of them rejected; 1 reconnect;/,
    );
    assert.equal(dc.connections, 1 + 2, "the check before the run, then 2 tries");
    assert.equal(dc.dataMessages, 2);
  });
});

Deno.test("-check on a DC that answers VERSION a byte at a time: exit 5 naming the MAX_SIZE answer", async () => {
  await withFaultyDc({ version: { trickle: 300 } }, async (run) => {
    const c = await run(["-check", "-timeout", TIMEOUT]);
    assert.equal(c.code, 5, all(c));
    assert.match(
      c.stdout,
      /^FAIL host input version with .*: MAX_SIZE answer timed out: .* within 2 s \([1-9]\d* bytes came\)/m,
    );
  });
});

const PROTOCOL_ERRORS: {
  name: string;
  answer: FaultyDcScript["data"] & object;
  data: RegExp;
  version: RegExp;
}[] = [
  {
    name: "an HTTP error page",
    answer: { raw: HTTP_PAGE },
    data:
      /answered DATA message 1 with something that is not host input \(message type 1213486160, not DATA \(3\) or ERROR \(4\)\): "HTTP\/1\.1 400 Bad Request\\r\\nServer: nginx\\r\\n.*\.\.\." \(\d+ bytes\); check that \d+ is its host input port/,
    version:
      /^FAIL host input version with .*: .*answered the version message with something that is not host input \(message type 1213486160 with 791752241 bytes, not MAX_SIZE \(type 1 with 4 bytes\)\): "HTTP\/1\.1 400 Bad Request\\r\\n/m,
  },
  {
    name: "an unknown message type",
    answer: { type: 7, text: "hello" },
    data:
      /answered DATA message 1 with something that is not host input \(message type 7, not DATA \(3\) or ERROR \(4\)\): "\\x00\\x00\\x00\\x07\\x00\\x00\\x00\\x05hello"/,
    version: /^FAIL host input version with .*\(message type 7 with 5 bytes, not MAX_SIZE/m,
  },
  {
    name: 'DATA text without "Done processing"',
    answer: { type: 3, text: "<html><body>Service Unavailable</body></html>\n" },
    data:
      /answered DATA message 1 with something that is not host input \(DATA text without a "Done processing N commands\." line\): "<html><body>Service Unavailable<\/body><\/html>\\n"/,
    version: /^FAIL host input version with .*\(message type 3 with 46 bytes, not MAX_SIZE/m,
  },
];

for (const { name, answer, data, version } of PROTOCOL_ERRORS) {
  Deno.test(`a DC that answers with ${name}: exit 5 showing what came back, no retry, in a run and in -check`, async () => {
    await withFaultyDc({ data: answer }, async (run, dc) => {
      const r = await run([]);
      assert.equal(r.code, 5, all(r));
      assert.match(all(r), data);
      assert.doesNotMatch(all(r), /\r/, "control characters are shown, not sent to the log");
      assert.equal(
        dc.connections,
        1 + 1,
        "the check before the run; a protocol error is not retried",
      );
      assert.equal(dc.dataMessages, 1);
    });
    await withFaultyDc({ version: answer }, async (run) => {
      const c = await run(["-check"]);
      assert.equal(c.code, 5, all(c));
      assert.match(c.stdout, version);
    });
  });
}

Deno.test("a DC that answers DATA with an ERROR message: what it said is logged, exit 6", async () => {
  await withFaultyDc(
    { data: { type: 4, text: "Internal failure\tin\x01 the daemon\n" } },
    async (run) => {
      const r = await run([]);
      assert.equal(r.code, 6, all(r));
      assert.match(
        r.stdout,
        /\[ERROR\] Defense Center: ERROR answer to DATA message 1: "Internal failure\\tin\\x01 the daemon\\n"/,
      );
    },
  );
});

Deno.test("a signal while sending logs one error line: the signal, and how many DATA messages the DC acknowledged", async () => {
  const dc = await startFaultyDc({ maxSize: 1024, data: "silent", dataFaultsAfter: 2 }, { ca: CA });
  const dir = await Deno.makeTempDir({ prefix: "qc-dc-faults-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: connectorArgs([
      `-server=${dc.host}`,
      `-port=${dc.port}`,
      "-r",
      SAMPLE,
      "-stderr",
      "-level",
      "3",
      "-logfile",
      `${dir}/qc.log`,
    ]),
    cwd: dir,
    env: { NO_COLOR: "1", QC_PKCS12_PASSWORD: "pw" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  try {
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient({ password: "pw" }));
    const running = child.spawn();
    const guard = setTimeout(() => running.kill("SIGKILL"), HANG_GUARD_MS); // a guard, not a wait
    try {
      const reader = running.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      // Message 2 answered: message 3 goes out next, and the DC never answers it.
      while (!/DATA message 2 \(first command: [^\n]*\): processed/.test(seen)) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      await dc.dataReceived(3); // message 3 is out, and will never be answered
      running.kill("SIGTERM");
      for (let r = await reader.read(); !r.done; r = await reader.read()) seen += r.value;
      assert.equal((await running.status).code, 143, seen);
      const line = new RegExp(
        `\\[ERROR\\] Stopped by SIGTERM \\(exit 143\\) while sending to the Defense Center ` +
          `127\\.0\\.0\\.1:${dc.port}: it had acknowledged 2 DATA messages of this run, so it ` +
          "holds part of it \\(a message in flight may be processed too\\); the next complete " +
          "run replaces it\n",
      );
      assert.match(seen, line);
      assert.equal(seen.match(/Stopped by/g)?.length, 1, "once: the log already reaches stderr");
      const log = await Deno.readTextFile(`${dir}/qc.log`);
      assert.equal(log.match(/Stopped by SIGTERM/g)?.length, 1, log);
      assert.match(log, line);
      assert.equal(dc.dataMessages, 3);
    } finally {
      clearTimeout(guard);
    }
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a DC that says it processed more commands than a message carried: exit 5 naming the message, nothing more sent", async () => {
  const more = { type: 3, text: "Done processing 32 commands.\n" };
  await withFaultyDc({ data: more }, async (run, dc) => {
    const r = await run([]);
    assert.equal(r.code, 5, all(r));
    assert.match(
      all(r),
      /The Defense Center at 127\.0\.0\.1:\d+ answered DATA message 1 \(first command: AddScanResult,[^)]*\) with "Done processing 32 commands", but the message carried \d+ commands it counts: .* so nothing more was sent \(no earlier message was acknowledged\)/,
    );
    assert.equal(dc.dataMessages, 1, "not sent again");
  });
  // Two answers to message 1: each later message reads the answer of the one before it, until
  // one carries fewer commands than that answer counts.
  await withFaultyDc({ maxSize: 1024, data: "twice", dataFaults: 1 }, async (run, dc) => {
    const r = await run([]);
    assert.equal(r.code, 5, all(r));
    const m =
      /answered DATA message (\d+) \(first command: [^)]*\) with "Done processing (\d+) commands", but the message carried (\d+) commands/
        .exec(all(r));
    assert.ok(m, all(r));
    assert.ok(Number(m[1]) >= 2 && Number(m[2]) > Number(m[3]), m[0]);
    assert.equal(dc.dataMessages, Number(m[1]));
  });
});
