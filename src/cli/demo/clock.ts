/** Monday 2026-01-05 09:00 UTC: where the simulated time of a fresh run starts. */
export const SIMULATION_START = Date.UTC(2026, 0, 5, 9, 0, 0);

/** A simulated agent waiting for its time to come. */
interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly taskId: string;
  readonly wake: () => void;
}

/**
 * Simulated time for the attempt ledger and the simulated agents: it moves only when the simulation says so, never
 * with the wall clock. Agents `sleep` in it; {@link SimulatedClock.advance} wakes the earliest one (ties in the
 * order they fell asleep) and moves the time to its moment, so the same run always happens in the same order.
 */
export class SimulatedClock {
  /** Milliseconds since the epoch. */
  now = SIMULATION_START;
  #sleepers: Sleeper[] = [];
  #seq = 0;
  /** Called whenever an agent falls asleep. */
  onSleep: () => void = () => undefined;

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

  /**
   * Moves the time up to `time` (ISO-8601) when it is later: what another worker of a shared run saved happened
   * then, so what this one does next is stamped after it.
   */
  observe(time: string): void {
    const at = Date.parse(time);
    if (Number.isFinite(at)) this.now = Math.max(this.now, at);
  }

  /** Resolves once the simulation has moved `ms` past now (the agent of `taskId` is busy until then). */
  sleep(taskId: string, ms: number): Promise<void> {
    return new Promise((wake) => {
      this.#seq += 1;
      const sleeper = { at: this.now + ms, seq: this.#seq, taskId, wake };
      const index = this.#sleepers.findIndex(
        (other) => other.at > sleeper.at || (other.at === sleeper.at && other.seq > sleeper.seq),
      );
      if (index === -1) this.#sleepers.push(sleeper);
      else this.#sleepers.splice(index, 0, sleeper);
      this.onSleep();
    });
  }

  /** How many agents are asleep. */
  get sleeping(): number {
    return this.#sleepers.length;
  }

  /** Whether the agent of `taskId` is asleep. */
  isAsleep(taskId: string): boolean {
    return this.#sleepers.some((sleeper) => sleeper.taskId === taskId);
  }

  /** Moves the time to the earliest sleeper's moment and wakes it; false when nobody sleeps. */
  advance(): boolean {
    const next = this.#sleepers.shift();
    if (next === undefined) return false;
    this.now = Math.max(this.now, next.at);
    next.wake();
    return true;
  }
}
