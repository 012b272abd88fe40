/**
 * The client certificate from the Defense Center's Host Input Client page: a `.pkcs12` read
 * in-process (no openssl) with node-forge, which reads every variant (OpenSSL 3's AES-256/PBKDF2
 * and the legacy RC2-40/3DES with a SHA-1 MAC), with or without a password. The leaf certificate
 * is the one whose key is in the file; the other certificates are the DC's CA (docs/operations.md: The Defense Center side; How sending
 * to the Defense Center works; docs/platform.md, "PKCS#12").
 *
 * @module
 */

import forge from "node-forge";
import { DcError, isWrongPath, LocalIoError } from "../errors.ts";

// forge checks the MAC with the password as UTF-16 (right) but hands the JS string to PBKDF2
// (wrong for non-ASCII): encode it as UTF-8 there (docs/platform.md, "PKCS#12").
// deno-lint-ignore no-explicit-any
const pbe = (forge.pki as any).pbe;
if (!pbe.__qcUtf8) {
  const original = pbe.getCipherForPBES2;
  pbe.getCipherForPBES2 = (oid: string, params: unknown, password: string) =>
    original(oid, params, forge.util.encodeUtf8(password));
  pbe.__qcUtf8 = true;
}

/** What the connector needs from the `.pkcs12`. */
export interface ClientIdentity {
  /** The leaf certificate, PEM. */
  certPem: string;
  /** Its private key, PEM. */
  keyPem: string;
  /** The other certificates (the DC's CA), PEM. */
  caPems: string[];
  /** The leaf's subject CN. */
  subject: string;
  /** Validity start. */
  notBefore: Date;
  /** Validity end. */
  notAfter: Date;
}

function binary(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

function asn1Pem(type: string, asn1: forge.asn1.Asn1): string {
  return forge.pem.encode({ type, body: forge.asn1.toDer(asn1).getBytes() });
}

interface CertInfo {
  pem: string;
  localKeyId: string | undefined;
  publicKeyDer: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

// Reads the parts of a certificate forge may not model (EC keys): SPKI and validity from ASN.1.
function certInfo(bag: forge.pkcs12.Bag): CertInfo {
  const asn1 = (bag.asn1 as forge.asn1.Asn1 | undefined) ?? forge.pki.certificateToAsn1(bag.cert!);
  const tbs = (asn1.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const hasVersion = tbs[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC;
  const at = (i: number) => tbs[hasVersion ? i : i - 1]!;
  const validity = at(4).value as forge.asn1.Asn1[];
  const time = (n: forge.asn1.Asn1) =>
    n.type === forge.asn1.Type.UTCTIME
      ? forge.asn1.utcTimeToDate(n.value as string)
      : forge.asn1.generalizedTimeToDate(n.value as string);
  let subject = "";
  if (bag.cert) subject = String(bag.cert.subject.getField("CN")?.value ?? "");
  else {
    for (const rdn of at(5).value as forge.asn1.Asn1[]) {
      const pair = (rdn.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
      if (forge.asn1.derToOid(pair[0]!.value as string) === "2.5.4.3") {
        subject = String(pair[1]!.value);
      }
    }
  }
  return {
    pem: asn1Pem("CERTIFICATE", asn1),
    localKeyId: bag.attributes?.localKeyId?.[0],
    publicKeyDer: forge.asn1.toDer(at(6)).getBytes(),
    subject,
    notBefore: time(validity[0]!),
    notAfter: time(validity[1]!),
  };
}

/**
 * Reads a `.pkcs12` and returns the client identity.
 *
 * @throws {DcError} (exit 5) For a wrong password, a file that is not PKCS#12, no private key,
 * or a certificate outside its validity; every message says what to do.
 */
export function loadPkcs12(
  bytes: Uint8Array,
  options: { password?: string | undefined; file: string; now?: Date },
): ClientIdentity {
  const { file, password } = options;
  const redownload = "download it again from the Defense Center's Host Input Client page";
  let p12: forge.pkcs12.Pkcs12Pfx;
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(binary(bytes));
  } catch {
    throw new DcError(`${file} is not a PKCS#12 file: ${redownload}`);
  }
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, true, password ?? "");
  } catch (error) {
    const text = (error as Error).message ?? "";
    // The one place that reads an error's words: node-forge throws plain Errors with no code or
    // other field ("PKCS#12 MAC could not be verified. Invalid password?"), so the text is the
    // only fact there is. Its messages are fixed strings of the pinned node-forge version.
    if (/MAC could not be verified|Invalid password|decrypt/i.test(text)) {
      throw new DcError(
        `Wrong password for ${file}: give it with -password (or in env QC_PKCS12_PASSWORD), ` +
          "as typed on the Host Input Client page",
      );
    }
    throw new DcError(`${file} is not a PKCS#12 file (${text}): ${redownload}`);
  }
  const bags = (type: string): forge.pkcs12.Bag[] => p12.getBags({ bagType: type })[type] ?? [];
  const keyBags = [...bags(forge.pki.oids.pkcs8ShroudedKeyBag!), ...bags(forge.pki.oids.keyBag!)];
  const certBags = bags(forge.pki.oids.certBag!);
  const keyBag = keyBags[0];
  if (!keyBag) throw new DcError(`${file} holds no private key: ${redownload}`);
  if (certBags.length === 0) throw new DcError(`${file} holds no certificate: ${redownload}`);
  const keyPem = keyBag.key
    ? forge.pki.privateKeyInfoToPem(
      forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key)),
    )
    : asn1Pem("PRIVATE KEY", keyBag.asn1 as forge.asn1.Asn1);
  const certs: CertInfo[] = certBags.map(certInfo);
  // The leaf: same localKeyId as the key, else the same public key, else the first.
  const keyId = keyBag.attributes?.localKeyId?.[0];
  let leaf = keyId ? certs.find((c) => c.localKeyId === keyId) : undefined;
  if (!leaf && keyBag.key) {
    const pub = forge.asn1.toDer(forge.pki.publicKeyToAsn1(
      forge.pki.setRsaPublicKey(
        (keyBag.key as forge.pki.rsa.PrivateKey).n,
        (keyBag.key as forge.pki.rsa.PrivateKey).e,
      ),
    )).getBytes();
    leaf = certs.find((c) => c.publicKeyDer === pub);
  }
  leaf ??= certs[0]!;
  const now = options.now ?? new Date();
  if (now < leaf.notBefore) {
    throw new DcError(
      `The certificate in ${file} is not valid before ${leaf.notBefore.toISOString()}: check this ` +
        "host's clock, or wait",
    );
  }
  if (now > leaf.notAfter) {
    throw new DcError(
      `The certificate in ${file} expired on ${leaf.notAfter.toISOString()}: ${redownload}`,
    );
  }
  return {
    certPem: leaf.pem,
    keyPem,
    caPems: certs.filter((c) => c !== leaf).map((c) => c.pem),
    subject: leaf.subject,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
  };
}

/**
 * Finds the default `.pkcs12`: the first `*.pkcs12` by name in `dir`; also returns the others
 * (for a warning).
 *
 * @throws {LocalIoError} (exit 2) When there is none.
 */
export function findDefaultPkcs12(dir = "."): { path: string; others: string[] } {
  const names = [...Deno.readDirSync(dir)]
    .filter((e) => e.isFile && e.name.endsWith(".pkcs12"))
    .map((e) => e.name)
    .sort();
  if (names.length === 0) {
    throw new LocalIoError(
      "No *.pkcs12 certificate in the current directory: download one from the Defense Center's " +
        "Host Input Client page, put it here, or name it with -pkcs12",
      // the directory by its name, not "." (which read as a stray ".:" before the message)
      { path: dir === "." ? Deno.cwd() : dir, usage: true },
    );
  }
  return { path: dir === "." ? names[0]! : `${dir}/${names[0]}`, others: names.slice(1) };
}

/**
 * Reads a `.pkcs12` file.
 *
 * @throws {LocalIoError} When the file cannot be read (exit 2 when it does not exist, else 7);
 * {@linkcode DcError} otherwise.
 */
export async function readPkcs12(
  path: string,
  options: { password?: string | undefined; now?: Date } = {},
): Promise<ClientIdentity> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new LocalIoError(
      `Cannot read the client certificate: ${(error as Error).message}: check -pkcs12`,
      { path, cause: error, usage: isWrongPath(error) },
    );
  }
  return loadPkcs12(bytes, { ...options, file: path });
}
