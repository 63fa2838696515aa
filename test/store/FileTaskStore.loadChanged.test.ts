import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SnapshotError, TaskStoreError } from '../../src/errors.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { fileNameForTaskId } from '../../src/store/taskIdFileName.js';
import { rejectionOf } from '../support/errors.js';
import { tempDirs } from '../support/tempDir.js';
import { describeChangeLoaderContract } from './changeLoaderContract.js';
import { documentFile } from './fileStoreLayout.js';

/*
 * FileTaskStore.loadChanged: what changed among many tasks, read in a few jobs of the store's threads, a task seen
 * unchanged not read again (a durable run opens and follows other workers with it).
 */

jest.setTimeout(60_000);

const temp = tempDirs('file-task-store-load-changed-');
afterAll(() => temp.removeAll());

describeChangeLoaderContract('FileTaskStore', () => FileTaskStore.open(temp.make()));

describe('FileTaskStore.loadChanged', () => {
  let dir: string;
  let store: FileTaskStore;

  beforeEach(async () => {
    dir = temp.make();
    store = await FileTaskStore.open(dir);
  });
  afterEach(() => store.close());

  it('should see what another instance saved since, though it saw the task unchanged before', async () => {
    const other = await FileTaskStore.open(dir);
    await other.save('a', { step: 1 }, { expectedRevision: null });
    await expect(store.loadChanged([{ taskId: 'a', revision: 1 }])).resolves.toEqual([]);
    await expect(store.loadChanged([{ taskId: 'a', revision: 1 }])).resolves.toEqual([]);

    await other.save('a', { step: 2 }, { expectedRevision: 1 });
    const lease = await other.claim('a', 'worker-b', { leaseMs: 60_000 });
    await other.close();

    await expect(store.loadChanged([{ taskId: 'a', revision: 1 }])).resolves.toEqual([
      { taskId: 'a', lease, stored: { snapshot: { step: 2 }, revision: 2, lease } },
    ]);
    await expect(store.loadChanged([{ taskId: 'a', revision: 2 }])).resolves.toEqual([
      { taskId: 'a', lease, stored: null },
    ]);
  });

  it('should read again a document a hand changed in place after it was seen', async () => {
    await store.save('a', { step: 1 }, { expectedRevision: null });
    await expect(store.loadChanged([{ taskId: 'a', revision: 1 }])).resolves.toEqual([]);
    const file = documentFile(dir, 'a', 1);
    writeFileSync(file, '{"not":"a task document"}');
    utimesSync(file, new Date(2030, 0, 1), new Date(2030, 0, 1));

    const error = await rejectionOf(() => store.loadChanged([{ taskId: 'a', revision: 1 }]));

    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).taskId).toBe('a');
  });

  it('should fail as load() does for a corrupt document, naming the task', async () => {
    await store.save('good', { step: 1 }, { expectedRevision: null });
    await store.save('bad', { step: 1 }, { expectedRevision: null });
    await store.flush();
    writeFileSync(documentFile(dir, 'bad', 1), '{"trunc');
    const known = [
      { taskId: 'good', revision: 0 },
      { taskId: 'bad', revision: 0 },
    ];

    const many = await rejectionOf(() => store.loadChanged(known));
    const one = await rejectionOf(() => store.load('bad'));

    expect(many).toBeInstanceOf(SnapshotError);
    expect((many as Error).message).toBe((one as Error).message);
    expect((many as SnapshotError).taskId).toBe('bad');
    await expect(store.loadChanged([{ taskId: 'good', revision: 0 }])).resolves.toEqual([
      { taskId: 'good', lease: null, stored: { snapshot: { step: 1 }, revision: 1, lease: null } },
    ]);
  });

  it('should fail with TaskStoreError naming the task and the cause when its place is a file', async () => {
    await store.save('kept', { step: 1 }, { expectedRevision: null });
    writeFileSync(join(dir, 'tasks', fileNameForTaskId('blocked')), 'in the way');

    const error = await rejectionOf(() =>
      store.loadChanged([
        { taskId: 'kept', revision: 0 },
        { taskId: 'blocked', revision: 0 },
      ]),
    );

    expect(error).toBeInstanceOf(TaskStoreError);
    expect((error as TaskStoreError).taskId).toBe('blocked');
    expect((error as Error).message).toContain('ENOTDIR');
  });

  it('should refuse calls after close() with a TaskStoreError saying the store was closed', async () => {
    const closed = await FileTaskStore.open(temp.make());
    await closed.close();
    await expect(closed.loadChanged([{ taskId: 'a', revision: 0 }])).rejects.toThrow(
      'the store was closed',
    );
  });
});
