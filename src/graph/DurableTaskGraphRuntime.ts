import type { AgentAddress } from '../agent/AgentAddress.js';
import { SnapshotError } from '../errors.js';
import type { TaskEventType } from '../machines/taskMachine.js';
import {
  addListener,
  notifyListeners,
  type TaskListener,
  type TaskRecord,
} from '../runtime/records.js';
import type { PersistedTaskRuntime } from '../runtime/snapshot.js';
import { checkSameSpec, restoreStored } from '../runtime/storedTask.js';
import {
  type FailOptions,
  type ReopenOptions,
  TaskRuntime,
  type WorkstreamAssignment,
  type WorktreeAssignment,
} from '../runtime/TaskRuntime.js';
import type { TaskStore } from '../store/TaskStore.js';
import { requireGraph, type TaskGraph } from './TaskGraph.js';
import {
  type GraphRunInternals,
  graphRunInternals,
  type PersistedTaskGraphRuntime,
  type RunOutcome,
  runWith,
  type TaskGraphRuntime,
  type TaskGraphRuntimeOptions,
  type TaskGraphTaskView,
} from './TaskGraphRuntime.js';

/** How many tasks `open` loads at the same time (the store's I/O overlaps the restoring of what arrived). */
const LOADS_AT_ONCE = 16;

interface SavedTask {
  readonly snapshot: PersistedTaskRuntime;
  readonly revision: number;
}

/**
 * A {@link TaskGraphRuntime} on a {@link TaskStore}: every task is stored under its own id, and every accepted
 * command — with the blocked dependents it implies — is saved before its promise resolves. Commands run one after
 * another in call order. `open` loads the stored tasks, creates the missing ones, and completes what a crash
 * interrupted (dependents of a final failure still pending are blocked then).
 * @example
 * const store = await FileTaskStore.open('./.task-runtime');
 * const run = await DurableTaskGraphRuntime.open(store, TaskGraph.fromTasks(tasks), { maxAttempts: 3 });
 * for (const id of run.ready()) await run.markRunning(id); // each saved before it resolves
 */
export class DurableTaskGraphRuntime {
  /** The store every task is saved to. */
  readonly store: TaskStore;
  readonly #options: TaskGraphRuntimeOptions;
  readonly #run: TaskGraphRuntime;
  readonly #internals: GraphRunInternals;
  readonly #saved: Map<string, SavedTask>;
  readonly #listeners = new Set<TaskListener>();
  #heard: TaskRecord[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  /** Set when a save failed after the command's own task was saved: blocked dependents wait to be saved. */
  #repairDue = false;
  #repaired: readonly string[] = Object.freeze([]);

  private constructor(
    store: TaskStore,
    run: TaskGraphRuntime,
    saved: Map<string, SavedTask>,
    options: TaskGraphRuntimeOptions,
  ) {
    this.store = store;
    this.#run = run;
    this.#internals = graphRunInternals(run);
    this.#saved = saved;
    this.#options = options;
    run.subscribe((record) => this.#heard.push(record));
  }

  /**
   * Loads the graph's tasks from `store`, creates the missing ones, and blocks (and saves) the pending dependents of
   * final failures that a crash left unblocked.
   * @throws {InvalidArgumentError} when a stored task's spec differs from the graph's (naming the task and the field).
   * @throws {SnapshotError} when a stored task cannot be restored, or its state breaks the graph's rules.
   */
  static async open(
    store: TaskStore,
    graph: TaskGraph,
    options: TaskGraphRuntimeOptions = {},
  ): Promise<DurableTaskGraphRuntime> {
    requireGraph(graph);
    const runtimes = new Map<string, TaskRuntime>();
    const saved = new Map<string, SavedTask>();
    for (let start = 0; start < graph.size; start += LOADS_AT_ONCE) {
      const ids = graph.taskIds.slice(start, start + LOADS_AT_ONCE);
      const loaded = await Promise.all(ids.map((id) => store.load(id)));
      ids.forEach((id, index) => {
        const stored = loaded[index];
        if (stored === null || stored === undefined) return;
        const runtime = restoreStored(id, stored.snapshot, options);
        checkSameSpec(graph.task(id), runtime.task);
        runtimes.set(id, runtime);
        saved.set(id, { snapshot: runtime.persist(), revision: stored.revision });
      });
    }
    const run = new DurableTaskGraphRuntime(
      store,
      runWith(graph, runtimes, options),
      saved,
      options,
    );
    await run.#enqueue(async () => {
      run.#repaired = Object.freeze(await run.#complete());
    });
    return run;
  }

  /** The validated graph of the run. */
  get graph(): TaskGraph {
    return this.#run.graph;
  }

  /** A read-only view of the task. @throws {InvalidArgumentError} for an id not in the graph. */
  task(taskId: string): TaskGraphTaskView {
    return this.#run.task(taskId);
  }

  /** See {@link TaskGraphRuntime.ready}: the ready ids in topological order, only the first `limit` when given. */
  ready(limit?: number): string[] {
    return this.#run.ready(limit);
  }

  /** See {@link TaskGraphRuntime.outcome}. */
  get outcome(): RunOutcome {
    return this.#run.outcome;
  }

  /**
   * The ids, in topological order, of the tasks `open` changed to complete what a crash interrupted: pending
   * dependents of a final failure, blocked; and tasks blocked by a task that no longer failed finally (a reopen
   * whose saves stopped half-way), returned to pending. Changed before anyone could subscribe, so reported here.
   */
  get repaired(): readonly string[] {
    return this.#repaired;
  }

  /** The revision of the task as this run last saved or loaded it. */
  revisionOf(taskId: string): number {
    this.#internals.runtime(taskId);
    return this.#saved.get(taskId)?.revision ?? 0;
  }

  /** The whole run as last applied in memory (saved once the pending command resolves). */
  persist(): PersistedTaskGraphRuntime {
    return this.#run.persist();
  }

  /**
   * Calls `listener` with one record per command of every task: accepted ones once saved (blocked dependents'
   * FAIL included), refused ones at once. Returns the unsubscribe function.
   */
  subscribe(listener: TaskListener): () => void {
    return addListener(this.#listeners, listener);
  }

  /** {@link TaskGraphRuntime.prepareForAttempt}, saved. */
  prepareForAttempt(taskId: string, attemptNum: number): Promise<void> {
    return this.#apply(taskId, 'PREPARE_ATTEMPT', (runtime) =>
      runtime.prepareForAttempt(attemptNum),
    );
  }

  /** {@link TaskGraphRuntime.markRunning}, saved. */
  markRunning(taskId: string): Promise<void> {
    return this.#apply(taskId, 'START', (runtime) => runtime.markRunning());
  }

  /** {@link TaskGraphRuntime.markPrCreated}, saved. */
  markPrCreated(taskId: string, prUrl: string): Promise<void> {
    return this.#apply(taskId, 'PR_CREATED', (runtime) => runtime.markPrCreated(prUrl));
  }

  /** {@link TaskGraphRuntime.markPrMerged}, saved. */
  markPrMerged(taskId: string): Promise<void> {
    return this.#apply(taskId, 'PR_MERGED', (runtime) => runtime.markPrMerged());
  }

  /** {@link TaskGraphRuntime.markFailed}, saved with the dependents it blocks. */
  markFailed(taskId: string, error: string, options?: FailOptions): Promise<void> {
    return this.#apply(taskId, 'FAIL', (runtime) => runtime.markFailed(error, options));
  }

  /** {@link TaskGraphRuntime.reopen}, saved with every task it returned to pending (or blocked again). */
  reopen(taskId: string, reason: string, options?: ReopenOptions): Promise<void> {
    return this.#change(() => this.#internals.reopen(taskId, reason, options));
  }

  /** {@link TaskGraphRuntime.resetForRetry}, saved. */
  resetForRetry(taskId: string): Promise<void> {
    return this.#apply(taskId, 'RETRY', (runtime) => runtime.resetForRetry());
  }

  /** {@link TaskGraphRuntime.markPending}, saved. */
  markPending(taskId: string): Promise<void> {
    return this.#apply(taskId, 'MARK_PENDING', (runtime) => runtime.markPending());
  }

  /** {@link TaskGraphRuntime.assignWorktree}, saved. */
  assignWorktree(taskId: string, worktree: WorktreeAssignment): Promise<void> {
    return this.#apply(taskId, 'ASSIGN_WORKTREE', (runtime) => runtime.assignWorktree(worktree));
  }

  /** {@link TaskGraphRuntime.assignWorkstream}, saved. */
  assignWorkstream(taskId: string, workstream: WorkstreamAssignment): Promise<void> {
    return this.#apply(taskId, 'ASSIGN_WORKSTREAM', (runtime) =>
      runtime.assignWorkstream(workstream),
    );
  }

  /** {@link TaskGraphRuntime.recordAgentAddress}, saved. */
  recordAgentAddress(taskId: string, address: AgentAddress): Promise<void> {
    return this.#apply(taskId, 'RECORD_AGENT_ADDRESS', (runtime) =>
      runtime.recordAgentAddress(address),
    );
  }

  /** {@link TaskGraphRuntime.addConcern}, saved. */
  addConcern(taskId: string, concern: string): Promise<void> {
    return this.#apply(taskId, 'ADD_CONCERN', (runtime) => runtime.addConcern(concern));
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #apply(
    taskId: string,
    event: TaskEventType,
    command: (runtime: TaskRuntime) => void,
  ): Promise<void> {
    return this.#change(() => this.#internals.apply(taskId, event, command));
  }

  /** Applies a command of the run in memory (it returns the ids it changed), then saves them, in call order. */
  #change(apply: () => string[]): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#repairDue) await this.#complete();
      this.#heard = [];
      let changed: string[];
      try {
        changed = apply();
      } catch (error) {
        for (const record of this.#heard) notifyListeners(this.#listeners, record);
        throw error;
      }
      await this.#save(changed);
    });
  }

  /**
   * Blocks what a crash or a failed save left unblocked, and saves it together with the tasks never stored.
   * Returns the ids it blocked, in topological order.
   */
  async #complete(): Promise<string[]> {
    this.#heard = [];
    const repaired = this.#internals.repair();
    const blocked = new Set(repaired);
    for (const id of this.graph.taskIds) {
      const problem = this.#internals.brokenRule(id);
      if (problem !== null) throw new SnapshotError('status', problem, id);
    }
    const unsaved = this.graph.taskIds.filter((id) => blocked.has(id) || !this.#saved.has(id));
    await this.#save(unsaved);
    this.#repairDue = false;
    return repaired;
  }

  /**
   * Saves the tasks in order, each with the revision it expects. When a save fails, every task not saved yet goes
   * back to its stored state (a task never stored is put back to a fresh one), and the next command completes the
   * blocking first. Records are delivered once every save succeeded.
   */
  async #save(ids: readonly string[]): Promise<void> {
    const heard = this.#heard;
    this.#heard = [];
    for (const [index, id] of ids.entries()) {
      const snapshot = this.#internals.runtime(id).persist();
      try {
        const revision = await this.store.save(id, snapshot, {
          expectedRevision: this.#saved.get(id)?.revision ?? null,
        });
        this.#saved.set(id, { snapshot, revision });
      } catch (error) {
        for (const rest of ids.slice(index)) this.#rollBack(rest);
        if (index > 0) this.#repairDue = true;
        throw error;
      }
    }
    for (const record of heard) notifyListeners(this.#listeners, record);
  }

  #rollBack(taskId: string): void {
    const saved = this.#saved.get(taskId);
    const runtime =
      saved === undefined
        ? new TaskRuntime(this.graph.task(taskId), this.#options)
        : TaskRuntime.restore(saved.snapshot, this.#options);
    this.#internals.replace(taskId, runtime);
  }
}
