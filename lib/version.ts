/** The version of qualys_connector, printed by `-version` and with no arguments. */
export const VERSION = "2.0.0";
