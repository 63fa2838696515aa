import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { AgentRole } from '../../src/task/enums.js';
import { killAll, removeTempDirs, runCli, storeDir } from './cliHarness.js';
import { corrupt } from './storeFixtures.js';

jest.setTimeout(30_000);

afterEach(killAll);
afterAll(removeTempDirs);

/** spec → api → app → docs, and ui → app; `api` failed for good, which blocked `app` and then `docs`. */
const GRAPH = TaskGraph.fromTasks([
  { id: 'spec', role: AgentRole.SPEC_WRITER },
  { id: 'api', role: AgentRole.IMPLEMENTER, dependencies: ['spec'] },
  { id: 'ui', role: AgentRole.IMPLEMENTER, dependencies: ['spec'] },
  { id: 'app', role: AgentRole.IMPLEMENTER, dependencies: ['api', 'ui'] },
  { id: 'docs', role: AgentRole.TEST_WRITER, dependencies: ['app'] },
]);

async function withRun<T>(
  dir: string,
  use: (run: DurableTaskGraphRuntime) => Promise<T>,
): Promise<T> {
  const store = await FileTaskStore.open(dir);
  try {
    return await use(await DurableTaskGraphRuntime.open(store, GRAPH, { maxAttempts: 2 }));
  } finally {
    await store.close();
  }
}

/** A stored run where `api` used both its attempts and failed, blocking `app` and `docs`; `ui` is merged. */
async function storeFailedRun(dir: string): Promise<void> {
  await withRun(dir, async (run) => {
    for (const id of ['spec', 'ui']) {
      await run.markRunning(id);
      await run.markPrCreated(id, `https://example.test/${id}/pull/1`);
      await run.markPrMerged(id);
    }
    await run.markRunning('api');
    await run.markFailed('api', 'tests failed');
    await run.resetForRetry('api');
    await run.prepareForAttempt('api', 1);
    await run.markRunning('api');
    await run.markFailed('api', 'tests failed again');
  });
}

describe('task-runtime reopen', () => {
  it('should reopen a finally failed task, return what it blocked to pending, and save it', async () => {
    const dir = storeDir();
    await storeFailedRun(dir);
    const result = await runCli(['reopen', 'api', '--reason', 'fixed the CI runner', '--dir', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'Reopened api: attempt 2 prepared, 1 counted attempt(s) allowed.',
    );
    expect(result.stdout).toContain('Returned to pending: api, app, docs.');
    await withRun(dir, async (run) => {
      expect(GRAPH.taskIds.map((id) => [id, run.task(id).status])).toEqual([
        ['spec', 'pr_merged'],
        ['api', 'pending'],
        ['ui', 'pr_merged'],
        ['app', 'pending'],
        ['docs', 'pending'],
      ]);
      expect(run.ready()).toEqual(['api']);
      expect(run.task('api').artifacts.concerns).toContain(
        'reopened: fixed the CI runner (last error: tests failed again)',
      );
      expect(run.outcome).toBe('in_progress');
    });
  });

  it('should allow as many counted attempts as --attempts says', async () => {
    const dir = storeDir();
    await storeFailedRun(dir);
    const result = await runCli([
      'reopen',
      'api',
      '-r',
      'new key',
      '--attempts',
      '3',
      '--dir',
      dir,
    ]);
    expect(result.code).toBe(0);
    await withRun(dir, async (run) => {
      for (const attempt of [2, 3]) {
        expect(run.task('api').state.attemptNum).toBe(attempt);
        await run.markRunning('api');
        await run.markFailed('api', `failure ${attempt}`);
        expect(run.task('api').can({ type: 'RETRY' })).toBe(true);
        await run.resetForRetry('api');
        await run.prepareForAttempt('api', attempt + 1);
      }
      await run.markRunning('api');
      await run.markFailed('api', 'failure 4');
      expect(run.task('api').can({ type: 'RETRY' })).toBe(false);
      expect(run.task('app').blockedBy).toBe('api');
    });
  });

  it('should refuse a blocked task with exit 1, naming the task to reopen, and change nothing', async () => {
    const dir = storeDir();
    await storeFailedRun(dir);
    const before = await withRun(dir, async (run) => JSON.stringify(run.persist()));
    const result = await runCli(['reopen', 'docs', '--reason', 'try', '--dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('blockedByDependency');
    expect(result.stderr).toContain("reopen 'api'");
    expect(await withRun(dir, async (run) => JSON.stringify(run.persist()))).toBe(before);
  });

  it('should refuse a failure that can still be retried, and an unknown task, with exit 1', async () => {
    const dir = storeDir();
    await withRun(dir, async (run) => {
      await run.markRunning('spec');
      await run.markFailed('spec', 'flaky network');
    });
    const retryable = await runCli(['reopen', 'spec', '--reason', 'try', '--dir', dir]);
    expect(retryable.code).toBe(1);
    expect(retryable.stderr).toContain('isFailureFinal');
    expect(retryable.stderr).toContain('resetForRetry');
    const unknown = await runCli(['reopen', 'nope', '--reason', 'try', '--dir', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No task 'nope' is stored in");
    expect(unknown.stderr).toContain('Stored tasks: spec, api, ui, app, docs.');
  });

  it.each([
    [['reopen', 'api', '--dir', 'x'], "required option '-r, --reason <text>' not specified"],
    [['reopen', 'api', '--reason', ' ', '--dir', 'x'], 'Expected a non-empty reason.'],
    [
      ['reopen', 'api', '--reason', 'r', '--attempts', '0', '--dir', 'x'],
      'Expected an integer from 1 to 1000.',
    ],
    [['reopen', '--reason', 'r'], "missing required argument 'id'"],
  ])('should treat %j as a usage error (exit 2)', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('should refuse a store with a damaged task, naming it, and a store that does not exist', async () => {
    const dir = storeDir();
    await storeFailedRun(dir);
    corrupt(dir, 'docs');
    const damaged = await runCli(['reopen', 'api', '--reason', 'r', '--dir', dir]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain('cannot be read: docs');
    const missing = await runCli(['reopen', 'api', '--reason', 'r', '--dir', `${dir}-none`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No task store');
  });
});
