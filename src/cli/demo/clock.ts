/** Monday 2026-01-05 09:00 UTC: where the simulated time of a fresh run starts. */
export const SIMULATION_START = Date.UTC(2026, 0, 5, 9, 0, 0);

/** Simulated time for the attempt ledger: it moves only when the simulation says so, never with the wall clock. */
export class SimulatedClock {
  /** Milliseconds since the epoch. */
  now = SIMULATION_START;

  /** The `clock` option of the task runtimes. */
  readonly read = (): Date => new Date(this.now);

  /**
   * A clock a minute after the latest of `times` (the stored tasks' last ledger times; null for none), or at the
   * start: where a resumed run carries on. Made before the run opens, so that what `open` repairs after a crash
   * is stamped with that time too.
   */
  static resumedAfter(times: Iterable<string | null>): SimulatedClock {
    const clock = new SimulatedClock();
    for (const time of times) {
      if (time !== null) clock.now = Math.max(clock.now, Date.parse(time) + 60_000);
    }
    return clock;
  }
}
