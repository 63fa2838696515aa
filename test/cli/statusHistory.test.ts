import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { createTask } from '../../src/task/createTask.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import {
  killAll,
  parseSummary,
  removeTempDirs,
  runCli,
  storeDir,
  summaryBlock,
  tempDir,
} from './cliHarness.js';
import { corrupt } from './storeFixtures.js';

jest.setTimeout(30_000);

afterEach(killAll);
afterAll(removeTempDirs);

describe('task-runtime status', () => {
  let dir = '';
  let summary: ReturnType<typeof parseSummary>;

  beforeAll(async () => {
    dir = storeDir();
    const demo = await runCli(['demo', '--delay-ms', '0', '--dir', dir]);
    expect(demo.code).toBe(0);
    summary = parseSummary(summaryBlock(demo.stdout));
  });

  it('should print one line per task the demo stored, with the status the demo reported', async () => {
    const result = await runCli(['status', '--dir', dir]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`12 task(s) in ${dir}:`);
    expect(lines[1]).toMatch(/^ {2}task\s+status\s+attempt\s+last error$/);
    const rows = lines.slice(2, -1).map((line) => line.trim().split(/\s+/));
    expect(rows.map(([id, status]) => `${id} ${status}`).sort()).toEqual(
      summary.rows.map((row) => `${row.id} ${row.status}`).sort(),
    );
    const blocked = lines.find((line) => / failed\s+0\s+blocked by /.test(line));
    expect(blocked).toMatch(/ failed\s+0\s+blocked by \S+$/);
    // The demo's run has finished with a final failure; nothing holds a lease, so no lease columns.
    expect(lines.at(-1)).toBe('Run outcome: completed_with_failures');
    expect(lines[1]).not.toContain('worker');
  });

  it('should say so when the store is empty, and fail with a hint when it does not exist', async () => {
    const empty = storeDir();
    await (await FileTaskStore.open(empty)).close();
    const none = join(tempDir(), 'missing');
    const [emptyResult, missing] = await Promise.all([
      runCli(['status', '--dir', empty]),
      runCli(['status', '--dir', none]),
    ]);
    expect(emptyResult.code).toBe(0);
    expect(emptyResult.stdout).toContain('is empty');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
    expect(missing.stderr).toContain(`task-runtime demo --dir ${none}`);
    expect(readdirSync(join(none, '..'))).toEqual([]);
  });

  it('should report a corrupt task on its own line, still list the others, and exit 1', async () => {
    const small = storeDir();
    expect((await runCli(['demo', '--delay-ms', '0', '--tasks', '3', '--dir', small])).code).toBe(
      0,
    );
    corrupt(small, 'tests-login');
    const result = await runCli(['status', '--dir', small]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^ {2}tests-login\s+CORRUPT\s+—\s+SnapshotError: .*not valid JSON/m,
    );
    expect(result.stdout).toMatch(/^ {2}spec-login\s+pr_merged\s+0/m);
    expect(result.stdout).toMatch(/^ {2}impl-login\s+\S+\s+\d/m);
    expect(result.stderr).toContain('cannot be read: tests-login');
    const history = await runCli(['history', 'tests-login', '--dir', small]);
    expect(history.code).toBe(1);
    expect(history.stderr).toContain("Cannot restore task 'tests-login'");
  });
});

/**
 * Stores a shared run's moment in `store`: `held` running under worker-a's live lease, `lost` running under
 * worker-b's lease that expired (its worker presumed lost), `done` merged with an expired lease never released,
 * `free` pending without a lease. Resolves once worker-b's lease has expired.
 */
async function storeLeasedTasks(store: TaskStore): Promise<void> {
  const runtime = (id: string) => new TaskRuntime(createTask({ id, role: 'generic' }));
  const held = runtime('held');
  held.markRunning({ workerId: 'worker-a' });
  const lost = runtime('lost');
  lost.markRunning({ workerId: 'worker-b' });
  const done = runtime('done');
  done.markRunning({ workerId: 'worker-c' });
  done.markPrCreated('https://example.test/pr/1');
  done.markPrMerged();
  for (const each of [held, lost, done, runtime('free')]) {
    await store.save(each.task.id, each.persist(), { expectedRevision: null });
  }
  await store.claim('held', 'worker-a', { leaseMs: 3_600_000 });
  await store.claim('lost', 'worker-b', { leaseMs: 1 });
  await store.claim('done', 'worker-c', { leaseMs: 1 });
  await new Promise((resolve) => setTimeout(resolve, 20));
}

/** The stored lease expiries by id, as `YYYY-MM-DD HH:MM:SS UTC`. */
async function expiries(store: TaskStore): Promise<Map<string, string>> {
  const shown = new Map<string, string>();
  for (const id of ['held', 'lost', 'done']) {
    const expiresAt = (await store.load(id))?.lease?.expiresAt ?? '';
    shown.set(id, `${expiresAt.slice(0, 10)} ${expiresAt.slice(11, 19)} UTC`);
  }
  return shown;
}

describe('task-runtime status of a run shared by workers', () => {
  let dir = '';
  let shown = new Map<string, string>();

  beforeAll(async () => {
    dir = storeDir();
    const store = await FileTaskStore.open(dir);
    await storeLeasedTasks(store);
    shown = await expiries(store);
    await store.close();
  });

  it('should show which worker holds each task and until when, and which worker is presumed lost', async () => {
    const result = await runCli(['status', '--dir', dir]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^ {2}task\s+status\s+attempt\s+worker\s+lease\s+last error$/);
    const rowOf = (id: string) => lines.find((line) => line.startsWith(`  ${id} `))?.trimEnd();
    expect(rowOf('held')).toMatch(
      new RegExp(`^ {2}held\\s+running\\s+0\\s+worker-a\\s+until ${shown.get('held')}$`),
    );
    expect(rowOf('lost')).toMatch(
      new RegExp(
        `^ {2}lost\\s+running\\s+0\\s+worker-b\\s+expired ${shown.get('lost')}, worker presumed lost$`,
      ),
    );
    expect(rowOf('done')).toMatch(
      new RegExp(`^ {2}done\\s+pr_merged\\s+0\\s+worker-c\\s+expired ${shown.get('done')}$`),
    );
    expect(rowOf('free')).toMatch(/^ {2}free\s+pending\s+0$/);
    expect(lines.at(-1)).toBe('Run outcome: in_progress');
  });

  it('should print the same as JSON with --json: each lease with its standing, and the outcome', async () => {
    const result = await runCli(['status', '--dir', dir, '--json']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const body = JSON.parse(result.stdout) as {
      store: string;
      outcome: string;
      tasks: { id: string; status: string; lease: Record<string, unknown> | null }[];
    };
    expect(body.store).toBe(dir);
    expect(body.outcome).toBe('in_progress');
    const store = await FileTaskStore.open(dir);
    try {
      for (const task of body.tasks) {
        const lease = (await store.load(task.id))?.lease ?? null;
        const standing = { held: 'held', lost: 'lost', done: 'expired', free: null }[task.id];
        expect(task.lease).toEqual(lease === null ? null : { ...lease, standing });
      }
    } finally {
      await store.close();
    }
    expect(body.tasks.map(({ id, status }) => `${id} ${status}`)).toEqual([
      'done pr_merged',
      'free pending',
      'held running',
      'lost running',
    ]);
  });
});

describeWithPostgres('task-runtime status --pg', () => {
  it('should list the tasks of a PostgreSQL table with their leases', async () => {
    const url = requirePostgresUrl();
    const table = freshTable();
    const store = await PostgresTaskStore.connect({ connectionString: url, table: table.name });
    try {
      await storeLeasedTasks(store);
      const shown = await expiries(store);
      const result = await runCli(['status', '--pg', url, '--pg-table', table.name]);
      expect([result.code, result.stderr]).toEqual([0, '']);
      expect(result.stdout).toContain(`4 task(s) in `);
      expect(result.stdout).toContain(`(table ${table.name}):`);
      expect(result.stdout).toMatch(
        new RegExp(`^ {2}held\\s+running\\s+0\\s+worker-a\\s+until ${shown.get('held')}$`, 'm'),
      );
      expect(result.stdout).toMatch(
        new RegExp(
          `^ {2}lost\\s+running\\s+0\\s+worker-b\\s+expired ${shown.get('lost')}, worker presumed lost$`,
          'm',
        ),
      );
    } finally {
      await store.close();
      await table.drop();
    }
  });
});

describe('task-runtime history', () => {
  let dir = '';

  beforeAll(async () => {
    dir = storeDir();
    expect((await runCli(['demo', '--delay-ms', '0', '--dir', dir])).code).toBe(0);
  });

  /** The stored ledger of `id`, read through the library. */
  async function ledgerOf(id: string): Promise<TaskRuntime> {
    const store = await FileTaskStore.open(dir);
    try {
      return TaskRuntime.restore((await store.load(id))?.snapshot);
    } finally {
      await store.close();
    }
  }

  it('should show every attempt of a retried task as a timeline, with its concerns', async () => {
    const store = await FileTaskStore.open(dir);
    const ids = await store.list();
    await store.close();
    const runtimes = await Promise.all(ids.map(ledgerOf));
    const retried = runtimes.find((runtime) => runtime.attempts.length >= 2);
    if (retried === undefined) throw new Error('the default demo run should retry some task');
    const result = await runCli(['history', retried.task.id, '--dir', dir]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(
      `${retried.task.id} (${retried.task.role}): ${retried.status}, attempt ${retried.state.attemptNum}` +
        (retried.state.error === null ? '' : ` — ${retried.state.error}`),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}attempt\s+started\s+ended\s+duration\s+outcome\s+error\s+PR$/),
    );
    for (const record of retried.attempts) {
      const start = (record.startedAt ?? '').replace('T', ' ').slice(0, 19);
      const row = lines.find((line) => line.startsWith(`  ${record.attemptNum} `));
      expect(row).toContain(start);
      expect(row).toContain(record.outcome);
      expect(row).toMatch(/\d+m \d\ds|\d+h \d\dm|\d+s/);
      if (record.error !== null) expect(row).toContain(record.error);
      if (record.prUrl !== null) expect(row).toContain(record.prUrl);
    }
    const concerns = lines
      .slice(lines.indexOf('Concerns') + 1)
      .filter((line) => line.startsWith('  - '));
    expect(concerns).toEqual(retried.artifacts.concerns.map((concern) => `  - ${concern}`));
    expect(concerns.length).toBeGreaterThan(0);
  });

  it('should show a blocked task with one attempt that never started', async () => {
    const status = await runCli(['status', '--dir', dir]);
    const blockedId = status.stdout
      .split('\n')
      .find((line) => / failed\s+0\s+blocked by /.test(line))
      ?.trim()
      .split(/\s+/)[0];
    if (blockedId === undefined) throw new Error(`no blocked task in:\n${status.stdout}`);
    const result = await runCli(['history', blockedId, '--dir', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^ {2}0\s+—\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+—\s+failed \(final\)\s+Blocked by orchestration rules: dependency/m,
    );
  });

  it('should exit 1 for an unknown task, naming close ids and how to list them', async () => {
    const result = await runCli(['history', 'impl', '--dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`No task 'impl' in ${dir}.`);
    expect(result.stderr).toContain("'impl-login'");
    expect(result.stderr).toContain(`task-runtime status --dir ${dir}`);
  });
});
