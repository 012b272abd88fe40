/**
 * Trusting the Defense Center's certificate, through the CLI: verified against the CA in the
 * `.pkcs12` first; when that fails, a message with the certificate's subject, validity and
 * SHA-256 fingerprint; `-pin` / `dc_fingerprint` trust exactly that certificate, and a pin that
 * does not match is exit 5 naming both fingerprints.
 */

import assert from "node:assert/strict";
import forge from "node-forge";
import { type DcSim, startDcSim } from "../../scripts/sim/fmc/mod.ts";
import { createTestCa, type TestCa } from "../../scripts/sim/net/mod.ts";
import { type CliResult, runMain } from "../_cli.ts";

const SAMPLE = new URL("../../fixtures/sample_report.xml", import.meta.url).pathname;
const CA = createTestCa("dc trust test CA");
const OTHER_CA = createTestCa("FMC internal CA");

/** The SHA-256 of a PEM certificate's DER bytes, lower-case hex: worked out here, not by the connector. */
async function fingerprintOf(pem: string): Promise<string> {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The same `.pkcs12` without its CA certificate. */
function withoutCa(p12: Uint8Array): Uint8Array {
  const parsed = forge.pkcs12.pkcs12FromAsn1(
    forge.asn1.fromDer(forge.util.binary.raw.encode(p12)),
    "",
  );
  const certBag = forge.pki.oids.certBag!, keyBag = forge.pki.oids.pkcs8ShroudedKeyBag!;
  const key = parsed.getBags({ bagType: keyBag })[keyBag]![0]!.key!;
  const leaf = parsed.getBags({ bagType: certBag })[certBag]!.find((b) =>
    b.cert!.subject.getField("CN")?.value === "qualys-connector-host"
  )!.cert!;
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, [leaf], "", { algorithm: "aes256" });
  return Uint8Array.from(forge.asn1.toDer(asn1).getBytes(), (c) => c.charCodeAt(0));
}

async function withDc(
  serverCa: TestCa | undefined,
  body: (run: (args: string[]) => Promise<CliResult>, dc: DcSim, dir: string) => Promise<void>,
): Promise<void> {
  const dc = await startDcSim({ recordPayloads: true }, {
    ca: CA,
    ...(serverCa ? { serverCa } : {}),
  });
  const dir = await Deno.makeTempDir({ prefix: "qc-dc-trust-" });
  try {
    await Deno.writeFile(`${dir}/CertFile.pkcs12`, dc.issueClient());
    const base = [`-server=${dc.host}`, `-port=${dc.port}`, "-r", SAMPLE];
    await body((args) => runMain([...base, ...args], { cwd: dir }), dc, dir);
  } finally {
    await dc.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

const all = (r: CliResult) => r.stdout + r.stderr;

Deno.test("a DC certificate signed by the CA in the .pkcs12 is verified, no pin needed", async () => {
  await withDc(undefined, async (run, dc) => {
    const r = await run([]);
    assert.equal(r.code, 0, all(r));
    assert.equal(Object.keys(dc.dump()).length, 4);
    assert.doesNotMatch(all(r), /pinned|fingerprint/);
  });
});

Deno.test("a DC certificate from a CA not in the .pkcs12: exit 5 showing its subject, validity and fingerprint; nothing sent", async () => {
  await withDc(OTHER_CA, async (run, dc, dir) => {
    const fp = await fingerprintOf(dc.certPem);
    const r = await run([]);
    assert.equal(r.code, 5, all(r));
    assert.match(
      r.stdout,
      new RegExp(
        `The Defense Center's certificate at 127\\.0\\.0\\.1:${dc.port} is not signed by the CA in ` +
          `the \\.pkcs12 \\([^)]+\\)\\. It presents CN=fmc\\.example\\.internal, issued by ` +
          `CN=FMC internal CA, valid \\d{4}-\\d\\d-\\d\\d to \\d{4}-\\d\\d-\\d\\d, fingerprint ` +
          `sha256:${fp}\\. If -server is the right Defense Center, check that fingerprint out of ` +
          `band .*trust exactly this certificate with -pin sha256:${fp} or "dc_fingerprint: ` +
          `sha256:${fp}" in the plugin YAML`,
      ),
    );
    assert.equal(dc.payloads.length, 0, "nothing was sent");
    // -check says the same, on the TLS step.
    const c = await run(["-check"]);
    assert.equal(c.code, 5, all(c));
    assert.match(c.stdout, new RegExp(`^FAIL TLS handshake with .*fingerprint sha256:${fp}`, "m"));
    // A .pkcs12 without any CA: the system roots do not know the DC either.
    await Deno.writeFile(`${dir}/NoCa.pkcs12`, withoutCa(dc.issueClient()));
    const noCa = await run(["-pkcs12", "NoCa.pkcs12"]);
    assert.equal(noCa.code, 5, all(noCa));
    assert.match(
      noCa.stdout,
      new RegExp(
        "is not trusted: the \\.pkcs12 holds no CA certificate and the system's CA roots do " +
          `not vouch for it \\([^)]+\\)\\. It presents CN=fmc\\.example\\.internal.* -pin sha256:${fp}`,
      ),
    );
    assert.equal(dc.payloads.length, 0);
  });
});

Deno.test("-pin trusts exactly the DC certificate it names, whatever signed it; dc_fingerprint too, and -pin wins", async () => {
  await withDc(OTHER_CA, async (run, dc, dir) => {
    const fp = await fingerprintOf(dc.certPem);
    const r = await run(["-pin", `sha256:${fp}`]);
    assert.equal(r.code, 0, all(r));
    assert.match(r.stdout, new RegExp(`its certificate is the pinned one, sha256:${fp}`));
    assert.equal(Object.keys(dc.dump()).length, 4);
    // The YAML's dc_fingerprint, written as openssl prints it (colons, upper case).
    const colons = fp.toUpperCase().match(/../g)!.join(":");
    await Deno.writeTextFile(`${dir}/q.yaml`, `dc_fingerprint: "sha256:${colons}"\n`, {
      mode: 0o600,
    });
    const fromYaml = await run(["-pl", "q.yaml"]);
    assert.equal(fromYaml.code, 0, all(fromYaml));
    const wrong = "0".repeat(64);
    const pinWins = await run(["-pl", "q.yaml", "-pin", `sha256:${wrong}`]);
    assert.equal(pinWins.code, 5, all(pinWins));
    assert.match(
      pinWins.stdout,
      new RegExp(`fingerprint sha256:${fp}, not the pinned sha256:${wrong}`),
    );
    const check = await run(["-check", "-pl", "q.yaml", "-insecure"]);
    assert.equal(check.code, 0, all(check));
    assert.match(
      check.stdout,
      new RegExp(
        `^OK {3}TLS and host input version .*its certificate is the pinned one \\(sha256:${fp}\\)`,
        "m",
      ),
    );
  });
});

Deno.test("a pin that does not match the DC's certificate: exit 5 naming both fingerprints, even when the CA would vouch for it", async () => {
  await withDc(undefined, async (run, dc) => {
    const fp = await fingerprintOf(dc.certPem);
    const pinned = fp.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    const r = await run([`-pin=sha256:${pinned}`, "-insecure"]);
    assert.equal(r.code, 5, all(r));
    assert.match(
      r.stdout,
      /-insecure is ignored: -pin trusts exactly the Defense Center certificate/,
    );
    assert.match(
      r.stdout,
      new RegExp(
        `The Defense Center at 127\\.0\\.0\\.1:${dc.port} presented a certificate with ` +
          `fingerprint sha256:${fp}, not the pinned sha256:${pinned} \\(-pin or dc_fingerprint\\): ` +
          "CN=fmc\\.example\\.internal, issued by CN=dc trust test CA, valid .*Nothing was sent",
      ),
    );
    assert.equal(dc.payloads.length, 0);
    const c = await run(["-check", `-pin=sha256:${pinned}`]);
    assert.equal(c.code, 5);
    assert.match(
      c.stdout,
      new RegExp(`^FAIL TLS handshake with .*not the pinned sha256:${pinned}`, "m"),
    );
  });
});
