/**
 * The time model of the simulated subscription: simulated day `d` ends at `clock = start + d
 * days` (the server's `DATETIME` all that day). Everything that happens on day `d` (a scan, its
 * processing, a KB change) happens strictly between the clocks of day `d − 1` and day `d`, so
 * `vm_processed_after=<clock of day d − 1>` selects exactly the hosts scanned on day `d` or later.
 *
 * @module
 */

import { DAY } from "./dates_addresses.ts";
import { hash } from "./random.ts";

/** The clock of each simulated day, and when each host was scanned and processed on it. */
export class Timeline {
  /** The subscription's seed (scan times are hashed from it). */
  readonly seed: number;
  /** The clock of day 0, epoch seconds. */
  readonly start: number;

  /** A timeline starting at `start` (epoch seconds) for a subscription of this `seed`. */
  constructor(seed: number, start: number) {
    this.seed = seed;
    this.start = start;
  }

  /** The server clock of simulated day `day`, epoch seconds. */
  clockOf(day: number): number {
    return this.start + day * DAY;
  }

  /** When host `h` was scanned on day `day`: within (clock(day − 1), clock(day) − 1 h]. */
  scanTime(h: number, day: number): number {
    return this.clockOf(day) - 3600 - hash(this.seed, h, day, 1) % 79200;
  }

  /** How long that scan took, seconds. */
  scanDuration(h: number, day: number): number {
    return 240 + hash(this.seed, h, day, 2) % 2400;
  }

  /** When that scan was processed: after the scan, before the day's clock. */
  processedTime(h: number, day: number): number {
    return this.scanTime(h, day) + this.scanDuration(h, day) + 60 +
      hash(this.seed, h, day, 4) % 540;
  }
}
