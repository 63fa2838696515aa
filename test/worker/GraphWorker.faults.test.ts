/**
 * Store failures under a worker: a real FileTaskStore that fails on its n-th save, before or after writing, for
 * every n of a small run. run() rejects with the store's error; the run reopened on the store and run again
 * finishes with every invariant holding.
 */
import { TaskStoreError } from '../../src/errors.js';
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { AttemptEndedError } from '../../src/worker/AttemptContext.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import type { GraphWorkerOptions } from '../../src/worker/options.js';
import { rejectionOf } from '../support/errors.js';
import { failingOnSaves, type SaveFault } from '../support/failingStore.js';
import { tempDirs } from '../support/tempDir.js';
import {
  deferred,
  ledgerViolations,
  mergeAtOnce,
  succeed,
  task,
  tickingClock,
  watchInvariants,
} from './harness.js';

/** a → b, a → c, b and c → d; c fails its first attempt. */
const graph = TaskGraph.fromTasks([task('a'), task('b', 'a'), task('c', 'a'), task('d', 'b', 'c')]);

const handlers: GraphWorkerOptions = {
  async work(view, attempt) {
    await attempt.addConcern(`attempt ${attempt.attemptNum} began`);
    if (view.task.id === 'c' && attempt.attemptNum === 0) throw new Error('c is flaky once');
    return succeed(view, attempt);
  },
  merge: mergeAtOnce,
  concurrency: 2,
  retryDelayMs: 0,
};

jest.setTimeout(120_000);

describe('GraphWorker on a failing store', () => {
  const dirs = tempDirs('task-runtime-worker-faults-');
  afterAll(() => dirs.removeAll());

  /** How many saves a clean run makes, open included. */
  async function savesOfACleanRun(): Promise<number> {
    const store = await FileTaskStore.open(dirs.make());
    const counting = failingOnSaves(store, new Map());
    const run = await DurableTaskGraphRuntime.open(counting, graph, { maxAttempts: 2 });
    await expect(new GraphWorker(run, handlers).run()).resolves.toBe('succeeded');
    await store.close();
    return counting.saves;
  }

  it('should reject run() with the store error and carry on after a reopen, for every failing save', async () => {
    const saves = await savesOfACleanRun();
    expect(saves).toBeGreaterThan(10);
    for (const fault of ['fail', 'failAfterWrite'] as SaveFault[]) {
      for (let n = 1; n <= saves; n += 1) {
        const store = await FileTaskStore.open(dirs.make());
        const options = { maxAttempts: 2, clock: tickingClock() };

        const failing = failingOnSaves(store, new Map([[n, fault]]));
        const error = await rejectionOf(async () => {
          const run = await DurableTaskGraphRuntime.open(failing, graph, options);
          await new GraphWorker(run, handlers).run();
        });
        expect({ fault, n, error }).toEqual({ fault, n, error: expect.any(TaskStoreError) });

        const reopened = await DurableTaskGraphRuntime.open(store, graph, options);
        const invariants = watchInvariants(reopened);
        const outcome = await new GraphWorker(reopened, handlers).run();
        expect({ fault, n, outcome }).toEqual({ fault, n, outcome: 'succeeded' });
        expect({
          fault,
          n,
          violations: [...invariants.violations, ...ledgerViolations(reopened)],
        }).toEqual({
          fault,
          n,
          violations: [],
        });
        await store.close();
      }
    }
  });

  it('should abort the attempts in flight on a store failure and ignore what their handlers do later', async () => {
    const store = await FileTaskStore.open(dirs.make());
    const slow = deferred<{ prUrl: string }>();
    let slowSignal: AbortSignal | null = null;
    let slowContext: { addConcern(text: string): Promise<void> } | null = null;
    // Saves: 2 on open, then a's START and b's START; the 5th (a's PR) fails.
    const failing = failingOnSaves(store, new Map([[5, 'fail']]));
    const run = await DurableTaskGraphRuntime.open(
      failing,
      TaskGraph.fromTasks([task('a'), task('b')]),
    );
    const worker = new GraphWorker(run, {
      work(view, attempt) {
        if (view.task.id === 'a') return succeed(view, attempt);
        slowSignal = attempt.signal;
        slowContext = attempt;
        return slow.promise;
      },
      merge: mergeAtOnce,
      concurrency: 2,
    });
    const error = await rejectionOf(() => worker.run());
    expect(error).toBeInstanceOf(TaskStoreError);
    expect((slowSignal as AbortSignal | null)?.aborted).toBe(true);
    const savesThen = failing.saves;
    slow.resolve({ prUrl: 'https://example.test/pull/b' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(failing.saves).toBe(savesThen);
    await expect(
      (slowContext as unknown as { addConcern(text: string): Promise<void> }).addConcern('late'),
    ).rejects.toBeInstanceOf(AttemptEndedError);
    expect(worker.isRunning).toBe(false);

    // The same worker runs again on the run reopened: a and b were left running, and are recovered.
    const reopened = await DurableTaskGraphRuntime.open(store, run.graph);
    const again = new GraphWorker(reopened, { work: succeed, merge: mergeAtOnce, retryDelayMs: 0 });
    await expect(again.run()).resolves.toBe('succeeded');
    expect(reopened.task('b').attempts.map((r) => r.outcome)).toEqual(['lost', 'pr_merged']);
    await store.close();
  });
});
