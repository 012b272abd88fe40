/**
 * Reading the Defense Center's answers to DATA messages as the real host input module writes them
 * (docs/host_input.md, "The answer to each DATA message"), the commands a message carries that the
 * module counts, and what to say when it stops a message because of its domain.
 *
 * @module
 */

import { commandOf, splitCsvLine } from "../host_input/grammar.ts";
import { HEADER, mapPrefixAt, showBytes } from "./protocol.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the Defense Center did with one DATA message. */
export interface DataAnswer {
  /** The message's number in the run (1-based; a message sent again keeps its number). */
  message: number;
  /** Its first command that is not a Set* header line, shortened. */
  first: string;
  /** Commands it carried that the DC counts ({@linkcode countedCommands}). */
  sent: number;
  /** The DC's "Done processing N"; undefined for an ERROR answer or a stopped message. */
  processed: number | undefined;
  /** Failed commands with their reasons (or what an ERROR answer said). */
  failures: string[];
  /** `[<cmd>]: Must set source application` lines: those commands ran without a source. */
  unsourced: string[];
  /** Lines of the answer that concern no failed command. */
  notes: string[];
  /** Why the DC stopped the message before its end (a missing map; domain stops are errors). */
  stop: DcStop | undefined;
}

/** Why the Defense Center stopped a DATA message before its end: its answer has no Done line. */
export interface DcStop {
  /**
   * `not-leaf`: `[SetSource]: <domain> is not a leaf domain`; `foreign-domain`: `[SetDomain]:
   * Domain <domain> is not in the certificate domain` (also said of a domain that does not
   * exist); `invalid-domain`: `[SetDomain]: Invalid domain uuid`; `unknown-domain`: `[SetDomain]:
   * Unknown domain: <domain>`; `map`: `Failed to find map '<map>'`.
   */
  kind: "not-leaf" | "foreign-domain" | "invalid-domain" | "unknown-domain" | "map";
  /** The domain or map the line names; "" when it names none. */
  name: string;
  /** The line, without its `[file,line]` suffix. */
  line: string;
}

/** What one DC answer says (docs/host_input.md, "The answer to each DATA message"). */
export interface DcResponse {
  /** N of `Done processing N commands`; undefined when the line is missing. */
  done: number | undefined;
  /** Each failed command or queue run, with the reasons logged before it, on one line. */
  failures: string[];
  /**
   * Commands that failed: one per `Failed to Execute Command` line, and the `vuln_count` of each
   * `Failure to Run Scan API` (the queued AddScanResult lines of one host that were not applied).
   */
  rejected: number;
  /** `[<cmd>]: Must set source application`: the command ran without a source (it is counted). */
  unsourced: string[];
  /** Why the message stopped before its end, when its answer has no Done line and says why. */
  stop: DcStop | undefined;
  /** Lines that concern no failed command (a bad address in a list, `(map using 'X')`). */
  notes: string[];
}

// The module's log lines end in " [<file>,<line>]", on the same line or (when the message ends
// in a newline) on a line of its own.
const SUFFIX = /\n? \[[^\[\]\n]+,\d+\](?=\n|$)/g;
const STOPS: [DcStop["kind"], RegExp][] = [
  ["not-leaf", /^\[SetSource\]: (.*) is not a leaf domain$/],
  ["foreign-domain", /^\[SetDomain\]: Domain (.*) is not in the certificate domain$/],
  ["invalid-domain", /^\[SetDomain\]: ()Invalid domain uuid$/],
  ["unknown-domain", /^\[SetDomain\]: Unknown domain: (.*)$/],
  ["map", /^Failed to find map '(.*)'$/],
];

/**
 * Reads an answer to a DATA message as the real host input module writes it: per failed command
 * its reasons (`<message> [<file>,<line>]`) and `Failed to Execute Command:  Command: ...`;
 * `[<cmd>]: Must set source application` (the command still ran); `Done processing N commands.`;
 * then what failed when the queued scan results ran: reasons and `Failure to Run Scan API:` with
 * `Command: AddScanResult, IP: <ip>, vuln_count = <n>` on the next line. A message the module
 * stopped (a domain it may not use, a missing map) has no Done line; {@linkcode DcResponse.stop}
 * says why.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const r = parseDcResponse(
 *   "Wrong protocol icmp entered [HostInput.pm,3595]\n" +
 *     "Failed to Execute Command:  Command: AddScanResult ip_address: 10.0.0.1\n" +
 *     "[AddHost]: Must set source application\nDone processing 3 commands.\n",
 * );
 * assert.equal(r.done, 3);
 * assert.equal(r.rejected, 1);
 * assert.deepEqual(r.failures, [
 *   "Wrong protocol icmp entered (Failed to Execute Command:  Command: AddScanResult ip_address: 10.0.0.1)",
 * ]);
 * assert.deepEqual(r.unsourced, ["[AddHost]: Must set source application"]);
 * ```
 */
export function parseDcResponse(text: string): DcResponse {
  const r: DcResponse = {
    done: undefined,
    failures: [],
    rejected: 0,
    unsourced: [],
    stop: undefined,
    notes: [],
  };
  const raw = text.replace(SUFFIX, "").split("\n");
  const lines = raw.map((l) => l.trim());
  let reasons: string[] = [];
  const fail = (what: string) => {
    const shown = what.length > 300 ? `${what.slice(0, 300)}...` : what;
    r.failures.push(reasons.length ? `${reasons.join("; ")} (${shown})` : shown);
    reasons = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const done = /^Done processing (\d+) commands?\.?$/.exec(line);
    if (done) {
      r.done = (r.done ?? 0) + Number(done[1]);
      r.notes.push(...reasons);
      reasons = [];
    } else if (line.startsWith("Failed to Execute Command:")) {
      r.rejected++;
      fail(line);
    } else if (/^Failure to Run Scan API:/.test(line)) {
      let what = line;
      while (i + 1 < lines.length && !lines[i + 1]) i++;
      const next = lines[i + 1] ?? "";
      const count = /^Command: .*vuln_count = (\d+)$/.exec(next);
      if (count) {
        what = `${line} ${next}`;
        i++;
      }
      r.rejected += count ? Math.max(Number(count[1]), 1) : 1;
      fail(what);
    } else if (/^\[\w+\]: Must set source application$/.test(line)) {
      r.unsourced.push(line);
    } else if (/^\(map using '.*'\)$/.test(line)) {
      r.notes.push(line);
    } else if (/^(WARN: ignoring unknown key|Text::CSV::parse\(\) failed)/.test(line)) {
      // Cleared before the answer by the modules known (docs/host_input.md): if a version sends
      // them, the line was dropped, which the count shows too.
      r.failures.push(line);
    } else {
      const stop = STOPS.find(([, re]) => re.test(line));
      if (stop && r.done === undefined && !r.stop) {
        r.stop = { kind: stop[0], name: stop[1].exec(line)![1]!, line };
      } else reasons.push(raw[i]!.trimStart()); // "BugTraq: " keeps its space
    }
  }
  r.notes.push(...reasons);
  return r;
}

/**
 * The commands of a DATA payload the Defense Center counts in its "Done processing N commands"
 * when it parses every line: each line but SetSource, SetSourceType and SetDomain (blank and
 * comment lines are never sent). A line it cannot parse (a CR, a byte outside printable ASCII,
 * broken quoting) or does not know is dropped without a word and not counted, so a shortfall is
 * the only sign of it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const payload = new TextEncoder().encode(
 *   "SetDomain,Global \\ East\nSetSource,S\nSetMap,M\nAddHost,10.0.0.1\nScanFlush\n",
 * );
 * assert.equal(countedCommands(payload), 3);
 * ```
 */
export function countedCommands(payload: Uint8Array): number {
  let n = 0;
  for (let s = 0; s < payload.length;) {
    let e = payload.indexOf(10, s);
    if (e < 0) e = payload.length;
    if (!isUncounted(payload, s, e)) n++;
    s = e + 1;
  }
  return n;
}

// SetSource, SetSourceType, SetDomain (after blanks, maybe quoted, maybe after a `SetMap:<map>`
// prefix), or a blank or comment line.
function isUncounted(b: Uint8Array, s: number, e: number): boolean {
  let i = s;
  while (i < e && (b[i] === 32 || b[i] === 9)) i++;
  if (i === e || b[i] === 35) return true;
  if (mapPrefixAt(b, i)) {
    const command = commandOf(decoder.decode(b.subarray(s, e)))?.command ?? "";
    return /^Set(Source|SourceType|Domain)$/.test(command);
  }
  if (b[i] === 34) i++;
  if (b[i] !== 83 || b[i + 1] !== 101 || b[i + 2] !== 116) return false; // "Set"
  const head = decoder.decode(b.subarray(i, Math.min(e, i + 16)));
  return /^Set(Source|SourceType|Domain)"?[ \t]*(,|$)/.test(head);
}

/** The lines of a payload (its newlines). */
export function countLines(payload: Uint8Array): number {
  let n = 0;
  for (let i = payload.indexOf(10); i !== -1; i = payload.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * The message for an answer that says the Defense Center processed more commands than the
 * message carried. The host input module counts every line it handles but SetSource,
 * SetSourceType and SetDomain ({@linkcode countedCommands}), so it never counts more than it was
 * sent: such an answer belongs to another message (a DC that answered one message twice puts
 * every later answer on the wrong message), or comes from something that is not the module. No
 * later answer can be trusted, so the run stops (exit 5).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const answer = { message: 3, first: "AddHost,10.0.0.1", sent: 27, processed: 32,
 *   failures: [], unsourced: [], notes: [], stop: undefined };
 * assert.match(overCounted("10.0.0.9:8307", answer),
 *   /^The Defense Center at 10\.0\.0\.9:8307 answered DATA message 3 \(first command: AddHost,10\.0\.0\.1\) with "Done processing 32 commands", but the message carried 27 commands/);
 * ```
 */
export function overCounted(where: string, answer: DataAnswer): string {
  const before = answer.message === 1
    ? "no earlier message was acknowledged"
    : answer.message === 2
    ? "DATA message 1 was acknowledged before"
    : `DATA messages 1 to ${answer.message - 1} were acknowledged before`;
  return `The Defense Center at ${where} answered DATA message ${answer.message} (first ` +
    `command: ${answer.first}) with "Done processing ${answer.processed} commands", but the ` +
    `message carried ${answer.sent} commands it counts: the host input module never counts ` +
    "more than it was sent, so this answer belongs to another message (one answered twice " +
    "puts every later answer on the wrong message) or does not come from the host input " +
    `module; no later answer could be trusted, so nothing more was sent (${before})`;
}

/**
 * The first command of a payload that is not a Set* header line (or its first line), shortened:
 * how a message is named in what the connector logs.
 */
export function firstCommand(payload: Uint8Array, max = 100): string {
  let first: string | undefined;
  for (let s = 0; s < payload.length;) {
    let e = payload.indexOf(10, s);
    if (e < 0) e = payload.length;
    const line = decoder.decode(payload.subarray(s, Math.min(e, s + max + 1)));
    first ??= line;
    if (!HEADER.test(line.trimStart())) {
      first = line;
      break;
    }
    s = e + 1;
  }
  first ??= "";
  return first.length > max ? `${first.slice(0, max)}...` : first;
}

/**
 * Lines of a payload the Defense Center cannot parse (Text::CSV with binary off): a CR or
 * another control character but TAB, a byte outside ASCII, or broken quoting. Returns up to
 * `max` of them as `line N (why): text`, for a message that lost commands.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const payload = new TextEncoder().encode("SetSource,S\nAddHost,10.0.0.1\r\nAddHost,10.0.0.2\n");
 * assert.deepEqual(unparsableLines(payload), ['line 2 (a CR): "AddHost,10.0.0.1\\r"']);
 * ```
 */
export function unparsableLines(payload: Uint8Array, max = 3): string[] {
  const out: string[] = [];
  const lines = decoder.decode(payload).split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((line, k) => {
    if (out.length >= max) return;
    const codes = Array.from(line, (ch) => ch.codePointAt(0)!);
    const why = line.includes("\r")
      ? "a CR"
      : codes.some((c) => (c < 0x20 && c !== 9) || c === 0x7f)
      ? "a control character"
      : codes.some((c) => c > 0x7f)
      ? "a character outside ASCII"
      : splitCsvLine(line) === undefined
      ? "broken quoting"
      : undefined;
    if (why) out.push(`line ${k + 1} (${why}): ${showBytes(encoder.encode(line), 100)}`);
  });
  return out;
}

/**
 * The Set* header lines at the top of a payload, as text ("" when it has none).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const payload = new TextEncoder().encode("SetDomain,D\nSetSource,S\nAddHost,10.0.0.1\n");
 * assert.equal(headerOf(payload), "SetDomain,D\nSetSource,S\n");
 * ```
 */
export function headerOf(payload: Uint8Array): string {
  let header = "";
  for (let s = 0; s < payload.length;) {
    const e = payload.indexOf(10, s);
    if (e < 0) break;
    const line = decoder.decode(payload.subarray(s, e));
    if (!HEADER.test(line)) break;
    header += `${line}\n`;
    s = e + 1;
  }
  return header;
}

/** The domain a payload's SetDomain line names, if it has one (in its header lines, at the top). */
export function setDomainOf(payload: Uint8Array): string | undefined {
  const head = decoder.decode(payload.subarray(0, Math.min(payload.length, 8192)));
  return /^[ \t]*"?SetDomain"?[ \t]*,[ \t]*"?([^"\n]*?)"?[ \t]*$/m.exec(head)?.[1];
}

/**
 * The one message for a DATA message the Defense Center stopped because of its domain: what the
 * DC said, what it means, and what to set.
 */
export function domainRefused(
  where: string,
  n: number,
  stop: DcStop,
  asked: string | undefined,
): string {
  const said = `"${stop.line}"`;
  const which = asked === undefined
    ? "no domain is set, so the DC uses the client certificate's domain"
    : `the domain set is "${asked}"`;
  const meaning = stop.kind === "not-leaf"
    ? `"${stop.name}" is not a leaf domain, and only a leaf domain (one without sub-domains) ` +
      `holds a network map to import into (${which})`
    : stop.kind === "invalid-domain"
    ? `no domain has the UUID "${asked ?? ""}"`
    : `the client certificate may not write to domain "${stop.name}", or the FMC has no such ` +
      "domain (it says the same of both)";
  const fix = 'Set "domain" in the plugin YAML (or a SetDomain line at the top of the command ' +
    "file) to a leaf domain the certificate may write to: its own domain or one below it, as a " +
    "path such as Global \\ Branch A \\ Lab (the names as the FMC shows them) or as the domain's " +
    "UUID; or create a Host Input Client in that domain and use its certificate";
  const ascii = asked === undefined || [...asked].every((ch) => ch.charCodeAt(0) < 0x7f);
  const dropped = ascii ? "" : ` (the FMC drops a SetDomain line with characters outside ASCII ` +
    `without a word, so it never saw "${asked}": give that domain's UUID instead)`;
  const imported = n === 1
    ? "nothing was imported"
    : `DATA messages 1 to ${n - 1} were imported, nothing from message ${n} on`;
  return `The Defense Center at ${where} refused DATA message ${n}: ${said}: ${meaning}${dropped}. ` +
    `${fix}; ${imported}`;
}
