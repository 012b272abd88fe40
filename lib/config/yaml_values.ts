/**
 * The plugin YAML read as text (README: Configuration): every scalar kept as a string (as Perl's
 * YAML::XS did; docs/platform.md, "YAML"), each known key's value with its position, unknown keys
 * warned (with the nearest known one), and YAML that is not what the file means refused with
 * the line, the column and the fix. A secret's value never appears in a message.
 *
 * @module
 */

import type * as Yaml from "yaml";
import { ConfigError } from "../errors.ts";
import { nearest } from "../util/text.ts";

/** One key's value as written, and where it starts. */
export interface YamlValue {
  /** The scalar's text ("" for a key without a value). */
  value: string;
  /** Line of the value (of the key, when it has none). */
  line: number;
  /** Column of the value (of the key, when it has none). */
  col: number;
}

/** What {@linkcode readYamlValues} needs to know of the keys. */
export interface YamlKeys {
  /** The known keys, in the order the nearest one is looked for among them. */
  keys: readonly string[];
  /** Keys whose values are never shown, nor the YAML library's message on their line. */
  secret: ReadonlySet<string>;
  /** Keys whose values YAML syntax may change without a word (warned). */
  password: ReadonlySet<string>;
  /** Receives warnings: unknown keys, a password YAML read otherwise than written. */
  onWarning?: ((message: string) => void) | undefined;
  /**
   * The command-line options (the agent's option table): an unknown key that is one of them
   * (`server:`) is warned as such, with the option to give instead. @default none
   */
  commandLine?: readonly CommandLineOption[] | undefined;
}

/** A command-line option, as an unknown YAML key's warning names it. */
export interface CommandLineOption {
  /** Its name, as in `-name`. */
  readonly name: string;
  /** A flag takes no value. */
  readonly kind: string;
  /** Its value's placeholder. */
  readonly arg?: string | undefined;
}

/**
 * The YAML library's error codes (its `ErrorCode`) whose fix is to quote the value: a value that
 * starts with a character YAML reserves (`@`, a backquote, `%`: BAD_SCALAR_START), an escape double
 * quotes do not allow (BAD_DQ_ESCAPE), a second `&` or `!` (MULTIPLE_ANCHORS, MULTIPLE_TAGS).
 * MISSING_CHAR (a closing quote is missing) also means a key without its colon, so it counts only
 * when the error lies in a key's value.
 */
const QUOTE_FIXES = new Set<Yaml.ErrorCode>([
  "BAD_SCALAR_START",
  "BAD_DQ_ESCAPE",
  "MULTIPLE_ANCHORS",
  "MULTIPLE_TAGS",
]);

/**
 * How YAML syntax silently changed an unquoted value (so a password would be wrong without a
 * word): a comment, an anchor, a tag or a block scalar. Undefined when the value is as written.
 * Says what happened, never what the value is.
 */
function yamlRewrites(
  node: { type?: string; anchor?: string; tag?: string; range?: readonly number[] | null },
  text: string,
): string | undefined {
  if (node.anchor !== undefined) return "starts with &, which YAML reads as an anchor name";
  if (node.tag !== undefined) return "starts with !, which YAML reads as a tag";
  if (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED") {
    return "starts with | or >, which YAML reads as a block of the following lines";
  }
  const end = node.range?.[1];
  if (node.type === "PLAIN" && end !== undefined) {
    const eol = text.indexOf("\n", end);
    if (/^[ \t]+#/.test(text.slice(end, eol < 0 ? undefined : eol))) {
      return "has a # after a space, which YAML reads as the start of a comment (dropped)";
    }
  }
  return undefined;
}

/**
 * Reads the YAML of `file` into each known key's value and position.
 *
 * @throws {ConfigError} On YAML that does not parse, a file that is not `key: value` lines, or a
 * value that is not a single scalar.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const values = await readYamlValues("user_id: dirk_g\nadd_host: y\n", "q.yaml", {
 *   keys: ["user_id", "add_host"], secret: new Set(["user_id"]), password: new Set() });
 * assert.deepEqual(values.get("add_host"), { value: "y", line: 2, col: 11 });
 * ```
 */
export async function readYamlValues(
  text: string,
  file: string,
  keys: YamlKeys,
): Promise<Map<string, YamlValue>> {
  // The YAML library is loaded on first use: a run without a config file does not pay for it.
  const yaml: typeof Yaml = await import("yaml");
  const lineCounter = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { schema: "failsafe", lineCounter, prettyErrors: false });
  const at = (offset: number) => lineCounter.linePos(offset);
  const firstError = doc.errors[0];
  if (firstError) throw yamlError(firstError, { yaml, doc, text, file, at, secret: keys.secret });
  return collectValues(doc.contents, { yaml, text, file, at, keys });
}

/** What the helpers of {@linkcode readYamlValues} share. */
interface Parsed {
  yaml: typeof Yaml;
  text: string;
  file: string;
  at: (offset: number) => { line: number; col: number };
}

/** The error that says where the YAML is wrong and how to fix it. */
function yamlError(
  firstError: Yaml.YAMLError,
  p: Parsed & { doc: Yaml.Document.Parsed; secret: ReadonlySet<string> },
): ConfigError {
  const { isMap, isScalar } = p.yaml;
  const { doc, text, file, at } = p;
  const SECRET_KEYS = p.secret;
  const lineKey = (line: number) => {
    const src = text.split("\n")[line - 1] ?? "";
    return /^\s*([A-Za-z_]+)\s*:/.exec(src)?.[1] ?? "";
  };
  // The key whose value holds `offset`: a quoted value may run over several lines (an unclosed
  // quote runs to the end of the file), so the error's own line may name no key, or another.
  // Its position is the value's start, where the fix goes.
  const keyAt = (offset: number): { key: string; start: number } | undefined => {
    if (!isMap(doc.contents)) return undefined;
    for (const pair of doc.contents.items) {
      const range = (pair.value as { range?: readonly number[] | null } | null)?.range;
      if (
        isScalar(pair.key) && range && range[0]! <= offset &&
        (offset < range[2]! || offset === range[1])
      ) {
        return { key: String(pair.key.value).trim(), start: range[0]! };
      }
    }
    return undefined;
  };
  // A key line that does not start at the left margin: the library's error (and our quoting
  // hint) would point elsewhere, at the line before or the value it seems to continue.
  const indented = /^([ \t]+)([A-Za-z_]+)[ \t]*:/m.exec(text);
  if (indented) {
    const line = text.slice(0, indented.index).split("\n").length;
    return new ConfigError(
      `Cannot read the YAML: the line of "${indented[2]}" is indented: remove the ` +
        `${/\t/.test(indented[1]!) ? "indentation" : "spaces"} before "${indented[2]}:" ` +
        "(every line starts at the left margin: key: value)",
      { file, line, column: 1 },
    );
  }
  const inValue = keyAt(firstError.pos[0]);
  const onLine = lineKey(at(firstError.pos[0]).line);
  const key = inValue?.key || onLine;
  const pos = at(inValue && !onLine ? inValue.start : firstError.pos[0]);
  // The YAML library's own message may quote the line (and so a password): never use it whole,
  // and on the line of a secret not at all ("Invalid escape sequence \q" is part of it).
  const what = SECRET_KEYS.has(key)
    ? "its value is not valid YAML as written"
    : firstError.message.split(/ at line | \(|:\n/)[0] ?? firstError.code;
  const hint = firstError.code === "TAB_AS_INDENT"
    ? ": indent with spaces, not tabs"
    : firstError.code === "DUPLICATE_KEY"
    ? `: each key may appear only once ("${key}" is repeated)`
    : key !== "" && (SECRET_KEYS.has(key) || QUOTE_FIXES.has(firstError.code) ||
        (firstError.code === "MISSING_CHAR" && inValue !== undefined))
    ? `: put the value of "${key}" in single quotes, for example ${key}: 'p@ss,w0rd!' (a ` +
      "single quote inside is written twice: 'it''s')"
    : ": each line must be `key: value`";
  return new ConfigError(`Cannot read the YAML (${what})${hint}`, {
    file,
    line: pos.line,
    column: pos.col,
  });
}

/** Each known key's value, with its position; unknown keys and rewritten passwords warned. */
function collectValues(
  contents: Yaml.Document.Parsed["contents"],
  p: Parsed & { keys: YamlKeys },
): Map<string, YamlValue> {
  const { isAlias, isMap, isScalar } = p.yaml;
  const { text, file, at } = p;
  const { keys: KEYS, password: PASSWORD_KEYS, onWarning } = p.keys;
  const values = new Map<string, YamlValue>();
  if (contents !== null && contents !== undefined) {
    if (!isMap(contents)) {
      const pos = at(contents.range?.[0] ?? 0);
      throw new ConfigError(
        "The file must be a list of `key: value` lines (see the sample in the README)",
        { file, line: pos.line, column: pos.col },
      );
    }
    for (const pair of contents.items) {
      const keyNode = pair.key;
      const keyPos = at(isScalar(keyNode) ? keyNode.range?.[0] ?? 0 : 0);
      const key = isScalar(keyNode) ? String(keyNode.value).trim() : "";
      if (!KEYS.includes(key)) {
        const near = nearest(key, KEYS);
        const option = p.keys.commandLine?.find((o) =>
          o.name === key.replace(/^-/, "").toLowerCase()
        );
        onWarning?.(
          `${file}:${keyPos.line}:${keyPos.col}: Unknown key "${key}" is ignored` +
            (option
              ? `: it is a command-line option: give it as -${option.name}${
                option.kind === "flag" ? "" : ` <${option.arg ?? "value"}>`
              } on the command line (the cron line)`
              : near.distance <= Math.min(3, Math.ceil(key.length / 3))
              ? `: did you mean "${near.name}"?`
              : ""),
        );
        continue;
      }
      const valueNode = pair.value;
      const changed = PASSWORD_KEYS.has(key) && isScalar(valueNode)
        ? yamlRewrites(valueNode, text)
        : undefined;
      if (changed) {
        // Warned, not refused: the original (YAML::XS) read the value the same way, so a file
        // that works, say with a comment after the password, keeps working.
        const col = /^\s*[A-Za-z_]+\s*:\s*/.exec(text.split("\n")[keyPos.line - 1] ?? "")?.[0];
        onWarning?.(
          `${file}:${keyPos.line}:${(col?.length ?? 0) + 1}: the value of "${key}" ${changed}: ` +
            "if that is part of the password, put the whole value in single quotes, for example " +
            `${key}: 'p@ss #1&!*' (a single quote inside is written twice: 'it''s')`,
        );
      }
      if (valueNode !== null && !isScalar(valueNode)) {
        const pos = at(offsetOf(valueNode) || offsetOf(keyNode));
        throw new ConfigError(
          (isAlias(valueNode)
            ? `"${key}" starts with *, which YAML reads as a reference to an &anchor: put the ` +
              "value in single quotes"
            : `"${key}" must be a single value on its line, not a list or a nested map`) +
            (key === "ip_ranges" ? ": write the ranges comma-separated on one line" : ""),
          { file, line: pos.line, column: pos.col },
        );
      }
      const pos = valueNode && isScalar(valueNode) && valueNode.range
        ? at(valueNode.range[0])
        : keyPos;
      const value = valueNode && isScalar(valueNode) ? String(valueNode.value) : "";
      values.set(key, { value, line: pos.line, col: pos.col });
    }
  }
  return values;
}

function offsetOf(node: unknown): number {
  return (node as { range?: number[] } | null)?.range?.[0] ?? 0;
}
