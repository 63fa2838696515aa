import type { AgentAddress } from '../agent/AgentAddress.js';
import { IllegalTransitionError, InvalidArgumentError, TaskStoreError } from '../errors.js';
import {
  DurableTaskGraphRuntime,
  type InFlightStatus,
  type SharedRunEvent,
} from '../graph/DurableTaskGraphRuntime.js';
import type { RunOutcome, TaskGraphRuntime, TaskGraphTaskView } from '../graph/TaskGraphRuntime.js';
import { nextUnusedAttempt } from '../machines/refusal.js';
import { TaskStatus } from '../machines/status.js';
import type { TaskEvent } from '../machines/taskMachine.js';
import type { TaskRecord } from '../runtime/records.js';
import type { WorkstreamAssignment, WorktreeAssignment } from '../runtime/TaskRuntime.js';
import { Attempt } from './Attempt.js';
import { type AttemptCommand, type AttemptContext, AttemptEndedError } from './AttemptContext.js';
import type { GraphWorkerEvent } from './events.js';
import { type AttemptFailure, failureOf, prUrlProblem } from './failure.js';
import type { CheckedOptions } from './options.js';
import { afterDelay } from './timer.js';

/** A run a worker executes: in memory (commands return at once) or durable (commands resolve once saved). */
export type GraphWorkerRun = TaskGraphRuntime | DurableTaskGraphRuntime;

const RETRY: TaskEvent = Object.freeze({ type: 'RETRY' });

/** A retry waiting for its delay: of the failed attempt `failedAttempt`, starting attempt `attemptNum`. */
interface ScheduledRetry {
  readonly failedAttempt: number;
  readonly attemptNum: number;
  due: boolean;
  cancel: () => void;
}

/** Whether a command's error is the run refusing it (nothing changed) rather than the store failing. */
function isRefusal(error: unknown): boolean {
  return error instanceof IllegalTransitionError || error instanceof InvalidArgumentError;
}

/** Whether a command was refused because another worker of a shared run holds the task's lease. */
function isClaimedElsewhere(error: unknown): boolean {
  return error instanceof IllegalTransitionError && error.reason === 'claimedByAnotherWorker';
}

/** The shared run, when `run` is one (opened with a workerId); else null. */
function sharedRunOf(run: GraphWorkerRun): DurableTaskGraphRuntime | null {
  return run instanceof DurableTaskGraphRuntime && run.workerId !== null ? run : null;
}

/** A rank of `id` of `workerId`'s own (an FNV-1a hash of worker and task), the same at every call. */
function spreadRank(workerId: string, id: string): number {
  let hash = 0x811c9dc5;
  for (const char of `${workerId}\u0000${id}`) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Whether the task's current attempt has been used (it ran, or failed), so the next one must be prepared. */
function isAttemptUsed(view: TaskGraphTaskView): boolean {
  const { attempts } = view;
  if (attempts.length === 0) return false; // a fresh task: no need to build its state view
  const { attemptNum } = view.state;
  return attempts.some((record) => record.attemptNum === attemptNum);
}

/** The attempt number a task's retry or reopen uses: the first one its ledger has not used. */
function nextAttemptOf(view: TaskGraphTaskView): number {
  return nextUnusedAttempt({ attemptNum: view.state.attemptNum, attempts: view.attempts });
}

/**
 * One call of `GraphWorker.run()`: recovery, then the loop that retries failures, fills free slots from `ready()`
 * and drives each attempt through the run's commands, until the run is settled, stopped, or its store fails.
 */
export class Execution {
  readonly #run: GraphWorkerRun;
  readonly #options: CheckedOptions;
  readonly #emit: (event: GraphWorkerEvent) => void;
  readonly #signal: AbortSignal | null;
  readonly #inFlight = new Map<string, Attempt>();
  /** Tasks changed since the loop last looked at them (from the run's records, and attempts that ended). */
  readonly #dirty = new Set<string>();
  readonly #retries = new Map<string, ScheduledRetry>();
  /** Tasks found pr_created at the start, waiting for a slot to run `merge` again. */
  readonly #toMerge: string[] = [];
  /** The run, when it is shared with other workers. */
  readonly #shared: DurableTaskGraphRuntime | null;
  /** Shared runs: tasks another worker claimed when this one tried, skipped until the run follows the others. */
  readonly #claimedElsewhere = new Set<string>();
  /** Shared runs: whether tasks may be waiting to be taken over from a lost worker. */
  #takeOverDue = true;
  /** The shared run, when its store finds ready work itself (claimReady): then slots are filled from the store. */
  readonly #claimsFromStore: DurableTaskGraphRuntime | null;
  /** Shared runs: each task's rank in this worker's own order of ready tasks, computed once. */
  readonly #spreadRanks = new Map<string, number>();
  /** Claims of ready work under way (claimReady). */
  #claiming = 0;
  /** How many times something may have made a task ready (a hint, a follow, a record, an attempt's end). */
  #readyHints = 0;
  /**
   * {@link Execution.#readyHints} when a claim last found nothing: until more come, no task is ready. A claim sent
   * before a hint that found nothing does not count against that hint.
   */
  #nothingReadyAt = -1;
  /** Shared runs: a store failure left some task's next step undone: every task is looked at again on the next follow. */
  #recheckAll = false;
  #stopping = false;
  #fatal: { readonly error: unknown } | null = null;
  #woken = false;
  #wakeUp: (() => void) | null = null;

  constructor(
    run: GraphWorkerRun,
    options: CheckedOptions,
    emit: (event: GraphWorkerEvent) => void,
    signal: AbortSignal | null,
  ) {
    this.#run = run;
    this.#options = options;
    this.#emit = emit;
    this.#signal = signal;
    this.#shared = sharedRunOf(run);
    this.#claimsFromStore =
      this.#shared !== null && this.#shared.runId !== null ? this.#shared : null;
  }

  /** Runs until the run is settled (or stopped) with nothing in flight; rejects with a store failure. */
  async execute(): Promise<RunOutcome> {
    const signal = this.#signal;
    if (signal?.aborted) return this.#run.outcome;
    for (const id of this.#run.graph.taskIds) this.#dirty.add(id);
    const unsubscribe = this.#run.subscribe((record: TaskRecord) => {
      if (record.rejected) return;
      this.#dirty.add(record.taskId);
      this.#maybeReadyAgain();
      this.#wake();
    });
    const unwatch = this.#shared?.watch((event) => this.#heard(event)) ?? (() => undefined);
    const stop = () => this.#stop();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      if (this.#shared === null) await this.#recover();
      await this.#loop();
    } catch (error) {
      this.#failRun(error);
    } finally {
      signal?.removeEventListener('abort', stop);
      for (const retry of this.#retries.values()) retry.cancel();
      this.#retries.clear();
    }
    try {
      await Promise.all([...this.#inFlight.values()].map((attempt) => attempt.finished));
    } finally {
      unsubscribe();
      unwatch();
    }
    if (this.#fatal !== null) throw this.#fatal.error;
    return this.#run.outcome;
  }

  /** Fails the tasks found running (worker lost) and queues those found pr_created for their merge. */
  async #recover(): Promise<void> {
    for (const id of this.#run.graph.taskIds) {
      if (this.#fatal !== null) return;
      const view = this.#run.task(id);
      if (view.status === TaskStatus.RUNNING) {
        const { attemptNum } = view.state;
        this.#emit({ type: 'recovered', taskId: id, status: TaskStatus.RUNNING });
        const error = `worker lost: attempt ${attemptNum} was found running when the worker started, its worker gone`;
        await this.#command(null, () => this.#run.markFailed(id, error, { workerLost: true }));
      } else if (view.status === TaskStatus.PR_CREATED) {
        this.#emit({ type: 'recovered', taskId: id, status: TaskStatus.PR_CREATED });
        this.#toMerge.push(id);
      }
    }
  }

  /**
   * Shared runs: takes over the tasks in flight whose worker is presumed lost (lease run out, or none held): a
   * running one is failed as a lost attempt, a pr_created one is queued for its merge.
   */
  async #takeOverLost(shared: DurableTaskGraphRuntime): Promise<void> {
    this.#takeOverDue = false;
    const now = Date.now();
    for (const id of shared.graph.taskIds) {
      if (this.#fatal !== null || this.#stopping) return;
      const { status } = shared.task(id);
      if (status !== TaskStatus.RUNNING && status !== TaskStatus.PR_CREATED) continue;
      if (this.#inFlight.has(id) || shared.holdsLease(id)) continue;
      const lease = shared.leaseOf(id);
      if (lease !== null && Date.parse(lease.expiresAt) > now) continue;
      let found: InFlightStatus | null;
      try {
        found = await shared.takeOver(id);
      } catch (error) {
        this.#refused(error);
        continue;
      }
      if (found === null) continue;
      this.#emit({ type: 'recovered', taskId: id, status: found });
      if (found === TaskStatus.PR_CREATED) {
        this.#toMerge.push(id);
        continue;
      }
      const { attemptNum } = shared.task(id).state;
      const error = `worker lost: attempt ${attemptNum} of worker '${lease?.workerId ?? 'unknown'}' was found running with its lease run out`;
      await this.#command(null, () => shared.markFailed(id, error, { workerLost: true }));
    }
  }

  /** What a shared run learned from outside: tasks other workers changed, or a lease this worker lost. */
  #heard(event: SharedRunEvent): void {
    if (event.type === 'followed') {
      const ids = this.#recheckAll ? this.#run.graph.taskIds : event.taskIds;
      this.#recheckAll = false;
      for (const id of ids) this.#dirty.add(id);
      this.#claimedElsewhere.clear();
      this.#takeOverDue = true;
      this.#maybeReadyAgain();
    } else if (event.type === 'hinted') {
      this.#maybeReadyAgain();
    } else {
      // Another worker may work the task now: this attempt must stop, and write nothing more.
      const attempt = this.#inFlight.get(event.taskId);
      if (attempt?.claim()) {
        attempt.abort(new DOMException(`the lease on '${event.taskId}' was lost`, 'AbortError'));
        void attempt.commandsSettled().then(() => attempt.finish());
      }
    }
    this.#wake();
  }

  async #loop(): Promise<void> {
    for (;;) {
      this.#woken = false;
      if (this.#fatal !== null) return;
      if (!this.#stopping && this.#shared !== null && this.#takeOverDue) {
        await this.#takeOverLost(this.#shared);
      }
      if (!this.#stopping) {
        await this.#settleChanged();
        await this.#startDueRetries();
        if (this.#fatal === null && !this.#stopping) this.#fillSlots();
      }
      if (this.#fatal !== null) return;
      if (
        this.#inFlight.size === 0 &&
        this.#claiming === 0 &&
        (this.#stopping || this.#run.outcome !== 'in_progress')
      ) {
        return;
      }
      // Nothing to do until an attempt ends, a retry falls due, the signal aborts, or the run records a change
      // (someone else holding the run may retry, reopen or settle a task this worker is waiting for).
      await this.#sleep();
    }
  }

  #wake(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  async #sleep(): Promise<void> {
    if (this.#woken) return;
    await new Promise<void>((resolve) => {
      this.#wakeUp = resolve;
    });
    this.#wakeUp = null;
  }

  #stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    const reason: unknown = this.#signal?.reason;
    for (const attempt of this.#inFlight.values()) attempt.abort(reason);
    this.#wake();
  }

  /** Ends the execution with `error`: every attempt in flight is aborted and abandoned once its commands settle. */
  #failRun(error: unknown): void {
    if (this.#fatal !== null) return;
    this.#fatal = { error };
    for (const attempt of this.#inFlight.values()) {
      attempt.abort(error);
      if (attempt.claim()) void attempt.commandsSettled().then(() => attempt.finish());
    }
    this.#wake();
  }

  /**
   * Issues one run command (counted among the attempt's, when given). Resolves true when the run accepted it;
   * false when it refused (someone else changed the task) or the execution already failed; a store failure fails
   * the execution.
   */
  #command(attempt: Attempt | null, call: () => unknown): boolean | Promise<boolean> {
    if (this.#fatal !== null) return false;
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      return this.#refused(error);
    }
    if (!(result instanceof Promise)) return true; // an in-memory run's command is done
    attempt?.track(result);
    return result.then(
      () => true,
      (error: unknown) => this.#refused(error, attempt?.taskId ?? null),
    );
  }

  /**
   * False for a refusal. A store failure fails the execution, except in a shared run: there the worker carries on
   * (the store may be back soon, as other workers may), giving up the task of the command, if any.
   */
  #refused(error: unknown, taskId: string | null = null): false {
    if (isRefusal(error)) return false;
    const shared = this.#shared;
    if (shared === null || !(error instanceof TaskStoreError)) {
      this.#failRun(error);
      return false;
    }
    this.#emit({ type: 'storeFailed', taskId, error });
    this.#recheckAll = true;
    if (taskId !== null) void shared.abandon(taskId).catch(() => undefined);
    return false;
  }

  /** Schedules the retries of failed tasks and prepares the next attempt of pending tasks whose attempt is used. */
  async #settleChanged(): Promise<void> {
    const ids = [...this.#dirty];
    this.#dirty.clear();
    for (const id of ids) {
      if (this.#fatal !== null || this.#stopping) return;
      if (this.#inFlight.has(id)) continue;
      const view = this.#run.task(id);
      if (view.status === TaskStatus.FAILED) {
        if (view.can(RETRY)) this.#scheduleRetry(id, view);
      } else if (view.status === TaskStatus.PENDING && isAttemptUsed(view)) {
        // A reopened task, or a retry a previous process reset but did not prepare.
        const next = nextAttemptOf(view);
        await this.#command(null, () => this.#run.prepareForAttempt(id, next));
      }
    }
  }

  #scheduleRetry(taskId: string, view: TaskGraphTaskView): void {
    const failedAttempt = view.state.attemptNum;
    const known = this.#retries.get(taskId);
    if (known?.failedAttempt === failedAttempt) return;
    known?.cancel();
    const delayMs = this.#options.retryDelayMs({
      taskId,
      attemptNum: failedAttempt,
      error: view.state.error ?? '',
    });
    const retry: ScheduledRetry = {
      failedAttempt,
      attemptNum: nextAttemptOf(view),
      due: delayMs === 0,
      cancel: () => undefined,
    };
    this.#retries.set(taskId, retry);
    this.#emit({ type: 'retryScheduled', taskId, attemptNum: retry.attemptNum, delayMs });
    if (delayMs > 0) {
      retry.cancel = afterDelay(delayMs, () => {
        retry.due = true;
        this.#wake();
      });
    }
  }

  /** Resets every retry whose delay has passed and prepares its attempt, unless the task changed meanwhile. */
  async #startDueRetries(): Promise<void> {
    for (const [id, retry] of [...this.#retries]) {
      if (this.#fatal !== null || this.#stopping) return;
      if (!retry.due) continue;
      this.#retries.delete(id);
      const view = this.#run.task(id);
      const unchanged =
        view.status === TaskStatus.FAILED &&
        view.state.attemptNum === retry.failedAttempt &&
        view.can(RETRY);
      if (!unchanged) continue;
      if (!(await this.#command(null, () => this.#run.resetForRetry(id)))) continue;
      await this.#command(null, () => this.#run.prepareForAttempt(id, retry.attemptNum));
    }
  }

  /** Starts attempts while a slot is free: recovered merges first, then `ready()` in its order. */
  #fillSlots(): void {
    const { concurrency } = this.#options;
    while (this.#inFlight.size < concurrency) {
      const id = this.#toMerge.shift();
      if (id === undefined) break;
      if (!this.#inFlight.has(id) && this.#run.task(id).status === TaskStatus.PR_CREATED) {
        this.#start(id, 'merge');
      }
    }
    if (this.#inFlight.size >= concurrency) return;
    if (this.#claimsFromStore !== null) {
      this.#claimFromStore(this.#claimsFromStore);
      return;
    }
    // At most `concurrency` of the first ready tasks can be in flight (a durable run lists a task until its
    // markRunning is saved), so the first `concurrency` hold a task for every free slot that one can be found for
    // — past those another worker was seen to claim.
    const skipped = this.#claimedElsewhere;
    const shared = this.#shared;
    // In a shared run every worker would try the same first tasks and all but one would be refused: each takes
    // the ready tasks in an order of its own, so that what others started since it last followed them is seldom
    // what it tries.
    const candidates =
      shared === null
        ? this.#run.ready(concurrency + skipped.size)
        : this.#spread(shared.workerId ?? '', this.#run.ready());
    for (const id of candidates) {
      if (this.#inFlight.has(id) || skipped.has(id)) continue;
      this.#start(id, 'work');
      if (this.#inFlight.size >= concurrency) return;
    }
  }

  /** `ids` in `workerId`'s own order (see {@link spreadRank}). */
  #spread(workerId: string, ids: readonly string[]): string[] {
    const ranks = this.#spreadRanks;
    const rankOf = (id: string): number => {
      let rank = ranks.get(id);
      if (rank === undefined) {
        rank = spreadRank(workerId, id);
        ranks.set(id, rank);
      }
      return rank;
    };
    return [...ids].sort((a, b) => rankOf(a) - rankOf(b));
  }

  /** Claims ready tasks from the store (one statement each) for the free slots, and starts them. */
  #claimFromStore(shared: DurableTaskGraphRuntime): void {
    const { concurrency } = this.#options;
    while (
      this.#nothingReadyAt !== this.#readyHints &&
      this.#inFlight.size + this.#claiming < concurrency
    ) {
      this.#claiming += 1;
      const hintsWhenSent = this.#readyHints;
      shared.claimReady().then(
        (taskId) => {
          this.#claiming -= 1;
          // A hint that came while the claim was under way may be for a task the claim could not see yet.
          if (taskId === null) this.#nothingReadyAt = hintsWhenSent;
          else if (this.#stopping || this.#fatal !== null || this.#inFlight.has(taskId)) {
            void shared.release(taskId).catch(() => undefined);
          } else {
            this.#start(taskId, 'work');
          }
          this.#wake();
        },
        (error: unknown) => {
          this.#claiming -= 1;
          this.#nothingReadyAt = this.#readyHints; // until the run follows the store again
          this.#refused(error);
          this.#wake();
        },
      );
    }
  }

  /** Something may have made a task ready: claim from the store again. */
  #maybeReadyAgain(): void {
    this.#readyHints += 1;
  }

  #start(taskId: string, from: 'work' | 'merge'): void {
    const attempt = new Attempt(taskId, () => {
      this.#inFlight.delete(taskId);
      this.#dirty.add(taskId);
      this.#maybeReadyAgain();
      this.#wake();
    });
    this.#inFlight.set(taskId, attempt);
    this.#drive(attempt, from).catch((error: unknown) => this.#failRun(error));
  }

  /** markRunning → work → markPrCreated → merge → markPrMerged (from merge on for a recovered pr_created task). */
  async #drive(attempt: Attempt, from: 'work' | 'merge'): Promise<void> {
    const { taskId } = attempt;
    if (from === 'work') {
      if (!(await this.#step(attempt, () => this.#markRunning(taskId)))) {
        return this.#end(attempt);
      }
      this.#begin(attempt, this.#run.task(taskId).attempts.at(-1)?.attemptNum ?? -1); // the record START opened
      const worked = await this.#call(attempt, 'work');
      if (worked.kind === 'ended') return;
      if (worked.kind === 'threw') return this.#fail(attempt, failureOf(worked.error, 'work'));
      const problem = prUrlProblem(worked.value);
      if (problem !== null) return this.#fail(attempt, { message: problem, retryable: false });
      const { prUrl } = worked.value as { prUrl: string };
      if (!(await this.#step(attempt, () => this.#run.markPrCreated(taskId, prUrl)))) {
        return this.#end(attempt);
      }
      // Stopped: the PR is recorded; the next run() finds the task pr_created and merges it.
      if (this.#stopping) return this.#end(attempt);
    } else {
      this.#begin(attempt, this.#run.task(taskId).state.attemptNum);
    }
    const merged = await this.#call(attempt, 'merge');
    if (merged.kind === 'ended') return;
    if (merged.kind === 'threw') return this.#fail(attempt, failureOf(merged.error, 'merge'));
    if (!attempt.claim()) return;
    await this.#command(attempt, () => this.#run.markPrMerged(taskId));
    attempt.finish();
  }

  /** markRunning; a task another worker claimed first is skipped until the run follows the others again. */
  #markRunning(taskId: string): unknown {
    const started: unknown = this.#run.markRunning(taskId);
    if (!(started instanceof Promise)) return started;
    return started.catch((error: unknown) => {
      if (isClaimedElsewhere(error)) this.#claimedElsewhere.add(taskId);
      throw error;
    });
  }

  /** A command on the way through an attempt: not issued once the attempt ended; true when accepted. */
  #step(attempt: Attempt, call: () => unknown): boolean | Promise<boolean> {
    if (attempt.ended) return false;
    return this.#command(attempt, call);
  }

  #call(attempt: Attempt, step: 'work' | 'merge') {
    const handler = step === 'work' ? this.#options.work : this.#options.merge;
    const view = this.#run.task(attempt.taskId);
    const context = attempt.context as AttemptContext;
    return attempt.call(() => handler(view, context));
  }

  /** Ends the attempt without a record of its own (refused, or stopped after its PR); its claimer finishes it. */
  #end(attempt: Attempt): void {
    if (attempt.claim()) attempt.finish();
  }

  async #fail(attempt: Attempt, failure: AttemptFailure): Promise<void> {
    if (!attempt.claim()) return;
    const { message, retryable } = failure;
    await this.#command(attempt, () =>
      this.#run.markFailed(attempt.taskId, message, { retryable }),
    );
    attempt.finish();
  }

  /** Numbers the attempt, gives it its context, and starts its timeout. */
  #begin(attempt: Attempt, attemptNum: number): void {
    attempt.begin(attemptNum);
    attempt.context = this.#contextOf(attempt);
    this.#armTimeout(attempt);
  }

  #armTimeout(attempt: Attempt): void {
    const ms = this.#options.attemptTimeoutMs;
    if (ms === null) return;
    attempt.setTimeout(afterDelay(ms, () => void this.#timeOut(attempt, ms)));
  }

  async #timeOut(attempt: Attempt, ms: number): Promise<void> {
    if (!attempt.claim()) return;
    const { taskId, attemptNum } = attempt;
    const message = `attempt ${attemptNum} timed out after ${ms} ms`;
    this.#emit({ type: 'attemptTimedOut', taskId, attemptNum });
    attempt.abort(new DOMException(message, 'TimeoutError'));
    await this.#command(attempt, () => this.#run.markFailed(taskId, message, { retryable: true }));
    attempt.finish();
  }

  #contextOf(attempt: Attempt): AttemptContext {
    const { taskId, attemptNum } = attempt;
    const run = this.#run;
    const issue = async (command: AttemptCommand, call: () => unknown): Promise<void> => {
      if (attempt.ended) throw new AttemptEndedError(taskId, attemptNum, command);
      try {
        const issued = call();
        if (issued instanceof Promise) {
          attempt.track(issued);
          await issued;
        }
      } catch (error) {
        if (!isRefusal(error)) this.#failRun(error);
        throw error;
      }
    };
    return new RunAttemptContext(attempt, {
      assignWorktree: (worktree: WorktreeAssignment) =>
        issue('assignWorktree', () => run.assignWorktree(taskId, worktree)),
      assignWorkstream: (workstream: WorkstreamAssignment) =>
        issue('assignWorkstream', () => run.assignWorkstream(taskId, workstream)),
      recordAgentAddress: (address: AgentAddress) =>
        issue('recordAgentAddress', () => run.recordAgentAddress(taskId, address)),
      addConcern: (text: string) => issue('addConcern', () => run.addConcern(taskId, text)),
    });
  }
}

/** The context commands of one attempt, as functions of their own (so a handler may destructure them). */
type ContextCommands = Pick<AttemptContext, AttemptCommand>;

/** An attempt's context: frozen, its `signal` read from the attempt on demand (made only when a handler asks). */
class RunAttemptContext implements AttemptContext {
  readonly taskId: string;
  readonly attemptNum: number;
  readonly assignWorktree: ContextCommands['assignWorktree'];
  readonly assignWorkstream: ContextCommands['assignWorkstream'];
  readonly recordAgentAddress: ContextCommands['recordAgentAddress'];
  readonly addConcern: ContextCommands['addConcern'];
  readonly #attempt: Attempt;

  constructor(attempt: Attempt, commands: ContextCommands) {
    this.taskId = attempt.taskId;
    this.attemptNum = attempt.attemptNum;
    this.assignWorktree = commands.assignWorktree;
    this.assignWorkstream = commands.assignWorkstream;
    this.recordAgentAddress = commands.recordAgentAddress;
    this.addConcern = commands.addConcern;
    this.#attempt = attempt;
    Object.freeze(this);
  }

  get signal(): AbortSignal {
    return this.#attempt.signal;
  }
}
