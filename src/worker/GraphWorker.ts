import { InvalidArgumentError } from '../errors.js';
import { DurableTaskGraphRuntime } from '../graph/DurableTaskGraphRuntime.js';
import { type RunOutcome, TaskGraphRuntime } from '../graph/TaskGraphRuntime.js';
import { describeValue } from '../validation.js';
import { Execution, type GraphWorkerRun } from './Execution.js';
import { type GraphWorkerListener, WorkerListeners } from './events.js';
import {
  type CheckedOptions,
  checkOptions,
  checkRunOptions,
  type GraphWorkerOptions,
  type GraphWorkerRunOptions,
} from './options.js';

export type { GraphWorkerRun } from './Execution.js';

/**
 * The loop that executes a run: starts what is ready while a slot is free, calls `work` then `merge` for each
 * attempt, records the PR, the merge or the failure through the run's own commands (so every rule of the run
 * applies), retries failures after `retryDelayMs`, times attempts out, and on start recovers what a previous process
 * left running (failed as a lost attempt, then retried) or pr_created (merged again, without new work).
 *
 * Choices where the contract is silent:
 * - Stopping (`run({ signal })`) waits for the in-flight handlers, as the contract says, so a handler that never
 *   settles keeps `run()` waiting unless `attemptTimeoutMs` is set (the timeout still applies while stopping). A
 *   `work` that returns after the stop has its PR recorded; its `merge` waits for the next `run()`.
 * - A store failure does not wait for handlers: the in-flight attempts are abandoned (their signals abort, their
 *   contexts refuse commands) once their pending commands settle, and `run()` rejects. A later `run()` finds those
 *   tasks running or pr_created and recovers them.
 * - When nothing is in flight, nothing is ready and no retry is due, but the run is still in progress (another
 *   holder of the run owns a task), `run()` waits for the run's records and looks again at each one.
 * - A retry's delay counts from when this worker saw the failure (a failure found at start waits its full delay).
 * @example
 * const worker = new GraphWorker(run, {
 *   work: async (task, attempt) => ({ prUrl: await agent.implement(task.task, attempt.signal) }),
 *   merge: async (task) => github.waitForMerge(task.artifacts.prUrl),
 *   concurrency: 4,
 * });
 * const outcome = await worker.run(); // 'succeeded' or 'completed_with_failures'
 */
export class GraphWorker {
  /** The run this worker executes. */
  readonly graphRun: GraphWorkerRun;
  readonly #options: CheckedOptions;
  readonly #listeners = new WorkerListeners();
  #running = false;

  /** @throws {InvalidArgumentError} for a run that is neither kind of graph run, or a bad option (named). */
  constructor(run: GraphWorkerRun, options: GraphWorkerOptions) {
    if (!(run instanceof TaskGraphRuntime) && !(run instanceof DurableTaskGraphRuntime)) {
      throw new InvalidArgumentError(
        'run',
        'a TaskGraphRuntime or a DurableTaskGraphRuntime',
        describeValue(run),
      );
    }
    this.graphRun = run;
    this.#options = checkOptions(options);
  }

  /** Whether `run()` is going. */
  get isRunning(): boolean {
    return this.#running;
  }

  /**
   * Executes the run until its outcome is settled and nothing is in flight, then resolves with the outcome; on
   * `signal`'s abort, winds down (see the class) and resolves with the outcome then, maybe `'in_progress'`.
   * @throws {InvalidArgumentError} while another `run()` of this worker is going, for bad options, or when the
   * `retryDelayMs` function returns a bad delay.
   * @throws the store's error (e.g. TaskStoreError) when a command's save fails; reopen the run and run again.
   */
  async run(options?: GraphWorkerRunOptions): Promise<RunOutcome> {
    if (this.#running) {
      throw new InvalidArgumentError(
        'run()',
        'one run() at a time per worker (await the first, or stop it with its signal)',
        'a second call while one is going',
      );
    }
    const signal = checkRunOptions(options);
    this.#running = true;
    try {
      const execution = new Execution(
        this.graphRun,
        this.#options,
        (event) => this.#listeners.emit(event),
        signal,
      );
      return await execution.execute();
    } finally {
      this.#running = false;
    }
  }

  /** Calls `listener` with the worker's events (`retryScheduled`, `recovered`, `attemptTimedOut`); returns the unsubscribe function. */
  subscribe(listener: GraphWorkerListener): () => void {
    return this.#listeners.add(listener);
  }
}
