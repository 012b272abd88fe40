/**
 * Defense Center simulator: a real mutual-TLS server on 127.0.0.1 that issues client
 * certificates as the Host Input Client page does (a `.pkcs12` with the client certificate, its
 * key and the DC's CA), speaks the TLV protocol, and applies the server semantics of
 * `hostinput.md` §2: the command table, Text::CSV-style parsing, SetSource rules (per message),
 * AddScanResult validation (headers, protocols), per-connection queues, ScanFlush (replace) and
 * ScanUpdate (merge, also at disconnect), and result text with failures and
 * `Done processing N commands.`. It keeps a network map (host → scanner → results) and takes
 * scriptable faults. For tests and `deno task demo`.
 *
 * @module
 */

import tls from "node:tls";
import forge from "node-forge";
import { createTestCa, type TestCa } from "./pki.ts";
import { splitCsvLine } from "../../lib/encode/command_line.ts";

/** One scan result in the network map. */
export interface MapResult {
  /** vuln_id. */
  vulnId: string;
  /** Port (or ""). */
  port: string;
  /** Protocol (or ""). */
  proto: string;
  /** name. */
  name: string;
  /** description. */
  desc: string;
  /** CVE IDs. */
  cves: string[];
  /** Bugtraq IDs. */
  bugtraqs: string[];
}

/** Faults and settings. */
export interface DcSimScript {
  /** MAX_SIZE announced. @default {65535} */
  maxSize?: number;
  /** Drop the connection on receiving these DATA messages (1-based, counted over all connections), unprocessed. */
  dropOnMessages?: Set<number>;
  /** Close the connection after the VERSION message (a version rejection). */
  rejectVersion?: boolean;
  /** Verify client certificates against another CA (the connector's is then unknown: rejected). */
  rejectCertificate?: boolean;
  /** Milliseconds before each response. */
  slowResponseMs?: number;
  /** Keep every payload text in `payloads`/`processed` (tests of resends). @default {false} */
  recordPayloads?: boolean;
  /** Store results in the network map (the bench turns it off to stay small). @default {true} */
  storeResults?: boolean;
  /** Address to listen on: 127.0.0.1 or ::1. @default {"127.0.0.1"} */
  hostname?: "127.0.0.1" | "::1";
}

/** A running simulator. */
export interface DcSim {
  /** 127.0.0.1 */
  host: string;
  /** The port. */
  port: number;
  /** host → scanner → key → result. */
  map: Map<string, Map<string, Map<string, MapResult>>>;
  /** Hosts added with AddHost. */
  hosts: Set<string>;
  /** DATA messages processed (not dropped). */
  messages: number;
  /** DATA payloads received, processed or not. */
  payloads: string[];
  /** DATA payloads processed (answered), in order: a duplicate here is a message sent twice. */
  processed: string[];
  /** Connections accepted. */
  connections: number;
  /** Issues a client `.pkcs12` (RSA, AES-256 or 3DES) as the Host Input Client page does. */
  issueClient(
    options?: { password?: string; cn?: string; notAfter?: Date; algorithm?: "aes256" | "3des" },
  ): Uint8Array;
  /** The DC's CA, PEM. */
  caPem: string;
  /** The map as plain data, for comparisons and printing. */
  dump(): Record<string, Record<string, MapResult[]>>;
  /** Stops the server. */
  shutdown(): Promise<void>;
}

const FIELDS: Record<string, string[]> = {
  SetSourceType: ["source_type_name"],
  SetSource: ["source_name", "option"],
  SetMap: ["map_name"],
  SetDomain: ["domain"],
  AddHost: ["ip_address", "mac_address"],
  DeleteHost: ["ip_address", "mac_address"],
  SetOS: ["ip_address", "vendor_str", "product_str", "version_str"],
  UnsetOS: ["ip_address"],
  AddService: ["ip_address", "port", "proto", "service"],
  SetService: ["ip_address", "port", "proto", "service"],
  UnsetService: ["ip_address", "port", "proto"],
  DeleteService: ["ip_address", "port", "proto"],
  AddClientApp: ["ip_address", "app_name", "app_type", "version"],
  DeleteClientApp: ["ip_address", "app_name", "app_type", "version"],
  AddProtocol: ["ip_address", "mac_address", "proto", "type"],
  DeleteProtocol: ["ip_address", "mac_address", "proto", "type"],
  AddFix: ["ip_address", "port", "proto", "fix_id"],
  RemoveFix: ["ip_address", "port", "proto", "fix_id"],
  AddHostAttribute: ["attribute_name", "attribute_type"],
  DeleteHostAttribute: ["attribute_name"],
  SetAttributeValue: ["ip_address", "attribute", "value"],
  DeleteAttributeValue: ["ip_address", "attribute"],
  SetValidVuln: ["ip_address", "port", "proto", "type", "vuln_id"],
  SetInvalidVuln: ["ip_address", "port", "proto", "type", "vuln_id"],
  AddScanResult: [
    "ip_address",
    "scanner_id",
    "vuln_id",
    "port",
    "proto",
    "name",
    "desc",
    "cve_id_list",
    "bugtraq_id_list",
  ],
  DeleteScanResult: ["ip_address", "scanner_id", "id_list", "port", "proto"],
  ScanUpdate: [],
  ScanFlush: [],
};
const NO_SOURCE_NEEDED = new Set([
  "AddScanResult",
  "DeleteScanResult",
  "ScanUpdate",
  "ScanFlush",
  "SetSource",
  "SetSourceType",
  "SetMap",
  "SetDomain",
]);

function validIp(s: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s)) {
    return s.split(".").every((p) => Number(p) <= 255);
  }
  return /^[0-9a-fA-F:]+$/.test(s) && s.includes(":");
}

function frame(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + value.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, false);
  v.setUint32(4, value.length, false);
  out.set(value, 8);
  return out;
}

/** Starts the simulator. */
export async function startDcSim(
  script: DcSimScript = {},
  options: { ca?: TestCa } = {},
): Promise<DcSim> {
  const ca = options.ca ?? createTestCa("Defense Center CA");
  // The DC's certificate names the DC, not 127.0.0.1: the connector must verify the chain
  // against the bundled CA without a host name match, as with a real FMC reached by IP.
  const server = ca.issue({ cn: "fmc.example.internal", sans: ["fmc.example.internal"] });
  const verifyCa = script.rejectCertificate ? createTestCa("another CA").caPem : ca.caPem;
  const map = new Map<string, Map<string, Map<string, MapResult>>>();
  const hosts = new Set<string>();
  const payloads: string[] = [];
  const processed: string[] = [];
  let messageCount = 0, received = 0, connections = 0;
  const sockets = new Set<tls.TLSSocket>();

  const apply = (queue: Map<string, MapResult[]>, replace: boolean) => {
    if (script.storeResults === false) return queue.clear();
    for (const [key, results] of queue) {
      const [scanner, ip] = JSON.parse(key) as [string, string];
      const byScanner = map.get(ip) ?? new Map<string, Map<string, MapResult>>();
      map.set(ip, byScanner);
      const current = replace ? new Map<string, MapResult>() : byScanner.get(scanner) ?? new Map();
      for (const r of results) current.set(`${r.vulnId}/${r.port}/${r.proto}`, r);
      byScanner.set(scanner, current);
    }
    queue.clear();
  };

  const handleText = (text: string, queue: Map<string, MapResult[]>): string => {
    const out: string[] = [];
    let done = 0;
    let source: string | undefined; // per message, as the server's HandleCmds keeps it
    for (const raw of text.split("\n")) {
      const line = raw.replace(/\r$/, "");
      if (/^\s*#/.test(line) || /^\s*$/.test(line)) continue;
      const f = splitCsvLine(line);
      if (!f) {
        out.push(`Text::CSV::parse() failed on line: ${line}`);
        continue;
      }
      const cmd = f[0]!.trim();
      if (!(cmd in FIELDS)) {
        out.push(`WARN: ignoring unknown key '${cmd}'. Line: ${line}`);
        continue;
      }
      if (!NO_SOURCE_NEEDED.has(cmd) && source === undefined) {
        out.push(`[${cmd}]: Must set source application`);
        continue;
      }
      const fail = (why: string) =>
        out.push(`${why}\nFailed to Execute Command:  Command: ${cmd} ip_address: ${f[1] ?? ""}`);
      switch (cmd) {
        case "SetSource":
          source = f[1];
          continue;
        case "SetSourceType":
        case "SetMap":
        case "SetDomain":
          continue;
        case "AddHost":
          if (!validIp(f[1] ?? "")) fail(`Failed to recognize IP address: ${f[1] ?? ""}`);
          else hosts.add(f[1]!);
          done++;
          continue;
        case "AddScanResult": {
          const [
            ,
            ip = "",
            scanner = "",
            vulnId = "",
            port = "",
            proto = "",
            name = "",
            desc = "",
            cveList,
            bidList,
          ] = f;
          if (!validIp(ip)) {
            fail(`Failed to recognize IP address: ${ip}`);
            done++;
            continue;
          }
          if (!["", "tcp", "udp", "6", "17"].includes(proto)) {
            fail(`Wrong protocol ${proto} entered`);
            done++;
            continue;
          }
          if (port !== "" && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
            fail(`Wrong port ${port} entered`);
            done++;
            continue;
          }
          if (vulnId !== "") {
            if (cveList === undefined || !/^\s*cve_ids:/.test(cveList)) {
              fail("CSV Error: can not find the header cve_ids:");
              done++;
              continue;
            }
            if (bidList === undefined || !/^\s*bugtraq_ids:/.test(bidList)) {
              fail("CSV Error: can not find the header bugtraq_ids:");
              done++;
              continue;
            }
          }
          if (script.storeResults === false) {
            done++;
            continue;
          }
          const key = JSON.stringify([scanner, ip]);
          const list = queue.get(key) ?? [];
          list.push({
            vulnId,
            port,
            proto,
            name,
            desc,
            cves: (cveList ?? "").replace(/cve_ids:\s*/, "").replace(/CVE-/g, "").split(/\s+/)
              .filter((x) => x)
              .map((x) => `CVE-${x}`),
            bugtraqs: (bidList ?? "").replace(/bugtraq_ids:\s*/, "").split(/\s+/).filter((x) => x),
          });
          queue.set(key, list);
          done++;
          continue;
        }
        case "ScanFlush":
          apply(queue, true);
          continue;
        case "ScanUpdate":
          apply(queue, false);
          continue;
        default:
          done++; // accepted, not modelled
      }
    }
    out.push(`Done processing ${done} commands.`);
    return out.join("\n") + "\n";
  };

  const onConnection = (sock: tls.TLSSocket) => {
    connections++;
    sockets.add(sock);
    sock.setNoDelay(true); // answers go out at once, as a DC's do
    const queue = new Map<string, MapResult[]>();
    let buf = new Uint8Array(0);
    let versioned = false;
    let busy = Promise.resolve();
    sock.on("error", () => {});
    sock.on("close", () => {
      apply(queue, false); // queued results run as ScanUpdate when the client goes
      sockets.delete(sock);
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
            new DataView(ms.buffer).setUint32(0, script.maxSize ?? 65535, false);
            sock.write(frame(1, ms));
            continue;
          }
          if (type !== 3) continue;
          received++;
          if (script.recordPayloads) payloads.push(new TextDecoder().decode(value));
          if (value.length > (script.maxSize ?? 65535)) {
            sock.write(frame(4, new TextEncoder().encode("Data block exceeds the maximum size\n")));
            continue;
          }
          if (script.dropOnMessages?.has(received)) {
            sock.destroy(); // a drop in transit: this message is never processed
            return;
          }
          const text = new TextDecoder().decode(value);
          const result = handleText(text, queue);
          if (script.recordPayloads) processed.push(text);
          messageCount++;
          if (script.slowResponseMs) await new Promise((r) => setTimeout(r, script.slowResponseMs));
          sock.write(frame(3, new TextEncoder().encode(result)));
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

  const sim: DcSim = {
    host: hostname,
    port,
    map,
    hosts,
    get messages() {
      return messageCount;
    },
    payloads,
    processed,
    get connections() {
      return connections;
    },
    caPem: ca.caPem,
    issueClient(o = {}) {
      const issued = ca.issue({
        cn: o.cn ?? "qualys-connector-host",
        usage: "client",
        ...(o.notAfter ? { notAfter: o.notAfter } : {}),
      });
      const key = forge.pki.privateKeyFromPem(issued.keyPem);
      const certs = [
        forge.pki.certificateFromPem(issued.certPem),
        forge.pki.certificateFromPem(ca.caPem),
      ];
      const asn1 = forge.pkcs12.toPkcs12Asn1(key, certs, o.password ?? "", {
        algorithm: o.algorithm ?? "aes256",
        friendlyName: "host input client",
      });
      const der = forge.asn1.toDer(asn1).getBytes();
      return Uint8Array.from(der, (c) => c.charCodeAt(0));
    },
    dump() {
      const out: Record<string, Record<string, MapResult[]>> = {};
      for (const ip of [...map.keys()].sort()) {
        out[ip] = {};
        for (const [scanner, results] of map.get(ip)!) {
          out[ip][scanner] = [...results.values()].sort((a, b) =>
            `${a.vulnId}/${a.port}/${a.proto}`.localeCompare(`${b.vulnId}/${b.port}/${b.proto}`)
          );
        }
      }
      return out;
    },
    async shutdown() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
  return sim;
}
