import assert from "node:assert/strict";
import { type ConfigError, DcError } from "../../lib/errors.ts";
import { findDefaultPkcs12, loadPkcs12, readPkcs12 } from "../../lib/dc/pkcs12.ts";
import { createTestCa } from "../../scripts/sim/net/mod.ts";
import { haveCommand, ignoreUnless } from "../_skip.ts";

const CA = createTestCa("pkcs12 test CA");

const OPENSSL_VARIANTS = "loadPkcs12 reads every variant OpenSSL writes";
const noOpenssl = ignoreUnless(
  await haveCommand("openssl", ["version"]),
  OPENSSL_VARIANTS,
  "openssl is not installed: the OpenSSL-made PKCS#12 variants are not tested",
);

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test({ name: OPENSSL_VARIANTS, ignore: noOpenssl }, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "qc-p12-" });
  try {
    const client = CA.issue({ cn: "rsa-client", usage: "client" });
    await Deno.writeTextFile(`${dir}/client.pem`, client.certPem);
    await Deno.writeTextFile(`${dir}/client.key`, client.keyPem);
    await Deno.writeTextFile(`${dir}/ca.pem`, CA.caPem);
    await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"], dir);
    await openssl(
      ["req", "-new", "-key", "ec.key", "-subj", "/CN=ec-client", "-out", "ec.csr"],
      dir,
    );
    await Deno.writeTextFile(`${dir}/ca.key`, (CA as unknown as { keyPem: string }).keyPem);
    await openssl([
      "x509",
      "-req",
      "-in",
      "ec.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "30",
      "-out",
      "ec.pem",
    ], dir);
    const variants: [string, string[], string, string][] = [
      ["OpenSSL 3 default (AES-256, PBKDF2)", [], "s3cret", "rsa-client"],
      ["legacy (RC2-40 certificates, 3DES key, SHA-1 MAC)", ["-legacy"], "s3cret", "rsa-client"],
      [
        "legacy 3DES for both",
        ["-legacy", "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES"],
        "s3cret",
        "rsa-client",
      ],
      ["an empty password", [], "", "rsa-client"],
      ["a legacy file with an empty password", ["-legacy"], "", "rsa-client"],
      [
        "no encryption and no MAC",
        ["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"],
        "",
        "rsa-client",
      ],
      ["a UTF-8 password (AES)", [], "pässwörd€", "rsa-client"],
      ["a UTF-8 password (legacy)", ["-legacy"], "pässwörd€", "rsa-client"],
      ["an EC key", [], "s3cret", "ec-client"],
    ];
    for (const [name, extra, password, cn] of variants) {
      await t.step(name, async () => {
        const [cert, key] = cn === "ec-client"
          ? ["ec.pem", "ec.key"]
          : ["client.pem", "client.key"];
        await openssl([
          "pkcs12",
          "-export",
          "-in",
          cert,
          "-inkey",
          key,
          "-certfile",
          "ca.pem",
          "-passout",
          `pass:${password}`,
          ...extra,
          "-out",
          "c.p12",
        ], dir);
        const id = loadPkcs12(await Deno.readFile(`${dir}/c.p12`), { password, file: "c.p12" });
        assert.equal(id.subject, cn);
        assert.match(id.keyPem, /-----BEGIN PRIVATE KEY-----/);
        assert.deepStrictEqual(id.caPems.map((p) => p.replace(/\r/g, "").trim()), [
          CA.caPem.replace(/\r/g, "").trim(),
        ]);
        if (!extra.includes("-nomac")) { // without a MAC, nothing can tell a wrong password
          assert.throws(
            () =>
              loadPkcs12(Deno.readFileSync(`${dir}/c.p12`), {
                password: `${password}x`,
                file: "c.p12",
              }),
            /Wrong password for c\.p12/,
          );
        }
      });
    }
    await t.step("a file without a private key", async () => {
      await openssl([
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        "client.pem",
        "-passout",
        "pass:x",
        "-out",
        "nokey.p12",
      ], dir);
      assert.throws(
        () =>
          loadPkcs12(Deno.readFileSync(`${dir}/nokey.p12`), { password: "x", file: "nokey.p12" }),
        /holds no private key: download it again/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadPkcs12 names a file that is not PKCS#12, and expired or not-yet-valid certificates", async () => {
  assert.throws(
    () => loadPkcs12(new TextEncoder().encode("-----BEGIN CERTIFICATE-----"), { file: "x.pkcs12" }),
    (e: DcError) => {
      assert.ok(e instanceof DcError);
      assert.equal(e.exitCode, 5);
      assert.match(
        e.message,
        /x\.pkcs12 is not a PKCS#12 file: download it again from the Defense Center's Host Input Client page/,
      );
      return true;
    },
  );
  const { startDcSim } = await import("../../scripts/sim/fmc/mod.ts");
  const sim = await startDcSim({}, { ca: CA });
  try {
    const p12 = sim.issueClient({ password: "pw", notAfter: new Date(Date.now() - 86400_000) });
    assert.throws(
      () => loadPkcs12(p12, { password: "pw", file: "old.pkcs12" }),
      /certificate in old\.pkcs12 expired on .*: download it again/,
    );
    const fresh = sim.issueClient({ password: "pw" });
    assert.throws(
      () =>
        loadPkcs12(fresh, {
          password: "pw",
          file: "f.pkcs12",
          now: new Date(Date.now() - 3 * 86400_000),
        }),
      /not valid before .*clock/,
    );
    const ok = loadPkcs12(sim.issueClient({ algorithm: "3des" }), { file: "nopw.pkcs12" });
    assert.equal(ok.subject, "qualys-connector-host");
  } finally {
    await sim.shutdown();
  }
});

Deno.test("findDefaultPkcs12 takes the first *.pkcs12 by name and lists the others; a missing file is exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.throws(
      () => findDefaultPkcs12(dir),
      (e: ConfigError) => e.exitCode === 2 && /No \*\.pkcs12 certificate/.test(e.message),
    );
    for (const n of ["b.pkcs12", "a.pkcs12", "c.p12"]) await Deno.writeTextFile(`${dir}/${n}`, "x");
    assert.deepStrictEqual(findDefaultPkcs12(dir), {
      path: `${dir}/a.pkcs12`,
      others: ["b.pkcs12"],
    });
    await assert.rejects(readPkcs12(`${dir}/missing.pkcs12`), (e: ConfigError) => e.exitCode === 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
