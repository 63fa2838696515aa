import { isAttemptNumber } from '../validation.js';
import { TASK_STATUSES, type TaskStatus } from './status.js';
import {
  attemptLimit,
  attemptProblem,
  TASK_EVENT_TYPES,
  type TaskContext,
  type TaskEvent,
  type TaskEventType,
  type TaskGuardName,
  type TaskSnapshot,
  taskGuards,
  taskMachine,
} from './taskMachine.js';

/** Why the machine refused an event: the guard that said no (or `illegalInStatus`), in words, and what is legal now. */
export interface Refusal {
  readonly reason: TaskGuardName | 'illegalInStatus';
  readonly explanation: string;
  readonly allowed: readonly TaskEventType[];
}

/** A candidate transition as XState selects it: its guard, and whether taking it changes anything. */
interface Candidate {
  readonly guard: TaskGuardName | undefined;
  /** It has a target or actions: what `snapshot.can` requires of the selected transition. */
  readonly effective: boolean;
}

/** The candidates of a status's node and of the root for one event type, in XState's order. */
interface Candidates {
  readonly own: readonly Candidate[];
  readonly root: readonly Candidate[];
}

type TransitionLike = {
  readonly guard?: unknown;
  readonly target?: unknown;
  readonly actions: readonly unknown[];
};

/** The candidates of one node; every guard must be one of {@link taskGuards}, by name. */
function readCandidates(transitions: readonly TransitionLike[] | undefined): readonly Candidate[] {
  return (transitions ?? []).map(({ guard, target, actions }) => {
    if (guard !== undefined && !(typeof guard === 'string' && Object.hasOwn(taskGuards, guard))) {
      throw new Error(
        `taskMachine: every guard must be named in taskGuards, found ${String(guard)}`,
      );
    }
    return {
      guard: guard as TaskGuardName | undefined,
      effective: target !== undefined || actions.length > 0,
    };
  });
}

/** Per status and event type, the machine's candidate transitions, read off the machine once. */
const candidateTable = new Map<TaskStatus, ReadonlyMap<TaskEventType, Candidates>>(
  TASK_STATUSES.map((status) => [
    status,
    new Map(
      TASK_EVENT_TYPES.map((type) => [
        type,
        {
          own: readCandidates(taskMachine.states[status]?.transitions.get(type)),
          root: readCandidates(taskMachine.root.transitions.get(type)),
        },
      ]),
    ),
  ]),
);

function candidatesOf(status: TaskStatus, type: TaskEventType): Candidates {
  return candidateTable.get(status)?.get(type) ?? { own: [], root: [] };
}

/** Whether `status` (or the root) has any transition for `type`; cheap, so probes are built only where needed. */
function hasTransition(status: TaskStatus, type: TaskEventType): boolean {
  const { own, root } = candidatesOf(status, type);
  return own.length + root.length > 0;
}

/** The statuses that have a transition for each event type. */
const statusesAccepting = new Map<TaskEventType, readonly TaskStatus[]>(
  TASK_EVENT_TYPES.map((type) => [
    type,
    TASK_STATUSES.filter((status) => hasTransition(status, type)),
  ]),
);

function select(
  candidates: readonly Candidate[],
  args: { readonly context: TaskContext; readonly event: TaskEvent },
): Candidate | undefined {
  for (const candidate of candidates) {
    if (candidate.guard === undefined || taskGuards[candidate.guard](args)) return candidate;
  }
  return undefined;
}

/**
 * Exactly `snapshot.can(event)` for a well-formed event: the first candidate of the status's node whose guard
 * passes, else the root's, must have a target or actions. Answered from the machine's own transitions read once,
 * without XState's per-call lookups.
 */
export function isAccepted(snapshot: TaskSnapshot, event: TaskEvent): boolean {
  const { own, root } = candidatesOf(snapshot.value, event.type);
  const args = { context: snapshot.context, event };
  return (select(own, args) ?? select(root, args))?.effective ?? false;
}

/** The next attempt number that has not been used: the current one, or one past the ledger's last. */
export function nextUnusedAttempt(context: Pick<TaskContext, 'attemptNum' | 'attempts'>): number {
  const last = context.attempts[context.attempts.length - 1];
  return last !== undefined && last.attemptNum >= context.attemptNum
    ? last.attemptNum + 1
    : context.attemptNum;
}

function explain(name: TaskGuardName, context: TaskContext, event: TaskEvent): string {
  const next = nextUnusedAttempt(context);
  switch (name) {
    case 'isAttemptAvailable': {
      const requested = event.type === 'PREPARE_ATTEMPT' ? event.attemptNum : context.attemptNum;
      switch (attemptProblem(context, requested)) {
        case 'behind':
          return `attempt ${requested} is behind the current attempt ${context.attemptNum}; attempt numbers never go back`;
        case 'used':
          return `attempt ${requested} was already used; prepare attempt ${next} instead`;
        default:
          return `attempt ${requested} is beyond ${describeLimit(context)} (attempts are numbered from 0)`;
      }
    }
    case 'isCurrentAttemptUnused':
      return `attempt ${context.attemptNum} was already used; call prepareForAttempt(${next}) first`;
    case 'isRetryAllowed':
      return context.retryable === false
        ? 'the last failure was marked retryable: false'
        : `no attempt left: attempt ${context.attemptNum} was the last of ${describeLimit(context)}`;
    case 'isFailureFinal':
      return 'the last failure can still be retried: use resetForRetry; reopen is for a final failure';
  }
}

/** The limit on attempt numbers in words: maxAttempts, and what lost attempts and reopens added to it. */
function describeLimit(context: TaskContext): string {
  const limit = attemptLimit(context);
  return limit === context.maxAttempts
    ? `maxAttempts ${context.maxAttempts}`
    : `the attempt limit ${limit} (maxAttempts ${context.maxAttempts}, moved by lost attempts and reopens)`;
}

/** A legal-looking event of each type, to ask the machine which types it accepts now. */
function probe(type: TaskEventType, context: TaskContext): TaskEvent {
  switch (type) {
    case 'PREPARE_ATTEMPT':
      return { type, attemptNum: nextUnusedAttempt(context) };
    case 'PR_CREATED':
      return { type, prUrl: 'probe' };
    case 'FAIL':
      return { type, error: 'probe' };
    case 'ASSIGN_WORKTREE':
      return { type, worktreePath: 'probe', branchName: 'probe' };
    case 'ASSIGN_WORKSTREAM':
      return { type, integrationBranch: 'probe', workstreamWorktreePath: 'probe' };
    case 'RECORD_AGENT_ADDRESS':
      return { type, address: { kind: 'tmux', session: 'probe', paneId: 'probe' } };
    case 'ADD_CONCERN':
      return { type, concern: 'probe' };
    case 'REOPEN':
      return { type, reason: 'probe', attempts: 1 };
    case 'START':
    case 'PR_MERGED':
    case 'RETRY':
    case 'MARK_PENDING':
      return { type };
  }
}

/** Event types the machine accepts in `snapshot` (for PREPARE_ATTEMPT: with the next unused attempt number). */
export function allowedEventTypes(snapshot: TaskSnapshot): TaskEventType[] {
  const { context, value } = snapshot;
  return TASK_EVENT_TYPES.filter(
    (type) =>
      hasTransition(value, type) &&
      (type !== 'PREPARE_ATTEMPT' || isAttemptNumber(nextUnusedAttempt(context))) &&
      isAccepted(snapshot, probe(type, context)),
  );
}

/** Explains why `snapshot` refuses `event`; call it only when `snapshot.can(event)` is false. */
export function explainRefusal(snapshot: TaskSnapshot, event: TaskEvent): Refusal {
  const status = snapshot.value;
  const allowed = allowedEventTypes(snapshot);
  const guarded = candidatesOf(status, event.type).own.find(
    (candidate) => candidate.guard !== undefined,
  );
  if (guarded?.guard !== undefined) {
    return {
      reason: guarded.guard,
      explanation: explain(guarded.guard, snapshot.context, event),
      allowed,
    };
  }
  const accepting = statusesAccepting.get(event.type) ?? [];
  return {
    reason: 'illegalInStatus',
    explanation: `${event.type} is accepted only in ${accepting.join(', ')}`,
    allowed,
  };
}
