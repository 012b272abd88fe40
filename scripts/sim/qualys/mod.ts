/**
 * The Qualys room of the simulators: the Qualys API server (`server.ts`, which mounts the report
 * flow, the VMDR routes and the API gateway, and answers retired versions), the simulated VMDR
 * subscription it serves (`subscription/`) and the XML it writes. `serve.ts` runs it alone.
 * Tests, the demo and the bench import this module.
 *
 * @module
 */

export * from "./server.ts";
export * from "./versions.ts";
export type * from "./vmdr_options.ts";
export { V5_ELEMENTS } from "./vmdr_xml.ts";
export * from "./subscription/mod.ts";
