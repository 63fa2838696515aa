/** Runs and handlers for the worker's tests: both kinds of run on real objects, and invariant watchers. */
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import {
  TaskGraphRuntime,
  type TaskGraphRuntimeOptions,
} from '../../src/graph/TaskGraphRuntime.js';
import type { TaskRecord, TransitionRecord } from '../../src/runtime/records.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import type { GraphWorkerEvent } from '../../src/worker/events.js';
import type { GraphWorker, GraphWorkerRun } from '../../src/worker/GraphWorker.js';
import type { WorkResult } from '../../src/worker/options.js';
import { tempDirs } from '../support/tempDir.js';

/** The two kinds of run a worker executes. */
export type RunKind = 'memory' | 'durable';
export const RUN_KINDS: readonly RunKind[] = ['memory', 'durable'];

/** A generic task depending on `dependencies`. */
export const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});

/** A clock whose every reading is one second after the last: ledger times are strictly ordered. */
export function tickingClock(start = Date.parse('2026-01-05T09:00:00.000Z')): () => Date {
  let now = start;
  return () => {
    now += 1000;
    return new Date(now);
  };
}

/** Opens runs of either kind; durable ones on a FileTaskStore in a temp dir, closed by {@link RunFactory.closeAll}. */
export interface RunFactory {
  open(
    kind: RunKind,
    tasks: readonly TaskInput[],
    options?: TaskGraphRuntimeOptions,
  ): Promise<GraphWorkerRun>;
  /** A FileTaskStore in a new temp dir, closed by {@link RunFactory.closeAll}. */
  store(dir?: string): Promise<FileTaskStore>;
  closeAll(): Promise<void>;
}

/** A {@link RunFactory}; call `closeAll` in an `afterAll`. */
export function runFactory(): RunFactory {
  const dirs = tempDirs('task-runtime-worker-');
  const stores: TaskStore[] = [];
  const factory: RunFactory = {
    async store(dir = dirs.make()) {
      const store = await FileTaskStore.open(dir);
      stores.push(store);
      return store;
    },
    async open(kind, tasks, options = {}) {
      const graph = TaskGraph.fromTasks(tasks);
      if (kind === 'memory') return new TaskGraphRuntime(graph, options);
      return DurableTaskGraphRuntime.open(await factory.store(), graph, options);
    },
    async closeAll() {
      for (const store of stores.splice(0)) await store.close();
      dirs.removeAll();
    },
  };
  return factory;
}

/** The PR URL the test handlers report for an attempt. */
export const prUrlOf = (taskId: string, attemptNum: number): string =>
  `https://github.com/acme/app/pull/${taskId}-${attemptNum}`;

/** A `work` handler that succeeds at once with {@link prUrlOf}. */
export const succeed = (
  _task: unknown,
  attempt: { taskId: string; attemptNum: number },
): WorkResult => ({
  prUrl: prUrlOf(attempt.taskId, attempt.attemptNum),
});

/** A merge that succeeds at once. */
export const mergeAtOnce = (): void => undefined;

/** What a run and a worker said, in order. */
export interface Heard {
  readonly records: TaskRecord[];
  readonly events: GraphWorkerEvent[];
  /** The accepted transitions, in order. */
  transitions(): TransitionRecord[];
  /** `taskId:event` of every accepted transition, in order. */
  steps(): string[];
  stop(): void;
}

/** Collects the run's records and the worker's events. */
export function listen(run: GraphWorkerRun, worker?: GraphWorker): Heard {
  const records: TaskRecord[] = [];
  const events: GraphWorkerEvent[] = [];
  const stopRun = run.subscribe((record) => records.push(record));
  const stopWorker = worker?.subscribe((event) => events.push(event));
  const transitions = () => records.filter((r): r is TransitionRecord => !r.rejected);
  return {
    records,
    events,
    transitions,
    steps: () => transitions().map((r) => `${r.taskId}:${r.event}`),
    stop() {
      stopRun();
      stopWorker?.();
    },
  };
}

/**
 * Checks the worker's invariants after every accepted transition of `run`: no task past pending unless every
 * dependency is pr_merged, and no attempt number started twice. Violations are collected, not thrown (a listener's
 * throw would only be logged).
 */
export function watchInvariants(run: GraphWorkerRun): {
  readonly violations: string[];
  stop(): void;
} {
  const violations: string[] = [];
  const started = new Map<string, Set<number>>();
  const stop = run.subscribe((record) => {
    if (record.rejected) return;
    if (record.event === 'START') {
      const numbers = started.get(record.taskId) ?? new Set<number>();
      if (numbers.has(record.attemptNum)) {
        violations.push(`${record.taskId} started attempt ${record.attemptNum} twice`);
      }
      numbers.add(record.attemptNum);
      started.set(record.taskId, numbers);
    }
    violations.push(...dependencyViolations(run));
  });
  return { violations, stop };
}

/** Every task past pending whose dependency is not pr_merged. */
export function dependencyViolations(run: GraphWorkerRun): string[] {
  const found: string[] = [];
  for (const id of run.graph.taskIds) {
    const { status } = run.task(id);
    if (status !== 'running' && status !== 'pr_created' && status !== 'pr_merged') continue;
    for (const dependency of run.graph.dependenciesOf(id)) {
      const dependencyStatus = run.task(dependency).status;
      if (dependencyStatus !== 'pr_merged') {
        found.push(`${id} is ${status} while its dependency ${dependency} is ${dependencyStatus}`);
      }
    }
  }
  return found;
}

/**
 * What must hold of a run's ledgers whatever happened (crashes included): no attempt number twice in a task's
 * ledger, and every attempt that started did so after each dependency's merge (ledger times, so use a clock that
 * ticks: {@link tickingClock}).
 */
export function ledgerViolations(run: GraphWorkerRun): string[] {
  const found: string[] = [];
  for (const id of run.graph.taskIds) {
    const numbers = run.task(id).attempts.map((record) => record.attemptNum);
    if (new Set(numbers).size !== numbers.length)
      found.push(`${id} used attempts ${numbers.join(', ')}`);
    for (const attempt of run.task(id).attempts) {
      if (attempt.startedAt === null) continue;
      for (const dependency of run.graph.dependenciesOf(id)) {
        const merged = run.task(dependency).attempts.find((r) => r.outcome === 'pr_merged');
        if (merged?.endedAt == null || merged.endedAt > attempt.startedAt) {
          found.push(`${id} started attempt ${attempt.attemptNum} before ${dependency} merged`);
        }
      }
    }
  }
  return found;
}

/** A promise with its resolve and reject functions. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A {@link Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** Resolves once `condition()` holds, checking after every macrotask; fails after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the condition did not come true in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
