import { InvalidArgumentError, SnapshotError } from '../errors.js';
import type { Task } from '../task/createTask.js';
import { TaskRuntime, type TaskRuntimeOptions } from './TaskRuntime.js';

/**
 * Restores a snapshot loaded from a store under `taskId`.
 * @throws {SnapshotError} with `taskId` set when it cannot be restored or belongs to another task.
 */
export function restoreStored(
  taskId: string,
  snapshot: unknown,
  options: TaskRuntimeOptions,
): TaskRuntime {
  try {
    const runtime = TaskRuntime.restore(snapshot, options);
    if (runtime.task.id !== taskId) {
      throw new SnapshotError(
        'context.task.id',
        `is '${runtime.task.id}', not the id it is stored under`,
        taskId,
      );
    }
    return runtime;
  } catch (error) {
    if (error instanceof SnapshotError && error.taskId === null) {
      throw new SnapshotError(error.path, error.problem, taskId);
    }
    throw error;
  }
}

/**
 * Checks that the spec the caller gives is the stored one (a task's spec never changes).
 * @throws {InvalidArgumentError} naming the task and the first field that differs.
 */
export function checkSameSpec(given: Task, stored: Task): void {
  if (JSON.stringify(given) === JSON.stringify(stored)) return;
  const changed = (Object.keys(given) as (keyof Task)[]).find(
    (key) => JSON.stringify(given[key]) !== JSON.stringify(stored[key]),
  );
  if (changed === undefined) return;
  throw new InvalidArgumentError(
    `task.${changed}`,
    `${JSON.stringify(stored[changed])} as stored for task '${given.id}' (a task's spec never changes; delete the stored task to start it over)`,
    JSON.stringify(given[changed]),
  );
}
