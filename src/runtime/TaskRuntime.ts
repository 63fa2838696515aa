import { type ActorOptions, createActor, type Snapshot } from 'xstate';
import { AgentAddress } from '../agent/AgentAddress.js';
import { IllegalTransitionError, InvalidArgumentError } from '../errors.js';
import { explainRefusal, isAccepted } from '../machines/refusal.js';
import { isTerminalStatus, type TaskStatus } from '../machines/status.js';
import {
  type AttemptRecord,
  type TaskActor,
  type TaskEvent,
  type TaskEventType,
  type TaskMachineInput,
  taskMachine,
} from '../machines/taskMachine.js';
import { createTask, type Task, type TaskInput } from '../task/createTask.js';
import { describeValue, isAttemptNumber, isPositiveInteger, isRecord } from '../validation.js';
import { checkEvent, checkReopenArguments } from './checkEvent.js';
import { addListener, notifyListeners, type TaskListener } from './records.js';
import {
  type PersistedTaskRuntime,
  readPersistedTaskRuntime,
  SNAPSHOT_SCHEMA_VERSION,
} from './snapshot.js';

/** Options of {@link TaskRuntime} and {@link TaskRuntime.restore}. */
export interface TaskRuntimeOptions {
  /** Attempts allowed, numbered 0 to maxAttempts - 1; a positive integer. @default undefined (no limit, as in agentrelay) */
  readonly maxAttempts?: number;
  /**
   * Lost attempts (`markFailed(…, { workerLost: true })`) per task that do not count against maxAttempts; beyond
   * them a lost attempt counts like any failure. A non-negative integer. @default 3
   */
  readonly maxLostAttempts?: number;
  /** Source of the attempt ledger's times. @default () => new Date() */
  readonly clock?: () => Date;
  /** Passed to `createActor` as its `inspect` option: the Stately inspector or your own observer. */
  readonly inspect?: ActorOptions<typeof taskMachine>['inspect'];
}

/** The operational state of a task; absent values are `null`. */
export interface TaskStateView {
  readonly status: TaskStatus;
  readonly worktreePath: string | null;
  readonly branchName: string | null;
  readonly signalDir: string | null;
  readonly error: string | null;
  readonly attemptNum: number;
  readonly integrationBranch: string | null;
  readonly workstreamWorktreePath: string | null;
}

/** What the task's agent produced and noticed. */
export interface TaskArtifactsView {
  readonly prUrl: string | null;
  readonly concerns: readonly string[];
  readonly agentAddress: AgentAddress | null;
}

/** Options of {@link TaskRuntime.markFailed}. */
export interface FailOptions {
  /** Whether the failure may be retried. @default true */
  readonly retryable?: boolean;
  /** The attempt ended because its worker died: a lost attempt, not counted up to maxLostAttempts. @default false */
  readonly workerLost?: boolean;
}

/** Options of {@link TaskRuntime.markRunning}. */
export interface StartOptions {
  /** The worker running the attempt, kept in its ledger record (a shared run names its own). */
  readonly workerId?: string;
}

/** Options of {@link TaskRuntime.reopen}. */
export interface ReopenOptions {
  /** Counted attempts allowed from now on, a positive integer. @default 1 */
  readonly attempts?: number;
}

/** Where the agent of a task works; `signalDir` is null when omitted. */
export interface WorktreeAssignment {
  readonly worktreePath: string;
  readonly branchName: string;
  readonly signalDir?: string;
}

/** The workstream a task integrates into. */
export interface WorkstreamAssignment {
  readonly integrationBranch: string;
  readonly workstreamWorktreePath: string;
}

interface Views {
  readonly snapshot: ReturnType<TaskActor['getSnapshot']>;
  readonly state: TaskStateView;
  readonly artifacts: TaskArtifactsView;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/**
 * A command's event as the facade builds it: a fresh object that `#send` stamps with `at` once it is valid.
 * Setting `at` on it keeps the key order of `{ ...event, at }` without the spread, whose result V8 handles slowly.
 */
type DraftEvent = Mutable<TaskEvent>;

/** The default clock, shared by every runtime (no closure per instance). */
const systemClock = (): Date => new Date();

/** The events whose time goes into the attempt ledger; other events are stamped only when someone listens. */
const LEDGER_EVENTS: ReadonlySet<TaskEventType> = new Set(['START', 'PR_MERGED', 'FAIL']);

const restoring = Symbol('restoring');
type InternalOptions = TaskRuntimeOptions & { readonly [restoring]?: PersistedTaskRuntime };

function readOptions(options: unknown): TaskRuntimeOptions {
  if (!isRecord(options))
    throw new InvalidArgumentError('options', 'an options object', describeValue(options));
  const { maxAttempts, maxLostAttempts, clock } = options;
  if (maxAttempts !== undefined && !isPositiveInteger(maxAttempts)) {
    throw new InvalidArgumentError('maxAttempts', 'a positive integer', describeValue(maxAttempts));
  }
  if (maxLostAttempts !== undefined && !isAttemptNumber(maxLostAttempts)) {
    throw new InvalidArgumentError(
      'maxLostAttempts',
      'a non-negative integer',
      describeValue(maxLostAttempts),
    );
  }
  if (clock !== undefined && typeof clock !== 'function') {
    throw new InvalidArgumentError('clock', 'a function returning a Date', describeValue(clock));
  }
  return options;
}

/**
 * One task's lifecycle behind plain verbs: every command is checked against the task machine, a refused one
 * throws {@link IllegalTransitionError} and changes nothing, and the state can be persisted and restored in any status.
 * @example
 * const runtime = new TaskRuntime(createTask({ id: 'login', role: AgentRole.IMPLEMENTER }), { maxAttempts: 3 });
 * runtime.markRunning();
 * runtime.markFailed('tests failed');
 * runtime.resetForRetry();          // pending again, the error archived in concerns
 * runtime.prepareForAttempt(1);
 * runtime.markRunning();
 * runtime.markPrCreated('https://github.com/org/repo/pull/7');
 * runtime.markPrMerged();
 * runtime.status;                   // 'pr_merged'
 */
export class TaskRuntime {
  /** The underlying XState actor, for `subscribe` and inspection; send commands through the facade. */
  readonly actor: TaskActor;
  readonly #clock: () => Date;
  #views: Views | undefined;
  readonly #listeners = new Set<TaskListener>();

  constructor(task: Task | TaskInput, options: TaskRuntimeOptions = {}) {
    const { maxAttempts, maxLostAttempts, clock, inspect } = readOptions(options);
    const restored = (options as InternalOptions)[restoring];
    this.#clock = clock ?? systemClock;
    const input: Mutable<TaskMachineInput> = { task: createTask(task) };
    if (maxAttempts !== undefined) input.maxAttempts = maxAttempts;
    if (maxLostAttempts !== undefined) input.maxLostAttempts = maxLostAttempts;
    const actorOptions: ActorOptions<typeof taskMachine> & { input: TaskMachineInput } = { input };
    if (inspect !== undefined) actorOptions.inspect = inspect;
    if (restored !== undefined) {
      // The shape of `getPersistedSnapshot()`, which `createActor` restores as is (no `resolveState` first).
      actorOptions.snapshot = {
        status: 'active',
        value: restored.status,
        context: {
          ...restored.context,
          maxAttempts: maxAttempts ?? null,
          maxLostAttempts: maxLostAttempts ?? restored.context.maxLostAttempts,
        },
        children: {},
        historyValue: {},
        output: undefined,
        error: undefined,
      } as Snapshot<unknown>;
    }
    this.actor = createActor(taskMachine, actorOptions);
    this.actor.start();
  }

  /**
   * Rebuilds a runtime from {@link TaskRuntime.persist}'s output (also after a JSON round trip), in any status.
   * `options.maxAttempts` and `options.maxLostAttempts` replace the persisted ones when given.
   * @throws {SnapshotError} naming where the snapshot is malformed; nothing is half-restored.
   */
  static restore(snapshot: unknown, options: TaskRuntimeOptions = {}): TaskRuntime {
    const persisted = readPersistedTaskRuntime(snapshot);
    const { maxAttempts = persisted.context.maxAttempts ?? undefined } = readOptions(options);
    const { attemptNum, extraAttempts } = persisted.context;
    if (maxAttempts !== undefined && maxAttempts + extraAttempts <= attemptNum) {
      const expected =
        extraAttempts === 0
          ? `more than the snapshot's attempt number ${attemptNum} (attempts are numbered from 0)`
          : `more than ${attemptNum - extraAttempts}: the snapshot's attempt number ${attemptNum}, less the ${extraAttempts} beyond maxAttempts that lost attempts and reopens added`;
      throw new InvalidArgumentError('maxAttempts', expected, describeValue(maxAttempts));
    }
    const internal: InternalOptions = { ...options, maxAttempts, [restoring]: persisted };
    return new TaskRuntime(persisted.context.task, internal);
  }

  /** The immutable task specification. */
  get task(): Task {
    return this.actor.getSnapshot().context.task;
  }

  /** The current status. */
  get status(): TaskStatus {
    return this.actor.getSnapshot().value;
  }

  /** Whether the task is pr_merged or failed. */
  get isTerminal(): boolean {
    return isTerminalStatus(this.status);
  }

  /** The operational state (frozen). */
  get state(): TaskStateView {
    return this.#currentViews().state;
  }

  /** PR URL, concerns and agent address (frozen). */
  get artifacts(): TaskArtifactsView {
    return this.#currentViews().artifacts;
  }

  /** The attempt ledger, one frozen record per attempt used. */
  get attempts(): readonly AttemptRecord[] {
    return this.actor.getSnapshot().context.attempts;
  }

  /** Sets the attempt number and clears the error; refused unless pending with that attempt unused and allowed. */
  prepareForAttempt(attemptNum: number): void {
    this.#send({ type: 'PREPARE_ATTEMPT', attemptNum });
  }

  /**
   * pending → running, opening the attempt's ledger record (with `options.workerId`, when given); refused if the
   * current attempt was already used.
   */
  markRunning(options: StartOptions = {}): void {
    if (!isRecord(options)) {
      const expected = 'an object { workerId? }';
      this.#reject('START', new InvalidArgumentError('options', expected, describeValue(options)));
    }
    const { workerId } = options as StartOptions;
    this.#send(workerId === undefined ? { type: 'START' } : { type: 'START', workerId });
  }

  /** running → pr_created, storing the PR's URL. */
  markPrCreated(prUrl: string): void {
    this.#send({ type: 'PR_CREATED', prUrl });
  }

  /** pr_created → pr_merged, closing the attempt. */
  markPrMerged(): void {
    this.#send({ type: 'PR_MERGED' });
  }

  /**
   * → failed with `error`, from pending (a blocked task), running or pr_created. `workerLost: true` records a lost
   * attempt (its worker died): always retryable, and not counted against maxAttempts up to maxLostAttempts.
   * @param options.retryable @default true
   * @param options.workerLost @default false
   */
  markFailed(error: string, options: FailOptions = {}): void {
    if (!isRecord(options)) {
      const expected = 'an object { retryable?, workerLost? }';
      this.#reject('FAIL', new InvalidArgumentError('options', expected, describeValue(options)));
    }
    const { retryable, workerLost } = options as FailOptions;
    const event: Mutable<Extract<TaskEvent, { type: 'FAIL' }>> = { type: 'FAIL', error };
    if (retryable !== undefined) event.retryable = retryable;
    if (workerLost !== undefined) event.workerLost = workerLost;
    this.#send(event);
  }

  /**
   * An operator's second chance after a final failure: failed → pending with `attempts` more counted attempts from
   * now on, `reopened: <reason> (last error: …)` appended to concerns, the error cleared. Refused while the failure
   * can still be retried (use {@link TaskRuntime.resetForRetry}). @param options.attempts @default 1
   */
  reopen(reason: string, options: ReopenOptions = {}): void {
    let attempts: number;
    try {
      attempts = checkReopenArguments(reason, options);
    } catch (error) {
      this.#reject('REOPEN', error as InvalidArgumentError);
    }
    const { attemptNum } = this.actor.getSnapshot().context;
    if (!Number.isSafeInteger(attemptNum + 1 + attempts)) {
      const expected = `at most ${Number.MAX_SAFE_INTEGER - attemptNum - 1} (attempt numbers stay safe integers)`;
      this.#reject(
        'REOPEN',
        new InvalidArgumentError('attempts', expected, describeValue(attempts)),
      );
    }
    this.#send({ type: 'REOPEN', reason, attempts });
  }

  /** failed → pending, appending `attempt_N_error: …` to concerns and clearing the error. */
  resetForRetry(): void {
    this.#send({ type: 'RETRY' });
  }

  /** failed → pending keeping the error (retry normalization); a no-op when already pending. */
  markPending(): void {
    this.#send({ type: 'MARK_PENDING' });
  }

  /** Records where the agent works (pending or running). */
  assignWorktree(worktree: WorktreeAssignment): void {
    if (!isRecord(worktree)) {
      const expected = 'an object { worktreePath, branchName, signalDir? }';
      this.#reject(
        'ASSIGN_WORKTREE',
        new InvalidArgumentError('worktree', expected, describeValue(worktree)),
      );
    }
    const { worktreePath, branchName, signalDir } = worktree;
    const event: Mutable<Extract<TaskEvent, { type: 'ASSIGN_WORKTREE' }>> = {
      type: 'ASSIGN_WORKTREE',
      worktreePath,
      branchName,
    };
    if (signalDir !== undefined) event.signalDir = signalDir;
    this.#send(event);
  }

  /** Records the workstream the task integrates into (pending or running). */
  assignWorkstream(workstream: WorkstreamAssignment): void {
    if (!isRecord(workstream)) {
      const expected = 'an object { integrationBranch, workstreamWorktreePath }';
      this.#reject(
        'ASSIGN_WORKSTREAM',
        new InvalidArgumentError('workstream', expected, describeValue(workstream)),
      );
    }
    const { integrationBranch, workstreamWorktreePath } = workstream;
    this.#send({ type: 'ASSIGN_WORKSTREAM', integrationBranch, workstreamWorktreePath });
  }

  /** Stores the agent's address as an audit trail (pending or running). */
  recordAgentAddress(address: AgentAddress): void {
    if (!(address instanceof AgentAddress)) {
      const expected = 'an AgentAddress such as a TmuxAddress';
      this.#reject(
        'RECORD_AGENT_ADDRESS',
        new InvalidArgumentError('address', expected, describeValue(address)),
      );
    }
    this.#send({ type: 'RECORD_AGENT_ADDRESS', address: address.toJSON() });
  }

  /** Appends a concern; legal in every status (teardown notes arrive after the end). */
  addConcern(concern: string): void {
    this.#send({ type: 'ADD_CONCERN', concern });
  }

  /**
   * Calls `listener` with one record per command from now on: `{ taskId, from, to, event, attemptNum, at }` when
   * accepted, `{ taskId, status, event, reason, rejected: true }` when refused. Returns the unsubscribe function.
   */
  subscribe(listener: TaskListener): () => void {
    return addListener(this.#listeners, listener);
  }

  /** Whether the machine would accept `event` now; false for malformed events too. Never throws. */
  can(event: TaskEvent): boolean {
    try {
      checkEvent(event);
      return isAccepted(this.actor.getSnapshot(), event);
    } catch {
      return false;
    }
  }

  /** A JSON-safe, versioned, frozen snapshot; {@link TaskRuntime.restore} accepts it in any status. */
  persist(): PersistedTaskRuntime {
    const { value, context } = this.actor.getSnapshot();
    return Object.freeze({
      schemaVersion: SNAPSHOT_SCHEMA_VERSION,
      status: value,
      context: Object.freeze({ ...context }),
    });
  }

  /** `JSON.stringify(runtime)` gives the persisted snapshot. */
  toJSON(): PersistedTaskRuntime {
    return this.persist();
  }

  #now(): string {
    const now: unknown = this.#clock();
    if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
      throw new InvalidArgumentError('clock()', 'a valid Date', describeValue(now));
    }
    return now.toISOString();
  }

  /** Tells the listeners about a refused command, then throws its error. */
  #reject(event: TaskEventType, error: InvalidArgumentError | IllegalTransitionError): never {
    if (this.#listeners.size > 0) {
      const { value, context } = this.actor.getSnapshot();
      const reason = error instanceof IllegalTransitionError ? error.reason : 'invalidArgument';
      notifyListeners(this.#listeners, {
        taskId: context.task.id,
        status: value,
        event,
        reason,
        rejected: true,
      });
    }
    throw error;
  }

  #send(event: DraftEvent): void {
    try {
      checkEvent(event);
    } catch (error) {
      this.#reject(event.type, error as InvalidArgumentError);
    }
    const snapshot = this.actor.getSnapshot();
    if (!isAccepted(snapshot, event)) {
      const refusal = explainRefusal(snapshot, event);
      const { task } = snapshot.context;
      const details = { taskId: task.id, status: snapshot.value, event: event.type, ...refusal };
      this.#reject(event.type, new IllegalTransitionError(details));
    }
    if (LEDGER_EVENTS.has(event.type) || this.#listeners.size > 0) event.at = this.#now();
    this.actor.send(event);
    if (this.#listeners.size > 0) {
      const next = this.actor.getSnapshot();
      notifyListeners(this.#listeners, {
        taskId: next.context.task.id,
        from: snapshot.value,
        to: next.value,
        event: event.type,
        attemptNum: next.context.attemptNum,
        at: event.at as string,
        rejected: false,
      });
    }
  }

  #currentViews(): Views {
    const snapshot = this.actor.getSnapshot();
    if (this.#views?.snapshot === snapshot) return this.#views;
    const { context } = snapshot;
    this.#views = {
      snapshot,
      state: Object.freeze({
        status: snapshot.value,
        worktreePath: context.worktreePath,
        branchName: context.branchName,
        signalDir: context.signalDir,
        error: context.error,
        attemptNum: context.attemptNum,
        integrationBranch: context.integrationBranch,
        workstreamWorktreePath: context.workstreamWorktreePath,
      }),
      artifacts: Object.freeze({
        prUrl: context.prUrl,
        concerns: context.concerns,
        agentAddress:
          context.agentAddress === null ? null : AgentAddress.fromJSON(context.agentAddress),
      }),
    };
    return this.#views;
  }
}
