import { setTimeout as sleep } from 'node:timers/promises';
import { type ReadableTask, readStoredTask } from '../../graph/storedTasks.js';
import {
  DurableTaskGraphRuntime,
  type RejectionRecord,
  type TaskGraphTaskView,
  type TaskStore,
  TmuxAddress,
  type TransitionRecord,
} from '../../index.js';
import { agentOutcome } from './agent.js';
import { SimulatedClock } from './clock.js';
import type { DemoPlan } from './graph.js';

/** What the orchestrator tells its audience (the live view or the plain log). */
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
  /** Stops the run between two steps (everything done so far is saved). */
  readonly signal: AbortSignal;
}

/** The next thing a busy worker slot reports: the end of an agent's work (a PR or a failure), or of its review. */
interface Job {
  readonly at: number;
  readonly seq: number;
  readonly taskId: string;
  readonly step: 'work' | 'review';
  readonly slot: number;
}

/** Whether the run is done with `task`: merged, or failed with no retry left. */
export function isSettled(task: TaskGraphTaskView): boolean {
  return task.status === 'pr_merged' || (task.status === 'failed' && !task.can({ type: 'RETRY' }));
}

/** Whether the task's current attempt was used (it ran, or failed): the next one must be prepared to start. */
function isAttemptUsed(task: TaskGraphTaskView): boolean {
  return task.attempts.some((record) => record.attemptNum === task.state.attemptNum);
}

/**
 * A simulated orchestrator over a {@link DemoPlan}: agents work in simulated time in a few worker slots (a
 * discrete-event simulation, so the same plan always gives the same history). The graph's rules are the run's:
 * it starts only what `ready()` offers and blocks the dependents of a final failure itself. Every step is saved
 * before the next one, so a run opened on a store holding an interrupted run carries on from there.
 */
export class DemoRun {
  /** The plan being run. */
  readonly plan: DemoPlan;
  /** The graph run, saved in the store. */
  readonly run: DurableTaskGraphRuntime;
  /** Read-only views of the tasks, in the graph's topological order. */
  readonly tasks: readonly TaskGraphTaskView[];
  /** The simulated time of the attempt ledgers. */
  readonly clock: SimulatedClock;
  readonly #observer: RunObserver;
  #jobs: Job[] = [];
  #seq = 0;

  private constructor(
    plan: DemoPlan,
    run: DurableTaskGraphRuntime,
    clock: SimulatedClock,
    observer: RunObserver,
  ) {
    this.plan = plan;
    this.run = run;
    this.tasks = Object.freeze(run.graph.taskIds.map((id) => run.task(id)));
    this.clock = clock;
    this.#observer = observer;
  }

  /**
   * Opens the plan's run on `store`: loads the stored tasks, creates the missing ones, blocks what a crash left
   * unblocked. Throws InvalidArgumentError for a stored task that is not the plan's, SnapshotError for a damaged one.
   */
  static async open(store: TaskStore, plan: DemoPlan, observer: RunObserver): Promise<DemoRun> {
    const stored = new Map<string, ReadableTask>();
    for (const id of plan.graph.taskIds) {
      const entry = await readStoredTask(store, id);
      if (entry?.kind === 'task') stored.set(id, entry); // a damaged one is refused by open below
    }
    const clock = SimulatedClock.resumedAfter([...stored.values()].map((task) => task.lastChange));
    const run = await DurableTaskGraphRuntime.open(store, plan.graph, {
      maxAttempts: plan.settings.maxAttempts,
      clock: clock.read,
    });
    // `open` blocks what the last run's final failures left unblocked before anyone can listen: say so here.
    for (const id of plan.graph.taskIds) {
      const { blockedBy } = run.task(id);
      if (blockedBy !== null && (stored.get(id)?.blockedBy ?? null) === null) {
        observer.note(
          `${id}: blocked by ${blockedBy} on resume (its final failure was saved before the last run stopped, this block was not)`,
        );
      }
    }
    run.subscribe((record) => {
      if (record.rejected) observer.rejection(record);
      else observer.transition(record, run.task(record.taskId));
    });
    return new DemoRun(plan, run, clock, observer);
  }

  /** Whether every task is settled (merged, or failed with no retry left). */
  get isFinished(): boolean {
    return this.run.outcome !== 'in_progress';
  }

  /** Fails, as `worker lost`, every task found running or pr_created: its agent died with the last process. */
  async recoverLostWorkers(): Promise<void> {
    for (const task of this.tasks) {
      if (task.status !== 'running' && task.status !== 'pr_created') continue;
      this.#observer.note(
        `${task.task.id}: found ${task.status} (attempt ${task.state.attemptNum}) with no worker; failing it as 'worker lost'`,
      );
      await this.run.markFailed(task.task.id, 'worker lost');
    }
  }

  /** Runs the simulation until every task is settled, or until `signal` aborts (then returns 'interrupted'). */
  async execute({ delayMs, signal }: ExecuteOptions): Promise<'finished' | 'interrupted'> {
    for (;;) {
      if (signal.aborted) return 'interrupted';
      await this.#dispatch();
      const job = this.#jobs.shift();
      if (job === undefined) break;
      if (delayMs > 0) {
        try {
          await sleep(delayMs, undefined, { signal });
        } catch {
          this.#jobs.unshift(job);
          return 'interrupted';
        }
      }
      this.clock.now = job.at;
      await this.#advance(job);
    }
    if (!this.isFinished) {
      const open = this.tasks.filter((task) => !isSettled(task)).map((task) => task.task.id);
      throw new Error(`The demo stopped with unsettled tasks: ${open.join(', ')}`);
    }
    return 'finished';
  }

  /** Retries the failures that may be retried, then starts ready tasks while a worker slot is free. */
  async #dispatch(): Promise<void> {
    for (const task of this.tasks) {
      const id = task.task.id;
      if (task.status === 'failed' && task.can({ type: 'RETRY' })) await this.run.resetForRetry(id);
      if (task.status === 'pending' && isAttemptUsed(task)) {
        await this.run.prepareForAttempt(id, task.state.attemptNum + 1);
      }
    }
    for (const id of this.run.ready()) {
      if (this.#jobs.length >= this.plan.settings.workers) return;
      await this.#start(id);
    }
  }

  async #start(taskId: string): Promise<void> {
    const attempt = this.run.task(taskId).state.attemptNum;
    const slot = this.#freeSlot();
    await this.run.assignWorktree(taskId, {
      worktreePath: `/work/worktrees/${taskId}-${attempt}`,
      branchName: `task/${taskId}/attempt-${attempt}`,
    });
    await this.run.recordAgentAddress(taskId, new TmuxAddress('demo', `%${slot}`));
    await this.run.markRunning(taskId);
    const { workMinutes } = agentOutcome(this.plan, taskId, attempt);
    this.#schedule({ taskId, step: 'work', slot, at: this.clock.now + workMinutes * 60_000 });
  }

  async #advance(job: Job): Promise<void> {
    const { taskId } = job;
    const attempt = this.run.task(taskId).state.attemptNum;
    const outcome = agentOutcome(this.plan, taskId, attempt);
    if (outcome.failure?.step === job.step) {
      await this.run.markFailed(taskId, outcome.failure.error);
    } else if (job.step === 'work') {
      const index = this.run.graph.taskIds.indexOf(taskId);
      await this.run.markPrCreated(
        taskId,
        `https://github.com/acme/app/pull/${100 + index * 20 + attempt}`,
      );
      this.#schedule({
        taskId,
        step: 'review',
        slot: job.slot,
        at: this.clock.now + outcome.reviewMinutes * 60_000,
      });
    } else {
      await this.run.markPrMerged(taskId);
    }
  }

  #freeSlot(): number {
    const used = new Set(this.#jobs.map((job) => job.slot));
    let slot = 0;
    while (used.has(slot)) slot += 1;
    return slot;
  }

  /** Adds a job, keeping the list ordered by time, then by the order the jobs were scheduled. */
  #schedule(job: Omit<Job, 'seq'>): void {
    this.#seq += 1;
    const entry = { ...job, seq: this.#seq };
    const index = this.#jobs.findIndex(
      (other) => other.at > entry.at || (other.at === entry.at && other.seq > entry.seq),
    );
    if (index === -1) this.#jobs.push(entry);
    else this.#jobs.splice(index, 0, entry);
  }
}
