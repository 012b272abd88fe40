/**
 * The host input command language as the Defense Center reads it (docs/host_input.md, sections
 * 1-3): the command table, splitting a line into fields with Text::CSV's rules, a line's command
 * after its optional `SetMap:<map>` prefix, checking a line (the `csv` plugin's check: quoting
 * that parses, a known command, case-sensitive, with no more fields than it takes, and an
 * AddScanResult with a vuln_id has its `cve_ids:` and `bugtraq_ids:` fields), shortening an
 * AddScanResult line to a byte limit, and the one way to clear a host ({@linkcode clearHostLines}).
 * Neutral ground: the encoder writes in it, the Defense Center client reads answers in it, the
 * `csv` plugin checks files in it.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Fields after the command name, by command. */
export const COMMAND_FIELDS: Readonly<Record<string, number>> = {
  SetSourceType: 1,
  SetSource: 2,
  SetMap: 1,
  SetDomain: 1,
  AddHost: 2,
  DeleteHost: 2,
  SetOS: 15,
  UnsetOS: 1,
  AddService: 14,
  SetService: 14,
  UnsetService: 3,
  DeleteService: 3,
  AddClientApp: 4,
  DeleteClientApp: 4,
  DeleteClientAppPayload: 6,
  AddProtocol: 4,
  DeleteProtocol: 4,
  AddFix: 4,
  RemoveFix: 4,
  AddHostAttribute: 2,
  DeleteHostAttribute: 1,
  SetAttributeValue: 3,
  DeleteAttributeValue: 2,
  SetValidVuln: 5,
  SetInvalidVuln: 5,
  AddScanResult: 9,
  DeleteScanResult: 5,
  ScanUpdate: 0,
  ScanFlush: 0,
};

/** A command line as the Defense Center reads it (see {@linkcode commandOf}). */
export interface CommandOf {
  /** The map of a `SetMap:<map>` prefix (for this line only); undefined without one. */
  map: string | undefined;
  /** The command name ("" when there is none). */
  command: string;
  /** The fields after the command name. */
  args: string[];
}

/**
 * A line's command and fields as the Defense Center reads them: a first field `SetMap:<map>` is
 * a third-party map for that line only, taken off the front, and the command is the field after
 * it (HostInput.pm `procLine`; docs/host_input.md, section 1). Undefined when the quoting is
 * broken.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(commandOf("SetMap:Qualys map,AddHost,10.0.0.1"),
 *   { map: "Qualys map", command: "AddHost", args: ["10.0.0.1"] });
 * assert.deepEqual(commandOf("ScanFlush"), { map: undefined, command: "ScanFlush", args: [] });
 * ```
 */
export function commandOf(line: string): CommandOf | undefined {
  const fields = splitCsvLine(line);
  if (!fields) return undefined;
  const first = (fields[0] ?? "").trim();
  const prefix = /^SetMap:(.*)$/s.exec(first);
  if (!prefix) return { map: undefined, command: first, args: fields.slice(1) };
  return { map: prefix[1]!, command: (fields[1] ?? "").trim(), args: fields.slice(2) };
}

/**
 * Checks one command line; returns what is wrong, or undefined. Blank lines and `#` comments
 * are fine; so is a `SetMap:<map>` prefix, with the command after it checked as usual.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(checkCommandLine("ScanFlush"), undefined);
 * assert.equal(checkCommandLine("SetMap:Qualys map,AddHost,10.0.0.1"), undefined);
 * assert.match(checkCommandLine("Addhost,1.2.3.4")!, /unknown command "Addhost"/);
 * ```
 */
export function checkCommandLine(line: string): string | undefined {
  if (/^\s*(#|$)/.test(line)) return undefined;
  const parsed = commandOf(line);
  if (!parsed) return "the quoting is broken (a field has an unmatched or stray double quote)";
  const { map, command: cmd, args } = parsed;
  if (map !== undefined && cmd === "") {
    return `a "SetMap:${map}" prefix must be followed by a command on the same line`;
  }
  const take = COMMAND_FIELDS[cmd];
  if (take === undefined) {
    const near = Object.keys(COMMAND_FIELDS).find((c) => c.toLowerCase() === cmd.toLowerCase());
    return `unknown command "${cmd}"${
      near ? `: did you mean "${near}" (names are case-sensitive)?` : ""
    }`;
  }
  if (args.length > take) {
    return `${cmd} takes at most ${take} field(s) but the line has ${args.length}`;
  }
  if (cmd === "AddScanResult" && (args[2] ?? "").trim() !== "") {
    if (!/^\s*cve_ids:/.test(args[7] ?? "") || !/^\s*bugtraq_ids:/.test(args[8] ?? "")) {
      return 'AddScanResult with a vuln_id needs the fields "cve_ids: ..." and "bugtraq_ids: ..." (they may be empty after the header)';
    }
  }
  return undefined;
}

/** Splits a host input line into its fields (Text::CSV rules, as the DC reads it). */
export function splitCsvLine(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    let value = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        if (line[q + 1] === '"') { // "" is a literal quote
          value += line.slice(i, q + 1);
          i = q + 2;
          continue;
        }
        value += line.slice(i, q);
        i = q + 1;
        break;
      }
      while (line[i] === " " || line[i] === "\t") i++;
      if (i < line.length && line[i] !== ",") return undefined;
    } else {
      const end = line.indexOf(",", i);
      value = line.slice(i, end < 0 ? line.length : end).trimEnd();
      if (value.includes('"')) return undefined;
      i = end < 0 ? line.length : end;
    }
    fields.push(value);
    if (i >= line.length) return fields;
    i++;
  }
}

/**
 * The lines that clear the results `scanner` has on host `ip`: `DeleteScanResult,<ip>,"<scanner>"`
 * removes them, and `ScanUpdate` ends the host's group as a merge (a `ScanFlush` would replace the
 * host's results with the group's, which has none). `scanner` is written as it is: pass it
 * sanitized, as every field the connector writes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(clearHostLines("10.0.0.1", "QualysGuard"),
 *   'DeleteScanResult,10.0.0.1,"QualysGuard"\nScanUpdate\n');
 * ```
 */
export function clearHostLines(ip: string, scanner: string): string {
  return `DeleteScanResult,${ip},"${scanner}"\nScanUpdate\n`;
}

function byteLength(line: string): number {
  return encoder.encode(line).length + 1;
}

/**
 * Shortens an AddScanResult line (with or without a `SetMap:<map>` prefix) to `max` bytes,
 * newline included, by the encoder's rule: the description first, then CVE and Bugtraq IDs (from
 * the end of the longer list, CVEs on a tie; the headers stay), then the title.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const cves = Array.from({ length: 20 }, (_, k) => `CVE-2020-${1000 + k}`).join(" ");
 * const line = `AddScanResult,10.0.0.1,"QG",1,,,"OpenSSL flaws","long text","cve_ids: ${cves}","bugtraq_ids: 1"`;
 * const short = shortenLine(line, 200);
 * assert.equal(short, 'AddScanResult,10.0.0.1,"QG",1,,,"OpenSSL flaws","","cve_ids: CVE-2020-1000 ' +
 *   'CVE-2020-1001 CVE-2020-1002 CVE-2020-1003 CVE-2020-1004 CVE-2020-1005 CVE-2020-1006 ' +
 *   'CVE-2020-1007","bugtraq_ids: 1"');
 * ```
 */
export function shortenLine(line: string, max: number): string {
  const all = splitCsvLine(line);
  if (!all) return line;
  const first = all[0] ?? "";
  const o = /^SetMap:/.test(first) ? 1 : 0;
  const pre = o ? `${/[",]/.test(first) ? `"${first.replaceAll('"', '""')}"` : first},` : "";
  const f = all.slice(o);
  if (f[0] !== "AddScanResult" || f.length < 9) return line;
  const build = () =>
    `${pre}${f.slice(0, 2).join(",")},"${f[2]}",${f.slice(3, 6).join(",")},"${f[6]}","${f[7]}","${
      f[8]
    }","${f[9] ?? "bugtraq_ids:"}"`;
  const over = () => byteLength(build()) - max;
  const cut = (idx: number) => {
    const by = over(), text = f[idx]!;
    if (by > 0) f[idx] = text.length > by + 3 ? `${text.slice(0, text.length - by - 3)}...` : "";
  };
  cut(7);
  if (over() > 0) dropIds(f, over());
  cut(6);
  return build();
}

// Drops IDs from the end of the longer of the cve_ids and bugtraq_ids fields (f[8], f[9]) until
// `excess` bytes are gone or no ID is left; each drop takes its ID and one space.
function dropIds(f: string[], excess: number): void {
  const split = (field: string | undefined, header: string) => {
    const text = (field ?? header).trim();
    const head = text.startsWith(header) ? header : "";
    return { head, ids: text.slice(head.length).split(/\s+/).filter((id) => id) };
  };
  const cve = split(f[8], "cve_ids:"), bid = split(f[9], "bugtraq_ids:");
  let c = cve.ids.length, b = bid.ids.length;
  while (excess > 0 && (c > 0 || b > 0)) {
    excess -= (c >= b ? cve.ids[--c]! : bid.ids[--b]!).length + 1;
  }
  const join = (l: { head: string; ids: string[] }, n: number) =>
    [l.head, ...l.ids.slice(0, n)].filter((x) => x).join(" ");
  f[8] = join(cve, c);
  f[9] = join(bid, b);
}
