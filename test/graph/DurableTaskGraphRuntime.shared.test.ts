import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { tempDirs } from '../support/tempDir.js';

const dirs = tempDirs('task-runtime-shared-');
const stores: TaskStore[] = [];
const runs: DurableTaskGraphRuntime[] = [];

afterEach(async () => {
  for (const run of runs.splice(0)) run.close();
  for (const store of stores.splice(0)) await store.close();
});
afterAll(() => dirs.removeAll());

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});

/** A chain-and-fan graph: t0 ← t1..t4 ← t5 … */
function layered(count: number): TaskInput[] {
  return Array.from({ length: count }, (_, index) =>
    task(`t${index}`, ...(index === 0 ? [] : [`t${Math.floor((index - 1) / 3)}`])),
  );
}

async function openShared(
  dir: string,
  tasks: readonly TaskInput[],
  workerId: string,
  options: { leaseMs?: number; maxAttempts?: number } = {},
): Promise<DurableTaskGraphRuntime> {
  const store = await FileTaskStore.open(dir);
  stores.push(store);
  const run = await DurableTaskGraphRuntime.open(store, TaskGraph.fromTasks(tasks), {
    workerId,
    followMs: 50,
    ...options,
  });
  runs.push(run);
  return run;
}

describe('DurableTaskGraphRuntime (shared)', () => {
  it('should let three workers on one FileTaskStore finish a run together, each attempt worked once', async () => {
    const dir = dirs.make();
    const tasks = layered(40);
    const opened = await Promise.all(
      ['w1', 'w2', 'w3'].map((id) => openShared(dir, tasks, id, { maxAttempts: 3 })),
    );
    const worked: string[] = [];
    const outcomes = await Promise.all(
      opened.map((run) =>
        new GraphWorker(run, {
          work: async (_view, attempt) => {
            worked.push(`${attempt.taskId}#${attempt.attemptNum}`);
            await new Promise((resolve) => setTimeout(resolve, 5));
            return { prUrl: `https://example.com/pr/${attempt.taskId}` };
          },
          merge: async () => undefined,
          concurrency: 2,
          retryDelayMs: 0,
        }).run(),
      ),
    );
    expect(outcomes).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(new Set(worked).size).toBe(worked.length);
    expect(worked).toHaveLength(40);
    const workers = new Set(
      opened[0]?.graph.taskIds.map((id) => opened[0]?.task(id).attempts[0]?.workerId),
    );
    expect(workers.size).toBeGreaterThan(1);
  });
});
