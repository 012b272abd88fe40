/**
 * The proxy path against a real Squid with Basic auth (`basic_ncsa_auth`), when Squid is
 * installed: a throw-away configuration, password file and log directory in a temp directory,
 * Squid in the foreground on 127.0.0.1, stopped and removed afterwards. The download (from the
 * Qualys simulator) and `-check` go through it with the right password and a wrong one.
 */

import assert from "node:assert/strict";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { type QualysSim, startQualysSim } from "../../scripts/sim/qualys/mod.ts";
import { type CliResult, runMain } from "../_cli.ts";
import { haveCommand, ignoreUnless } from "../_skip.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const NAME =
  "downloads and -check go through a real Squid with Basic auth; a wrong password is a 407";

function firstFile(paths: string[]): string | undefined {
  return paths.find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

const SQUID = (await haveCommand("squid", ["-v"]))
  ? "squid"
  : firstFile(["/usr/sbin/squid", "/usr/local/sbin/squid"]);
const NCSA = firstFile([
  "/usr/lib/squid/basic_ncsa_auth",
  "/usr/lib64/squid/basic_ncsa_auth",
  "/usr/libexec/squid/basic_ncsa_auth",
  "/usr/lib/squid3/basic_ncsa_auth",
]);
/** Writes the password file: htpasswd when there, else openssl's apr1 hash. */
const HASHER = (await haveCommand("htpasswd", ["-nbB", "u", "p"]))
  ? "htpasswd"
  : (await haveCommand("openssl", ["version"]))
  ? "openssl"
  : undefined;
const MISSING = !SQUID
  ? "squid is not installed (.ci/run installs it when it can)"
  : !NCSA
  ? "squid's basic_ncsa_auth helper is missing"
  : !HASHER
  ? "neither htpasswd nor openssl is there to write the password file"
  : "";

async function output(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`${cmd} ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

/** A running Squid. */
interface Squid {
  url: string;
  /** Stops Squid (and its helper), then returns its access log. */
  stop(): Promise<string>;
}

let started = 0;

/** Starts Squid on 127.0.0.1 with user zaphod / `password`, all its files in a temp dir. */
async function startSquid(password: string): Promise<Squid> {
  const dir = await Deno.makeTempDir({ prefix: "qc-squid-" });
  const service = `qc${Deno.pid}s${++started}`; // its shared-memory segments are named after it
  let child: Deno.ChildProcess | undefined;
  const cleanup = async () => {
    try { // Squid removes them when it stops; not when it was killed
      for await (const e of Deno.readDir("/dev/shm")) {
        if (e.name.startsWith(`${service}-`)) await Deno.remove(`/dev/shm/${e.name}`);
      }
    } catch { /* no /dev/shm here */ }
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const hash = HASHER === "htpasswd"
      ? await output("htpasswd", ["-nbm", "zaphod", password])
      : `zaphod:${await output("openssl", ["passwd", "-apr1", password])}`;
    await Deno.writeTextFile(`${dir}/passwd`, `${hash}\n`);
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // Squid takes no port 0
    const port = (free.addr as Deno.NetAddr).port;
    free.close();
    // As root, Squid drops to an unprivileged user, who must be able to use the directory.
    const root = await output("id", ["-u"]) === "0"; // Deno.uid() would need --allow-sys
    const user = root ? "proxy" : "";
    if (root) {
      const [uid, gid] = [
        Number(await output("id", ["-u", user])),
        Number(await output("id", ["-g", user])),
      ];
      await Deno.chown(dir, uid, gid);
      await Deno.chown(`${dir}/passwd`, uid, gid);
    }
    await Deno.writeTextFile(
      `${dir}/squid.conf`,
      [
        ...(root ? [`cache_effective_user ${user}`] : []),
        `http_port 127.0.0.1:${port}`,
        `pid_filename ${dir}/squid.pid`,
        `cache_log ${dir}/cache.log`,
        `access_log stdio:${dir}/access.log`,
        "cache_store_log none",
        `coredump_dir ${dir}`,
        "cache deny all",
        "cache_mem 8 MB",
        "pinger_enable off",
        "visible_hostname qc-test",
        `auth_param basic program ${NCSA} ${dir}/passwd`,
        "auth_param basic children 1 startup=1 idle=1",
        "auth_param basic realm qc-test",
        "acl authed proxy_auth REQUIRED",
        "acl CONNECT method CONNECT",
        "http_access deny !authed",
        "http_access allow CONNECT authed",
        "http_access deny all",
        "shutdown_lifetime 0 seconds",
        "",
      ].join("\n"),
    );
    child = new Deno.Command(SQUID!, {
      args: ["-n", service, "-N", "-d", "1", "-f", `${dir}/squid.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Ready when it says it accepts connections (-d 1 copies its log to stderr); the rest of
    // stderr is drained so Squid never blocks on it.
    let log = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`squid ended before it was ready:\n${log}`);
      log += value;
      if (log.includes("Accepting HTTP Socket connections")) break;
    }
    const draining = (async () => {
      while (!(await reader.read()).done) { /* drained */ }
    })();
    const running = child;
    return {
      url: `http://127.0.0.1:${port}`,
      async stop() {
        try {
          running.kill("SIGTERM");
          const hard = setTimeout(() => running.kill("SIGKILL"), 20_000); // a guard, not a wait
          await running.status;
          clearTimeout(hard);
          await draining;
          return await Deno.readTextFile(`${dir}/access.log`).catch(() => "");
        } finally {
          await cleanup();
        }
      },
    };
  } catch (error) {
    if (child) {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
      await child.stderr.cancel().catch(() => {});
    }
    await cleanup();
    throw error;
  }
}

async function withSetup(
  sim: QualysSim,
  proxy: { url: string; password: string },
  body: (run: (args: string[]) => Promise<CliResult>, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qc-squid-run-" });
  try {
    await Deno.mkdir(`${dir}/InputPlugins`);
    await Deno.writeTextFile(`${dir}/ca.pem`, sim.caPem);
    await Deno.writeTextFile(
      `${dir}/InputPlugins/QualysGuard.yaml`,
      `user_id: sim_user\npassword: 'sim_pass'\ntemplate_id: 424242\nurl: ${sim.url}\n` +
        `ca_file: ${dir}/ca.pem\npoll_interval: 0.01\nproxy: ${proxy.url}\n` +
        `proxy_username: zaphod\nproxy_password: '${proxy.password}'\n`,
      { mode: 0o600 },
    );
    await body((args) => runMain(args, { cwd: dir, signal: AbortSignal.timeout(300_000) }), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({ name: NAME, ignore: ignoreUnless(MISSING === "", NAME, MISSING) }, async () => {
  const PASSWORD = "t0w3L!squid";
  const squid = await startSquid(PASSWORD);
  let accessLog = "";
  const sim = await startQualysSim({ reports: { "424242": SAMPLE } }, {
    ca: createTestCa("squid test CA"),
  });
  try {
    await withSetup(sim, { url: squid.url, password: PASSWORD }, async (run, dir) => {
      const r = await run(["-c", "Output.csv", "-timeout", "30", "-level", "3"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const csv = await Deno.readTextFile(`${dir}/Output.csv`);
      assert.equal(csv.split("\n").filter((l) => l.startsWith("AddScanResult")).length, 23);
      assert.ok(!(r.stdout + r.stderr).includes(PASSWORD), "the proxy password is never shown");
      const c = await run(["-check", "-c", "-"]);
      assert.equal(c.code, 0, c.stdout + c.stderr);
      assert.match(
        c.stdout,
        /^OK {3}TLS to 127\.0\.0\.1:\d+ through http:\/\/127\.0\.0\.1:\d+: handshake done/m,
      );
      assert.match(c.stdout, /^OK {3}Qualys login of sim_user \(Report API 2\.0\): accepted/m);
    });
    assert.ok(sim.requests.length > 0);
    assert.ok(sim.requests.every((q) => !q.proxyAuthorization), "credentials reach only the proxy");
    const asked = sim.requests.length;
    await withSetup(sim, { url: squid.url, password: "wrong" }, async (run, dir) => {
      const r = await run(["-c", "Output.csv"]);
      assert.equal(r.code, 3, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /\[ERROR\] the proxy http:\/\/127\.0\.0\.1:\d+ refused the credentials \(407 Proxy Authentication Required\): check proxy_username and proxy_password/,
      );
      assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "InputPlugins",
        "ca.pem",
      ], "no CSV");
      const c = await run(["-check", "-c", "-"]);
      assert.equal(c.code, 3, c.stdout + c.stderr);
      assert.match(
        c.stdout,
        /^FAIL TLS to .*refused the credentials \(407 Proxy Authentication Required\)/m,
      );
    });
    assert.equal(sim.requests.length, asked, "nothing passed the proxy with the wrong password");
  } finally {
    await sim.shutdown();
    accessLog = await squid.stop();
  }
  // Squid's own log: tunnels for zaphod with the right password, 407s with the wrong one.
  assert.match(accessLog, /TCP_TUNNEL\/200 .* CONNECT 127\.0\.0\.1:\d+ zaphod/);
  assert.match(accessLog, /TCP_DENIED\/407 .* CONNECT 127\.0\.0\.1:\d+/);
});
