/**
 * Property tests of the TaskRuntime facade: random command sequences (malformed arguments included) run against a
 * tiny reference model of the contract's status and attempt rules, lost attempts and reopens included
 * (fc.commands + fc.modelRun), with the
 * contract's invariants, the "a refused call changes nothing" rule, and persist → JSON → restore checked at every step.
 */
import fc from 'fast-check';
import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import { IllegalTransitionError, InvalidArgumentError, SnapshotError } from '../../src/errors.js';
import type { TaskStatus } from '../../src/machines/status.js';
import type { TaskEvent } from '../../src/machines/taskMachine.js';
import { type FailOptions, TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { createTask } from '../../src/task/createTask.js';

const task = createTask({ id: 'implement-login', role: 'implementer' });
const NUM_RUNS = 300;

/** A clock the test moves by hand; both a runtime and its restored twin read it. */
class FakeClock {
  #ms = Date.parse('2025-01-01T00:00:00.000Z');
  readonly now = (): Date => new Date(this.#ms);
  get iso(): string {
    return new Date(this.#ms).toISOString();
  }
  tick(ms: number): void {
    this.#ms += ms;
  }
}

/** Deep plain-JSON copy (also turns -0 into 0, as persist does). */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isRecordValue = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isAttemptNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

// ---------------------------------------------------------------------------------------------------------------
// Commands, as data.
// ---------------------------------------------------------------------------------------------------------------

type Cmd =
  | { readonly kind: 'prepareForAttempt'; readonly n: unknown }
  /** prepareForAttempt(current attemptNum + offset): keeps sequences moving. */
  | { readonly kind: 'prepareRelative'; readonly offset: number }
  | { readonly kind: 'markRunning' }
  | { readonly kind: 'markPrCreated'; readonly prUrl: unknown }
  | { readonly kind: 'markPrMerged' }
  | { readonly kind: 'markFailed'; readonly error: unknown; readonly options?: { value: unknown } }
  | { readonly kind: 'resetForRetry' }
  | { readonly kind: 'reopen'; readonly reason: unknown; readonly options?: { value: unknown } }
  | { readonly kind: 'markPending' }
  | { readonly kind: 'assignWorktree'; readonly value: unknown }
  | { readonly kind: 'assignWorkstream'; readonly value: unknown }
  | { readonly kind: 'recordAgentAddress'; readonly value: unknown }
  | { readonly kind: 'addConcern'; readonly concern: unknown };

type EventType = TaskEvent['type'];
const EVENT_OF: Readonly<Record<Cmd['kind'], EventType>> = {
  prepareForAttempt: 'PREPARE_ATTEMPT',
  prepareRelative: 'PREPARE_ATTEMPT',
  markRunning: 'START',
  markPrCreated: 'PR_CREATED',
  markPrMerged: 'PR_MERGED',
  markFailed: 'FAIL',
  resetForRetry: 'RETRY',
  reopen: 'REOPEN',
  markPending: 'MARK_PENDING',
  assignWorktree: 'ASSIGN_WORKTREE',
  assignWorkstream: 'ASSIGN_WORKSTREAM',
  recordAgentAddress: 'RECORD_AGENT_ADDRESS',
  addConcern: 'ADD_CONCERN',
};

/** The attempt number a prepare command asks for, given the runtime's current one. */
const requestedAttempt = (cmd: Cmd, currentAttempt: number): unknown =>
  cmd.kind === 'prepareRelative'
    ? currentAttempt + cmd.offset
    : cmd.kind === 'prepareForAttempt'
      ? cmd.n
      : undefined;

/** Calls the facade; the casts hand malformed values to it on purpose. */
function invoke(runtime: TaskRuntime, cmd: Cmd): void {
  switch (cmd.kind) {
    case 'prepareForAttempt':
    case 'prepareRelative':
      runtime.prepareForAttempt(requestedAttempt(cmd, runtime.state.attemptNum) as number);
      return;
    case 'markRunning':
      runtime.markRunning();
      return;
    case 'markPrCreated':
      runtime.markPrCreated(cmd.prUrl as string);
      return;
    case 'markPrMerged':
      runtime.markPrMerged();
      return;
    case 'markFailed':
      if (cmd.options === undefined) runtime.markFailed(cmd.error as string);
      else runtime.markFailed(cmd.error as string, cmd.options.value as FailOptions);
      return;
    case 'resetForRetry':
      runtime.resetForRetry();
      return;
    case 'reopen':
      if (cmd.options === undefined) runtime.reopen(cmd.reason as string);
      else runtime.reopen(cmd.reason as string, cmd.options.value as { attempts?: number });
      return;
    case 'markPending':
      runtime.markPending();
      return;
    case 'assignWorktree':
      runtime.assignWorktree(cmd.value as { worktreePath: string; branchName: string });
      return;
    case 'assignWorkstream':
      runtime.assignWorkstream(
        cmd.value as { integrationBranch: string; workstreamWorktreePath: string },
      );
      return;
    case 'recordAgentAddress':
      runtime.recordAgentAddress(cmd.value as TmuxAddress);
      return;
    case 'addConcern':
      runtime.addConcern(cmd.concern as string);
      return;
  }
}

/** The machine event a well-formed command stands for (for `runtime.can`). */
function machineEvent(cmd: Cmd, currentAttempt: number): TaskEvent {
  const text = (value: unknown): string => value as string;
  const field = (value: unknown, key: string): string =>
    text((value as Record<string, unknown>)[key]);
  switch (cmd.kind) {
    case 'prepareForAttempt':
    case 'prepareRelative':
      return {
        type: 'PREPARE_ATTEMPT',
        attemptNum: requestedAttempt(cmd, currentAttempt) as number,
      };
    case 'markPrCreated':
      return { type: 'PR_CREATED', prUrl: text(cmd.prUrl) };
    case 'markFailed': {
      const { retryable, workerLost } = (cmd.options?.value as FailOptions | undefined) ?? {};
      return {
        type: 'FAIL',
        error: text(cmd.error),
        ...(retryable === undefined ? {} : { retryable }),
        ...(workerLost === undefined ? {} : { workerLost }),
      };
    }
    case 'reopen':
      return { type: 'REOPEN', reason: text(cmd.reason), attempts: reopenAttempts(cmd) as number };
    case 'assignWorktree': {
      const signalDir = (cmd.value as { signalDir?: string }).signalDir;
      return {
        type: 'ASSIGN_WORKTREE',
        worktreePath: field(cmd.value, 'worktreePath'),
        branchName: field(cmd.value, 'branchName'),
        ...(signalDir === undefined ? {} : { signalDir }),
      };
    }
    case 'assignWorkstream':
      return {
        type: 'ASSIGN_WORKSTREAM',
        integrationBranch: field(cmd.value, 'integrationBranch'),
        workstreamWorktreePath: field(cmd.value, 'workstreamWorktreePath'),
      };
    case 'recordAgentAddress':
      return { type: 'RECORD_AGENT_ADDRESS', address: (cmd.value as TmuxAddress).toJSON() };
    case 'addConcern':
      return { type: 'ADD_CONCERN', concern: text(cmd.concern) };
    case 'markRunning':
    case 'markPrMerged':
    case 'resetForRetry':
    case 'markPending':
      return { type: EVENT_OF[cmd.kind] } as TaskEvent;
  }
}

/** The attempts a reopen command grants (its option, 1 by default); anything when malformed. */
const reopenAttempts = (cmd: Cmd): unknown =>
  cmd.kind !== 'reopen' || cmd.options === undefined || cmd.options.value === undefined
    ? 1
    : isRecordValue(cmd.options.value)
      ? (cmd.options.value.attempts ?? 1)
      : undefined;

// ---------------------------------------------------------------------------------------------------------------
// The reference model: the contract's status and attempt rules, written independently of src/.
// ---------------------------------------------------------------------------------------------------------------

interface ModelRecord {
  attemptNum: number;
  startedAt: string | null;
  endedAt: string | null;
  outcome: 'running' | 'pr_created' | 'pr_merged' | 'failed' | 'lost';
  error: string | null;
  retryable: boolean | null;
  prUrl: string | null;
  workerId: string | null;
}

interface Model {
  status: TaskStatus;
  readonly maxAttempts: number | null;
  readonly maxLostAttempts: number;
  /**
   * The first attempt number that may not be used, or null for no limit: maxAttempts at first, one further for each
   * lost attempt that does not count, and after a reopen the current attempt + 1 + the attempts it granted.
   */
  limit: number | null;
  attemptNum: number;
  error: string | null;
  retryable: boolean | null;
  prUrl: string | null;
  concerns: string[];
  worktreePath: string | null;
  branchName: string | null;
  signalDir: string | null;
  integrationBranch: string | null;
  workstreamWorktreePath: string | null;
  agentAddress: { kind: 'tmux'; session: string; paneId: string } | null;
  attempts: ModelRecord[];
}

const initialModel = (limits: Limits): Model => ({
  status: 'pending',
  maxAttempts: limits.maxAttempts ?? null,
  maxLostAttempts: limits.maxLostAttempts ?? 3,
  limit: limits.maxAttempts ?? null,
  attemptNum: 0,
  error: null,
  retryable: null,
  prUrl: null,
  concerns: [],
  worktreePath: null,
  branchName: null,
  signalDir: null,
  integrationBranch: null,
  workstreamWorktreePath: null,
  agentAddress: null,
  attempts: [],
});

/** Whether the facade must take the arguments (otherwise InvalidArgumentError, in every status). */
function wellFormed(cmd: Cmd, currentAttempt: number): boolean {
  switch (cmd.kind) {
    case 'prepareForAttempt':
    case 'prepareRelative':
      return isAttemptNumber(requestedAttempt(cmd, currentAttempt));
    case 'markPrCreated':
      return isText(cmd.prUrl);
    case 'markFailed': {
      const options = cmd.options?.value;
      const isFlag = (value: unknown) => value === undefined || typeof value === 'boolean';
      return (
        isText(cmd.error) &&
        (options === undefined ||
          (isRecordValue(options) &&
            isFlag(options.retryable) &&
            isFlag(options.workerLost) &&
            // a lost attempt is always retryable
            !(options.workerLost === true && options.retryable === false)))
      );
    }
    case 'reopen': {
      const attempts = reopenAttempts(cmd);
      return (
        isText(cmd.reason) &&
        typeof attempts === 'number' &&
        Number.isSafeInteger(attempts) &&
        attempts > 0 &&
        // attempt numbers stay safe integers
        Number.isSafeInteger(currentAttempt + 1 + attempts)
      );
    }
    case 'assignWorktree':
      return (
        isRecordValue(cmd.value) &&
        isText(cmd.value.worktreePath) &&
        isText(cmd.value.branchName) &&
        (cmd.value.signalDir === undefined || isText(cmd.value.signalDir))
      );
    case 'assignWorkstream':
      return (
        isRecordValue(cmd.value) &&
        isText(cmd.value.integrationBranch) &&
        isText(cmd.value.workstreamWorktreePath)
      );
    case 'recordAgentAddress':
      return (
        cmd.value instanceof TmuxAddress && isText(cmd.value.session) && isText(cmd.value.paneId)
      );
    case 'addConcern':
      return isText(cmd.concern);
    case 'markRunning':
    case 'markPrMerged':
    case 'resetForRetry':
    case 'markPending':
      return true;
  }
}

const isUsed = (m: Model, attemptNum: number): boolean =>
  m.attempts.some((record) => record.attemptNum === attemptNum);
const retryAllowed = (m: Model): boolean =>
  m.retryable !== false && (m.limit === null || m.attemptNum + 1 < m.limit);
const canPrepare = (m: Model, n: number): boolean =>
  n >= m.attemptNum && !isUsed(m, n) && (m.limit === null || n < m.limit);

type Verdict = { readonly accepted: true } | { readonly accepted: false; readonly reason: string };
const ok: Verdict = { accepted: true };
const refused = (reason: string): Verdict => ({ accepted: false, reason });
const when = (legal: boolean, reason: string): Verdict => (legal ? ok : refused(reason));

/** The contract's "refused when" column, for a well-formed command. */
function verdict(m: Model, type: EventType, attemptNum: number): Verdict {
  const s = m.status;
  switch (type) {
    case 'PREPARE_ATTEMPT':
      return s !== 'pending'
        ? refused('illegalInStatus')
        : when(canPrepare(m, attemptNum), 'isAttemptAvailable');
    case 'START':
      return s !== 'pending'
        ? refused('illegalInStatus')
        : when(!isUsed(m, m.attemptNum), 'isCurrentAttemptUnused');
    case 'PR_CREATED':
      return when(s === 'running', 'illegalInStatus');
    case 'PR_MERGED':
      return when(s === 'pr_created', 'illegalInStatus');
    case 'FAIL':
      return when(s === 'pending' || s === 'running' || s === 'pr_created', 'illegalInStatus');
    case 'RETRY':
      return s !== 'failed' ? refused('illegalInStatus') : when(retryAllowed(m), 'isRetryAllowed');
    case 'REOPEN':
      return s !== 'failed' ? refused('illegalInStatus') : when(!retryAllowed(m), 'isFailureFinal');
    case 'MARK_PENDING':
      if (s === 'pending') return ok;
      return s !== 'failed' ? refused('illegalInStatus') : when(retryAllowed(m), 'isRetryAllowed');
    case 'ASSIGN_WORKTREE':
    case 'ASSIGN_WORKSTREAM':
    case 'RECORD_AGENT_ADDRESS':
      return when(s === 'pending' || s === 'running', 'illegalInStatus');
    case 'ADD_CONCERN':
      return ok;
  }
}

const ALL_EVENT_TYPES: readonly EventType[] = [...new Set(Object.values(EVENT_OF))];

/** Event types legal now: PREPARE_ATTEMPT when some attempt number (a safe integer) can be prepared. */
function allowed(m: Model): EventType[] {
  let next = m.attemptNum;
  while (isUsed(m, next)) next += 1;
  return ALL_EVENT_TYPES.filter((type) =>
    type === 'PREPARE_ATTEMPT'
      ? Number.isSafeInteger(next) && verdict(m, type, next).accepted
      : verdict(m, type, 0).accepted,
  ).sort();
}

/** What an accepted command does, per the contract. */
function apply(m: Model, cmd: Cmd, at: string): void {
  const last = m.attempts[m.attempts.length - 1];
  switch (cmd.kind) {
    case 'prepareForAttempt':
    case 'prepareRelative':
      m.attemptNum = requestedAttempt(cmd, m.attemptNum) as number;
      m.error = null;
      m.retryable = null;
      return;
    case 'markRunning':
      m.status = 'running';
      m.attempts.push({
        attemptNum: m.attemptNum,
        startedAt: at,
        endedAt: null,
        outcome: 'running',
        error: null,
        retryable: null,
        prUrl: null,
        workerId: null,
      });
      return;
    case 'markPrCreated':
      m.status = 'pr_created';
      m.prUrl = cmd.prUrl as string;
      if (last) Object.assign(last, { outcome: 'pr_created', prUrl: m.prUrl });
      return;
    case 'markPrMerged':
      m.status = 'pr_merged';
      if (last) Object.assign(last, { outcome: 'pr_merged', endedAt: at });
      return;
    case 'markFailed': {
      const error = cmd.error as string;
      const options = (cmd.options?.value as FailOptions | undefined) ?? {};
      const lost = options.workerLost === true;
      const retryable = lost || (options.retryable ?? true);
      const failure = { outcome: lost ? 'lost' : 'failed', endedAt: at, error, retryable } as const;
      const lostBefore = m.attempts.filter((record) => record.outcome === 'lost').length;
      const ran = m.status !== 'pending';
      if (ran && last) Object.assign(last, failure);
      else if (!isUsed(m, m.attemptNum)) {
        m.attempts.push({
          attemptNum: m.attemptNum,
          startedAt: null,
          prUrl: null,
          workerId: null,
          ...failure,
        });
      }
      // a lost attempt that ran does not count, up to maxLostAttempts of them
      if (lost && ran && lostBefore < m.maxLostAttempts && m.limit !== null) m.limit += 1;
      Object.assign(m, { status: 'failed', error, retryable });
      return;
    }
    case 'resetForRetry':
      m.concerns.push(`attempt_${m.attemptNum}_error: ${m.error}`);
      Object.assign(m, { status: 'pending', error: null, retryable: null });
      return;
    case 'reopen':
      m.concerns.push(`reopened: ${cmd.reason as string} (last error: ${m.error})`);
      // exactly `attempts` counted attempts from now on
      if (m.limit !== null) m.limit = m.attemptNum + 1 + (reopenAttempts(cmd) as number);
      Object.assign(m, { status: 'pending', error: null, retryable: null });
      return;
    case 'markPending':
      m.status = 'pending';
      return;
    case 'assignWorktree': {
      const value = cmd.value as { worktreePath: string; branchName: string; signalDir?: string };
      m.worktreePath = value.worktreePath;
      m.branchName = value.branchName;
      m.signalDir = value.signalDir ?? null;
      return;
    }
    case 'assignWorkstream': {
      const value = cmd.value as { integrationBranch: string; workstreamWorktreePath: string };
      m.integrationBranch = value.integrationBranch;
      m.workstreamWorktreePath = value.workstreamWorktreePath;
      return;
    }
    case 'recordAgentAddress': {
      const { session, paneId } = cmd.value as TmuxAddress;
      m.agentAddress = { kind: 'tmux', session, paneId };
      return;
    }
    case 'addConcern':
      m.concerns.push(cmd.concern as string);
      return;
  }
}

/** The facade's read-only views, in the model's words. */
const modelViews = (m: Model): unknown =>
  plain({
    state: {
      status: m.status,
      worktreePath: m.worktreePath,
      branchName: m.branchName,
      signalDir: m.signalDir,
      error: m.error,
      attemptNum: m.attemptNum,
      integrationBranch: m.integrationBranch,
      workstreamWorktreePath: m.workstreamWorktreePath,
    },
    artifacts: { prUrl: m.prUrl, concerns: m.concerns, agentAddress: m.agentAddress },
    attempts: m.attempts,
    isTerminal: m.status === 'pr_merged' || m.status === 'failed',
  });
const runtimeViews = (runtime: TaskRuntime): unknown =>
  plain({
    state: runtime.state,
    artifacts: runtime.artifacts,
    attempts: runtime.attempts,
    isTerminal: runtime.isTerminal,
  });

// ---------------------------------------------------------------------------------------------------------------
// Running a command on the real runtime.
// ---------------------------------------------------------------------------------------------------------------

type Outcome =
  | { readonly result: 'accepted'; readonly after: string }
  | {
      readonly result: 'IllegalTransitionError';
      readonly status: string;
      readonly event: string;
      readonly reason: string;
      readonly allowed: readonly string[];
      readonly after: string;
    }
  | { readonly result: 'InvalidArgumentError'; readonly argument: string; readonly after: string }
  | { readonly result: 'unexpected error'; readonly error: string };

function attempt(runtime: TaskRuntime, cmd: Cmd): Outcome {
  try {
    invoke(runtime, cmd);
    return { result: 'accepted', after: JSON.stringify(runtime.persist()) };
  } catch (error) {
    if (error instanceof IllegalTransitionError) {
      return {
        result: 'IllegalTransitionError',
        status: error.status,
        event: error.event,
        reason: error.reason,
        allowed: [...error.allowed].sort(),
        after: JSON.stringify(runtime.persist()),
      };
    }
    if (error instanceof InvalidArgumentError) {
      return {
        result: 'InvalidArgumentError',
        argument: error.argument,
        after: JSON.stringify(runtime.persist()),
      };
    }
    return { result: 'unexpected error', error: String(error) };
  }
}

/** The contract's invariants between two consecutive views of one runtime. */
function checkInvariants(
  runtime: TaskRuntime,
  previous: { attemptNum: number; concerns: readonly string[] },
): void {
  const { status, error, attemptNum } = runtime.state;
  const { prUrl, concerns } = runtime.artifacts;
  expect({
    failedHasError: status !== 'failed' || isText(error),
    prStatusHasPrUrl: (status !== 'pr_created' && status !== 'pr_merged') || isText(prUrl),
    attemptNumNeverDecreases: attemptNum >= previous.attemptNum,
    concernsOnlyGrow: previous.concerns.every((concern, i) => concerns[i] === concern),
  }).toEqual({
    failedHasError: true,
    prStatusHasPrUrl: true,
    attemptNumNeverDecreases: true,
    concernsOnlyGrow: true,
  });
}

/** Tries to change the runtime through its views; none of it may reach the runtime. */
function tamperWithViews(runtime: TaskRuntime): void {
  const tries: (() => void)[] = [
    () => (runtime.artifacts.concerns as string[]).push('injected'),
    () => Object.assign(runtime.state, { status: 'pr_merged', attemptNum: -1 }),
    () => Object.assign(runtime.artifacts, { prUrl: 'injected' }),
    () => (runtime.attempts as unknown[]).push({ attemptNum: 99 }),
    () => Object.assign(runtime.attempts[0] ?? {}, { outcome: 'pr_merged' }),
    () => Object.assign(runtime.persist().context, { attemptNum: 1234 }),
  ];
  for (const attemptToTamper of tries) {
    try {
      attemptToTamper();
    } catch {
      // frozen: refused, as it should be
    }
  }
}

interface Real {
  runtime: TaskRuntime;
  readonly clock: FakeClock;
}

/** The first attempt number at or after the current one that the ledger has not used. */
function nextUnused(runtime: TaskRuntime): number {
  const used = new Set(runtime.attempts.map((record) => record.attemptNum));
  let next = runtime.state.attemptNum;
  while (used.has(next)) next += 1;
  return next;
}

const restoreFrom = (json: string, clock: FakeClock): TaskRuntime =>
  TaskRuntime.restore(JSON.parse(json), { clock: clock.now });

class RuntimeCommand implements fc.Command<Model, Real> {
  constructor(readonly cmd: Cmd) {}

  check(): boolean {
    return true; // refused and malformed commands are part of the test
  }

  run(model: Model, real: Real): void {
    const { runtime, clock } = real;
    const before = JSON.stringify(runtime.persist());
    const previous = {
      attemptNum: runtime.state.attemptNum,
      concerns: [...runtime.artifacts.concerns],
    };

    // restore at every step: same snapshot, and the next command is treated the same way
    const twin = restoreFrom(before, clock);
    expect(JSON.stringify(twin.persist())).toBe(before);

    const formed = wellFormed(this.cmd, model.attemptNum);
    const type = EVENT_OF[this.cmd.kind];
    const n = requestedAttempt(this.cmd, model.attemptNum) as number;
    const expectedVerdict = formed ? verdict(model, type, n) : null;
    if (formed) {
      expect({ can: runtime.can(machineEvent(this.cmd, runtime.state.attemptNum)) }).toEqual({
        can: expectedVerdict?.accepted,
      });
    }

    const outcome = attempt(runtime, this.cmd);
    expect(attempt(twin, this.cmd)).toEqual(outcome);

    if (expectedVerdict === null) {
      expect(outcome).toEqual({
        result: 'InvalidArgumentError',
        argument: expect.any(String),
        after: before,
      });
    } else if (!expectedVerdict.accepted) {
      expect(outcome).toEqual({
        result: 'IllegalTransitionError',
        status: model.status,
        event: type,
        reason: expectedVerdict.reason,
        allowed: allowed(model),
        after: before,
      });
    } else {
      expect(outcome.result).toBe('accepted');
      apply(model, this.cmd, clock.iso);
    }
    expect(runtimeViews(runtime)).toEqual(modelViews(model));
    checkInvariants(runtime, previous);
    tamperWithViews(runtime);
    expect(runtimeViews(runtime)).toEqual(modelViews(model));
    clock.tick(61_000);
  }

  toString(): string {
    const show = (value: unknown): string => fc.stringify(value);
    const { kind, ...args } = this.cmd;
    return `${kind}(${Object.values(args).map(show).join(', ')})`;
  }
}

/** Swaps the runtime for one restored from its JSON snapshot; the lifecycle carries on there. */
class RestoreCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }

  run(model: Model, real: Real): void {
    const json = JSON.stringify(real.runtime.persist());
    real.runtime = restoreFrom(json, real.clock);
    expect(JSON.stringify(real.runtime.persist())).toBe(json);
    expect(runtimeViews(real.runtime)).toEqual(modelViews(model));
  }

  toString(): string {
    return 'restore(persist())';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries.
// ---------------------------------------------------------------------------------------------------------------

const malformedScalar = fc.oneof(
  fc.constantFrom<unknown>('', null, undefined, 0, -1, 42, Number.NaN, true, false, [], ['x'], {}),
  fc.anything({ maxDepth: 1 }),
);
const validText = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.constantFrom(
    'https://github.com/org/repo/pull/7',
    '/wt/login',
    'task/login',
    '%3',
    'ünïcødé ✓',
  ),
);
const text = fc.oneof(
  { arbitrary: validText, weight: 5 },
  { arbitrary: malformedScalar, weight: 1 },
);

const attemptNumber = fc.oneof(
  { arbitrary: fc.nat({ max: 5 }), weight: 8 },
  {
    arbitrary: fc.constantFrom<unknown>(
      -1,
      -0,
      0.5,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 1,
      1e21,
      '1',
      null,
      undefined,
      {},
      [1],
    ),
    weight: 2,
  },
  { arbitrary: fc.double(), weight: 1 },
);

const failOptions = fc.option(
  fc.record({
    value: fc.oneof(
      {
        arbitrary: fc.constantFrom<unknown>(
          undefined,
          {},
          { retryable: true },
          { retryable: false },
          { workerLost: true },
          { workerLost: true, retryable: true },
          { workerLost: false, retryable: false },
        ),
        weight: 7,
      },
      {
        arbitrary: fc.constantFrom<unknown>(
          null,
          [],
          'no',
          1,
          { retryable: 'no' },
          { retryable: null },
          { retryable: 0 },
          { retryable: undefined, extra: true },
          { workerLost: 'yes' },
          { workerLost: null },
          { workerLost: true, retryable: false },
        ),
        weight: 1,
      },
    ),
  }),
  { nil: undefined, freq: 2 },
);

const reopenOptions = fc.option(
  fc.record({
    value: fc.oneof(
      {
        arbitrary: fc.oneof(
          fc.constantFrom<unknown>(undefined, {}),
          fc.integer({ min: 1, max: 3 }).map((attempts): unknown => ({ attempts })),
        ),
        weight: 6,
      },
      {
        arbitrary: fc.constantFrom<unknown>(
          null,
          'twice',
          2,
          { attempts: 0 },
          { attempts: -1 },
          { attempts: 1.5 },
          { attempts: '2' },
          { attempts: Number.NaN },
          { attempts: Number.MAX_SAFE_INTEGER },
          { attempts: Number.MAX_SAFE_INTEGER + 1 },
        ),
        weight: 1,
      },
    ),
  }),
  { nil: undefined, freq: 2 },
);

const malformedContainer = fc.constantFrom<unknown>(
  null,
  undefined,
  'a string',
  7,
  [],
  new Date(0),
);
const worktree = fc.oneof(
  {
    arbitrary: fc.record(
      { worktreePath: text, branchName: text, signalDir: fc.oneof(text, fc.constant(undefined)) },
      { requiredKeys: ['worktreePath', 'branchName'] },
    ),
    weight: 6,
  },
  { arbitrary: malformedContainer, weight: 1 },
);
const workstream = fc.oneof(
  { arbitrary: fc.record({ integrationBranch: text, workstreamWorktreePath: text }), weight: 6 },
  { arbitrary: malformedContainer, weight: 1 },
);
const address = fc.oneof(
  {
    arbitrary: fc
      .tuple(validText, validText)
      .map(([session, paneId]) => new TmuxAddress(session, paneId)),
    weight: 6,
  },
  {
    arbitrary: fc.oneof(
      fc.record({ kind: fc.constant('tmux'), session: validText, paneId: validText }),
      fc.constant<unknown>(Object.create(TmuxAddress.prototype)),
      malformedContainer,
      fc.constant<unknown>({}),
    ),
    weight: 1,
  },
);

/** One arbitrary per facade command (two for markRunning, so that sequences get going). */
const cmdArbitraries: fc.Arbitrary<Cmd>[] = [
  attemptNumber.map((n): Cmd => ({ kind: 'prepareForAttempt', n })),
  fc.integer({ min: -1, max: 2 }).map((offset): Cmd => ({ kind: 'prepareRelative', offset })),
  fc.constant<Cmd>({ kind: 'markRunning' }),
  fc.constant<Cmd>({ kind: 'markRunning' }),
  text.map((prUrl): Cmd => ({ kind: 'markPrCreated', prUrl })),
  fc.constant<Cmd>({ kind: 'markPrMerged' }),
  fc
    .tuple(text, failOptions)
    .map(
      ([error, options]): Cmd =>
        options === undefined
          ? { kind: 'markFailed', error }
          : { kind: 'markFailed', error, options },
    ),
  // a lost attempt on its own, so that sequences lose running attempts often enough to pass maxAttempts
  fc.constant<Cmd>({
    kind: 'markFailed',
    error: 'worker lost',
    options: { value: { workerLost: true } },
  }),
  fc.constant<Cmd>({ kind: 'resetForRetry' }),
  fc
    .tuple(text, reopenOptions)
    .map(
      ([reason, options]): Cmd =>
        options === undefined ? { kind: 'reopen', reason } : { kind: 'reopen', reason, options },
    ),
  fc.constant<Cmd>({ kind: 'markPending' }),
  worktree.map((value): Cmd => ({ kind: 'assignWorktree', value })),
  workstream.map((value): Cmd => ({ kind: 'assignWorkstream', value })),
  address.map((value): Cmd => ({ kind: 'recordAgentAddress', value })),
  text.map((concern): Cmd => ({ kind: 'addConcern', concern })),
];

const MAX_COMMANDS = 40;
const commands = fc.commands<Model, Real>(
  [
    ...cmdArbitraries.map((cmd) => cmd.map((c): fc.Command<Model, Real> => new RuntimeCommand(c))),
    fc.constant(new RestoreCommand()),
  ],
  { maxCommands: MAX_COMMANDS },
);
/** The same commands as plain data, for properties that need no model. */
const cmdSequence = fc.array(fc.oneof(...cmdArbitraries), { maxLength: MAX_COMMANDS });

const maxAttemptsOption = fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined });

/** The limits a runtime is made with; absent for the defaults (no maxAttempts, 3 lost attempts forgiven). */
interface Limits {
  readonly maxAttempts?: number | undefined;
  readonly maxLostAttempts?: number | undefined;
}
const limitsArb: fc.Arbitrary<Limits> = fc.record({
  maxAttempts: maxAttemptsOption,
  maxLostAttempts: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
});

const newRuntime = (limits: Limits, clock: FakeClock): TaskRuntime =>
  new TaskRuntime(task, {
    clock: clock.now,
    ...(limits.maxAttempts === undefined ? {} : { maxAttempts: limits.maxAttempts }),
    ...(limits.maxLostAttempts === undefined ? {} : { maxLostAttempts: limits.maxLostAttempts }),
  });

/** Runs `cmds` on the reference model and on a new runtime with a fake clock, comparing after each. */
function runAgainstModel(limits: Limits, cmds: Iterable<fc.Command<Model, Real>>): void {
  const clock = new FakeClock();
  fc.modelRun(
    () => ({
      model: initialModel(limits),
      real: { runtime: newRuntime(limits, clock), clock },
    }),
    cmds,
  );
}

/** Sequences too rare for random search, run on their own through the same model (no attempt limit unless given). */
const EXAMPLES: {
  readonly name: string;
  readonly limits?: Limits;
  readonly cmds: readonly fc.Command<Model, Real>[];
}[] = [
  {
    name: 'a task blocked in pending fails, then its snapshot is restored',
    cmds: [
      new RuntimeCommand({ kind: 'markFailed', error: 'blocked by spec-login' }),
      new RestoreCommand(),
    ],
  },
  {
    name: 'the last safe attempt number is used up, so no attempt can be prepared any more',
    cmds: [
      new RuntimeCommand({ kind: 'prepareForAttempt', n: Number.MAX_SAFE_INTEGER }),
      new RuntimeCommand({ kind: 'markRunning' }),
      new RuntimeCommand({ kind: 'markFailed', error: 'tests failed' }),
      new RuntimeCommand({ kind: 'resetForRetry' }),
      new RuntimeCommand({ kind: 'markPrMerged' }),
    ],
  },
  {
    name: 'a reopen would take attempt numbers beyond the safe integers, and one attempt fewer would not',
    cmds: [
      new RuntimeCommand({ kind: 'prepareForAttempt', n: Number.MAX_SAFE_INTEGER - 2 }),
      new RuntimeCommand({ kind: 'markRunning' }),
      new RuntimeCommand({
        kind: 'markFailed',
        error: 'fatal',
        options: { value: { retryable: false } },
      }),
      new RuntimeCommand({ kind: 'reopen', reason: 'fixed', options: { value: { attempts: 2 } } }),
      new RuntimeCommand({ kind: 'reopen', reason: 'fixed', options: { value: { attempts: 1 } } }),
      new RuntimeCommand({ kind: 'prepareRelative', offset: 1 }),
      new RuntimeCommand({ kind: 'markRunning' }),
      new RestoreCommand(),
    ],
  },
  {
    name: 'a task loses its worker on every attempt, is reopened, and loses it once more',
    limits: { maxAttempts: 1, maxLostAttempts: 2 },
    cmds: [0, 1, 2, 3].flatMap((n) => [
      ...(n === 0 ? [] : [new RuntimeCommand({ kind: 'prepareRelative', offset: 1 })]),
      new RuntimeCommand({ kind: 'markRunning' }),
      new RuntimeCommand({
        kind: 'markFailed',
        error: `worker lost in attempt ${n}`,
        options: { value: { workerLost: true } },
      }),
      new RestoreCommand(),
      // attempts 0 and 1 are forgiven, 2 counts and ends the task; the reopen grants one more, which counts
      new RuntimeCommand({ kind: 'resetForRetry' }),
      ...(n === 2 ? [new RuntimeCommand({ kind: 'reopen', reason: 'new workers' })] : []),
    ]),
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------------------------

describe('TaskRuntime (properties)', () => {
  it('should behave like the reference model after every command, keeping the invariants and restoring identically', () => {
    fc.assert(
      fc.property(limitsArb, commands, (limits, cmds) => {
        runAgainstModel(limits, cmds);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it.each(EXAMPLES)('should behave like the reference model when $name', ({ limits, cmds }) => {
    runAgainstModel(limits ?? {}, cmds);
  });

  it('should reach every status in the generated sequences (the generators are not stuck)', () => {
    const seen = new Set<TaskStatus | 'lost' | 'reopened' | 'beyond maxAttempts'>();
    fc.assert(
      fc.property(limitsArb, cmdSequence, (limits, cmds) => {
        const runtime = newRuntime(limits, new FakeClock());
        for (const cmd of cmds) {
          const accepted = attempt(runtime, cmd).result === 'accepted';
          seen.add(runtime.status);
          const last = runtime.attempts[runtime.attempts.length - 1];
          if (accepted && cmd.kind === 'reopen') seen.add('reopened');
          if (last?.outcome === 'lost') seen.add('lost');
          const limit = runtime.persist().context.maxAttempts;
          if (limit !== null && runtime.state.attemptNum >= limit) seen.add('beyond maxAttempts');
        }
      }),
      { numRuns: 5000, seed: 42 },
    );
    expect([...seen].sort()).toEqual([
      'beyond maxAttempts',
      'failed',
      'lost',
      'pending',
      'pr_created',
      'pr_merged',
      'reopened',
      'running',
    ]);
  });

  it('should refuse a malformed maxAttempts with InvalidArgumentError and accept a positive integer', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -3, max: 5 }), fc.double(), malformedScalar),
        (maxAttempts) => {
          const clock = new FakeClock();
          let result: string;
          try {
            new TaskRuntime(task, { clock: clock.now, maxAttempts: maxAttempts as number });
            result = 'accepted';
          } catch (error) {
            result = error instanceof InvalidArgumentError ? 'InvalidArgumentError' : String(error);
          }
          const valid =
            maxAttempts === undefined ||
            (Number.isSafeInteger(maxAttempts) && (maxAttempts as number) > 0);
          expect(result).toBe(valid ? 'accepted' : 'InvalidArgumentError');
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('should restore with an explicit maxAttempts only into a runtime whose own snapshot restores again', () => {
    fc.assert(
      fc.property(
        maxAttemptsOption,
        cmdSequence,
        fc.oneof(
          fc.integer({ min: 1, max: 5 }),
          fc.constantFrom<unknown>(0, -1, 1.5, Number.NaN, '2', null),
        ),
        (maxAttempts, cmds, newLimit) => {
          const clock = new FakeClock();
          const runtime = newRuntime({ maxAttempts }, clock);
          for (const cmd of cmds) attempt(runtime, cmd);
          const json = JSON.stringify(runtime.persist());
          let restored: TaskRuntime;
          try {
            restored = TaskRuntime.restore(JSON.parse(json), {
              clock: clock.now,
              maxAttempts: newLimit as number,
            });
          } catch (error) {
            // refusing the limit is fine: malformed (InvalidArgumentError) or breaking the snapshot (SnapshotError)
            expect(error instanceof InvalidArgumentError || error instanceof SnapshotError).toBe(
              true,
            );
            return;
          }
          expect(restored.persist().context.maxAttempts).toBe(newLimit);
          const again = JSON.stringify(restored.persist());
          let restoredAgain: string;
          try {
            restoredAgain = JSON.stringify(restoreFrom(again, clock).persist());
          } catch (error) {
            restoredAgain = String(error);
          }
          expect(restoredAgain).toBe(again);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('should end a task that loses its worker on every attempt after exactly maxAttempts + maxLostAttempts attempts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.boolean(),
        (maxAttempts, maxLostAttempts, restoreEachTime) => {
          const clock = new FakeClock();
          let runtime = newRuntime({ maxAttempts, maxLostAttempts }, clock);
          for (let n = 0; n < 20; n += 1) {
            if (n > 0) {
              runtime.resetForRetry();
              runtime.prepareForAttempt(n);
            }
            runtime.markRunning();
            runtime.markFailed(`worker lost in attempt ${n}`, { workerLost: true });
            if (restoreEachTime) runtime = restoreFrom(JSON.stringify(runtime.persist()), clock);
            if (!runtime.can({ type: 'RETRY' })) break;
          }
          expect({
            status: runtime.status,
            outcomes: runtime.attempts.map((record) => record.outcome),
            attemptNums: runtime.attempts.map((record) => record.attemptNum),
            retry: runtime.can({ type: 'RETRY' }),
            reopen: runtime.can({ type: 'REOPEN', reason: 'r', attempts: 1 }),
          }).toEqual({
            status: 'failed',
            outcomes: Array(maxAttempts + maxLostAttempts).fill('lost'),
            attemptNums: [...Array(maxAttempts + maxLostAttempts).keys()],
            retry: false,
            reopen: true,
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('should allow exactly the granted attempts after a reopen, whatever the task used before', () => {
    fc.assert(
      fc.property(
        limitsArb.filter((limits) => limits.maxAttempts !== undefined),
        cmdSequence,
        fc.integer({ min: 1, max: 4 }),
        (limits, cmds, granted) => {
          const clock = new FakeClock();
          const runtime = newRuntime(limits, clock);
          for (const cmd of cmds) attempt(runtime, cmd);
          fc.pre(runtime.status !== 'pr_merged');
          if (runtime.status !== 'failed') runtime.markFailed('given up', { retryable: false });
          if (runtime.can({ type: 'RETRY' })) runtime.markPending();
          if (runtime.status === 'pending') runtime.markFailed('given up', { retryable: false });
          const startedBefore = runtime.attempts.filter((r) => r.startedAt !== null).length;
          runtime.reopen('a second chance', { attempts: granted });
          let started = 0;
          while (started <= granted) {
            const next = nextUnused(runtime);
            if (!runtime.can({ type: 'PREPARE_ATTEMPT', attemptNum: next })) break;
            runtime.prepareForAttempt(next);
            runtime.markRunning();
            started += 1;
            runtime.markFailed(`attempt ${next} failed`);
            if (!runtime.can({ type: 'RETRY' })) break;
            runtime.resetForRetry();
          }
          expect({
            started,
            startedInAll: runtime.attempts.filter((r) => r.startedAt !== null).length,
          }).toEqual({ started: granted, startedInAll: startedBefore + granted });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('should refuse a malformed maxLostAttempts with InvalidArgumentError and accept a non-negative integer', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -3, max: 5 }), fc.double(), malformedScalar),
        (maxLostAttempts) => {
          const clock = new FakeClock();
          const outcome = (make: () => unknown): string => {
            try {
              make();
              return 'accepted';
            } catch (error) {
              return error instanceof InvalidArgumentError
                ? `InvalidArgumentError ${error.argument}`
                : String(error);
            }
          };
          const options = { clock: clock.now, maxLostAttempts: maxLostAttempts as number };
          const valid =
            maxLostAttempts === undefined ||
            (Number.isSafeInteger(maxLostAttempts) && (maxLostAttempts as number) >= 0);
          const expected = valid ? 'accepted' : 'InvalidArgumentError maxLostAttempts';
          const snapshot = plain(newRuntime({}, clock).persist());
          expect({
            constructor: outcome(() => new TaskRuntime(task, options)),
            restore: outcome(() => TaskRuntime.restore(snapshot, options)),
          }).toEqual({ constructor: expected, restore: expected });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('should keep maxLostAttempts through persist and restore, unless restore is given another', () => {
    fc.assert(
      fc.property(
        limitsArb,
        cmdSequence,
        fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
        (limits, cmds, newMaxLost) => {
          const clock = new FakeClock();
          const runtime = newRuntime(limits, clock);
          for (const cmd of cmds) attempt(runtime, cmd);
          const json = JSON.stringify(runtime.persist());
          const restored = TaskRuntime.restore(JSON.parse(json), {
            clock: clock.now,
            ...(newMaxLost === undefined ? {} : { maxLostAttempts: newMaxLost }),
          });
          const { maxLostAttempts, extraAttempts } = restored.persist().context;
          expect({ maxLostAttempts, extraAttempts }).toEqual({
            maxLostAttempts: newMaxLost ?? limits.maxLostAttempts ?? 3,
            extraAttempts: runtime.persist().context.extraAttempts,
          });
          const again = JSON.stringify(restored.persist());
          expect(JSON.stringify(restoreFrom(again, clock).persist())).toBe(again);
          if (newMaxLost === undefined) expect(again).toBe(json);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
