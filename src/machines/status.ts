/** The five statuses of a task; they are also the state node keys of {@link taskMachine}. */
export const TaskStatus = {
  PENDING: 'pending',
  RUNNING: 'running',
  PR_CREATED: 'pr_created',
  PR_MERGED: 'pr_merged',
  FAILED: 'failed',
} as const;

/** One of the {@link TaskStatus} values. */
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** Every status, in lifecycle order. */
export const TASK_STATUSES: readonly TaskStatus[] = Object.freeze(Object.values(TaskStatus));

/** Whether a status is terminal for the lifecycle (pr_merged or failed). */
export function isTerminalStatus(status: TaskStatus): boolean {
  return status === TaskStatus.PR_MERGED || status === TaskStatus.FAILED;
}
