import { DurableTaskRuntime, type TaskStore } from '../../index.js';

/** Monday 2026-01-05 09:00 UTC: where the simulated time of a fresh run starts. */
export const SIMULATION_START = Date.UTC(2026, 0, 5, 9, 0, 0);

/** Simulated time for the attempt ledger: it moves only when the simulation says so, never with the wall clock. */
export class SimulatedClock {
  /** Milliseconds since the epoch. */
  now = SIMULATION_START;

  /** The `clock` option of the task runtimes. */
  readonly read = (): Date => new Date(this.now);

  /**
   * A clock a minute after the latest time in the ledgers of the tasks `taskIds` stored in `store` (or at the
   * start): where a resumed run carries on. Read before the run opens, so that what `open` repairs after a crash
   * is stamped with that time too.
   */
  static async resumedFrom(store: TaskStore, taskIds: readonly string[]): Promise<SimulatedClock> {
    const clock = new SimulatedClock();
    for (const id of taskIds) {
      for (const record of (await DurableTaskRuntime.load(store, id))?.attempts ?? []) {
        for (const time of [record.startedAt, record.endedAt]) {
          if (time !== null) clock.now = Math.max(clock.now, Date.parse(time) + 60_000);
        }
      }
    }
    return clock;
  }
}
