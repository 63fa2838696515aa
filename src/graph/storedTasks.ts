import { InvalidArgumentError, SnapshotError, TaskStoreError } from '../errors.js';
import { TaskStatus } from '../machines/status.js';
import type { AttemptRecord } from '../machines/taskMachine.js';
import { type PersistedTaskRuntime, readPersistedTaskRuntime } from '../runtime/snapshot.js';
import type { Lease, TaskStore } from '../store/TaskStore.js';
import { blockedByOf, isFinalFailure } from './blocking.js';
import { MinHeap } from './MinHeap.js';
import type { RunOutcome } from './TaskGraphRuntime.js';

/*
 * What the read-only tools (`task-runtime status` and `graph`, the dashboard) see of a store: every task's
 * validated snapshot and who blocked it, or what is wrong with its document.
 */

/**
 * A stored task whose snapshot is valid: checked by the same reader as `TaskRuntime.restore` (so every snapshot
 * shown here restores), without starting an actor per task — the dashboard's overview reads thousands.
 */
export interface ReadableTask {
  readonly kind: 'task';
  readonly id: string;
  readonly revision: number;
  /** The validated, frozen snapshot: status and machine context. */
  readonly persisted: PersistedTaskRuntime;
  /** The raw stored snapshot, as the store returned it. */
  readonly snapshot: unknown;
  /** The dependency whose final failure blocked this task, or null. */
  readonly blockedBy: string | null;
  /** The latest time in the attempt ledger (ISO-8601), or null when no attempt has a time yet. */
  readonly lastChange: string | null;
  /** The task's lease as stored (it may have expired; see {@link leaseStandingOf}), or null when none is held. */
  readonly lease: Lease | null;
}

/** A stored task that cannot be shown: the store or `TaskRuntime.restore` refused its document. */
export interface UnreadableTask {
  readonly kind: 'corrupt';
  readonly id: string;
  /** What is wrong, e.g. `SnapshotError: status is 'nope' …`. */
  readonly problem: string;
  /** The revision, when the store could read the document (it then failed to restore); else null. */
  readonly revision: number | null;
  /** The raw stored document when the store could read it, else undefined. */
  readonly snapshot: unknown;
  /** The task's stored lease when the store could read the document, else null. */
  readonly lease: Lease | null;
}

/** One stored task as the read-only tools see it. */
export type StoredEntry = ReadableTask | UnreadableTask;

/** How many tasks are loaded at the same time. */
const CONCURRENT_LOADS = 8;

/** The latest start or end time in a task's attempt ledger. */
function lastChangeOf(attempts: readonly AttemptRecord[]): string | null {
  let latest: string | null = null;
  for (const { startedAt, endedAt } of attempts) {
    for (const time of [startedAt, endedAt]) {
      if (time !== null && (latest === null || Date.parse(time) > Date.parse(latest)))
        latest = time;
    }
  }
  return latest;
}

/** Whether `error` says that one task's document is unusable (rather than the store as a whole). */
function isDocumentProblem(error: unknown): error is SnapshotError | InvalidArgumentError {
  return error instanceof SnapshotError || error instanceof InvalidArgumentError;
}

function describeProblem(error: Error): string {
  return `${error.name}: ${error.message}`;
}

/**
 * Loads and validates one stored task; null when it is not stored. A document the store or the snapshot reader
 * refuses is an {@link UnreadableTask}; a store that fails as a whole (closed, unreachable) throws.
 */
export async function readStoredTask(store: TaskStore, id: string): Promise<StoredEntry | null> {
  let stored: Awaited<ReturnType<TaskStore['load']>>;
  try {
    stored = await store.load(id);
  } catch (error) {
    if (!isDocumentProblem(error) && !(error instanceof TaskStoreError && error.taskId === id)) {
      throw error;
    }
    return {
      kind: 'corrupt',
      id,
      problem: describeProblem(error),
      revision: null,
      snapshot: undefined,
      lease: null,
    };
  }
  if (stored === null) return null;
  const { snapshot, revision, lease } = stored;
  let persisted: PersistedTaskRuntime;
  try {
    persisted = readPersistedTaskRuntime(snapshot);
  } catch (error) {
    if (!isDocumentProblem(error)) throw error;
    return { kind: 'corrupt', id, problem: describeProblem(error), revision, snapshot, lease };
  }
  const storedId = persisted.context.task.id;
  if (storedId !== id) {
    const problem = `SnapshotError: the stored snapshot is of task '${storedId}', not of '${id}'`;
    return { kind: 'corrupt', id, problem, revision, snapshot, lease };
  }
  return {
    kind: 'task',
    id,
    revision,
    persisted,
    snapshot,
    blockedBy: blockedByOf(persisted),
    lastChange: lastChangeOf(persisted.context.attempts),
    lease,
  };
}

/** Every stored task in `store.list()` order (sorted ids); tasks deleted while being read are left out. */
export async function readStoredTasks(store: TaskStore): Promise<StoredEntry[]> {
  const ids = await store.list();
  const entries: (StoredEntry | null)[] = new Array(ids.length).fill(null);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < ids.length; index = next++) {
      entries[index] = await readStoredTask(store, ids[index] as string);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_LOADS, ids.length) }, worker));
  return entries.filter((entry): entry is StoredEntry => entry !== null);
}

/**
 * What a stored lease means at `now`: `held` (its worker holds the task), `expired`, or `lost` — expired while
 * the task is running or pr_created, so its worker is presumed lost (the tasks `listExpired()` lists). Null
 * without a lease.
 */
export type LeaseStanding = 'held' | 'expired' | 'lost';

/** The {@link LeaseStanding} of a stored task's lease at `now` (epoch milliseconds); null when it has none. */
export function leaseStandingOf(entry: StoredEntry, now: number): LeaseStanding | null {
  const { lease } = entry;
  if (lease === null) return null;
  const expiresAt = Date.parse(lease.expiresAt);
  if (!(expiresAt <= now)) return 'held';
  const status = entry.kind === 'task' ? entry.persisted.status : null;
  return status === TaskStatus.RUNNING || status === TaskStatus.PR_CREATED ? 'lost' : 'expired';
}

/**
 * The outcome of the run the stored tasks make up, by the rule of `TaskGraphRuntime.outcome`: `in_progress` while
 * some task is neither pr_merged nor failed finally (a task that cannot be read counts as unfinished), then
 * `succeeded` when every task merged, else `completed_with_failures`. Null for an empty store.
 */
export function runOutcomeOf(entries: readonly StoredEntry[]): RunOutcome | null {
  if (entries.length === 0) return null;
  let failures = false;
  for (const entry of entries) {
    if (entry.kind === 'corrupt') return 'in_progress';
    if (entry.persisted.status === TaskStatus.PR_MERGED) continue;
    if (!isFinalFailure(entry.persisted)) return 'in_progress';
    failures = true;
  }
  return failures ? 'completed_with_failures' : 'succeeded';
}

/** String order of ids (UTF-16 code units), the tie rule of the run's order, as in `TaskGraph`. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The stored tasks in the run's order: `TaskGraph.taskIds`' rule (dependencies first; among tasks ready at the
 * same step, the smallest id first) over the stored dependencies. A dependency that is not stored is ignored, a
 * task that cannot be read has none, and tasks on a dependency cycle (which a graph refuses, but a store may hold)
 * come last, in id order.
 */
export function inRunOrder<Entry extends StoredEntry>(entries: readonly Entry[]): Entry[] {
  const byId = new Map(entries.map((entry) => [entry.id, entry]));
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  const ready = new MinHeap<string>(compareIds);
  for (const entry of entries) {
    const dependencies =
      entry.kind === 'task'
        ? new Set(entry.persisted.context.task.dependencies)
        : new Set<string>();
    let waiting = 0;
    for (const dependency of dependencies) {
      if (!byId.has(dependency)) continue;
      waiting += 1;
      const list = dependents.get(dependency);
      if (list === undefined) dependents.set(dependency, [entry.id]);
      else list.push(entry.id);
    }
    waitingOn.set(entry.id, waiting);
    if (waiting === 0) ready.push(entry.id);
  }
  const order: Entry[] = [];
  for (let id = ready.pop(); id !== undefined; id = ready.pop()) {
    order.push(byId.get(id) as Entry);
    waitingOn.delete(id);
    for (const dependent of dependents.get(id) ?? []) {
      const left = (waitingOn.get(dependent) ?? 0) - 1;
      waitingOn.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  const onCycles = [...waitingOn.keys()].sort(compareIds);
  for (const id of onCycles) order.push(byId.get(id) as Entry);
  return order;
}

/** The stored tasks by their last change, latest first; tasks without one last, each group in id order. */
export function byLatestChange<Entry extends StoredEntry>(entries: readonly Entry[]): Entry[] {
  const changeOf = (entry: Entry): number => {
    const time =
      entry.kind === 'task' && entry.lastChange !== null
        ? Date.parse(entry.lastChange)
        : Number.NaN;
    return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
  };
  return entries
    .map((entry) => ({ entry, change: changeOf(entry) }))
    .sort((a, b) => b.change - a.change || compareIds(a.entry.id, b.entry.id))
    .map(({ entry }) => entry);
}
