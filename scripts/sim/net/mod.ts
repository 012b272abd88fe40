/**
 * The network room of the simulators: a throw-away PKI for the loopback servers (`pki.ts`) and a
 * CONNECT proxy (`connect_proxy.ts`). Tests, the demo and the bench import this module.
 *
 * @module
 */

export * from "./pki.ts";
export * from "./connect_proxy.ts";
