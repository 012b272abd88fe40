/**
 * The Defense Center part of `-check`: the client certificate (and its dates), TCP to the port,
 * then TLS with the certificate (the DC's verified, or pinned) and the host input version
 * exchange. No data is sent, but with a `domain`: one DATA message holding only
 * `SetDomain,<domain>`, which creates nothing on the FMC and shows whether the certificate may
 * write to that domain.
 *
 * @module
 */

import { DcError, exitCodeOf } from "../errors.ts";
import { seconds } from "../util/deadline.ts";
import { unbracket } from "../util/text.ts";
import type { Log } from "../log/log.ts";
import { loadIdentity, type LoadIdentityOptions } from "./identity.ts";
import type { ClientIdentity } from "./pkcs12.ts";
import type { DcClient as DcClientType } from "./dc_client.ts";

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
  /** Its port (`-port`). */
  port: number;
  /** Connect over IPv6. @default {false} */
  ipv6?: boolean;
  /** Skip verifying the Defense Center's certificate. @default {false} */
  insecure?: boolean;
  /** Trust exactly the DC certificate with this SHA-256 (lower-case hex; `-pin`, `dc_fingerprint`). */
  pin?: string | undefined;
  /** The domain (`domain`): checked with a DATA message holding only `SetDomain,<domain>`. */
  domain?: string | undefined;
  /** Where warnings (expiry) go. */
  log?: Pick<Log, "warn">;
  /** The time limit of each network step, in ms (`-timeout`). @default the DcClient's, per step */
  timeoutMs?: number | undefined;
}

/**
 * Runs the checks; stops at the first failure (later steps depend on it). Each network step has
 * its own time limit, and a step that runs out says which it was.
 */
export async function checkDc(options: CheckDcOptions): Promise<DcCheckStep[]> {
  const steps: DcCheckStep[] = [];
  const port = options.port;
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
  let client: DcClientType;
  try {
    client = await DcClient.connect({
      host: options.host,
      port,
      ipv6: options.ipv6 ?? false,
      insecure: options.insecure ?? false,
      pin: options.pin,
      identity,
      timeoutMs: options.timeoutMs,
      maxReconnects: 0,
    });
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
    return steps;
  }
  try {
    const trust = options.pin !== undefined
      ? `its certificate is the pinned one (sha256:${options.pin})`
      : options.insecure
      ? "its certificate NOT verified (-insecure)"
      : identity.caPems.length > 0
      ? "its certificate verified against the CA in the .pkcs12"
      : "its certificate verified against the system's CA roots";
    steps.push({
      ok: true,
      what: `TLS and host input version with ${where}`,
      detail: `${trust}; client certificate accepted, version 1 accepted, MAX_SIZE ` +
        `${client.maxSize}; ${options.domain === undefined ? "no data sent" : "no commands sent"}`,
    });
    if (options.domain === undefined) return steps;
    const what = `domain "${options.domain}" on ${where}`;
    try {
      await client.send(new TextEncoder().encode(`SetDomain,${options.domain}\n`));
      steps.push({
        ok: true,
        what,
        detail: "the client certificate may write to it (a message holding only SetDomain was " +
          "accepted; that it is a leaf domain shows when data is sent)",
      });
    } catch (error) {
      steps.push({ ok: false, what, detail: (error as Error).message });
    }
  } finally {
    client.close();
  }
  return steps;
}
