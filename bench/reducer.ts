import type { TaskStatus } from '../src/machines/status.js';
import type {
  AttemptRecord,
  TaskContext,
  TaskEvent,
  TaskMachineInput,
} from '../src/machines/taskMachine.js';

/** The state a hand-written reducer keeps: the same status and context as the machine. */
export interface ReducerState {
  readonly status: TaskStatus;
  readonly context: TaskContext;
}

/** The initial state, as the machine's `context` factory builds it. */
export function initialState(input: TaskMachineInput): ReducerState {
  return {
    status: 'pending',
    context: {
      task: input.task,
      maxAttempts: input.maxAttempts ?? null,
      maxLostAttempts: input.maxLostAttempts ?? 3,
      extraAttempts: 0,
      attemptNum: 0,
      worktreePath: null,
      branchName: null,
      signalDir: null,
      integrationBranch: null,
      workstreamWorktreePath: null,
      error: null,
      retryable: null,
      prUrl: null,
      concerns: [],
      agentAddress: null,
      attempts: [],
    },
  };
}

const isUsed = (context: TaskContext, attemptNum: number): boolean =>
  context.attempts.some((record) => record.attemptNum === attemptNum);

const limitOf = (context: TaskContext): number | null =>
  context.maxAttempts === null ? null : context.maxAttempts + context.extraAttempts;

const retryAllowed = (context: TaskContext): boolean => {
  const limit = limitOf(context);
  return context.retryable !== false && (limit === null || context.attemptNum + 1 < limit);
};

function withLast(
  attempts: readonly AttemptRecord[],
  change: Partial<AttemptRecord>,
): readonly AttemptRecord[] {
  const last = attempts[attempts.length - 1];
  return last === undefined ? attempts : [...attempts.slice(0, -1), { ...last, ...change }];
}

function fail(state: ReducerState, event: Extract<TaskEvent, { type: 'FAIL' }>): ReducerState {
  const { context } = state;
  const at = event.at ?? new Date().toISOString();
  const lost = event.workerLost === true;
  const retryable = lost || (event.retryable ?? true);
  const outcome = lost ? 'lost' : 'failed';
  const last = context.attempts[context.attempts.length - 1];
  const open = last?.attemptNum === context.attemptNum && last.endedAt === null;
  const lostSoFar = context.attempts.filter((record) => record.outcome === 'lost').length;
  const forgiven = lost && open && lostSoFar < context.maxLostAttempts;
  const attempts: readonly AttemptRecord[] = open
    ? withLast(context.attempts, {
        outcome,
        endedAt: at,
        error: event.error,
        retryable,
      })
    : isUsed(context, context.attemptNum)
      ? context.attempts
      : [
          ...context.attempts,
          {
            attemptNum: context.attemptNum,
            startedAt: null,
            endedAt: at,
            outcome,
            error: event.error,
            retryable,
            prUrl: null,
            workerId: null,
          },
        ];
  const extraAttempts = context.extraAttempts + (forgiven ? 1 : 0);
  return {
    status: 'failed',
    context: { ...context, error: event.error, retryable, attempts, extraAttempts },
  };
}

/**
 * The task lifecycle without a state machine library: one switch over the same transition table and guards as
 * `taskMachine`, returning the next state, or null when the event is refused. The benchmark's "no machine" reference.
 */
export function reduce(state: ReducerState, event: TaskEvent): ReducerState | null {
  const { status, context } = state;
  const active = status === 'pending' || status === 'running';
  switch (event.type) {
    case 'PREPARE_ATTEMPT':
      if (
        status !== 'pending' ||
        event.attemptNum < context.attemptNum ||
        isUsed(context, event.attemptNum) ||
        event.attemptNum >= (limitOf(context) ?? Number.POSITIVE_INFINITY)
      )
        return null;
      return {
        status,
        context: { ...context, attemptNum: event.attemptNum, error: null, retryable: null },
      };
    case 'START':
      if (status !== 'pending' || isUsed(context, context.attemptNum)) return null;
      return {
        status: 'running',
        context: {
          ...context,
          attempts: [
            ...context.attempts,
            {
              attemptNum: context.attemptNum,
              startedAt: event.at ?? new Date().toISOString(),
              endedAt: null,
              outcome: 'running',
              error: null,
              retryable: null,
              prUrl: null,
              workerId: event.workerId ?? null,
            },
          ],
        },
      };
    case 'PR_CREATED':
      if (status !== 'running') return null;
      return {
        status: 'pr_created',
        context: {
          ...context,
          prUrl: event.prUrl,
          attempts: withLast(context.attempts, { outcome: 'pr_created', prUrl: event.prUrl }),
        },
      };
    case 'PR_MERGED':
      if (status !== 'pr_created') return null;
      return {
        status: 'pr_merged',
        context: {
          ...context,
          attempts: withLast(context.attempts, {
            outcome: 'pr_merged',
            endedAt: event.at ?? new Date().toISOString(),
          }),
        },
      };
    case 'FAIL':
      return active || status === 'pr_created' ? fail(state, event) : null;
    case 'RETRY':
      if (status !== 'failed' || !retryAllowed(context)) return null;
      return {
        status: 'pending',
        context: {
          ...context,
          concerns: [...context.concerns, `attempt_${context.attemptNum}_error: ${context.error}`],
          error: null,
          retryable: null,
        },
      };
    case 'REOPEN':
      if (status !== 'failed' || retryAllowed(context)) return null;
      return {
        status: 'pending',
        context: {
          ...context,
          concerns: [
            ...context.concerns,
            `reopened: ${event.reason} (last error: ${context.error})`,
          ],
          error: null,
          retryable: null,
          extraAttempts:
            context.maxAttempts === null
              ? context.extraAttempts
              : context.attemptNum + 1 + event.attempts - context.maxAttempts,
        },
      };
    case 'MARK_PENDING':
      if (status === 'pending') return state;
      return status === 'failed' && retryAllowed(context) ? { status: 'pending', context } : null;
    case 'ASSIGN_WORKTREE':
      if (!active) return null;
      return {
        status,
        context: {
          ...context,
          worktreePath: event.worktreePath,
          branchName: event.branchName,
          signalDir: event.signalDir ?? null,
        },
      };
    case 'ASSIGN_WORKSTREAM':
      if (!active) return null;
      return {
        status,
        context: {
          ...context,
          integrationBranch: event.integrationBranch,
          workstreamWorktreePath: event.workstreamWorktreePath,
        },
      };
    case 'RECORD_AGENT_ADDRESS':
      return active
        ? { status, context: { ...context, agentAddress: { ...event.address } } }
        : null;
    case 'ADD_CONCERN':
      return { status, context: { ...context, concerns: [...context.concerns, event.concern] } };
  }
}
