import assert from "node:assert/strict";
import { NO_LOG } from "../../lib/log/log.ts";
import { Logger } from "../../lib/log/logger.ts";
import { parseArgv } from "../../lib/cli/parse_argv.ts";
import { csvPlugin, readLines } from "../../lib/plugins/csv.ts";
import { deliver } from "../../lib/pipeline/deliver.ts";
import type { CommandSink } from "../../lib/sinks/sink.ts";
import { workDir } from "../_workdir.ts";

function readerOf(text: string, chunk: number) {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= bytes.length) return Promise.resolve(null);
      const n = Math.min(chunk, p.length, bytes.length - off);
      p.set(bytes.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
}

Deno.test("readLines joins lines cut by reads and splits UTF-8 correctly, in any chunking", async () => {
  const text = "SetSource,Ré\r\nAddHost,10.0.0.1\n\nScanFlush";
  for (const chunk of [1, 2, 3, 7, 1024]) {
    assert.deepEqual(await Array.fromAsync(readLines(readerOf(text, chunk))), [
      "SetSource,Ré",
      "AddHost,10.0.0.1",
      "",
      "ScanFlush",
    ]);
  }
});

async function withCommandFile(text: string, body: (path: string) => Promise<void>) {
  await using dir = await workDir("qc-csvplugin-");
  await Deno.writeTextFile(`${dir.path}/cmds.csv`, text);
  await body(`${dir.path}/cmds.csv`);
}

function context(args: string[]) {
  return {
    cli: parseArgv(args),
    log: new Logger({ level: 0, stderr: true }),
    env: {},
    now: () => new Date(),
  };
}

Deno.test("csv plugin -check names the command file's bad lines and fails", async () => {
  await withCommandFile("SetSource,x\nAddhost,10.0.0.1\n", async (path) => {
    const { steps } = await csvPlugin.check(context(["csv", "-pl", path, "-c", "-"]));
    assert.equal(steps.length, 1);
    assert.equal(steps[0]!.ok, false);
    assert.equal(steps[0]!.code, 2);
    assert.match(
      steps[0]!.detail,
      /cmds\.csv:2: unknown command "Addhost": did you mean "AddHost"/,
    );
  });
});

Deno.test("csv plugin -check counts lines and commands of a good file", async () => {
  await withCommandFile("# header\nSetSource,x\nAddHost,10.0.0.1\n", async (path) => {
    const { steps } = await csvPlugin.check(context(["csv", "-pl", path, "-c", "-"]));
    assert.deepEqual(steps.map((s) => [s.ok, s.detail]), [[true, "3 lines, 2 commands"]]);
  });
});

Deno.test("csv plugin writes only commands (no comments or blank lines) into the sink, then closes it", async () => {
  await withCommandFile("# header\n\nSetSource,x\r\nAddHost,10.0.0.1\n", async (path) => {
    const written: string[] = [];
    let closed = false;
    const sink: CommandSink = {
      write: (b) => Promise.resolve(void written.push(new TextDecoder().decode(b))),
      seal: () => Promise.resolve({ where: "in the test", delivered: true }),
      close: () => Promise.resolve(void (closed = true)),
      abort: () => Promise.reject(new Error("not aborted")),
    };
    const { jobs } = await csvPlugin.prepare(context(["csv", "-pl", path, "-c", "-"]));
    for await (const job of jobs) {
      await deliver(await job.collect(), { openSink: () => Promise.resolve(sink), log: NO_LOG });
    }
    assert.equal(written.join(""), "SetSource,x\nAddHost,10.0.0.1\n");
    assert.ok(closed);
  });
});

Deno.test("csv plugin: the summary heartbeat of a command file, and a bad line counted in the singular", async () => {
  await withCommandFile("# header\nSetSource,x\nAddHost,10.0.0.1\n", async (path) => {
    const sink: CommandSink = {
      write: () => Promise.resolve(),
      seal: () => Promise.resolve({ where: "written to out.csv (28 bytes)", delivered: true }),
      close: () => Promise.resolve(),
      abort: () => Promise.resolve(),
    };
    const said: string[] = [];
    const log = { ...NO_LOG, summary: (m: string) => void said.push(m) };
    const { jobs } = await csvPlugin.prepare(context(["csv", "-pl", path, "-c", "-"]));
    for await (const job of jobs) {
      await deliver(await job.collect(), {
        openSink: () => Promise.resolve(sink),
        log,
        since: { what: "the run", started: performance.now() },
      });
    }
    assert.equal(said.length, 1);
    assert.match(
      said[0]!,
      /^Summary: 2 commands \(2 lines, 0 AddScanResult lines\) of the command file, written to out\.csv \(28 bytes\); the run took \d+\.\d\d s$/,
    );
  });
  await withCommandFile("SetSource,x\nAddhost,10.0.0.1\n", async (path) => {
    const { jobs } = await csvPlugin.prepare(context(["csv", "-pl", path, "-c", "-"]));
    for await (const job of jobs) {
      await assert.rejects(job.collect(), (e: Error) => {
        assert.match(e.message, /: 1 line is not a host input command; nothing was sent:\n {2}/);
        return true;
      });
    }
  });
});

Deno.test("csv plugin accepts a SetMap:<map> prefix and checks the command after it as usual", async () => {
  const good = [
    "SetSource,x",
    "SetMap:Qualys map,AddHost,10.0.0.1",
    '"SetMap:Map, with a comma",AddScanResult,10.0.0.1,"Q",1,,,"t","d","cve_ids:","bugtraq_ids:"',
    " SetMap:Qualys map , ScanFlush",
  ];
  await withCommandFile(`${good.join("\n")}\n`, async (path) => {
    const { steps } = await csvPlugin.check(context(["csv", "-pl", path, "-c", "-"]));
    assert.deepEqual(steps.map((s) => [s.ok, s.detail]), [[true, "4 lines, 4 commands"]]);
  });
  const bad = [
    "SetMap:Qualys map",
    "SetMap:Qualys map,Addhost,10.0.0.1",
    "SetMap:Qualys map,AddHost,10.0.0.1,00:11:22:33:44:55,extra",
    'SetMap:Qualys map,AddScanResult,10.0.0.1,"Q",1,,,"t","d"',
  ];
  await withCommandFile(`${bad.join("\n")}\n`, async (path) => {
    const { steps } = await csvPlugin.check(context(["csv", "-pl", path, "-c", "-"]));
    assert.equal(steps[0]!.ok, false);
    const detail = steps[0]!.detail;
    assert.match(detail, /cmds\.csv:1: a "SetMap:Qualys map" prefix must be followed by a command/);
    assert.match(detail, /cmds\.csv:2: unknown command "Addhost": did you mean "AddHost"/);
    assert.match(detail, /cmds\.csv:3: AddHost takes at most 2 field\(s\) but the line has 3/);
    assert.match(detail, /cmds\.csv:4: AddScanResult with a vuln_id needs the fields "cve_ids/);
  });
});
