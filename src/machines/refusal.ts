import { isAttemptNumber } from '../validation.js';
import { TASK_STATUSES, type TaskStatus } from './status.js';
import {
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

/** The statuses that have a transition for each event type, read off the machine. */
const statusesAccepting = new Map<TaskEventType, readonly TaskStatus[]>(
  TASK_EVENT_TYPES.map((type) => [
    type,
    TASK_STATUSES.filter((status) => transitionsFor(status, type).length > 0),
  ]),
);

function transitionsFor(status: TaskStatus, type: TaskEventType): readonly { guard?: unknown }[] {
  const node = taskMachine.states[status];
  return node?.transitions.get(type) ?? taskMachine.root.transitions.get(type) ?? [];
}

/** The next attempt number that has not been used. */
export function nextUnusedAttempt(context: TaskContext): number {
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
          return `attempt ${requested} is beyond maxAttempts ${context.maxAttempts} (attempts are numbered from 0)`;
      }
    }
    case 'isCurrentAttemptUnused':
      return `attempt ${context.attemptNum} was already used; call prepareForAttempt(${next}) first`;
    case 'isRetryAllowed':
      return context.retryable === false
        ? 'the last failure was marked retryable: false'
        : `no attempt left: attempt ${context.attemptNum} was the last of maxAttempts ${context.maxAttempts}`;
  }
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
    case 'START':
    case 'PR_MERGED':
    case 'RETRY':
    case 'MARK_PENDING':
      return { type };
  }
}

/** Event types the machine accepts in `snapshot` (for PREPARE_ATTEMPT: with the next unused attempt number). */
export function allowedEventTypes(snapshot: TaskSnapshot): TaskEventType[] {
  const { context } = snapshot;
  return TASK_EVENT_TYPES.filter(
    (type) =>
      (type !== 'PREPARE_ATTEMPT' || isAttemptNumber(nextUnusedAttempt(context))) &&
      snapshot.can(probe(type, context)),
  );
}

/** Explains why `snapshot` refuses `event`; call it only when `snapshot.can(event)` is false. */
export function explainRefusal(snapshot: TaskSnapshot, event: TaskEvent): Refusal {
  const status = snapshot.value;
  const allowed = allowedEventTypes(snapshot);
  for (const { guard } of transitionsFor(status, event.type)) {
    if (typeof guard === 'string' && guard in taskGuards) {
      const name = guard as TaskGuardName;
      return { reason: name, explanation: explain(name, snapshot.context, event), allowed };
    }
  }
  const accepting = statusesAccepting.get(event.type) ?? [];
  return {
    reason: 'illegalInStatus',
    explanation: `${event.type} is accepted only in ${accepting.join(', ')}`,
    allowed,
  };
}
