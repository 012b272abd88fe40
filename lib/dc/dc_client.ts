/**
 * Sending commands to a Defense Center (docs/host_input.md, section 7): mutual TLS with the
 * `.pkcs12` identity (server chain verified against the CA in the `.pkcs12`; the host name is not
 * required to match then, since cron lines name the DC by IP; when that fails, the error shows
 * the certificate the DC presented and its SHA-256 fingerprint; `-pin` / `dc_fingerprint` trust
 * exactly one certificate instead; `-insecure` skips verification), VERSION/MAX_SIZE, then one
 * DATA message at a time with its response read before the next. A dropped connection is
 * re-established and the unacknowledged message sent again (bounded, with backoff); an
 * acknowledged one never is.
 *
 * Each answer is read as the real host input module writes it, and what the Defense Center
 * processed is set against what the message carried ({@linkcode DataAnswer}); a message stopped
 * because of its domain ends the run (exit 5) with one message that says what to set.
 *
 * Every network step has a time limit (`-timeout`, else {@linkcode DC_TIMEOUTS}): connect, TLS
 * handshake, the whole MAX_SIZE answer, and for each DATA message its sending and its whole
 * answer. A step that runs out is treated like a dropped connection. An answer that is not host
 * input (not a known message type, an absurd length, DATA text without the "Done processing"
 * line) is a protocol error, never a success.
 *
 * @module
 */

import { DcError } from "../errors.ts";
import { type Log, NO_LOG } from "../log/log.ts";
import { DeadlineError, seconds, withDeadline } from "../util/deadline.ts";
import {
  countedCommands,
  countLines,
  type DataAnswer,
  domainRefused,
  firstCommand,
  overCounted,
  parseDcResponse,
  setDomainOf,
} from "./answers.ts";
import type { ClientIdentity } from "./pkcs12.ts";
import {
  answerLimit,
  type ByteStream,
  EndOfStream,
  frame,
  MsgType,
  OverMaxSize,
  PROTOCOL_VERSION,
  readExact,
  showBytes,
  writeAll,
  writeMessage,
} from "./protocol.ts";
import {
  errorCode,
  isDnsFailure,
  isRefused,
  isUntrusted,
  peerEndedHandshake,
} from "./tls_errors.ts";
import { DC_TIMEOUTS, TlsConnector } from "./tls_connect.ts";
import type { PeerCertificateInfo } from "./trust.ts";

export type { DataAnswer, PeerCertificateInfo };
export { DC_TIMEOUTS };

/**
 * The largest DATA payload sent, whatever MAX_SIZE the Defense Center announces: a message is
 * built in memory and the DC answers it only once it has processed every command in it, so a
 * MAX_SIZE of gigabytes would put the whole command file in memory and in one message that no
 * time limit covers. Messages are at most MAX_SIZE bytes, as the protocol asks, and at most this.
 */
export const MAX_PAYLOAD = 1 << 20;

/** Where the client reports what it does: reconnects, failed commands, details. */
export type DcLog = Pick<Log, "warn" | "error" | "debug">;

/** Options for {@linkcode DcClient.connect}. */
export interface DcOptions {
  /** The DC's host name or address. */
  host: string;
  /** Port (`-port`). */
  port: number;
  /** Connect over IPv6 (resolve AAAA). @default {false} */
  ipv6?: boolean;
  /** Client certificate and key, and the DC's CA. */
  identity: ClientIdentity;
  /** Skip verifying the DC's certificate. @default {false} */
  insecure?: boolean;
  /**
   * Trust exactly the DC certificate with this SHA-256 fingerprint (lower-case hex; `-pin`,
   * `dc_fingerprint`): no CA and no host name check. Wins over `insecure`.
   */
  pin?: string | undefined;
  /** Logging. */
  log?: DcLog;
  /** Reconnects per message before giving up. @default {5} */
  maxReconnects?: number;
  /** How to wait (tests pass a fake clock). */
  sleep?: (ms: number) => Promise<void>;
  /** The time limit of every network step, in ms (`-timeout`). @default {@linkcode DC_TIMEOUTS}, per step */
  timeoutMs?: number | undefined;
}

/** Totals of a send. */
export interface SendTotals {
  /** DATA messages acknowledged. */
  messages: number;
  /** Command lines sent (headers included). */
  lines: number;
  /** Commands sent that the DC counts: every line but SetSource, SetSourceType and SetDomain. */
  commands: number;
  /** Sum of the DC's `Done processing N commands`. */
  processed: number;
  /** Commands the DC rejected. */
  failures: number;
  /** Commands of messages the DC processed fewer of than it was sent (sum of the shortfalls). */
  unprocessed: number;
  /** Messages the DC processed fewer commands of than they carried. */
  shortMessages: number;
  /** Reconnections made. */
  reconnects: number;
}

const dec = new TextDecoder();

/** An answer as it came: its header, and its value when the header was one to read on. */
interface RawAnswer {
  type: number;
  length: number;
  /** The 8 header bytes. */
  head: Uint8Array;
  /** The value; undefined when the header already showed it is not host input. */
  value: Uint8Array | undefined;
  /** Bytes that had arrived after a bad header (shown in the error). */
  after: Uint8Array;
}

/** A connected session: the stream and the DC's MAX_SIZE. */
interface Session {
  conn: ByteStream;
  maxSize: number;
}

/**
 * A host input session with a Defense Center: `connect()` (TLS, VERSION, MAX_SIZE), then
 * `send()` one DATA payload at a time; a dropped connection is re-established for the
 * unacknowledged payload.
 */
export class DcClient {
  readonly #o: DcOptions;
  readonly #log: DcLog;
  readonly #port: number;
  #session: Session | undefined;
  readonly #tls: TlsConnector;
  /** Totals so far. */
  readonly totals: SendTotals = {
    messages: 0,
    lines: 0,
    commands: 0,
    processed: 0,
    failures: 0,
    unprocessed: 0,
    shortMessages: 0,
    reconnects: 0,
  };

  private constructor(options: DcOptions) {
    this.#o = options;
    this.#log = options.log ?? NO_LOG;
    this.#port = options.port;
    this.#tls = new TlsConnector(options);
  }

  /**
   * Connects (mutual TLS with `identity`), exchanges versions and reads MAX_SIZE; then
   * {@linkcode DcClient.send} takes one DATA payload at a time.
   *
   * @throws {DcError} When the Defense Center cannot be reached, the TLS handshake or the
   * version exchange fails (exit 5); the message says what to check.
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * // Nothing listens on the port: exit 5, naming the host and port and what to check.
   * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const { port } = listener.addr as Deno.NetAddr;
   * listener.close();
   * const identity = { certPem: "", keyPem: "", caPems: [], subject: "", notBefore: new Date(),
   *   notAfter: new Date() };
   * await assert.rejects(DcClient.connect({ host: "127.0.0.1", port, identity }), (e: Error) => {
   *   assert.equal((e as Error & { exitCode: number }).exitCode, 5);
   *   assert.match(e.message, new RegExp(`^Connection to 127\\.0\\.0\\.1:${port} was refused`));
   *   return true;
   * });
   * ```
   */
  static async connect(options: DcOptions): Promise<DcClient> {
    const client = new DcClient(options);
    client.#session = await client.#open();
    return client;
  }

  /** The DC's largest DATA payload (its MAX_SIZE). */
  get maxSize(): number {
    return this.#session?.maxSize ?? 0;
  }

  /** The largest DATA payload to send: MAX_SIZE, and at most {@linkcode MAX_PAYLOAD}. */
  get payloadLimit(): number {
    return Math.min(this.maxSize, MAX_PAYLOAD);
  }

  get #where(): string {
    return `${this.#o.host}:${this.#port}`;
  }

  /** The time limit of a step. */
  #limit(step: keyof typeof DC_TIMEOUTS): number {
    return this.#o.timeoutMs ?? DC_TIMEOUTS[step];
  }

  // A step that ran out of time, in words that say what to check.
  #timedOut(e: DeadlineError, got: number, sent = 0): DcError {
    const s = seconds(e.ms), { host } = this.#o, port = this.#port;
    const message = e.step === "connect"
      ? `Connect timed out: no TCP connection to ${this.#where} within ${s} s: check -server and ` +
        `-port, that the Defense Center is up, and that no firewall silently drops port ${port} ` +
        `(telnet ${host} ${port})`
      : e.step === "TLS handshake"
      ? `TLS handshake timed out: ${this.#where} accepted the connection but did not complete a ` +
        `TLS handshake within ${s} s: check that ${port} is the Defense Center's host input port ` +
        "(something else may listen there) and the Defense Center's load"
      : e.step === "MAX_SIZE answer"
      ? `MAX_SIZE answer timed out: the Defense Center at ${this.#where} did not answer the ` +
        `version message whole within ${s} s (${got} bytes came): check that its host input ` +
        "service runs and the Defense Center's load"
      : `${e.step} timed out: the Defense Center at ${this.#where} did not answer ` +
        `${e.step.replace("answer", "message")} (${sent} bytes) whole within ${s} s (${got} ` +
        "bytes came): it may be overloaded; check its load, or raise -timeout";
    return new DcError(message, { cause: e, retryable: true, step: e.step, timedOut: true });
  }

  // Runs one step on `conn` within `ms`: on expiry the connection is closed and the step named.
  async #step<T>(
    conn: ByteStream,
    step: { name: string; ms: number; sent?: number },
    work: (counted: ByteStream) => Promise<T>,
  ): Promise<T> {
    let got = 0;
    const counted: ByteStream = {
      read: async (p) => {
        const n = await conn.read(p);
        got += n ?? 0;
        return n;
      },
      write: (p) => conn.write(p),
      close: () => conn.close(),
      ...(conn.buffered ? { buffered: conn.buffered } : {}),
    };
    try {
      return await withDeadline(work(counted), {
        ms: step.ms,
        step: step.name,
        onExpire: () => conn.close(),
      });
    } catch (error) {
      throw error instanceof DeadlineError ? this.#timedOut(error, got, step.sent) : error;
    }
  }

  // Reads an answer's header, and its value when the header is one to read on: `accept` lists
  // the types whose value is read when at most `limit` bytes long.
  async #readAnswer(
    conn: ByteStream,
    what: string,
    expect: { accept: readonly number[]; limit: number },
  ): Promise<RawAnswer> {
    const head = await readExact(conn, 8, what);
    const view = new DataView(head.buffer);
    const type = view.getUint32(0, false), length = view.getUint32(4, false);
    if (!expect.accept.includes(type) || length > expect.limit) {
      return {
        type,
        length,
        head,
        value: undefined,
        after: conn.buffered?.(160) ?? new Uint8Array(0),
      };
    }
    return {
      type,
      length,
      head,
      value: await readExact(conn, length, what),
      after: new Uint8Array(0),
    };
  }

  // An answer that is not host input: a protocol error (exit 5) that shows what came back.
  #notHostInput(to: string, step: string, answer: RawAnswer, why: string): DcError {
    const shown = answer.value ?? new Uint8Array([...answer.head, ...answer.after]);
    return new DcError(
      `The Defense Center at ${this.#where} answered ${to} with something that is not host ` +
        `input (${why}): ${showBytes(shown)}; check that ${this.#port} is its host input port`,
      { step },
    );
  }

  // What a failed connection means, from the error's code (tls_errors.ts lists what Deno's
  // node:tls gives in each case); never from its message text.
  #failure(error: unknown, stage: "connect" | "version" | "data"): DcError {
    if (error instanceof DeadlineError) return this.#timedOut(error, 0);
    if (error instanceof DcError) return error;
    const code = errorCode(error);
    if (isRefused(error)) {
      return new DcError(
        `Connection to ${this.#where} was refused: check -server and -port, that the Defense ` +
          `Center listens on ${this.#port} (a Host Input Client must exist for this host), and that ` +
          `no firewall blocks it (telnet ${this.#o.host} ${this.#port})`,
        { cause: error },
      );
    }
    if (isDnsFailure(error)) {
      return new DcError(
        `Cannot resolve ${this.#o.host} (${code}): check -server, and the DNS settings of this host`,
        { cause: error, retryable: code === "EAI_AGAIN" }, // a temporary failure: try again
      );
    }
    if (isUntrusted(error)) {
      return new DcError(
        `The Defense Center's certificate at ${this.#where} is not signed by the CA in the ` +
          ".pkcs12 (is -server the Defense Center that issued it?); -insecure skips this check",
        { cause: error },
      );
    }
    if (stage !== "data" && peerEndedHandshake(error)) {
      return new DcError(
        `The Defense Center at ${this.#where} rejected the client certificate (${
          (error as Error)?.message
        }): it may be revoked or issued for another host; re-download it from the Host Input ` +
          "Client page for this host",
        { cause: error },
      );
    }
    if (error instanceof EndOfStream && stage === "version") {
      return new DcError(
        `The Defense Center at ${this.#where} closed the connection after the version exchange: ` +
          `it rejected host input protocol version ${PROTOCOL_VERSION}; upgrade the Defense Center`,
        { cause: error },
      );
    }
    return new DcError(
      `Lost the connection to the Defense Center at ${this.#where}: ${(error as Error)?.message}`,
      { cause: error, retryable: true },
    );
  }

  async #open(): Promise<Session> {
    let conn: ByteStream;
    try {
      conn = await this.#tls.connect();
    } catch (error) {
      throw this.#failure(error, "connect");
    }
    try {
      const maxSize = await this.#exchangeVersion(conn);
      this.#log.debug(`Connected to ${this.#where}; MAX_SIZE ${maxSize}`);
      return { conn, maxSize };
    } catch (error) {
      try {
        conn.close();
      } catch { /* closed */ }
      if (error instanceof EndOfStream) throw await this.#diagnoseClose(error);
      throw this.#failure(error, "version");
    }
  }

  // VERSION out, the whole MAX_SIZE answer in, within the MAX_SIZE step's limit.
  async #exchangeVersion(conn: ByteStream): Promise<number> {
    const step = { name: "MAX_SIZE answer", ms: this.#limit("maxSize") };
    const m = await this.#step(conn, step, async (c) => {
      await writeAll(c, frame(MsgType.Version, new Uint8Array([0, 0, 0, PROTOCOL_VERSION])));
      return await this.#readAnswer(c, "MAX_SIZE", {
        accept: [MsgType.MaxSize, MsgType.Error],
        limit: 64 << 10,
      });
    });
    if (m.type === MsgType.Error && m.value) {
      throw new DcError(
        `The Defense Center at ${this.#where} refused the version exchange with an ERROR answer: ` +
          `${showBytes(m.value)}; upgrade the Defense Center, or check its host input service`,
        { step: "MAX_SIZE answer" },
      );
    }
    if (m.type !== MsgType.MaxSize || m.length !== 4 || !m.value) {
      throw this.#notHostInput(
        "the version message",
        step.name,
        m,
        `message type ${m.type} with ${m.length} bytes, not MAX_SIZE (type 1 with 4 bytes)`,
      );
    }
    const maxSize = new DataView(m.value.buffer).getUint32(0, false);
    if (maxSize < 64) {
      throw new DcError(
        `The Defense Center announced MAX_SIZE ${maxSize}: too small to send a command`,
        { step: "MAX_SIZE answer" },
      );
    }
    return maxSize;
  }

  // With TLS 1.3 a rejected client certificate shows up only as the connection closing after the
  // handshake, like a rejected version. A TLS 1.2 handshake tells them apart: there the DC checks
  // the certificate inside the handshake.
  async #diagnoseClose(original: EndOfStream): Promise<DcError> {
    let probe: ByteStream | undefined;
    try {
      probe = await this.#tls.connect("TLSv1.2");
      await this.#exchangeVersion(probe);
      return this.#failure(original, "version");
    } catch (error) {
      if (error instanceof EndOfStream || error instanceof DeadlineError) {
        return this.#failure(original, "version");
      }
      if (error instanceof DcError) return this.#failure(original, "version");
      return this.#failure(error, "connect");
    } finally {
      try {
        probe?.close();
      } catch { /* closed */ }
    }
  }

  // One DATA message out and its whole answer in, within the DATA step's limit; then the answer
  // judged: DATA text with its "Done processing" line, a message the module stopped (a domain
  // it may not use: an error; a missing map), or an ERROR; anything else is an error.
  async #exchangeData(session: Session, payload: Uint8Array, n: number): Promise<DataAnswer> {
    const step = { name: `DATA answer ${n}`, ms: this.#limit("data"), sent: payload.length };
    const to = `DATA message ${n}`;
    const m = await this.#step(session.conn, step, async (c) => {
      await writeMessage(c, MsgType.Data, payload);
      return await this.#readAnswer(c, `the answer to ${to}`, {
        accept: [MsgType.Data, MsgType.Error],
        limit: answerLimit(Math.min(session.maxSize, MAX_PAYLOAD)),
      });
    });
    if (!m.value) {
      throw this.#notHostInput(
        to,
        step.name,
        m,
        m.type !== MsgType.Data && m.type !== MsgType.Error
          ? `message type ${m.type}, not DATA (3) or ERROR (4)`
          : `an announced length of ${m.length} bytes, over the limit of ${
            answerLimit(Math.min(session.maxSize, MAX_PAYLOAD))
          }`,
      );
    }
    const text = dec.decode(m.value);
    const parsed = parseDcResponse(text);
    if (m.type === MsgType.Data && parsed.done === undefined && !parsed.stop) {
      throw this.#notHostInput(
        to,
        step.name,
        m,
        'DATA text without a "Done processing N commands." line',
      );
    }
    if (m.type === MsgType.Data && parsed.stop && parsed.stop.kind !== "map") {
      for (const l of [...parsed.failures, ...parsed.notes]) {
        this.#log.debug(`Defense Center: ${l}`);
      }
      throw new DcError(domainRefused(this.#where, n, parsed.stop, setDomainOf(payload)), {
        step: step.name,
      });
    }
    const answer: DataAnswer = {
      message: n,
      first: firstCommand(payload),
      sent: countedCommands(payload),
      processed: m.type === MsgType.Data ? parsed.done : undefined,
      failures: parsed.failures,
      unsourced: parsed.unsourced,
      notes: parsed.notes,
      stop: m.type === MsgType.Data ? parsed.stop : undefined,
    };
    if (answer.processed !== undefined && answer.processed > answer.sent) {
      throw new DcError(overCounted(this.#where, answer), { step: step.name });
    }
    const t = this.totals;
    t.messages++;
    t.lines += countLines(payload);
    t.commands += answer.sent;
    t.processed += parsed.done ?? 0;
    if (m.type === MsgType.Error) {
      // A DC-side failure: the DC says why in its own words, and nothing says what it processed.
      const said = text.trim() ? showBytes(m.value) : "no text";
      t.failures += Math.max(parsed.rejected, 1);
      answer.failures = [`ERROR answer to ${to}: ${said}`];
      return answer;
    }
    t.failures += parsed.rejected + (answer.stop ? 1 : 0);
    if (answer.stop) t.shortMessages++;
    else if (answer.processed! < answer.sent) {
      t.shortMessages++;
      t.unprocessed += answer.sent - answer.processed!;
    }
    return answer;
  }

  /**
   * Sends one DATA payload and reads its response; on a dropped connection or a step that ran
   * out of time, reconnects and sends it again (it was not acknowledged). Returns what the
   * Defense Center did with it.
   *
   * @throws {OverMaxSize} When the payload is over the MAX_SIZE the DC announced on a new
   * connection (smaller than before): nothing was sent; the caller packs it again.
   * @throws {DcError} (exit 5) When the DC cannot be reached, the answer is not host input, or
   * the DC stopped the message because of its domain (nothing of it was imported).
   */
  async send(
    payload: Uint8Array,
    options: { onReconnect?: (payload: Uint8Array) => Uint8Array } = {},
  ): Promise<DataAnswer> {
    const max = this.#o.maxReconnects ?? 5;
    const sleep = this.#o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    for (let attempt = 0;; attempt++) {
      try {
        this.#session ??= await this.#open();
        // A DC that announces a smaller MAX_SIZE on a new connection: the caller re-packs.
        if (payload.length > this.#session.maxSize) {
          throw new OverMaxSize(payload, this.payloadLimit);
        }
        return await this.#exchangeData(this.#session, payload, this.totals.messages + 1);
      } catch (error) {
        if (error instanceof OverMaxSize) throw error; // the session stays: nothing was sent
        try {
          this.#session?.conn.close();
        } catch { /* closed */ }
        this.#session = undefined;
        const failure = error instanceof DcError ? error : this.#failure(error, "data");
        if (!failure.retryable) throw failure;
        if (attempt >= max) {
          throw new DcError(`${failure.message}; gave up after ${max} reconnects`, {
            cause: failure,
            retryable: true,
            step: failure.step,
            timedOut: failure.timedOut,
          });
        }
        this.totals.reconnects++;
        if (options.onReconnect) payload = options.onReconnect(payload);
        const delay = Math.min(500 * 2 ** attempt, 15_000);
        const again = `reconnecting in ${
          Math.round(delay / 100) / 10
        } s to send the unacknowledged message again`;
        this.#log.warn(
          failure.timedOut
            ? `${failure.message}; ${again}`
            : `The connection to the Defense Center dropped (${failure.message}); ${again}`,
        );
        await sleep(delay);
      }
    }
  }

  /** Hangs up. */
  close(): void {
    try {
      this.#session?.conn.close();
    } catch { /* closed */ }
    this.#session = undefined;
  }
}
