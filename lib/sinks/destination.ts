/**
 * The destination of a run: the CSV file (or stdout) named by `-csvfile`, or the Defense Center
 * named by `-server`. For a Defense Center the client identity is loaded and checked (and what a
 * user should know about it logged) before any work starts ({@linkcode loadDcIdentity}); the
 * destination itself is chosen once the plugin has read its configuration, from the command line
 * and the plugin's trust in the Defense Center ({@linkcode resolveDestination}): nothing changes
 * it afterwards.
 *
 * @module
 */

import { loadIdentity } from "../dc/identity.ts";
import type { ClientIdentity } from "../dc/pkcs12.ts";
import type { Log } from "../log/log.ts";
import type { Destination } from "./open_sink.ts";

/**
 * What a plugin's configuration says of the Defense Center (the QualysGuard YAML's `domain` and
 * `dc_fingerprint`). The plugin writes the domain into the commands itself (`SetDomain`); the
 * fingerprint pins the DC's certificate, and `-check` uses both.
 */
export interface DcTrust {
  /** The domain the commands are for (`domain`). */
  domain?: string | undefined;
  /** The SHA-256 (lower-case hex) of the one DC certificate to trust (`dc_fingerprint`). */
  fingerprint?: string | undefined;
}

/** The command line's say on the destination. */
export interface DestinationOptions {
  /** `-csvfile` (`-` = stdout); wins over `server`. */
  csvfile?: string | undefined;
  /** `-server`. */
  server?: string | undefined;
  /** `-port`. */
  port: number;
  /** `-ipv6`. @default {false} */
  ipv6?: boolean;
  /** `-insecure`. @default {false} */
  insecure?: boolean;
  /** `-pin`: the SHA-256 (lower-case hex) of the one DC certificate to trust; wins over the
   * plugin's fingerprint. */
  pin?: string | undefined;
  /** `-timeout` in ms: the longest wait for one network step. @default the DC client's per-step defaults */
  timeoutMs?: number | undefined;
}

/**
 * Loads the client identity for the Defense Center (`-pkcs12`, `-password`) and logs the
 * certificate in use.
 *
 * @throws {LocalIoError} When the `.pkcs12` cannot be found or read.
 * @throws {DcError} When it cannot be used (password, dates, not PKCS#12).
 */
export async function loadDcIdentity(options: {
  /** `-pkcs12`. */
  pkcs12?: string | undefined;
  /** `-password` (or its environment variable). */
  password?: string | undefined;
  /** Where to log: the certificate in use; several certificates, one that expires soon. */
  log: Pick<Log, "info" | "warn">;
}): Promise<ClientIdentity> {
  const { log } = options;
  const { identity, path } = await loadIdentity(options);
  log.info(
    `Client certificate ${path}: ${identity.subject}, valid until ${identity.notAfter.toISOString()}` +
      (identity.caPems.length
        ? ""
        : "; it holds no CA, so the Defense Center is checked against the system roots"),
  );
  return identity;
}

/**
 * The destination: the CSV named by `-csvfile`, or the Defense Center of `-server` with the
 * client identity and the trust in its certificate: `-pin`, else the plugin's fingerprint.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const identity = {} as never;
 * const fp = "ab".repeat(32);
 * const trust = { fingerprint: fp };
 * const dc = resolveDestination({ server: "10.0.0.9", port: 8307 }, { identity, trust });
 * assert.equal("dc" in dc && dc.dc.pin, fp);
 * const pinned = resolveDestination({ server: "10.0.0.9", port: 8307, pin: "cd" },
 *   { identity, trust: { fingerprint: fp } });
 * assert.equal("dc" in pinned && pinned.dc.pin, "cd");
 * const csv = resolveDestination({ csvfile: "-", port: 8307 }, { trust: {} });
 * assert.deepEqual(csv, { csvfile: "-" });
 * ```
 */
export function resolveDestination(
  options: DestinationOptions,
  parts: { identity?: ClientIdentity | undefined; trust: DcTrust },
): Destination {
  if (options.csvfile !== undefined) return { csvfile: options.csvfile };
  return {
    dc: {
      host: options.server!,
      port: options.port,
      ipv6: options.ipv6 ?? false,
      insecure: options.insecure ?? false,
      pin: options.pin ?? parts.trust.fingerprint,
      timeoutMs: options.timeoutMs,
      identity: parts.identity!,
    },
  };
}
