import { TaskStatus } from '../machines/status.js';
import { type TaskContext, taskGuards } from '../machines/taskMachine.js';

/** The shape of a task's state that the graph's rules read: a task's status and its machine context. */
export interface TaskStanding {
  readonly status: TaskStatus;
  readonly context: TaskContext;
}

/** The error of a task failed because its dependency `dependencyId` failed finally (agentrelay's wording). */
export function blockedError(dependencyId: string): string {
  return `Blocked by orchestration rules: dependency '${dependencyId}' failed`;
}

/** Whether the task failed for good: failed, and not retryable (`retryable: false`, or no attempt left). */
export function isFinalFailure({ status, context }: TaskStanding): boolean {
  return (
    status === TaskStatus.FAILED &&
    !taskGuards.isRetryAllowed({ context, event: { type: 'RETRY' } })
  );
}

/**
 * The dependency that blocked the task — the id in its blocked error, when it failed finally with exactly that
 * error — or null. Read from the stored state alone, so every tool that reads a store can tell.
 */
export function blockedByOf({ status, context }: TaskStanding): string | null {
  if (status !== TaskStatus.FAILED || context.retryable !== false || context.error === null) {
    return null;
  }
  return context.task.dependencies.find((id) => context.error === blockedError(id)) ?? null;
}
