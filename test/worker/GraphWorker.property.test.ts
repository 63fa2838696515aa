/**
 * Property tests of the worker over random DAGs, concurrencies 1–4 and random handler outcomes (sync and async,
 * success, Error, NonRetryableError, timeouts): after every transition no task is past pending before its
 * dependencies merged, at most `concurrency` handlers are in flight, no attempt number is used twice, and run()
 * settles to an outcome other than 'in_progress'. Then crashes at random moments (a new worker on the run as it
 * was at a transition) never fail a task, and a reopen followed by a run merges the reopened chain.
 */
import fc from 'fast-check';
import { TaskStoreError } from '../../src/errors.js';
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import type { AttemptContext } from '../../src/worker/AttemptContext.js';
import { GraphWorker, type GraphWorkerRun } from '../../src/worker/GraphWorker.js';
import { NonRetryableError } from '../../src/worker/NonRetryableError.js';
import type { GraphWorkerOptions } from '../../src/worker/options.js';
import { failingOnSaves, type SaveFault } from '../support/failingStore.js';
import { SEED } from '../support/random.js';
import { tempDirs } from '../support/tempDir.js';
import { ledgerViolations, prUrlOf, tickingClock, watchInvariants } from './harness.js';

jest.setTimeout(120_000);

/** What a handler does on one call. */
const BEHAVIOURS = [
  'okSync',
  'okAsync',
  'throwSync',
  'rejectAsync',
  'nonRetryable',
  'hang', // never settles: only the timeout frees it
  'settleAfterAbort', // hands in a result once its signal aborts (ignored)
] as const;
type Behaviour = (typeof BEHAVIOURS)[number];

/** Attempts from this number on always succeed, so a run without maxAttempts ends. */
const ALWAYS_SUCCEEDS_FROM = 3;
const TIMEOUT_MS = 15;

/** A DAG of 1 to `max` tasks: each may depend on any earlier one. */
const dagArbitrary = (max: number): fc.Arbitrary<TaskInput[]> =>
  fc
    .integer({ min: 1, max })
    .chain((size) =>
      fc.tuple(
        ...Array.from({ length: size }, (_, index) =>
          fc.subarray(Array.from({ length: index }, (_, j) => j)),
        ),
      ),
    )
    .map((dependencies) =>
      dependencies.map((deps, index) => ({
        id: `t${index}`,
        role: 'generic' as const,
        dependencies: deps.map((j) => `t${j}`),
      })),
    );

interface Scenario {
  readonly tasks: TaskInput[];
  readonly concurrency: number;
  readonly maxAttempts: number | undefined;
  readonly retryDelayMs: number;
  /** Behaviour of each (task index, attempt, step) call, read cyclically. */
  readonly behaviours: Behaviour[];
}

const scenarioArbitrary = (maxTasks: number): fc.Arbitrary<Scenario> =>
  fc.record({
    tasks: dagArbitrary(maxTasks),
    concurrency: fc.integer({ min: 1, max: 4 }),
    maxAttempts: fc.constantFrom(undefined, 1, 2, 3),
    retryDelayMs: fc.constantFrom(0, 1),
    behaviours: fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom<Behaviour>('okSync', 'okAsync') },
        { weight: 4, arbitrary: fc.constantFrom<Behaviour>(...BEHAVIOURS) },
      ),
      { minLength: 1, maxLength: 64 },
    ),
  });

/** Handlers acting out `behaviourOf`, counting the calls in flight (a call leaves when it settles or is aborted). */
function actors(
  behaviourOf: (taskId: string, attemptNum: number, step: 'work' | 'merge') => Behaviour,
  concurrency: number,
  problems: string[],
): Pick<GraphWorkerOptions, 'work' | 'merge'> {
  let inFlight = 0;
  const act = (step: 'work' | 'merge') => (_view: unknown, attempt: AttemptContext) => {
    inFlight += 1;
    if (inFlight > concurrency) problems.push(`${inFlight} handlers in flight`);
    let left = false;
    const leave = () => {
      if (!left) inFlight -= 1;
      left = true;
    };
    attempt.signal.addEventListener('abort', leave);
    const value =
      step === 'work' ? { prUrl: prUrlOf(attempt.taskId, attempt.attemptNum) } : undefined;
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    switch (behaviourOf(attempt.taskId, attempt.attemptNum, step)) {
      case 'okSync':
        leave();
        return value as never;
      case 'okAsync':
        return tick().then(() => {
          leave();
          return value as never;
        });
      case 'throwSync':
        leave();
        throw new Error(`${step} failed`);
      case 'rejectAsync':
        return tick().then(() => {
          leave();
          throw new Error('');
        });
      case 'nonRetryable':
        leave();
        throw new NonRetryableError(`${step} cannot succeed`);
      case 'hang':
        return new Promise<never>(() => undefined);
      case 'settleAfterAbort':
        return new Promise((resolve) => {
          attempt.signal.addEventListener('abort', () => resolve(value as never));
        });
    }
  };
  return {
    work: act('work') as GraphWorkerOptions['work'],
    merge: act('merge') as GraphWorkerOptions['merge'],
  };
}

function behaviourPicker(scenario: Scenario) {
  const indexOf = new Map(scenario.tasks.map((task, index) => [task.id, index]));
  return (taskId: string, attemptNum: number, step: 'work' | 'merge'): Behaviour => {
    if (attemptNum >= ALWAYS_SUCCEEDS_FROM) return 'okSync';
    const index = ((indexOf.get(taskId) ?? 0) * ALWAYS_SUCCEEDS_FROM + attemptNum) * 2;
    const { behaviours } = scenario;
    return behaviours[(index + (step === 'merge' ? 1 : 0)) % behaviours.length] ?? 'okSync';
  };
}

/** Runs a worker over the scenario on `run`; returns every problem seen. */
async function exercise(run: GraphWorkerRun, scenario: Scenario): Promise<string[]> {
  const problems: string[] = [];
  const invariants = watchInvariants(run);
  const worker = new GraphWorker(run, {
    ...actors(behaviourPicker(scenario), scenario.concurrency, problems),
    concurrency: scenario.concurrency,
    retryDelayMs: scenario.retryDelayMs,
    attemptTimeoutMs: TIMEOUT_MS,
  });
  const outcome = await worker.run();
  invariants.stop();
  if (outcome === 'in_progress') problems.push('run() settled in_progress');
  if (outcome !== run.outcome) problems.push(`run() said ${outcome}, the run ${run.outcome}`);
  return [...problems, ...invariants.violations, ...ledgerViolations(run)];
}

describe('GraphWorker properties', () => {
  const dirs = tempDirs('task-runtime-worker-property-');
  afterAll(() => dirs.removeAll());

  it('should keep every rule over random DAGs and handler outcomes on a TaskGraphRuntime', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary(6), async (scenario) => {
        const options = { clock: tickingClock(), maxAttempts: scenario.maxAttempts };
        const run = new TaskGraphRuntime(TaskGraph.fromTasks(scenario.tasks), options);
        expect(await exercise(run, scenario)).toEqual([]);
      }),
      { numRuns: 80, seed: SEED },
    );
  });

  it('should keep every rule over random DAGs and handler outcomes on a DurableTaskGraphRuntime', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary(4), async (scenario) => {
        const store = await FileTaskStore.open(dirs.make());
        try {
          const options = { clock: tickingClock(), maxAttempts: scenario.maxAttempts };
          const graph = TaskGraph.fromTasks(scenario.tasks);
          const run = await DurableTaskGraphRuntime.open(store, graph, options);
          expect(await exercise(run, scenario)).toEqual([]);
        } finally {
          await store.close();
        }
      }),
      { numRuns: 12, seed: SEED },
    );
  });

  it('should never fail a task because its worker was killed, at whatever moments', async () => {
    const killsArbitrary = fc.array(fc.integer({ min: 1, max: 12 }), {
      minLength: 1,
      maxLength: 3,
    });
    await fc.assert(
      fc.asyncProperty(
        dagArbitrary(6),
        fc.integer({ min: 1, max: 4 }),
        killsArbitrary,
        fc.boolean(),
        async (tasks, concurrency, kills, async) => {
          const options = { clock: tickingClock(), maxAttempts: 1 };
          const handlers: Pick<GraphWorkerOptions, 'work' | 'merge'> = {
            work: (_view, attempt) => {
              const value = { prUrl: prUrlOf(attempt.taskId, attempt.attemptNum) };
              return async ? new Promise((resolve) => setImmediate(() => resolve(value))) : value;
            },
            merge: () => (async ? new Promise((resolve) => setImmediate(resolve)) : undefined),
          };
          let run = new TaskGraphRuntime(TaskGraph.fromTasks(tasks), options);
          for (const killAt of kills) {
            // Runs a worker until the run's killAt-th transition, then carries on from the run as it was then.
            const stop = new AbortController();
            let seen = 0;
            let saved: unknown = null;
            const current = run;
            const unsubscribe = current.subscribe((record) => {
              if (record.rejected || saved !== null) return;
              seen += 1;
              if (seen === killAt) {
                saved = JSON.parse(JSON.stringify(current.persist()));
                stop.abort();
              }
            });
            await new GraphWorker(current, { ...handlers, concurrency, retryDelayMs: 0 }).run({
              signal: stop.signal,
            });
            unsubscribe();
            if (saved === null) break; // it finished first
            run = TaskGraphRuntime.restore(saved, options);
          }
          const invariants = watchInvariants(run);
          const outcome = await new GraphWorker(run, {
            ...handlers,
            concurrency,
            retryDelayMs: 0,
          }).run();
          expect(outcome).toBe('succeeded');
          expect([...invariants.violations, ...ledgerViolations(run)]).toEqual([]);
          for (const id of run.graph.taskIds) {
            const outcomes = run.task(id).attempts.map((record) => record.outcome);
            expect(outcomes.filter((o) => o !== 'lost')).toEqual(['pr_merged']);
          }
        },
      ),
      { numRuns: 60, seed: SEED },
    );
  });

  it('should never fail a task because its process died on a durable run, at whatever save', async () => {
    await fc.assert(
      fc.asyncProperty(
        dagArbitrary(4),
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 20 }),
            fc.constantFrom<SaveFault>('fail', 'failAfterWrite'),
          ),
          {
            minLength: 1,
            maxLength: 2,
          },
        ),
        async (tasks, concurrency, kills) => {
          const store = await FileTaskStore.open(dirs.make());
          try {
            const graph = TaskGraph.fromTasks(tasks);
            const options = { clock: tickingClock(), maxAttempts: 1 };
            const handlers: GraphWorkerOptions = {
              work: (_view, attempt) => ({ prUrl: prUrlOf(attempt.taskId, attempt.attemptNum) }),
              merge: () => undefined,
              concurrency,
              retryDelayMs: 0,
            };
            for (const [save, fault] of kills) {
              // A process whose store stops at its save-th save: what it did before is all that is left.
              const dying = failingOnSaves(store, new Map([[save, fault]]));
              try {
                const run = await DurableTaskGraphRuntime.open(dying, graph, options);
                await new GraphWorker(run, handlers).run();
              } catch (error) {
                expect(error).toBeInstanceOf(TaskStoreError);
              }
            }
            const run = await DurableTaskGraphRuntime.open(store, graph, options);
            await expect(new GraphWorker(run, handlers).run()).resolves.toBe('succeeded');
            expect(ledgerViolations(run)).toEqual([]);
            for (const id of run.graph.taskIds) {
              const outcomes = run.task(id).attempts.map((record) => record.outcome);
              expect(outcomes.filter((o) => o !== 'lost')).toEqual(['pr_merged']);
            }
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 12, seed: SEED },
    );
  });

  it('should merge a reopened chain when its agents then succeed', async () => {
    await fc.assert(
      fc.asyncProperty(
        dagArbitrary(6).chain((tasks) =>
          fc.tuple(
            fc.constant(tasks),
            fc.nat({ max: tasks.length - 1 }),
            fc.integer({ min: 1, max: 4 }),
          ),
        ),
        async ([tasks, failing, concurrency]) => {
          const failingId = `t${failing}`;
          const run = new TaskGraphRuntime(TaskGraph.fromTasks(tasks), {
            clock: tickingClock(),
            maxAttempts: 1,
          });
          let fixed = false;
          const worker = new GraphWorker(run, {
            work(view, attempt) {
              if (view.task.id === failingId && !fixed)
                throw new NonRetryableError('needs a human');
              return { prUrl: prUrlOf(attempt.taskId, attempt.attemptNum) };
            },
            merge: () => undefined,
            concurrency,
            retryDelayMs: 0,
          });
          await expect(worker.run()).resolves.toBe('completed_with_failures');
          const downstream = run.graph.taskIds.filter((id) => run.task(id).blockedBy !== null);
          fixed = true;
          run.reopen(failingId, 'fixed by hand');
          const invariants = watchInvariants(run);
          await expect(worker.run()).resolves.toBe('succeeded');
          for (const id of [failingId, ...downstream])
            expect(run.task(id).status).toBe('pr_merged');
          expect([...invariants.violations, ...ledgerViolations(run)]).toEqual([]);
        },
      ),
      { numRuns: 60, seed: SEED },
    );
  });
});
