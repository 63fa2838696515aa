/**
 * Every reachable state × every command, generated with `xstate/graph` and checked against an oracle written from
 * the contract (docs: shared/spec/task-runtime-api.md, tables "Machine" and "TaskRuntime", "Lost attempts"). The
 * graph finds a
 * shortest path to every abstract state; each path is replayed through the facade, then every command is tried
 * both on the machine (`snapshot.can`) and on the facade (accepted → expected status/context; refused →
 * IllegalTransitionError and an unchanged `persist()`).
 */
import { initialTransition, transition } from 'xstate';
import { getShortestPaths, type StatePath } from 'xstate/graph';
import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import { IllegalTransitionError } from '../../src/errors.js';
import type { TaskStatus } from '../../src/machines/status.js';
import {
  type AttemptRecord,
  type TaskContext,
  type TaskEvent,
  type TaskSnapshot,
  taskMachine,
} from '../../src/machines/taskMachine.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { createTask } from '../../src/task/createTask.js';

// ---------------------------------------------------------------------------------------------------------------
// The oracle: the contract's tables, written out independently of src/.
// ---------------------------------------------------------------------------------------------------------------

type EventType = TaskEvent['type'];
type Verdict = { readonly accepted: true } | { readonly accepted: false; readonly reason: string };

const ALL_STATUSES: readonly TaskStatus[] = [
  'pending',
  'running',
  'pr_created',
  'pr_merged',
  'failed',
];

/** The contract's "legal in" column. */
const LEGAL_IN: Readonly<Record<EventType, readonly TaskStatus[]>> = {
  PREPARE_ATTEMPT: ['pending'],
  START: ['pending'],
  PR_CREATED: ['running'],
  PR_MERGED: ['pr_created'],
  FAIL: ['pending', 'running', 'pr_created'],
  RETRY: ['failed'],
  REOPEN: ['failed'],
  MARK_PENDING: ['failed', 'pending'],
  ASSIGN_WORKTREE: ['pending', 'running'],
  ASSIGN_WORKSTREAM: ['pending', 'running'],
  RECORD_AGENT_ADDRESS: ['pending', 'running'],
  ADD_CONCERN: ['pending', 'running', 'pr_created', 'pr_merged', 'failed'],
};
const ALL_EVENT_TYPES = Object.keys(LEGAL_IN) as EventType[];

const usedAttempts = (context: TaskContext): ReadonlySet<number> =>
  new Set(context.attempts.map((record) => record.attemptNum));

/**
 * The first attempt number that may not be used, or null for no limit: maxAttempts, moved by one per lost attempt
 * that was not counted (`extraAttempts`) and set by a reopen to the current attempt + 1 + the attempts it granted.
 */
const attemptLimit = ({ maxAttempts, extraAttempts }: TaskContext): number | null =>
  maxAttempts === null ? null : maxAttempts + extraAttempts;

/** Whether a failure in `context` can be retried: not `retryable: false`, and an attempt left under the limit. */
function isRetryable(context: TaskContext): boolean {
  const limit = attemptLimit(context);
  return context.retryable !== false && (limit === null || context.attemptNum + 1 < limit);
}

/** The contract's "refused when" column for the guarded commands, with the guard that says no. */
function expectedVerdict(status: TaskStatus, context: TaskContext, event: TaskEvent): Verdict {
  if (!LEGAL_IN[event.type].includes(status)) return { accepted: false, reason: 'illegalInStatus' };
  const { attemptNum } = context;
  const limit = attemptLimit(context);
  const refuse = (reason: string, refused: boolean): Verdict =>
    refused ? { accepted: false, reason } : { accepted: true };
  switch (event.type) {
    case 'PREPARE_ATTEMPT':
      return refuse(
        'isAttemptAvailable',
        event.attemptNum < attemptNum ||
          usedAttempts(context).has(event.attemptNum) ||
          (limit !== null && event.attemptNum >= limit),
      );
    case 'START':
      return refuse('isCurrentAttemptUnused', usedAttempts(context).has(attemptNum));
    case 'RETRY':
    case 'MARK_PENDING':
      if (status === 'pending') return { accepted: true }; // MARK_PENDING: a no-op in pending
      return refuse('isRetryAllowed', !isRetryable(context));
    case 'REOPEN':
      return refuse('isFailureFinal', isRetryable(context));
    default:
      return { accepted: true };
  }
}

/** Event types legal now ("allowed" of IllegalTransitionError); PREPARE_ATTEMPT when some attempt number is. */
function expectedAllowed(status: TaskStatus, context: TaskContext): EventType[] {
  const used = usedAttempts(context);
  let next = context.attemptNum;
  while (used.has(next)) next += 1;
  const probes: Record<EventType, TaskEvent> = {
    PREPARE_ATTEMPT: { type: 'PREPARE_ATTEMPT', attemptNum: next },
    START: { type: 'START' },
    PR_CREATED: { type: 'PR_CREATED', prUrl: 'u' },
    PR_MERGED: { type: 'PR_MERGED' },
    FAIL: { type: 'FAIL', error: 'e' },
    RETRY: { type: 'RETRY' },
    REOPEN: { type: 'REOPEN', reason: 'r', attempts: 1 },
    MARK_PENDING: { type: 'MARK_PENDING' },
    ASSIGN_WORKTREE: { type: 'ASSIGN_WORKTREE', worktreePath: 'w', branchName: 'b' },
    ASSIGN_WORKSTREAM: {
      type: 'ASSIGN_WORKSTREAM',
      integrationBranch: 'i',
      workstreamWorktreePath: 'w',
    },
    RECORD_AGENT_ADDRESS: {
      type: 'RECORD_AGENT_ADDRESS',
      address: { kind: 'tmux', session: 's', paneId: 'p' },
    },
    ADD_CONCERN: { type: 'ADD_CONCERN', concern: 'c' },
  };
  return ALL_EVENT_TYPES.filter(
    (type) => expectedVerdict(status, context, probes[type]).accepted,
  ).sort();
}

/** What an accepted command does to the status and the context (ledger included), per the contract. */
function expectedAfter(
  status: TaskStatus,
  context: TaskContext,
  event: TaskEvent,
  at: string,
): { status: TaskStatus; context: TaskContext } {
  const { attempts, attemptNum } = context;
  const last = attempts[attempts.length - 1];
  const closeLast = (change: Partial<AttemptRecord>): AttemptRecord[] =>
    last === undefined ? [] : [...attempts.slice(0, -1), { ...last, ...change }];
  switch (event.type) {
    case 'PREPARE_ATTEMPT':
      return {
        status,
        context: { ...context, attemptNum: event.attemptNum, error: null, retryable: null },
      };
    case 'START':
      return {
        status: 'running',
        context: {
          ...context,
          attempts: [
            ...attempts,
            {
              attemptNum,
              startedAt: at,
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
      return {
        status: 'pr_created',
        context: {
          ...context,
          prUrl: event.prUrl,
          attempts: closeLast({ outcome: 'pr_created', prUrl: event.prUrl }),
        },
      };
    case 'PR_MERGED':
      return {
        status: 'pr_merged',
        context: { ...context, attempts: closeLast({ outcome: 'pr_merged', endedAt: at }) },
      };
    case 'FAIL': {
      const lost = event.workerLost === true;
      const retryable = lost || (event.retryable ?? true);
      const outcome = lost ? 'lost' : 'failed';
      const failure = { outcome, endedAt: at, error: event.error, retryable } as const;
      // a failure from pending whose attempt was used already (after a retry) writes no record
      const writesRecord = status !== 'pending' || !usedAttempts(context).has(attemptNum);
      const ledger =
        status !== 'pending'
          ? closeLast(failure)
          : writesRecord
            ? [
                ...attempts,
                { attemptNum, startedAt: null, prUrl: null, workerId: null, ...failure },
              ]
            : attempts;
      // a lost attempt that ran does not count, up to maxLostAttempts of them: the limit moves one further
      const lostBefore = attempts.filter((record) => record.outcome === 'lost').length;
      const forgiven = lost && status !== 'pending' && lostBefore < context.maxLostAttempts;
      return {
        status: 'failed',
        context: {
          ...context,
          error: event.error,
          retryable,
          attempts: ledger,
          extraAttempts: context.extraAttempts + (forgiven ? 1 : 0),
        },
      };
    }
    case 'REOPEN':
      // exactly `attempts` counted attempts from now on: numbers attemptNum + 1 … attemptNum + attempts
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
              : attemptNum + 1 + event.attempts - context.maxAttempts,
        },
      };
    case 'RETRY':
      return {
        status: 'pending',
        context: {
          ...context,
          concerns: [...context.concerns, `attempt_${attemptNum}_error: ${context.error}`],
          error: null,
          retryable: null,
        },
      };
    case 'MARK_PENDING':
      return { status: 'pending', context };
    case 'ASSIGN_WORKTREE':
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
      return {
        status,
        context: {
          ...context,
          integrationBranch: event.integrationBranch,
          workstreamWorktreePath: event.workstreamWorktreePath,
        },
      };
    case 'RECORD_AGENT_ADDRESS':
      return { status, context: { ...context, agentAddress: { ...event.address } } };
    case 'ADD_CONCERN':
      return { status, context: { ...context, concerns: [...context.concerns, event.concern] } };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Commands: sample events per state (the graph's `events`), and their facade method.
// ---------------------------------------------------------------------------------------------------------------

const AT = '2025-01-02T03:04:05.000Z';
const clock = (): Date => new Date(AT);

/** Every command worth trying in `snapshot`: all 12 event types, attempt numbers around the interesting edges. */
function commandsFor(snapshot: TaskSnapshot): TaskEvent[] {
  const { attemptNum, attempts, maxAttempts } = snapshot.context;
  const numbers = new Set([attemptNum, attemptNum + 1, ...attempts.map((a) => a.attemptNum)]);
  if (attemptNum > 0) numbers.add(attemptNum - 1);
  if (maxAttempts !== null) numbers.add(maxAttempts);
  const limit = attemptLimit(snapshot.context);
  if (limit !== null) numbers.add(limit);
  return [
    ...[...numbers]
      .sort((a, b) => a - b)
      .map((n): TaskEvent => ({ type: 'PREPARE_ATTEMPT', attemptNum: n, at: AT })),
    { type: 'START', at: AT },
    { type: 'START', workerId: 'worker-7', at: AT },
    { type: 'PR_CREATED', prUrl: 'https://github.com/org/repo/pull/7', at: AT },
    { type: 'PR_MERGED', at: AT },
    { type: 'FAIL', error: 'tests failed', at: AT },
    { type: 'FAIL', error: 'flaky network', retryable: true, at: AT },
    { type: 'FAIL', error: 'spec is contradictory', retryable: false, at: AT },
    { type: 'FAIL', error: 'worker lost: lease expired', workerLost: true, at: AT },
    { type: 'RETRY', at: AT },
    { type: 'REOPEN', reason: 'spec fixed', attempts: 1, at: AT },
    { type: 'REOPEN', reason: 'flaky CI replaced', attempts: 2, at: AT },
    { type: 'MARK_PENDING', at: AT },
    { type: 'ASSIGN_WORKTREE', worktreePath: '/wt/login', branchName: 'task/login', at: AT },
    {
      type: 'ASSIGN_WORKTREE',
      worktreePath: '/wt/login-2',
      branchName: 'task/login-2',
      signalDir: '/wt/login-2/.signals',
      at: AT,
    },
    {
      type: 'ASSIGN_WORKSTREAM',
      integrationBranch: 'ws/auth',
      workstreamWorktreePath: '/ws/auth',
      at: AT,
    },
    {
      type: 'RECORD_AGENT_ADDRESS',
      address: { kind: 'tmux', session: 'agentrelay', paneId: '%3' },
      at: AT,
    },
    { type: 'ADD_CONCERN', concern: 'CI is slow', at: AT },
  ];
}

/** Sends a machine event through the facade method that stands for it. */
function sendThroughFacade(runtime: TaskRuntime, event: TaskEvent): void {
  switch (event.type) {
    case 'PREPARE_ATTEMPT':
      runtime.prepareForAttempt(event.attemptNum);
      return;
    case 'START':
      if (event.workerId === undefined) runtime.markRunning();
      else runtime.markRunning({ workerId: event.workerId });
      return;
    case 'PR_CREATED':
      runtime.markPrCreated(event.prUrl);
      return;
    case 'PR_MERGED':
      runtime.markPrMerged();
      return;
    case 'FAIL':
      if (event.retryable === undefined && event.workerLost === undefined) {
        runtime.markFailed(event.error);
      } else {
        runtime.markFailed(event.error, {
          ...(event.retryable === undefined ? {} : { retryable: event.retryable }),
          ...(event.workerLost === undefined ? {} : { workerLost: event.workerLost }),
        });
      }
      return;
    case 'RETRY':
      runtime.resetForRetry();
      return;
    case 'REOPEN':
      if (event.attempts === 1) runtime.reopen(event.reason);
      else runtime.reopen(event.reason, { attempts: event.attempts });
      return;
    case 'MARK_PENDING':
      runtime.markPending();
      return;
    case 'ASSIGN_WORKTREE':
      runtime.assignWorktree({
        worktreePath: event.worktreePath,
        branchName: event.branchName,
        ...(event.signalDir === undefined ? {} : { signalDir: event.signalDir }),
      });
      return;
    case 'ASSIGN_WORKSTREAM':
      runtime.assignWorkstream({
        integrationBranch: event.integrationBranch,
        workstreamWorktreePath: event.workstreamWorktreePath,
      });
      return;
    case 'RECORD_AGENT_ADDRESS':
      runtime.recordAgentAddress(new TmuxAddress(event.address.session, event.address.paneId));
      return;
    case 'ADD_CONCERN':
      runtime.addConcern(event.concern);
      return;
  }
}

const describeEvent = (event: TaskEvent): string => {
  const { type, at: _at, ...payload } = event;
  return Object.keys(payload).length === 0 ? type : `${type} ${JSON.stringify(payload)}`;
};

// ---------------------------------------------------------------------------------------------------------------
// The graph.
// ---------------------------------------------------------------------------------------------------------------

/** Abstract state: status plus what the guards look at (concerns and assignments do not make a new vertex). */
function abstractKey(snapshot: TaskSnapshot): string {
  const { attemptNum, retryable, error, prUrl, attempts } = snapshot.context;
  return JSON.stringify({
    status: snapshot.value,
    attemptNum,
    retryable,
    hasError: error !== null,
    hasPrUrl: prUrl !== null,
    used: attempts.map((a) => `${a.attemptNum}${a.startedAt === null ? ' (blocked)' : ''}`),
  });
}

/**
 * Abstract state of the lost-and-reopen graphs: what the guards and the forgiving of lost attempts look at — the
 * numbers used and how many were lost, not which, nor which were blocked (a coarser key keeps the graph small).
 */
function lostAndReopenKey(snapshot: TaskSnapshot): string {
  const { attemptNum, retryable, error, prUrl, attempts, extraAttempts } = snapshot.context;
  return JSON.stringify({
    status: snapshot.value,
    attemptNum,
    retryable,
    extraAttempts,
    hasError: error !== null,
    hasPrUrl: prUrl !== null,
    used: attempts.map((a) => a.attemptNum),
    lost: attempts.filter((a) => a.outcome === 'lost').length,
  });
}

/**
 * The classic graphs explore without lost attempts, reopens and named workers (every state still tries them as
 * commands; a worker's name changes nothing the guards look at).
 */
const classicEvents = (snapshot: TaskSnapshot): TaskEvent[] =>
  commandsFor(snapshot).filter(
    (event) =>
      event.type !== 'REOPEN' &&
      !(event.type === 'FAIL' && event.workerLost === true) &&
      !(event.type === 'START' && event.workerId !== undefined),
  );

/**
 * The lost-and-reopen graphs explore with the commands that change what the guards look at: the next unused attempt
 * only (skipping numbers is the classic graphs' job), every kind of failure, retry and reopen.
 */
function lostAndReopenEvents(snapshot: TaskSnapshot): TaskEvent[] {
  const used = usedAttempts(snapshot.context);
  let next = snapshot.context.attemptNum;
  while (used.has(next)) next += 1;
  return [
    { type: 'PREPARE_ATTEMPT', attemptNum: next, at: AT },
    { type: 'START', at: AT },
    { type: 'PR_CREATED', prUrl: 'https://github.com/org/repo/pull/7', at: AT },
    { type: 'PR_MERGED', at: AT },
    { type: 'FAIL', error: 'tests failed', at: AT },
    { type: 'FAIL', error: 'spec is contradictory', retryable: false, at: AT },
    { type: 'FAIL', error: 'worker lost: lease expired', workerLost: true, at: AT },
    { type: 'RETRY', at: AT },
    { type: 'REOPEN', reason: 'spec fixed', attempts: 1, at: AT },
    { type: 'MARK_PENDING', at: AT },
  ];
}

type TaskPath = StatePath<TaskSnapshot, TaskEvent>;
const task = createTask({ id: 'implement-login', role: 'implementer' });

interface GraphConfig {
  readonly name: string;
  readonly maxAttempts: number | undefined;
  /** Absent for the default (3). */
  readonly maxLostAttempts?: number;
  /**
   * Whether the graph explores lost attempts and reopens; they move the limit, so attempt numbers could grow
   * forever: states at attempt 3 are checked, but not explored further.
   */
  readonly lostAndReopen: boolean;
}
const CONFIGS: readonly GraphConfig[] = [
  { name: 'maxAttempts 2', maxAttempts: 2, lostAndReopen: false },
  { name: 'maxAttempts 3', maxAttempts: 3, lostAndReopen: false },
  {
    name: 'no attempt limit (explored up to attempt 2)',
    maxAttempts: undefined,
    lostAndReopen: false,
  },
  {
    name: 'maxAttempts 1, maxLostAttempts 1, lost attempts and reopens (explored up to attempt 3)',
    maxAttempts: 1,
    maxLostAttempts: 1,
    lostAndReopen: true,
  },
  {
    name: 'maxAttempts 2, maxLostAttempts 0, lost attempts and reopens (explored up to attempt 3)',
    maxAttempts: 2,
    maxLostAttempts: 0,
    lostAndReopen: true,
  },
];

/** The runtime options (and machine input) of a config. */
const limitsOf = (config: GraphConfig) => ({
  ...(config.maxAttempts === undefined ? {} : { maxAttempts: config.maxAttempts }),
  ...(config.maxLostAttempts === undefined ? {} : { maxLostAttempts: config.maxLostAttempts }),
});

const inputOf = (config: GraphConfig) => ({ task, ...limitsOf(config) });

const keyOf = (config: GraphConfig) => (config.lostAndReopen ? lostAndReopenKey : abstractKey);

function pathsFor(config: GraphConfig): TaskPath[] {
  return getShortestPaths(taskMachine, {
    input: inputOf(config),
    events: config.lostAndReopen ? lostAndReopenEvents : classicEvents,
    serializeState: keyOf(config),
    // without a limit (or with one that moves) attempt numbers grow forever
    stopWhen: ({ context }) =>
      config.lostAndReopen
        ? context.attemptNum >= 3
        : config.maxAttempts === undefined && context.attemptNum >= 2,
  });
}

/** A state the graph reached: the events of its shortest path, and the snapshot they lead to on the machine. */
interface Reached {
  readonly label: string;
  readonly events: readonly TaskEvent[];
  readonly graphKey: string;
  /** Snapshots after each event, replayed with `transition` (the graph keeps one snapshot per abstract vertex). */
  readonly snapshots: readonly TaskSnapshot[];
  readonly state: TaskSnapshot;
}

function reach(config: GraphConfig, path: TaskPath): Reached {
  // the graph's first step is `xstate.init`; the others carry the event that led to their state
  const events = path.steps.slice(1).map((step) => step.event);
  const [initial] = initialTransition(taskMachine, inputOf(config));
  const snapshots: TaskSnapshot[] = [];
  let state = initial;
  for (const event of events) {
    [state] = transition(taskMachine, state, event);
    snapshots.push(state);
  }
  const { attemptNum, retryable, attempts, extraAttempts } = state.context;
  const used = attempts
    .map((a) => `${a.attemptNum}${a.outcome === 'lost' ? ' lost' : ''}`)
    .join(',');
  const via = events.map((e) =>
    e.type === 'PREPARE_ATTEMPT'
      ? `PREPARE(${e.attemptNum})`
      : e.type === 'REOPEN'
        ? `REOPEN(${e.attempts})`
        : e.type === 'FAIL' && e.workerLost === true
          ? 'FAIL(lost)'
          : e.type,
  );
  const extra = extraAttempts === 0 ? '' : `, extra ${extraAttempts}`;
  return {
    label: `${state.value} (attempt ${attemptNum}, used [${used}], retryable ${retryable}${extra}) via ${via.join(' → ') || 'init'}`,
    events,
    graphKey: keyOf(config)(path.state),
    snapshots,
    state,
  };
}

function replay(reached: Reached, config: GraphConfig): TaskRuntime {
  const runtime = new TaskRuntime(task, { clock, ...limitsOf(config) });
  for (const event of reached.events) sendThroughFacade(runtime, event);
  return runtime;
}

/** What happens when `event` is sent through the facade, in a form that compares whole. */
function facadeOutcome(runtime: TaskRuntime, event: TaskEvent): unknown {
  const before = JSON.stringify(runtime.persist());
  try {
    sendThroughFacade(runtime, event);
    return { accepted: true, status: runtime.status, context: runtime.persist().context };
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) return { threw: String(error) };
    return {
      accepted: false,
      errorStatus: error.status,
      event: error.event,
      reason: error.reason,
      allowed: [...error.allowed].sort(),
      persistUnchanged: JSON.stringify(runtime.persist()) === before,
      messageNamesAll:
        error.message.includes(error.status) &&
        error.message.includes(error.event) &&
        error.message.includes(error.reason),
    };
  }
}

function expectedFacadeOutcome(state: TaskSnapshot, event: TaskEvent): unknown {
  const { value: status, context } = state;
  const verdict = expectedVerdict(status, context, event);
  if (verdict.accepted) return { accepted: true, ...expectedAfter(status, context, event, AT) };
  return {
    accepted: false,
    errorStatus: status,
    event: event.type,
    reason: verdict.reason,
    allowed: expectedAllowed(status, context),
    persistUnchanged: true,
    messageNamesAll: true,
  };
}

const lastOutcome = (s: TaskSnapshot) => s.context.attempts[s.context.attempts.length - 1]?.outcome;
const lostCount = (s: TaskSnapshot) =>
  s.context.attempts.filter((a) => a.outcome === 'lost').length;
const wasReopened = (s: TaskSnapshot) =>
  s.context.concerns.some((concern) => concern.startsWith('reopened: '));

/** Which states of lost attempts and reopens are among `states`. */
function lostAndReopenVariants(states: readonly TaskSnapshot[]) {
  const failedLost = states.filter((s) => s.value === 'failed' && lastOutcome(s) === 'lost');
  return {
    // every lost attempt so far moved the limit one further
    lostAndForgiven: failedLost.some(
      (s) => !wasReopened(s) && s.context.extraAttempts === lostCount(s),
    ),
    // more lost attempts than maxLostAttempts, and the limit moved only for those it forgives
    lostAndCounted: failedLost.some(
      (s) =>
        !wasReopened(s) &&
        lostCount(s) > s.context.maxLostAttempts &&
        s.context.extraAttempts === s.context.maxLostAttempts,
    ),
    // a task that loses its worker every time still ends
    lostWithNoAttemptLeft: failedLost.some((s) => !isRetryable(s.context)),
    attemptAtOrBeyondMaxAttempts: states.some(
      (s) => s.context.maxAttempts !== null && s.context.attemptNum >= s.context.maxAttempts,
    ),
    pendingAfterReopen: states.some((s) => s.value === 'pending' && wasReopened(s)),
    runningAfterReopen: states.some((s) => s.value === 'running' && wasReopened(s)),
  };
}

describe('taskMachine graph', () => {
  it('should try a command of every event type of the contract and of the machine', () => {
    const [initial] = initialTransition(taskMachine, { task });
    const types = new Set(commandsFor(initial).map((event) => event.type));
    expect([...types].sort()).toEqual([...ALL_EVENT_TYPES].sort());
    expect([...taskMachine.events].sort()).toEqual([...ALL_EVENT_TYPES].sort());
  });

  describe.each(CONFIGS)('with $name', (config) => {
    const all = pathsFor(config).map((path) => reach(config, path));

    it('should lead each shortest path to the abstract state the graph claims', () => {
      expect(all.map((r) => keyOf(config)(r.state))).toEqual(all.map((r) => r.graphKey));
    });

    it('should reach exactly the five statuses', () => {
      const statuses = new Set(all.map((r) => r.state.value));
      expect([...statuses].sort()).toEqual([...ALL_STATUSES].sort());
    });

    it('should reach the interesting variants of failed and pending', () => {
      const states = all.map((r) => r.state);
      const variants = {
        failedNotRetryable: states.some(
          (s) => s.value === 'failed' && s.context.retryable === false,
        ),
        failedFromPending: states.some(
          (s) => s.value === 'failed' && s.context.attempts.some((a) => a.startedAt === null),
        ),
        failedAfterPrCreated: states.some((s) => s.value === 'failed' && s.context.prUrl !== null),
        failedWithNoAttemptLeft: states.some(
          (s) => s.value === 'failed' && s.context.retryable === true && !isRetryable(s.context),
        ),
        pendingAfterRetryWithAttemptUsed: states.some(
          (s) =>
            s.value === 'pending' &&
            s.context.concerns.length > 0 &&
            usedAttempts(s.context).has(s.context.attemptNum),
        ),
        pendingKeepingError: states.some((s) => s.value === 'pending' && s.context.error !== null),
        ...lostAndReopenVariants(states),
      };
      const lost = config.lostAndReopen;
      expect(variants).toEqual({
        failedNotRetryable: true,
        failedFromPending: true,
        failedAfterPrCreated: true,
        failedWithNoAttemptLeft: config.maxAttempts !== undefined,
        pendingAfterRetryWithAttemptUsed: true,
        pendingKeepingError: true,
        // the classic graphs do not explore lost attempts and reopens (their states still try them as commands)
        lostAndForgiven: lost && config.maxLostAttempts !== 0,
        lostAndCounted: lost,
        lostWithNoAttemptLeft: lost,
        attemptAtOrBeyondMaxAttempts: lost,
        pendingAfterReopen: lost,
        runningAfterReopen: lost,
      });
    });

    describe.each(all)('$label', (reached) => {
      const { state } = reached;
      const commands = commandsFor(state);

      it('should be reached through the facade with the same status and context', () => {
        const runtime = new TaskRuntime(task, { clock, ...limitsOf(config) });
        const actual = reached.events.map((event) => {
          sendThroughFacade(runtime, event);
          return { status: runtime.status, context: runtime.persist().context };
        });
        expect(actual).toEqual(
          reached.snapshots.map((s) => ({ status: s.value, context: s.context })),
        );
      });

      it('should accept or refuse every command on the machine exactly as the contract says', () => {
        const actual = Object.fromEntries(
          commands.map((event) => [describeEvent(event), state.can(event)]),
        );
        const expected = Object.fromEntries(
          commands.map((event) => [
            describeEvent(event),
            expectedVerdict(state.value, state.context, event).accepted,
          ]),
        );
        expect(actual).toEqual(expected);
      });

      it('should change the machine exactly as the contract says for every accepted command', () => {
        const accepted = commands.filter(
          (event) => expectedVerdict(state.value, state.context, event).accepted,
        );
        expect(accepted.map((event) => event.type)).toContain('ADD_CONCERN');
        const actual = Object.fromEntries(
          accepted.map((event) => {
            const [next] = transition(taskMachine, state, event);
            return [describeEvent(event), { status: next.value, context: next.context }];
          }),
        );
        const expected = Object.fromEntries(
          accepted.map((event) => [
            describeEvent(event),
            expectedAfter(state.value, state.context, event, AT),
          ]),
        );
        expect(actual).toEqual(expected);
      });

      it('should accept or refuse every command through the facade exactly as the contract says', () => {
        const actual = Object.fromEntries(
          commands.map((event) => {
            const runtime = replay(reached, config);
            const { at: _at, ...untimed } = event;
            const can = runtime.can(untimed);
            return [describeEvent(event), { can, outcome: facadeOutcome(runtime, event) }];
          }),
        );
        const expected = Object.fromEntries(
          commands.map((event) => [
            describeEvent(event),
            {
              can: expectedVerdict(state.value, state.context, event).accepted,
              outcome: expectedFacadeOutcome(state, event),
            },
          ]),
        );
        expect(actual).toEqual(expected);
      });
    });
  });
});
