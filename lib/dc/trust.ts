/**
 * Trusting the Defense Center's certificate: what a certificate is, in words a person can check
 * out of band (subject, issuer, validity, SHA-256 fingerprint), and the messages for a chain that
 * does not verify and for a pin that does not match.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type tls from "node:tls";

/** What a Defense Center certificate is, for messages. */
export interface PeerCertificateInfo {
  /** `CN=..., O=...` */
  subject: string;
  /** The issuer, the same way. */
  issuer: string;
  /** Validity start, YYYY-MM-DD. */
  notBefore: string;
  /** Validity end, YYYY-MM-DD. */
  notAfter: string;
  /** SHA-256 of the DER certificate, lower-case hex. */
  fingerprint: string;
}

function names(o: unknown): string {
  return Object.entries(o ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : String(v)}`)
    .join(", ");
}

function day(text: string | undefined): string {
  const d = new Date(text ?? "");
  return Number.isNaN(d.getTime()) ? String(text) : d.toISOString().slice(0, 10);
}

/** The facts of a peer certificate that identify it to a person. */
export function describePeer(cert: tls.PeerCertificate): PeerCertificateInfo {
  const fingerprint = cert.raw
    ? createHash("sha256").update(cert.raw).digest("hex")
    : (cert.fingerprint256 ?? "").replaceAll(":", "").toLowerCase();
  return {
    subject: names(cert.subject),
    issuer: names(cert.issuer),
    notBefore: day(cert.valid_from),
    notAfter: day(cert.valid_to),
    fingerprint,
  };
}

/** A certificate in one line: subject, issuer, validity, fingerprint. */
export function presents(c: PeerCertificateInfo): string {
  return `${c.subject || "(no subject)"}, issued by ${c.issuer || "(no issuer)"}, valid ` +
    `${c.notBefore} to ${c.notAfter}, fingerprint sha256:${c.fingerprint}`;
}

/**
 * The message for a DC certificate that did not verify: what the DC presents (when a second,
 * unverified handshake could show it) and how to pin it after checking it out of band.
 * `outOfDates`: the certificate is expired or not yet valid (`isOutOfDates` in `tls_errors.ts`).
 */
export function untrustedMessage(
  where: string,
  bundled: boolean,
  why: string,
  seen: PeerCertificateInfo | undefined,
  outOfDates = false,
): string {
  const head = outOfDates
    ? `The Defense Center's certificate at ${where} is out of its validity dates (${why})`
    : bundled
    ? `The Defense Center's certificate at ${where} is not signed by the CA in the .pkcs12 (${why})`
    : `The Defense Center's certificate at ${where} is not trusted: the .pkcs12 holds no CA ` +
      `certificate and the system's CA roots do not vouch for it (${why})`;
  if (!seen) {
    return `${head}; is -server the Defense Center that issued it? -insecure skips this check`;
  }
  return `${head}. It presents ${presents(seen)}. If -server is the right Defense Center, check ` +
    "that fingerprint out of band (on the FMC itself, or with its administrator); if it matches, " +
    `trust exactly this certificate with -pin sha256:${seen.fingerprint} or ` +
    `"dc_fingerprint: sha256:${seen.fingerprint}" in the plugin YAML; -insecure skips the check ` +
    "entirely";
}

/** The message for a DC certificate whose fingerprint is not the pinned one. */
export function pinMismatchMessage(where: string, pin: string, seen: PeerCertificateInfo): string {
  return `The Defense Center at ${where} presented a certificate with fingerprint ` +
    `sha256:${seen.fingerprint}, not the pinned sha256:${pin} (-pin or dc_fingerprint): ` +
    `${presents(seen)}. If the Defense Center's certificate was replaced, check the new ` +
    "fingerprint out of band and update the pin; otherwise something else answers at this " +
    "address. Nothing was sent";
}
