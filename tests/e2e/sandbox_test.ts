/**
 * `deno task sim`, as a user runs it: it prints a ready directory and the commands to try there,
 * the commands work exactly as printed (with this test's `deno` in place of `npx -y deno@2.9.6`,
 * which would fetch Deno from npm: the rest of each line is run as printed, by `sh`, in the
 * directory the sandbox names), and Ctrl-C stops both simulators and removes the directory.
 */

import assert from "node:assert/strict";
import { READY, SANDBOX_RUNNER } from "../../scripts/sandbox.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const NPX = "npx -y deno@2.9.6 ";

/** Reads a child's output a line at a time. */
class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  /** Everything read so far. */
  all = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line, or undefined at the end. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        this.all += `${line}\n`;
        return line;
      }
      const r = await this.#reader.read();
      if (r.done) return this.#buf ? this.#take() : undefined;
      this.#buf += r.value;
    }
  }
  #take(): string {
    const line = this.#buf;
    this.#buf = "";
    this.all += line;
    return line;
  }
  /** Reads lines until one starts with `prefix`; fails at the end of the output. */
  async until(prefix: string): Promise<string> {
    for (;;) {
      const line = await this.next();
      assert.ok(line !== undefined, `the sandbox ended before "${prefix}":\n${this.all}`);
      if (line.startsWith(prefix)) return line;
    }
  }
  /** The rest of the output. */
  async rest(): Promise<string> {
    while (await this.next() !== undefined) { /* read on */ }
    return this.all;
  }
}

/** Whether something still listens on 127.0.0.1:`port`. */
async function listening(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused) return false;
    throw e;
  }
}

Deno.test("deno task sim: the printed commands work in its directory, and Ctrl-C stops the simulators and removes it", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const child = new Deno.Command(Deno.execPath(), {
    args: (tasks.sim as string).split(/\s+/).slice(1), // "run", its flags, the script
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = new Lines(child.stdout);
  let dir = "";
  let exited = false;
  try {
    const ready = await out.until(READY);
    const printed = out.all.split("\n");
    dir = printed.find((l) => l.startsWith("cd "))!.slice(3);
    assert.ok(dir, out.all);
    const commands = printed.filter((l) => l.startsWith(NPX));
    for (const c of commands) assert.ok(c.startsWith(`${SANDBOX_RUNNER} `), c);
    const find = (re: RegExp) => {
      const c = commands.find((l) => re.test(l.slice(SANDBOX_RUNNER.length)));
      assert.ok(c, `no printed command matches ${re}:\n${out.all}`);
      return c;
    };
    // every command the issue names is printed
    for (
      const re of [/ -check /, / -c=Output\.csv /, / -pkcs12=/, / csv -plugininfo=/, / -multiinfo /]
    ) find(re);
    for (const re of [/ -dry-run /, / -status$/, /Detections\.yaml$/]) find(re);
    const port = Number(/-port=(\d+)/.exec(find(/ -check /))![1]);
    const qualysPort = Number(/https:\/\/127\.0\.0\.1:(\d+)/.exec(out.all)![1]);
    assert.ok(await listening(port) && await listening(qualysPort));
    assert.equal((await Deno.stat(`${dir}/CertFile.password`)).mode! & 0o777, 0o600);

    // As from a shell: Deno sets INIT_CWD only when it is not set (here, by `deno task test`).
    const { INIT_CWD: _, ...env } = Deno.env.toObject();
    const setup = printed.filter((l) => l.startsWith("cd ") || l.startsWith("export "));
    const sh = async (command: string) => {
      const script = [...setup, command.replace(NPX, `'${Deno.execPath()}' `)].join("\n");
      const r = await new Deno.Command("sh", {
        args: ["-c", script],
        clearEnv: true,
        env: { ...env, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 0, `${command}:\n${text}`);
      return text;
    };
    assert.match(await sh(find(/ -check /)), /^OK {3}TLS and host input version with /m);
    assert.match(
      await sh(find(/ -c=Output\.csv /)),
      /Summary: 4 hosts with 23 AddScanResult lines and 0 hosts cleared, written to Output\.csv/,
    );
    assert.match(await Deno.readTextFile(`${dir}/Output.csv`), /^SetSource,QualysGuard Scan/);
    assert.match(
      await sh(find(/ csv -plugininfo=/)),
      /processed 31 of the 31 commands, 0 of them rejected/,
    );
    assert.match(
      await sh(find(/ -server=\S+ -port=\d+ -plugininfo=\S+Detections\.yaml$/)),
      /Full sync/,
    );
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("advance\n"));
    assert.match(await out.until("sandbox: a day passed"), /\d+ hosts scanned/);

    child.kill("SIGINT");
    const status = await child.status;
    exited = true;
    const all = await out.rest();
    assert.equal(status.code, 0, all);
    // it said so before, and says it did
    assert.ok(ready.endsWith(`Ctrl-C stops them and removes ${dir}`), ready);
    assert.match(all, /took \d+ connections and processed 2 messages/);
    assert.ok(all.includes(`sandbox: stopped both simulators and removed ${dir}\n`), all);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    assert.equal(await listening(port), false);
    assert.equal(await listening(qualysPort), false);
    await w.close().catch(() => {});
  } finally {
    if (!exited) {
      child.kill("SIGKILL");
      await child.status;
      await out.rest().catch(() => {});
    }
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
