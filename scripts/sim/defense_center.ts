/**
 * The Defense Center simulator's old address, kept only for the `@example` of
 * `lib/sink/dc_sink.ts` (lib/ is restructured apart from the simulators, issue 19): delete this
 * file once that example imports `scripts/sim/fmc/mod.ts` or nothing from `scripts/`.
 *
 * @module
 */

export { startDcSim } from "./fmc/mod.ts";
