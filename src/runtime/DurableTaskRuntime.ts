import type { AgentAddress } from '../agent/AgentAddress.js';
import { SnapshotError } from '../errors.js';
import type { TaskStatus } from '../machines/status.js';
import type { AttemptRecord, TaskEvent } from '../machines/taskMachine.js';
import type { LeaseRef, TaskStore } from '../store/TaskStore.js';
import { createTask, type Task, type TaskInput } from '../task/createTask.js';
import { addListener, notifyListeners, type TaskListener, type TaskRecord } from './records.js';
import type { PersistedTaskRuntime } from './snapshot.js';
import { checkSameSpec, restoreStored } from './storedTask.js';
import {
  type FailOptions,
  type ReopenOptions,
  type TaskArtifactsView,
  TaskRuntime,
  type TaskRuntimeOptions,
  type TaskStateView,
  type WorkstreamAssignment,
  type WorktreeAssignment,
} from './TaskRuntime.js';

/**
 * A {@link TaskRuntime} bound to a {@link TaskStore}: every accepted command is saved, with the revision it
 * expects, before its promise resolves. A refused command throws as on TaskRuntime; a failed save (for example
 * ConflictError from a second writer) rolls the runtime back to the last saved state and rejects.
 * Commands on one instance run one after another, in call order.
 * @example
 * const store = await FileTaskStore.open('./.task-runtime');
 * const task = await DurableTaskRuntime.open(store, createTask({ id: 'login', role: 'implementer' }));
 * await task.markRunning();          // saved before this resolves
 * // …the process dies; a new one resumes where it was:
 * const resumed = await DurableTaskRuntime.load(store, 'login');
 * resumed?.status;                    // 'running'
 */
export class DurableTaskRuntime {
  /** The store every accepted command is saved to. */
  readonly store: TaskStore;
  readonly #options: TaskRuntimeOptions;
  #runtime: TaskRuntime;
  #saved: PersistedTaskRuntime;
  #revision: number;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<TaskListener>();

  private constructor(
    store: TaskStore,
    runtime: TaskRuntime,
    revision: number,
    options: TaskRuntimeOptions,
  ) {
    this.store = store;
    this.#runtime = runtime;
    this.#saved = runtime.persist();
    this.#revision = revision;
    this.#options = options;
  }

  /** Creates a new task in the store; ConflictError if its id is already stored. */
  static async create(
    store: TaskStore,
    task: Task | TaskInput,
    options: TaskRuntimeOptions = {},
  ): Promise<DurableTaskRuntime> {
    const runtime = new TaskRuntime(task, options);
    const revision = await store.save(runtime.task.id, runtime.persist(), {
      expectedRevision: null,
    });
    return new DurableTaskRuntime(store, runtime, revision, options);
  }

  /**
   * The stored task in whatever status it was saved (running and pr_created included), or null when absent.
   * @throws {SnapshotError} with `taskId` set when the stored snapshot cannot be restored.
   */
  static async load(
    store: TaskStore,
    taskId: string,
    options: TaskRuntimeOptions = {},
  ): Promise<DurableTaskRuntime | null> {
    const stored = await store.load(taskId);
    if (stored === null) return null;
    return new DurableTaskRuntime(
      store,
      restoreStored(taskId, stored.snapshot, options),
      stored.revision,
      options,
    );
  }

  /**
   * Loads the task if stored, else creates it: what an orchestrator does at start-up, crash or not.
   * @throws {InvalidArgumentError} when the stored task's spec differs from `task` (a spec never changes).
   */
  static async open(
    store: TaskStore,
    task: Task | TaskInput,
    options: TaskRuntimeOptions = {},
  ): Promise<DurableTaskRuntime> {
    const spec = createTask(task);
    const stored = await DurableTaskRuntime.load(store, spec.id, options);
    if (stored === null) return DurableTaskRuntime.create(store, spec, options);
    checkSameSpec(spec, stored.task);
    return stored;
  }

  /**
   * The lease every save carries, from `store.claim()` (and `renew()`); null for none. Once another worker has
   * claimed the task, saves fail with LeaseLostError and the runtime rolls back.
   */
  lease: LeaseRef | null = null;

  /** The revision of the last save this instance made or loaded. */
  get revision(): number {
    return this.#revision;
  }

  /** The immutable task specification. */
  get task(): Task {
    return this.#runtime.task;
  }

  /** The current status. */
  get status(): TaskStatus {
    return this.#runtime.status;
  }

  /** Whether the task is pr_merged or failed. */
  get isTerminal(): boolean {
    return this.#runtime.isTerminal;
  }

  /** The operational state (frozen). */
  get state(): TaskStateView {
    return this.#runtime.state;
  }

  /** PR URL, concerns and agent address (frozen). */
  get artifacts(): TaskArtifactsView {
    return this.#runtime.artifacts;
  }

  /** The attempt ledger. */
  get attempts(): readonly AttemptRecord[] {
    return this.#runtime.attempts;
  }

  /** Whether the machine would accept `event` now. */
  can(event: TaskEvent): boolean {
    return this.#runtime.can(event);
  }

  /** The snapshot as last applied in memory (saved once the pending command resolves). */
  persist(): PersistedTaskRuntime {
    return this.#runtime.persist();
  }

  /**
   * Calls `listener` with one record per command: accepted ones once they are saved, refused ones at once.
   * Returns the unsubscribe function. See {@link TaskRuntime.subscribe}.
   */
  subscribe(listener: TaskListener): () => void {
    return addListener(this.#listeners, listener);
  }

  /** Replaces the in-memory state with the stored one, e.g. after a ConflictError. */
  reload(): Promise<void> {
    return this.#enqueue(async () => {
      const stored = await this.store.load(this.task.id);
      if (stored === null)
        throw new SnapshotError('', 'is no longer in the store (it was deleted)', this.task.id);
      this.#runtime = restoreStored(this.task.id, stored.snapshot, this.#options);
      this.#saved = this.#runtime.persist();
      this.#revision = stored.revision;
    });
  }

  /** {@link TaskRuntime.prepareForAttempt}, saved. */
  prepareForAttempt(attemptNum: number): Promise<void> {
    return this.#apply((runtime) => runtime.prepareForAttempt(attemptNum));
  }

  /** {@link TaskRuntime.markRunning}, saved. */
  markRunning(): Promise<void> {
    return this.#apply((runtime) => runtime.markRunning());
  }

  /** {@link TaskRuntime.markPrCreated}, saved. */
  markPrCreated(prUrl: string): Promise<void> {
    return this.#apply((runtime) => runtime.markPrCreated(prUrl));
  }

  /** {@link TaskRuntime.markPrMerged}, saved. */
  markPrMerged(): Promise<void> {
    return this.#apply((runtime) => runtime.markPrMerged());
  }

  /** {@link TaskRuntime.markFailed}, saved. */
  markFailed(error: string, options?: FailOptions): Promise<void> {
    return this.#apply((runtime) => runtime.markFailed(error, options));
  }

  /** {@link TaskRuntime.reopen}, saved. */
  reopen(reason: string, options?: ReopenOptions): Promise<void> {
    return this.#apply((runtime) => runtime.reopen(reason, options));
  }

  /** {@link TaskRuntime.resetForRetry}, saved. */
  resetForRetry(): Promise<void> {
    return this.#apply((runtime) => runtime.resetForRetry());
  }

  /** {@link TaskRuntime.markPending}, saved. */
  markPending(): Promise<void> {
    return this.#apply((runtime) => runtime.markPending());
  }

  /** {@link TaskRuntime.assignWorktree}, saved. */
  assignWorktree(worktree: WorktreeAssignment): Promise<void> {
    return this.#apply((runtime) => runtime.assignWorktree(worktree));
  }

  /** {@link TaskRuntime.assignWorkstream}, saved. */
  assignWorkstream(workstream: WorkstreamAssignment): Promise<void> {
    return this.#apply((runtime) => runtime.assignWorkstream(workstream));
  }

  /** {@link TaskRuntime.recordAgentAddress}, saved. */
  recordAgentAddress(address: AgentAddress): Promise<void> {
    return this.#apply((runtime) => runtime.recordAgentAddress(address));
  }

  /** {@link TaskRuntime.addConcern}, saved. */
  addConcern(concern: string): Promise<void> {
    return this.#apply((runtime) => runtime.addConcern(concern));
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #apply(command: (runtime: TaskRuntime) => void): Promise<void> {
    return this.#enqueue(async () => {
      const records: TaskRecord[] = [];
      const unsubscribe = this.#runtime.subscribe((record) => records.push(record));
      try {
        command(this.#runtime);
      } finally {
        unsubscribe();
        if (records[0]?.rejected) notifyListeners(this.#listeners, records[0]);
      }
      const snapshot = this.#runtime.persist();
      try {
        const lease = this.lease === null ? {} : { lease: this.lease };
        this.#revision = await this.store.save(this.task.id, snapshot, {
          expectedRevision: this.#revision,
          ...lease,
        });
        this.#saved = snapshot;
      } catch (error) {
        this.#runtime = TaskRuntime.restore(this.#saved, this.#options);
        throw error;
      }
      for (const record of records) notifyListeners(this.#listeners, record);
    });
  }
}
