/**
 * Local files and streams, end to end: what `-csvfile` names (links, FIFOs, devices), failures
 * to read or write (exit 7, or 2 for a wrong path), a closed stdout pipe, errors on stderr,
 * SIGHUP and the temp files of killed runs. A full disk: see tests/_shell.ts.
 */

import assert from "node:assert/strict";
import { connectorArgs } from "../../scripts/connector_command.ts";
import { type CliResult, runMain } from "../_cli.ts";
import { FULL_DISK, runInShell } from "../_shell.ts";
import { haveCommand, ignoreUnless } from "../_skip.ts";
import { withWorkDir } from "../_workdir.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Runs main.ts in `sh` after `setup` (see tests/_shell.ts). */
async function runMainInShell(
  setup: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  await runMain(["-version"]); // compiled and cached before any limit applies to Deno itself
  return await runInShell(setup, [Deno.execPath(), ...connectorArgs(args)], options);
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function commandFile(hosts: number): string {
  const lines = ["SetSource,Bulk"];
  for (let i = 0; i < hosts; i++) {
    lines.push(`AddHost,10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  }
  return `${lines.join("\n")}\n`;
}

// ---- -csvfile: what the path names ----

Deno.test("main -csvfile through a symlink replaces the target and keeps the link", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/real.csv`, "previous\n");
    await Deno.symlink("real.csv", `${dir}/Output.csv`);
    const r = await runMain(["-r", SAMPLE, "-c", "Output.csv", "-le", "0"], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await Deno.lstat(`${dir}/Output.csv`)).isSymlink, true);
    assert.match(
      await Deno.readTextFile(`${dir}/real.csv`),
      /^SetSource,QualysGuard Scan Report\n/,
    );
  });
});

Deno.test("main -csvfile into a FIFO: its reader gets the commands, the FIFO stays", async () => {
  await withWorkDir(async (dir) => {
    const fifo = `${dir}/commands.fifo`;
    assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).spawn();
    try {
      const r = await runMain(["-r", SAMPLE, "-c", fifo], { cwd: dir });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /0 hosts cleared, written to .*commands\.fifo \(4649 bytes\)/);
      assert.equal((await Deno.lstat(fifo)).isFifo, true);
      const got = decoder.decode((await reader.output()).stdout);
      assert.equal(got.split("\n").filter((l) => l.startsWith("AddScanResult")).length, 23);
    } finally {
      try {
        reader.kill();
      } catch { /* ended */ }
      await reader.status;
    }
  });
});

Deno.test("main -csvfile /dev/stdout (or a link to it) writes to stdout like -c -", async () => {
  await withWorkDir(async (dir) => {
    await Deno.symlink("/dev/stdout", `${dir}/out.csv`);
    for (const target of ["/dev/stdout", `${dir}/out.csv`]) {
      const r = await runMain(["-r", SAMPLE, "-c", target, "-le", "0"], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^SetSource,QualysGuard Scan Report\n(AddScanResult|ScanFlush)/);
      assert.equal((await Deno.lstat(`${dir}/out.csv`)).isSymlink, true);
    }
    const r = await runMain(["-r", SAMPLE, "-c", "/dev/stdout"], { cwd: dir });
    assert.ok(r.stdout.split("\n").every((l) => !l.includes("[INFO]")), "logs go to stderr");
    assert.match(
      r.stderr,
      /Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written to stdout/,
    );
  });
});

Deno.test("main -csvfile refuses a socket before reading the report (exit 2)", async () => {
  await withWorkDir(async (dir) => {
    const listener = Deno.listen({ transport: "unix", path: `${dir}/s.sock` });
    try {
      const r = await runMain(["-r", SAMPLE, "-c", "s.sock"], { cwd: dir });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stdout, /s\.sock: is a socket: -csvfile writes a regular file, a FIFO/);
      assert.doesNotMatch(r.stdout, /Reading the Qualys report/);
      assert.equal((await Deno.lstat(`${dir}/s.sock`)).isSocket, true);
    } finally {
      listener.close();
    }
  });
});

const DEV_TTY =
  "main -csvfile /dev/tty, which Deno opens only with --allow-all: exit 2 before reading";
Deno.test({
  name: DEV_TTY,
  ignore: ignoreUnless(exists("/dev/tty"), DEV_TTY, "this machine has no /dev/tty"),
}, async () => {
  // Deno can examine /dev/tty but refuses to open it without --allow-all: this was found only
  // after the report was read, as exit 7 saying "run again with the --allow-all flag".
  await withWorkDir(async (dir) => {
    const r = await runMain(["-r", "-", "-c", "/dev/tty"], { cwd: dir, stdin: "" });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /\/dev\/tty: out of reach: the connector writes files, FIFOs, \/dev\/null/,
    );
    assert.doesNotMatch(r.stdout + r.stderr, /allow-all|Reading the Qualys report/);
  });
});

Deno.test("main checks that the CSV can be written before it reads the report", async () => {
  await withWorkDir(async (dir) => {
    // The report on stdin is empty: reading it first would fail with exit 4 instead.
    const r = await runMain(["-r", "-", "-c", `${dir}/missing/Output.csv`], {
      cwd: dir,
      stdin: "",
    });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /missing\/Output\.csv: cannot create a file in .*missing: .*exists/);
    assert.doesNotMatch(r.stdout, /Reading the Qualys report/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

// ---- local I/O failures: exit 7 with the file and the fix ----

Deno.test("main exits 7 naming the CSV when its file system is full; the old file stays", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/Output.csv`, "previous good file\n");
    const r = await runMainInShell(FULL_DISK, ["-r", SAMPLE, "-c", "Output.csv"], { cwd: dir });
    assert.equal(r.code, 7, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^qualys_connector: Output\.csv: cannot write the commands: file too large: free space on the file system of \. or name another -csvfile$/m,
    );
    assert.equal(await Deno.readTextFile(`${dir}/Output.csv`), "previous good file\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["Output.csv"]);
  });
});

Deno.test("main exits 7 naming the spool and TMPDIR when the temp directory is full", async () => {
  await withWorkDir(async (dir) => {
    await Deno.mkdir(`${dir}/tmp`);
    await Deno.writeTextFile(`${dir}/cmds.csv`, commandFile(200));
    const r = await runMainInShell(FULL_DISK, ["csv", "-pl", "cmds.csv", "-c", "-"], {
      cwd: dir,
      env: { TMPDIR: `${dir}/tmp` },
    });
    assert.equal(r.code, 7, r.stderr);
    assert.match(
      r.stderr,
      /\/tmp\/qualys_connector-commands-\w+: cannot write the command spool: file too large: set TMPDIR to a writable directory on a file system with more free space/,
    );
    assert.equal(r.stdout, "");
    assert.deepEqual([...Deno.readDirSync(`${dir}/tmp`)], [], "the spool is removed");
  });
});

Deno.test("main exits 7 when TMPDIR cannot take the spool at all", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/cmds.csv`, commandFile(2));
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    const r = await runMain(["csv", "-pl", "cmds.csv", "-c", "-"], {
      cwd: dir,
      env: { TMPDIR: `${dir}/not-a-dir` },
    });
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /not-a-dir: cannot create the command spool there: .*set TMPDIR/);
  });
});

Deno.test("main exits 7 when TMPDIR does not exist, saying so without the runtime's words", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/cmds.csv`, commandFile(2));
    const r = await runMain(["csv", "-pl", "cmds.csv", "-c", "-"], {
      cwd: dir,
      env: { TMPDIR: `${dir}/gone` },
    });
    assert.equal(r.code, 7, r.stderr);
    // It once read "No such file or directory (os error 2): tmpfile: set TMPDIR to a writable
    // directory on a file system with more free space".
    assert.match(
      r.stderr,
      /\[ERROR\] \S+\/gone: cannot create the command spool there: no such file or directory: set TMPDIR to a directory that exists\n/,
    );
  });
});

Deno.test("main exits 7 and says so on stderr when the log file's file system is full", async () => {
  await withWorkDir(async (dir) => {
    const r = await runMainInShell(
      FULL_DISK,
      ["-r", SAMPLE, "-c", "-", "-le", "3", "-logfile", "qc.log"],
      { cwd: dir },
    );
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("AddScanResult")).length, 23);
    assert.equal(r.stderr.match(/cannot write the log/g)?.length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^qualys_connector: qc\.log: cannot write the log: file too large: free space/m,
    );
  });
});

Deno.test("main -report DIRECTORY and csv -plugininfo DIRECTORY are usage errors naming it", async () => {
  await withWorkDir(async (dir) => {
    for (
      const [args, message] of [
        [
          ["-r", dir, "-c", "-"],
          /: cannot read the report: is a directory: check the -report path/,
        ],
        [["csv", "-pl", dir, "-c", "-"], /: cannot read the command file: is a directory: check/],
      ] as const
    ) {
      const r = await runMain([...args], { cwd: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.ok(r.stderr.includes(dir), r.stderr);
    }
  });
});

Deno.test("main ends quietly with exit 7 when the reader of stdout goes away (-c - | head)", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/cmds.csv`, commandFile(200_000)); // far more than a pipe holds
    const child = new Deno.Command(Deno.execPath(), {
      args: connectorArgs(["csv", "-pl", "cmds.csv", "-c", "-"]),
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read(); // like head: take the first lines, then close the pipe
    await reader.cancel();
    const [status, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    assert.match(decoder.decode(first.value), /^SetSource,Bulk\n/);
    assert.equal(status.code, 7);
    assert.doesNotMatch(stderr, /ERROR|Broken pipe|qualys_connector:/);
  });
});

// ---- errors reach stderr ----

Deno.test("main prints an error to stderr too when logs go to stdout (cron: >/dev/null)", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.xml`, "<ASSET_DATA_REPORT><HOST_LIST>");
    const r = await runMain(["-r", "bad.xml", "-c", "Output.csv"], { cwd: dir });
    assert.equal(r.code, 4);
    assert.match(r.stdout, /\[ERROR\] bad\.xml: The report is truncated/);
    assert.match(
      r.stderr,
      /^qualys_connector: bad\.xml: The report is truncated.*nothing was written\n$/,
    );
  });
});

Deno.test("main prints an error once when stdout and stderr are the same file (>log 2>&1)", async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.xml`, "<ASSET_DATA_REPORT><HOST_LIST>");
    const r = await runMainInShell("exec >out.log 2>&1", ["-r", "bad.xml", "-c", "Output.csv"], {
      cwd: dir,
    });
    assert.equal(r.code, 4);
    const log = await Deno.readTextFile(`${dir}/out.log`);
    assert.equal(log.match(/The report is truncated/g)?.length, 1, log);
  });
});

const ON_TERMINAL = "main prints an error once on a terminal";
Deno.test({
  name: ON_TERMINAL,
  ignore: ignoreUnless(
    await haveCommand("script", ["-qec", "true", "/dev/null"]),
    ON_TERMINAL,
    "script(1) from util-linux is missing, so no terminal can be given to the child",
  ),
}, async () => {
  await withWorkDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.xml`, "<ASSET_DATA_REPORT><HOST_LIST>");
    await runMain(["-version"]);
    const command = [Deno.execPath(), ...connectorArgs(["-r", "bad.xml", "-c", "o.csv"])]
      .map((a) => `'${a}'`).join(" ");
    const out = await new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = decoder.decode(out.stdout);
    assert.equal(text.match(/The report is truncated/g)?.length, 1, text);
  });
});

// ---- secrets and control characters in the log ----

Deno.test("main with a one-letter password logs ordinary lines ungarbled", async () => {
  await withWorkDir(async (dir) => {
    await Deno.mkdir(`${dir}/p`);
    await Deno.writeTextFile(`${dir}/p/q.yaml`, "user_id: u\npassword: p\ntemplate_id: 1\n", {
      mode: 0o600,
    });
    const r = await runMain(["-r", SAMPLE, "-c", "-", "-pl", `${dir}/p/q.yaml`], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`Read the plugin configuration from ${dir}/p/q.yaml`), r.stderr);
    assert.doesNotMatch(r.stderr, /\*\*\*\*/);
  });
});

Deno.test("main -level 3 shows control characters of a report's titles as \\xHH", async () => {
  await withWorkDir(async (dir) => {
    // XML forbids the C0 controls but tab, LF and CR (the scanner rejects them, as expat does);
    // DEL and the C1 controls (CSI, 0x9b, can drive a terminal) are well-formed XML.
    const xml = (await Deno.readTextFile(SAMPLE)).replace(
      "<TITLE><![CDATA[ICMP Timestamp Request]]>",
      "<TITLE><![CDATA[ICMP \x9b2J\x9b]0;owned\x7f Timestamp\x9b Request]]>",
    );
    await Deno.writeTextFile(`${dir}/r.xml`, xml);
    const r = await runMain(["-r", "r.xml", "-c", "Output.csv", "-le", "3"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Importing QID 82003 on 10\.0\.0\.\d: ICMP \\x9b2J\\x9b]0;owned\\x7f/);
    // deno-lint-ignore no-control-regex -- control characters are what must not be there
    assert.doesNotMatch(r.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  });
});

// ---- signals and the temp files of killed runs ----

Deno.test("main on SIGHUP removes its temp files and exits 129", async () => {
  await withWorkDir(async (dir) => {
    await Deno.mkdir(`${dir}/tmp`);
    const watcher = Deno.watchFs(`${dir}/tmp`);
    const child = new Deno.Command(Deno.execPath(), {
      args: connectorArgs(["csv", "-pl", "-", "-c", "out.csv"]),
      cwd: dir,
      env: { NO_COLOR: "1", TMPDIR: `${dir}/tmp` },
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // The csv plugin opens its spool (made 0600 once its remover is registered: that chmod is
      // the "modify"), then waits for the commands on stdin.
      for await (const event of watcher) {
        if (event.kind === "modify" && event.paths.some((p) => p.includes("commands-"))) break;
      }
      assert.equal([...Deno.readDirSync(`${dir}/tmp`)].length, 1);
      child.kill("SIGHUP");
      assert.equal((await child.status).code, 129);
      assert.deepEqual([...Deno.readDirSync(`${dir}/tmp`)], []);
    } finally {
      watcher.close();
      await child.stdin.close().catch(() => {});
    }
  });
});

const DAY = 86400_000;

async function touch(path: string, ageMs: number): Promise<void> {
  await Deno.writeTextFile(path, "left behind\n");
  const when = new Date(Date.now() - ageMs);
  await Deno.utime(path, when, when);
}

Deno.test("main removes this program's temp files older than a day, and nothing else", async () => {
  await withWorkDir(async (dir) => {
    await Deno.mkdir(`${dir}/tmp`);
    await Deno.mkdir(`${dir}/out`);
    const stale = [
      "tmp/qualys_connector-spool-0a1b2c3d4e5f6a7b",
      "tmp/qualys_connector-commands-0a1b2c3d4e5f6a7b",
      "tmp/qualys_connector-glossary-0a1b2c3d4e5f6a7b",
      "tmp/qualys_connector-texts-0a1b2c3d4e5f6a7b",
      "out/.Output.csv.0a1b2c3d4e5f6a7b.tmp",
    ];
    const kept = [
      "tmp/qualys_connector-spool-1a1b2c3d4e5f6a7b", // fresh: a run in progress
      "tmp/qualys_connector-report.xml", // not a name this program makes
      "tmp/other-spool-0a1b2c3d4e5f6a7b",
      "out/.Other.csv.0a1b2c3d4e5f6a7b.tmp", // another CSV's
      "out/Output.csv.bak",
    ];
    for (const f of stale) await touch(`${dir}/${f}`, 2 * DAY);
    for (const f of kept) await touch(`${dir}/${f}`, f.includes("1a1b") ? DAY / 2 : 2 * DAY);
    await Deno.symlink(`${dir}/out/Output.csv.bak`, `${dir}/tmp/qualys_connector-spool-2a1b`);
    const r = await runMain(["-r", SAMPLE, "-c", `${dir}/out/Output.csv`], {
      cwd: dir,
      env: { TMPDIR: `${dir}/tmp` },
    });
    assert.equal(r.code, 0, r.stderr);
    for (const f of stale) assert.throws(() => Deno.lstatSync(`${dir}/${f}`), Deno.errors.NotFound);
    for (const f of kept) Deno.lstatSync(`${dir}/${f}`);
    assert.ok(Deno.lstatSync(`${dir}/tmp/qualys_connector-spool-2a1b`).isSymlink);
    assert.match(
      r.stdout,
      /\[INFO\] Removed the temp files a killed run left behind: .*spool-0a1b/,
    );
  });
});

const CHOWN = "main leaves stale temp files of other users alone";
const canChown = await (async () => {
  const probe = await Deno.makeTempFile({ prefix: "qc-chown-" });
  try {
    await Deno.chown(probe, 65534, 65534);
    return true;
  } catch {
    return false;
  } finally {
    await Deno.remove(probe);
  }
})();
Deno.test({
  name: CHOWN,
  ignore: ignoreUnless(canChown, CHOWN, "only root can give a file to another user"),
}, async () => {
  await withWorkDir(async (dir) => {
    const theirs = `${dir}/qualys_connector-spool-0a1b2c3d4e5f6a7b`;
    await touch(theirs, 2 * DAY);
    await Deno.chown(theirs, 65534, 65534);
    const r = await runMain(["-r", SAMPLE, "-c", "-"], { cwd: dir, env: { TMPDIR: dir } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Deno.lstatSync(theirs).uid, 65534);
  });
});

Deno.test("-multiinfo refuses a -csvfile that is not a regular file (exit 2), before any work", async () => {
  await withWorkDir(async (dir) => {
    const fifo = `${dir}/x.fifo`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(made.code, 0);
    const cases: [string, string][] = [
      ["/dev/stdout", "this program's stdout"],
      ["/dev/fd/2", "this program's stderr"],
      ["/dev/null", "a character device"],
      [fifo, "a FIFO"],
    ];
    for (const [target, kind] of cases) {
      const r = await runMain(["-multiinfo", "424242,535353", "-c", target], { cwd: dir });
      assert.equal(r.code, 2, `${target}: ${r.stdout}${r.stderr}`);
      const where = target.replace(/[^/]+$/, (name) => `<template id>_${name}`);
      assert.ok(
        (r.stdout + r.stderr).includes(
          `${target}: is ${kind}, not a regular file: with -multiinfo each template writes its ` +
            `own file beside the named one (${where}), so -csvfile must name a regular file or a ` +
            "new one; use -csvfile - to write every template's commands to stdout",
        ),
        r.stdout + r.stderr,
      );
      assert.doesNotMatch(r.stdout + r.stderr, /QualysGuard\.yaml/, "refused before the config");
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x.fifo"]);
  });
});
