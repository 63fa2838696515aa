import { type LeaseStanding, leaseStandingOf, type StoredEntry } from '../graph/storedTasks.js';
import { TaskStatus } from '../index.js';

/** What a status column can show: a task's status, or `corrupt` for a task that cannot be read. */
export type ShownStatus = TaskStatus | 'corrupt';

/** Every status the overview counts, in lifecycle order, corrupt last. */
export const SHOWN_STATUSES: readonly ShownStatus[] = Object.freeze([
  ...Object.values(TaskStatus),
  'corrupt',
]);

/** A task's lease as the summaries show it: who holds the task, until when, and what that means now. */
export interface LeaseSummary {
  readonly workerId: string;
  /** The fencing token of the claim. */
  readonly token: number;
  /** ISO-8601 time (UTC) after which another worker may claim the task. */
  readonly expiresAt: string;
  /** `held`, `expired`, or `lost` (expired on a running or pr_created task: its worker is presumed lost). */
  readonly standing: LeaseStanding;
}

/** One row of the overview's table, of `/api/tasks` and of `task-runtime status --json`: plain JSON. */
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
  /** The worker holding the task, with its lease's expiry; null when no lease is stored. */
  readonly lease: LeaseSummary | null;
}

/** The lease of a stored task as of `now` (epoch milliseconds), or null. */
function leaseSummaryOf(entry: StoredEntry, now: number): LeaseSummary | null {
  const standing = leaseStandingOf(entry, now);
  if (entry.lease === null || standing === null) return null;
  const { workerId, token, expiresAt } = entry.lease;
  return { workerId, token, expiresAt, standing };
}

/** The summary of one stored task, its lease judged at `now` (epoch milliseconds). */
export function summarize(entry: StoredEntry, now: number = Date.now()): TaskSummary {
  const lease = leaseSummaryOf(entry, now);
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
      lease,
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
    lease,
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
