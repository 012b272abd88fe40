import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

async function deno(args: string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

Deno.test("the code is deno fmt, deno lint and deno check clean", async () => {
  for (
    const args of [
      ["fmt", "--check"],
      ["lint"],
      ["check", "main.ts", "mod.ts", "scripts/", "tests/"],
    ]
  ) {
    const r = await deno(args);
    assert.equal(r.code, 0, `deno ${args.join(" ")}:\n${r.text}`);
  }
});
