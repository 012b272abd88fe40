/**
 * The TLS connection to a Defense Center (docs/platform.md, "TLS to the Defense Center"): the
 * address (AAAA with `-ipv6`), TCP and the TLS handshake each within their time limit, the client
 * certificate presented, the DC's certificate verified against the CA in the `.pkcs12` (the host
 * name need not match), pinned (`-pin`, `dc_fingerprint`) or not checked (`-insecure`); a chain
 * that does not verify is described (a second, unverified handshake shows what the DC presents),
 * so that the user can check its fingerprint and pin it.
 *
 * @module
 */

import tls from "node:tls";
import { DcError } from "../errors.ts";
import { DeadlineError, withDeadline } from "../util/deadline.ts";
import { unbracket } from "../util/text.ts";
import type { ClientIdentity } from "./pkcs12.ts";
import type { ByteStream } from "./protocol.ts";
import { ClosedInHandshake, errorCode, isOutOfDates, isUntrusted } from "./tls_errors.ts";
import { nodeStream } from "./tls_stream.ts";
import {
  describePeer,
  type PeerCertificateInfo,
  pinMismatchMessage,
  untrustedMessage,
} from "./trust.ts";

/** What a connection to the Defense Center is made from. */
export interface TlsTarget {
  /** The DC's host name or address. */
  host: string;
  /** Port. */
  port: number;
  /** Connect over IPv6 (resolve AAAA). */
  ipv6?: boolean;
  /** Client certificate and key, and the DC's CA. */
  identity: ClientIdentity;
  /** Skip verifying the DC's certificate. */
  insecure?: boolean;
  /** Trust exactly the DC certificate with this SHA-256 fingerprint; wins over `insecure`. */
  pin?: string | undefined;
  /** The time limit of every network step, in ms; each step's own default without it. */
  timeoutMs?: number | undefined;
}

/**
 * Time limits per step, in ms, when `-timeout` is not given (docs/operations.md, "Time limits (-timeout)", says why): the FMC
 * answers TCP, TLS and the version at once, but answers a DATA message only once it has
 * processed every command in it.
 */
export const DC_TIMEOUTS = {
  /** TCP connect (and the AAAA lookup of -ipv6). */
  connect: 30_000,
  /** The TLS handshake, client certificate included. */
  tls: 30_000,
  /** Sending VERSION and reading the whole MAX_SIZE answer. */
  maxSize: 30_000,
  /** Sending one DATA message and reading its whole answer. */
  data: 300_000,
} as const;

/** Opens TLS connections to one Defense Center (its address resolved once). */
export class TlsConnector {
  readonly #o: TlsTarget;
  #address: string | undefined;

  /** A connector for `target`. */
  constructor(target: TlsTarget) {
    this.#o = target;
  }

  get #where(): string {
    return `${this.#o.host}:${this.#o.port}`;
  }

  #limit(step: "connect" | "tls"): number {
    return this.#o.timeoutMs ?? DC_TIMEOUTS[step];
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
  // a message on loopback), it can skip verification for -insecure and -pin, and it presents the
  // client certificate (docs/platform.md, "TLS to the Defense Center").
  /** Connects, with a TLS handshake that presents the client certificate and checks the DC's. */
  async connect(maxVersion?: "TLSv1.2"): Promise<ByteStream> {
    const { identity, pin } = this.#o;
    const verify = !this.#o.insecure && pin === undefined;
    const bundled = identity.caPems.length > 0;
    let socket: tls.TLSSocket;
    try {
      socket = await this.#handshake({
        ...(maxVersion ? { maxVersion } : {}),
        rejectUnauthorized: verify,
        // Verified against the DC's own CA from the .pkcs12: the name need not match (cron lines
        // use IPs). Without a bundled CA: the default roots and the usual name check. A pin
        // trusts one certificate, whatever signed it and whatever it names.
        ...(verify && bundled ? { ca: identity.caPems } : {}),
        ...(!verify || bundled ? { checkServerIdentity: () => undefined } : {}),
      });
    } catch (error) {
      if (verify && isUntrusted(error)) {
        throw await this.#untrusted(error as Error);
      }
      throw error;
    }
    if (pin !== undefined) {
      const seen = describePeer(socket.getPeerCertificate());
      if (seen.fingerprint !== pin) {
        socket.destroy();
        throw new DcError(pinMismatchMessage(this.#where, pin, seen), { step: "TLS handshake" });
      }
    }
    return nodeStream(socket);
  }

  // A TLS handshake with the client certificate, within the connect and TLS limits.
  async #handshake(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
    const connectMs = this.#limit("connect"), tlsMs = this.#limit("tls");
    const hostname = await withDeadline(this.#resolve(), { ms: connectMs, step: "connect" });
    const { identity } = this.#o;
    const socket = tls.connect({
      host: hostname,
      port: this.#o.port,
      cert: identity.certPem,
      key: identity.keyPem,
      minVersion: "TLSv1.2",
      ...options,
      ...(/^[\d.]+$|:/.test(hostname) ? {} : { servername: hostname }),
    });
    socket.setNoDelay(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const expire = (step: string, ms: number) => () => {
          socket.destroy();
          reject(new DeadlineError(step, ms));
        };
        timer = setTimeout(expire("connect", connectMs), connectMs);
        socket.once("connect", () => {
          clearTimeout(timer);
          timer = setTimeout(expire("TLS handshake", tlsMs), tlsMs);
        });
        socket.once("secureConnect", () => resolve());
        socket.once("error", reject);
        socket.once("close", () => reject(new ClosedInHandshake()));
      });
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return socket;
  }

  // The chain did not verify: a second handshake, unverified, only to show what the DC presents
  // (nothing is sent on it), so that the user can check its fingerprint and pin it.
  async #untrusted(error: Error): Promise<DcError> {
    let seen: PeerCertificateInfo | undefined;
    let dates: tls.PeerCertificate | undefined;
    try {
      const probe = await this.#handshake({
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      dates = probe.getPeerCertificate();
      seen = describePeer(dates);
      probe.destroy();
    } catch { /* it shows nothing: the message says so */ }
    const why = errorCode(error) || error.message;
    const bundled = this.#o.identity.caPems.length > 0;
    const outOfDates = isOutOfDates(error, dates);
    return new DcError(untrustedMessage(this.#where, bundled, why, seen, outOfDates), {
      cause: error,
      step: "TLS handshake",
    });
  }
}
