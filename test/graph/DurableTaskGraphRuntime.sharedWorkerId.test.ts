import { IllegalTransitionError } from '../../src/errors.js';
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { readPersistedTaskRuntime } from '../../src/runtime/snapshot.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import { rejectionOf } from '../support/errors.js';
import { tempDirs } from '../support/tempDir.js';

/*
 * Two processes opened with the same workerId (a copied config, a restarted pod that kept its name) are made
 * harmless: each claim gets its own fencing token, and a run trusts only the leases it holds in memory, so the
 * twins cannot both work one task.
 */

const TWIN = 'twin';
const PR = 'https://example.com/pr/1';

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});

/** Where the twins meet: each `open()` is a store of its own (a process of its own) on the same tasks. */
interface Place {
  open(): Promise<TaskStore>;
}

/** A store whose saves wait, while held, until released (the other calls go straight through). */
interface GatedStore {
  readonly store: TaskStore;
  hold(): void;
  release(): void;
}

function gatedSaves(store: TaskStore): GatedStore {
  let gate: Promise<void> | null = null;
  let open = (): void => undefined;
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'save') {
        return async (...args: Parameters<TaskStore['save']>) => {
          if (gate !== null) await gate;
          return target.save(...args);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store: proxy,
    hold() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release() {
      gate = null;
      open();
    },
  };
}

/** The stored task as another process sees it: status, revision, lease and attempts. */
async function storedTask(store: TaskStore, id: string) {
  const stored = await store.load(id);
  if (stored === null) throw new Error(`task '${id}' is not stored`);
  const { status, context } = readPersistedTaskRuntime(stored.snapshot);
  return { status, revision: stored.revision, lease: stored.lease, attempts: context.attempts };
}

async function until(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function twinSuite(place: () => Place): void {
  const stores: TaskStore[] = [];
  const runs: DurableTaskGraphRuntime[] = [];

  afterEach(async () => {
    for (const run of runs.splice(0)) run.close();
    for (const store of stores.splice(0)) await store.close();
  });

  async function openStore(): Promise<TaskStore> {
    const store = await place().open();
    stores.push(store);
    return store;
  }

  async function openTwin(store: TaskStore, tasks: readonly TaskInput[]) {
    const run = await DurableTaskGraphRuntime.open(store, TaskGraph.fromTasks(tasks), {
      workerId: TWIN,
      leaseMs: 10_000,
      followMs: 50,
      maxAttempts: 2,
    });
    runs.push(run);
    return run;
  }

  it('should let only the twin that claimed a task change it, the other refused without a write', async () => {
    const tasks = [task('t'), task('u', 't')];
    const observer = await openStore();
    const a = await openTwin(await openStore(), tasks);
    const b = await openTwin(await openStore(), tasks);

    await a.markRunning('t');
    const claimed = await storedTask(observer, 't');
    expect(claimed.status).toBe('running');
    expect(claimed.lease).toMatchObject({ workerId: TWIN, token: a.leaseOf('t')?.token });

    // B loads the task before it claims: it finds it running, and START is refused as such.
    const start = await rejectionOf(() => b.markRunning('t'));
    expect(start).toBeInstanceOf(IllegalTransitionError);
    expect(start).toMatchObject({
      taskId: 't',
      event: 'START',
      status: 'running',
      reason: 'illegalInStatus',
    });
    expect(b.holdsLease('t')).toBe(false);
    expect(await b.takeOver('t')).toBeNull();
    for (const [event, command] of [
      ['FAIL', () => b.markFailed('t', 'the twin gave up')],
      ['PR_CREATED', () => b.markPrCreated('t', PR)],
      ['ADD_CONCERN', () => b.addConcern('t', 'the twin was here')],
    ] as const) {
      const refused = await rejectionOf(command);
      expect(refused).toBeInstanceOf(IllegalTransitionError);
      expect(refused).toMatchObject({
        taskId: 't',
        event,
        status: 'running',
        reason: 'claimedByAnotherWorker',
      });
      // The message says why the twin's own id holds it, and what to do.
      expect((refused as Error).message).toContain(
        `another process with this worker's id '${TWIN}' holds its lease`,
      );
      expect((refused as Error).message).toContain('give each process an id of its own');
    }
    expect(await storedTask(observer, 't')).toEqual(claimed);

    await a.markPrCreated('t', PR);
    await a.markPrMerged('t');
    const merged = await storedTask(observer, 't');
    expect(merged.status).toBe('pr_merged');
    expect(merged.revision).toBe(claimed.revision + 2);
    expect(merged.attempts).toEqual([
      expect.objectContaining({ attemptNum: 0, outcome: 'pr_merged', workerId: TWIN, prUrl: PR }),
    ]);
  });

  it("should refuse with claimedByAnotherWorker the twin whose claim meets the other's live lease before its START is saved", async () => {
    const tasks = [task('t')];
    const observer = await openStore();
    const gated = gatedSaves(await openStore());
    const a = await openTwin(gated.store, tasks);
    const b = await openTwin(await openStore(), tasks);

    gated.hold();
    const startA = a.markRunning('t');
    await until(async () => (await storedTask(observer, 't')).lease !== null);
    const leaseA = (await storedTask(observer, 't')).lease;

    const refused = await rejectionOf(() => b.markRunning('t'));
    expect(refused).toBeInstanceOf(IllegalTransitionError);
    expect(refused).toMatchObject({
      taskId: 't',
      event: 'START',
      status: 'pending',
      reason: 'claimedByAnotherWorker',
    });
    expect(b.holdsLease('t')).toBe(false);
    expect((await storedTask(observer, 't')).lease).toEqual(leaseA);

    gated.release();
    await startA;
    const started = await storedTask(observer, 't');
    expect(started).toMatchObject({ status: 'running', lease: leaseA });
    expect(started.attempts).toHaveLength(1);
    expect(a.holdsLease('t')).toBe(true);
  });

  it('should let exactly one twin start each task when both start it at the same moment', async () => {
    const tasks = Array.from({ length: 12 }, (_, index) => task(`t${index}`));
    const observer = await openStore();
    const a = await openTwin(await openStore(), tasks);
    const b = await openTwin(await openStore(), tasks);

    for (const { id } of tasks) {
      const [first, second] = await Promise.allSettled([a.markRunning(id), b.markRunning(id)]);
      const settled = [first, second];
      expect(settled.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      const refusal = settled.find((result) => result.status === 'rejected')?.reason;
      expect(refusal).toBeInstanceOf(IllegalTransitionError);
      // Claimed first by the other (its START not saved yet), or found running once it was.
      expect(['claimedByAnotherWorker', 'illegalInStatus']).toContain(
        (refusal as IllegalTransitionError).reason,
      );
      expect([a.holdsLease(id), b.holdsLease(id)].filter(Boolean)).toHaveLength(1);
      const stored = await storedTask(observer, id);
      expect(stored.status).toBe('running');
      expect(stored.attempts).toHaveLength(1);
    }
  });

  it('should work each task once when two GraphWorkers share one workerId', async () => {
    const tasks = Array.from({ length: 16 }, (_, index) =>
      index === 0 ? task('t0') : task(`t${index}`, `t${Math.floor((index - 1) / 3)}`),
    );
    const observer = await openStore();
    const twins = [
      await openTwin(await openStore(), tasks),
      await openTwin(await openStore(), tasks),
    ];
    const worked: string[] = [];
    const outcomes = await Promise.all(
      twins.map((run, index) =>
        new GraphWorker(run, {
          work: async (_view, attempt) => {
            worked.push(`${attempt.taskId}#${attempt.attemptNum}@${index}`);
            await new Promise((resolve) => setTimeout(resolve, 5));
            return { prUrl: `https://example.com/pr/${attempt.taskId}` };
          },
          merge: async () => undefined,
          concurrency: 2,
          retryDelayMs: 0,
        }).run(),
      ),
    );
    expect(outcomes).toEqual(['succeeded', 'succeeded']);
    const attempts = worked.map((entry) => entry.split('@')[0]);
    expect(new Set(attempts).size).toBe(attempts.length);
    expect(attempts).toHaveLength(tasks.length);
    for (const { id } of tasks) {
      const stored = await storedTask(observer, id);
      expect(stored.status).toBe('pr_merged');
      expect(stored.attempts).toEqual([
        expect.objectContaining({ attemptNum: 0, outcome: 'pr_merged', workerId: TWIN }),
      ]);
    }
  });
}

const dirs = tempDirs('task-runtime-twin-');
afterAll(() => dirs.removeAll());

describe('DurableTaskGraphRuntime shared by two runs with the same workerId, on a FileTaskStore', () => {
  let dir = '';
  beforeEach(() => {
    dir = dirs.make();
  });
  twinSuite(() => ({ open: () => FileTaskStore.open(dir) }));
});

describeWithPostgres(
  'DurableTaskGraphRuntime shared by two runs with the same workerId, on PostgreSQL',
  () => {
    let table = freshTable();
    const tables = [table];
    beforeEach(() => {
      table = freshTable();
      tables.push(table);
    });
    afterAll(async () => {
      for (const made of tables) await made.drop();
    });
    twinSuite(() => ({
      open: () =>
        PostgresTaskStore.connect({ connectionString: requirePostgresUrl(), table: table.name }),
    }));
  },
);
