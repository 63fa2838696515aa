import type { AttemptRecord } from '../../index.js';

/** Monday 2026-01-05 09:00 UTC: where the simulated time of a fresh run starts. */
export const SIMULATION_START = Date.UTC(2026, 0, 5, 9, 0, 0);

/** Simulated time for the attempt ledger: it moves only when the simulation says so, never with the wall clock. */
export class SimulatedClock {
  /** Milliseconds since the epoch. */
  now = SIMULATION_START;

  /** The `clock` option of the task runtimes. */
  readonly read = (): Date => new Date(this.now);

  /** Moves to a minute after the latest time in `ledgers` (or stays at the start): where a resumed run carries on. */
  resumeAfter(ledgers: readonly (readonly AttemptRecord[])[]): void {
    let latest = Number.NEGATIVE_INFINITY;
    for (const record of ledgers.flat()) {
      for (const time of [record.startedAt, record.endedAt]) {
        if (time !== null) latest = Math.max(latest, Date.parse(time));
      }
    }
    if (Number.isFinite(latest)) this.now = Math.max(this.now, latest + 60_000);
  }
}
