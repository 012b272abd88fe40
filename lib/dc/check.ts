/**
 * The Defense Center part of `-check`: the client certificate (and its dates), TCP to the port,
 * then TLS with the certificate (the DC's verified, or pinned) and the host input version
 * exchange. No data is sent, but with a `domain`: one DATA message holding only
 * `SetDomain,<domain>`, which creates nothing on the FMC and shows whether the certificate may
 * write to that domain.
 *
 * A run checks its Defense Center the same way before its long work ({@linkcode checkDcBeforeRun}):
 * the TLS session and the domain, on a connection of its own.
 *
 * @module
 */

import { plural } from "../util/text.ts";
import { DcError, exitCodeOf } from "../errors.ts";
import { seconds } from "../util/deadline.ts";
import { unbracket } from "../util/text.ts";
import type { Log } from "../log/log.ts";
import { loadIdentity, type LoadIdentityOptions } from "./identity.ts";
import { collectGarbage } from "../util/memory.ts";
import type { ClientIdentity } from "./pkcs12.ts";
import type { DcClient as DcClientType, DcOptions } from "./dc_client.ts";

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
  /** What a failed step threw (its message is the detail). */
  error?: unknown;
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
        `${identity.notAfter.toISOString().slice(0, 10)}, ${
          plural(identity.caPems.length, "CA certificate")
        }`,
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
  const { DC_TIMEOUTS } = await import("./dc_client.ts");
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
  const { host, ipv6, insecure, pin, timeoutMs, domain } = options;
  steps.push(
    ...await checkDcSession({ host, port, ipv6, insecure, pin, timeoutMs, domain, identity }),
  );
  return steps;
}

/** Options for {@linkcode checkDcSession}: the Defense Center as a run connects to it. */
export interface CheckDcSessionOptions extends Omit<DcOptions, "maxReconnects" | "sleep"> {
  /** The domain (`domain`): checked with a DATA message holding only `SetDomain,<domain>`. */
  domain?: string | undefined;
}

/**
 * The steps of `-check` from the TLS handshake on, with the client identity already loaded: TLS
 * (the certificate verified, or pinned), the host input version exchange, and with a `domain`
 * one DATA message holding only `SetDomain,<domain>`; then it hangs up. No connection is made
 * again (no reconnect). Stops at the first failure, which carries the error as it was thrown.
 */
export async function checkDcSession(options: CheckDcSessionOptions): Promise<DcCheckStep[]> {
  const steps: DcCheckStep[] = [];
  const where = `${options.host}:${options.port}`;
  const { DcClient } = await import("./dc_client.ts");
  let client: DcClientType;
  try {
    client = await DcClient.connect({ ...options, maxReconnects: 0 });
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
      error,
    });
    return steps;
  }
  try {
    const trust = options.pin !== undefined
      ? `its certificate is the pinned one (sha256:${options.pin})`
      : options.insecure
      ? "its certificate NOT verified (-insecure)"
      : options.identity.caPems.length > 0
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
      steps.push({ ok: false, what, detail: (error as Error).message, error });
    }
  } finally {
    client.close();
  }
  return steps;
}

/**
 * Checks a run's Defense Center before the run's long work (issue 21): the same session as
 * `-check` ({@linkcode checkDcSession}: TLS, the version exchange, and with a `domain` a message
 * holding only `SetDomain`), on a connection of its own that is closed before the work starts;
 * the commands go on a new connection once the input has been read. Logs what passed.
 *
 * @throws {DcError} (exit 5) What failed, saying that the run stopped before its work.
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * // Nothing listens on the port: exit 5 at once, before any Qualys call or report is read.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr as Deno.NetAddr;
 * listener.close();
 * const identity = { certPem: "", keyPem: "", caPems: [], subject: "", notBefore: new Date(),
 *   notAfter: new Date() };
 * const log = { info() {}, warn() {}, error() {}, debug() {} };
 * await assert.rejects(checkDcBeforeRun({ host: "127.0.0.1", port, identity }, { log }), {
 *   name: "DcError",
 *   exitCode: 5,
 *   message: new RegExp(`^Connection to 127\\.0\\.0\\.1:${port} was refused: .*; found ` +
 *     "before the run's work: nothing was asked of Qualys, read or sent$"),
 * });
 * ```
 */
export async function checkDcBeforeRun(
  target: DcOptions,
  options: { domain?: string | undefined; log: Pick<Log, "info" | "warn" | "error" | "debug"> },
): Promise<void> {
  const { log, domain } = options;
  for (const step of await checkDcSession({ ...target, domain, log })) {
    if (step.ok) {
      log.info(`Checked the Defense Center before the run: ${step.what}: ${step.detail}`);
      continue;
    }
    const error = step.error;
    if (!(error instanceof DcError)) throw error;
    throw new DcError(
      `${error.message}; found before the run's work: nothing was asked of Qualys, read or sent`,
      { cause: error, retryable: error.retryable, step: error.step, timedOut: error.timedOut },
    );
  } // What the certificate's parse (node-forge) and the check's TLS session left, before the run's
  // long work lets it sit in the old generation.
  collectGarbage();
}
