import assert from "node:assert/strict";
import { QualysApiError, ReportSyntaxError } from "../../../lib/errors.ts";
import { QualysClient, type QualysClientOptions } from "../../../lib/qualys/client.ts";
import { downloadReport } from "../../../lib/sources/report/download_report.ts";
import { type ParsedReport, ReportParser } from "../../../lib/sources/report/parse_report.ts";
import { createTestCa, startConnectProxy } from "../../../scripts/sim/net/mod.ts";
import {
  type QualysSim,
  type QualysSimScript,
  startQualysSim,
} from "../../../scripts/sim/qualys/mod.ts";
import { generateReport } from "../../../scripts/gen_report.ts";

const SAMPLE = new URL("../../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("test CA"); // one CA for every simulator in this file

interface Run {
  sim: QualysSim;
  waits: number[];
  warnings: string[];
}

async function withSim(
  script: Partial<QualysSimScript>,
  body: (run: Run, client: (extra?: Partial<QualysClientOptions>) => QualysClient) => Promise<void>,
): Promise<void> {
  const sim = await startQualysSim({ reports: { "424242": SAMPLE }, ...script }, { ca: CA });
  const run: Run = { sim, waits: [], warnings: [] };
  const clients: QualysClient[] = [];
  try {
    await body(run, (extra = {}) => {
      const c = QualysClient.open({
        url: sim.url,
        userId: "sim_user",
        password: "sim_pass",
        caPem: sim.caPem,
        sleep: (ms) => {
          run.waits.push(ms);
          return Promise.resolve();
        },
        random: () => 0.5,
        log: { warn: (m) => run.warnings.push(m), info() {}, debug() {} },
        ...extra,
      });
      clients.push(c);
      return c;
    });
  } finally {
    for (const c of clients) await c.close();
    await sim.shutdown();
  }
}

async function count(report: ParsedReport): Promise<number> {
  let n = 0;
  await report.forEachHost((h) => {
    n += h.count;
  });
  report.dispose();
  return n;
}

const opts = (run: Run) => ({
  firstPollMs: 1000,
  parser: () => new ReportParser({ onWarning: (m: string) => run.warnings.push(m) }),
  onWarning: (m: string) => run.warnings.push(m),
});

Deno.test("downloadReport runs launch, list, fetch and delete with Basic auth and X-Requested-With", async () => {
  await withSim({ runningPolls: 2 }, async (run, client) => {
    const report = await downloadReport(client(), "424242", opts(run));
    assert.equal(await count(report), 23);
    assert.deepStrictEqual(run.sim.requests.map((r) => r.action), [
      "launch",
      "list",
      "list",
      "list",
      "fetch",
      "delete",
    ]);
    assert.ok(
      run.sim.requests.every((r) =>
        r.authorized && r.requestedWith?.startsWith("qualys_connector")
      ),
    );
    const launch = run.sim.requests[0]!.params;
    assert.equal(launch.template_id, "424242");
    assert.equal(launch.output_format, "xml");
    assert.match(launch.report_title!, /^qualys_connector .* template 424242 /);
    assert.ok(launch.report_title!.length <= 128);
    assert.deepStrictEqual(run.sim.deleted, run.sim.launched);
    assert.deepStrictEqual(run.waits, [1000, 1500], "polls back off ×1.5");
  });
});

Deno.test("downloadReport says to check the login for 2000 and 2010, and launches nothing", async () => {
  for (const bad of [{ code: "2000", status: 401 }, { code: "2010", status: 200 }]) {
    await withSim({ badLogin: bad }, async (run, client) => {
      await assert.rejects(
        downloadReport(client({ password: "wrong" }), "424242", opts(run)),
        (e: Error) => {
          assert.ok(e instanceof QualysApiError);
          assert.equal(e.code, bad.code);
          assert.match(
            e.message,
            /check user_id and password .* single quotes.*url is your account's API platform/,
          );
          return true;
        },
      );
      assert.deepStrictEqual(run.sim.launched, []);
    });
  }
});

Deno.test("downloadReport says to check template_id on 999 'Tried to launch invalid report' without retrying", async () => {
  await withSim({}, async (run, client) => {
    await assert.rejects(downloadReport(client(), "999999", opts(run)), (e: QualysApiError) => {
      assert.equal(e.code, "999");
      assert.match(
        e.message,
        /Tried to launch invalid report.*check template_id.*automatic data selection/,
      );
      return true;
    });
    assert.equal(run.sim.requests.length, 1);
  });
});

Deno.test("downloadReport waits out 409 as X-RateLimit-ToWait-Sec, SECONDS_TO_WAIT or 30 s says", async () => {
  await withSim({
    conflicts: [
      { code: "1965", toWaitSec: 7 },
      { code: "1965", secondsToWaitItem: 11 },
      { code: "1960" },
    ],
  }, async (run, client) => {
    assert.equal(await count(await downloadReport(client(), "424242", opts(run))), 23);
    assert.deepStrictEqual(run.waits.slice(0, 3), [7000, 11000, 30000]);
    assert.equal(run.warnings.filter((w) => /limit reached.*waiting/.test(w)).length, 3);
    assert.deepStrictEqual(run.sim.deleted, run.sim.launched);
  });
});

Deno.test("downloadReport gives up on limits it cannot wait out, with exit 3", async () => {
  await withSim({ conflicts: [{ code: "1965", toWaitSec: 86274 }] }, async (run, client) => {
    await assert.rejects(
      downloadReport(client(), "424242", opts(run)),
      /asks to wait 86274 s.*run the connector later/,
    );
  });
  await withSim({ conflicts: Array(5).fill({ code: "1960" }) }, async (run, client) => {
    await assert.rejects(
      downloadReport(client({ maxLimitWaits: 3 }), "424242", opts(run)),
      (e: QualysApiError) => e.exitCode === 3 && /still limited after 3 waits/.test(e.message),
    );
  });
});

Deno.test("downloadReport retries 'Max number of allowed reports already running'", async () => {
  await withSim({ maxReportsRunning: 2 }, async (run, client) => {
    assert.equal(await count(await downloadReport(client(), "424242", opts(run))), 23);
    assert.deepStrictEqual(run.waits.slice(0, 2), [65000, 65000]);
    assert.equal(run.sim.launched.length, 1);
  });
});

Deno.test("downloadReport keeps polling through 7001 and deletes the report", async () => {
  await withSim({ fetch7001: 3 }, async (run, client) => {
    assert.equal(await count(await downloadReport(client(), "424242", opts(run))), 23);
    assert.equal(run.sim.requests.filter((r) => r.action === "fetch").length, 4);
    assert.deepStrictEqual(run.sim.deleted, run.sim.launched);
  });
});

Deno.test("downloadReport retries 5xx with backoff and jitter, bounded", async () => {
  await withSim({ serverErrors: 2 }, async (run, client) => {
    assert.equal(await count(await downloadReport(client(), "424242", opts(run))), 23);
    assert.deepStrictEqual(run.waits.slice(0, 2), [750, 1500]); // base 1 s, 2 s; jitter 0.5
  });
  await withSim({ serverErrors: 10 }, async (run, client) => {
    await assert.rejects(
      downloadReport(client({ maxRetries: 2 }), "424242", opts(run)),
      /HTTP 503 with a body that is not a Qualys answer .*\(action=launch\): .*try again later/,
    );
    assert.deepStrictEqual(run.sim.launched, []);
  });
});

function bigReport() {
  const parts: Uint8Array[] = [];
  const gen = generateReport({ hosts: 300, findingsPerHost: 10, qids: 50, seed: 4 });
  let r = gen.next();
  for (; !r.done; r = gen.next()) parts.push(r.value);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => (bytes.set(p, off), off + p.length), 0);
  return { bytes, findings: r.value.findings };
}

Deno.test("downloadReport fetches again after a reset or a truncated body, and deletes the report", async () => {
  const big = bigReport();
  assert.ok(big.bytes.length > 200_000);
  for (const fault of [{ resetMidDownload: 1 }, { truncatedBody: 2 }]) {
    await withSim({ ...fault, reports: { "424242": big.bytes } }, async (run, client) => {
      assert.equal(await count(await downloadReport(client(), "424242", opts(run))), big.findings);
      assert.ok(
        run.warnings.some((w) =>
          /download of report \d+ (was cut|is truncated)|connection .* was cut/i.test(w)
        ),
        run.warnings.join("\n"),
      );
      assert.equal(
        run.sim.requests.filter((r) => r.action === "fetch").length,
        1 + (fault.truncatedBody ?? 1),
      );
      assert.deepStrictEqual(run.sim.deleted, run.sim.launched);
    });
  }
  await withSim({ truncatedBody: 10, reports: { "424242": big.bytes } }, async (run, client) => {
    await assert.rejects(
      downloadReport(client(), "424242", { ...opts(run), maxFetches: 2 }),
      (e: QualysApiError) =>
        e.exitCode === 3 && /(truncated|was cut).*gave up after 2 downloads/.test(e.message),
    );
    assert.deepStrictEqual(
      run.sim.deleted,
      run.sim.launched,
      "deleted even when the download failed",
    );
  });
});

Deno.test("downloadReport reports a SIMPLE_RETURN served with HTTP 200 as the error it is", async () => {
  await withSim(
    { fetchSimpleReturn: { code: "2001", text: "This account has expired." } },
    async (run, client) => {
      await assert.rejects(downloadReport(client(), "424242", opts(run)), (e: QualysApiError) => {
        assert.equal(e.code, "2001");
        assert.match(e.message, /account has expired: renew it/);
        return true;
      });
      assert.deepStrictEqual(run.sim.deleted, run.sim.launched);
    },
  );
});

Deno.test("downloadReport deletes the report when the report cannot be parsed (exit 4)", async () => {
  const bad = new TextEncoder().encode("<ASSET_DATA_REPORT><HOST_LIST></HOST></ASSET_DATA_REPORT>");
  await withSim({ reports: { "424242": bad } }, async (run, client) => {
    await assert.rejects(downloadReport(client(), "424242", opts(run)), ReportSyntaxError);
    assert.deepStrictEqual(run.sim.deleted, run.sim.launched);
  });
});

Deno.test("downloadReport gives up on Errors and on a report that never finishes", async () => {
  await withSim({ finalState: "Errors" }, async (run, client) => {
    await assert.rejects(
      downloadReport(client(), "424242", opts(run)),
      /ended in state Errors: Report generation failed/,
    );
    assert.deepStrictEqual(run.sim.deleted, run.sim.launched);
  });
  await withSim({ runningPolls: 1000 }, async (run, client) => {
    await assert.rejects(
      downloadReport(client(), "424242", { ...opts(run), maxWaitMs: 10_000 }),
      /not finished after 0 minutes: raise max_report_wait/,
    );
    assert.equal(run.waits.reduce((a, b) => a + b, 0), 10_000, "the total wait is bounded");
    assert.deepStrictEqual(run.sim.deleted, run.sim.launched);
  });
});

Deno.test("QualysClient warns once when X-RateLimit-Remaining is low", async () => {
  await withSim({ rateLimitRemaining: 3 }, async (run, client) => {
    await count(await downloadReport(client(), "424242", opts(run)));
    assert.equal(run.warnings.filter((w) => /Only 3 Qualys API calls are left/.test(w)).length, 1);
  });
});

Deno.test("QualysClient names DNS failure, refused connection and TLS failure apart", async () => {
  const failing = async (url: string, caPem?: string) => {
    const c = QualysClient.open({
      url,
      userId: "u",
      password: "p",
      caPem,
      maxRetries: 0,
      sleep: () => Promise.resolve(),
    });
    try {
      await c.call({ action: "list" });
      throw new Error("expected a failure");
    } catch (e) {
      return e as QualysApiError;
    } finally {
      await c.close();
    }
  };
  const dns = await failing("https://no-such-host.invalid");
  assert.match(dns.message, /Cannot resolve no-such-host\.invalid \(DNS failure\)/);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const refused = await failing(`https://127.0.0.1:${closedPort}`);
  assert.match(refused.message, /Connection to 127\.0\.0\.1:\d+ was refused/);
  await withSim({}, async (run) => {
    const tls = await failing(run.sim.url); // no ca_file: the simulator's CA is unknown
    assert.match(tls.message, /TLS failure talking to 127\.0\.0\.1:\d+.*ca_file/);
    assert.equal(tls.exitCode, 3);
  });
});

Deno.test("proxy credentials reach only the proxy, through http:// and https:// proxies", async () => {
  const proxyTlsCert = CA.issue({ cn: "localhost", sans: ["localhost", "127.0.0.1"] });
  for (const tls of [false, true]) {
    const proxy = startConnectProxy({
      username: "zaphod",
      password: "t0w3L p@ss",
      ...(tls ? { tls: proxyTlsCert } : {}),
    });
    try {
      await withSim({}, async (run, client) => {
        const c = client({
          proxy: proxy.url,
          proxyUsername: "zaphod",
          proxyPassword: "t0w3L p@ss",
        });
        assert.equal(await count(await downloadReport(c, "424242", opts(run))), 23);
        assert.ok(
          proxy.seen.length > 0 &&
            proxy.seen.every((s) => s.proxyAuthorization?.startsWith("Basic ")),
        );
        assert.ok(run.sim.requests.length >= 4);
        assert.ok(
          run.sim.requests.every((r) => !r.proxyAuthorization),
          "Qualys never sees Proxy-Authorization",
        );
      });
    } finally {
      await proxy.shutdown();
    }
  }
});

Deno.test("a proxy that refuses the credentials gets its own message", async () => {
  const proxy = startConnectProxy({ username: "zaphod", password: "right" });
  try {
    await withSim({}, async (run, client) => {
      const c = client({
        proxy: proxy.url,
        proxyUsername: "zaphod",
        proxyPassword: "wrong",
        maxRetries: 0,
      });
      await assert.rejects(
        downloadReport(c, "424242", opts(run)),
        /refused the credentials \(407 Proxy Authentication Required\): check proxy_username and proxy_password/,
      );
      assert.deepStrictEqual(run.sim.requests, []);
    });
  } finally {
    await proxy.shutdown();
  }
});
