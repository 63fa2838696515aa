/**
 * Tracing of task lifecycles with OpenTelemetry, published as `task-runtime/opentelemetry`.
 * Only this entry point loads `@opentelemetry/api` (an optional peer dependency); `import 'task-runtime'` never does.
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { InvalidArgumentError } from '../errors.js';
import { DurableTaskGraphRuntime } from '../graph/DurableTaskGraphRuntime.js';
import { TaskGraphRuntime } from '../graph/TaskGraphRuntime.js';
import type { TaskStatus } from '../machines/status.js';
import type { AttemptRecord } from '../machines/taskMachine.js';
import { DurableTaskRuntime } from '../runtime/DurableTaskRuntime.js';
import type { RejectionRecord, TaskRecord, TransitionRecord } from '../runtime/records.js';
import { TaskRuntime } from '../runtime/TaskRuntime.js';
import type { Task } from '../task/createTask.js';
import { describeValue, isRecord } from '../validation.js';
import type { GraphWorkerEvent } from '../worker/events.js';
import { GraphWorker } from '../worker/GraphWorker.js';

/** What {@link instrument} traces: one task's runtime, a graph run in memory or durable, or a worker executing one. */
export type InstrumentTarget =
  | TaskRuntime
  | DurableTaskRuntime
  | TaskGraphRuntime
  | DurableTaskGraphRuntime
  | GraphWorker;

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** The tracer the spans are started with, e.g. `trace.getTracer('my-orchestrator')`. */
  readonly tracer: Tracer;
}

/** The name of the span of one attempt, from START to PR_MERGED or FAIL. */
export const ATTEMPT_SPAN = 'task.attempt';
/** The name of the span of a whole graph run, parent of its tasks' attempt spans. */
export const RUN_SPAN = 'task.run';
/** The name of the span event of a refused command; its attributes say which event, in which status, and why. */
export const REFUSED_EVENT = 'task.refused';
/** The name of the span event of an attempt that ran past the worker's `attemptTimeoutMs`. */
export const TIMED_OUT_EVENT = 'task.worker.timed_out';
/** The name of the span event of an attempt a worker found left behind by a previous process, and recovered. */
export const RECOVERED_EVENT = 'task.worker.recovered';
/** The span event of a store failure a worker of a shared run carried on through. */
export const STORE_FAILED_EVENT = 'task.worker.store_failed';
/** The attribute of a retry's attempt span: the pause, in ms, the worker made before it. */
export const RETRY_DELAY_ATTRIBUTE = 'task.worker.retry_delay_ms';

/** What the instrumentation reads of a task: the part of the runtime views both runtimes share. */
interface TaskView {
  readonly task: Task;
  readonly status: TaskStatus;
  readonly attempts: readonly AttemptRecord[];
  readonly state: { readonly error: string | null; readonly attemptNum: number };
}

/** A target seen as tasks to trace plus, for a graph run, its outcome. */
interface Traced {
  readonly taskIds: readonly string[];
  view(taskId: string): TaskView;
  subscribe(listener: (record: TaskRecord) => void): () => void;
  /** The run's outcome; null for a single task, which has no run span. */
  outcome(): string | null;
  /** Subscribes to the worker's events; absent when the target is not a worker. */
  subscribeWorker?(listener: (event: GraphWorkerEvent) => void): () => void;
}

function readTarget(target: unknown): Traced {
  if (target instanceof GraphWorker) {
    return {
      ...readTarget(target.graphRun),
      subscribeWorker: (listener) => target.subscribe(listener),
    };
  }
  if (target instanceof TaskGraphRuntime || target instanceof DurableTaskGraphRuntime) {
    return {
      taskIds: target.graph.taskIds,
      view: (taskId) => target.task(taskId),
      subscribe: (listener) => target.subscribe(listener),
      outcome: () => target.outcome,
    };
  }
  if (target instanceof TaskRuntime || target instanceof DurableTaskRuntime) {
    return {
      taskIds: [target.task.id],
      view: () => target,
      subscribe: (listener) => target.subscribe(listener),
      outcome: () => null,
    };
  }
  const expected =
    'a TaskRuntime, DurableTaskRuntime, TaskGraphRuntime, DurableTaskGraphRuntime or GraphWorker';
  throw new InvalidArgumentError('target', expected, describeValue(target));
}

function readTracer(options: unknown): Tracer {
  const tracer = isRecord(options) ? options.tracer : undefined;
  if (!isRecord(tracer) || typeof tracer.startSpan !== 'function') {
    const given = isRecord(options) ? describeValue(tracer) : describeValue(options);
    throw new InvalidArgumentError('options.tracer', 'an OpenTelemetry Tracer', given);
  }
  return tracer as unknown as Tracer;
}

function attemptAttributes(task: Task, attemptNum: number): Attributes {
  return { 'task.id': task.id, 'task.attempt': attemptNum, 'task.role': task.role };
}

function transitionAttributes(record: TransitionRecord): Attributes {
  return { 'task.id': record.taskId, 'task.status.from': record.from, 'task.status.to': record.to };
}

function refusalAttributes(record: RejectionRecord): Attributes {
  return {
    'task.id': record.taskId,
    'task.event': record.event,
    'task.status': record.status,
    'task.refusal.reason': record.reason,
  };
}

/** When the run's first attempt started, by the ledgers; undefined before any did. */
function firstStart(traced: Traced): Date | undefined {
  let first: string | undefined;
  for (const taskId of traced.taskIds) {
    const startedAt = traced
      .view(taskId)
      .attempts.find((record) => record.startedAt !== null)?.startedAt;
    if (startedAt && (first === undefined || startedAt < first)) first = startedAt;
  }
  return first === undefined ? undefined : new Date(first);
}

/**
 * Traces `target` (a task's runtime or a graph run) with `options.tracer` until the returned function is called:
 *
 * - one span `task.attempt` per attempt, from its START to its PR_MERGED (status left unset) or FAIL (status
 *   ERROR, the error as message), with attributes `task.id`, `task.attempt` and `task.role`, started and ended at
 *   the times of the attempt ledger (the runtime's clock); a failure straight from pending (a blocked task) is a
 *   span of its own, zero long, with status ERROR;
 * - every accepted command is an event on its attempt's span, named by its machine event type (`START`,
 *   `PR_CREATED`, …) with attributes `task.status.from` and `task.status.to`; a refused command is a `task.refused`
 *   event with `task.event`, `task.status` and `task.refusal.reason`. Commands outside an attempt (preparing the
 *   next one, a concern after the end) go on the run's span, or for a single task on the span active when they
 *   are made, if any;
 * - an attempt already under way when `instrument` is called (a restored or reloaded runtime) gets its span from
 *   the ledger's start time.
 *
 * A {@link GraphWorker} is traced as its run is, plus what only the worker knows: a retry's attempt span carries
 * `task.worker.retry_delay_ms` (the pause before it), an attempt that timed out has a `task.worker.timed_out`
 * event before its FAIL, and a task the worker found left behind by a previous process has a
 * `task.worker.recovered` event (attribute `task.status`, the status it was found in).
 *
 * A graph run (TaskGraphRuntime, DurableTaskGraphRuntime) gets one `task.run` span, child of the span active when
 * `instrument` is called, from its first attempt's start (by the ledgers, else from then) until its outcome is no
 * longer `'in_progress'` (attribute `task.run.outcome`; status ERROR with the outcome as message for
 * `'completed_with_failures'`). It parents the attempt spans of all its tasks and hears what happens to them outside
 * their attempts. A single task's attempt spans are children of the span active at START.
 *
 * Calling the returned function unsubscribes, ends the run span as above if its outcome is settled, and ends the
 * spans still open at that moment without a status.
 * @throws {InvalidArgumentError} when `target` is not a runtime or `options.tracer` not a Tracer.
 * @example
 * const stop = instrument(runtime, { tracer: trace.getTracer('orchestrator') });
 * runtime.markRunning();            // a task.attempt span starts
 * runtime.markFailed('tests failed'); // …and ends with status ERROR
 * stop();
 */
export function instrument(target: InstrumentTarget, options: InstrumentOptions): () => void {
  const traced = readTarget(target);
  const tracer = readTracer(options);
  const attempts = new Map<string, Span>();
  /** Per task, the retry a worker scheduled: its attempt number and pause, for that attempt's span. */
  const retries = new Map<string, { attemptNum: number; delayMs: number }>();
  let run: Span | null = null;
  let runContext: Context | null = null;
  let lastTime: Date | undefined;
  let runCheckQueued = false;

  const parentContext = (): Context => runContext ?? context.active();

  /** The span that hears what happens to a task outside its attempts: the open run span, else the active span. */
  const homeSpan = (): Span | undefined => run ?? trace.getActiveSpan();

  const startAttempt = (taskId: string, attemptNum: number, startTime: Date | undefined): Span => {
    const { task } = traced.view(taskId);
    const attributes = attemptAttributes(task, attemptNum);
    const retry = retries.get(taskId);
    if (retry?.attemptNum === attemptNum) attributes[RETRY_DELAY_ATTRIBUTE] = retry.delayMs;
    retries.delete(taskId);
    const span = tracer.startSpan(
      ATTEMPT_SPAN,
      { attributes, ...(startTime ? { startTime } : {}) },
      parentContext(),
    );
    attempts.set(taskId, span);
    return span;
  };

  const fail = (span: Span, record: TransitionRecord, at: Date): void => {
    const error = traced.view(record.taskId).state.error ?? 'failed';
    span.addEvent(record.event, transitionAttributes(record), at);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end(at);
  };

  const onTransition = (record: TransitionRecord): void => {
    const at = new Date(record.at);
    lastTime = at;
    const { taskId, event } = record;
    if (event === 'FAIL' && record.from === 'pending') {
      fail(startAttempt(taskId, record.attemptNum, at), record, at);
      attempts.delete(taskId);
      return;
    }
    if (event === 'START') {
      attempts.get(taskId)?.end(at);
      startAttempt(taskId, record.attemptNum, at);
    }
    const span = attempts.get(taskId);
    if (span === undefined) {
      homeSpan()?.addEvent(event, transitionAttributes(record), at);
      return;
    }
    if (event === 'FAIL') {
      fail(span, record, at);
      attempts.delete(taskId);
      return;
    }
    span.addEvent(event, transitionAttributes(record), at);
    if (event === 'PR_MERGED') {
      span.end(at);
      attempts.delete(taskId);
    }
  };

  const endRunIfDone = (): void => {
    runCheckQueued = false;
    const outcome = traced.outcome();
    if (run === null || outcome === null || outcome === 'in_progress') return;
    run.setAttribute('task.run.outcome', outcome);
    if (outcome !== 'succeeded') run.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    run.end(lastTime);
    run = null;
  };

  const onRecord = (record: TaskRecord): void => {
    if (record.rejected) {
      (attempts.get(record.taskId) ?? homeSpan())?.addEvent(
        REFUSED_EVENT,
        refusalAttributes(record),
      );
    } else {
      onTransition(record);
    }
    // A command's records arrive together (a final failure and the dependents it blocks): the run ends after them.
    if (run !== null && !runCheckQueued) {
      runCheckQueued = true;
      queueMicrotask(endRunIfDone);
    }
  };

  if (traced.outcome() !== null) {
    const attributes = { 'task.count': traced.taskIds.length };
    const startTime = firstStart(traced);
    run = tracer.startSpan(RUN_SPAN, { attributes, ...(startTime ? { startTime } : {}) });
    runContext = trace.setSpan(context.active(), run);
  }
  for (const taskId of traced.taskIds) {
    const view = traced.view(taskId);
    if (view.status === 'running' || view.status === 'pr_created') {
      const startedAt = view.attempts.at(-1)?.startedAt;
      startAttempt(taskId, view.state.attemptNum, startedAt ? new Date(startedAt) : undefined);
    }
  }
  const unsubscribe = traced.subscribe(onRecord);
  const onWorkerEvent = (event: GraphWorkerEvent): void => {
    if (event.type === 'storeFailed') {
      const span = event.taskId === null ? homeSpan() : attempts.get(event.taskId);
      span?.addEvent(STORE_FAILED_EVENT, {
        ...(event.taskId === null ? {} : { 'task.id': event.taskId }),
        'exception.message': event.error.message,
      });
      return;
    }
    const { taskId } = event;
    switch (event.type) {
      case 'retryScheduled':
        retries.set(taskId, { attemptNum: event.attemptNum, delayMs: event.delayMs });
        return;
      case 'attemptTimedOut':
        attempts.get(taskId)?.addEvent(TIMED_OUT_EVENT, {
          'task.id': taskId,
          'task.attempt': event.attemptNum,
        });
        return;
      case 'recovered':
        (attempts.get(taskId) ?? homeSpan())?.addEvent(RECOVERED_EVENT, {
          'task.id': taskId,
          'task.status': event.status,
        });
        return;
    }
  };
  const unsubscribeWorker = traced.subscribeWorker?.(onWorkerEvent);
  endRunIfDone();

  return () => {
    unsubscribe();
    unsubscribeWorker?.();
    endRunIfDone();
    for (const span of attempts.values()) span.end();
    attempts.clear();
    run?.end();
    run = null;
  };
}
