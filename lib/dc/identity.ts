/**
 * The client identity for the Defense Center: the `.pkcs12` named by `-pkcs12` (default: the
 * first `*.pkcs12` in the current directory, with a warning naming the others), its password
 * (`-password`, or the environment's `QC_PKCS12_PASSWORD`: the command line parser takes it from
 * there), and a warning when the certificate expires within 30 days.
 *
 * @module
 */

import type { Log } from "../log/log.ts";
import type { ClientIdentity } from "./pkcs12.ts";

export type { ClientIdentity };

/** Options for {@linkcode loadIdentity}. */
export interface LoadIdentityOptions {
  /** The `-pkcs12` path. @default the first `*.pkcs12` in the current directory */
  pkcs12?: string | undefined;
  /** The `.pkcs12` password. @default none */
  password?: string | undefined;
  /** Where to warn: several certificates, or one that expires soon. */
  log?: Pick<Log, "warn">;
  /** The current time, for the expiry warning. @default now */
  now?: Date;
}

/**
 * Reads the client certificate and key; returns them with the file they came from.
 *
 * @throws {LocalIoError} When there is no `.pkcs12` or it cannot be read (exit 2).
 * @throws {DcError} When it is not a PKCS#12 file, the password is wrong, or the certificate is
 * out of its dates (exit 5).
 */
export async function loadIdentity(
  options: LoadIdentityOptions = {},
): Promise<{ identity: ClientIdentity; path: string }> {
  // node-forge is loaded only when a Defense Center is involved.
  const { findDefaultPkcs12, readPkcs12 } = await import("./pkcs12.ts");
  const { log } = options;
  let path = options.pkcs12;
  if (path === undefined) {
    const found = findDefaultPkcs12(".");
    path = found.path;
    if (found.others.length > 0) {
      log?.warn(
        `Several .pkcs12 files here: using ${path}, not ${found.others.join(", ")}; ` +
          "name the right one with -pkcs12",
      );
    }
  }
  const password = options.password;
  const now = options.now ?? new Date();
  const identity = await readPkcs12(path, { password, now });
  const days = Math.floor((identity.notAfter.getTime() - now.getTime()) / 86400_000);
  if (days < 30) {
    log?.warn(
      `The client certificate in ${path} expires in ${days} days: download a new one soon`,
    );
  }
  return { identity, path };
}
