/**
 * Test helper: parses XML with saxes (strict, independent of the simulator) into a small tree,
 * keeping comments with the name of the element they sit in.
 */

import { SaxesParser } from "saxes";

export interface XNode {
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
  /** Own text and CDATA (not descendants'). */
  text: string;
}

export interface Parsed {
  root: XNode;
  /** Comments inside the root, with the element they are direct children of. */
  comments: { parent: string; text: string }[];
  /** Comments outside the root element. */
  outside: string[];
}

/** Parses a whole document; throws on any well-formedness error. */
export function parseXml(xml: string): Parsed {
  const parser = new SaxesParser({ xmlns: false });
  const doc: XNode = { name: "#document", attrs: {}, children: [], text: "" };
  const stack: XNode[] = [doc];
  const comments: Parsed["comments"] = [];
  const outside: string[] = [];
  let error: Error | undefined;
  parser.on("error", (e) => {
    error ??= e;
  });
  parser.on("opentag", (tag) => {
    const node: XNode = {
      name: tag.name,
      attrs: tag.attributes as Record<string, string>,
      children: [],
      text: "",
    };
    stack[stack.length - 1]!.children.push(node);
    stack.push(node);
  });
  const onText = (t: string) => {
    stack[stack.length - 1]!.text += t;
  };
  parser.on("text", onText);
  parser.on("cdata", onText);
  parser.on("comment", (c) => {
    if (stack.length > 1) comments.push({ parent: stack[stack.length - 1]!.name, text: c });
    else outside.push(c);
  });
  parser.on("closetag", () => {
    stack.pop();
  });
  parser.write(xml).close();
  if (error) throw error;
  if (doc.children.length !== 1) throw new Error(`${doc.children.length} root elements`);
  return { root: doc.children[0]!, comments, outside };
}

/** The first child named `name`. */
export function child(n: XNode, name: string): XNode | undefined {
  return n.children.find((c) => c.name === name);
}

/** All children named `name`. */
export function kids(n: XNode, name: string): XNode[] {
  return n.children.filter((c) => c.name === name);
}

/** The trimmed text of the first child named `name`, or undefined. */
export function textOf(n: XNode, name: string): string | undefined {
  return child(n, name)?.text.trim();
}

/** Follows a path of child names from `n`. */
export function at(n: XNode, ...path: string[]): XNode | undefined {
  let cur: XNode | undefined = n;
  for (const p of path) cur = cur && child(cur, p);
  return cur;
}
