/**
 * The SIMPLE_RETURN the Qualys simulator answers outside the VMDR routes (the report flow, and
 * the checks every call goes through): the server's wall clock as DATETIME, CODE when there is
 * one, TEXT, an ITEM_LIST of key/value pairs, and optionally a comment (a notice of deprecation).
 * The VMDR routes write theirs with the simulated clock (`vmdr_xml.ts`).
 *
 * @module
 */

/** A SIMPLE_RETURN document with `text`, CODE `code` ("" for none), `items` and `comment`. */
export function simpleReturn(
  text: string,
  code = "",
  items: [string, string][] = [],
  comment = "",
): string {
  return `<?xml version="1.0" encoding="UTF-8" ?>\n` +
    `<!DOCTYPE SIMPLE_RETURN SYSTEM "https://qualysapi.qualys.com/api/2.0/simple_return.dtd">\n` +
    `<SIMPLE_RETURN><RESPONSE><DATETIME>${new Date().toISOString().slice(0, 19)}Z</DATETIME>` +
    (comment ? `<!-- ${comment} -->` : "") +
    (code ? `<CODE>${code}</CODE>` : "") + `<TEXT>${text}</TEXT>` +
    (items.length
      ? `<ITEM_LIST>${
        items.map(([k, v]) => `<ITEM><KEY>${k}</KEY><VALUE>${v}</VALUE></ITEM>`).join("")
      }</ITEM_LIST>`
      : "") +
    `</RESPONSE></SIMPLE_RETURN>\n`;
}
