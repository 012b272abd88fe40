/**
 * What a failed `node:tls` / `node:net` connection to the Defense Center means, read from the
 * error's `code` (and `syscall`), never from its message text. The codes are the ones Deno 2.9.6
 * gives, measured against real servers on loopback (`tests/dc/tls_errors_test.ts` holds each case):
 *
 * | what happened                                              | `code`                                         |
 * | ---------------------------------------------------------- | ---------------------------------------------- |
 * | nothing listens on the port                                | `ECONNREFUSED` (`syscall` `connect`)           |
 * | the name does not resolve                                  | `ENOTFOUND` (`EAI_AGAIN`: try again)           |
 * | the DC's chain is from another CA / no CA vouches for it   | `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`            |
 * | the DC's certificate is self-signed                        | `DEPTH_ZERO_SELF_SIGNED_CERT`                  |
 * | the DC's certificate is expired or not yet valid           | `UNABLE_TO_VERIFY_LEAF_SIGNATURE` (not `CERT_HAS_EXPIRED`: see {@linkcode isOutOfDates}) |
 * | TLS 1.3, no client certificate                             | `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`    |
 * | TLS 1.2, no client certificate                             | `ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE`        |
 * | TLS 1.2, a client certificate the DC does not accept       | `ECONNRESET` (the DC closes in the handshake)  |
 * | TLS 1.3, a client certificate the DC does not accept       | none: the handshake completes, then the DC closes (`dc_client.ts` probes with TLS 1.2) |
 * | the peer accepts TCP and closes or resets in the handshake | `ECONNRESET`                                   |
 * | the peer is not TLS (an HTTP server)                       | `ERR_SSL_WRONG_VERSION_NUMBER`                 |
 *
 * @module
 */

/** The `code` of an error (`ECONNREFUSED`, `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`, ...); "" when none. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : "";
}

/** The connection closed before the TLS handshake completed, with no error of its own. */
export class ClosedInHandshake extends Error {
  /** The error's name, "ClosedInHandshake". */
  override name = "ClosedInHandshake";
  /** Creates the error. */
  constructor() {
    super("the connection closed in the TLS handshake");
  }
}

/** Name lookups that failed; `EAI_AGAIN` is a temporary failure. */
const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA"]);

/**
 * OpenSSL's verification codes, as `node:tls` reports a chain it could not verify. Deno 2.9.6
 * gives the first three and `DEPTH_ZERO_SELF_SIGNED_CERT`; the others are Node's for the same
 * cases (kept so that a runtime that reports them precisely is understood).
 */
const UNTRUSTED_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Codes that say the certificate is outside its validity dates (Node; Deno does not give them). */
const OUT_OF_DATES_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);

/** Whether the connection was refused (nothing listens there). */
export function isRefused(error: unknown): boolean {
  return errorCode(error) === "ECONNREFUSED";
}

/** Whether the DC's name could not be resolved. */
export function isDnsFailure(error: unknown): boolean {
  return DNS_CODES.has(errorCode(error));
}

/** Whether the TLS stack could not verify the DC's certificate chain. */
export function isUntrusted(error: unknown): boolean {
  return UNTRUSTED_CODES.has(errorCode(error));
}

/**
 * Whether a certificate is outside its validity dates: by the error's code when the runtime says
 * so, else by the certificate's own dates (Deno 2.9.6 reports an expired certificate signed by a
 * trusted CA as `UNABLE_TO_VERIFY_LEAF_SIGNATURE`).
 */
export function isOutOfDates(
  error: unknown,
  cert: { valid_from?: string; valid_to?: string } | undefined,
  now: Date = new Date(),
): boolean {
  if (OUT_OF_DATES_CODES.has(errorCode(error))) return true;
  const from = Date.parse(cert?.valid_from ?? ""), to = Date.parse(cert?.valid_to ?? "");
  return now.getTime() < from || now.getTime() > to;
}

/**
 * Whether the peer ended the TLS handshake: a fatal alert (`ERR_SSL_*_ALERT_*`: certificate
 * required, bad certificate, unknown CA, revoked, handshake failure), a reset or close in the
 * handshake (`ECONNRESET`, {@linkcode ClosedInHandshake}). In the handshake or right after it,
 * that is how a Defense Center rejects a client certificate.
 */
export function peerEndedHandshake(error: unknown): boolean {
  if (error instanceof ClosedInHandshake) return true;
  const code = errorCode(error);
  return code === "ECONNRESET" || /^ERR_SSL_\w*ALERT/.test(code);
}
