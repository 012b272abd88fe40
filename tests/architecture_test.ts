/**
 * The shape of the tree, held as tests (docs/architecture.md): data flows one way between the
 * folders of lib/ (no cycle), and the rules of who may import whom hold (the sources of findings
 * import neither the encoder nor a sink nor the pipeline's code; the Defense Center client does
 * not import the encoder; sinks do not import findings; nothing but the entry points imports the
 * agent or a plugin; lib/ imports nothing from scripts/, examples included). No `_private` file
 * is imported from another folder, the agent core stays small, no module passes 600 lines and no
 * function 120 (the hand-inlined XML scanner and its inner loop excepted).
 */

import assert from "node:assert/strict";
import { functionSpans } from "./_functions.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const LIB = `${ROOT}lib/`;

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

/** One relative import of a lib/ file (in its code or its doc examples). */
interface Import {
  /** The importing file, relative to lib/. */
  from: string;
  /** The imported file, relative to the root (`lib/...`, `scripts/...`). */
  to: string;
  /** Only types are imported (`import type`, or every name marked `type`). */
  typeOnly: boolean;
}

const imports: Import[] = [];
const sizes = new Map<string, number>();
const texts = new Map<string, string>();
for await (const file of files(LIB)) {
  const text = await Deno.readTextFile(file);
  const rel = file.slice(LIB.length);
  texts.set(rel, text);
  sizes.set(rel, text.split("\n").length - (text.endsWith("\n") ? 1 : 0));
  const statement =
    /(?:(import|export)\s+(type\s+)?(?:\{([^}]*)\}|[\w*\s,]+?)\s*from|import\s*\()\s*"(\.{1,2}\/[^"]+)"/g;
  for (const m of text.matchAll(statement)) {
    const names = m[3]?.split(",").map((n) => n.replace(/^\s*\*\s*/, "").trim()).filter(Boolean);
    const typeOnly = m[2] !== undefined ||
      (names !== undefined && names.length > 0 && names.every((n) => n.startsWith("type ")));
    const to = new URL(m[4]!, `file://${file}`).pathname.slice(ROOT.length);
    imports.push({ from: rel, to, typeOnly });
  }
}

const inLib = (i: Import) => i.to.startsWith("lib/");
const folder = (path: string) => path.replace(/^lib\//, "").split("/")[0]!;
const show = (list: Import[]) =>
  list.map((i) => `${i.from} → ${i.to}${i.typeOnly ? " (types)" : ""}`);

Deno.test("the folders of lib/ import each other in one direction only (no cycle)", () => {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of imports.filter(inLib)) {
    const a = unitOf(`${LIB}${from}`), b = unitOf(`${ROOT}${to}`);
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

Deno.test("the sources of findings import neither the encoder, nor a sink, nor the pipeline's code (its Delivery types only)", () => {
  const bad = imports.filter((i) =>
    folder(i.from) === "sources" && inLib(i) &&
    (["encode", "sinks", "dc"].includes(folder(i.to)) ||
      (folder(i.to) === "pipeline" && !(i.typeOnly && i.to === "lib/pipeline/delivery.ts")))
  );
  assert.deepEqual(show(bad), []);
});

Deno.test("the Defense Center client does not import the encoder, nor findings, sources or sinks", () => {
  const bad = imports.filter((i) =>
    folder(i.from) === "dc" && inLib(i) &&
    ["encode", "findings", "sources", "sinks", "pipeline"].includes(folder(i.to))
  );
  assert.deepEqual(show(bad), []);
});

Deno.test("sinks import neither findings, the encoder, a source nor the pipeline", () => {
  const bad = imports.filter((i) =>
    folder(i.from) === "sinks" && inLib(i) &&
    ["findings", "encode", "sources", "pipeline"].includes(folder(i.to))
  );
  assert.deepEqual(show(bad), []);
});

Deno.test("the pipeline imports no source, plugin or client; the encoder and findings import no sink, pipeline or source", () => {
  const bad = imports.filter((i) => {
    if (!inLib(i)) return false;
    const a = folder(i.from), b = folder(i.to);
    if (a === "pipeline") return ["sources", "plugins", "qualys", "dc", "config"].includes(b);
    if (a === "encode" || a === "findings") {
      return ["sinks", "pipeline", "sources", "plugins", "dc", "qualys"].includes(b);
    }
    if (a === "qualys") return ["sources", "plugins", "pipeline", "sinks", "encode"].includes(b);
    return false;
  });
  assert.deepEqual(show(bad), []);
});

Deno.test("plugins use the pipeline's types only; nothing but the entry points imports the agent or a plugin", () => {
  const bad = imports.filter((i) => {
    if (!inLib(i)) return false;
    if (folder(i.from) === "plugins" && folder(i.to) === "pipeline") return !i.typeOnly;
    const toAgentOrPlugin = i.to === "lib/agent.ts" || folder(i.to) === "plugins";
    // the agent core is agent.ts and its -check (check.ts)
    const fromCore = i.from === "agent.ts" || i.from === "check.ts";
    return toAgentOrPlugin && !fromCore && folder(i.from) !== "plugins";
  });
  assert.deepEqual(show(bad), []);
});

Deno.test("lib/ imports nothing from scripts/ or tests/, in its code or its examples", () => {
  assert.deepEqual(show(imports.filter((i) => !inLib(i))), []);
});

Deno.test("no _private file is imported from another folder", () => {
  const bad = imports.filter(({ from, to }) =>
    to.split("/").pop()!.startsWith("_") &&
    `lib/${from}`.slice(0, `lib/${from}`.lastIndexOf("/")) !== to.slice(0, to.lastIndexOf("/"))
  );
  assert.deepEqual(show(bad), []);
});

Deno.test("the agent core stays small and no module of lib/ passes 600 lines (the XML scanner excepted)", () => {
  assert.ok(sizes.get("agent.ts")! <= 250, `lib/agent.ts has ${sizes.get("agent.ts")} lines`);
  const big = [...sizes].filter(([f, n]) => n > 600 && f !== "xml/scanner.ts");
  assert.deepEqual(big, []);
});

Deno.test("no function of lib/ passes 120 lines (the XML scanner's inner loop excepted)", () => {
  const long: string[] = [];
  for (const [file, text] of texts) {
    for (const f of functionSpans(text)) {
      if (f.lines > 120 && !(file === "xml/scanner.ts" && f.name === "#scan")) {
        long.push(`${file}:${f.line} ${f.name} (${f.lines} lines)`);
      }
    }
  }
  assert.deepEqual(long, []);
});

Deno.test("the function measure sees functions, methods and arrow functions, whatever their strings hold", () => {
  const text = [
    "export function a(x: string): { y: number } {",
    '  const s = "}" + `${"{"}` + /\\}/.source; // }',
    "  return { y: 1 };",
    "}",
    "class B {",
    "  async #c(): Promise<void> {",
    "    const f = () => {",
    "      return;",
    "    };",
    "  }",
    "}",
  ].join("\n");
  assert.deepEqual(
    functionSpans(text).map((f) => [f.name, f.line, f.lines]),
    [["a", 1, 4], ["#c", 6, 5], ["(arrow)", 7, 3]],
  );
});
