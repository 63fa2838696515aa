import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { createActor, type InspectionEvent } from 'xstate';
import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import {
  IllegalTransitionError,
  InvalidArgumentError,
  SnapshotError,
  TaskRuntimeError,
} from '../../src/errors.js';
import { TASK_STATUSES, type TaskStatus } from '../../src/machines/status.js';
import { type TaskEvent, taskMachine } from '../../src/machines/taskMachine.js';
import { type PersistedTaskRuntime, SNAPSHOT_SCHEMA_VERSION } from '../../src/runtime/snapshot.js';
import { TaskRuntime, type TaskRuntimeOptions } from '../../src/runtime/TaskRuntime.js';
import { createTask, type TaskInput } from '../../src/task/createTask.js';
import { AgentRole } from '../../src/task/enums.js';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonContainer = Json[] | { [key: string]: Json };
type Key = string | number;

const T0 = '2030-01-01T09:00:00.000Z';
const T1 = '2030-01-02T09:00:00.000Z';
const PR = 'https://github.com/org/repo/pull/7';
const ADDRESS = new TmuxAddress('relay', '%3');
const WORKTREE = {
  worktreePath: '/work/trees/login',
  branchName: 'task/login',
  signalDir: '/work/signals/login',
};
const WORKSTREAM = { integrationBranch: 'ws/auth', workstreamWorktreePath: '/work/trees/ws-auth' };

/** A task that uses every field, so that a restore which drops or defaults one shows. */
const TASK = createTask({
  id: 'implement-login',
  role: AgentRole.IMPLEMENTER,
  description: 'Implement the login form',
  paths: { src: ['src/login.ts'], test: ['test/login.test.ts'], spec: 'spec/login.md' },
  dependencies: ['spec-login', 'tests-login'],
  completionGate: 'npm test',
  maxGateAttempts: 3,
  primaryAgent: { model: 'opus', adrVerbosity: 'standard', environment: { session: 'relay' } },
  review: { agent: { model: 'sonnet' }, reviewOnAttempt: 2 },
  workstreamId: 'auth',
});

/** A fake clock that always says `iso`. */
const fixedClock = (iso: string) => (): Date => new Date(iso);

/** A fake clock that starts at `iso` and moves one minute on every call. */
function steppingClock(iso: string): () => Date {
  let next = Date.parse(iso);
  return () => {
    const now = new Date(next);
    next += 60_000;
    return now;
  };
}

/** The persisted snapshot after a JSON round trip, as a store would hand it back. */
function viaJson(runtime: TaskRuntime): Json {
  return JSON.parse(JSON.stringify(runtime.persist()));
}

/** The error `TaskRuntime.restore` throws, or undefined when it returns. */
function restoreError(snapshot: unknown, options?: TaskRuntimeOptions): unknown {
  try {
    TaskRuntime.restore(snapshot, options);
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The error `act` throws, or undefined. */
function thrownBy(act: () => void): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Events of every type, to compare what two runtimes accept. */
const PROBES: readonly TaskEvent[] = [
  { type: 'PREPARE_ATTEMPT', attemptNum: 0 },
  { type: 'PREPARE_ATTEMPT', attemptNum: 1 },
  { type: 'PREPARE_ATTEMPT', attemptNum: 2 },
  { type: 'PREPARE_ATTEMPT', attemptNum: 3 },
  { type: 'START' },
  { type: 'PR_CREATED', prUrl: PR },
  { type: 'PR_MERGED' },
  { type: 'FAIL', error: 'probe' },
  { type: 'FAIL', error: 'probe', workerLost: true },
  { type: 'RETRY' },
  { type: 'REOPEN', reason: 'probe', attempts: 1 },
  { type: 'MARK_PENDING' },
  { type: 'ASSIGN_WORKTREE', worktreePath: '/w', branchName: 'b' },
  { type: 'ASSIGN_WORKSTREAM', integrationBranch: 'i', workstreamWorktreePath: '/ws' },
  { type: 'RECORD_AGENT_ADDRESS', address: { kind: 'tmux', session: 's', paneId: '%1' } },
  { type: 'ADD_CONCERN', concern: 'probe' },
];

interface Scenario {
  readonly name: string;
  readonly status: TaskStatus;
  readonly maxAttempts: number | undefined;
  /** Absent for the default (3). */
  readonly maxLostAttempts?: number;
  readonly build: (runtime: TaskRuntime) => void;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'pending (fresh)', status: 'pending', maxAttempts: undefined, build: () => {} },
  {
    name: 'pending, prepared for a later attempt',
    status: 'pending',
    maxAttempts: 5,
    build: (r) => {
      r.assignWorkstream(WORKSTREAM);
      r.prepareForAttempt(2);
    },
  },
  {
    name: 'pending after resetForRetry',
    status: 'pending',
    maxAttempts: 3,
    build: (r) => {
      r.assignWorktree(WORKTREE);
      r.markRunning();
      r.markFailed('tests failed');
      r.resetForRetry();
    },
  },
  {
    name: 'pending after markPending',
    status: 'pending',
    maxAttempts: 3,
    build: (r) => {
      r.markRunning();
      r.markFailed('flaky network');
      r.markPending();
    },
  },
  {
    name: 'running',
    status: 'running',
    maxAttempts: 3,
    build: (r) => {
      r.assignWorktree(WORKTREE);
      r.assignWorkstream(WORKSTREAM);
      r.recordAgentAddress(ADDRESS);
      r.addConcern('slow CI');
      r.markRunning();
    },
  },
  {
    name: 'running a retry',
    status: 'running',
    maxAttempts: undefined,
    build: (r) => {
      r.markRunning();
      r.markFailed('tests failed');
      r.resetForRetry();
      r.prepareForAttempt(1);
      r.assignWorktree({ worktreePath: '/w/1', branchName: 'task/login-1' });
      r.markRunning();
    },
  },
  {
    name: 'pr_created',
    status: 'pr_created',
    maxAttempts: 3,
    build: (r) => {
      r.recordAgentAddress(ADDRESS);
      r.markRunning();
      r.markPrCreated(PR);
    },
  },
  {
    name: 'pr_merged (with a teardown note)',
    status: 'pr_merged',
    maxAttempts: 3,
    build: (r) => {
      r.assignWorktree(WORKTREE);
      r.recordAgentAddress(ADDRESS);
      r.markRunning();
      r.markPrCreated(PR);
      r.markPrMerged();
      r.addConcern('worktree removed');
    },
  },
  {
    name: 'failed (retryable) while running',
    status: 'failed',
    maxAttempts: 3,
    build: (r) => {
      r.markRunning();
      r.markFailed('tests failed');
    },
  },
  {
    name: 'failed (not retryable) after the PR',
    status: 'failed',
    maxAttempts: 3,
    build: (r) => {
      r.markRunning();
      r.markPrCreated(PR);
      r.markFailed('review rejected', { retryable: false });
    },
  },
  {
    name: 'failed while blocked in pending',
    status: 'failed',
    maxAttempts: 3,
    build: (r) => {
      r.markFailed('dependency spec-login failed');
    },
  },
  {
    name: 'failed on the last attempt',
    status: 'failed',
    maxAttempts: 2,
    build: (r) => {
      r.markRunning();
      r.markFailed('tests failed');
      r.resetForRetry();
      r.prepareForAttempt(1);
      r.markRunning();
      r.markFailed('tests failed again');
    },
  },
];

/** Scenarios with what schema 1 did not have: lost attempts and reopens. */
const LOST_AND_REOPEN_SCENARIOS: readonly Scenario[] = [
  {
    name: 'failed (lost, forgiven)',
    status: 'failed',
    maxAttempts: 1,
    build: (r) => {
      r.markRunning();
      r.markFailed('worker lost: lease expired', { workerLost: true });
    },
  },
  {
    name: 'running beyond maxAttempts after lost attempts',
    status: 'running',
    maxAttempts: 2,
    maxLostAttempts: 2,
    build: (r) => {
      for (let n = 0; n < 3; n += 1) {
        if (n > 0) {
          r.resetForRetry();
          r.prepareForAttempt(n);
        }
        r.markRunning();
        r.markFailed(`worker lost in attempt ${n}`, { workerLost: true });
      }
      r.resetForRetry();
      r.prepareForAttempt(3);
      r.markRunning();
    },
  },
  {
    name: 'failed (lost beyond the allowance, final)',
    status: 'failed',
    maxAttempts: 1,
    maxLostAttempts: 0,
    build: (r) => {
      r.markRunning();
      r.markPrCreated(PR);
      r.markFailed('worker lost', { workerLost: true });
    },
  },
  {
    name: 'pending after a reopen',
    status: 'pending',
    maxAttempts: 3,
    build: (r) => {
      r.markRunning();
      r.markFailed('spec is contradictory', { retryable: false });
      r.reopen('spec fixed', { attempts: 2 });
    },
  },
  {
    name: 'failed after a reopen granted fewer attempts than were left',
    status: 'failed',
    maxAttempts: 5,
    build: (r) => {
      r.markFailed('dependency spec-login failed', { retryable: false });
      r.reopen('dependency merged after all', { attempts: 1 });
      r.prepareForAttempt(1);
      r.markRunning();
      r.markFailed('tests failed');
    },
  },
];

/** Scenarios with what schema 2 did not have: ledger records that name their worker. */
const NAMED_WORKER_SCENARIOS: readonly Scenario[] = [
  {
    name: 'running on a named worker',
    status: 'running',
    maxAttempts: 3,
    build: (r) => {
      r.assignWorktree(WORKTREE);
      r.markRunning({ workerId: 'worker-1' });
    },
  },
  {
    name: 'pr_merged on a named worker after a lost one, a blocked record and a reopen',
    status: 'pr_merged',
    maxAttempts: 2,
    build: (r) => {
      r.markRunning({ workerId: 'worker-1' });
      r.markFailed('worker lost: lease expired', { workerLost: true });
      r.resetForRetry();
      r.prepareForAttempt(1);
      r.markFailed('dependency spec-login failed', { retryable: false });
      r.reopen('dependency merged after all');
      r.prepareForAttempt(2);
      r.markRunning({ workerId: 'worker-2' });
      r.markPrCreated(PR);
      r.markPrMerged();
    },
  },
  {
    name: 'failed on a named worker after an unnamed attempt',
    status: 'failed',
    maxAttempts: 2,
    build: (r) => {
      r.markRunning();
      r.markFailed('tests failed');
      r.resetForRetry();
      r.prepareForAttempt(1);
      r.markRunning({ workerId: '<b>worker</b>\u0000\ud800' });
      r.markFailed('tests failed again');
    },
  },
];

const ALL_SCENARIOS: readonly Scenario[] = [
  ...SCENARIOS,
  ...LOST_AND_REOPEN_SCENARIOS,
  ...NAMED_WORKER_SCENARIOS,
];

function scenario(name: string): Scenario {
  const found = ALL_SCENARIOS.find((s) => s.name === name);
  if (found === undefined) throw new Error(`test bug: no scenario ${name}`);
  return found;
}

function make(s: Scenario, clock: () => Date = fixedClock(T0)): TaskRuntime {
  const runtime = new TaskRuntime(TASK, {
    maxAttempts: s.maxAttempts,
    ...(s.maxLostAttempts === undefined ? {} : { maxLostAttempts: s.maxLostAttempts }),
    clock,
  });
  s.build(runtime);
  expect(runtime.status).toBe(s.status);
  return runtime;
}

/** Compares every public view of two runtimes. */
function expectSameRuntime(restored: TaskRuntime, original: TaskRuntime): void {
  expect(restored.status).toBe(original.status);
  expect(restored.isTerminal).toBe(original.isTerminal);
  expect(restored.state).toEqual(original.state);
  expect(restored.task).toEqual(original.task);
  expect(restored.attempts).toEqual(original.attempts);
  expect(restored.artifacts.prUrl).toBe(original.artifacts.prUrl);
  expect(restored.artifacts.concerns).toEqual(original.artifacts.concerns);
  expect(restored.artifacts.agentAddress?.toJSON() ?? null).toEqual(
    original.artifacts.agentAddress?.toJSON() ?? null,
  );
}

// ---------------------------------------------------------------------------------------------
// JSON path helpers (for the table of bad snapshots and the mutation property)
// ---------------------------------------------------------------------------------------------

function parsePath(path: string): Key[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) =>
    m[2] === undefined ? (m[1] ?? '') : Number(m[2]),
  );
}

function isContainer(node: Json | undefined): node is JsonContainer {
  return typeof node === 'object' && node !== null;
}

function childOf(node: Json, key: Key): Json | undefined {
  if (Array.isArray(node)) return node[Number(key)];
  return isContainer(node) ? node[String(key)] : undefined;
}

function containerOf(root: Json, keys: readonly Key[]): JsonContainer {
  let node: Json | undefined = root;
  for (const key of keys.slice(0, -1)) node = node === undefined ? undefined : childOf(node, key);
  if (!isContainer(node)) throw new Error(`test bug: no container at ${keys.join('.')}`);
  return node;
}

function setAt(root: Json, keys: readonly Key[], value: Json): void {
  const container = containerOf(root, keys);
  const key = keys[keys.length - 1] ?? '';
  if (Array.isArray(container)) container[Number(key)] = value;
  // defineProperty, like JSON.parse, so that even '__proto__' becomes an own field.
  else
    Object.defineProperty(container, String(key), {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

function deleteAt(root: Json, keys: readonly Key[]): void {
  const container = containerOf(root, keys);
  const key = keys[keys.length - 1] ?? '';
  if (Array.isArray(container)) container.splice(Number(key), 1);
  else Reflect.deleteProperty(container, String(key));
}

/** Every path in `node`, the root (`[]`) first. */
function pathsOf(node: Json, prefix: readonly Key[] = []): Key[][] {
  const paths: Key[][] = [[...prefix]];
  if (Array.isArray(node)) {
    node.forEach((item, index) => {
      paths.push(...pathsOf(item, [...prefix, index]));
    });
  } else if (isContainer(node)) {
    for (const [key, value] of Object.entries(node))
      paths.push(...pathsOf(value, [...prefix, key]));
  }
  return paths;
}

type Mutate = (snapshot: Json) => unknown;
const set =
  (path: string, value: Json): Mutate =>
  (s) => {
    setAt(s, parsePath(path), value);
    return s;
  };
const remove =
  (path: string): Mutate =>
  (s) => {
    deleteAt(s, parsePath(path));
    return s;
  };
const replaceWith =
  (value: unknown): Mutate =>
  () =>
    value;
const both =
  (first: Mutate, second: (s: Json) => unknown): Mutate =>
  (s) => {
    first(s);
    return second(s);
  };

// ---------------------------------------------------------------------------------------------
// Contract invariants of a persisted snapshot (used by the properties)
// ---------------------------------------------------------------------------------------------

/** The context fields that hold a non-empty string or null. */
const CONTEXT_TEXT_FIELDS = [
  'worktreePath',
  'branchName',
  'signalDir',
  'integrationBranch',
  'workstreamWorktreePath',
  'error',
  'prUrl',
] as const;

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isIsoTime = (v: unknown): boolean =>
  typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v) && !Number.isNaN(Date.parse(v));

/** What is wrong with `runtime` by the contract's invariants; empty when nothing is. */
function violations(runtime: TaskRuntime): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };
  const { status, context: c } = runtime.persist();
  check(TASK_STATUSES.includes(status), `unknown status ${String(status)}`);
  check(runtime.status === status && runtime.state.status === status, 'views disagree on status');
  check(status !== 'failed' || isText(c.error), 'failed without a non-empty error');
  check(status !== 'failed' || typeof c.retryable === 'boolean', 'failed without retryable');
  check(
    !(status === 'pr_created' || status === 'pr_merged') || isText(c.prUrl),
    `${status} without prUrl`,
  );
  check(
    !['running', 'pr_created', 'pr_merged'].includes(status) || c.error === null,
    `${status} with an error`,
  );
  check(
    Number.isSafeInteger(c.attemptNum) && c.attemptNum >= 0,
    'attemptNum not a safe integer ≥ 0',
  );
  check(
    c.maxAttempts === null || (Number.isSafeInteger(c.maxAttempts) && c.maxAttempts > 0),
    'maxAttempts not a positive integer or null',
  );
  check(
    Number.isSafeInteger(c.maxLostAttempts) && c.maxLostAttempts >= 0,
    'maxLostAttempts not a safe integer ≥ 0',
  );
  check(Number.isSafeInteger(c.extraAttempts), 'extraAttempts not a safe integer');
  check(
    c.maxAttempts === null || c.attemptNum < c.maxAttempts + c.extraAttempts,
    'attemptNum ≥ maxAttempts + extraAttempts',
  );
  check(c.concerns.every(isText), 'a concern is not a non-empty string');
  for (const key of CONTEXT_TEXT_FIELDS) {
    check(c[key] === null || isText(c[key]), `${key} is not a non-empty string or null`);
  }
  check(
    c.agentAddress === null ||
      (c.agentAddress.kind === 'tmux' &&
        isText(c.agentAddress.session) &&
        isText(c.agentAddress.paneId) &&
        Object.keys(c.agentAddress).length === 3),
    'agentAddress is not a tmux address',
  );
  check(
    !c.task.dependencies.includes(c.task.id) &&
      new Set(c.task.dependencies).size === c.task.dependencies.length,
    'task dependencies include its own id or a duplicate',
  );
  let rebuilt: unknown;
  try {
    rebuilt = createTask(JSON.parse(JSON.stringify(c.task)));
  } catch (error) {
    rebuilt = error;
  }
  check(JSON.stringify(rebuilt) === JSON.stringify(c.task), 'task is not a valid Task');
  c.attempts.forEach((r, i) => {
    const at = `attempts[${i}]`;
    const previous = c.attempts[i - 1];
    check(previous === undefined || r.attemptNum > previous.attemptNum, `${at} not increasing`);
    check(r.attemptNum <= c.attemptNum, `${at} beyond attemptNum`);
    const ended = r.outcome === 'failed' || r.outcome === 'lost';
    check(i === c.attempts.length - 1 || ended, `${at} open but not last`);
    check(ended === isText(r.error), `${at} error does not match outcome`);
    check(!ended || typeof r.retryable === 'boolean', `${at} failed w/o retryable`);
    check(r.outcome !== 'lost' || r.retryable === true, `${at} lost but not retryable`);
    check(
      !(r.outcome === 'pr_created' || r.outcome === 'pr_merged') || isText(r.prUrl),
      `${at} ${r.outcome} without prUrl`,
    );
    check(r.startedAt === null || isIsoTime(r.startedAt), `${at}.startedAt is not an ISO time`);
    check(r.endedAt === null || isIsoTime(r.endedAt), `${at}.endedAt is not an ISO time`);
    check(r.workerId === null || isText(r.workerId), `${at}.workerId is not a string or null`);
    check(
      r.endedAt === null || !(r.outcome === 'running' || r.outcome === 'pr_created'),
      `${at} is open but has endedAt`,
    );
  });
  const last = c.attempts[c.attempts.length - 1];
  if (status === 'pending') {
    check(
      last === undefined || last.outcome === 'failed' || last.outcome === 'lost',
      'pending with an open attempt',
    );
  } else {
    const outcome = status === 'failed' && last?.outcome === 'lost' ? 'lost' : status;
    check(
      last !== undefined && last.attemptNum === c.attemptNum && last.outcome === outcome,
      `${status} but the ledger ends with ${JSON.stringify(last)}`,
    );
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Random command sequences (for the properties)
// ---------------------------------------------------------------------------------------------

type Command =
  | { readonly kind: 'prepareNext' }
  | { readonly kind: 'prepare'; readonly attemptNum: number }
  | { readonly kind: 'run' }
  | { readonly kind: 'runOn'; readonly workerId: string }
  | { readonly kind: 'pr' }
  | { readonly kind: 'merge' }
  | { readonly kind: 'fail'; readonly retryable: boolean | undefined }
  | { readonly kind: 'lose' }
  | { readonly kind: 'retry' }
  | { readonly kind: 'reopen'; readonly attempts: number }
  | { readonly kind: 'markPending' }
  | { readonly kind: 'worktree'; readonly signalDir: boolean }
  | { readonly kind: 'workstream' }
  | { readonly kind: 'address'; readonly paneId: string }
  | { readonly kind: 'concern' };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'prepareNext' } as const), weight: 3 },
  {
    arbitrary: fc.record({ kind: fc.constant('prepare' as const), attemptNum: fc.nat(4) }),
    weight: 1,
  },
  { arbitrary: fc.constant({ kind: 'run' } as const), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('runOn' as const),
      workerId: fc.constantFrom('worker-1', 'worker-2'),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: 'pr' } as const), weight: 3 },
  { arbitrary: fc.constant({ kind: 'merge' } as const), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('fail' as const),
      retryable: fc.constantFrom(true, false, undefined),
    }),
    weight: 3,
  },
  { arbitrary: fc.constant({ kind: 'lose' } as const), weight: 2 },
  { arbitrary: fc.constant({ kind: 'retry' } as const), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('reopen' as const),
      attempts: fc.integer({ min: 1, max: 3 }),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: 'markPending' } as const), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('worktree' as const), signalDir: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.constant({ kind: 'workstream' } as const), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('address' as const),
      paneId: fc.constantFrom('%1', '%2'),
    }),
    weight: 1,
  },
  { arbitrary: fc.constant({ kind: 'concern' } as const), weight: 1 },
);

const historyArb = fc.record({
  maxAttempts: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  maxLostAttempts: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  commands: fc.array(commandArb, { maxLength: 14 }),
});
type History = typeof historyArb extends fc.Arbitrary<infer H> ? H : never;

/** The options a history's runtime is made with. */
const limitsOf = (history: History): TaskRuntimeOptions => ({
  maxAttempts: history.maxAttempts,
  ...(history.maxLostAttempts === undefined ? {} : { maxLostAttempts: history.maxLostAttempts }),
});

/** Runs `command`; a refusal (IllegalTransitionError) is fine, any other error fails the property. */
function apply(runtime: TaskRuntime, command: Command): void {
  try {
    switch (command.kind) {
      case 'prepareNext': {
        const last = runtime.attempts[runtime.attempts.length - 1];
        runtime.prepareForAttempt(Math.max(runtime.state.attemptNum, (last?.attemptNum ?? -1) + 1));
        return;
      }
      case 'prepare':
        runtime.prepareForAttempt(command.attemptNum);
        return;
      case 'run':
        runtime.markRunning();
        return;
      case 'runOn':
        runtime.markRunning({ workerId: command.workerId });
        return;
      case 'pr':
        runtime.markPrCreated(PR);
        return;
      case 'merge':
        runtime.markPrMerged();
        return;
      case 'fail':
        runtime.markFailed(
          'tests failed',
          command.retryable === undefined ? {} : { retryable: command.retryable },
        );
        return;
      case 'lose':
        runtime.markFailed('worker lost', { workerLost: true });
        return;
      case 'retry':
        runtime.resetForRetry();
        return;
      case 'reopen':
        runtime.reopen('a second chance', { attempts: command.attempts });
        return;
      case 'markPending':
        runtime.markPending();
        return;
      case 'worktree':
        runtime.assignWorktree(
          command.signalDir ? WORKTREE : { worktreePath: '/w', branchName: 'task/b' },
        );
        return;
      case 'workstream':
        runtime.assignWorkstream(WORKSTREAM);
        return;
      case 'address':
        runtime.recordAgentAddress(new TmuxAddress('relay', command.paneId));
        return;
      case 'concern':
        runtime.addConcern('a note');
        return;
    }
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) throw error;
  }
}

function replay(history: History): TaskRuntime {
  const runtime = new TaskRuntime(TASK, { ...limitsOf(history), clock: steppingClock(T0) });
  for (const command of history.commands) apply(runtime, command);
  return runtime;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('TaskRuntime.persist and TaskRuntime.restore', () => {
  describe('round trip through JSON', () => {
    it.each(ALL_SCENARIOS)('should restore an equal runtime in status $name', (s) => {
      const original = make(s);
      expect(original.status).toBe(s.status);

      const restored = TaskRuntime.restore(viaJson(original));

      expectSameRuntime(restored, original);
    });

    it.each(ALL_SCENARIOS)(
      'should persist byte-for-byte the same JSON after restoring $name',
      (s) => {
        const original = make(s);

        const restored = TaskRuntime.restore(viaJson(original));

        expect(JSON.stringify(restored.persist())).toBe(JSON.stringify(original.persist()));
        expect(JSON.stringify(restored)).toBe(JSON.stringify(original));
      },
    );

    it.each(ALL_SCENARIOS)('should accept exactly the same events after restoring $name', (s) => {
      const original = make(s);

      const restored = TaskRuntime.restore(viaJson(original));

      expect(PROBES.map((event) => [event.type, restored.can(event)])).toEqual(
        PROBES.map((event) => [event.type, original.can(event)]),
      );
    });

    it('should restore the agent address as a TmuxAddress equal by value', () => {
      const original = make(scenario('running'));

      const { agentAddress } = TaskRuntime.restore(viaJson(original)).artifacts;

      expect(agentAddress).toBeInstanceOf(TmuxAddress);
      expect(agentAddress?.equals(ADDRESS)).toBe(true);
      expect(agentAddress?.label).toBe('relay:%3');
    });

    it('should restore from the persist() object itself, without a JSON round trip', () => {
      const original = make(scenario('pr_created'));

      const restored = TaskRuntime.restore(original.persist());

      expectSameRuntime(restored, original);
    });

    it('should produce plain JSON that survives JSON.stringify unchanged', () => {
      const persisted = make(scenario('pr_merged (with a teardown note)')).persist();

      expect(JSON.parse(JSON.stringify(persisted))).toStrictEqual({ ...persisted });
      expect(persisted.schemaVersion).toBe(SNAPSHOT_SCHEMA_VERSION);
    });
  });

  describe('a restored runtime', () => {
    it('should go on from running to pr_created and pr_merged, timed by the new clock', () => {
      const original = make(scenario('running'));

      const restored = TaskRuntime.restore(viaJson(original), { clock: fixedClock(T1) });
      restored.markPrCreated(PR);
      restored.markPrMerged();

      expect(restored.status).toBe('pr_merged');
      expect(restored.attempts).toEqual([
        {
          attemptNum: 0,
          startedAt: T0,
          endedAt: T1,
          outcome: 'pr_merged',
          error: null,
          retryable: null,
          prUrl: PR,
          workerId: null,
        },
      ]);
      expect(original.status).toBe('running');
    });

    it('should go on from failed through resetForRetry, prepareForAttempt and markRunning', () => {
      const original = make(scenario('failed (retryable) while running'));

      const restored = TaskRuntime.restore(viaJson(original), { clock: fixedClock(T1) });
      restored.resetForRetry();
      restored.prepareForAttempt(1);
      restored.markRunning();

      expect(restored.status).toBe('running');
      expect(restored.state).toMatchObject({ attemptNum: 1, error: null });
      expect(restored.artifacts.concerns).toEqual(['attempt_0_error: tests failed']);
      expect(restored.attempts.map((r) => [r.attemptNum, r.outcome, r.startedAt])).toEqual([
        [0, 'failed', T0],
        [1, 'running', T1],
      ]);
    });

    it('should go on from pr_created to failed (worker lost) and retry', () => {
      const original = make(scenario('pr_created'));

      const restored = TaskRuntime.restore(viaJson(original), { clock: fixedClock(T1) });
      restored.markFailed('worker lost');

      expect(restored.status).toBe('failed');
      expect(restored.attempts[0]).toEqual({
        attemptNum: 0,
        startedAt: T0,
        endedAt: T1,
        outcome: 'failed',
        error: 'worker lost',
        retryable: true,
        prUrl: PR,
        workerId: null,
      });
      restored.resetForRetry();
      restored.prepareForAttempt(1);
      restored.markRunning();
      expect(restored.status).toBe('running');
      expect(restored.artifacts.concerns).toEqual(['attempt_0_error: worker lost']);
    });

    it('should still require prepareForAttempt after being restored from markPending', () => {
      const restored = TaskRuntime.restore(viaJson(make(scenario('pending after markPending'))));

      expect(thrownBy(() => restored.markRunning())).toMatchObject({
        name: 'IllegalTransitionError',
        reason: 'isCurrentAttemptUnused',
      });
      restored.prepareForAttempt(1);
      restored.markRunning();
      expect(restored.status).toBe('running');
    });

    it('should never run with an error when restored pending with a stale error', () => {
      const snapshot = set('context.error', 'stale')(viaJson(make(scenario('pending (fresh)'))));

      const error = restoreError(snapshot);
      if (error !== undefined) {
        expect(error).toBeInstanceOf(SnapshotError);
        return;
      }
      const restored = TaskRuntime.restore(snapshot);
      restored.markRunning();
      expect(restored.state).toMatchObject({ status: 'running', error: null });
    });

    it('should refuse to retry a failure restored as not retryable', () => {
      const restored = TaskRuntime.restore(
        viaJson(make(scenario('failed (not retryable) after the PR'))),
      );
      const before = JSON.stringify(restored.persist());

      const error = thrownBy(() => restored.resetForRetry());

      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect(error).toMatchObject({ reason: 'isRetryAllowed', status: 'failed' });
      expect(JSON.stringify(restored.persist())).toBe(before);
    });

    it('should refuse to leave pr_merged but still take concerns', () => {
      const restored = TaskRuntime.restore(
        viaJson(make(scenario('pr_merged (with a teardown note)'))),
      );

      expect(thrownBy(() => restored.markFailed('late'))).toBeInstanceOf(IllegalTransitionError);
      restored.addConcern('branch deleted');
      expect(restored.artifacts.concerns).toEqual(['worktree removed', 'branch deleted']);
      expect(restored.status).toBe('pr_merged');
    });
  });

  describe('restore options', () => {
    it('should keep maxAttempts through persist and use it on restore', () => {
      const restored = TaskRuntime.restore(viaJson(make(scenario('failed on the last attempt'))));

      expect(thrownBy(() => restored.resetForRetry())).toMatchObject({
        name: 'IllegalTransitionError',
        reason: 'isRetryAllowed',
      });
      expect(thrownBy(() => restored.markPending())).toBeInstanceOf(IllegalTransitionError);
    });

    it('should refuse an attempt beyond the persisted maxAttempts', () => {
      const original = new TaskRuntime(TASK, { maxAttempts: 2, clock: fixedClock(T0) });

      const restored = TaskRuntime.restore(viaJson(original));

      expect(thrownBy(() => restored.prepareForAttempt(2))).toMatchObject({
        reason: 'isAttemptAvailable',
      });
      restored.prepareForAttempt(1);
      expect(restored.state.attemptNum).toBe(1);
    });

    it('should use options.maxAttempts instead of the persisted one, and persist it', () => {
      const snapshot = viaJson(make(scenario('failed on the last attempt')));

      const restored = TaskRuntime.restore(snapshot, { maxAttempts: 4, clock: fixedClock(T1) });
      restored.resetForRetry();
      restored.prepareForAttempt(2);
      const again = TaskRuntime.restore(viaJson(restored));

      expect(restored.state.attemptNum).toBe(2);
      expect(again.can({ type: 'PREPARE_ATTEMPT', attemptNum: 3 })).toBe(true);
      expect(again.can({ type: 'PREPARE_ATTEMPT', attemptNum: 4 })).toBe(false);
    });

    it('should keep "no limit" when the runtime had no maxAttempts', () => {
      const restored = TaskRuntime.restore(viaJson(make(scenario('pending (fresh)'))));

      restored.prepareForAttempt(1000);

      expect(restored.state.attemptNum).toBe(1000);
    });

    it('should refuse options.maxAttempts that the snapshot has already used up, creating nothing', () => {
      const snapshot = viaJson(make(scenario('pending, prepared for a later attempt')));
      const inspected: InspectionEvent[] = [];
      const inspect = (event: InspectionEvent): void => {
        inspected.push(event);
      };

      expect(restoreError(snapshot, { maxAttempts: 2, inspect })).toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'maxAttempts',
      });
      expect(restoreError(snapshot, { maxAttempts: 3, inspect })).toBeUndefined();
      expect(inspected.filter((e) => e.type === '@xstate.actor')).toHaveLength(1);
    });

    it('should refuse a malformed options.maxAttempts or clock with InvalidArgumentError', () => {
      const snapshot = viaJson(make(scenario('running')));

      expect(restoreError(snapshot, { maxAttempts: 0 })).toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'maxAttempts',
      });
      expect(restoreError(snapshot, { maxAttempts: 1.5 })).toBeInstanceOf(InvalidArgumentError);
      expect(restoreError(snapshot, { clock: 'now' as unknown as () => Date })).toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'clock',
      });
    });

    it('should stamp new ledger entries with the clock given to restore', () => {
      const original = make(scenario('pending after resetForRetry'));
      const clock = steppingClock(T1);

      const restored = TaskRuntime.restore(viaJson(original), { clock });
      restored.prepareForAttempt(1);
      restored.markRunning();
      restored.markFailed('boom');

      // The clock is read for the events the ledger records (START, then FAIL), one step each.
      expect(restored.attempts[1]).toMatchObject({
        startedAt: '2030-01-02T09:00:00.000Z',
        endedAt: '2030-01-02T09:01:00.000Z',
      });
      expect(original.attempts).toHaveLength(1);
    });

    it('should pass options.inspect to the restored actor', () => {
      const events: InspectionEvent[] = [];
      const restored = TaskRuntime.restore(viaJson(make(scenario('running'))), {
        inspect: (event) => {
          events.push(event);
        },
      });

      restored.markPrCreated(PR);

      expect(events.some((e) => e.type === '@xstate.actor')).toBe(true);
      expect(events.flatMap((e) => (e.type === '@xstate.event' ? [e.event.type] : []))).toContain(
        'PR_CREATED',
      );
    });
  });

  describe('immutability', () => {
    function expectDeepFrozen(value: unknown, path = 'persist()'): void {
      if (typeof value !== 'object' || value === null) return;
      expect([path, Object.isFrozen(value)]).toEqual([path, true]);
      for (const [key, child] of Object.entries(value)) expectDeepFrozen(child, `${path}.${key}`);
    }

    it.each(ALL_SCENARIOS)('should return a deeply frozen persist() in $name', (s) => {
      expectDeepFrozen(make(s).persist());
    });

    it('should not let a caller change the runtime through the persisted object', () => {
      const runtime = make(scenario('running'));
      const persisted = runtime.persist();
      const before = JSON.stringify(persisted);

      expect(Reflect.set(persisted, 'status', 'failed')).toBe(false);
      expect(Reflect.set(persisted.context, 'attemptNum', 7)).toBe(false);
      expect(Reflect.set(persisted.context.attempts[0] ?? {}, 'outcome', 'failed')).toBe(false);
      expect(() => (persisted.context.concerns as string[]).push('sneaky')).toThrow(TypeError);
      expect(() => (persisted.context.task.dependencies as string[]).pop()).toThrow(TypeError);

      expect(JSON.stringify(runtime.persist())).toBe(before);
      expect(runtime.status).toBe('running');
      expect(runtime.artifacts.concerns).toEqual(['slow CI']);
    });

    it('should keep an earlier persist() unchanged when the runtime moves on', () => {
      const runtime = make(scenario('running'));
      const persisted = runtime.persist();
      const before = JSON.stringify(persisted);

      runtime.markPrCreated(PR);

      expect(JSON.stringify(persisted)).toBe(before);
      expect(persisted.status).toBe('running');
    });

    it('should not share state with the object it was restored from', () => {
      const snapshot = viaJson(make(scenario('pr_created')));
      const restored = TaskRuntime.restore(snapshot);
      const before = JSON.stringify(restored.persist());

      set('context.prUrl', 'https://evil')(snapshot);
      set('context.concerns', ['injected'])(snapshot);
      set('context.attempts[0].outcome', 'pr_merged')(snapshot);
      set('context.task.dependencies[0]', 'other')(snapshot);
      set('context.agentAddress.paneId', '%9')(snapshot);

      expect(JSON.stringify(restored.persist())).toBe(before);
    });
  });

  describe('rejecting bad snapshots', () => {
    type BaseName = 'running' | 'failed' | 'pr_created' | 'pr_merged' | 'lost' | 'beyond';
    /**
     * running: attempt 0 failed and was retried, attempt 1 is running, with worktree, workstream,
     * address and two concerns; maxAttempts 3.
     */
    const BASES: Record<BaseName, () => Json> = {
      running: () => {
        const r = new TaskRuntime(TASK, { maxAttempts: 3, clock: fixedClock(T0) });
        r.markRunning();
        r.markFailed('tests failed');
        r.resetForRetry();
        r.prepareForAttempt(1);
        r.assignWorktree(WORKTREE);
        r.assignWorkstream(WORKSTREAM);
        r.recordAgentAddress(ADDRESS);
        r.addConcern('slow CI');
        r.markRunning();
        return viaJson(r);
      },
      failed: () => viaJson(make(scenario('failed (retryable) while running'))),
      pr_created: () => viaJson(make(scenario('pr_created'))),
      pr_merged: () => viaJson(make(scenario('pr_merged (with a teardown note)'))),
      /** failed: attempt 0 lost and forgiven (maxAttempts 1, extraAttempts 1). */
      lost: () => viaJson(make(scenario('failed (lost, forgiven)'))),
      /** running attempt 3 after three lost attempts, two forgiven (maxAttempts 2, extraAttempts 2). */
      beyond: () => viaJson(make(scenario('running beyond maxAttempts after lost attempts'))),
    };

    const foreign: Json = JSON.parse(
      JSON.stringify(
        createActor(taskMachine, { input: { task: TASK } })
          .start()
          .getPersistedSnapshot(),
      ),
    );

    interface BadSnapshot {
      readonly description: string;
      readonly base: BaseName;
      readonly mutate: Mutate;
      readonly path: string;
    }
    const bad = (
      description: string,
      base: BaseName,
      mutate: Mutate,
      path: string,
    ): BadSnapshot => ({
      description,
      base,
      mutate,
      path,
    });

    const BAD_SNAPSHOTS: readonly BadSnapshot[] = [
      // not an object
      bad('null', 'running', replaceWith(null), ''),
      bad('undefined', 'running', replaceWith(undefined), ''),
      bad('a string', 'running', replaceWith('{"schemaVersion":1}'), ''),
      bad('an array', 'running', replaceWith([]), ''),
      bad('a number', 'running', replaceWith(42), ''),
      bad('a boolean', 'running', replaceWith(true), ''),
      // schema version
      bad('a missing schemaVersion', 'running', remove('schemaVersion'), 'schemaVersion'),
      bad(
        'an older schemaVersion without migration',
        'running',
        set('schemaVersion', -1),
        'schemaVersion',
      ),
      bad(
        'a newer schemaVersion',
        'running',
        set('schemaVersion', SNAPSHOT_SCHEMA_VERSION + 1),
        'schemaVersion',
      ),
      bad('a string schemaVersion', 'running', set('schemaVersion', '1'), 'schemaVersion'),
      bad('a fractional schemaVersion', 'running', set('schemaVersion', 1.5), 'schemaVersion'),
      bad('an XState-native persisted snapshot', 'running', replaceWith(foreign), 'schemaVersion'),
      // top level
      bad('an unknown status', 'running', set('status', 'done'), 'status'),
      bad('an upper-case status', 'running', set('status', 'RUNNING'), 'status'),
      bad('a null status', 'running', set('status', null), 'status'),
      bad('a missing status', 'running', remove('status'), 'status'),
      bad('a missing context', 'running', remove('context'), 'context'),
      bad('an array context', 'running', set('context', []), 'context'),
      bad('an extra top-level field', 'running', set('savedAt', T0), 'savedAt'),
      bad('an own __proto__ field', 'running', set('__proto__', {}), '__proto__'),
      bad('an extra context field', 'running', set('context.owner', 'me'), 'context.owner'),
      bad('a missing context.prUrl', 'running', remove('context.prUrl'), 'context.prUrl'),
      bad('a missing context.task', 'running', remove('context.task'), 'context.task'),
      bad('a missing context.attempts', 'running', remove('context.attempts'), 'context.attempts'),
      bad(
        'a missing context.maxAttempts',
        'running',
        remove('context.maxAttempts'),
        'context.maxAttempts',
      ),
      // status invariants
      bad('failed without error', 'failed', set('context.error', null), 'context.error'),
      bad('failed with an empty error', 'failed', set('context.error', ''), 'context.error'),
      bad(
        'failed without retryable',
        'failed',
        set('context.retryable', null),
        'context.retryable',
      ),
      bad('pr_created without prUrl', 'pr_created', set('context.prUrl', null), 'context.prUrl'),
      bad('pr_merged without prUrl', 'pr_merged', set('context.prUrl', null), 'context.prUrl'),
      bad('running with an error', 'running', set('context.error', 'boom'), 'context.error'),
      bad('pr_created with an error', 'pr_created', set('context.error', 'boom'), 'context.error'),
      // attempt numbers
      bad('a negative attemptNum', 'running', set('context.attemptNum', -1), 'context.attemptNum'),
      bad(
        'a fractional attemptNum',
        'running',
        set('context.attemptNum', 1.5),
        'context.attemptNum',
      ),
      bad('a string attemptNum', 'running', set('context.attemptNum', '1'), 'context.attemptNum'),
      bad(
        'an unsafe attemptNum',
        'running',
        set('context.attemptNum', 2 ** 53),
        'context.attemptNum',
      ),
      bad(
        'attemptNum equal to maxAttempts',
        'running',
        set('context.attemptNum', 3),
        'context.attemptNum',
      ),
      bad(
        'maxAttempts at attemptNum',
        'running',
        set('context.maxAttempts', 1),
        'context.attemptNum',
      ),
      bad('maxAttempts 0', 'running', set('context.maxAttempts', 0), 'context.maxAttempts'),
      bad(
        'a fractional maxAttempts',
        'running',
        set('context.maxAttempts', 2.5),
        'context.maxAttempts',
      ),
      bad(
        'a string maxAttempts',
        'running',
        set('context.maxAttempts', '3'),
        'context.maxAttempts',
      ),
      // context field types
      ...CONTEXT_TEXT_FIELDS.flatMap((field) => [
        bad(
          `a number context.${field}`,
          'running',
          set(`context.${field}`, 42),
          `context.${field}`,
        ),
        bad(
          `an empty context.${field}`,
          'running',
          set(`context.${field}`, ''),
          `context.${field}`,
        ),
        bad(
          `an object context.${field}`,
          'running',
          set(`context.${field}`, {}),
          `context.${field}`,
        ),
      ]),
      bad('a string retryable', 'failed', set('context.retryable', 'yes'), 'context.retryable'),
      bad(
        'concerns that are not an array',
        'running',
        set('context.concerns', 'slow CI'),
        'context.concerns',
      ),
      bad('a number concern', 'running', set('context.concerns[1]', 7), 'context.concerns[1]'),
      bad('an empty concern', 'running', set('context.concerns[0]', ''), 'context.concerns[0]'),
      bad('a null concern', 'running', set('context.concerns[1]', null), 'context.concerns[1]'),
      bad(
        'an object concern',
        'running',
        set('context.concerns[1]', { text: 'x' }),
        'context.concerns[1]',
      ),
      // agent address
      bad(
        'a string agentAddress',
        'running',
        set('context.agentAddress', 'relay:%3'),
        'context.agentAddress',
      ),
      bad(
        'an array agentAddress',
        'running',
        set('context.agentAddress', []),
        'context.agentAddress',
      ),
      bad(
        'an agentAddress of unknown kind',
        'running',
        set('context.agentAddress.kind', 'screen'),
        'context.agentAddress',
      ),
      bad(
        'an agentAddress with an empty session',
        'running',
        set('context.agentAddress.session', ''),
        'context.agentAddress.session',
      ),
      bad(
        'an agentAddress with a number paneId',
        'running',
        set('context.agentAddress.paneId', 3),
        'context.agentAddress.paneId',
      ),
      bad(
        'an agentAddress without paneId',
        'running',
        remove('context.agentAddress.paneId'),
        'context.agentAddress.paneId',
      ),
      bad(
        'an agentAddress with an extra field',
        'running',
        set('context.agentAddress.host', 'box'),
        'context.agentAddress.host',
      ),
      // tampered task
      bad('a null task', 'running', set('context.task', null), 'context.task'),
      bad('a string task', 'running', set('context.task', 'implement-login'), 'context.task'),
      bad('a task with an empty id', 'running', set('context.task.id', ''), 'context.task.id'),
      bad('a task with a number id', 'running', set('context.task.id', 7), 'context.task.id'),
      bad(
        'a task that depends on itself',
        'running',
        set('context.task.dependencies[0]', 'implement-login'),
        'context.task.dependencies[0]',
      ),
      bad(
        'a task with a duplicate dependency',
        'running',
        set('context.task.dependencies[1]', 'spec-login'),
        'context.task.dependencies[1]',
      ),
      bad(
        'a task with a number dependency',
        'running',
        set('context.task.dependencies[1]', 3),
        'context.task.dependencies[1]',
      ),
      bad(
        'a task with string dependencies',
        'running',
        set('context.task.dependencies', 'spec-login'),
        'context.task.dependencies',
      ),
      bad(
        'a task with an unknown role',
        'running',
        set('context.task.role', 'manager'),
        'context.task.role',
      ),
      bad(
        'a task with an extra field',
        'running',
        set('context.task.priority', 1),
        'context.task.priority',
      ),
      bad(
        'a task with an empty src path',
        'running',
        set('context.task.paths.src[0]', ''),
        'context.task.paths.src[0]',
      ),
      bad(
        'a task with a number spec path',
        'running',
        set('context.task.paths.spec', 5),
        'context.task.paths.spec',
      ),
      bad(
        'a task with maxGateAttempts 0',
        'running',
        set('context.task.maxGateAttempts', 0),
        'context.task.maxGateAttempts',
      ),
      bad(
        'a task with an unknown framework',
        'running',
        set('context.task.primaryAgent.framework', 'cursor'),
        'context.task.primaryAgent.framework',
      ),
      bad(
        'a task with an unknown verbosity',
        'running',
        set('context.task.primaryAgent.adrVerbosity', 'loud'),
        'context.task.primaryAgent.adrVerbosity',
      ),
      bad(
        'a task with a number model',
        'running',
        set('context.task.primaryAgent.model', 7),
        'context.task.primaryAgent.model',
      ),
      bad(
        'a task with an empty session',
        'running',
        set('context.task.primaryAgent.environment.session', ''),
        'context.task.primaryAgent.environment.session',
      ),
      bad(
        'a task with a negative reviewOnAttempt',
        'running',
        set('context.task.review.reviewOnAttempt', -1),
        'context.task.review.reviewOnAttempt',
      ),
      bad(
        'a task with an extra review agent field',
        'running',
        set('context.task.review.agent.tools', []),
        'context.task.review.agent.tools',
      ),
      bad(
        'a task with a null workstreamId',
        'running',
        set('context.task.workstreamId', null),
        'context.task.workstreamId',
      ),
      bad(
        'a task without workstreamId',
        'running',
        remove('context.task.workstreamId'),
        'context.task.workstreamId',
      ),
      bad(
        'a task with a null primaryAgent',
        'running',
        set('context.task.primaryAgent', null),
        'context.task.primaryAgent',
      ),
      // attempt ledger
      bad(
        'attempts that are not an array',
        'running',
        set('context.attempts', {}),
        'context.attempts',
      ),
      bad(
        'an attempt that is not an object',
        'running',
        set('context.attempts[0]', 'failed'),
        'context.attempts[0]',
      ),
      bad(
        'an attempt without retryable',
        'running',
        remove('context.attempts[0].retryable'),
        'context.attempts[0].retryable',
      ),
      bad(
        'an attempt with an extra field',
        'running',
        set('context.attempts[0].note', 'x'),
        'context.attempts[0].note',
      ),
      bad(
        'non-increasing attempt numbers',
        'running',
        set('context.attempts[1].attemptNum', 0),
        'context.attempts[1].attemptNum',
      ),
      bad(
        'a negative attempt number in the ledger',
        'running',
        set('context.attempts[0].attemptNum', -1),
        'context.attempts[0].attemptNum',
      ),
      bad(
        'a fractional attempt number in the ledger',
        'running',
        set('context.attempts[0].attemptNum', 0.5),
        'context.attempts[0].attemptNum',
      ),
      bad(
        'a ledger attempt beyond context.attemptNum',
        'running',
        set('context.attempts[1].attemptNum', 2),
        'context.attempts[1].attemptNum',
      ),
      bad(
        'an open attempt that is not the last',
        'running',
        set('context.attempts[0].outcome', 'running'),
        'context.attempts[0].outcome',
      ),
      bad(
        'an unknown outcome',
        'running',
        set('context.attempts[1].outcome', 'done'),
        'context.attempts[1].outcome',
      ),
      bad(
        'running status without an open attempt',
        'running',
        remove('context.attempts[1]'),
        'context.attempts',
      ),
      bad(
        'running status whose last attempt is merged',
        'running',
        both(set('context.attempts[1].outcome', 'pr_merged'), (s) => {
          setAt(s, parsePath('context.attempts[1].endedAt'), T1);
          setAt(s, parsePath('context.attempts[1].prUrl'), PR);
          return s;
        }),
        'context.attempts',
      ),
      bad(
        'pending status with an open attempt',
        'running',
        set('status', 'pending'),
        'context.attempts',
      ),
      bad(
        'failed status whose attempt is not in the ledger',
        'failed',
        set('context.attemptNum', 1),
        'context.attempts',
      ),
      bad(
        'a failed attempt without error',
        'failed',
        set('context.attempts[0].error', null),
        'context.attempts[0].error',
      ),
      bad(
        'a running attempt with an error',
        'running',
        set('context.attempts[1].error', 'x'),
        'context.attempts[1].error',
      ),
      bad(
        'an open attempt with endedAt',
        'running',
        set('context.attempts[1].endedAt', T1),
        'context.attempts[1].endedAt',
      ),
      bad(
        'a startedAt that is not a time',
        'running',
        set('context.attempts[0].startedAt', 'yesterday'),
        'context.attempts[0].startedAt',
      ),
      bad(
        'a number endedAt',
        'failed',
        set('context.attempts[0].endedAt', 1893488400000),
        'context.attempts[0].endedAt',
      ),
      bad(
        'an impossible ISO date',
        'running',
        set('context.attempts[1].startedAt', '2030-13-45T00:00:00.000Z'),
        'context.attempts[1].startedAt',
      ),
      bad(
        'a parseable but non-ISO startedAt',
        'running',
        set('context.attempts[1].startedAt', 'January 1, 2030'),
        'context.attempts[1].startedAt',
      ),
      bad(
        'a pr_created attempt without prUrl',
        'pr_created',
        set('context.attempts[0].prUrl', null),
        'context.attempts[0].prUrl',
      ),
      bad(
        'a failed attempt without retryable',
        'failed',
        set('context.attempts[0].retryable', null),
        'context.attempts[0].retryable',
      ),
      bad(
        'a string retryable in the ledger',
        'failed',
        set('context.attempts[0].retryable', 'true'),
        'context.attempts[0].retryable',
      ),
      // the worker of a record (schema 3)
      bad(
        'a record without workerId',
        'running',
        remove('context.attempts[1].workerId'),
        'context.attempts[1].workerId',
      ),
      bad(
        'an empty workerId',
        'running',
        set('context.attempts[1].workerId', ''),
        'context.attempts[1].workerId',
      ),
      bad(
        'a number workerId',
        'failed',
        set('context.attempts[0].workerId', 7),
        'context.attempts[0].workerId',
      ),
      bad(
        'a workerId that is an object',
        'running',
        set('context.attempts[0].workerId', { id: 'worker-1' }),
        'context.attempts[0].workerId',
      ),
      bad(
        'a workerId in the context instead of a record',
        'running',
        set('context.workerId', 'worker-1'),
        'context.workerId',
      ),
      // lost attempts and reopens (schema 2)
      ...(['maxLostAttempts', 'extraAttempts'] as const).flatMap((field) => [
        bad(`a missing context.${field}`, 'lost', remove(`context.${field}`), `context.${field}`),
        bad(`a null context.${field}`, 'lost', set(`context.${field}`, null), `context.${field}`),
        bad(`a string context.${field}`, 'lost', set(`context.${field}`, '1'), `context.${field}`),
        bad(
          `a fractional context.${field}`,
          'lost',
          set(`context.${field}`, 0.5),
          `context.${field}`,
        ),
        bad(
          `an unsafe context.${field}`,
          'lost',
          set(`context.${field}`, 2 ** 53),
          `context.${field}`,
        ),
      ]),
      bad(
        'a negative maxLostAttempts',
        'lost',
        set('context.maxLostAttempts', -1),
        'context.maxLostAttempts',
      ),
      bad(
        "a 'lost' record marked not retryable",
        'lost',
        set('context.attempts[0].retryable', false),
        'context.attempts[0].retryable',
      ),
      bad(
        "a 'lost' record without retryable",
        'lost',
        set('context.attempts[0].retryable', null),
        'context.attempts[0].retryable',
      ),
      bad(
        "a 'lost' record without error",
        'lost',
        set('context.attempts[0].error', null),
        'context.attempts[0].error',
      ),
      bad(
        "a 'lost' outcome on the open attempt of a running task",
        'beyond',
        both(set('context.attempts[3].outcome', 'lost'), (s) => {
          setAt(s, parsePath('context.attempts[3].error'), 'worker lost');
          setAt(s, parsePath('context.attempts[3].retryable'), true);
          setAt(s, parsePath('context.attempts[3].endedAt'), T1);
          return s;
        }),
        'context.attempts',
      ),
      bad(
        'attemptNum at maxAttempts + extraAttempts',
        'beyond',
        set('context.extraAttempts', 1),
        'context.attemptNum',
      ),
      bad(
        'attemptNum beyond maxAttempts without the extraAttempts that allow it',
        'beyond',
        set('context.extraAttempts', 0),
        'context.attemptNum',
      ),
      bad(
        'a negative extraAttempts that leaves no attempt',
        'lost',
        set('context.extraAttempts', -1),
        'context.attemptNum',
      ),
    ];

    it.each(BAD_SNAPSHOTS)(
      'should refuse $description with a SnapshotError at "$path" and create nothing',
      ({ base, mutate, path }) => {
        const snapshot = mutate(BASES[base]());
        const inspected: InspectionEvent[] = [];
        let clockCalls = 0;

        const error = restoreError(snapshot, {
          inspect: (event) => {
            inspected.push(event);
          },
          clock: () => {
            clockCalls += 1;
            return new Date(T1);
          },
        });

        expect(error).toBeInstanceOf(SnapshotError);
        expect(error).toBeInstanceOf(TaskRuntimeError);
        expect(error).toMatchObject({
          name: 'SnapshotError',
          path,
          message: expect.stringContaining(path === '' ? 'the snapshot' : `'${path}'`),
        });
        expect(inspected).toEqual([]);
        expect(clockCalls).toBe(0);
      },
    );

    it('should accept every base snapshot unchanged (the table starts from valid input)', () => {
      for (const base of Object.values(BASES)) {
        expect(restoreError(base())).toBeUndefined();
      }
    });

    it('should tell the user to upgrade task-runtime for a newer schemaVersion', () => {
      const error = restoreError(
        set('schemaVersion', SNAPSHOT_SCHEMA_VERSION + 1)(BASES.running()),
      );

      expect(error).toBeInstanceOf(SnapshotError);
      expect(error).toMatchObject({ message: expect.stringMatching(/upgrade/i) });
      expect(error).toMatchObject({
        message: expect.stringContaining(String(SNAPSHOT_SCHEMA_VERSION + 1)),
      });
    });

    it('should say that no migration exists for an older schemaVersion', () => {
      const error = restoreError(set('schemaVersion', -1)(BASES.running()));

      expect(error).toMatchObject({
        name: 'SnapshotError',
        message: expect.stringMatching(/migration/i),
      });
    });

    it('should refuse a foreign snapshot even when it claims the current schemaVersion', () => {
      const snapshot = set('schemaVersion', SNAPSHOT_SCHEMA_VERSION)(structuredClone(foreign));

      expect(restoreError(snapshot)).toBeInstanceOf(SnapshotError);
    });

    it("should refuse the XState-native snapshot of a runtime's own actor", () => {
      const runtime = make(scenario('running'));

      expect(restoreError(runtime.actor.getPersistedSnapshot())).toMatchObject({
        name: 'SnapshotError',
        path: 'schemaVersion',
      });
    });
  });

  describe('schema 0 migration', () => {
    /** A schema-0 snapshot: the format before the ledger, without attempts and retryable. */
    function asSchema0(runtime: TaskRuntime): Json {
      const snapshot = viaJson(runtime);
      setAt(snapshot, ['schemaVersion'], 0);
      deleteAt(snapshot, ['context', 'attempts']);
      deleteAt(snapshot, ['context', 'retryable']);
      deleteAt(snapshot, ['context', 'maxLostAttempts']);
      deleteAt(snapshot, ['context', 'extraAttempts']);
      return snapshot;
    }

    it.each(SCENARIOS)('should restore a schema-0 snapshot of $name', (s) => {
      const original = make(s);

      const error = restoreError(asSchema0(original));
      expect(error).toBeUndefined();
      const restored = TaskRuntime.restore(asSchema0(original));

      expect(restored.status).toBe(original.status);
      expect(restored.state).toEqual(original.state);
      expect(restored.artifacts.concerns).toEqual(original.artifacts.concerns);
      expect(restored.attempts.map((r) => [r.attemptNum, r.outcome])).toEqual(
        s.status === 'pending' ? [] : [[original.state.attemptNum, s.status]],
      );
      expect(viaJson(TaskRuntime.restore(viaJson(restored)))).toStrictEqual(viaJson(restored));
    });
    it('should run a migrated pending-after-markPending task without the stale error', () => {
      const snapshot = asSchema0(make(scenario('pending after markPending')));

      const restored = TaskRuntime.restore(snapshot, { clock: fixedClock(T1) });
      restored.markRunning();

      expect(restored.state).toMatchObject({ status: 'running', error: null });
      expect(restoreError(viaJson(restored))).toBeUndefined();
    });
  });

  describe('lost attempts and reopen', () => {
    it.each(LOST_AND_REOPEN_SCENARIOS)(
      'should keep maxLostAttempts and extraAttempts through persist and restore in $name',
      (s) => {
        const original = make(s);

        const restored = TaskRuntime.restore(viaJson(original));

        const limits = (r: TaskRuntime) => {
          const { maxAttempts, maxLostAttempts, extraAttempts } = r.persist().context;
          return { maxAttempts, maxLostAttempts, extraAttempts };
        };
        expect(limits(restored)).toEqual(limits(original));
        expect(limits(original).maxLostAttempts).toBe(s.maxLostAttempts ?? 3);
      },
    );

    it('should restore the lost attempts a task has used, so it is not forgiven them again', () => {
      const original = new TaskRuntime(TASK, { maxAttempts: 1, maxLostAttempts: 1 });
      original.markRunning();
      original.markFailed('worker lost', { workerLost: true });

      const restored = TaskRuntime.restore(viaJson(original), { clock: fixedClock(T1) });
      restored.resetForRetry();
      restored.prepareForAttempt(1);
      restored.markRunning();
      restored.markFailed('worker lost again', { workerLost: true });

      expect(thrownBy(() => restored.resetForRetry())).toMatchObject({
        name: 'IllegalTransitionError',
        reason: 'isRetryAllowed',
      });
    });

    it('should use options.maxLostAttempts instead of the persisted one, and persist it', () => {
      const snapshot = viaJson(make(scenario('failed (lost, forgiven)')));

      const restored = TaskRuntime.restore(snapshot, { maxLostAttempts: 1, clock: fixedClock(T1) });
      restored.resetForRetry();
      restored.prepareForAttempt(1);
      restored.markRunning();
      restored.markFailed('worker lost again', { workerLost: true });
      const again = TaskRuntime.restore(viaJson(restored));

      expect(again.persist().context).toMatchObject({ maxLostAttempts: 1, extraAttempts: 1 });
      expect(again.can({ type: 'RETRY' })).toBe(false);
      const generous = TaskRuntime.restore(snapshot, { maxLostAttempts: 5 });
      expect(generous.persist().context).toMatchObject({ maxLostAttempts: 5, extraAttempts: 1 });
    });

    it.each([
      ['-1', -1],
      ['1.5', 1.5],
      ["'2'", '2'],
      ['null', null],
    ])(
      'should refuse options.maxLostAttempts %s with InvalidArgumentError, creating nothing',
      (_label, value) => {
        const inspected: InspectionEvent[] = [];

        const error = restoreError(viaJson(make(scenario('failed (lost, forgiven)'))), {
          maxLostAttempts: value as number,
          inspect: (event) => {
            inspected.push(event);
          },
        });

        expect(error).toMatchObject({ name: 'InvalidArgumentError', argument: 'maxLostAttempts' });
        expect(inspected).toEqual([]);
      },
    );

    it('should refuse options.maxAttempts that leaves no attempt once extraAttempts is added, and take one that does', () => {
      // attempt 3 running, maxAttempts 2 + extraAttempts 2
      const snapshot = viaJson(make(scenario('running beyond maxAttempts after lost attempts')));

      const error = restoreError(snapshot, { maxAttempts: 1 });

      expect(error).toMatchObject({ name: 'InvalidArgumentError', argument: 'maxAttempts' });
      expect((error as Error).message).toContain('lost attempts and reopens');
      const restored = TaskRuntime.restore(snapshot, { maxAttempts: 3, clock: fixedClock(T1) });
      restored.markFailed('tests failed');
      restored.resetForRetry();
      restored.prepareForAttempt(4);
      expect(restored.can({ type: 'PREPARE_ATTEMPT', attemptNum: 5 })).toBe(false);
      expect(TaskRuntime.restore(viaJson(restored)).persist().context).toMatchObject({
        maxAttempts: 3,
        extraAttempts: 2,
      });
    });

    it('should go on after a restored reopen with exactly the attempts it granted', () => {
      const restored = TaskRuntime.restore(viaJson(make(scenario('pending after a reopen'))), {
        clock: fixedClock(T1),
      });

      for (const n of [1, 2]) {
        restored.prepareForAttempt(n);
        restored.markRunning();
        restored.markFailed('tests failed');
        if (n === 1) restored.resetForRetry();
      }

      expect(thrownBy(() => restored.resetForRetry())).toMatchObject({ reason: 'isRetryAllowed' });
      expect(restored.artifacts.concerns).toEqual([
        'reopened: spec fixed (last error: spec is contradictory)',
        'attempt_1_error: tests failed',
      ]);
    });
  });

  describe('schema 1 migration', () => {
    interface Fixture {
      readonly task: TaskInput;
      readonly start: string;
      readonly entries: readonly {
        readonly name: string;
        readonly maxAttempts: number | null;
        readonly commands: readonly (readonly [string, ...unknown[]])[];
        readonly snapshot: Json;
      }[];
    }
    /** Snapshots persisted by task-runtime at commit e632ef0 (schema 1): see writeSchema1Snapshots.mjs. */
    const fixture = JSON.parse(
      readFileSync(join(__dirname, '..', 'fixtures', 'snapshots-schema1.json'), 'utf8'),
    ) as Fixture;
    type Entry = Fixture['entries'][number];

    /** A fake clock like the one that wrote the fixture: `start`, then one minute later on every call. */
    const fixtureClock = () => steppingClock(fixture.start);

    /** The entry's runtime built by today's code with the same commands and clock. */
    function rebuild(entry: Entry): TaskRuntime {
      const runtime = new TaskRuntime(createTask(fixture.task), {
        clock: fixtureClock(),
        ...(entry.maxAttempts === null ? {} : { maxAttempts: entry.maxAttempts }),
      });
      for (const [verb, ...args] of entry.commands) {
        if (verb === 'recordAgentAddress') {
          const { session, paneId } = args[0] as { session: string; paneId: string };
          runtime.recordAgentAddress(new TmuxAddress(session, paneId));
        } else {
          const command = (runtime as unknown as Record<string, unknown>)[verb];
          if (typeof command !== 'function') throw new Error(`test bug: no command ${verb}`);
          command.apply(runtime, args);
        }
      }
      return runtime;
    }

    const entries = fixture.entries.map((entry) => [entry.name, entry] as const);

    it('should hold schema-1 snapshots of every status', () => {
      const statuses = fixture.entries.map(
        (entry) => (entry.snapshot as { status: string }).status,
      );
      expect(new Set(statuses)).toEqual(new Set(TASK_STATUSES));
      for (const entry of fixture.entries) {
        expect((entry.snapshot as { schemaVersion: number }).schemaVersion).toBe(1);
      }
    });

    it.each(entries)(
      'should restore the schema-1 snapshot of %s as today’s runtime with the same limits',
      (_name, entry) => {
        const restored = TaskRuntime.restore(structuredClone(entry.snapshot));

        expect(viaJson(restored)).toStrictEqual(viaJson(rebuild(entry)));
        expect(restored.persist()).toMatchObject({
          schemaVersion: SNAPSHOT_SCHEMA_VERSION,
          context: { maxAttempts: entry.maxAttempts, maxLostAttempts: 3, extraAttempts: 0 },
        });
        // migrated 1 → 2 → 3: no record names a worker
        expect(restored.attempts.every((record) => record.workerId === null)).toBe(true);
      },
    );

    it.each(entries)('should behave as today’s runtime after restoring %s', (_name, entry) => {
      const restored = TaskRuntime.restore(structuredClone(entry.snapshot), {
        clock: steppingClock(T1),
      });
      const rebuilt = TaskRuntime.restore(viaJson(rebuild(entry)), { clock: steppingClock(T1) });
      const more: readonly Command[] = [
        { kind: 'lose' },
        { kind: 'retry' },
        { kind: 'prepareNext' },
        { kind: 'run' },
        { kind: 'fail', retryable: false },
        { kind: 'reopen', attempts: 2 },
        { kind: 'prepareNext' },
        { kind: 'run' },
        { kind: 'pr' },
        { kind: 'merge' },
      ];

      for (const command of more) {
        expect(PROBES.map((event) => restored.can(event))).toEqual(
          PROBES.map((event) => rebuilt.can(event)),
        );
        apply(restored, command);
        apply(rebuilt, command);
        expect(viaJson(restored)).toStrictEqual(viaJson(rebuilt));
      }
      expect(violations(restored)).toEqual([]);
    });

    it('should refuse a schema-1 snapshot that has the fields of schema 2', () => {
      for (const field of ['maxLostAttempts', 'extraAttempts']) {
        const snapshot = structuredClone(fixture.entries[0]?.snapshot ?? null);
        setAt(snapshot, ['context', field], 0);

        expect(restoreError(snapshot)).toMatchObject({
          name: 'SnapshotError',
          path: 'schemaVersion',
          message: expect.stringContaining(field),
        });
      }
    });

    it('should refuse a schema-2 snapshot relabelled as schema 1', () => {
      const snapshot = set('schemaVersion', 1)(viaJson(make(scenario('failed (lost, forgiven)'))));

      expect(restoreError(snapshot)).toMatchObject({
        name: 'SnapshotError',
        path: 'schemaVersion',
      });
    });

    it("should refuse a schema-1 snapshot with a 'lost' outcome, which schema 1 does not have", () => {
      const failed = fixture.entries.find((entry) => entry.name === 'failed (retryable)');
      const snapshot = structuredClone(failed?.snapshot ?? null);
      setAt(snapshot, ['context', 'attempts', 0, 'outcome'], 'lost');

      expect(restoreError(snapshot)).toMatchObject({
        name: 'SnapshotError',
        path: 'context.attempts[0].outcome',
      });
    });
  });

  describe('schema 2 migration', () => {
    interface Fixture {
      readonly task: TaskInput;
      readonly start: string;
      readonly entries: readonly {
        readonly name: string;
        readonly maxAttempts: number | null;
        readonly maxLostAttempts: number | null;
        readonly commands: readonly (readonly [string, ...unknown[]])[];
        readonly snapshot: Json;
      }[];
    }
    /** Snapshots persisted by task-runtime at commit 6ef5e8c (schema 2): see writeSchema2Snapshots.mjs. */
    const fixture = JSON.parse(
      readFileSync(join(__dirname, '..', 'fixtures', 'snapshots-schema2.json'), 'utf8'),
    ) as Fixture;
    type Entry = Fixture['entries'][number];
    /** What a test reads of a fixture snapshot. */
    interface Schema2 {
      readonly schemaVersion: number;
      readonly status: TaskStatus;
      readonly context: {
        readonly extraAttempts: number;
        readonly concerns: readonly string[];
        readonly attempts: readonly Record<string, Json>[];
      };
    }
    const snapshotOf = (entry: Entry) => entry.snapshot as unknown as Schema2;

    /** A fake clock like the one that wrote the fixture: `start`, then one minute later on every call. */
    const fixtureClock = () => steppingClock(fixture.start);

    /** The entry's runtime built by today's code with the same commands, limits and clock. */
    function rebuild(entry: Entry): TaskRuntime {
      const runtime = new TaskRuntime(createTask(fixture.task), {
        clock: fixtureClock(),
        ...(entry.maxAttempts === null ? {} : { maxAttempts: entry.maxAttempts }),
        ...(entry.maxLostAttempts === null ? {} : { maxLostAttempts: entry.maxLostAttempts }),
      });
      for (const [verb, ...args] of entry.commands) {
        if (verb === 'recordAgentAddress') {
          const { session, paneId } = args[0] as { session: string; paneId: string };
          runtime.recordAgentAddress(new TmuxAddress(session, paneId));
        } else {
          const command = (runtime as unknown as Record<string, unknown>)[verb];
          if (typeof command !== 'function') throw new Error(`test bug: no command ${verb}`);
          command.apply(runtime, args);
        }
      }
      return runtime;
    }

    function entry(name: string): Entry {
      const found = fixture.entries.find((candidate) => candidate.name === name);
      if (found === undefined) throw new Error(`test bug: no fixture entry ${name}`);
      return found;
    }

    const entries = fixture.entries.map((e) => [e.name, e] as const);

    it('should hold schema-2 snapshots of every status, with lost attempts, reopens and blocked records', () => {
      const snapshots = fixture.entries.map(snapshotOf);
      const records = snapshots.flatMap((s) => s.context.attempts);

      expect(new Set(snapshots.map((s) => s.status))).toEqual(new Set(TASK_STATUSES));
      expect(snapshots.every((s) => s.schemaVersion === 2)).toBe(true);
      expect(records.filter((r) => 'workerId' in r)).toEqual([]);
      expect(records.some((r) => r.outcome === 'lost')).toBe(true);
      expect(records.some((r) => r.startedAt === null)).toBe(true);
      expect(
        snapshots.some((s) => s.context.concerns.some((c) => c.startsWith('reopened: '))),
      ).toBe(true);
      expect(snapshots.some((s) => s.context.extraAttempts > 0)).toBe(true);
      expect(snapshots.some((s) => s.context.extraAttempts < 0)).toBe(true);
      expect(fixture.entries.some((e) => e.maxLostAttempts !== null)).toBe(true);
    });

    it.each(entries)(
      'should restore the schema-2 snapshot of %s as today’s runtime with the same limits',
      (_name, e) => {
        const { status, context } = snapshotOf(e);

        const restored = TaskRuntime.restore(structuredClone(e.snapshot));

        expect(viaJson(restored)).toStrictEqual(viaJson(rebuild(e)));
        expect(restored.persist()).toMatchObject({
          schemaVersion: SNAPSHOT_SCHEMA_VERSION,
          status,
          context: {
            maxAttempts: e.maxAttempts,
            maxLostAttempts: e.maxLostAttempts ?? 3,
            extraAttempts: context.extraAttempts,
          },
        });
        // every record as it was written, with workerId null added
        expect(viaJson(restored)).toMatchObject({
          context: { attempts: context.attempts.map((r) => ({ ...r, workerId: null })) },
        });
        expect(restored.attempts).toHaveLength(context.attempts.length);
        expect(restored.attempts.every((r) => r.workerId === null)).toBe(true);
      },
    );

    it.each(entries)('should behave as today’s runtime after restoring %s', (_name, e) => {
      const restored = TaskRuntime.restore(structuredClone(e.snapshot), {
        clock: steppingClock(T1),
      });
      const rebuilt = TaskRuntime.restore(viaJson(rebuild(e)), { clock: steppingClock(T1) });
      const more: readonly Command[] = [
        { kind: 'lose' },
        { kind: 'retry' },
        { kind: 'prepareNext' },
        { kind: 'runOn', workerId: 'worker-1' },
        { kind: 'fail', retryable: false },
        { kind: 'reopen', attempts: 2 },
        { kind: 'prepareNext' },
        { kind: 'run' },
        { kind: 'lose' },
        { kind: 'retry' },
        { kind: 'prepareNext' },
        { kind: 'runOn', workerId: 'worker-2' },
        { kind: 'pr' },
        { kind: 'merge' },
      ];

      for (const command of more) {
        expect(PROBES.map((event) => restored.can(event))).toEqual(
          PROBES.map((event) => rebuilt.can(event)),
        );
        apply(restored, command);
        apply(rebuilt, command);
        expect(viaJson(restored)).toStrictEqual(viaJson(rebuilt));
      }
      expect(violations(restored)).toEqual([]);
      const again = TaskRuntime.restore(viaJson(restored));
      expect(viaJson(again)).toStrictEqual(viaJson(restored));
    });

    it.each([
      ['null', null],
      ["'worker-1'", 'worker-1'],
      ["''", ''],
    ] as const)(
      'should refuse a schema-2 snapshot whose record has a workerId (%s), a field of schema 3',
      (_label, value) => {
        const e = entry('running beyond maxAttempts after lost attempts');
        for (const index of [0, 3]) {
          const snapshot = structuredClone(e.snapshot);
          setAt(snapshot, ['context', 'attempts', index, 'workerId'], value);

          expect(restoreError(snapshot)).toMatchObject({
            name: 'SnapshotError',
            path: `context.attempts[${index}].workerId`,
            message: expect.stringContaining('schema 3'),
          });
        }
      },
    );

    it('should refuse a schema-1 snapshot whose record has a workerId (1 → 2 → 3)', () => {
      const schema1 = JSON.parse(
        readFileSync(join(__dirname, '..', 'fixtures', 'snapshots-schema1.json'), 'utf8'),
      ) as { entries: readonly { name: string; snapshot: Json }[] };
      const failed = schema1.entries.find((e) => e.name === 'failed (retryable)');
      const snapshot = structuredClone(failed?.snapshot ?? null);
      setAt(snapshot, ['context', 'attempts', 0, 'workerId'], null);

      expect(restoreError(snapshot)).toMatchObject({
        name: 'SnapshotError',
        path: 'context.attempts[0].workerId',
      });
    });

    it.each([
      'failed (retryable) while running',
      'running beyond maxAttempts after lost attempts',
      'running on a named worker',
      'pr_merged on a named worker after a lost one, a blocked record and a reopen',
    ])('should refuse a schema-3 snapshot of %s relabelled as schema 2', (name) => {
      const original = make(scenario(name));
      expect(original.attempts.length).toBeGreaterThan(0);
      const snapshot = set('schemaVersion', 2)(viaJson(original));

      expect(restoreError(snapshot)).toMatchObject({
        name: 'SnapshotError',
        path: 'context.attempts[0].workerId',
      });
    });
  });

  describe('properties', () => {
    it('should restore every reachable state to a runtime that behaves the same', () => {
      fc.assert(
        fc.property(historyArb, fc.array(commandArb, { maxLength: 6 }), (history, more) => {
          let clock = steppingClock(T0);
          const original = new TaskRuntime(TASK, { ...limitsOf(history), clock: () => clock() });
          for (const command of history.commands) apply(original, command);

          const restored = TaskRuntime.restore(viaJson(original), { clock: steppingClock(T1) });
          expect(viaJson(restored)).toStrictEqual(viaJson(original));
          expectSameRuntime(restored, original);

          clock = steppingClock(T1);
          for (const command of more) {
            apply(original, command);
            apply(restored, command);
          }
          expect(viaJson(restored)).toStrictEqual(viaJson(original));
          expect(violations(restored)).toEqual([]);
        }),
        { numRuns: 150 },
      );
    });

    type Mutation = {
      readonly pick: number;
      readonly action: 'delete' | 'replace' | 'add';
      readonly value: Json;
      readonly key: string;
    };

    const mutationArb: fc.Arbitrary<Mutation> = fc.record({
      pick: fc.nat(),
      action: fc.constantFrom('delete', 'replace', 'replace', 'add'),
      value: fc.oneof(
        fc.constantFrom<Json>(
          null,
          '',
          'x',
          -1,
          0,
          1,
          2,
          0.5,
          2 ** 53,
          true,
          false,
          [],
          {},
          'pending',
          'running',
          'pr_created',
          'pr_merged',
          'failed',
          T1,
        ),
        fc.jsonValue({ maxDepth: 2 }).map((v) => v as Json),
      ),
      key: fc.constantFrom('extra', 'kind', 'attemptNum', '__proto__', 'constructor'),
    });

    /** Applies `m` at one of the snapshot's paths (the root included) and returns the result. */
    function mutate(root: Json, m: Mutation): unknown {
      const paths = pathsOf(root);
      const path = paths[m.pick % paths.length] ?? [];
      const value = structuredClone(m.value);
      if (path.length === 0) {
        return m.action === 'delete' ? undefined : m.action === 'replace' ? value : root;
      }
      let node: Json | undefined = root;
      for (const key of path) node = node === undefined ? undefined : childOf(node, key);
      if (m.action === 'delete') deleteAt(root, path);
      else if (m.action === 'add' && Array.isArray(node)) node.push(value);
      else if (m.action === 'add' && isContainer(node)) setAt(node, [m.key], value);
      else setAt(root, path, value);
      return root;
    }

    it('should either refuse a mutated snapshot with SnapshotError or restore a sound runtime', () => {
      fc.assert(
        fc.property(
          historyArb,
          mutationArb,
          fc.array(commandArb, { maxLength: 4 }),
          (history, m, more) => {
            const snapshot = mutate(viaJson(replay(history)), m);

            let restored: TaskRuntime;
            try {
              restored = TaskRuntime.restore(snapshot, { clock: steppingClock(T1) });
            } catch (error) {
              expect(error).toBeInstanceOf(SnapshotError);
              return;
            }

            expect(violations(restored)).toEqual([]);
            const persisted = JSON.stringify(restored.persist());
            const again = TaskRuntime.restore(JSON.parse(persisted), { clock: steppingClock(T1) });
            expect(JSON.stringify(again.persist())).toBe(persisted);
            for (const command of more) {
              apply(restored, command);
              expect(violations(restored)).toEqual([]);
            }
          },
        ),
        { numRuns: 2000 },
      );
    });
  });
});

// Type-level: persist() is read-only for callers.
function typeChecks(runtime: TaskRuntime): PersistedTaskRuntime {
  const persisted = runtime.persist();
  // @ts-expect-error status is readonly
  persisted.status = 'failed';
  // @ts-expect-error concerns is a readonly array
  persisted.context.concerns.push('x');
  return persisted;
}
void typeChecks;
