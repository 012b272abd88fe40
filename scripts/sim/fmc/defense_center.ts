/**
 * Defense Center simulator: a real mutual-TLS server on 127.0.0.1 (or ::1) that issues client
 * certificates as the Host Input Client page does (a `.pkcs12` with the client certificate, its
 * key and the DC's CA, for a chosen domain), speaks the TLV protocol, and hands each DATA message
 * to the host input module's semantics (`host_input_session.ts`: what the real
 * `SF::SFDataCorrelator::HostInput` does, as listed in `fmc_server_checks.md`), one session per
 * connection; the connection's end runs what is still queued as ScanUpdate. It keeps one network
 * map per leaf domain (a single-domain FMC by default, or a small domain tree given in the
 * script) and takes scriptable faults. For tests and `deno task demo`.
 *
 * The domain of a client certificate is remembered by its serial number when it is issued, as
 * the FMC's `ssl_peer` table does; a certificate the simulator did not issue counts as Global.
 *
 * @module
 */

import tls from "node:tls";
import forge from "node-forge";
import {
  type Domain,
  type DomainSpec,
  FmcState,
  type MapResult,
  type NetworkMap,
  type OsRecord,
  type ResultsDump,
} from "./fmc_state.ts";
import { HostInputSession } from "./host_input_session.ts";
import { createTestCa, type TestCa } from "../net/mod.ts";

/** A small domain tree for {@linkcode DcSimScript.domains}: East, and West with Lab and Prod. */
export { SAMPLE_DOMAINS } from "./fmc_state.ts";

/** One scan result in a network map. */
export type { MapResult } from "./fmc_state.ts";

/** Faults and settings. */
export interface DcSimScript {
  /** MAX_SIZE announced. @default {65535} */
  maxSize?: number;
  /** MAX_SIZE announced on the 1st, 2nd, ... connection (the last for later ones); wins over `maxSize`. */
  maxSizes?: readonly number[];
  /** Drop the connection on receiving these DATA messages (1-based, counted over all connections), unprocessed. */
  dropOnMessages?: Set<number>;
  /** Close the connection after the VERSION message (a version rejection). */
  rejectVersion?: boolean;
  /** Verify client certificates against another CA (the connector's is then unknown: rejected). */
  rejectCertificate?: boolean;
  /** Milliseconds before each response. */
  slowResponseMs?: number;
  /**
   * Called as each DATA message arrives, before it is processed, with its number (1-based, over
   * all connections): a test can stop the client there (a crash while sending).
   */
  onMessage?: (n: number) => void;
  /** Keep every payload text in `payloads`/`processed` (tests of resends). @default {false} */
  recordPayloads?: boolean;
  /** Store results in the network map (the bench turns it off to stay small). @default {true} */
  storeResults?: boolean;
  /** Address to listen on: 127.0.0.1 or ::1. @default {"127.0.0.1"} */
  hostname?: "127.0.0.1" | "::1";
  /**
   * Global's sub-domains (a multi-domain FMC, one network map per leaf domain), e.g.
   * {@linkcode SAMPLE_DOMAINS}; none makes a single-domain FMC, where Global is the leaf.
   * @default {[]}
   */
  domains?: readonly DomainSpec[];
  /** Names of the third-party maps that exist (SetMap and `SetMap:` find only these). @default {[]} */
  maps?: readonly string[];
}

/** Options for {@linkcode DcSim.issueClient}. */
export interface IssueClientOptions {
  /** The `.pkcs12` password. @default {""} */
  password?: string;
  /** The certificate's common name. @default {"qualys-connector-host"} */
  cn?: string;
  /** Validity end. @default in one year */
  notAfter?: Date;
  /** PKCS#12 encryption. @default {"aes256"} */
  algorithm?: "aes256" | "3des";
  /**
   * The domain the certificate is issued for: a UUID or a name path such as
   * `Global \ West \ Lab` (or `West \ Lab`). @default {"Global"}
   */
  domain?: string;
}

/** One leaf domain's network map as plain data (see {@linkcode DcSim.dumpAll}). */
export interface NetworkMapDump {
  /** Hosts added with AddHost (IP addresses; a MAC-only host by its MAC), sorted. */
  hosts: string[];
  /** SetOS data by IP address. */
  os: Record<string, OsRecord>;
  /** Scan results: host → scanner → results. */
  results: ResultsDump;
}

/** A running simulator. */
export interface DcSim {
  /** 127.0.0.1 or ::1 */
  host: string;
  /** The port. */
  port: number;
  /** The FMC's data: domain tree, network maps, sources and scanners, third-party maps. */
  fmc: FmcState;
  /** The default domain: Global on a single-domain FMC, else the first leaf of the tree. */
  defaultDomain: Domain;
  /** The default domain's results: host → scanner → `vulnId/port/proto` → result. */
  map: Map<string, Map<string, Map<string, MapResult>>>;
  /** The default domain's hosts added with AddHost (a MAC-only host by its MAC). */
  hosts: Set<string>;
  /** DATA messages processed and answered (not dropped, not ended by a module death). */
  messages: number;
  /** DATA payloads received, processed or not. */
  payloads: string[];
  /** DATA payloads processed (answered), in order: a duplicate here is a message sent twice. */
  processed: string[];
  /** Connections accepted. */
  connections: number;
  /**
   * DATA messages received on each accepted connection, in the order they were accepted (a
   * connection that only exchanged versions holds 0).
   */
  dataByConnection: number[];
  /**
   * Each time the host input module died (a quote in a source or scanner name broke its SQL):
   * why. The client saw its connection close without an answer.
   */
  moduleDeaths: string[];
  /** The result text of each disconnect (queued results run as ScanUpdate); nobody receives it. */
  closings: string[];
  /** Issues a client `.pkcs12` (RSA, AES-256 or 3DES) as the Host Input Client page does. */
  issueClient(options?: IssueClientOptions): Uint8Array;
  /** The DC's CA, PEM (it issues the client certificates). */
  caPem: string;
  /** The DC's own certificate on the port, PEM (issued by `options.serverCa`, else the CA). */
  certPem: string;
  /** A leaf domain's network map (UUID or name path; default {@linkcode DcSim.defaultDomain}). */
  netmap(domain?: string): NetworkMap;
  /** A leaf domain's results as plain data: host → scanner → results, sorted. */
  dump(domain?: string): ResultsDump;
  /** A leaf domain's SetOS data: IP address → vendor, product and version strings. */
  dumpOs(domain?: string): Record<string, OsRecord>;
  /** Every leaf domain's network map, by the domain's full name (`Global \ West \ Lab`). */
  dumpAll(): Record<string, NetworkMapDump>;
  /**
   * Resolves once no connection is open: each accepted connection has closed and its queued
   * results have run (tests await it after closing their client, instead of waiting blindly).
   */
  idle(): Promise<void>;
  /** Stops the server. */
  shutdown(): Promise<void>;
}

function frame(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + value.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, false);
  v.setUint32(4, value.length, false);
  out.set(value, 8);
  return out;
}

function serialKey(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, "");
}

/**
 * Starts the simulator on `script.hostname`, port 0 (a free port): a TLS server that requires a
 * client certificate from its CA (`options.ca`, or a new one), answers VERSION with MAX_SIZE and
 * each DATA message with the host input module's answer. Its own certificate comes from the same
 * CA, or from `options.serverCa` (a DC whose 8307 certificate is not signed by the CA in the
 * `.pkcs12` it issues). Stop it with {@linkcode DcSim.shutdown}.
 */
export async function startDcSim(
  script: DcSimScript = {},
  options: { ca?: TestCa; serverCa?: TestCa } = {},
): Promise<DcSim> {
  const ca = options.ca ?? createTestCa("Defense Center CA");
  // The DC's certificate names the DC, not 127.0.0.1: the connector must verify the chain
  // against the bundled CA without a host name match, as with a real FMC reached by IP.
  const server = (options.serverCa ?? ca).issue({
    cn: "fmc.example.internal",
    sans: ["fmc.example.internal"],
  });
  const verifyCa = script.rejectCertificate ? createTestCa("another CA").caPem : ca.caPem;
  const fmc = new FmcState({
    domains: script.domains ?? [],
    maps: script.maps ?? [],
    storeResults: script.storeResults ?? true,
  });
  const defaultDomain = fmc.domains.leaves()[0]!;
  const defaultMap = fmc.netmaps.get(defaultDomain.uuid)!;
  const certDomains = new Map<string, string>(); // certificate serial → domain UUID
  const payloads: string[] = [];
  const processed: string[] = [];
  const moduleDeaths: string[] = [];
  const closings: string[] = [];
  let messageCount = 0, received = 0, connections = 0;
  const dataByConnection: number[] = [];
  const sockets = new Set<tls.TLSSocket>();
  let idleWaiters: (() => void)[] = [];
  const encoder = new TextEncoder(), decoder = new TextDecoder();

  const onConnection = (sock: tls.TLSSocket) => {
    const index = connections++;
    dataByConnection.push(0);
    const sizes = script.maxSizes;
    const maxSize = sizes?.length
      ? sizes[Math.min(connections, sizes.length) - 1]!
      : script.maxSize ?? 65535;
    sockets.add(sock);
    sock.setNoDelay(true); // answers go out at once, as a DC's do
    const serial = sock.getPeerCertificate()?.serialNumber;
    const session = new HostInputSession(fmc, {
      certDomain: (serial && certDomains.get(serialKey(serial))) || fmc.domains.global.uuid,
    });
    let buf = new Uint8Array(0);
    let versioned = false;
    let busy = Promise.resolve();
    sock.on("error", () => {});
    sock.on("close", () => {
      // socketCleanUp: queued results run as ScanUpdate when the client goes.
      if (!session.died) closings.push(session.disconnect());
      sockets.delete(sock);
      if (sockets.size === 0) {
        for (const w of idleWaiters) w();
        idleWaiters = [];
      }
    });
    sock.on("data", (d: Uint8Array) => {
      if (buf.length === 0) buf = new Uint8Array(d);
      else {
        const joined = new Uint8Array(buf.length + d.length);
        joined.set(buf);
        joined.set(d, buf.length);
        buf = joined;
      }
      busy = busy.then(async () => {
        while (buf.length >= 8) {
          const v = new DataView(buf.buffer, buf.byteOffset);
          const type = v.getUint32(0, false), len = v.getUint32(4, false);
          if (buf.length < 8 + len) return;
          const value = buf.slice(8, 8 + len);
          buf = buf.slice(8 + len);
          if (!versioned) {
            if (type !== 2 || script.rejectVersion) {
              sock.end();
              return;
            }
            versioned = true;
            const ms = new Uint8Array(4);
            new DataView(ms.buffer).setUint32(0, maxSize, false);
            sock.write(frame(1, ms));
            continue;
          }
          if (type !== 3 || session.died) continue;
          received++;
          dataByConnection[index]!++;
          script.onMessage?.(received);
          if (script.recordPayloads) payloads.push(decoder.decode(value));
          if (value.length > maxSize) {
            sock.write(frame(4, encoder.encode("Data block exceeds the maximum size\n")));
            continue;
          }
          if (script.dropOnMessages?.has(received)) {
            sock.destroy(); // a drop in transit: this message is never processed
            return;
          }
          const text = decoder.decode(value);
          const outcome = session.handle(text);
          if (outcome.died !== undefined) {
            moduleDeaths.push(outcome.died);
            sock.destroy(); // the module died: no answer, the connection closes
            return;
          }
          if (script.recordPayloads) processed.push(text);
          messageCount++;
          if (script.slowResponseMs) await new Promise((r) => setTimeout(r, script.slowResponseMs));
          sock.write(frame(3, encoder.encode(outcome.answer)));
        }
      });
    });
  };

  const srv = tls.createServer({
    key: server.keyPem,
    cert: server.certPem,
    ca: [verifyCa],
    requestCert: true,
    rejectUnauthorized: true,
  }, onConnection);
  srv.on("tlsClientError", () => {});
  const hostname = script.hostname ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, hostname, () => resolve());
  });
  const port = (srv.address() as { port: number }).port;
  const netmap = (domain?: string) => (domain === undefined ? defaultMap : fmc.netmap(domain));

  const sim: DcSim = {
    host: hostname,
    port,
    fmc,
    defaultDomain,
    map: defaultMap.results,
    hosts: defaultMap.hosts,
    get messages() {
      return messageCount;
    },
    payloads,
    processed,
    get connections() {
      return connections;
    },
    dataByConnection,
    moduleDeaths,
    closings,
    caPem: ca.caPem,
    certPem: server.certPem,
    issueClient(o = {}) {
      const domain = fmc.domains.find(o.domain ?? "Global");
      const issued = ca.issue({
        cn: o.cn ?? "qualys-connector-host",
        usage: "client",
        ...(o.notAfter ? { notAfter: o.notAfter } : {}),
      });
      const cert = forge.pki.certificateFromPem(issued.certPem);
      certDomains.set(serialKey(cert.serialNumber), domain.uuid);
      const key = forge.pki.privateKeyFromPem(issued.keyPem);
      const asn1 = forge.pkcs12.toPkcs12Asn1(
        key,
        [cert, forge.pki.certificateFromPem(ca.caPem)],
        o.password ?? "",
        { algorithm: o.algorithm ?? "aes256", friendlyName: "host input client" },
      );
      const der = forge.asn1.toDer(asn1).getBytes();
      return Uint8Array.from(der, (c) => c.charCodeAt(0));
    },
    netmap,
    dump(domain) {
      return netmap(domain).dump();
    },
    dumpOs(domain) {
      return netmap(domain).dumpOs();
    },
    dumpAll() {
      const out: Record<string, NetworkMapDump> = {};
      for (const m of fmc.netmaps.values()) {
        out[m.domain.path] = { hosts: [...m.hosts].sort(), os: m.dumpOs(), results: m.dump() };
      }
      return out;
    },
    idle() {
      return sockets.size === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r));
    },
    async shutdown() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
  return sim;
}
