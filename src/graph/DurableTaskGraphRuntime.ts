import type { AgentAddress } from '../agent/AgentAddress.js';
import { ConflictError, IllegalTransitionError, LeaseLostError, SnapshotError } from '../errors.js';
import { TaskStatus } from '../machines/status.js';
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
import { runDigest } from '../store/runDigest.js';
import {
  type ChangedTask,
  canLoadChanged,
  isSharedRunStore,
  type RunTaskEntry,
  type SharedRunStore,
} from '../store/sharedRunStore.js';
import type { Lease, StoredTask, TaskStore } from '../store/TaskStore.js';
import { HeldLeases } from './HeldLeases.js';
import {
  checkSharedRunOptions,
  type DurableTaskGraphRuntimeOptions,
  type SharedRunOptions,
} from './sharedRunOptions.js';
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
/**
 * How many times in a row a shared run applies a command again after a save was refused without another worker's
 * newer save to show for it (a refusal that loads newer tasks is progress, and is not counted: several workers
 * blocking the same long list of dependents take turns at it for as long as it lasts).
 */
const MAX_STALLED_ROUNDS = 20;

interface SavedTask {
  readonly snapshot: PersistedTaskRuntime;
  readonly revision: number;
}

/** What a shared run tells its watchers (a GraphWorker) about changes it did not make itself. */
export type SharedRunEvent =
  /** Tasks other workers changed, now loaded (maybe none: leases may have run out meanwhile). */
  | { readonly type: 'followed'; readonly taskIds: readonly string[] }
  /** This worker's lease on the task was lost: another worker took it, or it ran out unrenewed. */
  | { readonly type: 'leaseLost'; readonly taskId: string }
  /** The store hinted that a task of the run may have become ready (PostgreSQL's NOTIFY); nothing was loaded. */
  | { readonly type: 'hinted' };

/** Listens to a shared run's {@link SharedRunEvent}s. */
export type SharedRunListener = (event: SharedRunEvent) => void;

/** Whether `error` is a store refusing a write because another worker wrote (or claimed) first. */
const isStaleWrite = (error: unknown): error is ConflictError | LeaseLostError =>
  error instanceof ConflictError || error instanceof LeaseLostError;

/** The statuses of an attempt in flight. */
export type InFlightStatus = typeof TaskStatus.RUNNING | typeof TaskStatus.PR_CREATED;

/** Whether a task in this status is an attempt in flight, which only its lease holder may change. */
const isLeasedStatus = (status: TaskStatus): status is InFlightStatus =>
  status === TaskStatus.RUNNING || status === TaskStatus.PR_CREATED;

/**
 * Loads the tasks (in one go from a store that tells what changed, else {@link LOADS_AT_ONCE} at a time); null for
 * one not stored.
 */
async function loadAll(store: TaskStore, ids: readonly string[]): Promise<(StoredTask | null)[]> {
  if (canLoadChanged(store)) {
    const found = await store.loadChanged(ids.map((taskId) => ({ taskId, revision: 0 })));
    const byId = new Map(found.map((change) => [change.taskId, change.stored]));
    return ids.map((id) => byId.get(id) ?? null);
  }
  const loaded: (StoredTask | null)[] = [];
  for (let start = 0; start < ids.length; start += LOADS_AT_ONCE) {
    const batch = ids.slice(start, start + LOADS_AT_ONCE);
    loaded.push(...(await Promise.all(batch.map((id) => store.load(id)))));
  }
  return loaded;
}

/** The options of each task's runtime: the run's, without those of a shared run. */
function taskOptionsOf(options: DurableTaskGraphRuntimeOptions): TaskGraphRuntimeOptions {
  const {
    workerId: _worker,
    leaseMs: _lease,
    followMs: _follow,
    runId: _run,
    ...taskOptions
  } = options;
  return taskOptions;
}

/** A shared run on a store that finds ready work itself: the store, and the run's id in it. */
interface RunInStore {
  readonly store: TaskStore & SharedRunStore;
  readonly runId: string;
}

/** The graph's tasks as a store registers a run: in topological order, each with a fresh task's snapshot. */
function runEntries(graph: TaskGraph, options: TaskGraphRuntimeOptions): RunTaskEntry[] {
  return graph.taskIds.map((taskId) => ({
    taskId,
    dependencies: graph.dependenciesOf(taskId),
    snapshot: new TaskRuntime(graph.task(taskId), options).persist(),
  }));
}

/** The run id of a graph opened without one: `graph-` and 32 hex digits of its digest. */
function defaultRunId(entries: readonly RunTaskEntry[]): string {
  return `graph-${runDigest(entries).toString('hex').slice(0, 32)}`;
}

/**
 * Registers the run in a store that finds ready work itself (creating its missing tasks in one transaction) and
 * loads every task in one read; null for other stores.
 */
async function openInStore(
  store: TaskStore,
  graph: TaskGraph,
  options: TaskGraphRuntimeOptions,
  shared: SharedRunOptions | null,
): Promise<{ readonly place: RunInStore; readonly loaded: (StoredTask | null)[] } | null> {
  if (shared === null || !isSharedRunStore(store)) return null;
  const entries = runEntries(graph, options);
  const runId = shared.runId ?? defaultRunId(entries);
  await store.openRun(runId, entries);
  return { place: { store, runId }, loaded: await loadAll(store, graph.taskIds) };
}

/**
 * A {@link TaskGraphRuntime} on a {@link TaskStore}: every task is stored under its own id, and every accepted
 * command — with the blocked dependents it implies — is saved before its promise resolves. Commands run one after
 * another in call order. `open` loads the stored tasks, creates the missing ones, and completes what a crash
 * interrupted (dependents of a final failure still pending are blocked then).
 *
 * Opened with a `workerId`, the run is *shared*: any number of processes open the same graph on the same store,
 * each with its own `workerId`. `markRunning` then claims the task's lease (refused with `claimedByAnotherWorker`
 * while another worker's is live) after checking its dependencies as stored; every save of a task in flight carries
 * the lease, which the run renews while it holds it; a write another worker made first is loaded and the command
 * judged again; and what other workers save is loaded every `followMs`, so `ready()` and `outcome` follow them.
 * @example
 * const store = await FileTaskStore.open('./.task-runtime');
 * const run = await DurableTaskGraphRuntime.open(store, TaskGraph.fromTasks(tasks), { maxAttempts: 3 });
 * for (const id of run.ready()) await run.markRunning(id); // each saved before it resolves
 */
export class DurableTaskGraphRuntime {
  /** The store every task is saved to. */
  readonly store: TaskStore;
  /** This worker's id in a shared run; null for a run of one process. */
  readonly workerId: string | null;
  readonly #options: TaskGraphRuntimeOptions;
  readonly #run: TaskGraphRuntime;
  readonly #internals: GraphRunInternals;
  readonly #saved: Map<string, SavedTask>;
  readonly #listeners = new Set<TaskListener>();
  readonly #shared: SharedRunOptions | null;
  /** The leases this worker holds (shared runs). */
  readonly #leases: HeldLeases | null;
  /** Each task's lease as last loaded or held (shared runs). */
  readonly #storedLeases = new Map<string, Lease | null>();
  readonly #watchers = new Set<SharedRunListener>();
  /** A shared run on a store that finds ready work itself (PostgreSQL); null otherwise. */
  readonly #inStore: RunInStore | null;
  /** Tasks claimReady just returned as stored: their START needs no reload of the task itself. */
  readonly #justClaimed = new Set<string>();
  /** Stops listening for the store's hints that a task became ready. */
  #stopListening: (() => Promise<void>) | null = null;
  #heard: TaskRecord[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  /** Set when a save failed after the command's own task was saved: blocked dependents wait to be saved. */
  #repairDue = false;
  #repaired: readonly string[] = Object.freeze([]);
  #followTimer: ReturnType<typeof setTimeout> | null = null;
  /** Set by a save that found the task created by another worker meanwhile (the blocking is then looked at again). */
  #adoptedCreation = false;
  /** Set by #adopt when a task it put in place is failed, or was: the blocking must be looked at again. */
  #adoptedFailure = false;
  #closed = false;

  private constructor(
    store: TaskStore,
    run: TaskGraphRuntime,
    saved: Map<string, SavedTask>,
    options: TaskGraphRuntimeOptions,
    shared: SharedRunOptions | null,
    inStore: RunInStore | null,
  ) {
    this.store = store;
    this.#inStore = inStore;
    this.#run = run;
    this.#internals = graphRunInternals(run);
    this.#saved = saved;
    this.#options = options;
    this.#shared = shared;
    this.workerId = shared?.workerId ?? null;
    this.#leases =
      shared === null
        ? null
        : new HeldLeases(store, shared.leaseMs, (taskId) =>
            this.#tell({ type: 'leaseLost', taskId }),
          );
    run.subscribe((record) => this.#heard.push(record));
  }

  /**
   * Loads the graph's tasks from `store`, creates the missing ones, and blocks (and saves) the pending dependents of
   * final failures that a crash left unblocked. With `options.workerId`, opens the run shared (see the class).
   * @throws {InvalidArgumentError} when a stored task's spec differs from the graph's (naming the task and the
   * field), or for a bad `workerId`, `leaseMs` or `followMs`.
   * @throws {SnapshotError} when a stored task cannot be restored, or its state breaks the graph's rules.
   */
  static async open(
    store: TaskStore,
    graph: TaskGraph,
    options: DurableTaskGraphRuntimeOptions = {},
  ): Promise<DurableTaskGraphRuntime> {
    requireGraph(graph);
    const shared = checkSharedRunOptions(options);
    const taskOptions = taskOptionsOf(options);
    const runtimes = new Map<string, TaskRuntime>();
    const saved = new Map<string, SavedTask>();
    const inStore = await openInStore(store, graph, taskOptions, shared);
    const loaded = inStore?.loaded ?? (await loadAll(store, graph.taskIds));
    graph.taskIds.forEach((id, index) => {
      const stored = loaded[index];
      if (stored === null || stored === undefined) return;
      const runtime = restoreStored(id, stored.snapshot, taskOptions);
      checkSameSpec(graph.task(id), runtime.task);
      runtimes.set(id, runtime);
      saved.set(id, { snapshot: runtime.persist(), revision: stored.revision });
    });
    const run = new DurableTaskGraphRuntime(
      store,
      runWith(graph, runtimes, taskOptions),
      saved,
      taskOptions,
      shared,
      inStore?.place ?? null,
    );
    graph.taskIds.forEach((id, index) => {
      run.#storedLeases.set(id, loaded[index]?.lease ?? null);
    });
    await run.#enqueue(async () => {
      await run.#reloadBlockers(graph.taskIds); // read one by one, a block may have been read before its cause
      run.#repaired = Object.freeze(await run.#complete());
    });
    if (shared !== null) {
      try {
        await run.#follow(shared.followMs);
      } catch (error) {
        run.close();
        throw error;
      }
    }
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

  /**
   * The task's lease as this run last saw it: held by this worker, or as last loaded (it may have run out since);
   * null when no worker holds it, and always null in a run of one process.
   */
  leaseOf(taskId: string): Lease | null {
    this.#internals.runtime(taskId);
    return this.#leases?.get(taskId) ?? this.#storedLeases.get(taskId) ?? null;
  }

  /** Whether this worker holds the task's lease (shared runs; false otherwise). */
  holdsLease(taskId: string): boolean {
    return this.#leases?.get(taskId) !== undefined;
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

  /**
   * Calls `listener` with what a shared run learns from outside: tasks other workers changed (once loaded), and
   * leases this worker lost. Returns the unsubscribe function. A run of one process tells nothing.
   */
  watch(listener: SharedRunListener): () => void {
    this.#watchers.add(listener);
    this.#followTimer?.ref(); // someone waits on the others now (see #follow)
    return () => {
      this.#watchers.delete(listener);
      if (this.#watchers.size === 0) this.#followTimer?.unref();
    };
  }

  /**
   * Shared runs: takes over a task whose worker is presumed lost — its lease ran out (or none is held) while it is
   * running or pr_created — by claiming it under a new fencing token. Resolves with the status it was found in
   * (this worker then holds its lease), or null when there is nothing to take over (a live lease elsewhere, or the
   * task moved on). A run of one process owns every task: it resolves with the status when running or pr_created.
   */
  takeOver(taskId: string): Promise<InFlightStatus | null> {
    this.#internals.runtime(taskId);
    return this.#enqueue(async () => {
      const leases = this.#leases;
      const shared = this.#shared;
      if (leases === null || shared === null) {
        const { status } = this.#internals.runtime(taskId);
        return isLeasedStatus(status) ? status : null;
      }
      if (leases.get(taskId) !== undefined) return null;
      const lease = await leases.claim(taskId, shared.workerId);
      if (lease === null) return null;
      await this.#reload([taskId]);
      const { status } = this.#internals.runtime(taskId);
      if (isLeasedStatus(status)) return status;
      await this.#release(taskId);
      return null;
    });
  }

  /** The run's id in a store that finds ready work itself (a shared run on PostgreSQL); null otherwise. */
  get runId(): string | null {
    return this.#inStore?.runId ?? null;
  }

  /**
   * Shared runs on a store that finds ready work itself (PostgreSQL): claims the run's first ready task as stored,
   * in one statement, and resolves with its id — this worker then holds its lease: start it with `markRunning`, or
   * give it back with `release`. Null when none is ready, and always for other stores (use `ready()` there).
   */
  claimReady(): Promise<string | null> {
    const inStore = this.#inStore;
    const shared = this.#shared;
    const leases = this.#leases;
    if (inStore === null || shared === null || leases === null) return Promise.resolve(null);
    return this.#enqueue(async () => {
      if (this.#closed) return null;
      const sentAt = Date.now();
      const claim = await inStore.store.claimReady(inStore.runId, shared.workerId, {
        leaseMs: shared.leaseMs,
      });
      if (claim === null) return null;
      leases.hold(claim.taskId, claim.lease, sentAt);
      this.#adopt([claim.taskId], [claim.stored]);
      this.#justClaimed.add(claim.taskId);
      return claim.taskId;
    });
  }

  /**
   * Shared runs: gives back this worker's lease on the task, unless the task is in flight (running or pr_created
   * only end by a command of their holder, or by a takeover once the lease ran out). For a task claimed and not
   * started. Resolves false when no lease was given back.
   */
  release(taskId: string): Promise<boolean> {
    this.#internals.runtime(taskId);
    return this.#enqueue(async () => {
      this.#justClaimed.delete(taskId);
      if (this.#leases?.get(taskId) === undefined) return false;
      if (isLeasedStatus(this.#internals.runtime(taskId).status)) return false;
      await this.#release(taskId);
      return true;
    });
  }

  /**
   * Shared runs: stops acting on the task — its lease is given back (or, when the store cannot be reached, left to
   * run out) so that any worker takes it over — after a failure of the store left its attempt in doubt.
   */
  abandon(taskId: string): Promise<void> {
    this.#internals.runtime(taskId);
    return this.#enqueue(() => this.#release(taskId));
  }

  /**
   * Stops following other workers and renewing leases (a shared run): the watchers hear `leaseLost` for each lease
   * still held, which then runs out by itself. The store stays open. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#followTimer !== null) clearTimeout(this.#followTimer);
    this.#followTimer = null;
    this.#leases?.close(); // tells the watchers of each lease still held: their attempts must stop
    this.#closed = true;
    void this.#stopListening?.().catch(() => undefined);
    this.#stopListening = null;
  }

  /** {@link TaskGraphRuntime.prepareForAttempt}, saved. */
  prepareForAttempt(taskId: string, attemptNum: number): Promise<void> {
    return this.#apply(taskId, 'PREPARE_ATTEMPT', (runtime) =>
      runtime.prepareForAttempt(attemptNum),
    );
  }

  /**
   * {@link TaskGraphRuntime.markRunning}, saved. In a shared run, the task and its unmerged dependencies are loaded
   * first, then its lease is claimed: refused with `claimedByAnotherWorker` while another worker's lease is live.
   */
  markRunning(taskId: string): Promise<void> {
    const shared = this.#shared;
    const leases = this.#leases;
    if (shared === null || leases === null) {
      return this.#apply(taskId, 'START', (runtime) => runtime.markRunning());
    }
    const start = () =>
      this.#internals.apply(taskId, 'START', (runtime) =>
        runtime.markRunning({ workerId: shared.workerId }),
      );
    return this.#enqueue(async () => {
      try {
        const unmerged = this.graph
          .dependenciesOf(taskId)
          .filter((id) => this.#internals.runtime(id).status !== TaskStatus.PR_MERGED);
        // A task claimReady just returned is as stored (a change since meets START's save and is judged then).
        const toLoad = this.#justClaimed.delete(taskId) ? unmerged : [taskId, ...unmerged];
        if (toLoad.length > 0) await this.#reload(toLoad);
        if (!this.#internals.startable(taskId)) await this.#applyAndSave(start); // refused
        if (leases.get(taskId) === undefined) {
          const lease = await leases.claim(taskId, shared.workerId);
          if (lease === null) this.#refuseClaimed(taskId, 'START');
        }
        await this.#applyAndSave(start);
      } catch (error) {
        // A lease claimed for the start (here, or by claimReady) is given back unless the task is in flight.
        if (!isLeasedStatus(this.#internals.runtime(taskId).status)) await this.#release(taskId);
        throw error;
      }
    });
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

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #apply(
    taskId: string,
    event: TaskEventType,
    command: (runtime: TaskRuntime) => void,
  ): Promise<void> {
    return this.#change(() => {
      this.#requireLease(taskId, event);
      return this.#internals.apply(taskId, event, command);
    });
  }

  /** Applies a command of the run in memory (it returns the ids it changed), then saves them, in call order. */
  #change(apply: () => string[]): Promise<void> {
    return this.#enqueue(() => this.#applyAndSave(apply));
  }

  /**
   * Applies the command and saves what it changed. In a shared run, when another worker saved one of those tasks
   * first, the tasks are loaded as stored and the command is judged again on them (it may now be refused); when
   * only blocked dependents were saved first, the blocking is completed from what is stored.
   */
  async #applyAndSave(apply: () => string[]): Promise<void> {
    for (let stalled = 0; ; ) {
      if (this.#repairDue) await this.#complete();
      this.#heard = [];
      let changed: string[];
      try {
        changed = apply();
      } catch (error) {
        for (const record of this.#heard) notifyListeners(this.#listeners, record);
        throw error;
      }
      const heard = this.#heard;
      const { saved, adopted } = await this.#save(changed, stalled === MAX_STALLED_ROUNDS);
      if (saved < changed.length && adopted === 0) stalled += 1;
      if (saved === 0 && changed.length > 0) continue; // judged again on what is stored now
      if (saved < changed.length) await this.#complete();
      for (const record of heard) notifyListeners(this.#listeners, record);
      return;
    }
  }

  /** Refuses a command on a task in flight unless this worker holds its lease (shared runs). */
  #requireLease(taskId: string, event: TaskEventType): void {
    if (this.#leases === null) return;
    const { status } = this.#internals.runtime(taskId);
    if (isLeasedStatus(status) && this.#leases.get(taskId) === undefined) {
      this.#refuseClaimed(taskId, event);
    }
  }

  /** Throws the refusal of a task whose lease another worker holds (and tells the listeners). */
  #refuseClaimed(taskId: string, event: TaskEventType): never {
    const { status } = this.#internals.runtime(taskId);
    const lease = this.#storedLeases.get(taskId) ?? null;
    const until = `(until ${lease?.expiresAt} when last seen)`;
    const holder =
      lease === null
        ? 'another worker holds its lease'
        : lease.workerId === this.workerId
          ? `another process with this worker's id '${lease.workerId}' holds its lease ${until}: give each process an id of its own`
          : `worker '${lease.workerId}' holds its lease ${until}`;
    const error = new IllegalTransitionError({
      taskId,
      status,
      event,
      reason: 'claimedByAnotherWorker',
      allowed: [],
      explanation: `${holder}; this worker moves on`,
    });
    notifyListeners(this.#listeners, {
      taskId,
      status,
      event,
      reason: 'claimedByAnotherWorker',
      rejected: true,
    });
    throw error;
  }

  /**
   * Blocks what a crash or a failed save left unblocked, and saves it together with the tasks never stored.
   * Returns the ids it blocked, in topological order.
   */
  async #complete(): Promise<string[]> {
    for (let stalled = 0; ; ) {
      this.#heard = [];
      const repaired = this.#internals.repair();
      const blocked = new Set(repaired);
      for (const id of this.graph.taskIds) {
        const problem = this.#internals.brokenRule(id);
        if (problem !== null) throw new SnapshotError('status', problem, id);
      }
      const unsaved = this.graph.taskIds.filter((id) => blocked.has(id) || !this.#saved.has(id));
      const heard = this.#heard;
      this.#adoptedCreation = false;
      const { saved, adopted } = await this.#save(unsaved, stalled === MAX_STALLED_ROUNDS);
      if (saved < unsaved.length && adopted === 0) stalled += 1;
      if (saved === unsaved.length && !this.#adoptedCreation) {
        this.#repairDue = false;
        for (const record of heard) notifyListeners(this.#listeners, record);
        return repaired;
      }
    }
  }

  /**
   * Saves the tasks in order, each with the revision it expects (and its lease when held), and resolves with how
   * many were saved. When a save fails, every task not saved yet goes back to its stored state (a task never stored
   * is put back to a fresh one). In a shared run, a save refused because another worker wrote first (and not in
   * the `last` round) loads that task and the rest as stored, and resolves with its index and how many of them were
   * newer; any other failure throws, and the next command completes the blocking first. Tasks no longer in flight
   * give their leases back with their saves.
   */
  async #save(ids: readonly string[], last: boolean): Promise<{ saved: number; adopted: number }> {
    for (const [index, id] of ids.entries()) {
      const runtime = this.#internals.runtime(id);
      const snapshot = runtime.persist();
      const lease = this.#leases?.get(id);
      const expectedRevision = this.#saved.get(id)?.revision ?? null;
      // A task no longer in flight gives its lease back with this save.
      const releaseLease = lease !== undefined && !isLeasedStatus(runtime.status);
      const setAside = releaseLease ? this.#leases?.setAside(id) : undefined;
      try {
        const revision = await this.store.save(id, snapshot, {
          expectedRevision,
          ...(lease === undefined ? {} : { lease, releaseLease }),
        });
        this.#saved.set(id, { snapshot, revision });
      } catch (error) {
        if (setAside !== undefined) this.#leases?.putBack(id, setAside);
        if (this.#shared !== null && error instanceof ConflictError && expectedRevision === null) {
          // Another worker opening the run created the task first: its copy is the task.
          this.#rollBack(id);
          await this.#reload([id]);
          this.#adoptedCreation = true;
          continue;
        }
        for (const rest of ids.slice(index)) this.#rollBack(rest);
        if (error instanceof LeaseLostError) this.#leases?.lost(id);
        if (this.#shared !== null && isStaleWrite(error) && !last) {
          const adopted = await this.#reload(ids.slice(index)); // others may have written the rest as well
          return { saved: index, adopted: adopted.length };
        }
        if (index > 0) this.#repairDue = true;
        throw error;
      }
    }
    return { saved: ids.length, adopted: 0 };
  }

  /** Gives the task's lease back; a store failing to take it is let be (the lease runs out by itself). */
  async #release(taskId: string): Promise<void> {
    try {
      await this.#leases?.release(taskId);
    } catch {
      this.#leases?.forget(taskId);
    }
  }

  /**
   * Loads the tasks and puts in place those another worker saved since this run last saw them, with the blockers
   * they name (see {@link DurableTaskGraphRuntime.#reloadBlockers}). Returns their ids.
   */
  async #reload(ids: readonly string[]): Promise<string[]> {
    const adopted = (await this.#fetch(ids))();
    return [...adopted, ...(await this.#reloadBlockers(adopted))];
  }

  /**
   * Reloads the dependencies that blocked any of `ids` and that this run does not know as failed for good. A block
   * is saved after the failure that caused it, so that failure is stored by now; a run that put the block in place
   * without it would take the block for one a reopen left behind, and lift it. Returns the ids put in place.
   */
  async #reloadBlockers(ids: readonly string[]): Promise<string[]> {
    const blockers = this.#internals.blockersNotFailed(ids);
    return blockers.length === 0 ? [] : this.#reload(blockers);
  }

  /**
   * Reads the tasks as stored — on a store that finds ready work itself, only what changed, in one statement — and
   * resolves with the function that puts in place those newer than this run's (returning their ids), to be called
   * when the run may change.
   */
  async #fetch(ids: readonly string[]): Promise<() => string[]> {
    const { store } = this;
    if (!canLoadChanged(store)) {
      const loaded = await loadAll(store, ids);
      return () => this.#adopt(ids, loaded);
    }
    const changes = await store.loadChanged(this.#known(ids));
    return () => this.#adoptChanges(ids, changes);
  }

  /** The tasks with the revisions this run last saved or loaded, for {@link SharedRunStore.loadChanged}. */
  #known(ids: readonly string[]): { taskId: string; revision: number }[] {
    return ids.map((taskId) => ({ taskId, revision: this.#saved.get(taskId)?.revision ?? 0 }));
  }

  /** Puts in place the stored tasks newer than this run's; returns their ids. */
  #adopt(ids: readonly string[], loaded: readonly (StoredTask | null)[]): string[] {
    const changed: string[] = [];
    ids.forEach((id, index) => {
      const stored = loaded[index];
      if (stored === null || stored === undefined) return;
      this.#storedLeases.set(id, stored.lease);
      if (stored.revision <= (this.#saved.get(id)?.revision ?? 0)) return;
      const runtime = restoreStored(id, stored.snapshot, this.#options);
      checkSameSpec(this.graph.task(id), runtime.task);
      const before = this.#internals.runtime(id).status;
      if (before === TaskStatus.FAILED || runtime.status === TaskStatus.FAILED) {
        this.#adoptedFailure = true;
      }
      this.#internals.replace(id, runtime);
      this.#saved.set(id, { snapshot: runtime.persist(), revision: stored.revision });
      changed.push(id);
    });
    return changed;
  }

  /**
   * Every `followMs`, loads what other workers saved (tasks merged are never loaded again) and tells the watchers;
   * on a store that finds ready work itself, in one read of what changed. Its hints that a task became ready are
   * passed on to the watchers at once.
   */
  async #follow(followMs: number): Promise<void> {
    const tick = async (): Promise<void> => {
      try {
        const ids = this.graph.taskIds.filter(
          (id) => this.#internals.runtime(id).status !== TaskStatus.PR_MERGED,
        );
        const changed = await this.#loadChanged(ids);
        if (!this.#closed) this.#tell({ type: 'followed', taskIds: changed });
      } catch {
        // The store failed this time (the commands report such failures); look again at the next tick.
      }
      if (!this.#closed) schedule();
    };
    const schedule = (): void => {
      this.#followTimer = setTimeout(() => void tick(), followMs);
      // Someone waiting on the others (a GraphWorker) keeps the process alive; a forgotten run does not.
      if (this.#watchers.size === 0) this.#followTimer.unref();
    };
    schedule();
    const inStore = this.#inStore;
    if (inStore !== null) {
      // A hint needs no look at the store: the worker claims ready work from the store itself.
      this.#stopListening = await inStore.store.listenReady(inStore.runId, () => {
        if (!this.#closed) this.#tell({ type: 'hinted' });
      });
    }
  }

  /** Loads what others changed among `ids`, puts it in place in call order, and completes the blocking it implies. */
  async #loadChanged(ids: readonly string[]): Promise<string[]> {
    const adopt = await this.#fetch(ids);
    return this.#enqueue(async () => {
      this.#adoptedFailure = false;
      const adopted = adopt();
      if (adopted.length === 0) return adopted;
      adopted.push(...(await this.#reloadBlockers(adopted)));
      // Only a failure (or the end of one) can leave blocking to do; anything else is checked task by task.
      if (this.#adoptedFailure || this.#repairDue) await this.#complete();
      else this.#checkRules(adopted);
      return adopted;
    });
  }

  /** Refuses tasks whose state, as loaded, breaks a rule of the graph (a task started before a dependency merged). */
  #checkRules(ids: readonly string[]): void {
    for (const id of ids) {
      const problem = this.#internals.brokenRule(id);
      if (problem !== null) throw new SnapshotError('status', problem, id);
    }
  }

  /**
   * Puts in place what {@link SharedRunStore.loadChanged} found among `ids`: newer tasks, and every task's lease
   * (none, for a task it did not list). Returns the ids of the tasks put in place.
   */
  #adoptChanges(ids: readonly string[], changes: readonly ChangedTask[]): string[] {
    const byId = new Map(changes.map((change) => [change.taskId, change]));
    const newer: string[] = [];
    const stored: StoredTask[] = [];
    for (const id of ids) {
      const change = byId.get(id);
      this.#storedLeases.set(id, change?.lease ?? null);
      if (change?.stored) {
        newer.push(id);
        stored.push(change.stored);
      }
    }
    return this.#adopt(newer, stored);
  }

  #tell(event: SharedRunEvent): void {
    for (const watcher of [...this.#watchers]) watcher(event);
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
