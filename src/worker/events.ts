import { InvalidArgumentError, type TaskStoreError } from '../errors.js';
import { describeValue } from '../validation.js';

/** A failed task will be retried: `attemptNum` is the attempt the retry starts, after a pause of `delayMs`. */
export interface RetryScheduledEvent {
  readonly type: 'retryScheduled';
  readonly taskId: string;
  readonly attemptNum: number;
  readonly delayMs: number;
}

/** `run()` found the task as a previous process left it: `running` (failed as worker lost) or `pr_created` (merged again). */
export interface RecoveredEvent {
  readonly type: 'recovered';
  readonly taskId: string;
  readonly status: 'running' | 'pr_created';
}

/** The attempt ran past `attemptTimeoutMs`: its signal aborts and it is failed (retryable) right after this event. */
export interface AttemptTimedOutEvent {
  readonly type: 'attemptTimedOut';
  readonly taskId: string;
  readonly attemptNum: number;
}

/**
 * Shared runs: the store failed a command (unreachable, say); the worker carries on. The task's attempt, if one was
 * in flight, ends there: its lease is given back (or runs out) and the task is taken over like a lost worker's.
 */
export interface StoreFailedEvent {
  readonly type: 'storeFailed';
  /** The task of the command, or null for a command of no task's attempt. */
  readonly taskId: string | null;
  readonly error: TaskStoreError;
}

/** What {@link GraphWorker.subscribe} listeners hear, beside the run's own records. */
export type GraphWorkerEvent =
  | RetryScheduledEvent
  | RecoveredEvent
  | AttemptTimedOutEvent
  | StoreFailedEvent;

/** A function that hears a worker's events; what it throws is reported on the console and otherwise ignored. */
export type GraphWorkerListener = (event: GraphWorkerEvent) => void;

/** The listeners of one worker, told in the order they subscribed. */
export class WorkerListeners {
  readonly #listeners = new Set<GraphWorkerListener>();

  /** Adds `listener` (a function, else InvalidArgumentError); returns the function that removes it. */
  add(listener: GraphWorkerListener): () => void {
    if (typeof listener !== 'function') {
      throw new InvalidArgumentError('listener', 'a function', describeValue(listener));
    }
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Tells every listener; a throwing listener neither stops the others nor the worker. */
  emit(event: GraphWorkerEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(Object.freeze(event));
      } catch (error) {
        console.error(
          `task-runtime: a listener of the worker threw on '${event.type}' of task '${event.taskId}'; ignored.`,
          error,
        );
      }
    }
  }
}
