/**
 * Streams a spooled command file to the Defense Center: lines → payloads (MessagePacker) →
 * DcClient, one acknowledged message at a time, with failures logged and counted, and what the
 * Defense Center processed of each message set against what it carried: the real module drops a
 * line it cannot parse without a word, so a shortfall is the only sign (docs/host_input.md,
 * section 5). The header lines of a group that names a domain go alone first, so a domain the DC
 * refuses imports nothing. A host cut by a dropped connection ends in ScanUpdate. A DC that
 * announces a smaller MAX_SIZE on a new connection gets the unacknowledged message again, packed
 * to that size.
 *
 * @module
 */

import { DcRejectedError } from "../errors.ts";
import { HeapWatch, type MemoryBudget, SEND_MEMORY } from "../util/memory.ts";
import { plural } from "../util/text.ts";
import type { ByteReader } from "../util/bytes.ts";
import type { DataAnswer, DcClient, DcLog } from "./dc_client.ts";
import { headerOf, unparsableLines } from "./answers.ts";
import { flushToUpdate, MessagePacker, OverMaxSize, type Payload } from "./protocol.ts";

/**
 * Sends every line of `reader` and returns the totals.
 *
 * @throws {DcRejectedError} (exit 6) After the whole file was sent, when the DC rejected any
 * command, processed fewer commands of a message than it carried, or a line was too long to
 * send; {@linkcode DcError} (exit 5) when the DC cannot be reached or refuses the domain.
 */
export async function sendMessages(
  client: DcClient,
  reader: ByteReader,
  options: {
    log: DcLog;
    onProgress?: (totals: DcClient["totals"]) => void;
    /**
     * Hears the address of each host whose lines a dropped connection cut: it ended in
     * ScanUpdate (a merge), so it may keep results the commands no longer list.
     */
    onMerged?: (address: string) => void;
    /** When the heap is collected while sending (a look every 250 messages). @default {SEND_MEMORY} */
    memory?: Pick<MemoryBudget, "heapSlack">;
  },
): Promise<DcClient["totals"]> {
  const sender = new Sender(client, options.log, options.onMerged, options.memory);
  const buf = new Uint8Array(1 << 20);
  for (let n = await reader.read(buf); n !== null; n = await reader.read(buf)) {
    sender.packer.push(buf.subarray(0, n));
    await sender.flush(options.onProgress);
  }
  sender.packer.finish();
  await sender.flush(options.onProgress);
  const t = client.totals;
  const rejected = sender.rejection();
  if (rejected) throw rejected;
  return t;
}

/** One send's state: the packer, what the DC said so far, and the ScanUpdate rule after drops. */
class Sender {
  readonly #client: DcClient;
  readonly #log: DcLog;
  readonly #encoder = new TextEncoder();
  readonly #packing: { onShortened: (l: string) => void; onDropped: (l: string) => void };
  /** Packs the file's lines into DATA payloads. */
  readonly packer: MessagePacker;
  #dropped = 0;
  #unsourced = 0;
  readonly #short: number[] = []; // messages the DC processed fewer commands of than they carried
  #domainChecked = "";
  // A host whose lines span payloads must not end in ScanFlush (replace) once the connection
  // dropped after its first part was acknowledged: the DC applied that part as an update when
  // the connection went, and a replace would now drop it. It ends in ScanUpdate instead.
  #dropInsideGroup = false;
  // The host whose lines the last payload sent ended inside (the one a payload that continues a
  // group goes on with), and who hears of a host merged so.
  #openHost: string | undefined;
  readonly #onMerged: ((address: string) => void) | undefined;
  // The answers, the progress line and the debug lines of each message are garbage.
  readonly #heap: HeapWatch;

  constructor(
    client: DcClient,
    log: DcLog,
    onMerged?: (address: string) => void,
    memory: Pick<MemoryBudget, "heapSlack"> = SEND_MEMORY,
  ) {
    this.#heap = new HeapWatch(memory);
    this.#client = client;
    this.#log = log;
    this.#onMerged = onMerged;
    this.#packing = {
      onShortened: (l: string) =>
        log.debug(`Shortened to fit MAX_SIZE ${client.payloadLimit}: ${l.slice(0, 120)}...`),
      onDropped: (l: string) => {
        this.#dropped++;
        log.error(
          `A line longer than MAX_SIZE ${client.payloadLimit} cannot be shortened and is not sent: ${
            l.slice(0, 120)
          }...`,
        );
      },
    };
    this.packer = new MessagePacker({ ...this.#packing, maxSize: client.payloadLimit });
  }

  /** Sends the payloads packed so far. */
  async flush(onProgress?: (totals: DcClient["totals"]) => void): Promise<void> {
    for (const p of this.packer.take()) {
      await this.#checkDomain(p.bytes);
      await this.#sendOne(p);
      this.packer.release(p);
      this.#heap.tick();
      onProgress?.(this.#client.totals);
    }
  }

  #report(answer: DataAnswer, bytes: Uint8Array): void {
    const log = this.#log;
    for (const f of answer.failures) log.error(`Defense Center: ${f}`);
    for (const note of answer.notes) {
      if (/^\(map using/.test(note)) log.debug(`Defense Center: ${note}`);
      else log.warn(`Defense Center: ${note}`);
    }
    if (answer.unsourced.length > 0 && this.#unsourced === 0) {
      log.warn(
        `Defense Center: ${answer.unsourced[0]} (DATA message ${answer.message}): the ` +
          "commands ran without a source; put a SetSource line at the top of the command file",
      );
    }
    this.#unsourced += answer.unsourced.length;
    if (!reconcile(answer, bytes, log)) this.#short.push(answer.message);
  }

  // A message the module stops because of its domain still runs its scan results, in the
  // certificate's own domain when that is a leaf (docs/host_input.md, section 5). So the header
  // lines of each group that names a domain go alone first: a refused domain imports nothing.
  async #checkDomain(payload: Uint8Array): Promise<void> {
    const header = headerOf(payload);
    if (header === this.#domainChecked || !/^SetDomain/m.test(header)) return;
    const bytes = this.#encoder.encode(header);
    this.#report(await this.#client.send(bytes), bytes);
    this.#domainChecked = header;
  }

  async #sendOne(p: Payload): Promise<void> {
    if (!p.continuesGroup) this.#dropInsideGroup = false;
    let bytes = this.#dropInsideGroup ? flushToUpdate(p.bytes) : p.bytes;
    const host = this.#openHost;
    try {
      const answer = await this.#client.send(bytes, {
        onReconnect: (payload) => {
          if (!p.continuesGroup) return payload;
          if (!this.#dropInsideGroup) {
            this.#log.warn(
              "The connection dropped inside a host's results: that host ends with ScanUpdate " +
                "(merge) this time, so results Qualys no longer reports stay until the next run",
            );
            if (host !== undefined) this.#onMerged?.(host);
          }
          this.#dropInsideGroup = true;
          return (bytes = flushToUpdate(payload));
        },
      });
      this.#openHost = lastHostOf(p.bytes);
      this.#report(answer, bytes);
    } catch (error) {
      if (!(error instanceof OverMaxSize)) throw error;
      await this.#resend(p, error);
    }
  }

  // The DC announced a smaller MAX_SIZE on a new connection: this message (not acknowledged, so
  // not imported) goes again in pieces that fit, headers repeated, hosts kept together where they
  // fit. The pieces of a host cut by a drop end in ScanUpdate like any other.
  async #resend(p: Payload, error: OverMaxSize): Promise<void> {
    const smaller = new MessagePacker({ ...this.#packing, maxSize: error.maxSize });
    smaller.push(p.bytes);
    smaller.finish();
    const pieces = smaller.take(); // each piece is turned to ScanUpdate as needed
    this.#log.warn(
      `The Defense Center now takes messages of at most ${error.maxSize} bytes (it announced ` +
        `a smaller MAX_SIZE on reconnecting): the unacknowledged message of ${error.size} ` +
        `bytes is sent again in ${pieces.length} smaller ones`,
    );
    for (const [i, piece] of pieces.entries()) {
      await this.#sendOne({
        bytes: piece.bytes,
        continuesGroup: i === 0 ? p.continuesGroup : piece.continuesGroup,
      });
    }
  }

  /** The error for what the DC rejected or dropped, or undefined when it took everything. */
  rejection(): DcRejectedError | undefined {
    const t = this.#client.totals;
    const short = this.#short, dropped = this.#dropped;
    if (t.failures === 0 && short.length === 0 && dropped === 0) return undefined;
    const parts: string[] = [];
    if (t.failures) parts.push(`the Defense Center rejected ${plural(t.failures, "command")}`);
    if (short.length) {
      const shown = short.length > 10 ? `${short.slice(0, 10).join(", ")}, ...` : short.join(", ");
      parts.push(
        `${parts.length ? "it" : "the Defense Center"} processed ${
          t.unprocessed ? `${t.unprocessed} fewer` : "fewer"
        } command${t.unprocessed === 1 ? "" : "s"} than it was sent (DATA message${
          short.length > 1 ? "s" : ""
        } ${shown})`,
      );
    }
    if (dropped) {
      parts.push(
        `${plural(dropped, "line")} too long for MAX_SIZE ${
          dropped === 1 ? "was" : "were"
        } not sent`,
      );
    }
    const text = parts.join("; ");
    return new DcRejectedError(
      `${text[0]!.toUpperCase()}${text.slice(1)}: ${t.processed} of the ` +
        `${plural(t.commands, "command")} processed in ${plural(t.messages, "message")} ` +
        "(a rejected command counts as processed); see the errors above",
    );
  }
}

const HOST_LINES = ["AddScanResult,", "AddHost,", "SetOS,"].map((t) => new TextEncoder().encode(t));

// The address of the last line of `payload` (whole lines) when it is one of a host's group
// (AddHost, SetOS, AddScanResult): the host a payload that continues the group goes on with.
function lastHostOf(payload: Uint8Array): string | undefined {
  let end = payload.length;
  while (end > 0 && payload[end - 1] === 10) end--;
  let start = end;
  while (start > 0 && payload[start - 1] !== 10) start--;
  for (const head of HOST_LINES) {
    if (end - start < head.length || head.some((b, i) => payload[start + i] !== b)) continue;
    let stop = start + head.length;
    while (stop < end && payload[stop] !== 44) stop++; // up to the next comma
    return new TextDecoder().decode(payload.subarray(start + head.length, stop));
  }
  return undefined;
}

// Sets what the DC processed of a message against what it carried, and says which message lost
// how many commands (and the lines it cannot parse, which are the likely ones). False when the
// message came short.
function reconcile(answer: DataAnswer, payload: Uint8Array, log: DcLog): boolean {
  const which = `DATA message ${answer.message} (first command: ${answer.first})`;
  if (answer.stop) {
    log.error(
      `Defense Center: ${which}: the Defense Center stopped processing it at "${answer.stop.line}"; ` +
        "the commands after that line were not imported",
    );
    return false;
  }
  if (answer.processed === undefined || answer.processed >= answer.sent) {
    log.debug(
      `Defense Center: ${which}: processed ${answer.processed ?? "?"} of ${answer.sent} commands`,
    );
    return true;
  }
  const missing = answer.sent - answer.processed;
  const suspects = unparsableLines(payload);
  log.error(
    `Defense Center: ${which}: the Defense Center processed ${answer.processed} of the ` +
      `${answer.sent} commands it was sent; ${missing} ${missing === 1 ? "was" : "were"} ` +
      "dropped without a word (it drops a " +
      "line it cannot parse: a CR, a character outside ASCII, broken quoting)" +
      (suspects.length ? `; such lines in the message: ${suspects.join("; ")}` : ""),
  );
  return false;
}
