import {
  ConflictError,
  IllegalTransitionError,
  InvalidArgumentError,
  SnapshotError,
  TaskStoreError,
} from '../../src/errors.js';
import { blockedByOf, isFinalFailure } from '../../src/graph/blocking.js';
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import type { TaskRecord } from '../../src/runtime/records.js';
import { readPersistedTaskRuntime } from '../../src/runtime/snapshot.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { rejectionOf } from '../support/errors.js';
import { failingOnSaves, type SaveFault } from '../support/failingStore.js';
import { tempDirs } from '../support/tempDir.js';

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});
/** a → b → c, a → d, and e alone. */
const graph = TaskGraph.fromTasks([
  task('a'),
  task('b', 'a'),
  task('c', 'b'),
  task('d', 'a'),
  task('e'),
]);
const clock = () => new Date('2026-01-05T09:00:00.000Z');
const options = { maxAttempts: 2, clock };
/** Every stored status once 'a' failed finally: all its dependents blocked, 'e' untouched. */
const A_FAILED_FINALLY = { a: 'failed', b: 'failed', c: 'failed', d: 'failed', e: 'pending' };

describe('DurableTaskGraphRuntime', () => {
  const dirs = tempDirs('durable-graph-');
  let store: FileTaskStore;
  let observer: FileTaskStore;

  beforeEach(async () => {
    const dir = dirs.make();
    store = await FileTaskStore.open(dir);
    observer = await FileTaskStore.open(dir);
  });

  afterEach(async () => {
    await store.close();
    await observer.close();
  });

  afterAll(() => dirs.removeAll());

  /** Every stored task's status, by id, as another process sees them. */
  async function storedStatuses(): Promise<Record<string, string>> {
    const statuses: Record<string, string> = {};
    for (const id of (await observer.list()).sort()) {
      const stored = await observer.load(id);
      statuses[id] = readPersistedTaskRuntime(stored?.snapshot).status;
    }
    return statuses;
  }

  it('should store every task under its own id when opened on an empty store', async () => {
    const run = await DurableTaskGraphRuntime.open(store, graph, options);
    expect(await storedStatuses()).toEqual({
      a: 'pending',
      b: 'pending',
      c: 'pending',
      d: 'pending',
      e: 'pending',
    });
    expect(graph.taskIds.map((id) => run.revisionOf(id))).toEqual([1, 1, 1, 1, 1]);
  });

  it('should save each command before its promise resolves, and resume it from a new process', async () => {
    const run = await DurableTaskGraphRuntime.open(store, graph, options);
    await run.markRunning('a');
    await run.markPrCreated('a', 'https://github.com/acme/app/pull/1');
    await run.markPrMerged('a');
    await run.markRunning('b');
    expect(await storedStatuses()).toMatchObject({ a: 'pr_merged', b: 'running' });
    const resumed = await DurableTaskGraphRuntime.open(observer, graph, options);
    expect(JSON.stringify(resumed.persist())).toBe(JSON.stringify(run.persist()));
    expect(resumed.ready()).toEqual(['d', 'e']);
  });

  it('should save the blocked dependents with the final failure that implies them', async () => {
    const run = await DurableTaskGraphRuntime.open(store, graph, options);
    const records: TaskRecord[] = [];
    run.subscribe((record) => records.push(record));
    await run.markFailed('a', 'spec is wrong', { retryable: false });
    expect(await storedStatuses()).toEqual(A_FAILED_FINALLY);
    const c = readPersistedTaskRuntime((await observer.load('c'))?.snapshot);
    expect(blockedByOf(c)).toBe('b');
    expect(records.map((record) => record.taskId)).toEqual(['a', 'b', 'c', 'd']);
    expect(run.outcome).toBe('in_progress');
  });

  it('should refuse START before the dependencies merged without writing anything', async () => {
    const run = await DurableTaskGraphRuntime.open(store, graph, options);
    const error = await rejectionOf(() => run.markRunning('b'));
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect((error as IllegalTransitionError).reason).toBe('dependenciesNotMerged');
    expect(run.revisionOf('b')).toBe(1);
    expect((await observer.load('b'))?.revision).toBe(1);
  });

  it('should refuse a stored task whose spec differs from the graph, naming the task and the field', async () => {
    await DurableTaskGraphRuntime.open(store, graph, options);
    const changed = TaskGraph.fromTasks([
      task('a'),
      { ...task('b', 'a'), description: 'other' },
      task('c', 'b'),
      task('d', 'a'),
      task('e'),
    ]);
    const error = await rejectionOf(() => DurableTaskGraphRuntime.open(observer, changed, options));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe('task.description');
    expect((error as InvalidArgumentError).message).toContain("task 'b'");
  });

  it('should refuse a stored task that cannot be restored, naming it', async () => {
    await store.save('c', { schemaVersion: 1, status: 'nonsense' }, { expectedRevision: null });
    const error = await rejectionOf(() => DurableTaskGraphRuntime.open(store, graph, options));
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).taskId).toBe('c');
  });

  it('should refuse a stored run that breaks a rule of the graph, naming the task', async () => {
    const started = new TaskRuntime(graph.task('b'));
    started.markRunning();
    await store.save('b', started.persist(), { expectedRevision: null });
    const error = await rejectionOf(() => DurableTaskGraphRuntime.open(store, graph, options));
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).taskId).toBe('b');
    expect((error as SnapshotError).message).toContain("'a' is pending");
  });

  it('should block at open what a crash left pending behind a final failure', async () => {
    const failed = new TaskRuntime(graph.task('a'), options);
    failed.markFailed('gone', { retryable: false });
    await store.save('a', failed.persist(), { expectedRevision: null });
    await store.save('b', new TaskRuntime(graph.task('b'), options).persist(), {
      expectedRevision: null,
    });
    const run = await DurableTaskGraphRuntime.open(store, graph, options);
    expect(run.task('b').blockedBy).toBe('a');
    expect(await storedStatuses()).toEqual(A_FAILED_FINALLY);
    expect((await observer.load('b'))?.revision).toBe(2);
  });

  it('should roll back and write nothing when the failing task itself cannot be saved', async () => {
    await DurableTaskGraphRuntime.open(store, graph, options);
    const faulty = failingOnSaves(observer, new Map([[1, 'fail']]));
    const run = await DurableTaskGraphRuntime.open(faulty, graph, options);
    const before = JSON.stringify(run.persist());
    await expect(run.markFailed('a', 'x', { retryable: false })).rejects.toThrow(TaskStoreError);
    expect(JSON.stringify(run.persist())).toBe(before);
    expect(await storedStatuses()).toMatchObject({ a: 'pending', b: 'pending' });
    await run.markRunning('a');
    expect(await storedStatuses()).toMatchObject({ a: 'running' });
  });

  it('should roll back to what is stored when another writer changed a task (ConflictError)', async () => {
    const run = await DurableTaskGraphRuntime.open(store, graph, options);
    const other = await DurableTaskGraphRuntime.open(observer, graph, options);
    await other.addConcern('a', 'from the other writer');
    await expect(run.markRunning('a')).rejects.toThrow(ConflictError);
    expect(run.task('a').status).toBe('pending');
    const reopened = await DurableTaskGraphRuntime.open(store, graph, options);
    expect(reopened.task('a').artifacts.concerns).toEqual(['from the other writer']);
  });

  describe('reopen', () => {
    /** The run after 'a' failed finally (b, c, d blocked), as stored. */
    async function aFailedFinally(): Promise<DurableTaskGraphRuntime> {
      const run = await DurableTaskGraphRuntime.open(store, graph, options);
      await run.markRunning('a');
      await run.markFailed('a', 'spec is wrong', { retryable: false });
      expect(await storedStatuses()).toEqual(A_FAILED_FINALLY);
      return run;
    }

    it('should save the reopened task and every task it returned before its promise resolves', async () => {
      const run = await aFailedFinally();
      const revisions = graph.taskIds.map((id) => run.revisionOf(id));
      const records: string[] = [];
      run.subscribe((record) => records.push(`${record.taskId} ${record.event}`));

      await run.reopen('a', 'spec rewritten', { attempts: 2 });

      expect(await storedStatuses()).toEqual({
        a: 'pending',
        b: 'pending',
        c: 'pending',
        d: 'pending',
        e: 'pending',
      });
      // one save per changed task (a, b, c, d), none for e
      expect(graph.taskIds.map((id) => run.revisionOf(id))).toEqual(
        revisions.map((revision, index) => revision + (graph.taskIds[index] === 'e' ? 0 : 1)),
      );
      for (const id of graph.taskIds) {
        expect((await observer.load(id))?.revision).toBe(run.revisionOf(id));
      }
      expect(records).toEqual([
        'a REOPEN',
        'a PREPARE_ATTEMPT',
        'b REOPEN',
        'b PREPARE_ATTEMPT',
        'c REOPEN',
        'c PREPARE_ATTEMPT',
        'd REOPEN',
        'd PREPARE_ATTEMPT',
      ]);
      const resumed = await DurableTaskGraphRuntime.open(observer, graph, options);
      expect(JSON.stringify(resumed.persist())).toBe(JSON.stringify(run.persist()));
      expect(resumed.repaired).toEqual([]);
      expect(resumed.ready()).toEqual(['a', 'e']);
      expect(resumed.task('c').state.attemptNum).toBe(1);
    });

    it('should refuse to reopen a blocked task, naming its blocker and the task to reopen, saving nothing', async () => {
      const run = await aFailedFinally();
      const revisions = graph.taskIds.map((id) => run.revisionOf(id));

      const error = await rejectionOf(() => run.reopen('c', 'try it anyway'));

      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect(error).toMatchObject({ reason: 'blockedByDependency', taskId: 'c' });
      expect((error as Error).message).toContain("dependency 'b'");
      expect((error as Error).message).toContain("reopen 'a'");
      for (const [index, id] of graph.taskIds.entries()) {
        expect((await observer.load(id))?.revision).toBe(revisions[index]);
      }
      expect(await storedStatuses()).toEqual(A_FAILED_FINALLY);
    });

    it('should refuse to reopen a failure that can still be retried, saving nothing', async () => {
      const run = await DurableTaskGraphRuntime.open(store, graph, options);
      await run.markRunning('a');
      await run.markFailed('a', 'flaky', { workerLost: true });
      const before = JSON.stringify(run.persist());

      const error = await rejectionOf(() => run.reopen('a', 'too early'));

      expect(error).toMatchObject({ name: 'IllegalTransitionError', reason: 'isFailureFinal' });
      expect(JSON.stringify(run.persist())).toBe(before);
      expect((await observer.load('a'))?.revision).toBe(run.revisionOf('a'));
      expect(readPersistedTaskRuntime((await observer.load('a'))?.snapshot).context).toMatchObject({
        extraAttempts: 1,
      });
    });

    it('should roll back and write nothing when the reopened task itself cannot be saved', async () => {
      await aFailedFinally();
      const faulty = failingOnSaves(observer, new Map([[1, 'fail']]));
      const run = await DurableTaskGraphRuntime.open(faulty, graph, options);
      const before = JSON.stringify(run.persist());

      await expect(run.reopen('a', 'spec rewritten')).rejects.toThrow(TaskStoreError);

      expect(JSON.stringify(run.persist())).toBe(before);
      expect(await storedStatuses()).toEqual(A_FAILED_FINALLY);
      await run.reopen('a', 'spec rewritten');
      expect((await storedStatuses()).c).toBe('pending');
    });

    // The reopened task is saved first: when a later save of the same reopen fails (or the process dies between
    // them), its dependents stay stored as blocked by a task that no longer failed for good, and open returns them.
    it.each([2, 3, 4])(
      'should leave, when save %i of a reopen fails, a stored run that open makes whole',
      async (n) => {
        await aFailedFinally();
        const faulty = failingOnSaves(observer, new Map([[n, 'fail']]));
        const run = await DurableTaskGraphRuntime.open(faulty, graph, options);
        await expect(run.reopen('a', 'spec rewritten')).rejects.toThrow(TaskStoreError);

        const reopened = await DurableTaskGraphRuntime.open(
          await FileTaskStore.open(store.dir),
          graph,
          options,
        );

        for (const id of graph.taskIds) {
          const blockedBy = reopened.task(id).blockedBy;
          if (blockedBy === null) continue;
          const standing = readPersistedTaskRuntime((await observer.load(blockedBy))?.snapshot);
          expect({ id, blockedBy, final: isFinalFailure(standing) }).toEqual({
            id,
            blockedBy,
            final: true,
          });
        }
        const returned = reopened.repaired.filter((id) => reopened.task(id).status === 'pending');
        expect(returned.length).toBeGreaterThan(0);
        for (const id of returned) {
          expect(reopened.task(id).artifacts.concerns.at(-1)).toMatch(
            /^reopened: the block by '\w+' was lifted \('\w+' was reopened, and this task was not yet saved back to pending\)/,
          );
        }
      },
    );
  });

  describe('repaired', () => {
    it('should be empty when open found nothing to block', async () => {
      const fresh = await DurableTaskGraphRuntime.open(store, graph, options);
      await fresh.markFailed('a', 'broken', { retryable: false });
      const resumed = await DurableTaskGraphRuntime.open(observer, graph, options);
      expect(fresh.repaired).toEqual([]);
      expect(resumed.repaired).toEqual([]);
      expect(Object.isFrozen(resumed.repaired)).toBe(true);
    });

    it('should list, in topological order, the tasks open blocked behind a final failure a crash left unblocked', async () => {
      const failed = new TaskRuntime(graph.task('a'), options);
      failed.markFailed('gone', { retryable: false });
      await store.save('a', failed.persist(), { expectedRevision: null });
      for (const id of ['c', 'b']) {
        await store.save(id, new TaskRuntime(graph.task(id), options).persist(), {
          expectedRevision: null,
        });
      }
      const records: TaskRecord[] = [];

      const run = await DurableTaskGraphRuntime.open(observer, graph, options);
      run.subscribe((record) => records.push(record));

      // b and c were stored pending; d was never stored, so open created it and blocked it too
      expect(run.repaired).toEqual(['b', 'c', 'd']);
      expect(records).toEqual([]);
      for (const id of run.repaired) {
        expect((await store.load(id))?.snapshot).toMatchObject({ status: 'failed' });
      }
      const again = await DurableTaskGraphRuntime.open(store, graph, options);
      expect(again.repaired).toEqual([]);
    });
  });

  describe('a store that fails on the n-th save of a blocking command', () => {
    // markFailed('a') saves a, then b, c, d (the blocked dependents, in topological order): saves 1 to 4.
    const cases: [number, SaveFault][] = [1, 2, 3, 4].flatMap((n) => [
      [n, 'fail'] as [number, SaveFault],
      [n, 'failAfterWrite'] as [number, SaveFault],
    ]);

    it.each(cases)(
      'should leave, when save %i does %s, only states that open repairs',
      async (n, fault) => {
        await DurableTaskGraphRuntime.open(store, graph, options);
        const faulty = failingOnSaves(observer, new Map([[n, fault]]));
        const run = await DurableTaskGraphRuntime.open(faulty, graph, options);
        await expect(run.markFailed('a', 'broken', { retryable: false })).rejects.toThrow(
          TaskStoreError,
        );
        const reopened = await DurableTaskGraphRuntime.open(
          await FileTaskStore.open(store.dir),
          graph,
          options,
        );
        const statuses = Object.fromEntries(
          graph.taskIds.map((id) => [id, reopened.task(id).status]),
        );
        const aFailed = n > 1 || fault === 'failAfterWrite';
        expect(statuses).toEqual(
          aFailed
            ? A_FAILED_FINALLY
            : { a: 'pending', b: 'pending', c: 'pending', d: 'pending', e: 'pending' },
        );
        for (const id of graph.taskIds) {
          const view = reopened.task(id);
          if (view.status !== 'pending') continue;
          for (const dependency of graph.dependenciesOf(id)) {
            const standing = readPersistedTaskRuntime((await observer.load(dependency))?.snapshot);
            expect(isFinalFailure(standing)).toBe(false);
          }
        }
      },
    );

    it('should complete the blocking with the next command when the same process goes on', async () => {
      await DurableTaskGraphRuntime.open(store, graph, options);
      const faulty = failingOnSaves(observer, new Map([[3, 'fail']]));
      const run = await DurableTaskGraphRuntime.open(faulty, graph, options);
      await expect(run.markFailed('a', 'broken', { retryable: false })).rejects.toThrow(
        TaskStoreError,
      );
      expect(run.task('a').status).toBe('failed');
      expect(run.task('b').status).toBe('failed');
      expect(run.task('c').status).toBe('pending');
      const heard: string[] = [];
      run.subscribe((record) => heard.push(`${record.taskId} ${record.event}`));
      await run.markRunning('e');
      expect(heard).toEqual(['c FAIL', 'd FAIL', 'e START']);
      expect(await storedStatuses()).toEqual({
        a: 'failed',
        b: 'failed',
        c: 'failed',
        d: 'failed',
        e: 'running',
      });
    });
  });
});
