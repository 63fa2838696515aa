import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskStatus } from '../../src/machines/status.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import {
  describeWithPostgres,
  type FreshTable,
  freshTable,
  requirePostgresUrl,
} from '../store/postgres.js';
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

  it('should let six workers block the same long list of dependents at once, none giving up on the others', async () => {
    const dir = dirs.make();
    const roots = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
    // Every root's final failure blocks the whole chain, so all six save the same blockings in the same order.
    const chain = Array.from({ length: 200 }, (_, index) =>
      index === 0 ? task('c0', ...roots) : task(`c${index}`, `c${index - 1}`),
    );
    const tasks = [...roots.map((id) => task(id)), ...chain];
    const opened: DurableTaskGraphRuntime[] = [];
    for (const root of roots) opened.push(await openShared(dir, tasks, `w-${root}`));
    await Promise.all(opened.map((run, index) => run.markRunning(roots[index] as string)));
    const failed = await Promise.allSettled(
      opened.map((run, index) =>
        run.markFailed(roots[index] as string, 'cannot succeed', { retryable: false }),
      ),
    );
    expect(failed.filter((result) => result.status === 'rejected')).toEqual([]);
    for (const run of opened) {
      expect(chain.filter(({ id }) => run.task(id).status !== TaskStatus.FAILED)).toEqual([]);
    }
    const store = await FileTaskStore.open(dir);
    stores.push(store);
    const stored = await Promise.all(chain.map(({ id }) => store.load(id)));
    // Each dependent was blocked once: created at revision 1, blocked at 2, by whichever worker came first.
    expect(new Set(stored.map((task) => task?.revision))).toEqual(new Set([2]));
  }, 60_000);
});

describe('DurableTaskGraphRuntime.close (shared)', () => {
  it('should tell its watchers that each lease it still held is lost, once', async () => {
    const dir = dirs.make();
    const run = await openShared(dir, [task('a'), task('b')], 'w1');
    const heard: string[] = [];
    run.watch((event) => {
      if (event.type === 'leaseLost') heard.push(event.taskId);
    });
    await run.markRunning('a');
    await run.markRunning('b');
    await run.markPrCreated('b', 'https://example.com/pr/b');
    await run.markPrMerged('b'); // b's lease was given back with the merge
    run.close();
    run.close();
    expect(heard).toEqual(['a']);
    expect(run.holdsLease('a')).toBe(false);
  });
});

describeWithPostgres('DurableTaskGraphRuntime (shared) on PostgreSQL', () => {
  const tables: FreshTable[] = [];
  afterAll(async () => {
    for (const table of tables) await table.drop();
  });

  async function openOnTable(
    table: string,
    tasks: readonly TaskInput[],
    workerId: string,
    options: { followMs?: number; runId?: string } = {},
  ): Promise<DurableTaskGraphRuntime> {
    const store = await PostgresTaskStore.connect({
      connectionString: requirePostgresUrl(),
      table,
      maxConnections: 3,
    });
    stores.push(store);
    const run = await DurableTaskGraphRuntime.open(store, TaskGraph.fromTasks(tasks), {
      workerId,
      followMs: options.followMs ?? 50,
      ...(options.runId === undefined ? {} : { runId: options.runId }),
    });
    runs.push(run);
    return run;
  }

  function newTable(): string {
    const table = freshTable();
    tables.push(table);
    return table.name;
  }

  /** A worker whose work records `${taskId}#${attemptNum}` in `worked`. */
  function recordingWorker(run: DurableTaskGraphRuntime, worked: string[]): GraphWorker {
    return new GraphWorker(run, {
      work: async (_view, attempt) => {
        worked.push(`${attempt.taskId}#${attempt.attemptNum}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
        return { prUrl: `https://example.com/pr/${attempt.taskId}` };
      },
      merge: async () => undefined,
      concurrency: 2,
    });
  }

  it('should let three workers finish a run together, claiming ready work from the store', async () => {
    const table = newTable();
    const tasks = layered(40);
    const opened = await Promise.all(['w1', 'w2', 'w3'].map((id) => openOnTable(table, tasks, id)));
    // One run id, derived from the graph, for all of them.
    const [runId, ...others] = opened.map((run) => run.runId);
    expect(runId).toMatch(/^graph-[0-9a-f]{32}$/);
    expect(others).toEqual([runId, runId]);
    const worked: string[] = [];
    const outcomes = await Promise.all(opened.map((run) => recordingWorker(run, worked).run()));
    expect(outcomes).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect([...worked].sort()).toEqual(tasks.map((t) => `${t.id}#0`).sort());
    // Every start came after its dependency's merge, in the stored ledgers.
    const [first] = opened;
    if (first === undefined) throw new Error('no run');
    for (const { id, dependencies = [] } of tasks) {
      const started = Date.parse(first.task(id).attempts[0]?.startedAt ?? '');
      for (const dependency of dependencies) {
        const merged = Date.parse(first.task(dependency).attempts[0]?.endedAt ?? '');
        expect({ id, dependency, early: started < merged }).toEqual({
          id,
          dependency,
          early: false,
        });
      }
    }
    const workers = new Set(tasks.map((t) => first.task(t.id).attempts[0]?.workerId));
    expect(workers.size).toBeGreaterThan(1);
  });

  it('should keep two runs in one table apart by their run ids', async () => {
    const table = newTable();
    const left = [task('l0'), task('l1', 'l0'), task('l2', 'l0')];
    const right = [task('r0'), task('r1', 'r0')];
    const leftRun = await openOnTable(table, left, 'w-left', { runId: 'left' });
    const rightRun = await openOnTable(table, right, 'w-right', { runId: 'right' });
    expect([leftRun.runId, rightRun.runId]).toEqual(['left', 'right']);
    const leftWorked: string[] = [];
    const rightWorked: string[] = [];
    await expect(
      Promise.all([
        recordingWorker(leftRun, leftWorked).run(),
        recordingWorker(rightRun, rightWorked).run(),
      ]),
    ).resolves.toEqual(['succeeded', 'succeeded']);
    expect(leftWorked.sort()).toEqual(['l0#0', 'l1#0', 'l2#0']);
    expect(rightWorked.sort()).toEqual(['r0#0', 'r1#0']);
  });

  it('should refuse to open a run id registered with another graph, storing nothing', async () => {
    const table = newTable();
    await openOnTable(table, [task('a')], 'w1', { runId: 'same' });
    await expect(
      openOnTable(table, [task('a'), task('b', 'a')], 'w2', { runId: 'same' }),
    ).rejects.toMatchObject({
      argument: 'runId',
    });
    const store = stores.at(-1);
    await expect(store?.load('b')).resolves.toBeNull();
  });

  it('should wake a worker waiting on another through LISTEN/NOTIFY, long before its next poll', async () => {
    const table = newTable();
    const tasks = [task('a'), task('b', 'a')];
    const holder = await openOnTable(table, tasks, 'holder');
    await expect(holder.claimReady()).resolves.toBe('a');
    await holder.markRunning('a');
    // The waiting worker polls once a minute: only the store's hint can wake it within this test's time.
    const waiting = await openOnTable(table, tasks, 'waiting', { followMs: 60_000 });
    const worked: string[] = [];
    const outcome = recordingWorker(waiting, worked).run();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(worked).toEqual([]); // a is the holder's, and b waits for it
    await holder.markPrCreated('a', 'https://example.com/pr/a');
    await holder.markPrMerged('a');
    await expect(outcome).resolves.toBe('succeeded');
    expect(worked).toEqual(['b#0']);
    expect(waiting.task('b').attempts[0]?.workerId).toBe('waiting');
  }, 20_000);
});
