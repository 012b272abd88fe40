/**
 * The Qualys side under `-timeout`, through the CLI: a report download that stalls, API answers
 * that trickle in, a server that never completes TLS, a proxy that never answers CONNECT. Every
 * run must end with exit 3 naming the step; a timeout is transient, so it is retried a bounded
 * number of times (counted by the retries the run logs and the requests the servers saw).
 */

import assert from "node:assert/strict";
import { startFaultyDc } from "../../scripts/sim/fmc/mod.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { startQualysSim } from "../../scripts/sim/qualys/mod.ts";
import { type CliResult, runMain } from "../_cli.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("Qualys timeout test CA");
/** A run that has not ended after this long hangs: it is killed and the test fails. */
const HANG_GUARD_MS = 300_000;
const all = (r: CliResult) => r.stdout + r.stderr;
const count = (r: CliResult, text: string) => all(r).split(text).length - 1;

/** A working directory with InputPlugins/QualysGuard.yaml for `url` (and `extra` keys). */
async function withSetup(
  url: string,
  extra: string,
  body: (run: (args: string[]) => Promise<CliResult>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qc-qualys-timeouts-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/ca.pem`, CA.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: 'sim_pass'\ntemplate_id: 424242\nurl: ${url}\n` +
        `ca_file: ${dir}/ca.pem\npoll_interval: 0.01\n${extra}`,
      { mode: 0o600 },
    );
    await body((args) => runMain(args, { cwd: dir, signal: AbortSignal.timeout(HANG_GUARD_MS) }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * An HTTPS "Qualys API" that answers every call at once with its headers, then sends a
 * SIMPLE_RETURN one byte every `ms`: each gap is short, the whole answer is not.
 */
function startTricklingApi(ms: number) {
  const server = CA.issue({ cn: "localhost", sans: ["localhost", "127.0.0.1"] });
  const timers = new Set<ReturnType<typeof setInterval>>();
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  let calls = 0;
  const body = new TextEncoder().encode(
    '<?xml version="1.0" encoding="UTF-8" ?>\n<SIMPLE_RETURN><RESPONSE><TEXT>New report launched' +
      "</TEXT></RESPONSE></SIMPLE_RETURN>\n",
  );
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const http = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: server.certPem,
    key: server.keyPem,
    onListen: ({ port }) => resolve(port),
  }, async (req) => {
    await req.text();
    calls++;
    let at = 0, timer: ReturnType<typeof setInterval>;
    return new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          streams.add(c);
          timer = setInterval(() => {
            if (at < body.length) c.enqueue(body.subarray(at, ++at));
          }, ms);
          timers.add(timer);
        },
        cancel() {
          clearInterval(timer);
          timers.delete(timer);
        },
      }),
      { headers: { "Content-Type": "text/xml" } },
    );
  });
  return {
    listening,
    get calls() {
      return calls;
    },
    async close() {
      for (const t of timers) clearInterval(t);
      for (const c of streams) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await http.shutdown();
    },
  };
}

/** A CONNECT proxy that accepts connections and never answers (a stuck proxy). */
function startSilentProxy() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) held.push(conn);
    } catch { /* closed */ }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get connections() {
      return held.length;
    },
    async close() {
      listener.close();
      for (const c of held) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
    },
  };
}

Deno.test("a report download that stalls is fetched again, 5 times, then exit 3 naming the stall", async () => {
  // The body's first chunk waits 30 s: far past -timeout 1, so every fetch stalls.
  const sim = await startQualysSim({ reports: { "424242": SAMPLE }, slowBodyMs: 30_000 }, {
    ca: CA,
  });
  try {
    await withSetup(sim.url, "", async (run) => {
      const r = await run(["-c", "Output.csv", "-timeout", "1"]);
      assert.equal(r.code, 3, all(r));
      assert.match(
        all(r),
        /\[ERROR\] The download of report \d+ stalled: no data for 1 s \(-timeout\) after 0 bytes; gave up after 5 downloads/,
      );
      assert.equal(count(r, "fetching report"), 4, "fetched again 4 times");
      assert.equal(sim.requests.filter((q) => q.action === "fetch").length, 5);
      assert.deepStrictEqual(sim.deleted, sim.launched, "the report is deleted all the same");
    });
  } finally {
    await sim.shutdown();
  }
});

Deno.test("Qualys answers that trickle in a byte at a time: exit 3 naming the call, in a run and in -check", async () => {
  const api = startTricklingApi(200);
  try {
    const url = `https://127.0.0.1:${await api.listening}`;
    await withSetup(url, "", async (run) => {
      const r = await run(["-c", "Output.csv", "-timeout", "1"]);
      assert.equal(r.code, 3, all(r));
      assert.match(
        all(r),
        /\[ERROR\] No whole answer to action=launch from 127\.0\.0\.1:\d+ within 1 s \(-timeout\): the network, the proxy or Qualys is slow or stuck; try again later \(action=launch\); gave up after 4 retries/,
      );
      assert.equal(count(r, "retrying in"), 4);
      assert.equal(api.calls, 5);
      const c = await run(["-check", "-c", "-", "-timeout", "1"]);
      assert.equal(c.code, 3, all(c));
      assert.match(c.stdout, /^OK {3}TLS to 127\.0\.0\.1:\d+: handshake done/m);
      assert.match(
        c.stdout,
        /^FAIL Qualys login of sim_user \(Report API 2\.0\): No whole answer to action=list from 127\.0\.0\.1:\d+ within 1 s/m,
      );
    });
  } finally {
    await api.close();
  }
});

Deno.test("-check names a Qualys URL that accepts TCP and never completes TLS", async () => {
  const silent = await startFaultyDc({ noTls: true });
  try {
    await withSetup(`https://127.0.0.1:${silent.port}`, "", async (run) => {
      const c = await run(["-check", "-c", "-", "-timeout", "1"]);
      assert.equal(c.code, 3, all(c));
      assert.match(
        c.stdout,
        /^FAIL TLS to 127\.0\.0\.1:\d+: No TLS handshake from 127\.0\.0\.1:\d+ within 1 s \(-timeout\)/m,
      );
      assert.doesNotMatch(c.stdout, /Qualys login/, "the login is not tried");
    });
  } finally {
    await silent.shutdown();
  }
});

Deno.test("a proxy that never answers CONNECT: exit 3 naming the proxy, in a run and in -check", async () => {
  const proxy = startSilentProxy();
  const sim = await startQualysSim({ reports: { "424242": SAMPLE } }, { ca: CA });
  try {
    await withSetup(sim.url, `proxy: ${proxy.url}\n`, async (run) => {
      const named = new RegExp(
        `the proxy ${
          proxy.url.replace(/[./]/g, "\\$&")
        } did not answer CONNECT to 127\\.0\\.0\\.1:\\d+ within 1 s \\(-timeout\\): check that it is a web proxy`,
      );
      const c = await run(["-check", "-c", "-", "-timeout", "1"]);
      assert.equal(c.code, 3, all(c));
      assert.match(c.stdout, /^FAIL TLS to 127\.0\.0\.1:\d+ through http:\/\/127\.0\.0\.1:\d+: /m);
      assert.match(c.stdout, named);
      const r = await run(["-c", "Output.csv", "-timeout", "1"]);
      assert.equal(r.code, 3, all(r));
      assert.match(all(r), named);
      assert.match(all(r), /gave up after 4 retries/);
      assert.equal(count(r, "retrying in"), 4);
      assert.deepStrictEqual(sim.requests, [], "nothing reached Qualys");
    });
  } finally {
    await proxy.close();
    await sim.shutdown();
  }
});
