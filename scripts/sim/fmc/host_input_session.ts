/**
 * The host input semantics of the FMC's server module `SF::SFDataCorrelator::HostInput`
 * (`hostinput.md` §2, "SRV"), re-implemented for the Defense Center simulator and for tests that
 * replay command files without TLS. One {@linkcode HostInputSession} is one client connection (or
 * one `nmimport.pl` run); {@linkcode HostInputSession.handle} takes one DATA buffer and returns
 * the answer the daemon sends back. It follows the real module where the public copy shows it:
 *
 * - Each line: comment and blank lines skipped (`^\s*#|^\s$`), parsed as `Text::CSV` with
 *   `allow_whitespace` and binary off (a CR, any control character or non-ASCII byte fails the
 *   parse), an optional `SetMap:<name>` first field, then the command table. Parse failures and
 *   unknown commands are logged but the result text is cleared before the commands run, so the
 *   client never sees them.
 * - `SetSource` is kept for the whole connection; `SetSourceType` and `SetDomain` only for the
 *   buffer. A command other than AddScanResult, DeleteScanResult, ScanUpdate and ScanFlush
 *   without a source is answered `[<cmd>]: Must set source application` and still runs.
 * - `SetDomain` is checked against the certificate's domain; a foreign or unknown domain, and
 *   `SetSource` in a non-leaf domain, stop the buffer (no `Done processing` line), yet the
 *   buffer's scan commands are still queued and its ScanFlush/ScanUpdate still run, as the real
 *   post-processing goes over every parsed command.
 * - AddScanResult lines are queued per `<scanner>_<ip>` even when they failed; ScanFlush replaces
 *   (per host and scanner), ScanUpdate runs the queued DeleteScanResults (delete-all, all-vuln,
 *   all-generic, then specific) and merges; a disconnect runs what is left as deletes + update.
 * - `Done processing N commands.` counts every command past the source check (not SetSource,
 *   SetSourceType, SetDomain); failures found while running the queues come after it.
 * - Source and scanner names are put into SQL by interpolation: a `'` ends the module (the client
 *   sees the connection close without an answer), all digits name an existing ID, empty is an
 *   undefined source.
 *
 * Log lines carry the module's `[file,line]` suffix. The line numbers are those of the public
 * copy, counted by hand (they may be off by a line or two and differ between FMC releases):
 * match on the text before ` [`.
 *
 * The command grammar is `host_input_grammar.ts`, the source tables `host_input_sources.ts`, the
 * scan queues `host_input_scans.ts`; the FMC's data is `fmc_state.ts`.
 *
 * @module
 */

import { type Domain, type FmcState, type NetworkMap, normalUuid } from "./fmc_state.ts";
import {
  Abort,
  type Cmd,
  cmdInfo,
  HOST_INPUT_FIELDS,
  isValidIp,
  isValidMac,
  MODULE_PATH,
  ModuleDeath,
  NEEDS_LEAF,
  normaliseProto,
  type Params,
  parseCsvLine,
  SCAN_COMMANDS,
  SKIP_LINE,
  truthy,
  validIpv4,
  validIpv6,
} from "./host_input_grammar.ts";
import { ScanQueues } from "./host_input_scans.ts";
import {
  type CurrentSource,
  findSource,
  SOURCE_TYPE_APP,
  SOURCE_TYPES,
} from "./host_input_sources.ts";

export type { CurrentSource } from "./host_input_sources.ts";

/** What the module did with one DATA buffer. */
export interface BufferOutcome {
  /** The answer text; undefined when the module died (no answer is sent). */
  answer: string | undefined;
  /** Why the module died: the client sees its connection close without an answer. */
  died: string | undefined;
}

/** Options for {@linkcode HostInputSession}. */
export interface SessionOptions {
  /** UUID of the domain the client certificate was issued for. @default Global */
  certDomain?: string;
  /**
   * Commands arrive over a socket (the daemon); false emulates `nmimport.pl` on the FMC: no
   * certificate domain, `Must set source` stops the buffer, an unknown domain is named so, and
   * each buffer's queues run as deletes + update at its end. @default {true}
   */
  viaSocket?: boolean;
}

/**
 * One client connection to the host input daemon (or one `nmimport.pl` run), with the module's
 * per-connection state: the source, the third-party map, the scan queues, the network map the
 * queues run against.
 */
export class HostInputSession {
  /** The FMC it works on. */
  readonly fmc: FmcState;
  /** The domain of the client certificate. */
  readonly certDomain: Domain;
  /** Every log line the module wrote (AddLog), including those cleared before an answer. */
  readonly recorded: string[] = [];
  readonly #socket: boolean;
  #result = "";
  #source: CurrentSource | undefined;
  #map: string | undefined;
  readonly #scans: ScanQueues;
  #postNetmap: Domain | undefined; // $postprocessing_netmap_num
  #switched: Domain; // the domain switched to outside HandleCmds
  #dead: string | undefined;

  /** A new connection from a client whose certificate is for `options.certDomain`. */
  constructor(fmc: FmcState, options: SessionOptions = {}) {
    this.fmc = fmc;
    this.#socket = options.viaSocket ?? true;
    const cert = this.#socket && options.certDomain
      ? fmc.domains.byUuid(options.certDomain)
      : fmc.domains.global;
    if (!cert) throw new RangeError(`No domain with UUID ${options.certDomain}`);
    this.certDomain = cert;
    this.#switched = fmc.domains.global;
    this.#scans = new ScanQueues({
      fmc,
      log: (message, line) => this.#log(message, line),
      fail: (text) => {
        this.#result += text;
      },
      postMap: () => this.#postMap(),
    });
  }

  /** The source set with SetSource (it lasts for the connection); undefined when none is. */
  get source(): CurrentSource | undefined {
    return this.#source;
  }

  /** The third-party map set with SetMap (it lasts for the connection). */
  get currentMap(): string | undefined {
    return this.#map;
  }

  /** AddScanResult lines queued and not yet run, by `<scanner>_<ip>`. */
  get queuedAdds(): number {
    return this.#scans.queuedAdds;
  }

  /** Why the module died on this connection, if it did. */
  get died(): string | undefined {
    return this.#dead;
  }

  /**
   * Processes one DATA buffer (ProcessCSVBuffer: parse, HandleCmds, PostProcessingCmds) and
   * returns the answer text.
   *
   * @throws {Error} When the module already died on this connection.
   */
  handle(text: string): BufferOutcome {
    if (this.#dead) throw new Error(`The host input module died on this connection: ${this.#dead}`);
    const cmds = this.#parse(text);
    try {
      this.#handleCmds(cmds);
      // PostProcessingCmds: every parsed command of the buffer, handled or not.
      this.#scans.postProcess(cmds, this.#postNetmap);
      if (!this.#socket) { // nmimport.pl: the end of the file is an update
        this.#scans.runDeletes();
        this.#scans.runAdds("update");
      }
    } catch (e) {
      if (!(e instanceof ModuleDeath)) throw e;
      this.#dead = e.message;
      this.#scans.clear();
      return { answer: undefined, died: e.message };
    }
    return { answer: this.#result, died: undefined };
  }

  /**
   * The client went away (socketCleanUp): the queued deletes and adds run as ScanUpdate.
   * Returns the result text they produced, which nobody receives.
   */
  disconnect(): string {
    if (this.#dead || !this.#socket) return "";
    this.#result = "";
    try {
      this.#scans.runDeletes();
      this.#scans.runAdds("update");
    } catch (e) {
      if (!(e instanceof ModuleDeath)) throw e;
      this.#dead = e.message;
    }
    this.#scans.clear();
    return this.#result;
  }

  #log(message: string, line: number): void {
    const s = `${message} [${MODULE_PATH},${line}]\n`;
    this.recorded.push(s);
    this.#result += s;
  }

  // parseCSVBuffer + procLine.
  #parse(text: string): Cmd[] {
    const cmds: Cmd[] = [];
    for (const line of text.split("\n")) {
      const c0 = line.charCodeAt(0);
      if (line === "" || (!(c0 >= 65 && c0 <= 90) && SKIP_LINE.test(line))) continue;
      let list = parseCsvLine(line);
      if (!list) {
        this.#log(`Text::CSV::parse() failed on line: ${line}, argument: ${line}`, 285);
        list = [];
      }
      let customMap: string | undefined;
      if (list[0]?.startsWith("SetMap:")) {
        const name = list[0].slice("SetMap:".length);
        customMap = truthy(name) ? name : undefined;
        list = list.slice(1);
      }
      const cmd = list[0] ?? "";
      const fields = Object.hasOwn(HOST_INPUT_FIELDS, cmd) ? HOST_INPUT_FIELDS[cmd] : undefined;
      if (!fields) {
        this.#log(`WARN: ignoring unknown key '${cmd}'. Line: ${line}`, 334);
        continue;
      }
      const params: Params = {};
      for (let k = 0; k < fields.length; k++) params[fields[k]!] = list[k + 1];
      cmds.push({ cmd, params, customMap });
    }
    return cmds;
  }

  // HandleCmds: the answer text is cleared first, so parse failures never reach the client.
  #handleCmds(cmds: Cmd[]): void {
    this.#result = "";
    let sourceType: number | undefined = SOURCE_TYPE_APP;
    let domain = this.certDomain;
    let count = 0;
    this.#switched = domain;
    try {
      for (const c of cmds) {
        const p = c.params;
        if (c.cmd === "SetSource") {
          if (!domain.leaf) {
            this.#log(`[SetSource]: ${domain.path} is not a leaf domain\n`, 372);
            throw new Abort();
          }
          this.#source = findSource(this.fmc, {
            type: sourceType,
            name: p.source_name,
            option: p.option,
            domain,
          });
          continue;
        }
        if (c.cmd === "SetSourceType") {
          const name = (p.source_type_name ?? "").toLowerCase();
          sourceType = Object.hasOwn(SOURCE_TYPES, name) ? SOURCE_TYPES[name] : undefined;
          continue;
        }
        if (c.cmd === "SetDomain") {
          domain = this.#setDomain(p.domain ?? "");
          this.#switched = domain;
          continue;
        }
        if (!SCAN_COMMANDS.has(c.cmd) && !this.#source) {
          if (!this.#socket) throw new Abort(); // nmimport.pl: printed, and the buffer ends
          this.#result += `[${c.cmd}]: Must set source application\n`;
        }
        count++;
        const saved = this.#map;
        if (c.customMap !== undefined) {
          this.#setMap(c.customMap);
          this.#result += ` (map using '${c.customMap}')\n`;
        }
        const rval = this.#run(c, domain);
        this.#map = c.cmd === "SetMap" ? this.#map : saved;
        if (rval !== 0) this.#result += `Failed to Execute Command: ${cmdInfo(c)}\n`;
      }
    } catch (e) {
      if (e instanceof Abort) return; // no Done line; the domain stays switched
      throw e;
    }
    this.#postNetmap = domain.leaf ? domain : undefined;
    this.#result += `Done processing ${count} commands.\n`;
    this.#switched = this.fmc.domains.global; // MultiTenancy::reset_module: domains unswitched
  }

  #setDomain(name: string): Domain {
    const tree = this.fmc.domains;
    let target: Domain | undefined;
    const byUuid = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(name);
    if (byUuid) target = tree.byUuid(name);
    else {
      const names = name.split(/\s*\\\s*/);
      if (names.length >= 2 && names[0] === "Global") names.shift();
      target = tree.byNames(names);
      if (!target) {
        this.#log(
          this.#socket
            ? `[SetDomain]: Domain ${name} is not in the certificate domain\n`
            : `[SetDomain]: Unknown domain: ${name}\n`,
          412,
        );
        throw new Abort();
      }
    }
    const cert = this.certDomain;
    if (
      target !== cert && cert !== tree.global && !(target && tree.isAncestor(cert, target))
    ) {
      this.#log(`[SetDomain]: Domain ${name} is not in the certificate domain\n`, 421);
      throw new Abort();
    }
    if (!target) { // switchDomain fails on a UUID that names no domain
      this.#log(`[SetDomain]: Invalid domain uuid\n`, 431);
      throw new Abort();
    }
    return target;
  }

  // SetCurrent3rdPartyMap. Maps are defined in Global, which every domain's lookup includes.
  #setMap(name: string | undefined): void {
    if (name === undefined || !this.fmc.maps.has(name)) {
      this.#map = undefined;
      this.#log(`Failed to find map '${name ?? ""}'`, 922);
      throw new Abort();
    }
    this.#map = name;
  }

  // getCurrentLeafDomain: the network map of `domain`, or a logged failure.
  #leaf(domain: Domain): NetworkMap | undefined {
    if (!domain.leaf) {
      this.#log(`${domain.path} is not a leaf domain`, 856);
      return undefined;
    }
    return this.fmc.netmaps.get(domain.uuid)!;
  }

  // The network map the queues run against (_AddScanResult / _DeleteScanResult).
  #postMap(): NetworkMap | undefined {
    return this.#postNetmap
      ? this.fmc.netmaps.get(this.#postNetmap.uuid)!
      : this.#leaf(this.#switched);
  }
  // The command itself; returns rval (0 success).
  #run(c: Cmd, domain: Domain): number {
    const p = c.params;
    if (c.cmd === "SetMap") {
      this.#setMap(p.map_name);
      return 0;
    }
    if (c.cmd === "AddScanResult") return this.#scans.handleAdd(c);
    if (c.cmd === "DeleteScanResult") {
      const netmap = this.#leaf(domain);
      if (!netmap) return -1;
      if (!normaliseProto(p)) {
        this.#log(`Wrong protocol ${p.proto} entered`, 3793);
        return -1;
      }
      this.#scans.processDelete(c, domain);
      return 0;
    }
    if (c.cmd === "ScanFlush" || c.cmd === "ScanUpdate") return 0;
    if (c.cmd === "AddHost") return this.#addHost(p, domain);
    if (!NEEDS_LEAF.has(c.cmd)) return 0; // host attributes: accepted, not modelled
    const netmap = this.#leaf(domain);
    if (!netmap) return -1;
    if (c.cmd === "SetOS") {
      const ips = this.#addresses(p.ip_address);
      if (
        p.vendor_str === undefined && p.product_str === undefined && p.version_str === undefined
      ) return 0;
      for (const ip of ips) {
        netmap.os.set(ip, { vendor: p.vendor_str, product: p.product_str, version: p.version_str });
      }
    } else if (c.cmd === "UnsetOS") {
      for (const ip of this.#addresses(p.ip_address)) netmap.os.delete(ip);
    } else if (c.cmd === "DeleteHost") {
      for (const ip of this.#addresses(p.ip_address)) netmap.deleteHost(ip);
    }
    return 0; // the other commands: accepted, not modelled
  }

  // strToRangeList: the single addresses of an address list (ranges and blocks are checked,
  // logged when malformed, and not applied).
  #addresses(list: string | undefined): string[] {
    if (list === undefined || normalUuid(list.replace(/,.*$/s, ""))) return []; // host IDs
    const out: string[] = [];
    for (let item of list.split(",")) {
      item = item.replace(/\s/g, "").replace(/^!/, "");
      if (item.includes("/")) {
        const [addr = "", bits = ""] = item.split("/", 2);
        const v4 = validIpv4(addr) && /^\d+$/.test(bits) && Number(bits) <= 32;
        const v6 = validIpv6(addr) && /^\d+$/.test(bits) && Number(bits) <= 128;
        if (!v4 && !v6) this.#log(`'${item}' is not a valid address`, 729);
      } else if (item.includes("-")) {
        const [low = "", high = ""] = item.split("-", 2);
        const ok = (validIpv4(low) && validIpv4(high)) || (validIpv6(low) && validIpv6(high));
        if (!ok) this.#log(`'${item}' is not a valid address range`, 759);
      } else if (isValidIp(item)) out.push(item);
      else this.#log(`'${item}' is not a valid address`, 846);
    }
    return out;
  }

  #addHost(p: Params, domain: Domain): number {
    const ip = p.ip_address, mac = p.mac_address;
    if (isValidIp(ip)) {
      if (truthy(mac) && !isValidMac(mac)) {
        this.#log(`Failed to recognize MAC address: ${mac}`, 2945);
        return -1;
      }
    } else {
      if (truthy(ip)) {
        this.#log(`Failed to recognize IP address: ${ip}`, 2955);
        return -1;
      }
      if (!isValidMac(mac)) {
        this.#log(`Failed to recognize MAC address: ${mac ?? ""}`, 2961);
        return -1;
      }
    }
    const netmap = this.#leaf(domain);
    if (!netmap) return -1;
    if (isValidIp(ip)) {
      netmap.hosts.add(ip);
      if (isValidMac(mac)) netmap.macs.set(ip, mac);
    } else netmap.hosts.add(mac!);
    return 0;
  }
}

/** What a replay of a command file produced. */
export interface ReplayOutcome {
  /** The answer to each DATA message (undefined after the module died). */
  answers: (string | undefined)[];
  /** The result text of the disconnect (queued results run as update); nobody receives it. */
  closing: string;
  /** Why the module died, if it did. */
  died: string | undefined;
  /** The session, for its state (source, map, recorded log lines). */
  session: HostInputSession;
}

/**
 * Replays DATA messages as one connection: each is handled in turn, and the end counts as the
 * client's disconnect (queued results run as ScanUpdate), as `nmimport.pl` ends a file.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { FmcState } from "./fmc_state.ts";
 * const fmc = new FmcState();
 * const r = replayCommands(fmc, [
 *   'SetSource,QualysGuard Scan Report\nAddScanResult,10.0.0.1,"QG",38170,443,tcp,"t","d","cve_ids:","bugtraq_ids:"\n',
 * ]);
 * assert.equal(r.answers[0], "Done processing 1 commands.\n");
 * assert.deepEqual(Object.keys(fmc.netmap("Global").dump()), ["10.0.0.1"]); // run at the end
 * ```
 */
export function replayCommands(
  fmc: FmcState,
  messages: string | readonly string[],
  options: SessionOptions = {},
): ReplayOutcome {
  const session = new HostInputSession(fmc, options);
  const answers: (string | undefined)[] = [];
  let died: string | undefined;
  for (const m of typeof messages === "string" ? [messages] : messages) {
    if (died) {
      answers.push(undefined);
      continue;
    }
    const r = session.handle(m);
    answers.push(r.answer);
    died = r.died;
  }
  return { answers, closing: died ? "" : session.disconnect(), died, session };
}
