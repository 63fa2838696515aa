import { AgentAddress, TmuxAddress } from '../../src/agent/AgentAddress.js';
import {
  IllegalTransitionError,
  InvalidArgumentError,
  TaskRuntimeError,
} from '../../src/errors.js';
import type { TaskStatus } from '../../src/machines/status.js';
import type { AttemptRecord, TaskEventType } from '../../src/machines/taskMachine.js';
import { TaskRuntime, type TaskRuntimeOptions } from '../../src/runtime/TaskRuntime.js';
import { createTask, type Task } from '../../src/task/createTask.js';
import { AgentRole } from '../../src/task/enums.js';

const PR_URL = 'https://github.com/org/repo/pull/7';

/** A clock that stands still until told otherwise; `set` moves it. */
function fakeClock(start = '2025-01-02T03:04:05.678Z') {
  let now = new Date(start);
  return {
    clock: (): Date => new Date(now.getTime()),
    set(iso: string): string {
      now = new Date(iso);
      return now.toISOString();
    },
  };
}

function makeTask(id = 'implement-login'): Task {
  return createTask({ id, role: AgentRole.IMPLEMENTER, dependencies: ['spec-login'] });
}

/** A runtime brought into `status` by legal commands only. */
function runtimeIn(status: TaskStatus, options: TaskRuntimeOptions = {}): TaskRuntime {
  const runtime = new TaskRuntime(makeTask(), options);
  if (status === 'pending') return runtime;
  if (status === 'failed') {
    runtime.markRunning();
    runtime.markFailed('boom');
    return runtime;
  }
  runtime.markRunning();
  if (status === 'running') return runtime;
  runtime.markPrCreated(PR_URL);
  if (status === 'pr_created') return runtime;
  runtime.markPrMerged();
  return runtime;
}

/** Runs `command`, asserts it threw an error of `type` and left persist() unchanged. */
function thrownUnchanged<E>(
  type: new (...args: never[]) => E,
  runtime: TaskRuntime,
  command: (r: TaskRuntime) => void,
): E {
  const before = JSON.stringify(runtime.persist());
  let caught: unknown;
  try {
    command(runtime);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  expect(JSON.stringify(runtime.persist())).toBe(before);
  return caught as E;
}

/** Runs `command`, asserts it threw an IllegalTransitionError and left persist() unchanged. */
const refused = (runtime: TaskRuntime, command: (r: TaskRuntime) => void): IllegalTransitionError =>
  thrownUnchanged(IllegalTransitionError, runtime, command);

/** Runs `command`, asserts it threw an InvalidArgumentError and left persist() unchanged. */
const invalid = (runtime: TaskRuntime, command: (r: TaskRuntime) => void): InvalidArgumentError =>
  thrownUnchanged(InvalidArgumentError, runtime, command);

/** An attempt record: attempt 0 with nothing started, ended or recorded, except `fields`. */
function attemptRecord(
  fields: Pick<AttemptRecord, 'outcome'> & Partial<AttemptRecord>,
): AttemptRecord {
  return {
    attemptNum: 0,
    startedAt: null,
    endedAt: null,
    error: null,
    retryable: null,
    prUrl: null,
    workerId: null,
    ...fields,
  };
}

const sorted = (types: readonly string[]): string[] => [...types].sort();

const RECORD_KEEPING: readonly TaskEventType[] = [
  'ASSIGN_WORKTREE',
  'ASSIGN_WORKSTREAM',
  'RECORD_AGENT_ADDRESS',
];
/** Event types legal in each status of a fresh lifecycle (no maxAttempts, retryable failure). */
const ALLOWED: Record<TaskStatus, readonly TaskEventType[]> = {
  pending: ['PREPARE_ATTEMPT', 'START', 'FAIL', 'MARK_PENDING', ...RECORD_KEEPING, 'ADD_CONCERN'],
  running: ['PR_CREATED', 'FAIL', ...RECORD_KEEPING, 'ADD_CONCERN'],
  pr_created: ['PR_MERGED', 'FAIL', 'ADD_CONCERN'],
  pr_merged: ['ADD_CONCERN'],
  failed: ['RETRY', 'MARK_PENDING', 'ADD_CONCERN'],
};
const STATUSES: readonly TaskStatus[] = ['pending', 'running', 'pr_created', 'pr_merged', 'failed'];

function expectRefusal(
  error: IllegalTransitionError,
  expected: {
    status: TaskStatus;
    event: TaskEventType;
    reason: string;
    allowed: readonly TaskEventType[];
  },
): void {
  expect(error).toBeInstanceOf(TaskRuntimeError);
  expect(error.taskId).toBe('implement-login');
  expect(error.status).toBe(expected.status);
  expect(error.event).toBe(expected.event);
  expect(error.reason).toBe(expected.reason);
  expect(sorted(error.allowed)).toEqual(sorted(expected.allowed));
  expect(error.message).toContain(expected.status);
  expect(error.message).toContain(expected.event);
  expect(error.message).toContain(expected.reason);
  for (const type of expected.allowed) expect(error.message).toContain(type);
}

/** Asserts that resetForRetry and markPending are both refused in failed by isRetryAllowed (only reopen is left). */
function expectNoRetry(runtime: TaskRuntime): void {
  for (const [event, command] of [
    ['RETRY', (r: TaskRuntime) => r.resetForRetry()],
    ['MARK_PENDING', (r: TaskRuntime) => r.markPending()],
  ] as const) {
    expectRefusal(refused(runtime, command), {
      status: 'failed',
      event,
      reason: 'isRetryAllowed',
      allowed: ['REOPEN', 'ADD_CONCERN'],
    });
  }
}

describe('TaskRuntime', () => {
  describe('agentrelay behaviour', () => {
    it('should start pending at attempt 0 with no paths, error, PR, concerns or agent address', () => {
      const runtime = new TaskRuntime(makeTask());
      expect(runtime.status).toBe('pending');
      expect(runtime.isTerminal).toBe(false);
      expect(runtime.state).toEqual({
        status: 'pending',
        worktreePath: null,
        branchName: null,
        signalDir: null,
        error: null,
        attemptNum: 0,
        integrationBranch: null,
        workstreamWorktreePath: null,
      });
      expect(runtime.artifacts).toEqual({ prUrl: null, concerns: [], agentAddress: null });
      expect(runtime.attempts).toEqual([]);
    });

    it('should build the task from a TaskInput with defaults', () => {
      const runtime = new TaskRuntime({ id: 't', role: AgentRole.GENERIC });
      expect(runtime.task).toEqual(createTask({ id: 't', role: AgentRole.GENERIC }));
      expect(Object.isFrozen(runtime.task)).toBe(true);
    });

    it('should keep the very task object it was given', () => {
      const task = makeTask();
      expect(new TaskRuntime(task).task).toBe(task);
    });

    it('should record worktree, branch, concerns and agent address through a full lifecycle', () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.assignWorktree({
        worktreePath: '/work/wt/login',
        branchName: 'task/login',
        signalDir: '/work/signals/login',
      });
      runtime.assignWorkstream({
        integrationBranch: 'ws/auth',
        workstreamWorktreePath: '/work/wt/auth',
      });
      runtime.recordAgentAddress(new TmuxAddress('agentrelay', '%3'));
      runtime.markRunning();
      expect(runtime.status).toBe('running');
      expect(runtime.isTerminal).toBe(false);
      runtime.addConcern('the login form has no rate limit');
      runtime.markPrCreated(PR_URL);
      expect(runtime.status).toBe('pr_created');
      expect(runtime.isTerminal).toBe(false);
      runtime.markPrMerged();
      expect(runtime.status).toBe('pr_merged');
      expect(runtime.isTerminal).toBe(true);
      expect(runtime.state).toEqual({
        status: 'pr_merged',
        worktreePath: '/work/wt/login',
        branchName: 'task/login',
        signalDir: '/work/signals/login',
        error: null,
        attemptNum: 0,
        integrationBranch: 'ws/auth',
        workstreamWorktreePath: '/work/wt/auth',
      });
      expect(runtime.artifacts.prUrl).toBe(PR_URL);
      expect(runtime.artifacts.concerns).toEqual(['the login form has no rate limit']);
      const agentAddress = runtime.artifacts.agentAddress;
      expect(agentAddress).toBeInstanceOf(TmuxAddress);
      expect(agentAddress?.label).toBe('agentrelay:%3');
      expect(agentAddress?.equals(new TmuxAddress('agentrelay', '%3'))).toBe(true);
    });

    it('should record a worktree without a signal directory as signalDir null', () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.assignWorktree({ worktreePath: '/w', branchName: 'b' });
      expect(runtime.state.worktreePath).toBe('/w');
      expect(runtime.state.branchName).toBe('b');
      expect(runtime.state.signalDir).toBeNull();
    });

    it('should record worktree, workstream and agent address while running', () => {
      const runtime = runtimeIn('running');
      runtime.assignWorktree({ worktreePath: '/w', branchName: 'b', signalDir: '/s' });
      runtime.assignWorkstream({ integrationBranch: 'ws', workstreamWorktreePath: '/ws' });
      runtime.recordAgentAddress(new TmuxAddress('s', '%9'));
      expect(runtime.state).toMatchObject({
        status: 'running',
        worktreePath: '/w',
        branchName: 'b',
        signalDir: '/s',
        integrationBranch: 'ws',
        workstreamWorktreePath: '/ws',
      });
      expect(runtime.artifacts.agentAddress?.label).toBe('s:%9');
    });

    it('should set the attempt number with prepareForAttempt(2)', () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.prepareForAttempt(2);
      expect(runtime.state.attemptNum).toBe(2);
      expect(runtime.status).toBe('pending');
    });

    it('should clear a kept error with prepareForAttempt', () => {
      const runtime = runtimeIn('failed');
      runtime.markPending();
      expect(runtime.state.error).toBe('boom');
      runtime.prepareForAttempt(2);
      expect(runtime.state.attemptNum).toBe(2);
      expect(runtime.state.error).toBeNull();
    });

    it("should fail with markFailed('boom') from running", () => {
      const runtime = runtimeIn('running');
      runtime.markFailed('boom');
      expect(runtime.status).toBe('failed');
      expect(runtime.isTerminal).toBe(true);
      expect(runtime.state.error).toBe('boom');
    });

    it('should fail straight from pending, as a task blocked by a failed dependency', () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.markFailed('dependency spec-login failed');
      expect(runtime.status).toBe('failed');
      expect(runtime.state.error).toBe('dependency spec-login failed');
    });

    it('should fail from pr_created, keeping the PR URL', () => {
      const runtime = runtimeIn('pr_created');
      runtime.markFailed('review rejected');
      expect(runtime.status).toBe('failed');
      expect(runtime.state.error).toBe('review rejected');
      expect(runtime.artifacts.prUrl).toBe(PR_URL);
    });

    it("should archive attempt 1's error on resetForRetry", () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.prepareForAttempt(1);
      runtime.markRunning();
      runtime.markFailed('oops');
      runtime.resetForRetry();
      expect(runtime.status).toBe('pending');
      expect(runtime.state.error).toBeNull();
      expect(runtime.state.attemptNum).toBe(1);
      expect(runtime.artifacts.concerns).toEqual(['attempt_1_error: oops']);
    });

    it('should append the archived error after earlier concerns', () => {
      const runtime = runtimeIn('running');
      runtime.addConcern('first');
      runtime.markFailed('second');
      runtime.resetForRetry();
      expect(runtime.artifacts.concerns).toEqual(['first', 'attempt_0_error: second']);
    });

    it('should go back to pending from failed with markPending, keeping the error', () => {
      const runtime = runtimeIn('failed');
      runtime.markPending();
      expect(runtime.status).toBe('pending');
      expect(runtime.state.error).toBe('boom');
      expect(runtime.artifacts.concerns).toEqual([]);
    });

    it('should treat markPending as a no-op when pending', () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.addConcern('note');
      const before = JSON.stringify(runtime.persist());
      runtime.markPending();
      expect(runtime.status).toBe('pending');
      expect(JSON.stringify(runtime.persist())).toBe(before);
    });

    it('should run a second attempt to a merge after a retry', () => {
      const runtime = runtimeIn('failed');
      runtime.resetForRetry();
      runtime.prepareForAttempt(1);
      runtime.markRunning();
      runtime.markPrCreated(PR_URL);
      runtime.markPrMerged();
      expect(runtime.status).toBe('pr_merged');
      expect(runtime.state.attemptNum).toBe(1);
      expect(runtime.artifacts.concerns).toEqual(['attempt_0_error: boom']);
    });

    it('should keep several runtimes of one task independent', () => {
      const task = makeTask();
      const first = new TaskRuntime(task);
      const second = new TaskRuntime(task);
      first.markRunning();
      first.addConcern('only in first');
      first.markFailed('boom');
      expect(first.status).toBe('failed');
      expect(second.status).toBe('pending');
      expect(second.state.error).toBeNull();
      expect(second.artifacts.concerns).toEqual([]);
      expect(second.attempts).toEqual([]);
      second.prepareForAttempt(3);
      expect(first.state.attemptNum).toBe(0);
      expect(first.task).toBe(second.task);
    });

    it('should never change the task spec', () => {
      const task = makeTask();
      const before = JSON.stringify(task);
      const runtime = new TaskRuntime(task);
      runtime.assignWorktree({ worktreePath: '/w', branchName: 'b' });
      runtime.markRunning();
      runtime.addConcern('c');
      runtime.markFailed('boom');
      runtime.resetForRetry();
      runtime.prepareForAttempt(1);
      runtime.markRunning();
      runtime.markPrCreated(PR_URL);
      runtime.markPrMerged();
      expect(runtime.task).toBe(task);
      expect(JSON.stringify(runtime.task)).toBe(before);
    });

    it('should accept addConcern in every status', () => {
      for (const status of STATUSES) {
        const runtime = runtimeIn(status);
        runtime.addConcern(`teardown note in ${status}`);
        expect(runtime.status).toBe(status);
        expect(runtime.artifacts.concerns).toContain(`teardown note in ${status}`);
      }
    });
  });

  describe('refusals', () => {
    const illegalInStatus: ReadonlyArray<
      readonly [string, TaskEventType, readonly TaskStatus[], (r: TaskRuntime) => void]
    > = [
      [
        'prepareForAttempt',
        'PREPARE_ATTEMPT',
        ['running', 'pr_created', 'pr_merged', 'failed'],
        (r) => r.prepareForAttempt(1),
      ],
      [
        'markRunning',
        'START',
        ['running', 'pr_created', 'pr_merged', 'failed'],
        (r) => r.markRunning(),
      ],
      [
        'markPrCreated',
        'PR_CREATED',
        ['pending', 'pr_created', 'pr_merged', 'failed'],
        (r) => r.markPrCreated(PR_URL),
      ],
      [
        'markPrMerged',
        'PR_MERGED',
        ['pending', 'running', 'pr_merged', 'failed'],
        (r) => r.markPrMerged(),
      ],
      ['markFailed', 'FAIL', ['pr_merged', 'failed'], (r) => r.markFailed('late')],
      [
        'resetForRetry',
        'RETRY',
        ['pending', 'running', 'pr_created', 'pr_merged'],
        (r) => r.resetForRetry(),
      ],
      [
        'markPending',
        'MARK_PENDING',
        ['running', 'pr_created', 'pr_merged'],
        (r) => r.markPending(),
      ],
      [
        'assignWorktree',
        'ASSIGN_WORKTREE',
        ['pr_created', 'pr_merged', 'failed'],
        (r) => r.assignWorktree({ worktreePath: '/w', branchName: 'b' }),
      ],
      [
        'assignWorkstream',
        'ASSIGN_WORKSTREAM',
        ['pr_created', 'pr_merged', 'failed'],
        (r) => r.assignWorkstream({ integrationBranch: 'ws', workstreamWorktreePath: '/ws' }),
      ],
      [
        'recordAgentAddress',
        'RECORD_AGENT_ADDRESS',
        ['pr_created', 'pr_merged', 'failed'],
        (r) => r.recordAgentAddress(new TmuxAddress('s', '%1')),
      ],
    ];

    const rows = illegalInStatus.flatMap(([name, event, statuses, command]) =>
      statuses.map((status) => [name, status, event, command] as const),
    );

    it.each(rows)('should refuse %s in %s as illegalInStatus', (_name, status, event, command) => {
      const runtime = runtimeIn(status);
      const error = refused(runtime, command);
      expectRefusal(error, { status, event, reason: 'illegalInStatus', allowed: ALLOWED[status] });
      expect(runtime.status).toBe(status);
    });

    it('should accept each command in every status not listed as refused', () => {
      for (const [, , statuses, command] of illegalInStatus) {
        for (const status of STATUSES.filter((s) => !statuses.includes(s))) {
          expect(() => command(runtimeIn(status))).not.toThrow();
        }
      }
    });

    it('should refuse prepareForAttempt below the current attempt (isAttemptAvailable)', () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.prepareForAttempt(2);
      const error = refused(runtime, (r) => r.prepareForAttempt(1));
      expectRefusal(error, {
        status: 'pending',
        event: 'PREPARE_ATTEMPT',
        reason: 'isAttemptAvailable',
        allowed: ALLOWED.pending,
      });
      expect(runtime.state.attemptNum).toBe(2);
    });

    it('should refuse prepareForAttempt of an attempt already used (isAttemptAvailable)', () => {
      const runtime = runtimeIn('failed');
      runtime.resetForRetry();
      const error = refused(runtime, (r) => r.prepareForAttempt(0));
      expectRefusal(error, {
        status: 'pending',
        event: 'PREPARE_ATTEMPT',
        reason: 'isAttemptAvailable',
        allowed: ['PREPARE_ATTEMPT', 'FAIL', 'MARK_PENDING', ...RECORD_KEEPING, 'ADD_CONCERN'],
      });
    });

    it('should refuse prepareForAttempt(n) with n >= maxAttempts (isAttemptAvailable)', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 2 });
      for (const n of [2, 3, 100]) {
        const error = refused(runtime, (r) => r.prepareForAttempt(n));
        expectRefusal(error, {
          status: 'pending',
          event: 'PREPARE_ATTEMPT',
          reason: 'isAttemptAvailable',
          allowed: ALLOWED.pending,
        });
      }
      runtime.prepareForAttempt(1);
      expect(runtime.state.attemptNum).toBe(1);
    });

    it('should refuse markRunning when the current attempt was used (isCurrentAttemptUnused)', () => {
      const runtime = runtimeIn('failed');
      runtime.resetForRetry();
      const error = refused(runtime, (r) => r.markRunning());
      expectRefusal(error, {
        status: 'pending',
        event: 'START',
        reason: 'isCurrentAttemptUnused',
        allowed: ['PREPARE_ATTEMPT', 'FAIL', 'MARK_PENDING', ...RECORD_KEEPING, 'ADD_CONCERN'],
      });
      runtime.prepareForAttempt(1);
      runtime.markRunning();
      expect(runtime.status).toBe('running');
    });

    it('should refuse markRunning after markPending until the next attempt is prepared', () => {
      const runtime = runtimeIn('failed');
      runtime.markPending();
      const error = refused(runtime, (r) => r.markRunning());
      expect(error.reason).toBe('isCurrentAttemptUnused');
    });

    it('should refuse markRunning for a blocked task that was retried without preparing', () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.markFailed('blocked');
      runtime.resetForRetry();
      expect(refused(runtime, (r) => r.markRunning()).reason).toBe('isCurrentAttemptUnused');
    });

    it('should refuse resetForRetry and markPending after a non-retryable failure (isRetryAllowed)', () => {
      const runtime = runtimeIn('running');
      runtime.markFailed('fatal', { retryable: false });
      expectNoRetry(runtime);
      expect(runtime.state.error).toBe('fatal');
    });

    it('should refuse resetForRetry and markPending when no attempt is left (isRetryAllowed)', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 2 });
      runtime.markRunning();
      runtime.markFailed('first');
      runtime.resetForRetry();
      runtime.prepareForAttempt(1);
      runtime.markRunning();
      runtime.markFailed('second');
      expectNoRetry(runtime);
    });

    it('should refuse any retry with maxAttempts 1', () => {
      const runtime = runtimeIn('failed', { maxAttempts: 1 });
      expect(refused(runtime, (r) => r.resetForRetry()).reason).toBe('isRetryAllowed');
      expect(refused(runtime, (r) => r.markPending()).reason).toBe('isRetryAllowed');
    });

    it('should never let attemptNum decrease or concerns shrink across refused calls', () => {
      const runtime = runtimeIn('failed', { maxAttempts: 3 });
      runtime.resetForRetry();
      runtime.prepareForAttempt(2);
      refused(runtime, (r) => r.prepareForAttempt(1));
      refused(runtime, (r) => r.markPrMerged());
      expect(runtime.state.attemptNum).toBe(2);
      expect(runtime.artifacts.concerns).toEqual(['attempt_0_error: boom']);
    });
  });

  describe('argument validation', () => {
    const malformed: ReadonlyArray<readonly [string, string, (r: TaskRuntime) => void]> = [
      ['prepareForAttempt(-1)', 'attemptNum', (r) => r.prepareForAttempt(-1)],
      ['prepareForAttempt(1.5)', 'attemptNum', (r) => r.prepareForAttempt(1.5)],
      ['prepareForAttempt(NaN)', 'attemptNum', (r) => r.prepareForAttempt(Number.NaN)],
      ["prepareForAttempt('1')", 'attemptNum', (r) => r.prepareForAttempt('1' as never)],
      [
        'prepareForAttempt(unsafe integer)',
        'attemptNum',
        (r) => r.prepareForAttempt(Number.MAX_SAFE_INTEGER + 1),
      ],
      ["markRunning({ workerId: '' })", 'workerId', (r) => r.markRunning({ workerId: '' })],
      ['markRunning({ workerId: 7 })', 'workerId', (r) => r.markRunning({ workerId: 7 as never })],
      [
        'markRunning({ workerId: null })',
        'workerId',
        (r) => r.markRunning({ workerId: null as never }),
      ],
      [
        'markRunning({ workerId: false })',
        'workerId',
        (r) => r.markRunning({ workerId: false as never }),
      ],
      [
        "markRunning({ workerId: ['w-1'] })",
        'workerId',
        (r) => r.markRunning({ workerId: ['w-1'] as never }),
      ],
      [
        "markRunning({ workerId: new String('w-1') })",
        'workerId',
        (r) => r.markRunning({ workerId: new String('w-1') as never }),
      ],
      ['markRunning(null)', 'options', (r) => r.markRunning(null as never)],
      ["markRunning('w-1')", 'options', (r) => r.markRunning('w-1' as never)],
      ["markRunning(['w-1'])", 'options', (r) => r.markRunning(['w-1'] as never)],
      ['markRunning(7)', 'options', (r) => r.markRunning(7 as never)],
      ["markPrCreated('')", 'prUrl', (r) => r.markPrCreated('')],
      ['markPrCreated(42)', 'prUrl', (r) => r.markPrCreated(42 as never)],
      ["markFailed('')", 'error', (r) => r.markFailed('')],
      ['markFailed(undefined)', 'error', (r) => r.markFailed(undefined as never)],
      ['markFailed(Error)', 'error', (r) => r.markFailed(new Error('boom') as never)],
      [
        "markFailed('x', { retryable: 'no' })",
        'retryable',
        (r) => r.markFailed('x', { retryable: 'no' as never }),
      ],
      ["markFailed('x', null)", 'options', (r) => r.markFailed('x', null as never)],
      ['assignWorktree(null)', 'worktree', (r) => r.assignWorktree(null as never)],
      [
        'assignWorktree with an empty worktreePath',
        'worktreePath',
        (r) => r.assignWorktree({ worktreePath: '', branchName: 'b' }),
      ],
      [
        'assignWorktree without a branchName',
        'branchName',
        (r) => r.assignWorktree({ worktreePath: '/w' } as never),
      ],
      [
        'assignWorktree with an empty signalDir',
        'signalDir',
        (r) => r.assignWorktree({ worktreePath: '/w', branchName: 'b', signalDir: '' }),
      ],
      ["assignWorkstream('ws')", 'workstream', (r) => r.assignWorkstream('ws' as never)],
      [
        'assignWorkstream with an empty integrationBranch',
        'integrationBranch',
        (r) => r.assignWorkstream({ integrationBranch: '', workstreamWorktreePath: '/ws' }),
      ],
      [
        'assignWorkstream with a null workstreamWorktreePath',
        'workstreamWorktreePath',
        (r) =>
          r.assignWorkstream({ integrationBranch: 'ws', workstreamWorktreePath: null as never }),
      ],
      [
        'recordAgentAddress(plain object)',
        'address',
        (r) => r.recordAgentAddress({ kind: 'tmux', session: 's', paneId: '%1' } as never),
      ],
      ['recordAgentAddress(null)', 'address', (r) => r.recordAgentAddress(null as never)],
      ["addConcern('')", 'concern', (r) => r.addConcern('')],
      ['addConcern(7)', 'concern', (r) => r.addConcern(7 as never)],
    ];

    const rows = malformed.flatMap(([label, argument, command]) =>
      STATUSES.map((status) => [label, status, argument, command] as const),
    );

    it.each(rows)(
      'should refuse %s in %s with InvalidArgumentError',
      (_label, status, argument, command) => {
        const runtime = runtimeIn(status);
        const error = invalid(runtime, command);
        expect(error.argument).toBe(argument);
        expect(error.message).toContain(argument);
        expect(error.message).toContain(error.expected);
        expect(error.message).toContain(error.received);
        expect(runtime.status).toBe(status);
      },
    );

    it.each([
      ['maxAttempts 0', { maxAttempts: 0 }, 'maxAttempts'],
      ['negative maxAttempts', { maxAttempts: -1 }, 'maxAttempts'],
      ['fractional maxAttempts', { maxAttempts: 1.5 }, 'maxAttempts'],
      ['string maxAttempts', { maxAttempts: '3' }, 'maxAttempts'],
      ['a clock that is not a function', { clock: 'now' }, 'clock'],
      ['options that are not an object', null, 'options'],
    ])('should refuse %s in the constructor', (_label, options, argument) => {
      let caught: unknown;
      try {
        new TaskRuntime(makeTask(), options as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      expect((caught as InvalidArgumentError).argument).toBe(argument);
    });

    it('should refuse an invalid task input in the constructor', () => {
      expect(() => new TaskRuntime({ id: '', role: AgentRole.GENERIC })).toThrow(
        expect.objectContaining({ name: 'InvalidArgumentError', argument: 'task.id' }),
      );
    });

    it('should refuse a clock that returns something other than a valid Date', () => {
      const runtime = new TaskRuntime(makeTask(), { clock: () => new Date(Number.NaN) });
      const error = invalid(runtime, (r) => r.markRunning());
      expect(error.argument).toBe('clock()');
      expect(runtime.status).toBe('pending');
    });
  });

  describe('attempt ledger', () => {
    it('should open a record with startedAt from the clock on markRunning', () => {
      const time = fakeClock();
      const runtime = new TaskRuntime(makeTask(), { clock: time.clock });
      const started = time.set('2025-03-04T05:06:07.089Z');
      runtime.markRunning();
      expect(runtime.attempts).toEqual([attemptRecord({ startedAt: started, outcome: 'running' })]);
    });

    it('should record the PR and the merge time on the open record', () => {
      const time = fakeClock();
      const runtime = new TaskRuntime(makeTask(), { clock: time.clock });
      const started = time.set('2025-03-04T05:06:07.089Z');
      runtime.markRunning();
      time.set('2025-03-04T06:00:00.000Z');
      runtime.markPrCreated(PR_URL);
      expect(runtime.attempts).toEqual([
        attemptRecord({ startedAt: started, outcome: 'pr_created', prUrl: PR_URL }),
      ]);
      const merged = time.set('2025-03-05T00:00:00.001Z');
      runtime.markPrMerged();
      expect(runtime.attempts).toEqual([
        attemptRecord({ startedAt: started, endedAt: merged, outcome: 'pr_merged', prUrl: PR_URL }),
      ]);
    });

    it('should close the record as failed with the error and retryable flag', () => {
      const time = fakeClock();
      const runtime = new TaskRuntime(makeTask(), { clock: time.clock });
      const started = time.set('2025-01-01T00:00:00.000Z');
      runtime.markRunning();
      const ended = time.set('2025-01-01T00:10:00.500Z');
      runtime.markFailed('tests failed', { retryable: false });
      expect(runtime.attempts).toEqual([
        attemptRecord({
          startedAt: started,
          endedAt: ended,
          outcome: 'failed',
          error: 'tests failed',
          retryable: false,
        }),
      ]);
    });

    it('should record a failure as retryable by default', () => {
      const runtime = runtimeIn('failed');
      expect(runtime.attempts.map((record) => record.retryable)).toEqual([true]);
    });

    it('should record a blocked failure from pending with startedAt null', () => {
      const time = fakeClock();
      const runtime = new TaskRuntime(makeTask(), { clock: time.clock });
      const ended = time.set('2025-06-07T08:09:10.111Z');
      runtime.markFailed('dependency failed');
      expect(runtime.attempts).toEqual([
        attemptRecord({
          startedAt: null,
          endedAt: ended,
          outcome: 'failed',
          error: 'dependency failed',
          retryable: true,
        }),
      ]);
    });

    it('should keep one record per attempt, in order', () => {
      const time = fakeClock();
      const runtime = new TaskRuntime(makeTask(), { clock: time.clock, maxAttempts: 3 });
      const t0 = time.set('2025-01-01T00:00:00.000Z');
      runtime.markRunning();
      const t1 = time.set('2025-01-01T01:00:00.000Z');
      runtime.markFailed('first');
      time.set('2025-01-01T01:30:00.000Z');
      runtime.resetForRetry();
      runtime.prepareForAttempt(1);
      const t2 = time.set('2025-01-01T02:00:00.000Z');
      runtime.markRunning();
      runtime.markPrCreated(PR_URL);
      const t3 = time.set('2025-01-01T03:00:00.000Z');
      runtime.markPrMerged();
      expect(runtime.attempts).toEqual([
        attemptRecord({
          startedAt: t0,
          endedAt: t1,
          outcome: 'failed',
          error: 'first',
          retryable: true,
        }),
        attemptRecord({
          attemptNum: 1,
          startedAt: t2,
          endedAt: t3,
          outcome: 'pr_merged',
          prUrl: PR_URL,
        }),
      ]);
    });

    it('should not touch the ledger on record-keeping commands or refusals', () => {
      const time = fakeClock();
      const runtime = new TaskRuntime(makeTask(), { clock: time.clock });
      runtime.assignWorktree({ worktreePath: '/w', branchName: 'b' });
      runtime.addConcern('c');
      runtime.prepareForAttempt(1);
      refused(runtime, (r) => r.markPrMerged());
      expect(runtime.attempts).toEqual([]);
    });

    it('should not allow a retry after a retryable:false failure even with attempts left', () => {
      const runtime = runtimeIn('running', { maxAttempts: 5 });
      runtime.markFailed('fatal', { retryable: false });
      expect(refused(runtime, (r) => r.resetForRetry()).reason).toBe('isRetryAllowed');
    });

    it('should allow exactly maxAttempts attempts', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 3 });
      for (let attempt = 0; attempt < 3; attempt += 1) {
        if (attempt > 0) {
          runtime.resetForRetry();
          runtime.prepareForAttempt(attempt);
        }
        runtime.markRunning();
        runtime.markFailed(`failure ${attempt}`);
      }
      expect(runtime.attempts.map((record) => record.attemptNum)).toEqual([0, 1, 2]);
      expect(refused(runtime, (r) => r.resetForRetry()).reason).toBe('isRetryAllowed');
      expect(runtime.artifacts.concerns).toEqual([
        'attempt_0_error: failure 0',
        'attempt_1_error: failure 1',
      ]);
    });
  });

  describe('the worker of an attempt', () => {
    it('should record markRunning({ workerId }) in the attempt’s ledger record', () => {
      const time = fakeClock();
      const runtime = new TaskRuntime(makeTask(), { clock: time.clock });
      const started = time.set('2025-03-04T05:06:07.089Z');
      runtime.markRunning({ workerId: 'worker-7' });
      expect(runtime.attempts).toEqual([
        attemptRecord({ startedAt: started, outcome: 'running', workerId: 'worker-7' }),
      ]);
      expect(runtime.persist().context.attempts[0]?.workerId).toBe('worker-7');
    });

    it('should keep the worker on the record through the PR, the merge, a failure and a lost worker', () => {
      const merged = runtimeIn('pending');
      merged.markRunning({ workerId: 'w-merge' });
      merged.markPrCreated(PR_URL);
      merged.markPrMerged();
      const failed = runtimeIn('pending');
      failed.markRunning({ workerId: 'w-fail' });
      failed.markPrCreated(PR_URL);
      failed.markFailed('review rejected', { retryable: false });
      const lost = runtimeIn('pending');
      lost.markRunning({ workerId: 'w-lost' });
      lost.markFailed('worker lost: lease expired', { workerLost: true });

      expect(merged.attempts.map((r) => [r.outcome, r.workerId])).toEqual([
        ['pr_merged', 'w-merge'],
      ]);
      expect(failed.attempts.map((r) => [r.outcome, r.workerId])).toEqual([['failed', 'w-fail']]);
      expect(lost.attempts.map((r) => [r.outcome, r.workerId])).toEqual([['lost', 'w-lost']]);
    });

    it('should give each attempt its own worker, and null to an attempt started without one', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 4 });
      const workers = ['worker-1', undefined, 'worker-2', 'worker-1'];
      workers.forEach((workerId, n) => {
        if (n > 0) {
          runtime.resetForRetry();
          runtime.prepareForAttempt(n);
        }
        runtime.markRunning(workerId === undefined ? undefined : { workerId });
        if (n < workers.length - 1) runtime.markFailed(`failure ${n}`);
      });
      expect(runtime.attempts.map((r) => [r.attemptNum, r.workerId])).toEqual([
        [0, 'worker-1'],
        [1, null],
        [2, 'worker-2'],
        [3, 'worker-1'],
      ]);
    });

    it.each([
      ['no options', (r: TaskRuntime) => r.markRunning()],
      ['undefined options', (r: TaskRuntime) => r.markRunning(undefined)],
      ['empty options', (r: TaskRuntime) => r.markRunning({})],
      ['workerId undefined', (r: TaskRuntime) => r.markRunning({ workerId: undefined })],
    ])('should record workerId null with %s', (_label, start) => {
      const runtime = new TaskRuntime(makeTask());
      start(runtime);
      expect(runtime.attempts).toHaveLength(1);
      expect(runtime.attempts[0]?.workerId).toBeNull();
      expect(runtime.persist().context.attempts[0]).toHaveProperty('workerId', null);
    });

    it('should give a blocked record (a failure from pending) workerId null, also after a named attempt', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 3 });
      runtime.markFailed('dependency failed', { retryable: false });
      runtime.reopen('dependency merged after all', { attempts: 2 });
      runtime.prepareForAttempt(1);
      runtime.markRunning({ workerId: 'worker-1' });
      runtime.markFailed('tests failed');
      runtime.resetForRetry();
      runtime.prepareForAttempt(2);
      runtime.markFailed('dependency failed again');
      expect(runtime.attempts.map((r) => [r.attemptNum, r.startedAt === null, r.workerId])).toEqual(
        [
          [0, true, null],
          [1, false, 'worker-1'],
          [2, true, null],
        ],
      );
    });

    it('should keep the workers through persist(), JSON and restore, and go on with them', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 3 });
      runtime.markRunning({ workerId: 'worker-1' });
      runtime.markFailed('worker lost', { workerLost: true });
      runtime.resetForRetry();
      runtime.prepareForAttempt(1);
      runtime.markRunning();
      runtime.markFailed('tests failed');
      runtime.resetForRetry();
      runtime.prepareForAttempt(2);
      runtime.markRunning({ workerId: 'worker-2' });
      const json = JSON.stringify(runtime.persist());

      const restored = TaskRuntime.restore(JSON.parse(json));

      expect(restored.attempts).toEqual(runtime.attempts);
      expect(restored.attempts.map((r) => r.workerId)).toEqual(['worker-1', null, 'worker-2']);
      expect(JSON.stringify(restored.persist())).toBe(json);
      restored.markPrCreated(PR_URL);
      restored.markPrMerged();
      expect(restored.attempts.map((r) => [r.outcome, r.workerId])).toEqual([
        ['lost', 'worker-1'],
        ['failed', null],
        ['pr_merged', 'worker-2'],
      ]);
    });

    it.each([
      ['HTML', '<img src=x onerror="alert(1)">&amp;</script>'],
      ['U+0000', 'worker\u0000-1'],
      ['a lone surrogate', 'worker-\ud800'],
      ['a lone low surrogate first', '\udc00worker'],
      ['200 characters', 'w'.repeat(200)],
      ['whitespace only', ' \t\n'],
      ['JSON and quotes', '{"workerId":null}\\"\''],
      ['a prototype key', '__proto__'],
      ['right-to-left and emoji', '\u202eworker 🤖'],
    ])(
      'should keep a worker id with %s verbatim through persist(), JSON and restore',
      (_label, workerId) => {
        const runtime = new TaskRuntime(makeTask());
        runtime.markRunning({ workerId });
        const json = JSON.stringify(runtime.persist());

        const restored = TaskRuntime.restore(JSON.parse(json));

        expect(runtime.attempts[0]?.workerId).toBe(workerId);
        expect(restored.attempts[0]?.workerId).toBe(workerId);
        expect(restored.attempts[0]?.workerId).toHaveLength(workerId.length);
        expect(JSON.stringify(restored.persist())).toBe(json);
        // well-formed JSON: a lone surrogate is escaped, not written as invalid UTF-16
        expect(json.isWellFormed()).toBe(true);
      },
    );

    it('should tell a listener about a refused workerId as an invalid argument of START', () => {
      const runtime = new TaskRuntime(makeTask());
      const records: unknown[] = [];
      runtime.subscribe((record) => {
        records.push(record);
      });
      const error = invalid(runtime, (r) => r.markRunning({ workerId: '' }));
      expect(error).toMatchObject({ argument: 'workerId', received: expect.any(String) });
      expect(records).toEqual([
        expect.objectContaining({ event: 'START', reason: 'invalidArgument', rejected: true }),
      ]);
      expect(runtime.attempts).toEqual([]);
    });

    it('should check the workerId before the transition, so a started attempt is refused as invalid', () => {
      const runtime = runtimeIn('running');
      expect(invalid(runtime, (r) => r.markRunning({ workerId: '' })).argument).toBe('workerId');
      expect(refused(runtime, (r) => r.markRunning({ workerId: 'worker-2' })).reason).toBe(
        'illegalInStatus',
      );
      expect(runtime.attempts.map((r) => r.workerId)).toEqual([null]);
    });

    it('should say with can() whether START with a workerId would be accepted', () => {
      const runtime = new TaskRuntime(makeTask());
      expect(runtime.can({ type: 'START', workerId: 'worker-1' })).toBe(true);
      expect(runtime.can({ type: 'START', workerId: '' })).toBe(false);
      expect(runtime.can({ type: 'START', workerId: 7 as never })).toBe(false);
      runtime.markRunning({ workerId: 'worker-1' });
      expect(runtime.can({ type: 'START', workerId: 'worker-1' })).toBe(false);
    });
  });

  describe('lost attempts', () => {
    /** Runs attempt `n` (preparing it unless it is 0) and loses its worker. */
    function loseAttempt(runtime: TaskRuntime, n: number): void {
      if (n > 0) {
        runtime.resetForRetry();
        runtime.prepareForAttempt(n);
      }
      runtime.markRunning();
      runtime.markFailed(`worker lost in attempt ${n}`, { workerLost: true });
    }

    it("should close the attempt as 'lost', retryable, with the error and the clock's time", () => {
      const time = fakeClock();
      const runtime = new TaskRuntime(makeTask(), { clock: time.clock, maxAttempts: 2 });
      const started = time.set('2025-01-01T00:00:00.000Z');
      runtime.markRunning();
      const ended = time.set('2025-01-01T00:05:00.000Z');
      runtime.markFailed('worker lost: lease expired', { workerLost: true });
      expect(runtime.status).toBe('failed');
      expect(runtime.state.error).toBe('worker lost: lease expired');
      expect(runtime.attempts).toEqual([
        attemptRecord({
          startedAt: started,
          endedAt: ended,
          outcome: 'lost',
          error: 'worker lost: lease expired',
          retryable: true,
        }),
      ]);
    });

    it('should keep the PR URL in the record of an attempt lost after its PR was created', () => {
      const runtime = runtimeIn('pr_created');
      runtime.markFailed('worker lost', { workerLost: true, retryable: true });
      expect(runtime.attempts).toEqual([
        expect.objectContaining({ outcome: 'lost', prUrl: PR_URL, retryable: true }),
      ]);
      expect(runtime.artifacts.prUrl).toBe(PR_URL);
    });

    it('should record an ordinary failure for workerLost: false', () => {
      const runtime = runtimeIn('running', { maxAttempts: 1 });
      runtime.markFailed('tests failed', { workerLost: false });
      expect(runtime.attempts[0]?.outcome).toBe('failed');
      expectNoRetry(runtime);
    });

    it('should not count lost attempts against maxAttempts, up to maxLostAttempts (default 3)', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 1 });
      for (let n = 0; n < 3; n += 1) loseAttempt(runtime, n);
      expect(runtime.can({ type: 'RETRY' })).toBe(true);
      runtime.resetForRetry();
      runtime.prepareForAttempt(3);
      expect(runtime.state.attemptNum).toBe(3);
      expect(refused(runtime, (r) => r.prepareForAttempt(4)).reason).toBe('isAttemptAvailable');
    });

    it('should count a lost attempt beyond maxLostAttempts like any failure, so a task that always loses its worker ends', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 2, maxLostAttempts: 1 });
      for (let n = 0; n < 3; n += 1) loseAttempt(runtime, n);
      expect(runtime.attempts.map((record) => [record.attemptNum, record.outcome])).toEqual([
        [0, 'lost'],
        [1, 'lost'],
        [2, 'lost'],
      ]);
      expectNoRetry(runtime);
      const error = refused(runtime, (r) => r.resetForRetry());
      expect(error.message).toContain('attempt 2 was the last of the attempt limit 3');
      expect(error.message).toContain('maxAttempts 2');
    });

    it('should forgive nothing with maxLostAttempts 0', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 1, maxLostAttempts: 0 });
      loseAttempt(runtime, 0);
      expect(runtime.attempts[0]?.outcome).toBe('lost');
      expectNoRetry(runtime);
    });

    it('should never use an attempt number twice, going on at and beyond maxAttempts', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 2 });
      for (let n = 0; n < 4; n += 1) loseAttempt(runtime, n);
      runtime.resetForRetry();
      expect(refused(runtime, (r) => r.prepareForAttempt(3)).reason).toBe('isAttemptAvailable');
      runtime.prepareForAttempt(4);
      runtime.markRunning();
      runtime.markPrCreated(PR_URL);
      runtime.markPrMerged();
      const numbers = runtime.attempts.map((record) => record.attemptNum);
      expect(numbers).toEqual([0, 1, 2, 3, 4]);
      expect(new Set(numbers).size).toBe(numbers.length);
      expect(runtime.status).toBe('pr_merged');
    });

    it('should let a task lose its worker on every attempt without a limit, forgiving as many as ever', () => {
      const runtime = new TaskRuntime(makeTask());
      for (let n = 0; n < 6; n += 1) loseAttempt(runtime, n);
      expect(runtime.can({ type: 'RETRY' })).toBe(true);
    });

    it('should mix ordinary and lost attempts: only the ordinary ones and the lost ones beyond the allowance count', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 2, maxLostAttempts: 1 });
      runtime.markRunning();
      runtime.markFailed('tests failed'); // counts: 1 of 2
      loseAttempt(runtime, 1); // forgiven
      runtime.resetForRetry();
      runtime.prepareForAttempt(2);
      runtime.markRunning();
      runtime.markFailed('tests failed again'); // counts: 2 of 2
      expectNoRetry(runtime);
    });

    it.each(STATUSES)(
      'should refuse workerLost with retryable: false in %s (a lost attempt is always retryable)',
      (status) => {
        const runtime = runtimeIn(status);
        const error = invalid(runtime, (r) =>
          r.markFailed('worker lost', { workerLost: true, retryable: false }),
        );
        expect(error.argument).toBe('retryable');
        expect(error.message).toContain('workerLost');
      },
    );

    it.each([
      ["'yes'", 'yes'],
      ['null', null],
      ['1', 1],
    ])('should refuse workerLost %s with InvalidArgumentError', (_label, workerLost) => {
      const runtime = runtimeIn('running');
      const error = invalid(runtime, (r) => r.markFailed('x', { workerLost: workerLost as never }));
      expect(error.argument).toBe('workerLost');
    });

    it.each([
      ['-1', -1],
      ['1.5', 1.5],
      ["'3'", '3'],
      ['NaN', Number.NaN],
      ['null', null],
      ['an unsafe integer', Number.MAX_SAFE_INTEGER + 1],
    ])(
      'should refuse maxLostAttempts %s in the constructor, naming it',
      (_label, maxLostAttempts) => {
        let caught: unknown;
        try {
          new TaskRuntime(makeTask(), { maxLostAttempts: maxLostAttempts as never });
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(InvalidArgumentError);
        expect((caught as InvalidArgumentError).argument).toBe('maxLostAttempts');
        expect((caught as InvalidArgumentError).message).toContain('non-negative integer');
      },
    );
  });

  describe('reopen', () => {
    /** A runtime whose attempt `attemptNum` failed with `retryable: false`. */
    function finallyFailed(options: TaskRuntimeOptions = {}, attemptNum = 0): TaskRuntime {
      const runtime = new TaskRuntime(makeTask(), options);
      if (attemptNum > 0) runtime.prepareForAttempt(attemptNum);
      runtime.markRunning();
      runtime.markFailed('spec is contradictory', { retryable: false });
      return runtime;
    }

    /** Runs attempts from the next unused one, failing each (retryable), until no retry is left; their count. */
    function useUpAttempts(runtime: TaskRuntime): number {
      let used = 0;
      for (;;) {
        const next = Math.max(...runtime.attempts.map((record) => record.attemptNum), -1) + 1;
        runtime.prepareForAttempt(next);
        runtime.markRunning();
        used += 1;
        runtime.markFailed(`attempt ${next} failed`);
        if (!runtime.can({ type: 'RETRY' })) return used;
        runtime.resetForRetry();
        if (used > 20) throw new Error('test bug: the attempts never ran out');
      }
    }

    it.each(['pending', 'running', 'pr_created', 'pr_merged'] as const)(
      'should refuse reopen in %s as illegalInStatus',
      (status) => {
        const runtime = runtimeIn(status);
        const error = refused(runtime, (r) => r.reopen('try again'));
        expectRefusal(error, {
          status,
          event: 'REOPEN',
          reason: 'illegalInStatus',
          allowed: ALLOWED[status],
        });
      },
    );

    it('should refuse reopen while the failure can still be retried (isFailureFinal), pointing to resetForRetry', () => {
      const runtime = runtimeIn('failed', { maxAttempts: 3 });
      const error = refused(runtime, (r) => r.reopen('try again', { attempts: 2 }));
      expectRefusal(error, {
        status: 'failed',
        event: 'REOPEN',
        reason: 'isFailureFinal',
        allowed: ALLOWED.failed,
      });
      expect(error.message).toContain('resetForRetry');
      expect(runtime.can({ type: 'REOPEN', reason: 'r', attempts: 1 })).toBe(false);
    });

    it('should refuse reopen after a lost attempt that is forgiven (it can be retried)', () => {
      const runtime = runtimeIn('running', { maxAttempts: 1 });
      runtime.markFailed('worker lost', { workerLost: true });
      expect(refused(runtime, (r) => r.reopen('try again')).reason).toBe('isFailureFinal');
    });

    it('should reopen a failure marked retryable: false: pending, error cleared, the reason and the error in concerns', () => {
      const runtime = finallyFailed({ maxAttempts: 3 });
      runtime.addConcern('before');
      expect(runtime.can({ type: 'REOPEN', reason: 'spec fixed', attempts: 1 })).toBe(true);
      runtime.reopen('spec fixed');
      expect(runtime.status).toBe('pending');
      expect(runtime.isTerminal).toBe(false);
      expect(runtime.state.error).toBeNull();
      expect(runtime.state.attemptNum).toBe(0);
      expect(runtime.artifacts.concerns).toEqual([
        'before',
        'reopened: spec fixed (last error: spec is contradictory)',
      ]);
      expect(runtime.attempts.map((record) => record.outcome)).toEqual(['failed']);
    });

    it('should reopen a failure with no attempt left under maxAttempts', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 1 });
      runtime.markRunning();
      runtime.markFailed('tests failed');
      runtime.reopen('flaky CI replaced', { attempts: 2 });
      expect(runtime.status).toBe('pending');
      expect(runtime.artifacts.concerns).toEqual([
        'reopened: flaky CI replaced (last error: tests failed)',
      ]);
    });

    it('should require the next attempt to be prepared after a reopen (the failed one was used)', () => {
      const runtime = finallyFailed({ maxAttempts: 2 });
      runtime.reopen('spec fixed');
      expect(refused(runtime, (r) => r.markRunning()).reason).toBe('isCurrentAttemptUnused');
      runtime.prepareForAttempt(1);
      runtime.markRunning();
      expect(runtime.status).toBe('running');
    });

    it.each([1, 2, 3, 5])(
      'should allow exactly %i counted attempts after reopen, whatever was left before',
      (attempts) => {
        const early = finallyFailed({ maxAttempts: 4 }); // three attempts were left
        early.reopen('spec fixed', { attempts });
        expect(useUpAttempts(early)).toBe(attempts);
        const late = finallyFailed({ maxAttempts: 4 }, 3); // none was left
        late.reopen('spec fixed', { attempts });
        expect(useUpAttempts(late)).toBe(attempts);
        expect(late.attempts.at(-1)?.attemptNum).toBe(3 + attempts);
      },
    );

    it('should grant one attempt by default', () => {
      const runtime = finallyFailed({ maxAttempts: 5 });
      runtime.reopen('spec fixed');
      expect(useUpAttempts(runtime)).toBe(1);
    });

    it('should not cap a task without maxAttempts after a reopen', () => {
      const runtime = finallyFailed();
      runtime.reopen('spec fixed');
      for (let n = 1; n <= 5; n += 1) {
        runtime.prepareForAttempt(n);
        runtime.markRunning();
        runtime.markFailed('tests failed');
        expect(runtime.can({ type: 'RETRY' })).toBe(true);
        runtime.resetForRetry();
      }
    });

    it('should allow a second reopen after the granted attempts are used up', () => {
      const runtime = finallyFailed({ maxAttempts: 2 });
      runtime.reopen('first fix', { attempts: 1 });
      expect(useUpAttempts(runtime)).toBe(1);
      runtime.reopen('second fix', { attempts: 2 });
      expect(useUpAttempts(runtime)).toBe(2);
      expect(runtime.artifacts.concerns.filter((c) => c.startsWith('reopened: '))).toEqual([
        'reopened: first fix (last error: spec is contradictory)',
        'reopened: second fix (last error: attempt 1 failed)',
      ]);
    });

    it('should forgive lost attempts after a reopen only while the per-task allowance lasts', () => {
      const runtime = new TaskRuntime(makeTask(), { maxAttempts: 1, maxLostAttempts: 1 });
      runtime.markRunning();
      runtime.markFailed('worker lost', { workerLost: true }); // forgiven: the one allowed
      runtime.resetForRetry();
      runtime.prepareForAttempt(1);
      runtime.markRunning();
      runtime.markFailed('worker lost', { workerLost: true }); // counted
      runtime.reopen('new workers');
      runtime.prepareForAttempt(2);
      runtime.markRunning();
      runtime.markFailed('worker lost', { workerLost: true }); // counted: the allowance is used up
      expectNoRetry(runtime);
    });

    const malformed: ReadonlyArray<readonly [string, string, (r: TaskRuntime) => void]> = [
      ["reopen('')", 'reason', (r) => r.reopen('')],
      ['reopen(undefined)', 'reason', (r) => r.reopen(undefined as never)],
      ['reopen(7)', 'reason', (r) => r.reopen(7 as never)],
      ["reopen('r', { attempts: 0 })", 'attempts', (r) => r.reopen('r', { attempts: 0 })],
      ["reopen('r', { attempts: -1 })", 'attempts', (r) => r.reopen('r', { attempts: -1 })],
      ["reopen('r', { attempts: 1.5 })", 'attempts', (r) => r.reopen('r', { attempts: 1.5 })],
      [
        "reopen('r', { attempts: '2' })",
        'attempts',
        (r) => r.reopen('r', { attempts: '2' as never }),
      ],
      [
        "reopen('r', { attempts: NaN })",
        'attempts',
        (r) => r.reopen('r', { attempts: Number.NaN }),
      ],
      [
        "reopen('r', { attempts: null })",
        'attempts',
        (r) => r.reopen('r', { attempts: null as never }),
      ],
      [
        "reopen('r', { attempts: MAX_SAFE_INTEGER })",
        'attempts',
        (r) => r.reopen('r', { attempts: Number.MAX_SAFE_INTEGER }),
      ],
      [
        "reopen('r', { attempts: 2 ** 53 })",
        'attempts',
        (r) => r.reopen('r', { attempts: 2 ** 53 }),
      ],
      ["reopen('r', null)", 'options', (r) => r.reopen('r', null as never)],
      ["reopen('r', 2)", 'options', (r) => r.reopen('r', 2 as never)],
    ];
    const rows = malformed.flatMap(([label, argument, command]) =>
      [...STATUSES, 'failed finally' as const].map(
        (status) => [label, status, argument, command] as const,
      ),
    );

    it.each(rows)(
      'should refuse %s in %s with InvalidArgumentError, changing nothing',
      (_label, status, argument, command) => {
        const runtime =
          status === 'failed finally' ? finallyFailed({ maxAttempts: 2 }) : runtimeIn(status);
        const error = invalid(runtime, command);
        expect(error.argument).toBe(argument);
        expect(error.message).toContain(argument);
        expect(error.message).toContain(error.expected);
      },
    );

    it('should accept the largest attempts that keeps attempt numbers safe integers, and refuse one more', () => {
      const runtime = finallyFailed({ maxAttempts: 5 }, 3);
      const largest = Number.MAX_SAFE_INTEGER - 4;
      const error = invalid(runtime, (r) => r.reopen('r', { attempts: largest + 1 }));
      expect(error.expected).toContain(String(largest));
      runtime.reopen('r', { attempts: largest });
      runtime.prepareForAttempt(Number.MAX_SAFE_INTEGER - 1);
      expect(runtime.state.attemptNum).toBe(Number.MAX_SAFE_INTEGER - 1);
    });
  });

  describe('read-only views', () => {
    function busyRuntime(): TaskRuntime {
      const runtime = new TaskRuntime(makeTask());
      runtime.assignWorktree({ worktreePath: '/w', branchName: 'b' });
      runtime.recordAgentAddress(new TmuxAddress('s', '%1'));
      runtime.addConcern('note');
      runtime.markRunning();
      return runtime;
    }

    it('should return a frozen state that cannot be changed from outside', () => {
      const runtime = busyRuntime();
      const state = runtime.state;
      expect(Object.isFrozen(state)).toBe(true);
      expect(() => {
        // @ts-expect-error state.status is readonly
        state.status = 'pr_merged';
      }).toThrow(TypeError);
      expect(() => {
        // @ts-expect-error state.attemptNum is readonly
        state.attemptNum = 9;
      }).toThrow(TypeError);
      expect(runtime.status).toBe('running');
      expect(runtime.state.status).toBe('running');
      expect(runtime.state.attemptNum).toBe(0);
    });

    it('should return frozen artifacts with frozen concerns', () => {
      const runtime = busyRuntime();
      const artifacts = runtime.artifacts;
      expect(Object.isFrozen(artifacts)).toBe(true);
      expect(Object.isFrozen(artifacts.concerns)).toBe(true);
      expect(() => {
        // @ts-expect-error artifacts.prUrl is readonly
        artifacts.prUrl = PR_URL;
      }).toThrow(TypeError);
      // @ts-expect-error concerns is a readonly array
      expect(() => artifacts.concerns.push('injected')).toThrow(TypeError);
      expect(runtime.artifacts.prUrl).toBeNull();
      expect(runtime.artifacts.concerns).toEqual(['note']);
    });

    it('should return a frozen agent address', () => {
      const address = busyRuntime().artifacts.agentAddress;
      expect(address).toBeInstanceOf(AgentAddress);
      expect(Object.isFrozen(address)).toBe(true);
    });

    it('should keep an earlier view unchanged after later commands', () => {
      const runtime = busyRuntime();
      const state = runtime.state;
      const artifacts = runtime.artifacts;
      runtime.addConcern('later');
      runtime.markPrCreated(PR_URL);
      expect(state.status).toBe('running');
      expect(artifacts.concerns).toEqual(['note']);
      expect(artifacts.prUrl).toBeNull();
      expect(runtime.artifacts.concerns).toEqual(['note', 'later']);
    });

    it('should return a frozen ledger with frozen records', () => {
      const runtime = busyRuntime();
      const attempts = runtime.attempts;
      expect(Object.isFrozen(attempts)).toBe(true);
      expect(attempts.every((record) => Object.isFrozen(record))).toBe(true);
      // @ts-expect-error the ledger is a readonly array
      expect(() => attempts.pop()).toThrow(TypeError);
      expect(() => {
        const record = attempts[0] as { outcome: string };
        record.outcome = 'pr_merged';
      }).toThrow(TypeError);
      expect(runtime.attempts).toHaveLength(1);
      expect(runtime.attempts[0]?.outcome).toBe('running');
    });

    it('should return a frozen empty ledger before the first attempt', () => {
      const attempts = new TaskRuntime(makeTask()).attempts;
      expect(Object.isFrozen(attempts)).toBe(true);
    });

    it('should return a frozen task', () => {
      const runtime = busyRuntime();
      const task = runtime.task;
      expect(Object.isFrozen(task)).toBe(true);
      // @ts-expect-error dependencies is a readonly array
      expect(() => task.dependencies.push('x')).toThrow(TypeError);
      expect(runtime.task.dependencies).toEqual(['spec-login']);
    });

    it('should not allow status or isTerminal to be assigned', () => {
      const runtime = busyRuntime();
      expect(() => {
        // @ts-expect-error status has no setter
        runtime.status = 'pr_merged';
      }).toThrow(TypeError);
      expect(() => {
        // @ts-expect-error isTerminal has no setter
        runtime.isTerminal = true;
      }).toThrow(TypeError);
      expect(runtime.status).toBe('running');
      expect(runtime.isTerminal).toBe(false);
    });
  });

  describe('can', () => {
    it('should say whether an event would be accepted now', () => {
      const runtime = new TaskRuntime(makeTask());
      expect(runtime.can({ type: 'START' })).toBe(true);
      expect(runtime.can({ type: 'PR_MERGED' })).toBe(false);
      runtime.markRunning();
      expect(runtime.can({ type: 'PR_CREATED', prUrl: PR_URL })).toBe(true);
      expect(runtime.can({ type: 'START' })).toBe(false);
    });

    it('should be false for malformed events instead of throwing', () => {
      const runtime = runtimeIn('running');
      expect(runtime.can({ type: 'PR_CREATED', prUrl: '' })).toBe(false);
      expect(runtime.can(null as never)).toBe(false);
      expect(runtime.can({ type: 'NOPE' } as never)).toBe(false);
    });
  });

  describe('types', () => {
    it('should not compile calls with wrong argument types', () => {
      const runtime = new TaskRuntime(makeTask());
      // @ts-expect-error a PR URL is a string
      expect(() => runtime.markPrCreated(42)).toThrow(InvalidArgumentError);
      // @ts-expect-error an attempt number is a number
      expect(() => runtime.prepareForAttempt('1')).toThrow(InvalidArgumentError);
      // @ts-expect-error retryable is a boolean
      expect(() => runtime.markFailed('x', { retryable: 'no' })).toThrow(InvalidArgumentError);
      // @ts-expect-error branchName is required
      expect(() => runtime.assignWorktree({ worktreePath: '/w' })).toThrow(InvalidArgumentError);
      // @ts-expect-error an address is an AgentAddress, not its JSON form
      const json = () => runtime.recordAgentAddress({ kind: 'tmux', session: 's', paneId: '%1' });
      expect(json).toThrow(InvalidArgumentError);
      // @ts-expect-error 'wizard' is not an AgentRole
      expect(() => new TaskRuntime({ id: 't', role: 'wizard' })).toThrow(InvalidArgumentError);
      // @ts-expect-error maxAttempts is a number
      expect(() => new TaskRuntime(makeTask(), { maxAttempts: '3' })).toThrow(InvalidArgumentError);
      // @ts-expect-error a worker id is a string
      expect(() => runtime.markRunning({ workerId: 7 })).toThrow(InvalidArgumentError);
      // @ts-expect-error markRunning takes an options object, not the worker id itself
      expect(() => runtime.markRunning('worker-1')).toThrow(InvalidArgumentError);
      // @ts-expect-error can() takes machine events only
      expect(runtime.can({ type: 'STOP' })).toBe(false);
      expect(runtime.status).toBe('pending');
    });
  });
});
