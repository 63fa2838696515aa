import { type ReadableTask, readStoredTask } from '../../graph/storedTasks.js';
import {
  DurableTaskGraphRuntime,
  GraphWorker,
  isSharedRunStore,
  type RejectionRecord,
  type SharedRunStore,
  type TaskGraphTaskView,
  type TaskStore,
  type TransitionRecord,
} from '../../index.js';
import { simulatedAgents } from './agents.js';
import { SimulatedClock } from './clock.js';
import type { DemoPlan } from './graph.js';

/** What the demo tells its audience (the live view or the plain log). */
export interface RunObserver {
  /** A remark about the run, e.g. a task recovered after a crash. */
  note(text: string): void;
  /** An accepted command, once it is saved (a dependent the run blocked included). */
  transition(record: TransitionRecord, task: TaskGraphTaskView): void;
  /** A refused command (none is expected; shown if it happens). */
  rejection(record: RejectionRecord): void;
}

/** How {@link DemoRun.execute} runs. */
export interface ExecuteOptions {
  /** Real milliseconds to wait per simulated step. */
  readonly delayMs: number;
  /** Stops the run: no new attempt starts, the attempts in flight finish their current step, all of it saved. */
  readonly signal: AbortSignal;
}

/** How a demo process takes part in a run shared by several processes (see `DurableTaskGraphRuntime.open`). */
export interface SharedDemo {
  /** This process's worker id, e.g. `worker-2`: its leases and ledger records carry it. */
  readonly workerId: string;
  /** How long a task's lease lasts without renewal, in ms. */
  readonly leaseMs: number;
  /** How often the run loads what the other workers saved, in ms. */
  readonly followMs: number;
}

/** The latest start or end time in the task's attempt ledger, or null when it has none. */
function lastChangeOf(task: TaskGraphTaskView): string | null {
  let latest: string | null = null;
  for (const { startedAt, endedAt } of task.attempts) {
    for (const time of [startedAt, endedAt]) {
      if (time !== null && (latest === null || Date.parse(time) > Date.parse(latest))) {
        latest = time;
      }
    }
  }
  return latest;
}

/** Whether the run is done with `task`: merged, or failed with no retry left. */
export function isSettled(task: TaskGraphTaskView): boolean {
  return task.status === 'pr_merged' || (task.status === 'failed' && !task.can({ type: 'RETRY' }));
}

/**
 * `store` itself, counting the saves under way (the simulation moves on only once none is), calling `onSaved` after
 * each. A store that serves shared runs itself (PostgreSQL) keeps doing so through it.
 */
function countingSaves(
  store: TaskStore,
  onSaved: () => void,
): { store: TaskStore; saving: () => number } {
  let saving = 0;
  const counted: TaskStore = {
    async save(...args) {
      saving += 1;
      try {
        return await store.save(...args);
      } finally {
        saving -= 1;
        onSaved();
      }
    },
    load: (...args) => store.load(...args),
    delete: (...args) => store.delete(...args),
    list: () => store.list(),
    claim: (...args) => store.claim(...args),
    renew: (...args) => store.renew(...args),
    release: (...args) => store.release(...args),
    listExpired: () => store.listExpired(),
    close: () => store.close(),
  };
  if (isSharedRunStore(store)) {
    const shared: TaskStore & SharedRunStore = {
      ...counted,
      openRun: (...args) => store.openRun(...args),
      claimReady: (...args) => store.claimReady(...args),
      listenReady: (...args) => store.listenReady(...args),
      loadChanged: (...args) => store.loadChanged(...args),
    };
    return { store: shared, saving: () => saving };
  }
  return { store: counted, saving: () => saving };
}

/**
 * The demo: a {@link GraphWorker} executes a {@link DemoPlan}'s run on a {@link DurableTaskGraphRuntime}, with
 * simulated agents as its handlers (see `agents.ts`). The agents work in simulated time, which moves to the next
 * agent's moment only once the worker has nothing else to do, so the same plan always gives the same history.
 * Every step is saved before the next one, and a run opened on a store holding an interrupted run carries on from
 * there: the worker recovers what the last process left running or in review.
 *
 * Opened {@link SharedDemo shared}, it is one of several processes working the same run: its clock waits only
 * for its own agents, and moves up to the times the other workers saved, so that what it does after seeing their
 * work is stamped after it. Which worker takes which task is then a race, so the history is no longer the same on
 * every run.
 */
export class DemoRun {
  /** The plan being run. */
  readonly plan: DemoPlan;
  /** The graph run, saved in the store. */
  readonly run: DurableTaskGraphRuntime;
  /** Read-only views of the tasks, in the graph's topological order. */
  readonly tasks: readonly TaskGraphTaskView[];
  /** The simulated time of the attempt ledgers and the agents. */
  readonly clock: SimulatedClock;
  readonly #observer: RunObserver;
  readonly #saving: () => number;
  readonly #shared: SharedDemo | null;
  #stepping = false;
  #stopping = false;
  #delayMs = 0;

  private constructor(
    plan: DemoPlan,
    run: DurableTaskGraphRuntime,
    clock: SimulatedClock,
    observer: RunObserver,
    saving: () => number,
    shared: SharedDemo | null,
  ) {
    this.plan = plan;
    this.run = run;
    this.tasks = Object.freeze(run.graph.taskIds.map((id) => run.task(id)));
    this.clock = clock;
    this.#observer = observer;
    this.#saving = saving;
    this.#shared = shared;
  }

  /**
   * Opens the plan's run on `store`: loads the stored tasks, creates the missing ones, blocks what a crash left
   * unblocked; `shared` opens it as one worker of a run shared by several processes. Throws InvalidArgumentError for
   * a stored task that is not the plan's, SnapshotError for a damaged one.
   */
  static async open(
    store: TaskStore,
    plan: DemoPlan,
    observer: RunObserver,
    shared: SharedDemo | null = null,
  ): Promise<DemoRun> {
    const stored: ReadableTask[] = [];
    for (const id of plan.graph.taskIds) {
      const entry = await readStoredTask(store, id);
      if (entry?.kind === 'task') stored.push(entry); // a damaged one is refused by open below
    }
    const clock = SimulatedClock.resumedAfter(stored.map((task) => task.lastChange));
    let stepSoon = (): void => undefined;
    const counted = countingSaves(store, () => stepSoon());
    const run = await DurableTaskGraphRuntime.open(counted.store, plan.graph, {
      maxAttempts: plan.settings.maxAttempts,
      clock: clock.read,
      ...(shared ?? {}),
    });
    for (const id of run.repaired) {
      const { blockedBy } = run.task(id);
      observer.note(
        blockedBy === null
          ? `${id}: returned to pending on resume (the reopen that freed it was interrupted before it was saved)`
          : `${id}: blocked by ${blockedBy} on resume (its final failure was saved before the last run stopped, this block was not)`,
      );
    }
    const opened = new DemoRun(plan, run, clock, observer, counted.saving, shared);
    stepSoon = () => opened.#stepSoon();
    clock.onSleep = stepSoon;
    run.subscribe((record) => {
      // In a shared run a refusal is another worker having been first (it claimed, retried or blocked the task):
      // the worker moves on, as it should.
      if (record.rejected && shared !== null) return;
      if (record.rejected) observer.rejection(record);
      else observer.transition(record, run.task(record.taskId));
    });
    return opened;
  }

  /** Whether every task is settled (merged, or failed with no retry left). */
  get isFinished(): boolean {
    return this.run.outcome !== 'in_progress';
  }

  /**
   * Runs the worker until every task is settled, or until `signal` aborts (then returns 'interrupted' once the
   * attempts in flight finished their current step). First the worker recovers what a killed run left behind.
   */
  async execute({ delayMs, signal }: ExecuteOptions): Promise<'finished' | 'interrupted'> {
    this.#delayMs = delayMs;
    const worker = new GraphWorker(this.run, {
      ...simulatedAgents(this.plan, this.clock, this.#shared?.workerId),
      concurrency: this.plan.settings.workers,
      retryDelayMs: 0, // the simulated agents are retried at once, in simulated time
    });
    worker.subscribe((event) => {
      if (event.type === 'recovered') {
        const { taskId, status } = event;
        const attempt = this.run.task(taskId).state.attemptNum;
        this.#observer.note(
          status === 'running'
            ? `${taskId}: found running (attempt ${attempt}) with no worker${this.#noWorker(taskId)}; failing it as a lost attempt ('worker lost', not counted) and retrying it`
            : `${taskId}: found pr_created (attempt ${attempt}) with no worker${this.#noWorker(taskId)}; its PR exists, so it waits for the merge again`,
        );
      }
      this.#stepSoon();
    });
    const stop = () => {
      this.#stopping = true;
      this.#stepSoon();
    };
    signal.addEventListener('abort', stop, { once: true });
    if (signal.aborted) stop();
    // Shared: what the other workers saved moves this clock up to its time, and may free this worker's agents.
    const unwatch =
      this.#shared === null
        ? () => undefined
        : this.run.watch((event) => {
            if (event.type === 'followed') {
              for (const id of event.taskIds) {
                const time = lastChangeOf(this.run.task(id));
                if (time !== null) this.clock.observe(time);
              }
            }
            this.#stepSoon();
          });
    try {
      const outcome = await worker.run({ signal });
      if (outcome !== 'in_progress') return 'finished';
      if (signal.aborted) return 'interrupted';
      throw new Error('The demo stopped with unsettled tasks');
    } finally {
      unwatch();
      signal.removeEventListener('abort', stop);
    }
  }

  /** In a shared run, the worker that left the task (its lease ran out), as a phrase; else nothing. */
  #noWorker(taskId: string): string {
    if (this.#shared === null) return '';
    const worker = this.run.task(taskId).attempts.at(-1)?.workerId ?? null;
    return worker === null ? '' : ` (${worker}'s lease ran out)`;
  }

  /**
   * Whether this process works on the task or owes it its next step: always in a run of its own; in a shared run,
   * when it holds the task's lease, or (a failure to retry, a retry to prepare) the task's last attempt was its own.
   */
  #isMine(task: TaskGraphTaskView): boolean {
    const shared = this.#shared;
    if (shared === null) return true;
    const id = task.task.id;
    if (this.run.holdsLease(id)) return true;
    if (task.status === 'running' || task.status === 'pr_created') return false;
    return task.attempts.at(-1)?.workerId === shared.workerId;
  }

  /**
   * Whether the worker waits only for the agents: no save under way, every running or in-review task's agent
   * asleep, no failure waiting for its retry, and no free slot with a task ready for it. Stopping, the worker
   * starts nothing new, so only the agents at work count. In a shared run only this worker's tasks count: the
   * others' wait for their own clocks.
   */
  #waitsForAgents(): boolean {
    if (this.#saving() > 0) return false;
    for (const task of this.tasks) {
      if (!this.#isMine(task)) continue;
      const { status } = task;
      const id = task.task.id;
      if (status === 'running' && !this.clock.isAsleep(id)) return false;
      if (this.#stopping) continue;
      if (status === 'pr_created' && !this.clock.isAsleep(id)) return false;
      if (status === 'failed' && task.can({ type: 'RETRY' })) return false;
      if (
        status === 'pending' &&
        task.attempts.some((r) => r.attemptNum === task.state.attemptNum)
      ) {
        return false; // retried, its next attempt not prepared yet
      }
    }
    return (
      this.#stopping ||
      this.clock.sleeping >= this.plan.settings.workers ||
      this.run.ready().length === 0
    );
  }

  /** Wakes the next agent once the worker waits only for the agents (after `delayMs` of real time). */
  #stepSoon(): void {
    if (this.#stepping) return;
    this.#stepping = true;
    const step = () => {
      this.#stepping = false;
      if (this.#waitsForAgents()) this.clock.advance();
    };
    if (this.#delayMs > 0) setTimeout(step, this.#delayMs);
    else setImmediate(step);
  }
}
