import type { AgentAddress } from '../agent/AgentAddress.js';
import { IllegalTransitionError, InvalidArgumentError, SnapshotError } from '../errors.js';
import { allowedEventTypes, nextUnusedAttempt } from '../machines/refusal.js';
import { isTerminalStatus, TaskStatus } from '../machines/status.js';
import {
  type AttemptRecord,
  attemptLimit,
  type TaskContext,
  type TaskEvent,
  type TaskEventType,
} from '../machines/taskMachine.js';
import { checkReopenArguments } from '../runtime/checkEvent.js';
import {
  addListener,
  notifyListeners,
  type TaskListener,
  type TaskRecord,
} from '../runtime/records.js';
import type { PersistedTaskRuntime } from '../runtime/snapshot.js';
import {
  type FailOptions,
  type ReopenOptions,
  type TaskArtifactsView,
  TaskRuntime,
  type TaskRuntimeOptions,
  type TaskStateView,
  type WorkstreamAssignment,
  type WorktreeAssignment,
} from '../runtime/TaskRuntime.js';
import type { Task } from '../task/createTask.js';
import { describeValue, isAttemptNumber, isRecord } from '../validation.js';
import { blockedByOf, blockedError, isFinalFailure, type TaskStanding } from './blocking.js';
import { MinHeap } from './MinHeap.js';
import { requireGraph, TaskGraph, unknownTask } from './TaskGraph.js';

/** Options of {@link TaskGraphRuntime}: those of every task's {@link TaskRuntime} (`inspect` sees every actor). */
export type TaskGraphRuntimeOptions = TaskRuntimeOptions;

/** Where a run stands: some task still open, every task merged, or settled with failures. */
export type RunOutcome = 'in_progress' | 'succeeded' | 'completed_with_failures';

/** A read-only view of one task of a run; every change goes through the run, so the run's rules apply. */
export interface TaskGraphTaskView {
  readonly task: Task;
  readonly status: TaskStatus;
  readonly isTerminal: boolean;
  readonly state: TaskStateView;
  readonly artifacts: TaskArtifactsView;
  readonly attempts: readonly AttemptRecord[];
  /** The dependency whose final failure blocked this task, or null when it is not blocked. */
  readonly blockedBy: string | null;
  /** Whether the run would accept `event` for this task now (START also needs every dependency merged). */
  can(event: TaskEvent): boolean;
}

/** The version of {@link PersistedTaskGraphRuntime} this package writes. */
export const GRAPH_SNAPSHOT_SCHEMA_VERSION = 1;

/** What `TaskGraphRuntime.persist()` returns: every task's snapshot, in the graph's topological order. */
export interface PersistedTaskGraphRuntime {
  readonly schemaVersion: typeof GRAPH_SNAPSHOT_SCHEMA_VERSION;
  readonly kind: 'task-graph-run';
  readonly tasks: readonly PersistedTaskRuntime[];
}

const START: TaskEvent = Object.freeze({ type: 'START' });

/** Whether the current attempt already ran or failed: the START guard, without allocating its arguments. */
function isAttemptUsed(context: TaskContext): boolean {
  const { attempts, attemptNum } = context;
  for (let index = attempts.length - 1; index >= 0; index -= 1) {
    if (attempts[index]?.attemptNum === attemptNum) return true;
  }
  return false;
}

/** The events after which the graph's blocking rule may have something to do. */
const SETTLING_EVENTS: ReadonlySet<TaskEventType> = new Set([
  'FAIL',
  'RETRY',
  'REOPEN',
  'MARK_PENDING',
]);

/** What a durable run needs beyond the public verbs; not exported from the package. */
export interface GraphRunInternals {
  /** Runs a command like the public verbs do and returns the ids of the tasks it changed, in the order changed. */
  apply(taskId: string, event: TaskEventType, command: (runtime: TaskRuntime) => void): string[];
  /** Runs {@link TaskGraphRuntime.reopen} and returns the ids of the tasks it changed. */
  reopen(taskId: string, reason: string, options: ReopenOptions | undefined): string[];
  /**
   * Completes what an interrupted command left half done: returns to pending every task blocked by a task that no
   * longer failed finally (a reopen whose saves stopped half-way), then blocks every pending task whose dependency
   * failed finally. Returns the ids changed, in topological order.
   */
  repair(): string[];
  /** Puts `runtime` in place of the task's current one (a rollback to a saved state). */
  replace(taskId: string, runtime: TaskRuntime): void;
  /** The task's runtime. */
  runtime(taskId: string): TaskRuntime;
  /** Why the task's state breaks a rule of the graph, or null. */
  brokenRule(taskId: string): string | null;
  /** The dependencies that blocked any of `taskIds` and are not failed for good in this run (yet), each once. */
  blockersNotFailed(taskIds: readonly string[]): string[];
  /** Whether `markRunning(taskId)` would be accepted now (the task is among `ready()`). */
  startable(taskId: string): boolean;
}

let internalsOf: (run: TaskGraphRuntime) => GraphRunInternals;

/** The internals of a run, for {@link DurableTaskGraphRuntime}. */
export function graphRunInternals(run: TaskGraphRuntime): GraphRunInternals {
  return internalsOf(run);
}

const standingOf = (runtime: TaskRuntime): TaskStanding => {
  const { value, context } = runtime.actor.getSnapshot();
  return { status: value, context };
};

/**
 * One run of a {@link TaskGraph}: a {@link TaskRuntime} per task behind run-level verbs that take the task id first,
 * with the graph's rules kept inside every command: a task starts only once every dependency is pr_merged
 * (else `IllegalTransitionError` with reason `dependenciesNotMerged`), and a final failure fails its pending
 * dependents as blocked, transitively, within the same command. A refused command changes nothing in any task.
 * @example
 * const run = new TaskGraphRuntime(TaskGraph.fromTasks([
 *   { id: 'spec', role: 'spec_writer' },
 *   { id: 'impl', role: 'implementer', dependencies: ['spec'] },
 * ]), { maxAttempts: 1 });
 * run.ready();                       // ['spec']
 * run.markRunning('spec');
 * run.markFailed('spec', 'agent crashed'); // no attempt left: 'impl' is blocked in the same command
 * run.task('impl').blockedBy;        // 'spec'
 * run.outcome;                       // 'completed_with_failures'
 */
export class TaskGraphRuntime {
  /** The validated graph of the run. */
  readonly graph: TaskGraph;
  readonly #options: TaskGraphRuntimeOptions;
  readonly #runtimes = new Map<string, TaskRuntime>();
  /** Per task, by topological index: 1 while it is pending with its current attempt unused (START's own guard). */
  readonly #startable: Uint8Array;
  /** Per task, by topological index: how many of its dependencies are not pr_merged (kept up to date per command). */
  readonly #unmerged: Uint32Array;
  readonly #views = new Map<string, TaskGraphTaskView>();
  readonly #listeners = new Set<TaskListener>();
  /** Unsubscribe functions of the per-task subscriptions, present while the run has listeners. */
  readonly #forwarding = new Map<string, () => void>();
  /** Records heard during the command being applied, delivered once it is complete. */
  #heard: TaskRecord[] = [];

  static {
    internalsOf = (run) => ({
      apply: (taskId, event, command) => run.#apply(taskId, event, command),
      reopen: (taskId, reason, options) => run.#reopen(taskId, reason, options),
      repair: () => run.#reporting(() => run.#repair()),
      replace: (taskId, runtime) => run.#replace(taskId, runtime),
      runtime: (taskId) => run.#runtime(taskId),
      brokenRule: (taskId) => run.#ruleBrokenBy(taskId),
      blockersNotFailed: (taskIds) => {
        const blockers = taskIds.map((id) => blockedByOf(standingOf(run.#runtime(id))));
        return [...new Set(blockers)].filter(
          (id): id is string => id !== null && !isFinalFailure(standingOf(run.#runtime(id))),
        );
      },
      startable: (taskId) => {
        const index = run.graph.indexOf(taskId);
        return run.#unmerged[index] === 0 && run.#startable[index] === 1;
      },
    });
  }

  constructor(graph: TaskGraph, options: TaskGraphRuntimeOptions = {}) {
    requireGraph(graph);
    this.graph = graph;
    this.#options = options;
    const restored = (options as RestoringOptions)[restoring];
    for (const id of graph.taskIds) {
      this.#runtimes.set(id, restored?.get(id) ?? new TaskRuntime(graph.task(id), options));
    }
    this.#startable = new Uint8Array(graph.size);
    for (const id of graph.taskIds) this.#noteStatus(id);
    this.#unmerged = Uint32Array.from(
      graph.taskIds,
      (id) => graph.dependenciesOf(id).filter((dependency) => !this.#isMerged(dependency)).length,
    );
  }

  /**
   * Rebuilds a run from {@link TaskGraphRuntime.persist}'s output (also after a JSON round trip), in any state.
   * @throws {SnapshotError} for anything malformed, a task list that is not a valid graph, or tasks whose states
   * break the graph's rules (a task past pending before its dependencies merged, a pending task behind a final failure).
   */
  static restore(snapshot: unknown, options: TaskGraphRuntimeOptions = {}): TaskGraphRuntime {
    const runtimes = readPersistedRun(snapshot, options);
    const graph = graphOf(runtimes);
    const run = runWith(
      graph,
      new Map(runtimes.map((runtime) => [runtime.task.id, runtime])),
      options,
    );
    for (const id of graph.taskIds) {
      const problem = run.#ruleBrokenBy(id);
      if (problem !== null) {
        const index = runtimes.findIndex((runtime) => runtime.task.id === id);
        throw new SnapshotError(`tasks[${index}].status`, problem);
      }
    }
    return run;
  }

  /** A read-only view of the task. @throws {InvalidArgumentError} for an id not in the graph. */
  task(taskId: string): TaskGraphTaskView {
    const known = this.#views.get(taskId);
    if (known !== undefined) return known;
    this.#runtime(taskId);
    const view = this.#viewOf(taskId);
    this.#views.set(taskId, view);
    return view;
  }

  /**
   * The ids, in topological order, of the tasks whose `markRunning(id)` would be accepted now; only the first
   * `limit` of them when given (a worker with a few free slots need not list a big run's every ready task).
   */
  ready(limit = Number.POSITIVE_INFINITY): string[] {
    if (!(limit === Number.POSITIVE_INFINITY || isAttemptNumber(limit))) {
      throw new InvalidArgumentError('limit', 'a non-negative integer', describeValue(limit));
    }
    const ready: string[] = [];
    const { taskIds } = this.graph;
    const unmerged = this.#unmerged;
    const startable = this.#startable;
    for (let index = 0; index < taskIds.length && ready.length < limit; index += 1) {
      if (unmerged[index] === 0 && startable[index] === 1) ready.push(taskIds[index] as string);
    }
    return ready;
  }

  /** `'in_progress'` while a task is neither pr_merged nor failed finally; then `'succeeded'` or `'completed_with_failures'`. */
  get outcome(): RunOutcome {
    let failures = false;
    for (const runtime of this.#runtimes.values()) {
      if (runtime.status === TaskStatus.PR_MERGED) continue;
      if (!isFinalFailure(standingOf(runtime))) return 'in_progress';
      failures = true;
    }
    return failures ? 'completed_with_failures' : 'succeeded';
  }

  /** {@link TaskRuntime.prepareForAttempt} for the task. */
  prepareForAttempt(taskId: string, attemptNum: number): void {
    this.#apply(taskId, 'PREPARE_ATTEMPT', (runtime) => runtime.prepareForAttempt(attemptNum));
  }

  /** {@link TaskRuntime.markRunning} for the task, refused (`dependenciesNotMerged`) until every dependency is pr_merged. */
  markRunning(taskId: string): void {
    this.#apply(taskId, 'START', (runtime) => runtime.markRunning());
  }

  /** {@link TaskRuntime.markPrCreated} for the task. */
  markPrCreated(taskId: string, prUrl: string): void {
    this.#apply(taskId, 'PR_CREATED', (runtime) => runtime.markPrCreated(prUrl));
  }

  /** {@link TaskRuntime.markPrMerged} for the task. */
  markPrMerged(taskId: string): void {
    this.#apply(taskId, 'PR_MERGED', (runtime) => runtime.markPrMerged());
  }

  /** {@link TaskRuntime.markFailed} for the task; a final failure blocks its pending dependents in the same command. */
  markFailed(taskId: string, error: string, options?: FailOptions): void {
    this.#apply(taskId, 'FAIL', (runtime) => runtime.markFailed(error, options));
  }

  /**
   * {@link TaskRuntime.reopen} for a finally failed task, with its next attempt prepared; in the same command every
   * task it blocked, transitively, returns to pending with its next attempt prepared (the blocked attempt does not
   * count), and is blocked again at once if another dependency failed finally. A blocked task is refused (reason
   * `blockedByDependency`): reopen what blocked it.
   */
  reopen(taskId: string, reason: string, options?: ReopenOptions): void {
    this.#reopen(taskId, reason, options);
  }

  /** {@link TaskRuntime.resetForRetry} for the task; blocked at once if a dependency failed finally. */
  resetForRetry(taskId: string): void {
    this.#apply(taskId, 'RETRY', (runtime) => runtime.resetForRetry());
  }

  /** {@link TaskRuntime.markPending} for the task; blocked at once if a dependency failed finally. */
  markPending(taskId: string): void {
    this.#apply(taskId, 'MARK_PENDING', (runtime) => runtime.markPending());
  }

  /** {@link TaskRuntime.assignWorktree} for the task. */
  assignWorktree(taskId: string, worktree: WorktreeAssignment): void {
    this.#apply(taskId, 'ASSIGN_WORKTREE', (runtime) => runtime.assignWorktree(worktree));
  }

  /** {@link TaskRuntime.assignWorkstream} for the task. */
  assignWorkstream(taskId: string, workstream: WorkstreamAssignment): void {
    this.#apply(taskId, 'ASSIGN_WORKSTREAM', (runtime) => runtime.assignWorkstream(workstream));
  }

  /** {@link TaskRuntime.recordAgentAddress} for the task. */
  recordAgentAddress(taskId: string, address: AgentAddress): void {
    this.#apply(taskId, 'RECORD_AGENT_ADDRESS', (runtime) => runtime.recordAgentAddress(address));
  }

  /** {@link TaskRuntime.addConcern} for the task. */
  addConcern(taskId: string, concern: string): void {
    this.#apply(taskId, 'ADD_CONCERN', (runtime) => runtime.addConcern(concern));
  }

  /**
   * Calls `listener` with the records of every task's commands (see {@link TaskRuntime.subscribe}), a blocked task's
   * FAIL included, once the command is complete. Returns the unsubscribe function.
   */
  subscribe(listener: TaskListener): () => void {
    const unsubscribe = addListener(this.#listeners, listener);
    if (this.#forwarding.size === 0) {
      for (const [id, runtime] of this.#runtimes) this.#forward(id, runtime);
    }
    return () => {
      unsubscribe();
      if (this.#listeners.size > 0) return;
      for (const stop of this.#forwarding.values()) stop();
      this.#forwarding.clear();
    };
  }

  /** One JSON-safe, versioned, frozen snapshot of the whole run; {@link TaskGraphRuntime.restore} accepts it. */
  persist(): PersistedTaskGraphRuntime {
    return Object.freeze({
      schemaVersion: GRAPH_SNAPSHOT_SCHEMA_VERSION,
      kind: 'task-graph-run',
      tasks: Object.freeze([...this.#runtimes.values()].map((runtime) => runtime.persist())),
    });
  }

  /** `JSON.stringify(run)` gives the persisted snapshot. */
  toJSON(): PersistedTaskGraphRuntime {
    return this.persist();
  }

  #runtime(taskId: string): TaskRuntime {
    const runtime = this.#runtimes.get(taskId);
    if (runtime === undefined) throw unknownTask(taskId);
    return runtime;
  }

  #forward(taskId: string, runtime: TaskRuntime): void {
    this.#forwarding.set(
      taskId,
      runtime.subscribe((record) => this.#heard.push(record)),
    );
  }

  #replace(taskId: string, runtime: TaskRuntime): void {
    const wasMerged = this.#isMerged(taskId);
    this.#forwarding.get(taskId)?.();
    this.#runtimes.set(taskId, runtime);
    this.#noteStatus(taskId);
    if (this.#isMerged(taskId) !== wasMerged) this.#countMerge(taskId, wasMerged ? 1 : -1);
    if (this.#forwarding.size > 0) this.#forward(taskId, runtime);
  }

  /** The dependencies of the task that are not pr_merged, with their statuses. */
  #unmergedDependencies(taskId: string): { id: string; status: TaskStatus }[] {
    const unmerged: { id: string; status: TaskStatus }[] = [];
    for (const id of this.graph.dependenciesOf(taskId)) {
      const { status } = this.#runtime(id);
      if (status !== TaskStatus.PR_MERGED) unmerged.push({ id, status });
    }
    return unmerged;
  }

  #canStart(taskId: string, runtime: TaskRuntime): boolean {
    return this.#unmerged[this.graph.indexOf(taskId)] === 0 && runtime.can(START);
  }

  /** Brings the task's entry of {@link TaskGraphRuntime.#startable} up to date after a change. */
  #noteStatus(taskId: string, index = this.graph.indexOf(taskId)): void {
    const { value, context } = this.#runtime(taskId).actor.getSnapshot();
    this.#startable[index] = value === TaskStatus.PENDING && !isAttemptUsed(context) ? 1 : 0;
  }

  #isMerged(taskId: string): boolean {
    return this.#runtime(taskId).status === TaskStatus.PR_MERGED;
  }

  /** Adds `change` to the unmerged-dependency count of every dependent of the task. */
  #countMerge(taskId: string, change: 1 | -1): void {
    for (const dependent of this.graph.dependentsOf(taskId)) {
      const index = this.graph.indexOf(dependent);
      this.#unmerged[index] = (this.#unmerged[index] ?? 0) + change;
    }
  }

  /** The first dependency (declared order) that failed finally, or undefined. */
  #blocker(taskId: string): string | undefined {
    return this.graph
      .dependenciesOf(taskId)
      .find((id) => isFinalFailure(standingOf(this.#runtime(id))));
  }

  /** Why the task's state breaks a rule of the graph, or null. */
  #ruleBrokenBy(taskId: string): string | null {
    const { status } = this.#runtime(taskId);
    if (status === TaskStatus.PENDING) {
      const blocker = this.#blocker(taskId);
      return blocker === undefined
        ? null
        : `is pending although its dependency '${blocker}' failed finally (it must be blocked)`;
    }
    if (status === TaskStatus.FAILED) return null;
    const unmerged = this.#unmergedDependencies(taskId);
    return unmerged.length === 0
      ? null
      : `is ${status} although ${describeUnmerged(unmerged)} (a task starts only after its dependencies merged)`;
  }

  /** The START refusal of the graph's rule, or null when every dependency is merged. */
  #dependencyRefusal(taskId: string, runtime: TaskRuntime): IllegalTransitionError | null {
    const unmerged = this.#unmergedDependencies(taskId);
    if (unmerged.length === 0) return null;
    const snapshot = runtime.actor.getSnapshot();
    return new IllegalTransitionError({
      taskId,
      status: snapshot.value,
      event: 'START',
      reason: 'dependenciesNotMerged',
      allowed: allowedEventTypes(snapshot).filter((type) => type !== 'START'),
      explanation: `START waits until every dependency is pr_merged, and ${describeUnmerged(unmerged)}`,
    });
  }

  /**
   * Applies one command to one task, then the blocking rule, all or nothing: if anything throws half-way, every task
   * it changed is put back. Records are delivered once the command is complete. Returns the ids changed.
   */
  #apply(
    taskId: string,
    event: TaskEventType,
    command: (runtime: TaskRuntime) => void,
    followUp?: (changed: Change[]) => string[],
  ): string[] {
    const runtime = this.#runtime(taskId);
    const index = this.graph.indexOf(taskId);
    return this.#reporting(() => {
      // Only a task with an unmerged dependency can be refused by the graph; its own refusal comes first.
      if (event === 'START' && this.#unmerged[index] !== 0 && runtime.can(START)) {
        const refusal = this.#dependencyRefusal(taskId, runtime);
        if (refusal !== null) this.#refuse(taskId, runtime, event, refusal);
      }
      if (event === 'REOPEN') {
        const refusal = this.#blockedRefusal(taskId, runtime);
        if (refusal !== null) this.#refuse(taskId, runtime, event, refusal);
      }
      const before = SETTLING_EVENTS.has(event) ? runtime.persist() : null;
      command(runtime);
      this.#noteStatus(taskId, index);
      if (event === 'PR_MERGED') this.#countMerge(taskId, -1);
      if (before === null) return [taskId];
      const changed: Change[] = [{ id: taskId, before }];
      try {
        const returned = followUp?.(changed) ?? [];
        const blocked = this.#settle([taskId, ...returned]);
        return [...new Set([taskId, ...returned, ...blocked])];
      } catch (error) {
        this.#rollBack(changed);
        throw error;
      }
    });
  }

  /** Tells the listeners about a refused command (once the command is over), then throws its error. */
  #refuse(
    taskId: string,
    runtime: TaskRuntime,
    event: TaskEventType,
    error: IllegalTransitionError | InvalidArgumentError,
  ): never {
    const reason = error instanceof IllegalTransitionError ? error.reason : 'invalidArgument';
    this.#heard.push({ taskId, status: runtime.status, event, reason, rejected: true });
    throw error;
  }

  /** Puts back every task in `changed`, latest first, and forgets the records heard meanwhile. */
  #rollBack(changed: readonly Change[]): void {
    for (const { id, before } of [...changed].reverse()) {
      this.#replace(id, TaskRuntime.restore(before, this.#options));
    }
    this.#heard = [];
  }

  /**
   * REOPEN of a finally failed task: the task's own reopen, its next attempt prepared, and every task it blocked,
   * transitively, returned to pending (see {@link TaskGraphRuntime.reopen}). Returns the ids changed.
   */
  #reopen(taskId: string, reason: string, options: ReopenOptions | undefined): string[] {
    const runtime = this.#runtime(taskId);
    this.#reporting(() => {
      try {
        checkReopenArguments(reason, options === undefined ? {} : options);
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error;
        this.#refuse(taskId, runtime, 'REOPEN', error);
      }
    });
    return this.#apply(
      taskId,
      'REOPEN',
      (runtime) => runtime.reopen(reason, options),
      (changed) => {
        this.#prepareNext(taskId);
        return this.#returnBlocked(taskId, reason, changed);
      },
    );
  }

  /** Prepares the task's next unused attempt (it is pending with its attempt used, after a reopen). */
  #prepareNext(taskId: string): void {
    const runtime = this.#runtime(taskId);
    runtime.prepareForAttempt(nextUnusedAttempt(runtime.actor.getSnapshot().context));
    this.#noteStatus(taskId);
  }

  /**
   * Returns to pending, with its next attempt prepared, every task blocked by `taskId` or by a task returned before
   * it (in topological order), giving back the attempt its block used. Notes each one's state before in `changed`.
   */
  #returnBlocked(taskId: string, reason: string, changed: Change[]): string[] {
    const returned: string[] = [];
    const reopened = new Set([taskId]);
    const queue = this.#topologicalQueue();
    queue.addAll(this.graph.dependentsOf(taskId));
    for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
      const blockedBy = blockedByOf(standingOf(this.#runtime(id)));
      if (blockedBy === null || !reopened.has(blockedBy)) continue;
      this.#unblock(id, reason, changed);
      reopened.add(id);
      returned.push(id);
      queue.addAll(this.graph.dependentsOf(id));
    }
    return returned;
  }

  /** Returns a blocked task to pending with its next attempt prepared, giving back the attempt its block used. */
  #unblock(id: string, reason: string, changed: Change[]): void {
    const runtime = this.#runtime(id);
    changed.push({ id, before: runtime.persist() });
    runtime.reopen(reason, { attempts: attemptsBeforeBlock(runtime.actor.getSnapshot().context) });
    this.#prepareNext(id);
  }

  /** A queue of task ids that pops them in topological order, each id at most once. */
  #topologicalQueue(): { addAll(ids: Iterable<string>): void; pop(): string | undefined } {
    const queue = new MinHeap<string>((a, b) => this.graph.indexOf(a) - this.graph.indexOf(b));
    const queued = new Set<string>();
    return {
      addAll(ids) {
        for (const id of ids) {
          if (queued.has(id)) continue;
          queued.add(id);
          queue.push(id);
        }
      },
      pop: () => queue.pop(),
    };
  }

  /**
   * The REOPEN refusal of a task that a dependency's final failure keeps from running: a blocked task (reopen what
   * blocked it), or a task failed on its own whose dependency failed finally since (reopened, it would be blocked
   * at once); null otherwise.
   */
  #blockedRefusal(taskId: string, runtime: TaskRuntime): IllegalTransitionError | null {
    if (runtime.status !== TaskStatus.FAILED) return null;
    const blockedByOwnBlock = blockedByOf(standingOf(runtime));
    const blockedBy = blockedByOwnBlock ?? this.#blocker(taskId) ?? null;
    if (blockedBy === null) return null;
    let root = blockedBy;
    for (let next = this.task(root).blockedBy; next !== null; next = this.task(root).blockedBy) {
      root = next;
    }
    const snapshot = runtime.actor.getSnapshot();
    const why =
      blockedByOwnBlock === null
        ? `its dependency '${blockedBy}' failed finally, so it would be blocked at once`
        : `it is blocked by its dependency '${blockedBy}'`;
    return new IllegalTransitionError({
      taskId,
      status: snapshot.value,
      event: 'REOPEN',
      reason: 'blockedByDependency',
      allowed: allowedEventTypes(snapshot).filter((type) => type !== 'REOPEN'),
      explanation: `${why}; reopen '${root}', which returns the tasks it blocked to pending`,
    });
  }

  /**
   * {@link GraphRunInternals.repair}: every task blocked by a task that is no longer a final failure returns to
   * pending (in topological order, so a chain returns whole), then the blocking rule is applied to every task.
   */
  #repair(): string[] {
    const returned: string[] = [];
    const changed: Change[] = [];
    try {
      for (const id of this.graph.taskIds) {
        const blockedBy = blockedByOf(standingOf(this.#runtime(id)));
        if (blockedBy === null || isFinalFailure(standingOf(this.#runtime(blockedBy)))) continue;
        const reason = `the block by '${blockedBy}' was lifted ('${blockedBy}' was reopened, and this task was not yet saved back to pending)`;
        this.#unblock(id, reason, changed);
        returned.push(id);
      }
      const blocked = this.#settle(this.graph.taskIds);
      const ids = new Set([...returned, ...blocked]);
      return this.graph.taskIds.filter((id) => ids.has(id));
    } catch (error) {
      this.#rollBack(changed);
      throw error;
    }
  }

  /** Runs `work`, then delivers the records heard meanwhile (none of them when it undid its changes). */
  #reporting<T>(work: () => T): T {
    this.#heard = [];
    try {
      return work();
    } finally {
      const heard = this.#heard;
      this.#heard = [];
      if (this.#listeners.size > 0) {
        for (const record of heard) notifyListeners(this.#listeners, record);
      }
    }
  }

  /**
   * Keeps the blocking invariant, starting from `ids`: a pending task with a finally failed dependency is failed as
   * blocked, and a final failure sends its dependents to be checked, in topological order, so only the tasks
   * downstream are visited. All or nothing: on an error every task blocked so far is put back.
   */
  #settle(ids: Iterable<string>): string[] {
    const queue = this.#topologicalQueue();
    queue.addAll(ids);
    const blocked: Change[] = [];
    try {
      for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
        const runtime = this.#runtime(id);
        const blocker = runtime.status === TaskStatus.PENDING ? this.#blocker(id) : undefined;
        if (blocker !== undefined) {
          blocked.push({ id, before: runtime.persist() });
          runtime.markFailed(blockedError(blocker), { retryable: false });
          this.#noteStatus(id);
        }
        if (isFinalFailure(standingOf(runtime))) queue.addAll(this.graph.dependentsOf(id));
      }
    } catch (error) {
      this.#rollBack(blocked);
      throw error;
    }
    return blocked.map(({ id }) => id);
  }

  #viewOf(taskId: string): TaskGraphTaskView {
    return new RunTaskView(
      () => this.#runtime(taskId),
      (runtime) => this.#canStart(taskId, runtime),
    );
  }
}

/**
 * A read-only view of one task of a run: its getters on the prototype (a view per task of a big run stays small),
 * each reading the task's current runtime.
 */
class RunTaskView implements TaskGraphTaskView {
  readonly #current: () => TaskRuntime;
  readonly #canStart: (runtime: TaskRuntime) => boolean;

  constructor(current: () => TaskRuntime, canStart: (runtime: TaskRuntime) => boolean) {
    this.#current = current;
    this.#canStart = canStart;
    Object.freeze(this);
  }

  get task(): Task {
    return this.#current().task;
  }

  get status(): TaskStatus {
    return this.#current().status;
  }

  get isTerminal(): boolean {
    return isTerminalStatus(this.#current().status);
  }

  get state(): TaskStateView {
    return this.#current().state;
  }

  get artifacts(): TaskArtifactsView {
    return this.#current().artifacts;
  }

  get attempts(): readonly AttemptRecord[] {
    return this.#current().attempts;
  }

  get blockedBy(): string | null {
    return blockedByOf(standingOf(this.#current()));
  }

  can(event: TaskEvent): boolean {
    const runtime = this.#current();
    if (isRecord(event) && event.type === 'START') return this.#canStart(runtime);
    return runtime.can(event);
  }
}

/** A task changed by a command, with its state before, to put back if the command fails half-way. */
interface Change {
  readonly id: string;
  readonly before: PersistedTaskRuntime;
}

/**
 * The counted attempts a blocked task had left before its block, to give back when it is returned: its block used
 * an attempt number (when it wrote a ledger record of its own) that did not run, so it must not count.
 */
function attemptsBeforeBlock(context: TaskContext): number {
  const limit = attemptLimit(context);
  if (limit === null) return 1;
  const last = context.attempts[context.attempts.length - 1];
  const blockUsedANumber =
    last?.attemptNum === context.attemptNum &&
    last.startedAt === null &&
    last.error === context.error;
  return Math.max(1, limit - context.attemptNum - (blockUsedANumber ? 0 : 1));
}

const restoring = Symbol('restoring');
type RestoringOptions = TaskGraphRuntimeOptions & {
  readonly [restoring]?: ReadonlyMap<string, TaskRuntime>;
};

/**
 * A run of `graph` that uses the given runtimes for their tasks and fresh ones for the others (unchecked against
 * the graph's rules; the runtimes must have been built with `options`).
 */
export function runWith(
  graph: TaskGraph,
  runtimes: ReadonlyMap<string, TaskRuntime>,
  options: TaskGraphRuntimeOptions,
): TaskGraphRuntime {
  const internal: RestoringOptions = { ...options, [restoring]: runtimes };
  return new TaskGraphRuntime(graph, internal);
}

function describeUnmerged(unmerged: readonly { id: string; status: TaskStatus }[]): string {
  const parts = unmerged.map(({ id, status }) => `'${id}' is ${status}`);
  return `${parts.length === 1 ? 'dependency' : 'dependencies'} ${parts.join(', ')}`;
}

/** Reads the shape of a persisted run and restores every task's snapshot; paths in errors start at the run. */
function readPersistedRun(snapshot: unknown, options: TaskGraphRuntimeOptions): TaskRuntime[] {
  if (!isRecord(snapshot)) {
    throw new SnapshotError(
      '',
      `must be a persisted task graph run, got ${describeValue(snapshot)}`,
    );
  }
  for (const key of Object.keys(snapshot)) {
    if (!['schemaVersion', 'kind', 'tasks'].includes(key))
      throw new SnapshotError(key, 'is not a known field');
  }
  if (snapshot.kind !== 'task-graph-run') {
    throw new SnapshotError(
      'kind',
      `must be 'task-graph-run', got ${describeValue(snapshot.kind)}`,
    );
  }
  const version = snapshot.schemaVersion;
  if (typeof version === 'number' && version > GRAPH_SNAPSHOT_SCHEMA_VERSION) {
    throw new SnapshotError(
      'schemaVersion',
      `is ${version}, newer than this version of task-runtime writes (${GRAPH_SNAPSHOT_SCHEMA_VERSION}): upgrade task-runtime`,
    );
  }
  if (version !== GRAPH_SNAPSHOT_SCHEMA_VERSION) {
    throw new SnapshotError(
      'schemaVersion',
      `must be ${GRAPH_SNAPSHOT_SCHEMA_VERSION}, got ${describeValue(version)}`,
    );
  }
  if (!Array.isArray(snapshot.tasks)) {
    throw new SnapshotError('tasks', `must be an array, got ${describeValue(snapshot.tasks)}`);
  }
  return snapshot.tasks.map((task: unknown, index) => {
    try {
      return TaskRuntime.restore(task, options);
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      throw new SnapshotError(
        `tasks[${index}]${error.path === '' ? '' : `.${error.path}`}`,
        error.problem,
      );
    }
  });
}

/** The graph of the restored tasks' specs; a spec list that is not a valid graph is a SnapshotError. */
function graphOf(runtimes: readonly TaskRuntime[]): TaskGraph {
  try {
    return TaskGraph.fromTasks(runtimes.map((runtime) => runtime.task));
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    throw new SnapshotError('tasks', `must form a valid task graph: ${error.message}`);
  }
}
