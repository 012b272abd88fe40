/**
 * The shape of the tree, held as tests: data flows one way between the folders of lib/ (no
 * cycle), no `_private` file is imported from another folder, the agent core stays small, and no
 * module grows past what a reader can hold (the hand-inlined XML scanner excepted).
 */

import assert from "node:assert/strict";

const LIB = new URL("../lib/", import.meta.url).pathname;

async function* files(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* files(`${dir}${e.name}/`);
    else if (e.name.endsWith(".ts")) yield `${dir}${e.name}`;
  }
}

// The unit of the graph: a folder of lib/, or a file directly in lib/.
function unitOf(path: string): string {
  const rel = path.slice(LIB.length);
  return rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : rel;
}

const imports: { from: string; to: string }[] = [];
const sizes = new Map<string, number>();
for await (const file of files(LIB)) {
  const text = await Deno.readTextFile(file);
  sizes.set(file.slice(LIB.length), text.split("\n").length - (text.endsWith("\n") ? 1 : 0));
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    imports.push({ from: file, to: new URL(m[1]!, `file://${file}`).pathname });
  }
}

Deno.test("the folders of lib/ import each other in one direction only (no cycle)", () => {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of imports) {
    const a = unitOf(from), b = unitOf(to);
    if (a !== b) (edges.get(a) ?? edges.set(a, new Set()).get(a)!).add(b);
  }
  const state = new Map<string, "open" | "done">();
  const visit = (unit: string, path: string[]): void => {
    if (state.get(unit) === "done") return;
    assert.notEqual(state.get(unit), "open", `import cycle: ${[...path, unit].join(" → ")}`);
    state.set(unit, "open");
    for (const next of edges.get(unit) ?? []) visit(next, [...path, unit]);
    state.set(unit, "done");
  };
  for (const unit of edges.keys()) visit(unit, []);
});

Deno.test("no _private file is imported from another folder", () => {
  const bad = imports.filter(({ from, to }) =>
    to.split("/").pop()!.startsWith("_") &&
    from.slice(0, from.lastIndexOf("/")) !== to.slice(0, to.lastIndexOf("/"))
  ).map(({ from, to }) => `${from.slice(LIB.length)} → ${to.slice(LIB.length)}`);
  assert.deepEqual(bad, []);
});

Deno.test("the agent core stays small and no module of lib/ passes 700 lines", () => {
  assert.ok(sizes.get("agent.ts")! <= 250, `lib/agent.ts has ${sizes.get("agent.ts")} lines`);
  const big = [...sizes].filter(([f, n]) => n > 700 && f !== "xml/scanner.ts");
  assert.deepEqual(big, []);
});
