import assert from "node:assert/strict";
import { MAIN, RUN_FLAGS } from "../scripts/connector_command.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("demos, benches and CLI tests run the connector with the run and compile tasks' flags", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const flagsOf = (task: string) =>
    task.split(/\s+/).filter((w) =>
      w.startsWith("--allow-") || w.startsWith("--v8-flags") || w === "--no-code-cache"
    );
  assert.deepEqual(flagsOf(tasks.run), [...RUN_FLAGS]);
  assert.deepEqual(flagsOf(tasks.compile), [...RUN_FLAGS]);
  assert.ok((await Deno.stat(MAIN)).isFile);
});
