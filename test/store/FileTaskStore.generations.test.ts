import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
} from 'node:fs';
import { join, relative, sep } from 'node:path';
import { ConflictError } from '../../src/errors.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import type { StoredTask } from '../../src/store/TaskStore.js';
import { FIXTURES, killRunning, startFixture } from '../support/childProcess.js';
import {
  COMPACT_EVERY,
  generationsOf,
  keptGenerations,
  taskDirOf,
} from '../support/fileStoreLayout.js';
import { tempDirs } from '../support/tempDir.js';

/*
 * How FileTaskStore keeps a task's directory small: superseded generations are removed, a writer stalled across
 * hundreds of generations still cannot win, a SIGKILL in the middle of a clean-up leaves nothing a later change
 * does not finish, and a store written by version 1 (one file per generation, test/fixtures/file-store-v1) is
 * upgraded when opened, also when the upgrade is killed half-way. The child processes run the BUILT package.
 */

const temp = tempDirs('file-task-store-generations-');

afterEach(killRunning);

afterAll(() => temp.removeAll());

/** Every path under `dir`, relative to it, with `/` separators; directories end with `/`. */
function walk(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    const shown = relative(root, path).split(sep).join('/');
    return entry.isDirectory() ? [`${shown}/`, ...walk(path, root)] : [shown];
  });
}

/** What a task's directory holds once the clean-up after a change is done: the guard and the kept generations. */
function settledLayout(newest: number): string[] {
  const generations = keptGenerations(newest).flatMap((generation) => [
    `g/${generation}/`,
    `g/${generation}/doc.json`,
  ]);
  return ['9007199254740991.json', 'g/', ...generations];
}

describe('FileTaskStore generations', () => {
  describe('compaction', () => {
    it('should keep at most ten entries in a task directory through 600 changes of every kind', async () => {
      const dir = temp.make();
      let now = Date.parse('2030-01-01T00:00:00.000Z');
      const store = await FileTaskStore.open(dir, { clock: () => new Date(now) });
      let revision = await store.save('busy', { step: 0 }, { expectedRevision: null });
      let changes = 1;
      const largest = { entries: 0, generations: 0 };
      const look = async (): Promise<void> => {
        await store.flush();
        const entries = walk(taskDirOf(dir, 'busy'));
        expect(entries.sort()).toEqual(settledLayout(changes).sort());
        largest.entries = Math.max(largest.entries, entries.length);
        largest.generations = Math.max(largest.generations, generationsOf(dir, 'busy').length);
      };
      for (let step = 1; changes < 600; step += 1) {
        const lease = await store.claim('busy', `worker-${step}`, { leaseMs: 10_000 });
        if (lease === null) throw new Error(`claim ${step} gave null`);
        changes += 1;
        await look();
        revision = await store.save('busy', { step }, { expectedRevision: revision, lease });
        changes += 1;
        await look();
        const renewed = await store.renew('busy', lease, { leaseMs: 10_000 });
        changes += 1;
        await look();
        await store.release('busy', renewed);
        changes += 1;
        await look();
        now += 1_000;
      }
      // Four generations at most, each a directory with its document, beside `g/` and the guard file.
      expect(largest).toEqual({ entries: 2 + 2 * COMPACT_EVERY, generations: COMPACT_EVERY });
      expect(generationsOf(dir, 'busy')).toEqual([600, 601]);
      expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
      await expect(store.load('busy')).resolves.toEqual({
        snapshot: { step: 150 },
        revision: 151,
        lease: null,
      });
      await store.close();
    }, 120_000);

    it('should remove superseded generations even when the instance that wrote them is closed at once', async () => {
      const dir = temp.make();
      const first = await FileTaskStore.open(dir);
      let revision = await first.save('t', { step: 0 }, { expectedRevision: null });
      for (let step = 1; step <= 19; step += 1) {
        revision = await first.save('t', { step }, { expectedRevision: revision });
      }
      await first.close(); // waits for the clean-up after generation 20
      expect(walk(taskDirOf(dir, 't')).sort()).toEqual(settledLayout(20).sort());
      expect(generationsOf(dir, 't')).toEqual([20]);
    });
  });

  describe('a SIGKILL in the middle of a clean-up', () => {
    /**
     * A state a SIGKILL during the clean-up by generation 4's writer can leave behind, made of what the store
     * itself wrote for each generation: `older` are the superseded generations still there (the clean-up goes
     * oldest first), `withDocument` whether their documents are, `pending` a killed writer's directory inside the
     * newest of them, `oldHint` the `current` link that the previous version kept, pointing back at the oldest of
     * them (nothing reads it any more).
     */
    interface Leftover {
      readonly label: string;
      readonly older: readonly number[];
      readonly withDocument: boolean;
      readonly pending: boolean;
      readonly oldHint: boolean;
    }

    const leftovers: readonly Leftover[] = [
      {
        label: 'before the last older generation was touched',
        older: [3],
        withDocument: true,
        pending: false,
        oldHint: true,
      },
      {
        label: 'after the older document was removed, before its directory',
        older: [3],
        withDocument: false,
        pending: false,
        oldHint: false,
      },
      {
        label: "with two older generations left and the previous version's stale hint",
        older: [2, 3],
        withDocument: true,
        pending: false,
        oldHint: true,
      },
      {
        label: 'with a losing writer killed while writing inside the older generation',
        older: [3],
        withDocument: true,
        pending: true,
        oldHint: false,
      },
    ];

    it.each(leftovers)(
      'should load, list and change the task normally when killed $label, and finish at the next clean-up',
      async ({ older, withDocument, pending, oldHint }) => {
        const dir = temp.make();
        const store = await FileTaskStore.open(dir);
        const g = join(taskDirOf(dir, 't'), 'g');
        const kept = join(dir, 'kept');
        for (let step = 1; step <= 4; step += 1) {
          await store.save('t', { step }, { expectedRevision: step === 1 ? null : step - 1 });
          await store.flush();
          cpSync(join(g, String(step)), join(kept, String(step)), { recursive: true });
        }
        expect(generationsOf(dir, 't')).toEqual([4]);
        await store.save('other', { step: 1 }, { expectedRevision: null });
        await store.flush();
        for (const generation of older) {
          cpSync(join(kept, String(generation)), join(g, String(generation)), { recursive: true });
          if (!withDocument) renameSync(join(g, String(generation), 'doc.json'), join(dir, 'x'));
        }
        if (pending) {
          const inside = join(g, String(older.at(-1)), 'p-999999-1-000000000000');
          mkdirSync(inside);
          cpSync(join(g, '4', 'doc.json'), join(inside, 'doc.json'));
        }
        if (oldHint) symlinkSync(`g/${older[0]}/doc.json`, join(taskDirOf(dir, 't'), 'current'));
        const reopened = await FileTaskStore.open(dir);
        for (let step = 5; step <= 8; step += 1) {
          await expect(reopened.load('t')).resolves.toEqual({
            snapshot: { step: step - 1 },
            revision: step - 1,
            lease: null,
          });
          await expect(reopened.list()).resolves.toEqual(['other', 't']);
          await expect(reopened.save('t', { step }, { expectedRevision: step - 1 })).resolves.toBe(
            step,
          );
        }
        await reopened.flush(); // generation 8 is the next to clean up (every fourth does)
        expect(generationsOf(dir, 't')).toEqual([8]);
        expect(walk(taskDirOf(dir, 't')).sort()).toEqual(settledLayout(8).sort());
        await expect(reopened.load('t')).resolves.toEqual({
          snapshot: { step: 8 },
          revision: 8,
          lease: null,
        });
        await reopened.close();
        await store.close();
      },
    );
  });

  describe('a writer stalled across hundreds of generations', () => {
    const GENERATIONS = 300;

    /** Stops the child with SIGSTOP as soon as its directory for the next generation appears. */
    async function stopWhileWriting(
      storeDir: string,
      pid: number,
      generation: number,
    ): Promise<boolean> {
      const inside = join(taskDirOf(storeDir, 'stalled'), 'g', String(generation));
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const names = existsSync(inside) ? readdirSync(inside) : [];
        if (names.some((name) => name.startsWith(`p-${pid}-`))) {
          process.kill(pid, 'SIGSTOP');
          return true;
        }
        await new Promise((resolveSoon) => setImmediate(resolveSoon));
      }
      return false;
    }

    it('should refuse its save with ConflictError after 300 newer generations, and keep every newer one', async () => {
      const dir = temp.make();
      const store = await FileTaskStore.open(dir);
      await store.save('stalled', { writer: 'parent', step: 0 }, { expectedRevision: null });
      const child = startFixture('stalledSaver.mjs', [dir, 'stalled', '48']);
      expect(await child.nextLine()).toBe('ready 1');
      const pid = child.process.pid as number;
      child.send('go');
      let stopped = false;
      try {
        expect(await stopWhileWriting(dir, pid, 1)).toBe(true);
        stopped = true;
        // The child read revision 1 and is stopped before it could win: the task is where the parent left it.
        const before = (await store.load('stalled')) as StoredTask;
        expect(before).toEqual({
          snapshot: { writer: 'parent', step: 0 },
          revision: 1,
          lease: null,
        });
        let revision = 1;
        for (let step = 1; step <= GENERATIONS; step += 1) {
          revision = await store.save(
            'stalled',
            { writer: 'parent', step },
            { expectedRevision: revision },
          );
        }
        await store.flush();
        expect(generationsOf(dir, 'stalled')).toEqual(keptGenerations(GENERATIONS + 1));
      } finally {
        if (stopped) process.kill(pid, 'SIGCONT');
      }
      expect(await child.nextLine(60_000)).toBe(`conflict 1 ${GENERATIONS + 1}`);
      expect(await child.exited).toEqual({ code: 0, signal: null });
      await expect(store.load('stalled')).resolves.toEqual({
        snapshot: { writer: 'parent', step: GENERATIONS },
        revision: GENERATIONS + 1,
        lease: null,
      });
      await expect(
        store.save('stalled', { writer: 'parent', step: 'after' }, { expectedRevision: 1 }),
      ).rejects.toBeInstanceOf(ConflictError);
      await store.flush();
      expect(walk(taskDirOf(dir, 'stalled')).sort()).toEqual(settledLayout(GENERATIONS + 1).sort());
      await store.close();
    }, 120_000);
  });

  describe('a store written by version 1', () => {
    interface Expected {
      readonly ids: readonly string[];
      readonly lease: {
        readonly taskId: string;
        readonly workerId: string;
        readonly token: number;
        readonly expiresAt: string;
      };
      /** What each task loads as, without its lease: the fixture predates `StoredTask.lease`. */
      readonly tasks: Readonly<Record<string, Omit<StoredTask, 'lease'> | null>>;
    }

    const FIXTURE = join(FIXTURES, 'file-store-v1');
    const expected = JSON.parse(
      readFileSync(join(FIXTURES, 'file-store-v1.expected.json'), 'utf8'),
    ) as Expected;

    /** A copy of the fixture written by version 1, to upgrade. */
    function copyOfFixture(): string {
      const dir = join(temp.make(), 'store');
      cpSync(FIXTURE, dir, { recursive: true });
      return dir;
    }

    /** Every file of the version 1 layout (`<n>.json` right in a task directory), except the guard. */
    function legacyFiles(storeDir: string): string[] {
      return walk(join(storeDir, 'tasks')).filter((path) =>
        /^[^/]+\/(?!9007199254740991\.json)[1-9][0-9]*\.json$/.test(path),
      );
    }

    /** Checks that every task of the fixture loads as version 1 stored it, and the lease and tombstone hold. */
    async function expectUpgraded(storeDir: string): Promise<void> {
      const expiresAt = Date.parse(expected.lease.expiresAt);
      let now = expiresAt - 1;
      const store = await FileTaskStore.open(storeDir, { clock: () => new Date(now) });
      try {
        expect(legacyFiles(storeDir)).toEqual([]);
        expect(JSON.parse(readFileSync(join(storeDir, 'store.json'), 'utf8'))).toEqual({
          format: 'task-runtime/file-store',
          layout: 2,
        });
        expect(await store.list()).toEqual(expected.ids);
        const { taskId: leased, ...leftByVersion1 } = expected.lease;
        for (const [taskId, task] of Object.entries(expected.tasks)) {
          // Only the task version 1 left claimed shows a lease; every other one was never claimed or released.
          const stored =
            task === null ? null : { ...task, lease: taskId === leased ? leftByVersion1 : null };
          expect({ taskId, stored: await store.load(taskId) }).toEqual({ taskId, stored });
        }
        // The lease version 1 granted is still live, then runs out; fencing tokens continue after it.
        await expect(
          store.claim(expected.lease.taskId, 'worker-2', { leaseMs: 1_000 }),
        ).resolves.toBe(null);
        now = expiresAt + 1;
        const lease = await store.claim(expected.lease.taskId, 'worker-2', { leaseMs: 1_000 });
        expect(lease?.token).toBe(expected.lease.token + 1);
        // The tombstone keeps the deleted task's revisions from being reused.
        await expect(store.save('gone', { back: true }, { expectedRevision: null })).resolves.toBe(
          4,
        );
        await store.flush();
        for (const taskId of expected.ids) {
          // An upgraded task starts at its version 1 generation; none older than the last clean-up is left.
          const generations = generationsOf(storeDir, taskId);
          const since = generations[0] ?? 0;
          expect({ taskId, generations }).toEqual({
            taskId,
            generations: keptGenerations(generations.at(-1) ?? 0).filter((g) => g >= since),
          });
        }
      } finally {
        await store.close();
      }
    }

    it('should open with every task, lease and tombstone as version 1 left them, in the new layout', async () => {
      const dir = copyOfFixture();
      expect(legacyFiles(dir).length).toBeGreaterThan(expected.ids.length);
      await expectUpgraded(dir);
    });

    it('should leave a guard that version 1 reads first and refuses as a newer document', async () => {
      const dir = copyOfFixture();
      await (await FileTaskStore.open(dir)).close();
      for (const name of readdirSync(join(dir, 'tasks'))) {
        const numbered = readdirSync(join(dir, 'tasks', name)).filter((file) =>
          /^[1-9][0-9]{0,15}\.json$/.test(file),
        );
        expect({ name, numbered }).toEqual({ name, numbered: ['9007199254740991.json'] });
        const guard = JSON.parse(
          readFileSync(join(dir, 'tasks', name, '9007199254740991.json'), 'utf8'),
        ) as { format: string; version: number };
        expect(guard.format).toBe('task-runtime/file-store');
        expect(guard.version).toBeGreaterThan(1);
      }
    });

    it.each([1, 4, 12, 30])(
      'should finish the upgrade on the next open when killed after %i tasks were upgraded',
      async (upgradedBeforeKill) => {
        const dir = copyOfFixture();
        const child = startFixture('storeOpener.mjs', [dir]);
        expect(await child.nextLine()).toBe('opening');
        const tasks = join(dir, 'tasks');
        const deadline = Date.now() + 30_000;
        let upgraded = 0;
        while (Date.now() < deadline && child.lines.length < 2) {
          upgraded = readdirSync(tasks).filter((name) => existsSync(join(tasks, name, 'g'))).length;
          if (upgraded >= upgradedBeforeKill) break;
          await new Promise((resolveSoon) => setImmediate(resolveSoon));
        }
        child.process.kill('SIGKILL');
        expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
        // Killed in the middle: some tasks are in the new layout, others still in the old one.
        expect({ upgradedBeforeKill, killedMidway: upgraded < expected.ids.length + 1 }).toEqual({
          upgradedBeforeKill,
          killedMidway: true,
        });
        expect(existsSync(join(dir, 'store.json'))).toBe(false);
        await expectUpgraded(dir);
      },
      60_000,
    );
  });
});
