import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, SnapshotError, TaskStoreError } from '../../src/errors.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { canLoadMany, type TaskStore } from '../../src/store/TaskStore.js';
import { fileNameForTaskId } from '../../src/store/taskIdFileName.js';
import { rejectionOf } from '../support/errors.js';
import { tempDirs } from '../support/tempDir.js';
import { HOSTILE_TASK_IDS } from './taskStoreContract.js';

/*
 * FileTaskStore.loadMany: what load() gives for each task, read in a few jobs of the store's threads (a durable
 * run opens and follows other workers with it).
 */

jest.setTimeout(60_000);

const temp = tempDirs('file-task-store-load-many-');
afterAll(() => temp.removeAll());

/** More tasks than one thread job reads, so that the answer spans jobs. */
const MANY = 600;

describe('FileTaskStore.loadMany', () => {
  let dir: string;
  let store: FileTaskStore;

  beforeEach(async () => {
    dir = temp.make();
    store = await FileTaskStore.open(dir);
  });
  afterEach(() => store.close());

  it('should be what canLoadMany finds on a FileTaskStore', () => {
    expect(canLoadMany(store)).toBe(true);
    expect(canLoadMany({ ...store } as unknown as TaskStore)).toBe(false);
  });

  it('should give what load() gives for each task, in the order asked, null for one not stored', async () => {
    const ids = [
      ...Array.from({ length: MANY }, (_, index) => `task-${index}`),
      ...HOSTILE_TASK_IDS,
    ];
    for (const [index, id] of ids.entries()) {
      const revision = await store.save(
        id,
        { index, text: `<b>${id}</b>` },
        { expectedRevision: null },
      );
      if (index % 3 === 0)
        await store.save(id, { index, again: true }, { expectedRevision: revision });
    }
    await store.claim('task-7', 'worker-a', { leaseMs: 60_000 });
    await store.delete('task-8', { expectedRevision: 1 });
    const asked = ['never-stored', ...ids.slice().reverse(), 'task-1', 'task-8'];

    const loaded = await store.loadMany(asked);

    expect(loaded).toEqual(await Promise.all(asked.map((id) => store.load(id))));
    expect(loaded).toHaveLength(asked.length);
    expect(loaded[0]).toBeNull();
    expect(loaded.at(-1)).toBeNull(); // deleted
    expect(loaded.at(-2)).toEqual({
      snapshot: { index: 1, text: '<b>task-1</b>' },
      revision: 1,
      lease: null,
    });
    expect(loaded[asked.indexOf('task-7')]?.lease).toMatchObject({ workerId: 'worker-a' });
    expect(loaded[asked.indexOf('task-3')]?.revision).toBe(2);
  });

  it('should resolve an empty list for no ids', async () => {
    await expect(store.loadMany([])).resolves.toEqual([]);
  });

  it.each([
    ['a string', 'task-1', 'an array of task ids'],
    ['null', null, 'an array of task ids'],
    ['an array holding an empty id', ['task-1', ''], 'taskId'],
    ['an array holding a number', ['task-1', 7], 'taskId'],
    ['an array holding an id with a lone surrogate', ['a\ud800b'], 'well-formed Unicode'],
    ['an array holding an id too long', ['x'.repeat(100_000)], 'taskId'],
  ])('should refuse %s with InvalidArgumentError naming what it expected', async (_, given, named) => {
    const error = await rejectionOf(() => store.loadMany(given as unknown as string[]));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain(named);
  });

  it('should fail as load() does for a corrupt document, naming the task', async () => {
    await store.save('good', { step: 1 }, { expectedRevision: null });
    await store.save('bad', { step: 1 }, { expectedRevision: null });
    await store.flush();
    writeFileSync(join(dir, 'tasks', fileNameForTaskId('bad'), 'g', '1', 'doc.json'), '{"trunc');

    const many = await rejectionOf(() => store.loadMany(['good', 'bad']));
    const one = await rejectionOf(() => store.load('bad'));

    expect(many).toBeInstanceOf(SnapshotError);
    expect((many as Error).message).toBe((one as Error).message);
    expect((many as SnapshotError).taskId).toBe('bad');
    await expect(store.loadMany(['good'])).resolves.toEqual([
      { snapshot: { step: 1 }, revision: 1, lease: null },
    ]);
  });

  it('should fail with TaskStoreError naming the task and the cause when its place is a file', async () => {
    await store.save('kept', { step: 1 }, { expectedRevision: null });
    writeFileSync(join(dir, 'tasks', fileNameForTaskId('blocked')), 'in the way');

    const error = await rejectionOf(() => store.loadMany(['kept', 'blocked']));

    expect(error).toBeInstanceOf(TaskStoreError);
    expect((error as TaskStoreError).taskId).toBe('blocked');
    expect((error as Error).message).toContain('ENOTDIR');
  });

  it('should refuse calls after close() with a TaskStoreError saying the store was closed', async () => {
    const closed = await FileTaskStore.open(temp.make());
    await closed.close();
    await expect(closed.loadMany(['task-1'])).rejects.toThrow('the store was closed');
  });
});
