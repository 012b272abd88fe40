import assert from "node:assert/strict";
import { Logger } from "../../lib/log/logger.ts";
import { FULL_DISK, runInShell } from "../_shell.ts";

async function logLines(
  secrets: string[],
  lines: string[],
  level = 3,
): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "qc-logger-" });
  try {
    const log = new Logger({ level, logfile: `${dir}/qc.log` });
    for (const s of secrets) log.addSecret(s);
    for (const l of lines) log.info(l);
    await log.close();
    return (await Deno.readTextFile(`${dir}/qc.log`)).trimEnd().split("\n")
      .map((l) => l.replace(/^\S+ \S+ \[INFO\] /, ""));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ORDINARY = [
  "Read the plugin configuration from /tmp/qc/InputPlugins/QualysGuard.yaml",
  "Launching a report of template 424242 on qualysapi.qualys.com",
  "Qualys answered CODE 2000: Bad Login/Password: check user_id and password (quote a password)",
  "Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written to /tmp/p/out.csv " +
  "(12345678 bytes); the run took 0.31 s",
];

Deno.test("Logger.summary is a heartbeat: written at -level 1, 2 and 3 with the INFO label, not at -level 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-logger-" });
  try {
    for (const level of [0, 1, 2, 3]) {
      const log = new Logger({ level, logfile: `${dir}/${level}.log` });
      log.info("an info line");
      log.summary("Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written");
      await log.close();
      const text = await Deno.readTextFile(`${dir}/${level}.log`);
      const lines = text.trimEnd().split("\n").filter((l) => l).map((l) => l.slice(20));
      assert.deepEqual(
        lines,
        [
          ...(level >= 2 ? ["[INFO] an info line"] : []),
          ...(level >= 1
            ? ["[INFO] Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written"]
            : []),
        ],
        `-level ${level}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Logger never garbles an ordinary line with a short or common-word password", async () => {
  const secrets = ["p", "a", "tmp", "Read", "report", "password", "template", "12345678x"];
  assert.deepEqual(await logLines(secrets, ORDINARY), ORDINARY);
});

Deno.test("Logger still masks a real secret that reaches a message, plain or URL-encoded", async () => {
  const lines = await logLines(["d0ntp@n1c", "t0w3L#42"], [
    "proxy https://zaphod:d0ntp@n1c@192.168.1.100:443 refused",
    "GET https://h/?pw=d0ntp%40n1c failed",
    "the secret t0w3L#42 leaked; t0w3L#42x is another word",
  ]);
  assert.deepEqual(lines, [
    "proxy https://zaphod:****@192.168.1.100:443 refused",
    "GET https://h/?pw=**** failed",
    "the secret **** leaked; t0w3L#42x is another word",
  ]);
});

Deno.test("Logger neutralises control characters in every line, for every destination", async () => {
  const title = "SSL \x1b[2J\x1b]0;owned\x07 cert\x9b31m\x7f\ttab\r\nnext";
  const [line] = await logLines([], [`Importing QID 38170 on 10.0.0.1: ${title}`]);
  assert.equal(
    line,
    "Importing QID 38170 on 10.0.0.1: SSL \\x1b[2J\\x1b]0;owned\\x07 cert\\x9b31m\\x7f tab next",
  );
  // deno-lint-ignore no-control-regex -- control characters are what must not be there
  assert.ok(!/[\x00-\x1f\x7f-\x9f]/.test(line!), "no raw control character");
});

Deno.test("Logger.clean shows a message as the log would, for the stderr copy of an error", () => {
  const log = new Logger({ level: -1 });
  log.addSecret("d0ntp@n1c");
  assert.equal(log.clean("bad \x1b[31m: d0ntp@n1c\x1b[0m"), "bad \\x1b[31m: ****\\x1b[0m");
});

Deno.test("Logger says on stderr once when the log file fails, and keeps the failure (exit 7)", async () => {
  // A child process on a full disk (see tests/_shell.ts).
  const dir = await Deno.makeTempDir({ prefix: "qc-logger-" });
  try {
    const logger = new URL("../../lib/log/logger.ts", import.meta.url).href;
    const script = `import { Logger } from "${logger}";
      const log = new Logger({ logfile: "${dir}/qc.log" });
      for (let i = 0; i < 40; i++) log.info("line " + i + " " + "x".repeat(60));
      await log.close();
      console.log(JSON.stringify({ path: log.failure?.path, code: log.failure?.exitCode }));`;
    await Deno.writeTextFile(`${dir}/child.ts`, script);
    const { stdout, stderr } = await runInShell(FULL_DISK, [
      Deno.execPath(),
      "run",
      "--allow-read",
      "--allow-write",
      `${dir}/child.ts`,
    ]);
    assert.deepEqual(JSON.parse(stdout), { path: `${dir}/qc.log`, code: 7 });
    assert.equal(stderr.match(/cannot write the log/g)?.length, 1, stderr);
    assert.match(
      stderr,
      /^qualys_connector: .*qc\.log: cannot write the log: file too large: free space/m,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Logger.close does not wait forever for a logger child that hangs: it kills it and says so once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qc-logger-" });
  let pid = 0;
  try {
    // A `logger` that never exits (a syslog daemon that stopped accepting), first on PATH.
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(
      `${dir}/bin/logger`,
      `#!/bin/sh\necho $$ > "${dir}/pid"\nexec sleep 600\n`,
    );
    await Deno.chmod(`${dir}/bin/logger`, 0o755);
    await Deno.writeTextFile(`${dir}/socket`, ""); // stands for /dev/log: it exists
    const logger = new URL("../../lib/log/logger.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/child.ts`,
      `import { Logger } from "${logger}";
      const log = new Logger({ syslog: true, syslogSocket: "${dir}/socket", closeTimeoutMs: 300 });
      log.info("the last line");
      await log.close();
      await log.close();
      console.log("closed");`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-run", `${dir}/child.ts`],
      env: { PATH: `${dir}/bin:${Deno.env.get("PATH")}`, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000), // a guard against a hang, not a speed assertion
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    pid = Number(await Deno.readTextFile(`${dir}/pid`));
    assert.equal(out.code, 0, stderr);
    assert.equal(new TextDecoder().decode(out.stdout), "closed\n");
    assert.equal(stderr.match(/did not take the last log lines/g)?.length, 1, stderr);
    assert.match(
      stderr,
      /^qualys_connector: syslog \(the logger command\) did not take the last log lines within 0\.3 s: stopped it; the end of this run's log may be missing from syslog\n$/,
    );
    const alive = await new Deno.Command("sh", { args: ["-c", `kill -0 ${pid} 2>/dev/null`] })
      .output();
    assert.notEqual(alive.code, 0, "the hung logger child was killed");
  } finally {
    if (pid) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone, as it should be */ }
    }
    await Deno.remove(dir, { recursive: true });
  }
});
