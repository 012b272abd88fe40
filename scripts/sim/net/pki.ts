/**
 * A throw-away PKI for the loopback simulators: a CA made at start, and certificates it issues
 * (servers for 127.0.0.1/localhost, clients as the DC's Host Input Client page issues them).
 * RSA 2048 through node-forge (fast: it uses the runtime's native key generation).
 *
 * @module
 */

import forge from "node-forge";

/** A certificate and its key, PEM. */
export interface Issued {
  /** Certificate, PEM. */
  certPem: string;
  /** Private key, PEM (PKCS#8). */
  keyPem: string;
}

/** A CA that can issue certificates. */
export interface TestCa {
  /** The CA certificate, PEM. */
  caPem: string;
  /** Issues a certificate. */
  issue(options: IssueOptions): Issued;
}

/** Options for {@linkcode TestCa.issue}. */
export interface IssueOptions {
  /** Common name. */
  cn: string;
  /** DNS names and IP addresses for subjectAltName (servers). */
  sans?: string[];
  /** Extended key usage: server or client. @default {"server"} */
  usage?: "server" | "client";
  /** Validity start. @default one hour ago */
  notBefore?: Date;
  /** Validity end. @default in one year */
  notAfter?: Date;
}

let serial = Date.now();

function keyPem(key: forge.pki.rsa.PrivateKey): string {
  return forge.pki.privateKeyInfoToPem(
    forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key)),
  );
}

/** Makes a new CA named `name`. */
export function createTestCa(name = "qualys_connector test CA"): TestCa & { keyPem: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const ca = forge.pki.createCertificate();
  ca.publicKey = keys.publicKey;
  ca.serialNumber = (serial++).toString(16);
  ca.validity.notBefore = new Date(Date.now() - 3600_000);
  ca.validity.notAfter = new Date(Date.now() + 365 * 86400_000);
  const attrs = [{ name: "commonName", value: name }];
  ca.setSubject(attrs);
  ca.setIssuer(attrs);
  ca.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  ca.sign(keys.privateKey, forge.md.sha256.create());
  const caPem = forge.pki.certificateToPem(ca);
  return {
    caPem,
    keyPem: keyPem(keys.privateKey),
    issue(options: IssueOptions): Issued {
      const k = forge.pki.rsa.generateKeyPair({ bits: 2048 });
      const cert = forge.pki.createCertificate();
      cert.publicKey = k.publicKey;
      cert.serialNumber = (serial++).toString(16);
      cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - 3600_000);
      cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 365 * 86400_000);
      cert.setSubject([{ name: "commonName", value: options.cn }]);
      cert.setIssuer(ca.subject.attributes);
      const usage = options.usage ?? "server";
      cert.setExtensions([
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: usage === "server", clientAuth: usage === "client" },
        ...(options.sans?.length
          ? [{
            name: "subjectAltName",
            altNames: options.sans.map((s) =>
              /^[\d.]+$|:/.test(s) ? { type: 7, ip: s } : { type: 2, value: s }
            ),
          }]
          : []),
        {
          name: "authorityKeyIdentifier",
          keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes(),
        },
      ]);
      cert.sign(keys.privateKey, forge.md.sha256.create());
      return { certPem: forge.pki.certificateToPem(cert), keyPem: keyPem(k.privateKey) };
    },
  };
}
