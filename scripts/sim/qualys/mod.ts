/**
 * The Qualys room of the simulators: the Qualys API server (`server.ts`: the report flow, the
 * VMDR routes, the API gateway, versions), the simulated VMDR subscription it serves
 * (`subscription/`) and the XML it writes. Tests, the demo and the bench import this module.
 *
 * @module
 */

export * from "./server.ts";
export * from "./vmdr_routes.ts";
export { V5_ELEMENTS } from "./vmdr_xml.ts";
export * from "./subscription/mod.ts";
