import { InvalidArgumentError } from '../errors.js';
import type { TaskGraphTaskView } from '../graph/TaskGraphRuntime.js';
import { describeValue, isPositiveInteger, isRecord } from '../validation.js';
import type { AttemptContext } from './AttemptContext.js';

/** What `work` must return: the URL of the pull request the agent opened. */
export interface WorkResult {
  readonly prUrl: string;
}

/** The agent's work for one attempt: resolves with the PR; throws or rejects to fail the attempt. */
export type WorkHandler = (
  task: TaskGraphTaskView,
  attempt: AttemptContext,
) => Promise<WorkResult> | WorkResult;

/** Waits until the attempt's PR is merged; throws or rejects to fail the attempt. */
export type MergeHandler = (
  task: TaskGraphTaskView,
  attempt: AttemptContext,
) => Promise<void> | void;

/** The failed attempt a `retryDelayMs` function is asked about. */
export interface FailedAttempt {
  readonly taskId: string;
  readonly attemptNum: number;
  readonly error: string;
}

/** Options of a {@link GraphWorker}. */
export interface GraphWorkerOptions {
  /** The agent's work: resolves with `{ prUrl }`. */
  readonly work: WorkHandler;
  /** Waits for the PR's merge. */
  readonly merge: MergeHandler;
  /** How many attempts may be in flight at once (work and merge both count); a positive integer. @default 1 */
  readonly concurrency?: number;
  /**
   * The pause between a failure and its retry, in ms: a number, or a function of the failed attempt.
   * @default (failed) => Math.min(1000 * 2 ** failed.attemptNum, 300_000)
   */
  readonly retryDelayMs?: number | ((failed: FailedAttempt) => number);
  /** How long an attempt may take, work and merge together, in ms; positive. @default undefined (no limit) */
  readonly attemptTimeoutMs?: number;
}

/** Options of {@link GraphWorker.run}. */
export interface GraphWorkerRunOptions {
  /** Stops the worker: no new attempt or retry starts, in-flight attempts' signals abort, their results are recorded. */
  readonly signal?: AbortSignal;
}

/** The default pause before a retry: 1 s doubled per attempt number, at most 5 minutes. */
export function defaultRetryDelayMs(failed: FailedAttempt): number {
  return Math.min(1000 * 2 ** failed.attemptNum, 300_000);
}

/** The options of a worker once checked, defaults filled in. */
export interface CheckedOptions {
  readonly work: WorkHandler;
  readonly merge: MergeHandler;
  readonly concurrency: number;
  readonly retryDelayMs: (failed: FailedAttempt) => number;
  /** null for no limit. */
  readonly attemptTimeoutMs: number | null;
}

const DELAY = 'a non-negative finite number of milliseconds';

/** Checks a worker's options; each problem is an InvalidArgumentError naming the option. */
export function checkOptions(options: unknown): CheckedOptions {
  if (!isRecord(options)) {
    throw new InvalidArgumentError(
      'options',
      'an object { work, merge, concurrency?, retryDelayMs?, attemptTimeoutMs? }',
      describeValue(options),
    );
  }
  const { work, merge, concurrency = 1, retryDelayMs, attemptTimeoutMs } = options;
  if (typeof work !== 'function') {
    throw new InvalidArgumentError(
      'options.work',
      'a function (task, attempt) => { prUrl }',
      describeValue(work),
    );
  }
  if (typeof merge !== 'function') {
    throw new InvalidArgumentError(
      'options.merge',
      'a function (task, attempt) => void',
      describeValue(merge),
    );
  }
  if (!isPositiveInteger(concurrency)) {
    throw new InvalidArgumentError(
      'options.concurrency',
      'a positive integer',
      describeValue(concurrency),
    );
  }
  return {
    work: work as WorkHandler,
    merge: merge as MergeHandler,
    concurrency,
    retryDelayMs: checkRetryDelay(retryDelayMs),
    attemptTimeoutMs: checkTimeout(attemptTimeoutMs),
  };
}

function checkRetryDelay(value: unknown): (failed: FailedAttempt) => number {
  if (value === undefined) return defaultRetryDelayMs;
  if (typeof value === 'function') {
    const delayOf = value as (failed: FailedAttempt) => unknown;
    return (failed) => {
      const delay = delayOf(failed);
      if (isDelay(delay)) return delay;
      throw new InvalidArgumentError(
        'options.retryDelayMs',
        `a function returning ${DELAY}, asked about attempt ${failed.attemptNum} of task '${failed.taskId}'`,
        `it returned ${describeValue(delay)}`,
      );
    };
  }
  if (isDelay(value)) return () => value;
  throw new InvalidArgumentError(
    'options.retryDelayMs',
    `${DELAY}, or a function of the failed attempt returning one`,
    describeValue(value),
  );
}

function checkTimeout(value: unknown): number | null {
  if (value === undefined) return null;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  throw new InvalidArgumentError(
    'options.attemptTimeoutMs',
    'a positive finite number of milliseconds (leave it out for no limit)',
    describeValue(value),
  );
}

function isDelay(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Checks the options of `run()`: an object whose `signal`, when given, is an AbortSignal. */
export function checkRunOptions(options: unknown): AbortSignal | null {
  if (options === undefined) return null;
  if (!isRecord(options)) {
    throw new InvalidArgumentError('options', 'an object { signal? }', describeValue(options));
  }
  const { signal } = options;
  if (signal === undefined) return null;
  if (signal instanceof AbortSignal) return signal;
  throw new InvalidArgumentError('options.signal', 'an AbortSignal', describeValue(signal));
}
