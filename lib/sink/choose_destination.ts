/**
 * The destination of a run, from the command line: the CSV file (or stdout) named by
 * `-csvfile`, or the Defense Center named by `-server`, with the client identity loaded and
 * checked (and what a user should know about it logged) before any work starts.
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
  if (options.insecure) {
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
      timeoutMs: options.timeoutMs,
      identity,
    },
  };
}
