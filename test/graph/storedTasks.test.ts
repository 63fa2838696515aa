import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TaskStoreError } from '../../src/errors.js';
import { blockedError } from '../../src/graph/blocking.js';
import { readStoredTask, readStoredTasks } from '../../src/graph/storedTasks.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { createTask } from '../../src/task/createTask.js';
import { generationsOf, taskDirOf } from '../support/fileStoreLayout.js';
import { tempDirs } from '../support/tempDir.js';

/*
 * The reader behind `task-runtime status`, `task-runtime graph` and the dashboard, on a real FileTaskStore:
 * every stored task validated like TaskRuntime.restore, who blocked it, and what is wrong with the ones it
 * cannot read, without one bad document hiding the others.
 */

const dirs = tempDirs('stored-tasks-');
afterAll(() => dirs.removeAll());

let times = 0;
const clock = () => new Date(Date.UTC(2026, 0, 5, 9, 0, times++));

function runtimeOf(id: string, ...dependencies: string[]): TaskRuntime {
  return new TaskRuntime(createTask({ id, role: 'generic', dependencies }), { clock });
}

/** A store holding 'merged' (pr_merged), 'failed' (for good), 'blocked' (by 'failed') and 'fresh' (pending). */
async function storeWithTasks(): Promise<{ dir: string; store: FileTaskStore }> {
  const dir = dirs.make();
  const store = await FileTaskStore.open(dir);
  const merged = runtimeOf('merged');
  merged.markRunning();
  merged.markPrCreated('https://example.test/pr/1');
  merged.markPrMerged();
  const failed = runtimeOf('failed');
  failed.markRunning();
  failed.markFailed('tests failed', { retryable: false });
  const blocked = runtimeOf('blocked', 'failed');
  blocked.markFailed(blockedError('failed'), { retryable: false });
  for (const runtime of [merged, failed, blocked, runtimeOf('fresh', 'merged')]) {
    await store.save(runtime.task.id, runtime.persist(), { expectedRevision: null });
  }
  return { dir, store };
}

describe('readStoredTasks', () => {
  it('should read every stored task in id order with its status, revision and who blocked it', async () => {
    const { store } = await storeWithTasks();
    const entries = await readStoredTasks(store);
    expect(
      entries.map((entry) =>
        entry.kind === 'task'
          ? [entry.id, entry.persisted.status, entry.revision, entry.blockedBy]
          : [entry.id, entry.kind],
      ),
    ).toEqual([
      ['blocked', 'failed', 1, 'failed'],
      ['failed', 'failed', 1, null],
      ['fresh', 'pending', 1, null],
      ['merged', 'pr_merged', 1, null],
    ]);
    await store.close();
  });

  it("should give a task's last change as the latest time in its attempt ledger, and null without one", async () => {
    const { store } = await storeWithTasks();
    const byId = new Map((await readStoredTasks(store)).map((entry) => [entry.id, entry]));
    const merged = byId.get('merged');
    if (merged?.kind !== 'task') throw new Error('merged was not readable');
    const ledgerTimes = merged.persisted.context.attempts.flatMap((record) => [
      record.startedAt,
      record.endedAt,
    ]);
    expect(merged.lastChange).toBe(
      ledgerTimes
        .filter((time) => time !== null)
        .sort()
        .at(-1),
    );
    expect(merged.lastChange).not.toBeNull();
    const fresh = byId.get('fresh');
    expect(fresh?.kind === 'task' && fresh.lastChange).toBeNull();
    await store.close();
  });

  it('should keep a task whose document is torn as corrupt, with the SnapshotError, and read the others', async () => {
    const { dir, store } = await storeWithTasks();
    const newest = generationsOf(dir, 'fresh').at(-1);
    writeFileSync(join(taskDirOf(dir, 'fresh'), 'g', String(newest), 'doc.json'), '{"format": "ta');
    const entries = await readStoredTasks(store);
    expect(entries.map(({ id, kind }) => [id, kind])).toEqual([
      ['blocked', 'task'],
      ['failed', 'task'],
      ['fresh', 'corrupt'],
      ['merged', 'task'],
    ]);
    const fresh = entries[2];
    expect(fresh?.kind === 'corrupt' && fresh.problem).toMatch(/^SnapshotError: .*not valid JSON/);
    expect(fresh?.kind === 'corrupt' && fresh.revision).toBeNull();
    await store.close();
  });

  it.each([
    ['not a runtime snapshot', { hello: 'world' }, /^SnapshotError: /],
    ['an unknown status', { ...runtimeOf('odd').persist(), status: 'nope' }, /status/],
    ['the snapshot of another task', runtimeOf('someone-else').persist(), /someone-else/],
  ])(
    'should keep a stored document that is %s as corrupt, with its revision and raw snapshot',
    async (_label, snapshot, problem) => {
      const { store } = await storeWithTasks();
      await store.save('odd', snapshot, { expectedRevision: null });
      const entry = await readStoredTask(store, 'odd');
      expect(entry).toEqual({
        kind: 'corrupt',
        id: 'odd',
        problem: expect.stringMatching(problem),
        revision: 1,
        snapshot,
      });
      expect((await readStoredTasks(store)).map(({ id }) => id)).toEqual([
        'blocked',
        'failed',
        'fresh',
        'merged',
        'odd',
      ]);
      await store.close();
    },
  );

  it('should give null for a task that is not stored, or was deleted', async () => {
    const { store } = await storeWithTasks();
    await expect(readStoredTask(store, 'never-saved')).resolves.toBeNull();
    await store.delete('fresh', { expectedRevision: 1 });
    await expect(readStoredTask(store, 'fresh')).resolves.toBeNull();
    expect((await readStoredTasks(store)).map(({ id }) => id)).toEqual([
      'blocked',
      'failed',
      'merged',
    ]);
    await store.close();
  });

  it('should throw, not report a corrupt task, when the store as a whole fails', async () => {
    const { store } = await storeWithTasks();
    await store.close();
    await expect(readStoredTasks(store)).rejects.toBeInstanceOf(TaskStoreError);
    await expect(readStoredTask(store, 'fresh')).rejects.toBeInstanceOf(TaskStoreError);
  });
});
