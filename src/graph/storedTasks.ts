import { InvalidArgumentError, SnapshotError, TaskStoreError } from '../errors.js';
import type { AttemptRecord } from '../machines/taskMachine.js';
import { type PersistedTaskRuntime, readPersistedTaskRuntime } from '../runtime/snapshot.js';
import type { TaskStore } from '../store/TaskStore.js';
import { blockedByOf } from './blocking.js';

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
    };
  }
  if (stored === null) return null;
  const { snapshot, revision } = stored;
  let persisted: PersistedTaskRuntime;
  try {
    persisted = readPersistedTaskRuntime(snapshot);
  } catch (error) {
    if (!isDocumentProblem(error)) throw error;
    return { kind: 'corrupt', id, problem: describeProblem(error), revision, snapshot };
  }
  const storedId = persisted.context.task.id;
  if (storedId !== id) {
    const problem = `SnapshotError: the stored snapshot is of task '${storedId}', not of '${id}'`;
    return { kind: 'corrupt', id, problem, revision, snapshot };
  }
  return {
    kind: 'task',
    id,
    revision,
    persisted,
    snapshot,
    blockedBy: blockedByOf(persisted),
    lastChange: lastChangeOf(persisted.context.attempts),
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
