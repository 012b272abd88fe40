/**
 * Test helper: where the functions of a TypeScript file begin and end, without a parser (none is
 * a dependency of this project). Strings, template literals, comments and regular expressions
 * are blanked first (their line breaks kept), so that braces inside them do not count; then each
 * function declaration, method (getters, constructors, `#private` ones) and block-bodied arrow
 * function is measured from its head to its closing brace.
 */

/** One function of a file. */
export interface FunctionSpan {
  /** Its name; `(arrow)` for an arrow function. */
  name: string;
  /** The line of its head (1-based). */
  line: number;
  /** Lines from its head to its closing brace, both included. */
  lines: number;
}

// After one of these (the last token before a `/`), a `/` starts a regular expression.
const BEFORE_REGEX = /(?:[(,=:[!&|?{};+\-*%<>~^]|\b(?:return|typeof|case|of|in|void))$/;

/** `src` with strings, templates, comments and regular expressions blanked, line breaks kept. */
export function blankLiterals(src: string): string {
  let out = "";
  let last = ""; // the last significant token text, for telling a division from a regex
  const templates: number[] = []; // brace depth at each open `${`
  let depth = 0;
  const keepBreaks = (s: string) => s.replace(/[^\n]/g, "");
  for (let i = 0; i < src.length;) {
    const c = src[i]!;
    if (c === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += keepBreaks(src.slice(i, stop));
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      out += `${c}${c}`;
      i = j + 1;
      last = "x";
      continue;
    }
    if (c === "`" || (c === "}" && templates.length && templates.at(-1) === depth)) {
      if (c === "}") templates.pop();
      let j = i + 1;
      while (j < src.length && src[j] !== "`" && !(src[j] === "$" && src[j + 1] === "{")) {
        j += src[j] === "\\" ? 2 : 1;
      }
      out += `\`\`${keepBreaks(src.slice(i, j))}`;
      if (src[j] === "$") {
        templates.push(depth);
        i = j + 2;
        last = "{";
      } else {
        i = j + 1;
        last = "x";
      }
      continue;
    }
    if (c === "/" && BEFORE_REGEX.test(last)) {
      let j = i + 1, inClass = false;
      while (j < src.length && src[j] !== "\n") {
        if (src[j] === "\\") j++;
        else if (src[j] === "[") inClass = true;
        else if (src[j] === "]") inClass = false;
        else if (src[j] === "/" && !inClass) break;
        j++;
      }
      j++;
      while (/[a-z]/.test(src[j] ?? "")) j++;
      out += "/r/";
      i = j;
      last = "x";
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}") depth--;
    out += c;
    if (!/\s/.test(c)) last = /\w/.test(c) && /\w$/.test(last) ? last + c : c;
    i++;
  }
  return out;
}

const NOT_FUNCTIONS = new Set(["if", "for", "while", "switch", "catch", "return", "function"]);
const HEAD =
  /(?:function\s*\*?\s*([\w$]+)?\s*(?:<[^>{}]*>)?\s*\(|^[ \t]*(?:(?:public|private|static|async|override|readonly|get|set)\s+)*\*?\s*(#?[\w$]+)\s*(?:<[^>{}]*>)?\s*\(|=>\s*\{)/gm;

/**
 * The functions of `src`, in the order their heads come.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(functionSpans("function f() {\n  return 1;\n}\n"), [{ name: "f", line: 1, lines: 3 }]);
 * ```
 */
export function functionSpans(src: string): FunctionSpan[] {
  const code = blankLiterals(src);
  const lineAt = (pos: number) => code.slice(0, pos).split("\n").length;
  const spans: FunctionSpan[] = [];
  for (const m of code.matchAll(HEAD)) {
    const name = m[1] ?? m[2] ?? "(arrow)";
    if (NOT_FUNCTIONS.has(name)) continue;
    const body = m[0].endsWith("{")
      ? m.index! + m[0].length
      : bodyStart(code, m.index! + m[0].length);
    if (body === undefined) continue;
    let depth = 1, end = body;
    while (end < code.length && depth > 0) {
      if (code[end] === "{") depth++;
      else if (code[end] === "}") depth--;
      end++;
    }
    const line = lineAt(m.index! + m[0].search(/\S/));
    spans.push({ name, line, lines: lineAt(end) - line + 1 });
  }
  return spans;
}

// Just past the `{` that opens the body of a head whose parameter list starts at `from`: past
// the parameters and the return type (whose object types are skipped); undefined when the head
// is a call or a signature (a `;` or `=>` comes first).
function bodyStart(code: string, from: number): number | undefined {
  let i = from, depth = 1;
  while (i < code.length && depth > 0) {
    if (code[i] === "(") depth++;
    else if (code[i] === ")") depth--;
    i++;
  }
  let nesting = 0;
  for (let q = i; q < code.length; q++) {
    const ch = code[q]!;
    if ("(<[".includes(ch)) nesting++;
    else if (")>]".includes(ch)) nesting--;
    else if (ch === ";" && nesting <= 0) return undefined;
    else if (ch === "=" && code[q + 1] === ">") return undefined;
    else if (ch === "{" && nesting <= 0) {
      const before = code.slice(i, q).trim();
      if (!/[:|&]$/.test(before)) return q + 1;
      let d = 1; // an object type: skip it
      for (q++; q < code.length && d > 0; q++) {
        if (code[q] === "{") d++;
        else if (code[q] === "}") d--;
      }
      q--;
    }
  }
  return undefined;
}
