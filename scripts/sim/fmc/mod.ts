/**
 * The Defense Center room of the simulators: the mutual-TLS Defense Center (`defense_center.ts`)
 * over what the FMC holds (`fmc_state.ts`) and the semantics of its host input module
 * (`host_input_session.ts`, replayable without TLS), and Defense Centers that misbehave
 * (`faulty_dc.ts`). Tests, the demo and the bench import this module.
 *
 * @module
 */

export * from "./defense_center.ts";
export * from "./faulty_dc.ts";
export * from "./fmc_state.ts";
export {
  HOST_INPUT_FIELDS,
  isValidIp,
  isValidMac,
  MODULE_PATH,
  parseCsvLine,
} from "./host_input_grammar.ts";
export * from "./host_input_session.ts";
