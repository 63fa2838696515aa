import type { TaskStatus } from './machines/status.js';

/** Base class of every error this package throws on purpose; `instanceof TaskRuntimeError` catches them all. */
export class TaskRuntimeError extends Error {
  override readonly name: string = 'TaskRuntimeError';
}

/** Malformed input, refused before the machine sees it: says which argument, what was expected and what was given. */
export class InvalidArgumentError extends TaskRuntimeError {
  override readonly name = 'InvalidArgumentError';

  constructor(
    /** Name of the offending argument, e.g. `'error'` or `'input.dependencies[1]'`. */
    readonly argument: string,
    /** What a valid value looks like, e.g. `'a non-empty string'`. */
    readonly expected: string,
    /** A short description of what was given, e.g. `'an empty string'`. */
    readonly received: string,
  ) {
    super(`Invalid ${argument}: expected ${expected}, got ${received}.`);
  }
}

/** What an {@link IllegalTransitionError} reports about a refusal. */
export interface IllegalTransitionDetails {
  /** Id of the task whose runtime refused the command. */
  readonly taskId: string;
  /** The task's status when the command was refused. */
  readonly status: TaskStatus;
  /** The machine event type that was refused, e.g. `'PR_MERGED'`. */
  readonly event: string;
  /** The guard that said no, or `'illegalInStatus'` when the status has no such transition. */
  readonly reason: string;
  /** Event types the machine accepts right now. */
  readonly allowed: readonly string[];
  /** A sentence that explains the refusal and what to do instead. */
  readonly explanation: string;
}

/** A well-formed command at the wrong moment: the machine refused it and nothing changed. */
export class IllegalTransitionError extends TaskRuntimeError implements IllegalTransitionDetails {
  override readonly name = 'IllegalTransitionError';
  readonly taskId: string;
  readonly status: TaskStatus;
  readonly event: string;
  readonly reason: string;
  readonly allowed: readonly string[];
  readonly explanation: string;

  constructor(details: IllegalTransitionDetails) {
    const { taskId, status, event, reason, allowed, explanation } = details;
    super(
      `Task '${taskId}' refused ${event} in status '${status}' (${reason}): ${explanation}. ` +
        `Allowed now: ${allowed.length > 0 ? allowed.join(', ') : 'nothing'}.`,
    );
    this.taskId = taskId;
    this.status = status;
    this.event = event;
    this.reason = reason;
    this.allowed = Object.freeze([...allowed]);
    this.explanation = explanation;
  }
}

/** A snapshot that cannot be restored: malformed, foreign, from a newer schema, or breaking an invariant. */
export class SnapshotError extends TaskRuntimeError {
  override readonly name = 'SnapshotError';

  constructor(
    /** Where in the snapshot the problem is, e.g. `'context.attemptNum'` (`''` for the snapshot itself). */
    readonly path: string,
    /** What is wrong there. */
    readonly problem: string,
    /** The task the snapshot belongs to, when known (stores set it). */
    readonly taskId: string | null = null,
  ) {
    super(
      `Cannot restore ${taskId === null ? 'snapshot' : `task '${taskId}'`}: ` +
        `${path === '' ? 'the snapshot' : `'${path}'`} ${problem}.`,
    );
  }
}

/** A save or delete whose `expectedRevision` is not the stored one; nothing was written. */
export class ConflictError extends TaskRuntimeError {
  override readonly name = 'ConflictError';

  constructor(
    /** The task whose revision did not match. */
    readonly taskId: string,
    /** The revision the caller expected (`null`: must not exist yet). */
    readonly expectedRevision: number | null,
    /** The revision stored now (`null`: the task does not exist). */
    readonly actualRevision: number | null,
  ) {
    super(
      `Task '${taskId}' is at revision ${actualRevision ?? 'none (not stored)'}, ` +
        `not ${expectedRevision ?? 'none (must not exist yet)'} as expected: nothing was written. ` +
        'Another writer changed it; load it again and decide what to do with the current state.',
    );
  }
}

/** A store operation failed for a reason outside the task's data (permissions, disk full…); `cause` has the details. */
export class TaskStoreError extends TaskRuntimeError {
  override readonly name = 'TaskStoreError';

  constructor(
    /** The task concerned, or null for a store-wide operation. */
    readonly taskId: string | null,
    /** What the store was doing, e.g. `'save'`. */
    readonly operation: string,
    /** A sentence on what went wrong and what to do. */
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot ${operation}${taskId === null ? '' : ` task '${taskId}'`}: ${problem}.`, options);
  }
}

/** A save that carries a lease whose fencing token is no longer current: another worker owns the task now. */
export class LeaseLostError extends TaskRuntimeError {
  override readonly name = 'LeaseLostError';

  constructor(
    /** The task whose lease was lost. */
    readonly taskId: string,
    /** The worker that held the lost lease. */
    readonly workerId: string,
    /** The fencing token the save carried. */
    readonly token: number,
    /** The task's current fencing token, or null when no lease is held. */
    readonly currentToken: number | null,
  ) {
    super(
      `Worker '${workerId}' no longer holds the lease on task '${taskId}' (token ${token}, current ` +
        `${currentToken ?? 'none'}): nothing was written. Stop working on it; load it again to see who owns it.`,
    );
  }
}
