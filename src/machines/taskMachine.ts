import {
  type ActorRefFrom,
  assertEvent,
  assign,
  type ContextFrom,
  type EventFromLogic,
  type SnapshotFrom,
  setup,
} from 'xstate';
import type { AgentAddressJSON } from '../agent/AgentAddress.js';
import type { Task } from '../task/createTask.js';

/** How an attempt ended, or where it stands while it is still open. */
export type AttemptOutcome = 'running' | 'pr_created' | 'pr_merged' | 'failed' | 'lost';

/** One attempt in the ledger: when it started and ended, how it ended, and what it produced. */
export interface AttemptRecord {
  readonly attemptNum: number;
  /** ISO-8601 time of `START`; null for a task that failed before it ran (blocked). */
  readonly startedAt: string | null;
  /** ISO-8601 time of `PR_MERGED` or `FAIL`; null while the attempt is open. */
  readonly endedAt: string | null;
  readonly outcome: AttemptOutcome;
  readonly error: string | null;
  readonly retryable: boolean | null;
  readonly prUrl: string | null;
  /** The worker that ran the attempt, when `START` named one (shared runs do); null otherwise. */
  readonly workerId: string | null;
}

/** The machine's context: plain JSON, every nested object frozen. */
export interface TaskContext {
  readonly task: Task;
  /** Positive integer, or null for no limit: how many attempts may count (lost ones within maxLostAttempts do not). */
  readonly maxAttempts: number | null;
  /** Non-negative integer: how many lost attempts are forgiven (not counted against maxAttempts). */
  readonly maxLostAttempts: number;
  /**
   * How far the limit on attempt numbers lies beyond maxAttempts: one per forgiven lost attempt, and whatever a
   * reopen granted (negative when it granted fewer attempts than were left). Attempt numbers below
   * `maxAttempts + extraAttempts` may be used.
   */
  readonly extraAttempts: number;
  readonly attemptNum: number;
  readonly worktreePath: string | null;
  readonly branchName: string | null;
  readonly signalDir: string | null;
  readonly integrationBranch: string | null;
  readonly workstreamWorktreePath: string | null;
  readonly error: string | null;
  /** Whether the current failure may be retried; null when there is no failure. */
  readonly retryable: boolean | null;
  readonly prUrl: string | null;
  readonly concerns: readonly string[];
  readonly agentAddress: AgentAddressJSON | null;
  readonly attempts: readonly AttemptRecord[];
}

/** What `createActor(taskMachine, { input })` needs. */
export interface TaskMachineInput {
  readonly task: Task;
  /** Positive integer; absent for no limit. */
  readonly maxAttempts?: number;
  /** Non-negative integer. @default 3 */
  readonly maxLostAttempts?: number;
}

/** Lost attempts forgiven per task when the input does not say. */
export const DEFAULT_MAX_LOST_ATTEMPTS = 3;

/** Every event may carry `at`, the ISO-8601 time recorded in the attempt ledger. */
interface Timed {
  readonly at?: string;
}

/** The events of {@link taskMachine}, discriminated by `type`. */
export type TaskEvent =
  | ({ readonly type: 'PREPARE_ATTEMPT'; readonly attemptNum: number } & Timed)
  | ({ readonly type: 'START'; readonly workerId?: string } & Timed)
  | ({ readonly type: 'PR_CREATED'; readonly prUrl: string } & Timed)
  | ({ readonly type: 'PR_MERGED' } & Timed)
  | ({
      readonly type: 'FAIL';
      readonly error: string;
      readonly retryable?: boolean;
      readonly workerLost?: boolean;
    } & Timed)
  | ({ readonly type: 'RETRY' } & Timed)
  | ({ readonly type: 'REOPEN'; readonly reason: string; readonly attempts: number } & Timed)
  | ({ readonly type: 'MARK_PENDING' } & Timed)
  | ({
      readonly type: 'ASSIGN_WORKTREE';
      readonly worktreePath: string;
      readonly branchName: string;
      readonly signalDir?: string;
    } & Timed)
  | ({
      readonly type: 'ASSIGN_WORKSTREAM';
      readonly integrationBranch: string;
      readonly workstreamWorktreePath: string;
    } & Timed)
  | ({ readonly type: 'RECORD_AGENT_ADDRESS'; readonly address: AgentAddressJSON } & Timed)
  | ({ readonly type: 'ADD_CONCERN'; readonly concern: string } & Timed);

/** One of the machine's event type names, e.g. `'PR_MERGED'`. */
export type TaskEventType = TaskEvent['type'];

/** Every event type, in the order of the contract's table. */
export const TASK_EVENT_TYPES: readonly TaskEventType[] = Object.freeze([
  'PREPARE_ATTEMPT',
  'START',
  'PR_CREATED',
  'PR_MERGED',
  'FAIL',
  'RETRY',
  'REOPEN',
  'MARK_PENDING',
  'ASSIGN_WORKTREE',
  'ASSIGN_WORKSTREAM',
  'RECORD_AGENT_ADDRESS',
  'ADD_CONCERN',
]);

type GuardArgs = { readonly context: TaskContext; readonly event: TaskEvent };

const timeOf = (event: TaskEvent): string => event.at ?? new Date().toISOString();
const isUsed = (context: TaskContext, attemptNum: number): boolean =>
  context.attempts.some((record) => record.attemptNum === attemptNum);
/** The ledger with its last record replaced by `change` applied to it. */
const withLastAttempt = (
  attempts: readonly AttemptRecord[],
  change: Partial<AttemptRecord>,
): readonly AttemptRecord[] => {
  const last = attempts[attempts.length - 1];
  return last === undefined
    ? attempts
    : Object.freeze([...attempts.slice(0, -1), Object.freeze({ ...last, ...change })]);
};

/** The first attempt number that may not be used (`maxAttempts + extraAttempts`), or null for no limit. */
export function attemptLimit(
  context: Pick<TaskContext, 'maxAttempts' | 'extraAttempts'>,
): number | null {
  return context.maxAttempts === null ? null : context.maxAttempts + context.extraAttempts;
}

/** Why a requested attempt number cannot be prepared, or null when it can. */
export function attemptProblem(
  context: TaskContext,
  attemptNum: number,
): 'behind' | 'used' | 'beyondLimit' | null {
  if (attemptNum < context.attemptNum) return 'behind';
  if (isUsed(context, attemptNum)) return 'used';
  const limit = attemptLimit(context);
  if (limit !== null && attemptNum >= limit) return 'beyondLimit';
  return null;
}

/** How many of the ledger's attempts were lost with their worker. */
export function lostAttemptCount(context: TaskContext): number {
  let lost = 0;
  for (const record of context.attempts) if (record.outcome === 'lost') lost += 1;
  return lost;
}

/** The named guards of {@link taskMachine}; the facade names the one that refused in IllegalTransitionError. */
export const taskGuards = {
  /** PREPARE_ATTEMPT: the number is not behind the current one, not used yet, and below maxAttempts. */
  isAttemptAvailable: ({ context, event }: GuardArgs) => {
    assertEvent(event, 'PREPARE_ATTEMPT');
    return attemptProblem(context, event.attemptNum) === null;
  },
  /** START: the current attempt has not run or failed yet. */
  isCurrentAttemptUnused: ({ context }: GuardArgs) => !isUsed(context, context.attemptNum),
  /** RETRY, MARK_PENDING: the failure was not marked `retryable: false` and an attempt is left under maxAttempts. */
  isRetryAllowed: ({ context }: GuardArgs) => isRetryable(context),
  /** REOPEN: the failure is final (`retryable: false`, or no attempt left); a retryable one is retried instead. */
  isFailureFinal: ({ context }: GuardArgs) => !isRetryable(context),
};

/** Whether the current failure may be retried: not marked `retryable: false`, and an attempt is left. */
function isRetryable(context: TaskContext): boolean {
  return context.retryable !== false && hasAttemptLeft(context);
}

/** Whether a next attempt exists under maxAttempts (lost attempts and reopens included). */
export function hasAttemptLeft(context: TaskContext): boolean {
  const limit = attemptLimit(context);
  return limit === null || context.attemptNum + 1 < limit;
}

/** The name of one of the guards of {@link taskMachine}, as a refusal names it in its `reason`. */
export type TaskGuardName = keyof typeof taskGuards;

/** Record-keeping that is legal before and during a run, not after it. */
const whileActive = {
  ASSIGN_WORKTREE: { actions: 'assignWorktree' },
  ASSIGN_WORKSTREAM: { actions: 'assignWorkstream' },
  RECORD_AGENT_ADDRESS: { actions: 'recordAgentAddress' },
  FAIL: { target: 'failed', actions: 'recordFailure' },
} as const;

/**
 * The task lifecycle as an XState v5 machine: pending → running → pr_created → pr_merged, or → failed,
 * with guarded attempts and retries. State keys are the {@link TaskStatus} values; every guard and action is named.
 */
export const taskMachine = setup({
  types: {
    context: {} as TaskContext,
    events: {} as TaskEvent,
    input: {} as TaskMachineInput,
  },
  guards: taskGuards,
  actions: {
    prepareAttempt: assign(({ event }) => {
      assertEvent(event, 'PREPARE_ATTEMPT');
      return { attemptNum: event.attemptNum, error: null, retryable: null };
    }),
    openAttempt: assign(({ context, event }) => {
      assertEvent(event, 'START');
      return {
        error: null,
        retryable: null,
        attempts: Object.freeze([
          ...context.attempts,
          Object.freeze({
            attemptNum: context.attemptNum,
            startedAt: timeOf(event),
            endedAt: null,
            outcome: 'running',
            error: null,
            retryable: null,
            prUrl: null,
            workerId: event.workerId ?? null,
          } satisfies AttemptRecord),
        ]),
      };
    }),
    recordPullRequest: assign(({ context, event }) => {
      assertEvent(event, 'PR_CREATED');
      return {
        prUrl: event.prUrl,
        attempts: withLastAttempt(context.attempts, { outcome: 'pr_created', prUrl: event.prUrl }),
      };
    }),
    closeAttemptAsMerged: assign(({ context, event }) => ({
      attempts: withLastAttempt(context.attempts, { outcome: 'pr_merged', endedAt: timeOf(event) }),
    })),
    recordFailure: assign(({ context, event }) => {
      assertEvent(event, 'FAIL');
      const lost = event.workerLost === true;
      const retryable = lost || (event.retryable ?? true);
      const failure = {
        outcome: lost ? 'lost' : 'failed',
        endedAt: timeOf(event),
        error: event.error,
        retryable,
      } as const;
      const last = context.attempts[context.attempts.length - 1];
      const attemptIsOpen = last?.attemptNum === context.attemptNum && last.endedAt === null;
      // A lost attempt is forgiven (its number does not count) only when it ran: its worker died with it.
      const forgiven = lost && attemptIsOpen && lostAttemptCount(context) < context.maxLostAttempts;
      const attempts = attemptIsOpen
        ? withLastAttempt(context.attempts, failure)
        : isUsed(context, context.attemptNum)
          ? context.attempts
          : Object.freeze([
              ...context.attempts,
              Object.freeze({
                attemptNum: context.attemptNum,
                startedAt: null,
                endedAt: failure.endedAt,
                outcome: failure.outcome,
                error: failure.error,
                retryable,
                prUrl: null,
                workerId: null,
              } satisfies AttemptRecord),
            ]);
      return {
        error: event.error,
        retryable,
        attempts,
        extraAttempts: context.extraAttempts + (forgiven ? 1 : 0),
      };
    }),
    grantAttempts: assign(({ context, event }) => {
      assertEvent(event, 'REOPEN');
      return {
        concerns: Object.freeze([
          ...context.concerns,
          `reopened: ${event.reason} (last error: ${context.error})`,
        ]),
        error: null,
        retryable: null,
        extraAttempts:
          context.maxAttempts === null
            ? context.extraAttempts
            : context.attemptNum + 1 + event.attempts - context.maxAttempts,
      };
    }),
    archiveError: assign(({ context }) => ({
      concerns: Object.freeze([
        ...context.concerns,
        `attempt_${context.attemptNum}_error: ${context.error}`,
      ]),
      error: null,
      retryable: null,
    })),
    assignWorktree: assign(({ event }) => {
      assertEvent(event, 'ASSIGN_WORKTREE');
      return {
        worktreePath: event.worktreePath,
        branchName: event.branchName,
        signalDir: event.signalDir ?? null,
      };
    }),
    assignWorkstream: assign(({ event }) => {
      assertEvent(event, 'ASSIGN_WORKSTREAM');
      return {
        integrationBranch: event.integrationBranch,
        workstreamWorktreePath: event.workstreamWorktreePath,
      };
    }),
    recordAgentAddress: assign(({ event }) => {
      assertEvent(event, 'RECORD_AGENT_ADDRESS');
      return { agentAddress: Object.freeze({ ...event.address }) };
    }),
    addConcern: assign(({ context, event }) => {
      assertEvent(event, 'ADD_CONCERN');
      return { concerns: Object.freeze([...context.concerns, event.concern]) };
    }),
  },
}).createMachine({
  id: 'task',
  initial: 'pending',
  /** The context a task starts with: its spec, attempt 0, no error, an empty ledger. */
  context: ({ input }) => ({
    task: input.task,
    maxAttempts: input.maxAttempts ?? null,
    maxLostAttempts: input.maxLostAttempts ?? DEFAULT_MAX_LOST_ATTEMPTS,
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
    concerns: Object.freeze([]),
    agentAddress: null,
    attempts: Object.freeze([]),
  }),
  on: {
    ADD_CONCERN: { actions: 'addConcern' },
  },
  states: {
    pending: {
      on: {
        PREPARE_ATTEMPT: {
          guard: 'isAttemptAvailable',
          actions: 'prepareAttempt',
        },
        START: { target: 'running', guard: 'isCurrentAttemptUnused', actions: 'openAttempt' },
        MARK_PENDING: { target: 'pending' },
        ...whileActive,
      },
    },
    running: {
      on: {
        PR_CREATED: { target: 'pr_created', actions: 'recordPullRequest' },
        ...whileActive,
      },
    },
    pr_created: {
      on: {
        PR_MERGED: { target: 'pr_merged', actions: 'closeAttemptAsMerged' },
        FAIL: whileActive.FAIL,
      },
    },
    pr_merged: {},
    failed: {
      on: {
        RETRY: { target: 'pending', guard: 'isRetryAllowed', actions: 'archiveError' },
        REOPEN: { target: 'pending', guard: 'isFailureFinal', actions: 'grantAttempts' },
        MARK_PENDING: { target: 'pending', guard: 'isRetryAllowed' },
      },
    },
  },
});

/** The machine's context type, derived from the machine. */
export type TaskMachineContext = ContextFrom<typeof taskMachine>;
/** The machine's event type, derived from the machine. */
export type TaskMachineEvent = EventFromLogic<typeof taskMachine>;
/** A snapshot of {@link taskMachine}. */
export type TaskSnapshot = SnapshotFrom<typeof taskMachine>;
/** A running actor of {@link taskMachine}. */
export type TaskActor = ActorRefFrom<typeof taskMachine>;
