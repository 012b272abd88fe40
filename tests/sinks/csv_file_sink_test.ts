import assert from "node:assert/strict";
import { LocalIoError } from "../../lib/errors.ts";
import {
  isCsvTempName,
  openCsvFileSink,
  probeCsvFile,
  resolveCsvTarget,
} from "../../lib/sinks/csv_file_sink.ts";
import { withWorkDir } from "../_workdir.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("openCsvFileSink follows a symlink and replaces its target atomically; the link stays", async () => {
  await withWorkDir(async (dir) => {
    await Deno.mkdir(`${dir}/data`);
    await Deno.writeTextFile(`${dir}/data/real.csv`, "previous\n", { mode: 0o640 });
    await Deno.chmod(`${dir}/data/real.csv`, 0o640);
    await Deno.symlink("data/real.csv", `${dir}/link.csv`);
    const sink = await openCsvFileSink(`${dir}/link.csv`);
    await sink.write(bytes("ScanFlush\n"));
    assert.equal(await Deno.readTextFile(`${dir}/data/real.csv`), "previous\n", "not before close");
    const { where } = await sink.seal();
    await sink.close();
    assert.equal((await Deno.lstat(`${dir}/link.csv`)).isSymlink, true);
    assert.equal(await Deno.readLink(`${dir}/link.csv`), "data/real.csv");
    assert.equal(await Deno.readTextFile(`${dir}/data/real.csv`), "ScanFlush\n");
    assert.equal((await Deno.stat(`${dir}/data/real.csv`)).mode! & 0o777, 0o640);
    assert.equal(where, `written to ${dir}/link.csv (${dir}/data/real.csv) (10 bytes)`);
    assert.deepEqual([...Deno.readDirSync(`${dir}/data`)].map((e) => e.name), ["real.csv"]);
  });
});

Deno.test("openCsvFileSink creates the target of a dangling symlink, 0600", async () => {
  await withWorkDir(async (dir) => {
    await Deno.symlink(`${dir}/new.csv`, `${dir}/link.csv`);
    const sink = await openCsvFileSink(`${dir}/link.csv`);
    await sink.write(bytes("ScanFlush\n"));
    await sink.close();
    assert.equal((await Deno.lstat(`${dir}/link.csv`)).isSymlink, true);
    assert.equal(await Deno.readTextFile(`${dir}/new.csv`), "ScanFlush\n");
    assert.equal((await Deno.stat(`${dir}/new.csv`)).mode! & 0o777, 0o600);
  });
});

Deno.test("openCsvFileSink writes straight into a FIFO, and its reader gets the commands", async () => {
  await withWorkDir(async (dir) => {
    const fifo = `${dir}/commands.fifo`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success, "mkfifo");
    const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).spawn();
    try {
      const sink = await openCsvFileSink(fifo); // returns once cat has the FIFO open
      await sink.write(bytes("SetSource,x\n"));
      await sink.write(bytes("ScanFlush\n"));
      const { where } = await sink.seal();
      await sink.close();
      assert.equal((await Deno.lstat(fifo)).isFifo, true, "the FIFO is still a FIFO");
      const out = await reader.output();
      assert.equal(new TextDecoder().decode(out.stdout), "SetSource,x\nScanFlush\n");
      assert.equal(where, `written to ${fifo} (22 bytes)`);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["commands.fifo"]);
    } finally {
      try {
        reader.kill();
      } catch { /* ended */ }
      await reader.status;
    }
  });
});

Deno.test("openCsvFileSink writes straight into a character device behind a link, which stays", async () => {
  await withWorkDir(async (dir) => {
    await Deno.symlink("/dev/null", `${dir}/discard.csv`);
    assert.equal((await resolveCsvTarget(`${dir}/discard.csv`)).kind, "stream");
    const sink = await openCsvFileSink(`${dir}/discard.csv`);
    await sink.write(bytes("ScanFlush\n"));
    await sink.close();
    assert.equal((await Deno.lstat(`${dir}/discard.csv`)).isSymlink, true);
    assert.equal((await Deno.stat("/dev/null")).isCharDevice, true);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["discard.csv"]);
  });
});

Deno.test("openCsvFileSink refuses a socket, a directory and a device out of reach (exit 2)", async () => {
  await withWorkDir(async (dir) => {
    const socket = `${dir}/s.sock`;
    const listener = Deno.listen({ transport: "unix", path: socket });
    try {
      for (
        const [path, reason] of [
          [socket, /s\.sock: is a socket: -csvfile writes a regular file, a FIFO or a character/],
          [dir, /is a directory/],
          ["/dev/full", /\/dev\/full: out of reach: .*stdout \(-csvfile -\)/],
          ["/dev/tty", /\/dev\/tty: out of reach: .*stdout \(-csvfile -\)/],
        ] as const
      ) {
        for (const open of [openCsvFileSink, probeCsvFile]) {
          await assert.rejects(open(path), (e: LocalIoError) => {
            assert.ok(e instanceof LocalIoError);
            assert.match(e.message, reason);
            assert.equal(e.exitCode, 2);
            return true;
          });
        }
      }
      assert.equal((await Deno.lstat(socket)).isSocket, true, "the socket is untouched");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["s.sock"]);
    } finally {
      listener.close();
    }
  });
});

Deno.test("resolveCsvTarget knows /dev/stdout and /dev/stderr by name, also behind a link", async () => {
  await withWorkDir(async (dir) => {
    await Deno.symlink("/dev/stdout", `${dir}/out.csv`);
    assert.deepEqual(await resolveCsvTarget("/dev/stdout"), {
      kind: "stdout",
      path: "/dev/stdout",
    });
    assert.deepEqual(await resolveCsvTarget("/dev/fd/2"), { kind: "stderr", path: "/dev/fd/2" });
    assert.deepEqual(await resolveCsvTarget(`${dir}/out.csv`), {
      kind: "stdout",
      path: `${dir}/out.csv`,
    });
  });
});

Deno.test("openCsvFileSink turns a write failure into a LocalIoError naming the file and the fix", async () => {
  await withWorkDir(async (dir) => {
    const sink = await openCsvFileSink(`${dir}/out.csv`);
    await sink.write(bytes("SetSource,x\n"));
    // The temp file is gone under the sink: its final sync and rename cannot succeed.
    for (const e of Deno.readDirSync(dir)) await Deno.remove(`${dir}/${e.name}`);
    await Deno.remove(dir, { recursive: true });
    await assert.rejects(sink.close(), (e: LocalIoError) => {
      assert.ok(e instanceof LocalIoError);
      assert.match(e.message, /out\.csv: cannot write the commands: .*name another -csvfile/);
      assert.equal(e.exitCode, 7);
      return true;
    });
    await Deno.mkdir(dir);
  });
});

Deno.test("probeCsvFile checks the destination without leaving anything behind", async () => {
  await withWorkDir(async (dir) => {
    await probeCsvFile(`${dir}/out.csv`);
    await Deno.writeTextFile(`${dir}/kept.csv`, "previous\n");
    await probeCsvFile(`${dir}/kept.csv`);
    await probeCsvFile("-");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["kept.csv"]);
    assert.equal(await Deno.readTextFile(`${dir}/kept.csv`), "previous\n");
    await assert.rejects(probeCsvFile(`${dir}/missing/out.csv`), (e: LocalIoError) => {
      assert.match(
        e.message,
        /missing\/out\.csv: cannot create a file in .*check that the directory exists/,
      );
      assert.equal(e.exitCode, 2);
      return true;
    });
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(probeCsvFile(`${dir}/file/out.csv`), {
      name: "LocalIoError",
      exitCode: 2,
    });
  });
});

Deno.test("isCsvTempName matches only this program's temp files for that CSV", () => {
  assert.equal(isCsvTempName(".out.csv.1a2b3c.tmp", "out.csv"), true);
  assert.equal(isCsvTempName(".7_out.csv.1a2b3c.tmp", "out.csv"), true);
  assert.equal(isCsvTempName(".out.csv.1a2b3c.tmp", "other.csv"), false);
  assert.equal(isCsvTempName(".out.csv.tmp", "out.csv"), false);
  assert.equal(isCsvTempName("out.csv.1a2b3c.tmp", "out.csv"), false);
  assert.equal(isCsvTempName(".out.csv.1a2b3c.tmp.bak", "out.csv"), false);
});
