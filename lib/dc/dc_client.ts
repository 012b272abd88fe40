/**
 * Sending commands to a Defense Center (docs/host_input.md, section 7): mutual TLS with the
 * `.pkcs12` identity (server chain verified against the CA in the `.pkcs12`; the host name is not
 * required to match then, since cron lines name the DC by IP; `-insecure` skips verification),
 * VERSION/MAX_SIZE, then one DATA message at a time with its response read before the next. A
 * dropped connection is re-established and the unacknowledged message sent again (bounded, with
 * backoff); an acknowledged one never is.
 *
 * @module
 */

import tls from "node:tls";
import { DcError } from "../errors.ts";
import { unbracket } from "../util/text.ts";
import type { ClientIdentity } from "./pkcs12.ts";
import {
  type ByteStream,
  EndOfStream,
  frame,
  MsgType,
  parseDcResponse,
  PROTOCOL_VERSION,
  readMessage,
  writeAll,
  writeMessage,
} from "./protocol.ts";

/** Where the client reports what it does. */
export interface DcLog {
  /** Warnings (reconnects). */
  warn(message: string): void;
  /** Errors (failed commands). */
  error(message: string): void;
  /** Details. */
  debug(message: string): void;
}

/** Options for {@linkcode DcClient.connect}. */
export interface DcOptions {
  /** The DC's host name or address. */
  host: string;
  /** Port. @default {8307} */
  port?: number;
  /** Connect over IPv6 (resolve AAAA). @default {false} */
  ipv6?: boolean;
  /** Client certificate and key, and the DC's CA. */
  identity: ClientIdentity;
  /** Skip verifying the DC's certificate. @default {false} */
  insecure?: boolean;
  /** Logging. */
  log?: DcLog;
  /** Reconnects per message before giving up. @default {5} */
  maxReconnects?: number;
  /** How to wait (tests pass a fake clock). */
  sleep?: (ms: number) => Promise<void>;
}

/** Totals of a send. */
export interface SendTotals {
  /** DATA messages acknowledged. */
  messages: number;
  /** Command lines sent (headers included). */
  lines: number;
  /** Sum of the DC's `Done processing N commands`. */
  processed: number;
  /** Commands the DC rejected. */
  failures: number;
  /** Reconnections made. */
  reconnects: number;
}

const NOLOG: DcLog = { warn() {}, error() {}, debug() {} };
const dec = new TextDecoder();

// A node:tls socket as a ByteStream (every DC connection is a node:tls one: see #connectTls).
function nodeStream(socket: tls.TLSSocket): ByteStream {
  const chunks: Uint8Array[] = [];
  let ended = false, failure: Error | undefined;
  let wake: (() => void) | undefined;
  socket.on("data", (d: Uint8Array) => {
    chunks.push(d);
    wake?.();
  });
  socket.on("end", () => {
    ended = true;
    wake?.();
  });
  socket.on("close", () => {
    ended = true;
    wake?.();
  });
  socket.on("error", (e: Error) => {
    failure = e;
    wake?.();
  });
  return {
    async read(p) {
      while (chunks.length === 0) {
        if (failure) throw failure;
        if (ended) return null;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      const c = chunks[0]!;
      const n = Math.min(p.length, c.length);
      p.set(c.subarray(0, n));
      if (n === c.length) chunks.shift();
      else chunks[0] = c.subarray(n);
      return n;
    },
    write(p) {
      return new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        socket.write(p, (e) => (e ? reject(e) : resolve(p.length)));
      });
    },
    close() {
      socket.destroy();
    },
  };
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
  #address: string | undefined;
  /** Totals so far. */
  readonly totals: SendTotals = { messages: 0, lines: 0, processed: 0, failures: 0, reconnects: 0 };

  private constructor(options: DcOptions) {
    this.#o = options;
    this.#log = options.log ?? NOLOG;
    this.#port = options.port ?? 8307;
  }

  /** Connects, exchanges versions and reads MAX_SIZE. */
  static async connect(options: DcOptions): Promise<DcClient> {
    const client = new DcClient(options);
    client.#session = await client.#open();
    return client;
  }

  /** The DC's largest DATA payload. */
  get maxSize(): number {
    return this.#session?.maxSize ?? 0;
  }

  get #where(): string {
    return `${this.#o.host}:${this.#port}`;
  }

  async #resolve(): Promise<string> {
    if (this.#address) return this.#address;
    const host = unbracket(this.#o.host);
    if (!this.#o.ipv6 || host.includes(":")) return (this.#address = host);
    try {
      const found = await Deno.resolveDns(host, "AAAA");
      if (found.length === 0) throw new Error("no AAAA record");
      return (this.#address = found[0]!);
    } catch (error) {
      throw new DcError(
        `-ipv6 is given but ${host} has no IPv6 address (AAAA): ${(error as Error).message}; ` +
          "give the DC's IPv6 address, or drop -ipv6",
      );
    }
  }

  // node:tls rather than Deno.connectTls: it can set TCP_NODELAY (Deno's TLS connections cannot,
  // and Nagle's algorithm then holds the tail of every message for the peer's delayed ACK: 44 ms
  // a message on loopback), it can skip verification for -insecure, and it presents the client
  // certificate (docs/platform.md, "TLS to the Defense Center").
  async #connectTls(maxVersion?: "TLSv1.2"): Promise<ByteStream> {
    const hostname = await this.#resolve();
    const { identity } = this.#o;
    const bundled = identity.caPems.length > 0;
    const socket = tls.connect({
      host: hostname,
      port: this.#port,
      cert: identity.certPem,
      key: identity.keyPem,
      minVersion: "TLSv1.2",
      ...(maxVersion ? { maxVersion } : {}),
      rejectUnauthorized: !this.#o.insecure,
      // Verified against the DC's own CA from the .pkcs12: the name need not match (cron lines
      // use IPs). Without a bundled CA: the default roots and the usual name check.
      ...(bundled ? { ca: identity.caPems, checkServerIdentity: () => undefined } : {}),
      ...(/^[\d.]+$|:/.test(hostname) ? {} : { servername: hostname }),
    });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", reject);
    });
    return nodeStream(socket);
  }

  #failure(error: unknown, stage: "connect" | "version" | "data"): DcError {
    const text = `${(error as Error)?.name}: ${(error as Error)?.message}`;
    if (error instanceof DcError) return error;
    if (/refused/i.test(text)) {
      return new DcError(
        `Connection to ${this.#where} was refused: check -server and -port, that the Defense ` +
          `Center listens on ${this.#port} (a Host Input Client must exist for this host), and that ` +
          `no firewall blocks it (telnet ${this.#o.host} ${this.#port})`,
        { cause: error },
      );
    }
    if (/lookup|dns|not known/i.test(text)) {
      return new DcError(`Cannot resolve ${this.#o.host}: check -server`, { cause: error });
    }
    if (
      /UnknownIssuer|certificate not valid|invalid peer certificate|BadSignature|NotValidFor|unable to verify|self[- ]signed certificate|UNABLE_TO_GET_ISSUER|CERT_SIGNATURE_FAILURE|ERR_TLS_CERT/i
        .test(
          text,
        )
    ) {
      return new DcError(
        `The Defense Center's certificate at ${this.#where} is not signed by the CA in the ` +
          ".pkcs12 (is -server the Defense Center that issued it?); -insecure skips this check",
        { cause: error },
      );
    }
    if (
      stage !== "data" &&
      /alert|close_notify|reset|CertificateRequired|UnknownCA|BadCertificate|revoked|handshake|ECONNRESET|disconnected before secure TLS/i
        .test(text)
    ) {
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
      conn = await this.#connectTls();
    } catch (error) {
      throw this.#failure(error, "connect");
    }
    try {
      await writeAll(conn, frame(MsgType.Version, new Uint8Array([0, 0, 0, PROTOCOL_VERSION])));
      const m = await readMessage(conn, "MAX_SIZE", 1024);
      if (m.type !== MsgType.MaxSize || m.value.length !== 4) {
        throw new DcError(
          `The Defense Center at ${this.#where} answered the version with message type ${m.type} ` +
            `(${m.value.length} bytes) instead of MAX_SIZE: is ${this.#port} its host input port?`,
        );
      }
      const maxSize = new DataView(m.value.buffer).getUint32(0, false);
      if (maxSize < 64) {
        throw new DcError(
          `The Defense Center announced MAX_SIZE ${maxSize}: too small to send a command`,
        );
      }
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

  // With TLS 1.3 a rejected client certificate shows up only as the connection closing after the
  // handshake, like a rejected version. A TLS 1.2 handshake tells them apart: there the DC checks
  // the certificate inside the handshake.
  async #diagnoseClose(original: EndOfStream): Promise<DcError> {
    let probe: ByteStream | undefined;
    try {
      probe = await this.#connectTls("TLSv1.2");
      await writeAll(probe, frame(MsgType.Version, new Uint8Array([0, 0, 0, PROTOCOL_VERSION])));
      await readMessage(probe, "MAX_SIZE", 1024);
      return this.#failure(original, "version");
    } catch (error) {
      if (error instanceof EndOfStream) return this.#failure(original, "version");
      return this.#failure(error, "connect");
    } finally {
      try {
        probe?.close();
      } catch { /* closed */ }
    }
  }

  /**
   * Sends one DATA payload and reads its response; on a dropped connection, reconnects and
   * sends it again (it was not acknowledged). Returns the response's failure lines.
   */
  async send(
    payload: Uint8Array,
    options: { onReconnect?: (payload: Uint8Array) => Uint8Array } = {},
  ): Promise<string[]> {
    const max = this.#o.maxReconnects ?? 5;
    const sleep = this.#o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    for (let attempt = 0;; attempt++) {
      try {
        this.#session ??= await this.#open();
        if (payload.length > this.#session.maxSize) {
          throw new DcError(
            `A message of ${payload.length} bytes is over the DC's MAX_SIZE ${this.#session.maxSize}`,
          );
        }
        await writeMessage(this.#session.conn, MsgType.Data, payload);
        const response = await readMessage(this.#session.conn, "the response to a DATA message");
        const text = dec.decode(response.value);
        const parsed = parseDcResponse(text);
        this.totals.messages++;
        this.totals.lines += count(payload, 10);
        this.totals.processed += parsed.done ?? 0;
        const failures = response.type === MsgType.Error && parsed.failures.length === 0
          ? [text.trim() || "the Defense Center answered with an ERROR message"]
          : parsed.failures;
        this.totals.failures += parsed.failures.length === 0 ? failures.length : parsed.rejected;
        return failures;
      } catch (error) {
        try {
          this.#session?.conn.close();
        } catch { /* closed */ }
        this.#session = undefined;
        const permanent = error instanceof DcError && !error.retryable;
        if (permanent || attempt >= max) {
          throw error instanceof DcError ? error : this.#failure(error, "data");
        }
        this.totals.reconnects++;
        if (options.onReconnect) payload = options.onReconnect(payload);
        const delay = Math.min(500 * 2 ** attempt, 15_000);
        this.#log.warn(
          `The connection to the Defense Center dropped (${
            (error as Error).message
          }); reconnecting in ${
            Math.round(delay / 100) / 10
          } s to send the unacknowledged message again`,
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

function count(bytes: Uint8Array, byte: number): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === byte) n++;
  return n;
}
