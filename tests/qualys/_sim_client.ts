/**
 * A Qualys client for the simulator's default credentials and CA, its waits skipped: the setup
 * the Qualys tests share.
 *
 * @module
 */

import { QualysClient, type QualysClientOptions } from "../../lib/qualys/client.ts";

/** A client of `sim` (its URL and CA), as `sim_user`, that does not wait; `options` on top. */
export function simClient(
  sim: { url: string; caPem: string },
  options: Partial<QualysClientOptions> = {},
): QualysClient {
  return QualysClient.open({
    url: sim.url,
    userId: "sim_user",
    password: "sim_pass",
    caPem: sim.caPem,
    sleep: () => Promise.resolve(),
    ...options,
  });
}
