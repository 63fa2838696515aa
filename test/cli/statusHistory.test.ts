import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
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
    const rows = lines.slice(2).map((line) => line.trim().split(/\s+/));
    expect(rows.map(([id, status]) => `${id} ${status}`).sort()).toEqual(
      summary.rows.map((row) => `${row.id} ${row.status}`).sort(),
    );
    const blocked = lines.find((line) => / failed\s+0\s+blocked/.test(line));
    expect(blocked).toMatch(/ failed\s+0\s+(blocked: dependency \S+ failed|blocked by \S+)$/);
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
      .find((line) => line.includes('blocked: dependency'))
      ?.trim()
      .split(/\s+/)[0];
    if (blockedId === undefined) throw new Error(`no blocked task in:\n${status.stdout}`);
    const result = await runCli(['history', blockedId, '--dir', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^ {2}0\s+—\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+—\s+failed \(final\)\s+blocked: dependency/m,
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
