/**
 * The README and `docs/` held as tests: the README stays short, no prose line is wider than a
 * reader's window, every relative link (and its anchor) leads somewhere, and the README's option
 * table and key list name every option and every YAML key the code reads.
 */

import assert from "node:assert/strict";
import { OPTIONS } from "../lib/cli/options.ts";

const ROOT = new URL("..", import.meta.url);
const README = "README.md";
const MAX_README_LINES = 250;
const MAX_WIDTH = 120;

const docs = [README];
for await (const e of Deno.readDir(new URL("docs/", ROOT))) {
  if (e.isFile && e.name.endsWith(".md")) docs.push(`docs/${e.name}`);
}
docs.sort();
const texts = new Map<string, string>();
for (const file of docs) texts.set(file, await Deno.readTextFile(new URL(file, ROOT)));

/** The lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | undefined;
  text.split("\n").forEach((line, i) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (open !== undefined && open[0] === fence[0] && open.length >= fence.length) {
        fence = undefined;
      }
    } else if (open !== undefined) fence = open;
    else out.push({ line, n: i + 1 });
  });
  return out;
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a file's headings make (a repeated heading gets -1, -2, ...). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

/** The lines of one `## ` section of a text (up to the next `## ` heading). */
function section(text: string, heading: RegExp): string[] {
  const lines = proseLines(text).map((l) => l.line);
  const start = lines.findIndex((l) => /^## /.test(l) && heading.test(l));
  assert.ok(start >= 0, `no section ${heading} in the README`);
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The YAML keys the configuration reads: its field table's export, else its key list. */
async function configKeys(): Promise<string[]> {
  const fields = new URL("lib/config/fields.ts", ROOT);
  try {
    await Deno.stat(fields);
    const mod: { FIELDS: readonly { key: string }[] } = await import(fields.href);
    return mod.FIELDS.map((f) => f.key);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const text = await Deno.readTextFile(new URL("lib/config/read_config.ts", ROOT));
  const list = /const KEYS = \[([^\]]*)\]/.exec(text)?.[1];
  assert.ok(list, "lib/config/read_config.ts: no `const KEYS = [...]` list of YAML keys");
  return [...list.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]!);
}

Deno.test("the README is at most 250 lines", () => {
  const lines = texts.get(README)!.replace(/\n$/, "").split("\n").length;
  assert.ok(
    lines <= MAX_README_LINES,
    `README.md has ${lines} lines (at most ${MAX_README_LINES})`,
  );
});

Deno.test("no line of the README or docs/ is wider than 120 characters outside code blocks", () => {
  const wide: string[] = [];
  for (const [file, text] of texts) {
    for (const { line, n } of proseLines(text)) {
      // A URL alone on its line cannot be wrapped.
      if ([...line].length > MAX_WIDTH && !/^https?:\/\/\S+$/.test(line.trim())) {
        wide.push(`${file}:${n} (${[...line].length})`);
      }
    }
  }
  assert.deepEqual(wide, [], `lines wider than ${MAX_WIDTH} characters:\n${wide.join("\n")}`);
});

Deno.test("every relative link in the README and docs/ leads to a file and anchor that exist", async () => {
  const broken: string[] = [];
  for (const [file, text] of texts) {
    for (const { line, n } of proseLines(text)) {
      for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        const [path, anchor] = target.split("#") as [string, string | undefined];
        const url = new URL(path, new URL(file, ROOT));
        const rel = url.pathname.slice(ROOT.pathname.length);
        let targetText: string | undefined;
        try {
          const info = await Deno.stat(url);
          if (info.isFile && rel.endsWith(".md")) {
            targetText = texts.get(rel) ?? await Deno.readTextFile(url);
          }
        } catch {
          broken.push(`${file}:${n}: ${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && anchor !== "") {
          const own = path === "" ? text : targetText;
          if (own === undefined || !anchors(own).has(anchor)) {
            broken.push(`${file}:${n}: ${target}: no heading makes #${anchor}`);
          }
        }
      }
    }
  }
  assert.deepEqual(broken, [], `broken links:\n${broken.join("\n")}`);
});

Deno.test("the README's option table names every option with its abbreviation", () => {
  const rows = new Map<string, string>();
  for (const line of section(texts.get(README)!, /Usage/)) {
    const cells = /^\|(.*)\|$/.exec(line.trim())?.[1]?.split("|").map((c) => c.trim());
    if (!cells || cells.length < 2) continue;
    for (const name of cells[0]!.matchAll(/`-([a-z0-9-]+)`/g)) rows.set(name[1]!, cells[1]!);
  }
  const missing = OPTIONS.filter((o) => !rows.has(o.name)).map((o) => `-${o.name}`);
  assert.deepEqual(missing, [], `options missing from the README's option table`);
  for (const o of OPTIONS) {
    assert.equal(rows.get(o.name), o.abbrev ? `\`-${o.abbrev}\`` : "", `-${o.name}'s abbreviation`);
  }
});

Deno.test("the README's configuration list names every YAML key the connector reads", async () => {
  const keys = await configKeys();
  assert.ok(keys.length >= 20, `only ${keys.length} YAML keys found: the key list moved?`);
  const listed = new Set<string>();
  for (const line of section(texts.get(README)!, /Configuration/)) {
    const item = /^- (.*?): /.exec(line)?.[1];
    for (const key of item?.matchAll(/`([a-z_]+)`/g) ?? []) listed.add(key[1]!);
  }
  const missing = keys.filter((k) => !listed.has(k));
  assert.deepEqual(missing, [], "YAML keys missing from the README's configuration list");
});
