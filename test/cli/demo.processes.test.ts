import type { AttemptRecord } from '../../src/machines/taskMachine.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import {
  type CliResult,
  killAll,
  parseSummary,
  removeTempDirs,
  runCli,
  startCli,
  storeDir,
  storedSnapshots,
  summaryBlock,
} from './cliHarness.js';

/*
 * `task-runtime demo --processes N`: N worker processes share one run on one store. Run as a user would (the built
 * command line), on a real FileTaskStore in a temporary directory, and on PostgreSQL when TASK_RUNTIME_PG_URL is
 * set (`.ci/with-postgres npx jest test/cli/demo.processes.test.ts`). The store is read through its public API.
 */

jest.setTimeout(120_000);

afterEach(killAll);
afterAll(removeTempDirs);

/** A stored task as the assertions need it: its status, whether it can still be retried, and its ledger. */
interface StoredTask {
  readonly status: string;
  readonly settled: boolean;
  readonly attempts: readonly AttemptRecord[];
}

/** Every task of `store`, restored with TaskRuntime.restore (so each is a valid snapshot), by id. */
async function readTasks(store: TaskStore): Promise<Map<string, StoredTask>> {
  const tasks = new Map<string, StoredTask>();
  for (const id of await store.list()) {
    const stored = await store.load(id);
    if (stored === null) continue;
    const runtime = TaskRuntime.restore(stored.snapshot);
    const settled =
      runtime.status === 'pr_merged' ||
      (runtime.status === 'failed' && !runtime.can({ type: 'RETRY' }));
    tasks.set(id, { status: runtime.status, settled, attempts: runtime.attempts });
  }
  return tasks;
}

/** Every task of the FileTaskStore in `dir`. */
async function fileTasks(dir: string): Promise<Map<string, StoredTask>> {
  const snapshots = await storedSnapshots(dir);
  return new Map(
    [...snapshots].map(([id, { snapshot }]) => {
      const runtime = TaskRuntime.restore(snapshot);
      const settled =
        runtime.status === 'pr_merged' ||
        (runtime.status === 'failed' && !runtime.can({ type: 'RETRY' }));
      return [id, { status: runtime.status, settled, attempts: runtime.attempts }];
    }),
  );
}

/** The attempts that ran (a blocked task's record has no start), of every task. */
function startedAttempts(tasks: ReadonlyMap<string, StoredTask>): (AttemptRecord & {
  taskId: string;
})[] {
  return [...tasks].flatMap(([taskId, task]) =>
    task.attempts.filter((record) => record.startedAt !== null).map((r) => ({ ...r, taskId })),
  );
}

/** How many attempts each worker id started, from the ledgers. */
function attemptsByWorker(tasks: ReadonlyMap<string, StoredTask>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of startedAttempts(tasks)) {
    const worker = record.workerId ?? '(none)';
    counts.set(worker, (counts.get(worker) ?? 0) + 1);
  }
  return counts;
}

/** One step a worker printed: `2026-01-05 09:12:00  worker-2  spec-login  attempt 0  pending → running`. */
interface WorkerStep {
  readonly line: string;
  readonly workerId: string;
  readonly taskId: string;
  readonly attemptNum: number;
  readonly from: string;
  readonly to: string;
}

const STEP_LINE =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}(worker-\d+)\s+(\S+)\s+attempt (\d+) {2}(\S+) → (\S+)(?: {2}.*)?$/;

/** The steps the demo printed, in order. */
function workerSteps(stdout: string): WorkerStep[] {
  return stdout.split('\n').flatMap((line) => {
    const match = STEP_LINE.exec(line);
    if (match === null) return [];
    const [, workerId = '', taskId = '', attempt = '', from = '', to = ''] = match;
    return [{ line, workerId, taskId, attemptNum: Number(attempt), from, to }];
  });
}

/** The rows of the summary's `Attempts per worker` table: worker id → attempts, merged, lost. */
function workerTable(
  stdout: string,
): Map<string, { attempts: number; merged: number; lost: number }> {
  const lines = stdout.split('\n');
  const start = lines.indexOf('Attempts per worker');
  if (start === -1) throw new Error(`no 'Attempts per worker' table in:\n${stdout}`);
  const rows = new Map<string, { attempts: number; merged: number; lost: number }>();
  for (const line of lines.slice(start + 2)) {
    const match = /^ {2}(\S+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (match === null) break;
    const [, worker = '', attempts, merged, lost] = match;
    rows.set(worker, { attempts: Number(attempts), merged: Number(merged), lost: Number(lost) });
  }
  return rows;
}

/** The pid each worker process printed when it started. */
function workerPids(stdout: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const match of stdout.matchAll(/^(worker-\d+) {2}started \(pid (\d+)\)/gm)) {
    pids.set(match[1] ?? '', Number(match[2]));
  }
  return pids;
}

/** Whether a process with this pid still exists. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * What every finished shared run must show: exit 0, every task stored and settled, attempts of at least two
 * workers (all among worker-1…N), each printed start made by the worker the ledger names (every start of the run
 * printed, unless `resumed`), and a per-worker table that counts what the ledgers hold.
 */
function expectSharedRunSettled(
  result: CliResult,
  tasks: ReadonlyMap<string, StoredTask>,
  taskCount: number,
  processes: number,
  resumed = false,
): void {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(tasks.size).toBe(taskCount);
  const unsettled = [...tasks].filter(([, task]) => !task.settled).map(([id]) => id);
  expect(unsettled).toEqual([]);

  const counts = attemptsByWorker(tasks);
  const workerIds = Array.from({ length: processes }, (_, index) => `worker-${index + 1}`);
  expect([...counts.keys()].filter((id) => !workerIds.includes(id))).toEqual([]);
  expect(counts.size).toBeGreaterThanOrEqual(2);

  const starts = workerSteps(result.stdout).filter((step) => step.to === 'running');
  if (!resumed) expect(starts).toHaveLength(startedAttempts(tasks).length);
  expect(starts.length).toBeGreaterThan(0);
  for (const start of starts) {
    const record = tasks
      .get(start.taskId)
      ?.attempts.find((candidate) => candidate.attemptNum === start.attemptNum);
    expect({ line: start.line, workerId: record?.workerId }).toEqual({
      line: start.line,
      workerId: start.workerId,
    });
  }

  const table = workerTable(result.stdout);
  expect([...table.keys()].sort()).toEqual(workerIds);
  for (const workerId of workerIds) {
    const own = startedAttempts(tasks).filter((record) => record.workerId === workerId);
    expect({ workerId, ...table.get(workerId) }).toEqual({
      workerId,
      attempts: own.length,
      merged: own.filter((record) => record.outcome === 'pr_merged').length,
      lost: own.filter((record) => record.outcome === 'lost').length,
    });
  }

  const { rows, total } = parseSummary(summaryBlock(result.stdout));
  expect(total).toBe(taskCount);
  for (const { id, status } of rows)
    expect({ id, status: tasks.get(id)?.status }).toEqual({ id, status });
}

describe('task-runtime demo --processes', () => {
  it('should settle a run of 20 tasks worked by 3 processes sharing a FileTaskStore, with attempts of at least two workers in the stored ledgers, each start printed by the worker its ledger names', async () => {
    const dir = storeDir();
    const result = await runCli([
      ...['demo', '--processes', '3', '--tasks', '20', '--delay-ms', '5', '--fresh'],
      ...['--workers', '1', '--dir', dir],
    ]);
    expectSharedRunSettled(result, await fileTasks(dir), 20, 3);
    expect(result.stdout).toMatch(/with 3 worker processes sharing the store\./);
    for (const worker of ['worker-1', 'worker-2', 'worker-3']) {
      expect(result.stdout).toContain(`${worker}  done: the run is settled`);
    }
  });

  it('should refuse a --processes outside 1-16, or not an integer, with a usage error naming the option, what it expects and what it got', async () => {
    for (const value of ['0', '17', 'two']) {
      const result = await runCli(['demo', '--processes', value, '--dir', storeDir()]);
      expect({ value, code: result.code, stdout: result.stdout }).toEqual({
        value,
        code: 2,
        stdout: '',
      });
      expect(result.stderr).toContain(
        `error: option '--processes <n>' argument '${value}' is invalid. Expected an integer from 1 to 16.`,
      );
    }
    const both = await runCli(['demo', '--processes', '2', '--dir', storeDir(), '--pg', 'x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('cannot be used with option');
  });

  it('should finish the run when a worker process is killed while it works a task: another worker takes the task over as a lost attempt, and the demo says which worker died', async () => {
    const dir = storeDir();
    const demo = startCli([
      ...['demo', '--processes', '3', '--tasks', '15', '--workers', '1', '--delay-ms', '150'],
      ...['--fresh', '--dir', dir],
    ]);
    const started = (stdout: string) =>
      workerSteps(stdout).find((step) => step.workerId === 'worker-2' && step.to === 'running');
    await demo.waitFor((stdout) => started(stdout) !== undefined, 30_000);
    const victim = started(demo.stdout());
    const pid = workerPids(demo.stdout()).get('worker-2');
    if (victim === undefined || pid === undefined) throw new Error(demo.stdout());
    process.kill(pid, 'SIGKILL');
    const result = await demo.done;

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain(
      'worker-2  died (killed by SIGKILL) before the run was settled',
    );
    expect(result.stdout).toContain(
      'worker-2 died (killed by SIGKILL); the other workers finished the run without it.',
    );
    const tasks = await fileTasks(dir);
    expect([...tasks].filter(([, task]) => !task.settled)).toEqual([]);
    const ledger = tasks.get(victim.taskId)?.attempts ?? [];
    const killed = ledger.find((record) => record.attemptNum === victim.attemptNum);
    expect(killed).toMatchObject({ workerId: 'worker-2', outcome: 'lost' });
    expect(killed?.error).toContain(
      "of worker 'worker-2' was found running with its lease run out",
    );
    const after = ledger.filter((record) => record.attemptNum > victim.attemptNum);
    expect(after.length).toBeGreaterThan(0);
    for (const record of after) expect(record.workerId).not.toBe('worker-2');
    expect(isAlive(pid)).toBe(false);
  });

  it('should stop every worker gracefully on Ctrl-C (exit code 130, no task left running, no worker process left), and finish the run when the same command runs again', async () => {
    const dir = storeDir();
    const args = ['demo', '--processes', '2', '--tasks', '15', '--delay-ms', '50', '--dir', dir];
    const demo = startCli([...args, '--fresh']);
    await demo.waitFor((stdout) => workerSteps(stdout).length >= 3, 30_000);
    const pids = workerPids(demo.stdout());
    expect([...pids.keys()].sort()).toEqual(['worker-1', 'worker-2']);
    demo.child.kill('SIGINT');
    const stopped = await demo.done;

    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(
      /^Interrupted \(\d+ of 15 tasks settled\)\. Every step so far is saved in .*; run the same command again to resume\.\n$/,
    );
    expect(stopped.stdout).toContain('worker-1  stopped, every step saved');
    expect(stopped.stdout).toContain('worker-2  stopped, every step saved');
    for (const pid of pids.values()) expect(isAlive(pid)).toBe(false);
    const left = await fileTasks(dir);
    expect([...left].filter(([, task]) => task.status === 'running').map(([id]) => id)).toEqual([]);
    expect([...left.values()].some((task) => !task.settled)).toBe(true);

    const resumed = await runCli(args);
    expect(resumed.stdout).toMatch(
      /^Resuming the demo run in .* with 2 worker processes: \d+ of 15/,
    );
    expectSharedRunSettled(resumed, await fileTasks(dir), 15, 2, true);
    const lost = startedAttempts(await fileTasks(dir)).filter((r) => r.outcome === 'lost');
    expect(lost).toEqual([]);

    const shown = await runCli(args);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^The demo run in .* already finished; here is its summary\./);
    expect(workerSteps(shown.stdout)).toEqual([]);
    expect(summaryBlock(shown.stdout)).toEqual(summaryBlock(resumed.stdout));
    expect(workerTable(shown.stdout)).toEqual(workerTable(resumed.stdout));
  });
});

describeWithPostgres('task-runtime demo --processes on PostgreSQL', () => {
  const tables: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const drop of tables) await drop();
  });

  /** A throw-away table, dropped after the tests. */
  function table(): string {
    const fresh = freshTable();
    tables.push(fresh.drop);
    return fresh.name;
  }

  /** Every task of the table, read through a PostgresTaskStore. */
  async function tableTasks(name: string): Promise<Map<string, StoredTask>> {
    const store = await PostgresTaskStore.connect({
      connectionString: requirePostgresUrl(),
      table: name,
      migrate: false,
    });
    try {
      return await readTasks(store);
    } finally {
      await store.close();
    }
  }

  it('should settle a run of 20 tasks worked by 3 processes sharing a PostgreSQL table, with attempts of at least two workers in its ledgers', async () => {
    const name = table();
    const result = await runCli([
      ...['demo', '--processes', '3', '--tasks', '20', '--delay-ms', '5', '--workers', '1'],
      ...['--pg', requirePostgresUrl(), '--pg-table', name],
    ]);
    expectSharedRunSettled(result, await tableTasks(name), 20, 3);
    expect(result.stdout).toContain(`(table ${name}) (--tasks 20`);
    expect(result.stdout).toContain(`task-runtime status --pg `);
    expect(result.stdout).toContain(`task-runtime history <task-id> --pg `);
    expect(result.stdout).toContain(`--pg-table ${name}`);
  });

  it('should run a demo of one process on PostgreSQL to the very summary it prints on a FileTaskStore', async () => {
    const name = table();
    const args = ['demo', '--delay-ms', '0', '--tasks', '15', '--seed', '7'];
    const [onPg, onFile] = await Promise.all([
      runCli([...args, '--pg', requirePostgresUrl(), '--pg-table', name]),
      runCli([...args, '--dir', storeDir()]),
    ]);
    expect([onPg.code, onPg.stderr]).toEqual([0, '']);
    expect([onFile.code, onFile.stderr]).toEqual([0, '']);
    expect(summaryBlock(onPg.stdout)).toEqual(summaryBlock(onFile.stdout));
    const tasks = await tableTasks(name);
    expect(tasks.size).toBe(15);
    expect(startedAttempts(tasks).every((record) => record.workerId === null)).toBe(true);

    const other = await runCli([
      ...['demo', '--delay-ms', '0', '--tasks', '12', '--seed', '7'],
      ...['--pg', requirePostgresUrl(), '--pg-table', name],
    ]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('task(s) this demo run does not plan');
    expect(await tableTasks(name)).toEqual(tasks);
  });
});
