/**
 * The destination of a run, from the command line: the CSV file (or stdout) named by
 * `-csvfile`, or the Defense Center named by `-server`, with the client identity loaded and
 * checked (and what a user should know about it logged) before any work starts. The plugin's
 * configuration, read later, may add Defense Center settings ({@linkcode withDcSettings}).
 *
 * @module
 */

import { loadIdentity } from "../dc/identity.ts";
import type { Destination } from "./open_sink.ts";

/** Where {@linkcode chooseDestination} reports. */
export interface DestinationLog {
  /** The certificate in use. */
  info(message: string): void;
  /** `-insecure`, several certificates, one that expires soon. */
  warn(message: string): void;
}

/** The command line's say on the destination. */
export interface DestinationOptions {
  /** `-csvfile` (`-` = stdout); wins over `server`. */
  csvfile?: string | undefined;
  /** `-server`. */
  server?: string | undefined;
  /** `-port`. @default {8307} */
  port?: number;
  /** `-ipv6`. @default {false} */
  ipv6?: boolean;
  /** `-insecure`. @default {false} */
  insecure?: boolean;
  /** `-pin`: the SHA-256 (lower-case hex) of the one DC certificate to trust. */
  pin?: string | undefined;
  /** `-timeout` in ms: the longest wait for one network step. @default the DC client's per-step defaults */
  timeoutMs?: number | undefined;
  /** `-pkcs12`. */
  pkcs12?: string | undefined;
  /** `-password`. */
  password?: string | undefined;
  /** Environment variables (`QC_PKCS12_PASSWORD`). @default {{}} */
  env?: Readonly<Record<string, string>>;
  /** Where to log. */
  log: DestinationLog;
}

/**
 * Chooses the destination; for a Defense Center, loads the client identity.
 *
 * @throws {LocalIoError} When the `.pkcs12` cannot be found or read.
 * @throws {DcError} When it cannot be used (password, dates, not PKCS#12).
 */
export async function chooseDestination(options: DestinationOptions): Promise<Destination> {
  const { log } = options;
  if (options.csvfile !== undefined) return { csvfile: options.csvfile };
  const { identity, path } = await loadIdentity({
    pkcs12: options.pkcs12,
    password: options.password,
    env: options.env ?? {},
    log,
  });
  log.info(
    `Client certificate ${path}: ${identity.subject}, valid until ${identity.notAfter.toISOString()}` +
      (identity.caPems.length
        ? ""
        : "; it holds no CA, so the Defense Center is checked against the system roots"),
  );
  if (options.insecure && options.pin !== undefined) {
    log.warn("-insecure is ignored: -pin trusts exactly the Defense Center certificate it names");
  } else if (options.insecure) {
    log.warn(
      "-insecure: the Defense Center's certificate is NOT verified; anyone on the path can pose as it",
    );
  }
  return {
    dc: {
      host: options.server!,
      port: options.port ?? 8307,
      ipv6: options.ipv6 ?? false,
      insecure: options.insecure ?? false,
      pin: options.pin,
      timeoutMs: options.timeoutMs,
      identity,
    },
  };
}

/**
 * Defense Center settings from a plugin's configuration (the QualysGuard YAML's `domain` and
 * `dc_fingerprint`). The plugin writes the domain into the commands itself (`SetDomain`); the
 * agent passes the fingerprint on to the Defense Center sink and to `-check`.
 */
export interface DcSettings {
  /** The domain the commands are for (`domain`). */
  domain?: string | undefined;
  /** The SHA-256 (lower-case hex) of the one DC certificate to trust (`dc_fingerprint`). */
  fingerprint?: string | undefined;
}

/**
 * The destination with a plugin's Defense Center settings: its fingerprint pins the DC's
 * certificate unless `-pin` already does (the command line wins).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const dc = { host: "10.0.0.9", identity: {} as never };
 * const fp = "ab".repeat(32);
 * assert.deepEqual(withDcSettings({ dc }, { fingerprint: fp }), { dc: { ...dc, pin: fp } });
 * assert.equal(withDcSettings({ dc: { ...dc, pin: "cd" } }, { fingerprint: fp }).dc.pin, "cd");
 * assert.deepEqual(withDcSettings({ csvfile: "-" }, { fingerprint: fp }), { csvfile: "-" });
 * ```
 */
export function withDcSettings<D extends Destination>(destination: D, settings: DcSettings): D {
  if (!("dc" in destination) || settings.fingerprint === undefined) return destination;
  if (destination.dc.pin !== undefined) return destination;
  return { ...destination, dc: { ...destination.dc, pin: settings.fingerprint } };
}
