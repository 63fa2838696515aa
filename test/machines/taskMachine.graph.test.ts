/**
 * Every reachable state × every command, generated with `xstate/graph` and checked against an oracle written from
 * the contract (docs: shared/spec/task-runtime-api.md, tables "Machine" and "TaskRuntime"). The graph finds a
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
  MARK_PENDING: ['failed', 'pending'],
  ASSIGN_WORKTREE: ['pending', 'running'],
  ASSIGN_WORKSTREAM: ['pending', 'running'],
  RECORD_AGENT_ADDRESS: ['pending', 'running'],
  ADD_CONCERN: ['pending', 'running', 'pr_created', 'pr_merged', 'failed'],
};
const ALL_EVENT_TYPES = Object.keys(LEGAL_IN) as EventType[];

const usedAttempts = (context: TaskContext): ReadonlySet<number> =>
  new Set(context.attempts.map((record) => record.attemptNum));

/** The contract's "refused when" column for the guarded commands, with the guard that says no. */
function expectedVerdict(status: TaskStatus, context: TaskContext, event: TaskEvent): Verdict {
  if (!LEGAL_IN[event.type].includes(status)) return { accepted: false, reason: 'illegalInStatus' };
  const { attemptNum, maxAttempts, retryable } = context;
  const refuse = (reason: string, refused: boolean): Verdict =>
    refused ? { accepted: false, reason } : { accepted: true };
  switch (event.type) {
    case 'PREPARE_ATTEMPT':
      return refuse(
        'isAttemptAvailable',
        event.attemptNum < attemptNum ||
          usedAttempts(context).has(event.attemptNum) ||
          (maxAttempts !== null && event.attemptNum >= maxAttempts),
      );
    case 'START':
      return refuse('isCurrentAttemptUnused', usedAttempts(context).has(attemptNum));
    case 'RETRY':
    case 'MARK_PENDING':
      if (status === 'pending') return { accepted: true }; // MARK_PENDING: a no-op in pending
      return refuse(
        'isRetryAllowed',
        retryable === false || (maxAttempts !== null && attemptNum + 1 >= maxAttempts),
      );
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
      const retryable = event.retryable ?? true;
      const failure = { outcome: 'failed', endedAt: at, error: event.error, retryable } as const;
      const ledger =
        status !== 'pending'
          ? closeLast(failure)
          : usedAttempts(context).has(attemptNum)
            ? attempts
            : [...attempts, { attemptNum, startedAt: null, prUrl: null, ...failure }];
      return {
        status: 'failed',
        context: { ...context, error: event.error, retryable, attempts: ledger },
      };
    }
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

/** Every command worth trying in `snapshot`: all 11 event types, attempt numbers around the interesting edges. */
function commandsFor(snapshot: TaskSnapshot): TaskEvent[] {
  const { attemptNum, attempts, maxAttempts } = snapshot.context;
  const numbers = new Set([attemptNum, attemptNum + 1, ...attempts.map((a) => a.attemptNum)]);
  if (attemptNum > 0) numbers.add(attemptNum - 1);
  if (maxAttempts !== null) numbers.add(maxAttempts);
  return [
    ...[...numbers]
      .sort((a, b) => a - b)
      .map((n): TaskEvent => ({ type: 'PREPARE_ATTEMPT', attemptNum: n, at: AT })),
    { type: 'START', at: AT },
    { type: 'PR_CREATED', prUrl: 'https://github.com/org/repo/pull/7', at: AT },
    { type: 'PR_MERGED', at: AT },
    { type: 'FAIL', error: 'tests failed', at: AT },
    { type: 'FAIL', error: 'flaky network', retryable: true, at: AT },
    { type: 'FAIL', error: 'spec is contradictory', retryable: false, at: AT },
    { type: 'RETRY', at: AT },
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
      runtime.markRunning();
      return;
    case 'PR_CREATED':
      runtime.markPrCreated(event.prUrl);
      return;
    case 'PR_MERGED':
      runtime.markPrMerged();
      return;
    case 'FAIL':
      if (event.retryable === undefined) runtime.markFailed(event.error);
      else runtime.markFailed(event.error, { retryable: event.retryable });
      return;
    case 'RETRY':
      runtime.resetForRetry();
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

type TaskPath = StatePath<TaskSnapshot, TaskEvent>;
const task = createTask({ id: 'implement-login', role: 'implementer' });

interface GraphConfig {
  readonly name: string;
  readonly maxAttempts: number | undefined;
}
const CONFIGS: readonly GraphConfig[] = [
  { name: 'maxAttempts 2', maxAttempts: 2 },
  { name: 'maxAttempts 3', maxAttempts: 3 },
  { name: 'no attempt limit (explored up to attempt 2)', maxAttempts: undefined },
];

const inputOf = (config: GraphConfig) => ({
  task,
  ...(config.maxAttempts === undefined ? {} : { maxAttempts: config.maxAttempts }),
});

function pathsFor(config: GraphConfig): TaskPath[] {
  return getShortestPaths(taskMachine, {
    input: inputOf(config),
    events: commandsFor,
    serializeState: abstractKey,
    // without a limit attempt numbers grow forever: stop exploring beyond attempt 2
    stopWhen: (snapshot) => config.maxAttempts === undefined && snapshot.context.attemptNum >= 2,
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
  const { attemptNum, retryable, attempts } = state.context;
  const used = attempts.map((a) => a.attemptNum).join(',');
  const via = events.map((e) =>
    e.type === 'PREPARE_ATTEMPT' ? `PREPARE(${e.attemptNum})` : e.type,
  );
  return {
    label: `${state.value} (attempt ${attemptNum}, used [${used}], retryable ${retryable}) via ${via.join(' → ') || 'init'}`,
    events,
    graphKey: abstractKey(path.state),
    snapshots,
    state,
  };
}

function replay(reached: Reached, maxAttempts: number | undefined): TaskRuntime {
  const runtime = new TaskRuntime(task, {
    clock,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
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
      expect(all.map((r) => abstractKey(r.state))).toEqual(all.map((r) => r.graphKey));
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
          (s) =>
            s.value === 'failed' &&
            s.context.retryable === true &&
            s.context.maxAttempts !== null &&
            s.context.attemptNum + 1 >= s.context.maxAttempts,
        ),
        pendingAfterRetryWithAttemptUsed: states.some(
          (s) =>
            s.value === 'pending' &&
            s.context.concerns.length > 0 &&
            usedAttempts(s.context).has(s.context.attemptNum),
        ),
        pendingKeepingError: states.some((s) => s.value === 'pending' && s.context.error !== null),
      };
      expect(variants).toEqual({
        failedNotRetryable: true,
        failedFromPending: true,
        failedAfterPrCreated: true,
        failedWithNoAttemptLeft: config.maxAttempts !== undefined,
        pendingAfterRetryWithAttemptUsed: true,
        pendingKeepingError: true,
      });
    });

    describe.each(all)('$label', (reached) => {
      const { state } = reached;
      const commands = commandsFor(state);

      it('should be reached through the facade with the same status and context', () => {
        const runtime = new TaskRuntime(task, {
          clock,
          ...(config.maxAttempts === undefined ? {} : { maxAttempts: config.maxAttempts }),
        });
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
            const runtime = replay(reached, config.maxAttempts);
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
