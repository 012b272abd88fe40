/**
 * The Defense Center part of `-check`: the client certificate (and its dates), TCP to the port,
 * then TLS with the certificate and the host input version exchange. No data is sent.
 *
 * @module
 */

import { DcError, exitCodeOf } from "../errors.ts";
import { seconds } from "../util/deadline.ts";
import { unbracket } from "../util/text.ts";
import { type IdentityLog, loadIdentity, type LoadIdentityOptions } from "./identity.ts";
import type { ClientIdentity } from "./pkcs12.ts";

/** One checked step. */
export interface DcCheckStep {
  /** Passed. */
  ok: boolean;
  /** What was checked. */
  what: string;
  /** The result, or what to fix. */
  detail: string;
  /** The exit status a failure means. @default {5} */
  code?: number;
}

/** Options for {@linkcode checkDc}. */
export interface CheckDcOptions extends LoadIdentityOptions {
  /** The Defense Center (`-server`). */
  host: string;
  /** Its port. @default {8307} */
  port?: number;
  /** Connect over IPv6. @default {false} */
  ipv6?: boolean;
  /** Skip verifying the Defense Center's certificate. @default {false} */
  insecure?: boolean;
  /** Where warnings (expiry) go. */
  log?: IdentityLog;
  /** The time limit of each network step, in ms (`-timeout`). @default the DcClient's, per step */
  timeoutMs?: number | undefined;
}

/**
 * Runs the checks; stops at the first failure (later steps depend on it). Each network step has
 * its own time limit, and a step that runs out says which it was.
 */
export async function checkDc(options: CheckDcOptions): Promise<DcCheckStep[]> {
  const steps: DcCheckStep[] = [];
  const port = options.port ?? 8307;
  let identity: ClientIdentity;
  try {
    const loaded = await loadIdentity(options);
    identity = loaded.identity;
    steps.push({
      ok: true,
      what: `certificate ${loaded.path}`,
      detail: `${identity.subject}, valid ${identity.notBefore.toISOString().slice(0, 10)} to ` +
        `${
          identity.notAfter.toISOString().slice(0, 10)
        }, ${identity.caPems.length} CA certificate(s)`,
    });
  } catch (error) {
    steps.push({
      ok: false,
      what: "certificate",
      detail: (error as Error).message,
      code: exitCodeOf(error),
    });
    return steps;
  }
  const where = `${options.host}:${port}`;
  const { DC_TIMEOUTS, DcClient } = await import("./dc_client.ts");
  const connectMs = options.timeoutMs ?? DC_TIMEOUTS.connect;
  try {
    const conn = await Deno.connect({
      hostname: unbracket(options.host),
      port,
      signal: AbortSignal.timeout(connectMs),
    });
    conn.close();
    steps.push({ ok: true, what: `TCP to ${where}`, detail: "connected" });
  } catch (error) {
    const timedOut = (error as Error)?.name === "TimeoutError";
    steps.push({
      ok: false,
      what: `TCP to ${where}`,
      detail: `${
        timedOut
          ? `Connect timed out: no TCP connection within ${seconds(connectMs)} s`
          : (error as Error).message
      }: check -server and -port, and that no firewall blocks port ${port} ` +
        `(telnet ${options.host} ${port})`,
    });
    return steps;
  }
  try {
    const client = await DcClient.connect({
      host: options.host,
      port,
      ipv6: options.ipv6 ?? false,
      insecure: options.insecure ?? false,
      identity,
      timeoutMs: options.timeoutMs,
      maxReconnects: 0,
    });
    steps.push({
      ok: true,
      what: `TLS and host input version with ${where}`,
      detail:
        `client certificate accepted, version 1 accepted, MAX_SIZE ${client.maxSize}; no data sent`,
    });
    client.close();
  } catch (error) {
    // Named after the step that failed, when the error knows it.
    const step = error instanceof DcError ? error.step : "";
    steps.push({
      ok: false,
      what: `${
        step === "connect"
          ? "TCP to"
          : step === "TLS handshake"
          ? "TLS handshake with"
          : step === "MAX_SIZE answer"
          ? "host input version with"
          : "TLS and host input version with"
      } ${where}`,
      detail: (error as Error).message,
    });
  }
  return steps;
}
