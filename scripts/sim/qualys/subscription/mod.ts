/**
 * The simulated Qualys VMDR subscription the Qualys API simulator serves
 * ({@linkcode VmdrSubscription}), the records and filters it deals in, and the dates and
 * addresses as Qualys writes them.
 *
 * @module
 */

export * from "./records.ts";
export { VmdrSubscription, type VmdrSubscriptionOptions } from "./subscription.ts";
export type { DayChanges, DayReport } from "./day_changes.ts";
export {
  formatDateTime,
  formatIpv4,
  formatIpv6,
  parseIpv4,
  parseQualysDate,
} from "./dates_addresses.ts";
