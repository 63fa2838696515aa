import { InvalidArgumentError } from '../errors.js';
import { describeValue, isRecord } from '../validation.js';
import { checkTaskId } from './storeArguments.js';
import type { Lease, LeaseOptions, StoredTask, TaskStore } from './TaskStore.js';

/** The longest run id a store accepts, in UTF-16 code units. */
export const MAX_RUN_ID_LENGTH = 200;

/** One task of a run as the store needs it to find ready work. */
export interface RunTaskEntry {
  readonly taskId: string;
  /** Ids of tasks of the same run that must be pr_merged before this one may start. */
  readonly dependencies: readonly string[];
  /** The snapshot to store when the task is not stored yet (a fresh task's `persist()`). */
  readonly snapshot: unknown;
}

/** A task claimed because it was ready, with its lease and its stored state. */
export interface ReadyClaim {
  readonly taskId: string;
  /** The lease just claimed: carry it in the saves of the attempt. */
  readonly lease: Lease;
  /** The task as stored when it was claimed (its `lease` is the one above). */
  readonly stored: StoredTask;
}

/** A task and the revision a worker last saw of it, for {@link SharedRunStore.loadChanged}. */
export interface KnownRevision {
  readonly taskId: string;
  /** The revision last seen; 0 for a task never seen. */
  readonly revision: number;
}

/** A task {@link SharedRunStore.loadChanged} found changed or leased. */
export interface ChangedTask {
  readonly taskId: string;
  /** The task's lease as stored (it may have run out); null when none is held. */
  readonly lease: Lease | null;
  /** The task as stored when its revision differs from the one given; null when it is the same. */
  readonly stored: StoredTask | null;
}

/**
 * A store that tells what changed among many tasks in one go (PostgresTaskStore in one statement, FileTaskStore in a
 * few jobs of its threads): a durable run opens and follows the other workers with it.
 */
export interface ChangeLoader {
  /**
   * What changed among `known` since a worker last saw them: each task stored at another revision (with its
   * snapshot) or holding a lease (with the lease only, when its revision is the same), in no particular order. A
   * task not listed back is stored at the revision given, with no lease; one not stored at all is not listed.
   * @throws {InvalidArgumentError} for a bad task id or revision.
   */
  loadChanged(known: readonly KnownRevision[]): Promise<ChangedTask[]>;
}

/** Whether `store` tells what changed among many tasks in one go ({@link ChangeLoader}). */
export function canLoadChanged(store: TaskStore): store is TaskStore & ChangeLoader {
  return typeof (store as Partial<ChangeLoader>).loadChanged === 'function';
}

/**
 * What a store can do for shared runs beyond {@link TaskStore}: find the next ready task of a run without loading
 * the run, and tell idle workers when one may have become ready. A run is named by an id the caller chooses, so
 * several runs share one store without seeing each other's work; a task id is one task in the store, so two runs
 * that list the same id share that task.
 */
export interface SharedRunStore extends ChangeLoader {
  /**
   * Registers the run's tasks, in this order, with their dependencies, and creates the tasks not stored yet, all in
   * one transaction: no worker sees half a run. Idempotent; of concurrent callers every call succeeds and each task
   * is created once. Resolves with the ids it created, in the order given. Dependencies must name tasks of the run
   * and form no cycle (the tasks of a cycle never become ready).
   * @throws {InvalidArgumentError} for a bad `runId` or `tasks`, or a `runId` registered with other tasks or
   * dependencies.
   */
  openRun(runId: string, tasks: readonly RunTaskEntry[]): Promise<string[]>;
  /**
   * Claims the run's first ready task in the order given to `openRun`: pending with its current attempt unused, every
   * dependency pr_merged, and no live lease. One statement; concurrent callers never get the same task. Resolves
   * with null when none is ready. Does not change the task's revision.
   * @throws {InvalidArgumentError} for a bad `runId`, `workerId` or `leaseMs`.
   */
  claimReady(runId: string, workerId: string, options: LeaseOptions): Promise<ReadyClaim | null>;
  /**
   * Calls `listener` when a task of the run may have become ready (a dependency merged, or a task became startable
   * with its dependencies merged), and after a lost connection to the store came back. A hint, neither exact nor
   * certain: poll `claimReady` as well. Resolves once listening, with the function that stops it.
   * @throws {InvalidArgumentError} for a bad `runId`; {@link TaskStoreError} when the store cannot listen.
   */
  listenReady(runId: string, listener: () => void): Promise<() => Promise<void>>;
}

/** Whether `store` can serve shared runs itself ({@link SharedRunStore}). */
export function isSharedRunStore(store: TaskStore): store is TaskStore & SharedRunStore {
  const candidate = store as Partial<SharedRunStore>;
  return (
    typeof candidate.openRun === 'function' &&
    typeof candidate.claimReady === 'function' &&
    typeof candidate.listenReady === 'function' &&
    typeof candidate.loadChanged === 'function'
  );
}

/** Checks a run id: a non-empty string of at most 200 characters, well-formed Unicode, without U+0000. */
export function checkRunId(runId: unknown): asserts runId is string {
  if (
    typeof runId !== 'string' ||
    runId.length === 0 ||
    runId.length > MAX_RUN_ID_LENGTH ||
    !runId.isWellFormed() ||
    runId.includes('\0')
  ) {
    throw new InvalidArgumentError(
      'runId',
      `a non-empty string of at most ${MAX_RUN_ID_LENGTH} characters of well-formed Unicode without U+0000`,
      describeValue(runId),
    );
  }
}

/** Checks the tasks of `openRun`: entries with distinct valid ids whose dependencies are other tasks of the run. */
export function checkRunTasks(tasks: unknown): asserts tasks is readonly RunTaskEntry[] {
  if (!Array.isArray(tasks)) {
    throw new InvalidArgumentError(
      'tasks',
      'an array of { taskId, dependencies, snapshot }',
      describeValue(tasks),
    );
  }
  const ids = new Set<string>();
  tasks.forEach((entry: unknown, index) => {
    const at = `tasks[${index}]`;
    if (!isRecord(entry)) {
      throw new InvalidArgumentError(
        at,
        'an object { taskId, dependencies, snapshot }',
        describeValue(entry),
      );
    }
    renamed(`${at}.taskId`, () => checkTaskId(entry.taskId));
    const taskId = entry.taskId as string;
    if (ids.has(taskId)) {
      throw new InvalidArgumentError(`${at}.taskId`, 'an id listed once', describeValue(taskId));
    }
    ids.add(taskId);
    if (!Array.isArray(entry.dependencies)) {
      throw new InvalidArgumentError(
        `${at}.dependencies`,
        'an array of task ids',
        describeValue(entry.dependencies),
      );
    }
  });
  tasks.forEach((entry: RunTaskEntry, index) => {
    const seen = new Set<string>();
    entry.dependencies.forEach((dependency, position) => {
      if (
        typeof dependency !== 'string' ||
        !ids.has(dependency) ||
        dependency === entry.taskId ||
        seen.has(dependency)
      ) {
        throw new InvalidArgumentError(
          `tasks[${index}].dependencies[${position}]`,
          'the id of another task of the run, listed once',
          describeValue(dependency),
        );
      }
      seen.add(dependency);
    });
  });
}

/** Runs `check`, giving an InvalidArgumentError it throws the argument name `argument`. */
function renamed(argument: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    throw new InvalidArgumentError(argument, error.expected, error.received);
  }
}

/**
 * Whether a stored snapshot may be started: pending, and its current attempt not in its ledger (the machine's
 * `isCurrentAttemptUnused`). A snapshot without a ledger (schema 0) is startable when pending.
 */
export function isStartableSnapshot(snapshot: unknown): boolean {
  if (!isRecord(snapshot) || snapshot.status !== 'pending') return false;
  const context = snapshot.context;
  if (!isRecord(context)) return false;
  const attempts: readonly unknown[] = Array.isArray(context.attempts) ? context.attempts : [];
  return !attempts.some((record) => isRecord(record) && record.attemptNum === context.attemptNum);
}
