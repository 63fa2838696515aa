import type { StoredEntry } from '../graph/storedTasks.js';
import { TaskStatus } from '../index.js';

/** What a status column can show: a task's status, or `corrupt` for a task that cannot be read. */
export type ShownStatus = TaskStatus | 'corrupt';

/** Every status the overview counts, in lifecycle order, corrupt last. */
export const SHOWN_STATUSES: readonly ShownStatus[] = Object.freeze([
  ...Object.values(TaskStatus),
  'corrupt',
]);

/** One row of the overview's table and of `/api/tasks`: plain JSON. */
export interface TaskSummary {
  readonly id: string;
  readonly revision: number | null;
  readonly status: ShownStatus;
  readonly role: string | null;
  readonly attemptNum: number | null;
  /** The current error, else the error of the latest failed attempt. */
  readonly lastError: string | null;
  readonly prUrl: string | null;
  readonly blockedBy: string | null;
  readonly dependencies: readonly string[];
  /** The latest time in the attempt ledger. */
  readonly lastChange: string | null;
  /** Why the task cannot be read (status `corrupt`); null otherwise. */
  readonly problem: string | null;
}

/** The summary of one stored task. */
export function summarize(entry: StoredEntry): TaskSummary {
  if (entry.kind === 'corrupt') {
    return {
      id: entry.id,
      revision: entry.revision,
      status: 'corrupt',
      role: null,
      attemptNum: null,
      lastError: null,
      prUrl: null,
      blockedBy: null,
      dependencies: [],
      lastChange: null,
      problem: entry.problem,
    };
  }
  const { status, context } = entry.persisted;
  return {
    id: entry.id,
    revision: entry.revision,
    status,
    role: context.task.role,
    attemptNum: context.attemptNum,
    lastError:
      context.error ?? context.attempts.findLast((record) => record.error !== null)?.error ?? null,
    prUrl: context.prUrl,
    blockedBy: entry.blockedBy,
    dependencies: context.task.dependencies,
    lastChange: entry.lastChange,
    problem: null,
  };
}

/** How many tasks have each status (every status present, zeros included). */
export function countByStatus(summaries: readonly TaskSummary[]): Record<ShownStatus, number> {
  const counts = Object.fromEntries(SHOWN_STATUSES.map((status) => [status, 0])) as Record<
    ShownStatus,
    number
  >;
  for (const { status } of summaries) counts[status] += 1;
  return counts;
}
