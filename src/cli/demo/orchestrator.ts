import { setTimeout as sleep } from 'node:timers/promises';
import {
  DurableTaskRuntime,
  type RejectionRecord,
  type TaskStore,
  TmuxAddress,
  type TransitionRecord,
} from '../../index.js';
import { CliError } from '../exit.js';
import { agentOutcome } from './agent.js';
import { SimulatedClock } from './clock.js';
import type { DemoPlan } from './graph.js';

/** What the orchestrator tells its audience (the live view or the plain log). */
export interface RunObserver {
  /** A remark about the run, e.g. a task recovered after a crash. */
  note(text: string): void;
  /** An accepted command, once it is saved. */
  transition(record: TransitionRecord, task: DurableTaskRuntime): void;
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

interface Job {
  readonly at: number;
  readonly seq: number;
  readonly task: DurableTaskRuntime;
  readonly step: 'work' | 'review';
  readonly slot: number;
}

/** Whether the run is done with `task`: merged, or failed with no retry left. */
export function isSettled(task: DurableTaskRuntime): boolean {
  return task.status === 'pr_merged' || (task.status === 'failed' && !task.can({ type: 'RETRY' }));
}

/** Whether `task` failed for good (out of attempts, or not retryable). */
function isDeadEnd(task: DurableTaskRuntime | undefined): boolean {
  return task !== undefined && task.status === 'failed' && !task.can({ type: 'RETRY' });
}

/**
 * A simulated orchestrator over a {@link DemoPlan}: agents work in simulated time (a discrete-event simulation,
 * so the same plan always gives the same history), and every step goes through a DurableTaskRuntime, saved
 * before the next one. Opened on a store holding an interrupted run, it carries on from there.
 */
export class DemoRun {
  /** The plan being run. */
  readonly plan: DemoPlan;
  /** The tasks, in dependency order. */
  readonly tasks: readonly DurableTaskRuntime[];
  /** The simulated time of the attempt ledgers. */
  readonly clock: SimulatedClock;
  readonly #observer: RunObserver;
  readonly #byId: ReadonlyMap<string, DurableTaskRuntime>;
  #jobs: Job[] = [];
  #seq = 0;

  private constructor(
    plan: DemoPlan,
    tasks: readonly DurableTaskRuntime[],
    clock: SimulatedClock,
    observer: RunObserver,
  ) {
    this.plan = plan;
    this.tasks = tasks;
    this.clock = clock;
    this.#observer = observer;
    this.#byId = new Map(tasks.map((task) => [task.task.id, task]));
  }

  /** Loads the plan's tasks from `store`, creating the missing ones; refuses a store holding other tasks. */
  static async open(store: TaskStore, plan: DemoPlan, observer: RunObserver): Promise<DemoRun> {
    const clock = new SimulatedClock();
    const options = { maxAttempts: plan.settings.maxAttempts, clock: clock.read };
    const tasks: DurableTaskRuntime[] = [];
    for (const spec of plan.tasks) {
      const task = await DurableTaskRuntime.open(store, spec, options);
      if (JSON.stringify(task.task) !== JSON.stringify(spec)) {
        throw new CliError(
          `Task '${spec.id}' in the store is not the one this demo run plans (another run or program wrote it). ` +
            'Add --fresh to delete the stored tasks and start over, or use another --dir.',
        );
      }
      tasks.push(task);
    }
    clock.resumeAfter(tasks.map((task) => task.attempts));
    const run = new DemoRun(plan, tasks, clock, observer);
    for (const task of tasks) {
      task.subscribe((record) => {
        if (record.rejected) observer.rejection(record);
        else observer.transition(record, task);
      });
    }
    return run;
  }

  /** Whether every task is settled (merged, or failed with no retry left). */
  get isFinished(): boolean {
    return this.tasks.every(isSettled);
  }

  /** Fails, as `worker lost`, every task found running or pr_created: its agent died with the last process. */
  async recoverLostWorkers(): Promise<void> {
    for (const task of this.tasks) {
      if (task.status !== 'running' && task.status !== 'pr_created') continue;
      this.#observer.note(
        `${task.task.id}: found ${task.status} (attempt ${task.state.attemptNum}) with no worker; failing it as 'worker lost'`,
      );
      await task.markFailed('worker lost');
    }
  }

  /** Runs the simulation until every task is settled, or until `signal` aborts (then returns 'interrupted'). */
  async execute({ delayMs, signal }: ExecuteOptions): Promise<'finished' | 'interrupted'> {
    for (;;) {
      if (signal.aborted) return 'interrupted';
      await this.#settle();
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
    const stuck = this.tasks.filter((task) => !isSettled(task)).map((task) => task.task.id);
    if (stuck.length > 0)
      throw new Error(`The demo stopped with unsettled tasks: ${stuck.join(', ')}`);
    return 'finished';
  }

  /** Retries, blocks and starts tasks until nothing more can happen at the current simulated time. */
  async #settle(): Promise<void> {
    for (const task of this.tasks) {
      if (task.status === 'failed' && task.can({ type: 'RETRY' })) {
        await task.resetForRetry();
        await task.prepareForAttempt(task.state.attemptNum + 1);
      }
      if (task.status !== 'pending') continue;
      const blocker = task.task.dependencies.find((id) => isDeadEnd(this.#byId.get(id)));
      if (blocker !== undefined) {
        await task.markFailed(`blocked: dependency ${blocker} failed`, { retryable: false });
      }
    }
    for (const task of this.tasks) {
      if (this.#jobs.length >= this.plan.settings.workers) return;
      const ready =
        task.status === 'pending' &&
        task.task.dependencies.every((id) => this.#byId.get(id)?.status === 'pr_merged');
      if (ready) await this.#start(task);
    }
  }

  async #start(task: DurableTaskRuntime): Promise<void> {
    if (!task.can({ type: 'START' })) await task.prepareForAttempt(task.state.attemptNum + 1);
    const attempt = task.state.attemptNum;
    const slot = this.#freeSlot();
    await task.assignWorktree({
      worktreePath: `/work/worktrees/${task.task.id}-${attempt}`,
      branchName: `task/${task.task.id}/attempt-${attempt}`,
    });
    await task.recordAgentAddress(new TmuxAddress('demo', `%${slot}`));
    await task.markRunning();
    const { workMinutes } = agentOutcome(this.plan, task.task.id, attempt);
    this.#schedule({ task, step: 'work', slot, at: this.clock.now + workMinutes * 60_000 });
  }

  async #advance(job: Job): Promise<void> {
    const { task } = job;
    const attempt = task.state.attemptNum;
    const outcome = agentOutcome(this.plan, task.task.id, attempt);
    if (outcome.failure?.step === job.step) {
      await task.markFailed(outcome.failure.error);
    } else if (job.step === 'work') {
      const index = this.tasks.indexOf(task);
      await task.markPrCreated(`https://github.com/acme/app/pull/${100 + index * 20 + attempt}`);
      this.#schedule({
        task,
        step: 'review',
        slot: job.slot,
        at: this.clock.now + outcome.reviewMinutes * 60_000,
      });
    } else {
      await task.markPrMerged();
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

  /** The task with `id`, if the plan has it. */
  get(id: string): DurableTaskRuntime | undefined {
    return this.#byId.get(id);
  }
}
