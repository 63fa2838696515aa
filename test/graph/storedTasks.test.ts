import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { TaskStoreError } from '../../src/errors.js';
import { blockedError } from '../../src/graph/blocking.js';
import {
  byLatestChange,
  inRunOrder,
  leaseStandingOf,
  type ReadableTask,
  readStoredTask,
  readStoredTasks,
  runOutcomeOf,
  type StoredEntry,
  type UnreadableTask,
} from '../../src/graph/storedTasks.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { readPersistedTaskRuntime } from '../../src/runtime/snapshot.js';
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
        lease: null,
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

describe('the lease of a stored task', () => {
  it('should be the lease the store holds: the claim while held, null before a claim and after release', async () => {
    const { store } = await storeWithTasks();
    const running = runtimeOf('running');
    running.markRunning({ workerId: 'worker-a' });
    await store.save('running', running.persist(), { expectedRevision: null });
    expect((await readStoredTask(store, 'running'))?.lease).toBeNull();
    const lease = await store.claim('running', 'worker-a', { leaseMs: 60_000 });
    expect(lease).not.toBeNull();
    const entry = await readStoredTask(store, 'running');
    expect(entry?.lease).toEqual(lease);
    const byId = new Map((await readStoredTasks(store)).map((each) => [each.id, each]));
    expect(byId.get('running')?.lease).toEqual(lease);
    expect(byId.get('merged')?.lease).toBeNull();
    await store.release('running', lease as NonNullable<typeof lease>);
    expect((await readStoredTask(store, 'running'))?.lease).toBeNull();
    await store.close();
  });

  it('should be kept on a task whose document does not restore, when the store could read it', async () => {
    const { store } = await storeWithTasks();
    await store.save('odd', { hello: 'world' }, { expectedRevision: null });
    const lease = await store.claim('odd', 'worker-b', { leaseMs: 60_000 });
    const entry = await readStoredTask(store, 'odd');
    expect(entry?.kind).toBe('corrupt');
    expect(entry?.lease).toEqual(lease);
    await store.close();
  });
});

/** A stored task as the reader gives it, without a store: `runtime`'s snapshot validated, with `lease`. */
function readable(runtime: TaskRuntime, lease: ReadableTask['lease'] = null): ReadableTask {
  const persisted = readPersistedTaskRuntime(runtime.persist());
  const times = persisted.context.attempts
    .flatMap((record) => [record.startedAt, record.endedAt])
    .filter((time): time is string => time !== null)
    .sort();
  return {
    kind: 'task',
    id: runtime.task.id,
    revision: 1,
    persisted,
    snapshot: runtime.persist(),
    blockedBy: null,
    lastChange: times.at(-1) ?? null,
    lease,
  };
}

/** A stored task that cannot be read. */
function unreadable(id: string): UnreadableTask {
  return {
    kind: 'corrupt',
    id,
    problem: 'SnapshotError: no',
    revision: 1,
    snapshot: {},
    lease: null,
  };
}

describe('leaseStandingOf', () => {
  const expiresAt = '2026-01-05T09:30:00.000Z';
  const lease = { workerId: 'worker-a', token: 3, expiresAt };
  const at = (iso: string) => Date.parse(iso);

  it('should say held until the lease expires, whatever the status', () => {
    const pending = readable(runtimeOf('pending'), lease);
    expect(leaseStandingOf(pending, at('2026-01-05T09:29:59.999Z'))).toBe('held');
    const running = runtimeOf('running');
    running.markRunning({ workerId: 'worker-a' });
    expect(leaseStandingOf(readable(running, lease), at('2026-01-05T09:29:59.999Z'))).toBe('held');
  });

  it('should say lost once the lease expired on a running or pr_created task, expired on any other', () => {
    const after = at(expiresAt);
    const running = runtimeOf('running');
    running.markRunning();
    const prCreated = runtimeOf('pr');
    prCreated.markRunning();
    prCreated.markPrCreated('https://example.test/pr/2');
    const merged = runtimeOf('merged');
    merged.markRunning();
    merged.markPrCreated('https://example.test/pr/3');
    merged.markPrMerged();
    const failed = runtimeOf('failed');
    failed.markRunning();
    failed.markFailed('no');
    expect(
      [running, prCreated, merged, failed, runtimeOf('pending')].map((runtime) => [
        runtime.task.id,
        leaseStandingOf(readable(runtime, lease), after),
      ]),
    ).toEqual([
      ['running', 'lost'],
      ['pr', 'lost'],
      ['merged', 'expired'],
      ['failed', 'expired'],
      ['pending', 'expired'],
    ]);
    expect(leaseStandingOf({ ...unreadable('odd'), lease }, after)).toBe('expired');
  });

  it('should be null for a task without a lease', () => {
    expect(leaseStandingOf(readable(runtimeOf('free')), Date.now())).toBeNull();
    expect(leaseStandingOf(unreadable('odd'), Date.now())).toBeNull();
  });
});

describe('runOutcomeOf', () => {
  const merged = (id: string) => {
    const runtime = runtimeOf(id);
    runtime.markRunning();
    runtime.markPrCreated(`https://example.test/${id}`);
    runtime.markPrMerged();
    return readable(runtime);
  };
  const failed = (id: string, retryable: boolean) => {
    const runtime = runtimeOf(id);
    runtime.markRunning();
    runtime.markFailed('no', { retryable });
    return readable(runtime);
  };

  it('should be null for an empty store', () => {
    expect(runOutcomeOf([])).toBeNull();
  });

  it('should be succeeded when every task merged', () => {
    expect(runOutcomeOf([merged('a'), merged('b')])).toBe('succeeded');
  });

  it('should be completed_with_failures when every task merged or failed for good, some failed', () => {
    expect(runOutcomeOf([merged('a'), failed('b', false)])).toBe('completed_with_failures');
    expect(runOutcomeOf([failed('b', false)])).toBe('completed_with_failures');
  });

  it('should be in_progress while a task is pending, running, pr_created, retryable, or unreadable', () => {
    const running = runtimeOf('running');
    running.markRunning();
    for (const open of [
      readable(runtimeOf('pending')),
      readable(running),
      failed('retryable', true),
      unreadable('odd'),
    ]) {
      expect({
        id: open.id,
        outcome: runOutcomeOf([merged('a'), failed('b', false), open]),
      }).toEqual({
        id: open.id,
        outcome: 'in_progress',
      });
    }
  });

  it('should agree with the stored run of a real store: a final failure and the task it blocked', async () => {
    const { store } = await storeWithTasks();
    expect(runOutcomeOf(await readStoredTasks(store))).toBe('in_progress'); // 'fresh' is pending
    await store.delete('fresh', { expectedRevision: 1 });
    expect(runOutcomeOf(await readStoredTasks(store))).toBe('completed_with_failures');
    await store.close();
  });
});

describe('inRunOrder', () => {
  const ids = (entries: readonly StoredEntry[]) => entries.map(({ id }) => id);

  it('should put dependencies first and, among tasks ready at the same step, the smallest id first', () => {
    const entries = [
      readable(runtimeOf('z-root')),
      readable(runtimeOf('b', 'z-root')),
      readable(runtimeOf('a', 'b')),
      readable(runtimeOf('c', 'z-root')),
      readable(runtimeOf('y-root')),
    ];
    expect(ids(inRunOrder(entries))).toEqual(['y-root', 'z-root', 'b', 'a', 'c']);
  });

  it('should ignore dependencies that are not stored, give unreadable tasks none, and put cycles last by id', () => {
    const entries = [
      readable(runtimeOf('d', 'ghost')),
      readable(runtimeOf('cycle-b', 'cycle-a')),
      readable(runtimeOf('cycle-a', 'cycle-b')),
      readable(runtimeOf('after-cycle', 'cycle-a')),
      unreadable('broken'),
      readable(runtimeOf('e', 'broken')),
    ];
    expect(ids(inRunOrder(entries))).toEqual([
      'broken',
      'd',
      'e',
      'after-cycle',
      'cycle-a',
      'cycle-b',
    ]);
  });

  it("should give TaskGraph's topological order for any valid graph, whatever order the store lists", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: 1, maxLength: 12 }),
        fc.func(fc.integer()),
        (dependencyPicks, shuffleKey) => {
          // Task i may depend only on tasks before it, so the graph is acyclic; ids are not in that order.
          const idOf = (i: number) => `t${String((i * 7) % 13).padStart(2, '0')}-${i}`;
          const tasks = dependencyPicks.map((picks, i) => ({
            id: idOf(i),
            role: 'generic' as const,
            dependencies: i === 0 ? [] : [...new Set(picks.map((pick) => idOf(pick % i)))],
          }));
          const expected = TaskGraph.fromTasks(tasks).taskIds;
          const entries = tasks
            .map((task) => readable(new TaskRuntime(createTask(task))))
            .sort((a, b) => shuffleKey(a.id) - shuffleKey(b.id));
          expect(ids(inRunOrder(entries))).toEqual(expected);
        },
      ),
    );
  });
});

describe('byLatestChange', () => {
  it('should put the latest change first, tasks without one last, ties in id order', () => {
    const early = runtimeOf('early');
    early.markRunning(); // 09:00:xx, the clock moves one second per reading
    const late = runtimeOf('late');
    late.markRunning();
    late.markFailed('no');
    const entries = [
      readable(early),
      readable(runtimeOf('tied-b')),
      unreadable('broken'),
      readable(late),
      readable(runtimeOf('tied-a')),
    ];
    expect(byLatestChange(entries).map(({ id }) => id)).toEqual([
      'late',
      'early',
      'broken',
      'tied-a',
      'tied-b',
    ]);
  });
});
