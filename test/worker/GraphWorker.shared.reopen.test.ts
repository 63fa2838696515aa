import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import type { AttemptRecord } from '../../src/machines/taskMachine.js';
import { readPersistedTaskRuntime } from '../../src/runtime/snapshot.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { NonRetryableError } from '../../src/worker/NonRetryableError.js';
import { killAll, runCli } from '../cli/cliHarness.js';
import {
  describeWithPostgres,
  type FreshTable,
  freshTable,
  requirePostgresUrl,
} from '../store/postgres.js';
import { startFixture } from '../support/childProcess.js';
import { tempDirs } from '../support/tempDir.js';

/*
 * `task-runtime reopen` run from the command line while the workers of a shared run are still at work (a task
 * of another chain keeps them busy): they follow what the command saved, work the reopened task again and the
 * tasks it had blocked, and the run ends succeeded.
 */

jest.setTimeout(60_000);

const dirs = tempDirs('task-runtime-shared-reopen-');
afterEach(killAll);
afterAll(() => dirs.removeAll());

const stores: TaskStore[] = [];
const runs: DurableTaskGraphRuntime[] = [];
afterEach(async () => {
  for (const run of runs.splice(0)) run.close();
  for (const store of stores.splice(0)) await store.close();
});

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});
/** x alone (the long one), and the chain a → b → c. */
const TASKS = [task('x'), task('a'), task('b', 'a'), task('c', 'b')];
const FIRST_ERROR = 'the spec of a contradicts itself';

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `store` whose saves after the first `free` ones wait until `release()` (the other calls go straight through). */
function holdingSavesAfter(store: TaskStore, free: number) {
  let saves = 0;
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'save') {
        return async (...args: Parameters<TaskStore['save']>) => {
          saves += 1;
          if (saves > free) await released;
          return target.save(...args);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: proxy, release, saves: () => saves };
}

/** Where the run is stored: a store to open here, the CLI's options naming it, and the worker fixture's. */
interface Place {
  open(): Promise<TaskStore>;
  readonly cliArgs: readonly string[];
  readonly fixture: Readonly<Record<string, string>>;
}

async function openStore(place: Place): Promise<TaskStore> {
  const store = await place.open();
  stores.push(store);
  return store;
}

async function openShared(place: Place, workerId: string): Promise<DurableTaskGraphRuntime> {
  const run = await DurableTaskGraphRuntime.open(
    await openStore(place),
    TaskGraph.fromTasks(TASKS),
    {
      workerId,
      leaseMs: 1_000,
      followMs: 50,
      maxAttempts: 3,
    },
  );
  runs.push(run);
  return run;
}

interface StoredView {
  readonly status: string;
  readonly concerns: readonly string[];
  readonly attempts: readonly AttemptRecord[];
}

/** Every task as stored, read by another process. */
async function storedRun(store: TaskStore): Promise<Record<string, StoredView>> {
  const view: Record<string, StoredView> = {};
  for (const { id } of TASKS) {
    const stored = await store.load(id);
    const { status, context } = readPersistedTaskRuntime(stored?.snapshot);
    view[id] = { status, concerns: context.concerns, attempts: context.attempts };
  }
  return view;
}

const statusesOf = (view: Record<string, StoredView>) =>
  Object.fromEntries(Object.entries(view).map(([id, { status }]) => [id, status]));

/** The record that ended in a merge, and the time it started and ended. */
function mergedAttempt(view: StoredView): { started: number; ended: number } {
  const record = view.attempts.find((attempt) => attempt.outcome === 'pr_merged');
  if (record?.startedAt == null || record.endedAt == null) throw new Error('no merged attempt');
  return { started: Date.parse(record.startedAt), ended: Date.parse(record.endedAt) };
}

/** Runs the CLI's reopen of `a` on the store, and checks what it says it did. */
async function reopenFromTheCommandLine(place: Place): Promise<void> {
  const result = await runCli(['reopen', 'a', '--reason', 'try again', ...place.cliArgs]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('Reopened a: attempt 1 prepared');
  expect(result.stdout).toContain('Returned to pending: a, b, c.');
}

/** What the stored run must show at the end: a failed once and merged on its reopen, then b and c in order. */
function expectReopenedAndFinished(view: Record<string, StoredView>): void {
  expect(statusesOf(view)).toEqual({
    x: 'pr_merged',
    a: 'pr_merged',
    b: 'pr_merged',
    c: 'pr_merged',
  });
  expect(
    view.a?.attempts.map(({ attemptNum, outcome, retryable }) => ({
      attemptNum,
      outcome,
      retryable,
    })),
  ).toEqual([
    { attemptNum: 0, outcome: 'failed', retryable: false },
    { attemptNum: 1, outcome: 'pr_merged', retryable: null },
  ]);
  expect(view.a?.attempts[0]?.error).toBe(FIRST_ERROR);
  expect(view.a?.concerns).toContain(`reopened: try again (last error: ${FIRST_ERROR})`);
  const [a, b, c] = (['a', 'b', 'c'] as const).map((id) => mergedAttempt(view[id] as StoredView));
  expect(b?.started).toBeGreaterThanOrEqual(a?.ended ?? Number.NaN);
  expect(c?.started).toBeGreaterThanOrEqual(b?.ended ?? Number.NaN);
}

function reopenSuite(placeOf: () => Place): void {
  it('should work the reopened task again and the tasks it blocked, while the worker was still running', async () => {
    const place = placeOf();
    const observer = await openStore(place);
    const run = await openShared(place, 'w1');
    const x = gate();
    const worked: string[] = [];
    const worker = new GraphWorker(run, {
      work: async (_view, attempt) => {
        worked.push(`${attempt.taskId}#${attempt.attemptNum}`);
        if (attempt.taskId === 'x') await x.promise;
        if (attempt.taskId === 'a' && attempt.attemptNum === 0) {
          throw new NonRetryableError(FIRST_ERROR);
        }
        return { prUrl: `https://example.com/pr/${attempt.taskId}/${attempt.attemptNum}` };
      },
      merge: async () => undefined,
      concurrency: 2,
      retryDelayMs: 0,
    });
    const running = worker.run();

    await until('a failed for good, blocking b and c', async () => {
      const { a, b, c } = statusesOf(await storedRun(observer));
      return a === 'failed' && b === 'failed' && c === 'failed';
    });
    expect(run.task('b').blockedBy).toBe('a');
    expect(run.task('c').blockedBy).toBe('b');
    expect([...worked].sort()).toEqual(['a#0', 'x#0']);
    expect(worker.isRunning).toBe(true);

    await reopenFromTheCommandLine(place);
    await until('c worked', () => worked.includes('c#1'));
    await until('c merged', () => run.task('c').status === 'pr_merged');
    expect(worked.slice(2)).toEqual(['a#1', 'b#1', 'c#1']);
    expect(run.outcome).toBe('in_progress'); // x is still at work
    expect(worker.isRunning).toBe(true);

    x.open();
    expect(await running).toBe('succeeded');
    expect(run.outcome).toBe('succeeded');
    expectReopenedAndFinished(await storedRun(observer));
  });

  it('should let a worker in another process work the reopened task and those it blocked', async () => {
    const place = placeOf();
    const observer = await openStore(place);
    const run = await openShared(place, 'w1');
    // a failed for good before the workers start: b and c are blocked, x is the only ready task.
    await run.markRunning('a');
    await run.markFailed('a', FIRST_ERROR, { retryable: false });
    expect(run.ready()).toEqual(['x']);

    const x = gate();
    const worked: string[] = [];
    const worker = new GraphWorker(run, {
      work: async (_view, attempt) => {
        worked.push(`${attempt.taskId}#${attempt.attemptNum}`);
        await x.promise;
        return { prUrl: `https://example.com/pr/${attempt.taskId}/${attempt.attemptNum}` };
      },
      merge: async () => undefined,
      concurrency: 1,
    });
    const running = worker.run();
    await until('x at work in this process', () => worked.includes('x#0'));

    const logFile = join(dirs.make(), 'handlers.log');
    writeFileSync(logFile, '');
    const child = startFixture('sharedRunWorker.mjs', [
      JSON.stringify({
        workerId: 'w2',
        tasks: TASKS,
        ...place.fixture,
        seed: 7,
        leaseMs: 1_000,
        followMs: 50,
        concurrency: 2,
        failRate: 0,
        nonRetryableRate: 0,
        maxAttempts: 3,
        logFile,
      }),
    ]);
    await child.waitForLine('opened', 20_000);
    const logged = () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { event: string; taskId: string; attemptNum: number });

    // Nothing for the other process to do until the reopen: x is leased here, a failed, b and c blocked.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(logged()).toEqual([]);
    expect(child.lines).toEqual(['opened']);

    await reopenFromTheCommandLine(place);
    await until('c merged by the other process', () =>
      logged().some((entry) => entry.event === 'mergeEnd' && entry.taskId === 'c'),
    );
    expect(
      logged()
        .filter((entry) => entry.event === 'workStart')
        .map((entry) => `${entry.taskId}#${entry.attemptNum}`),
    ).toEqual(['a#1', 'b#1', 'c#1']);
    expect(child.lines).toEqual(['opened']); // still running: x is not merged yet

    x.open();
    expect(await running).toBe('succeeded');
    await child.waitForLine(JSON.stringify({ workerId: 'w2', outcome: 'succeeded' }), 20_000);
    expect(worked).toEqual(['x#0']);
    const view = await storedRun(observer);
    expectReopenedAndFinished(view);
    expect(view.a?.attempts.map((attempt) => attempt.workerId)).toEqual(['w1', 'w2']);
    expect(view.x?.attempts.map((attempt) => attempt.workerId)).toEqual(['w1']);
  });

  it("should complete a reopen whose saves meet a worker's own return of the same tasks to pending", async () => {
    // A worker following the store between the reopen's save of a and those of b and c finds a pending and b, c
    // blocked by it, and returns them to pending itself; the reopen (opened as task-runtime reopen opens it, as
    // one more worker) meets those saves instead of failing on them.
    const place = placeOf();
    const observer = await openStore(place);
    const run = await openShared(place, 'w1');
    await run.markRunning('x'); // a worker still at work
    await run.markRunning('a');
    await run.markFailed('a', FIRST_ERROR, { retryable: false });
    expect(statusesOf(await storedRun(observer))).toMatchObject({ b: 'failed', c: 'failed' });

    const held = holdingSavesAfter(await openStore(place), 1);
    const operator = await DurableTaskGraphRuntime.open(held.store, TaskGraph.fromTasks(TASKS), {
      workerId: `task-runtime-reopen-${process.pid}`,
    });
    runs.push(operator);
    const reopening = operator.reopen('a', 'try again');
    await until('a saved by the reopen', () => held.saves() > 1);
    await until('the worker returned b and c to pending', async () => {
      const { b, c } = statusesOf(await storedRun(observer));
      return b === 'pending' && c === 'pending';
    });
    held.release();

    await expect(reopening).resolves.toBeUndefined();
    const view = await storedRun(observer);
    expect(statusesOf(view)).toEqual({ x: 'running', a: 'pending', b: 'pending', c: 'pending' });
    expect(view.a?.concerns).toContain(`reopened: try again (last error: ${FIRST_ERROR})`);
    expect(operator.ready()).toEqual(['a']);
    expect(run.ready()).toEqual(['a']);
  });
}

describe('GraphWorker on a shared run on a FileTaskStore, reopened from the command line', () => {
  reopenSuite(() => {
    const dir = dirs.make();
    return { open: () => FileTaskStore.open(dir), cliArgs: ['--dir', dir], fixture: { dir } };
  });
});

describeWithPostgres(
  'GraphWorker on a shared run on PostgreSQL, reopened from the command line',
  () => {
    const tables: FreshTable[] = [];
    afterAll(async () => {
      for (const table of tables) await table.drop();
    });
    reopenSuite(() => {
      const table = freshTable();
      tables.push(table);
      const connectionString = requirePostgresUrl();
      return {
        open: () => PostgresTaskStore.connect({ connectionString, table: table.name }),
        cliArgs: ['--pg', connectionString, '--pg-table', table.name],
        fixture: { connectionString, table: table.name },
      };
    });
  },
);
