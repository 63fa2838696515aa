import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, LeaseLostError, TaskStoreError } from '../../src/errors.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { MAX_THREADS } from '../../src/store/fileStoreThreadPool.js';
import { fileNameForTaskId } from '../../src/store/taskIdFileName.js';
import { killRunning, startFixture } from '../support/childProcess.js';
import { tempDirs } from '../support/tempDir.js';

/*
 * The worker threads FileTaskStore does its disk work in (src/store/fileStoreThreadPool.ts). What is checked is
 * structural — the event loop runs while a save is under way, how many threads start and when, that a process
 * ends by itself — never how long anything takes: that belongs to the bench. The process-level cases run the
 * BUILT package in a child process (test/fixtures/threadedStore.mjs imports dist/index.js; `npm test` builds first).
 */

const temp = tempDirs('task-runtime-threads-');

afterEach(killRunning);

afterAll(() => temp.removeAll());

/** A snapshot of about `megabytes` MB of JSON. */
function largeSnapshot(megabytes: number): unknown {
  return { pad: 'x'.repeat(megabytes * 1024 * 1024) };
}

/** How many turns of the event loop (setImmediate callbacks) ran before `operation` settled. */
async function turnsWhile(operation: Promise<unknown>): Promise<number> {
  let settled = false;
  const done = operation.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  let turns = 0;
  await new Promise<void>((resolve) => {
    const turn = (): void => {
      if (settled) {
        resolve();
        return;
      }
      turns += 1;
      setImmediate(turn);
    };
    setImmediate(turn);
  });
  await done;
  return turns;
}

describe('FileTaskStore threads', () => {
  describe('the event loop', () => {
    it('should keep turning while a large snapshot is saved and fsync’d', async () => {
      const store = await FileTaskStore.open(temp.make());
      await store.save('big', { step: 0 }, { expectedRevision: null }); // the thread is running now
      const saving = store.save('big', largeSnapshot(16), { expectedRevision: 1 });
      // Written and fsync'd in a thread: the loop turns meanwhile (on the main thread it could not, not once).
      expect(await turnsWhile(saving)).toBeGreaterThan(0);
      await expect(saving).resolves.toBe(2);
      await store.close();
    });

    it('should keep turning while a large document is read', async () => {
      const store = await FileTaskStore.open(temp.make());
      await store.save('big', largeSnapshot(16), { expectedRevision: null });
      const loading = store.load('big');
      expect(await turnsWhile(loading)).toBeGreaterThan(0);
      await expect(loading).resolves.toMatchObject({ revision: 1 });
      await store.close();
    });
  });

  describe('overlapping changes', () => {
    it('should complete 64 saves of distinct tasks started at once, each at its revision', async () => {
      const store = await FileTaskStore.open(temp.make());
      const ids = Array.from({ length: 64 }, (_, index) => `task-${index}`);
      await expect(
        Promise.all(ids.map((id) => store.save(id, { id }, { expectedRevision: null }))),
      ).resolves.toEqual(ids.map(() => 1));
      await expect(
        Promise.all(ids.map((id) => store.save(id, { id, step: 2 }, { expectedRevision: 1 }))),
      ).resolves.toEqual(ids.map(() => 2));
      for (const id of ids) {
        await expect(store.load(id)).resolves.toEqual({
          snapshot: { id, step: 2 },
          revision: 2,
          lease: null,
        });
      }
      expect(await store.list()).toEqual([...ids].sort());
      await store.close();
    });

    it('should let two stores share the threads, and the one left open work after the other closed', async () => {
      const dir = temp.make();
      const first = await FileTaskStore.open(dir);
      const second = await FileTaskStore.open(dir);
      await first.save('a', { by: 'first' }, { expectedRevision: null });
      await first.close();
      await expect(second.save('a', { by: 'second' }, { expectedRevision: 1 })).resolves.toBe(2);
      await expect(second.load('a')).resolves.toMatchObject({ snapshot: { by: 'second' } });
      await second.close();
    });

    it('should finish the calls under way before close() resolves', async () => {
      const store = await FileTaskStore.open(temp.make());
      const ids = Array.from({ length: 16 }, (_, index) => `task-${index}`);
      const saves = ids.map((id) => store.save(id, { id }, { expectedRevision: null }));
      await store.close();
      await expect(Promise.all(saves)).resolves.toEqual(ids.map(() => 1));
    });
  });

  describe('errors', () => {
    it('should give TaskStoreError whose cause carries the code, syscall and path of the call that failed in the thread', async () => {
      const dir = temp.make();
      const store = await FileTaskStore.open(dir);
      writeFileSync(
        join(dir, 'tasks', fileNameForTaskId('blocked')),
        'a file where a directory goes',
      );
      for (const call of [
        () => store.save('blocked', { step: 1 }, { expectedRevision: null }),
        () => store.load('blocked'),
      ]) {
        const error = await call().then(
          () => null,
          (rejected: unknown) => rejected,
        );
        expect(error).toBeInstanceOf(TaskStoreError);
        const cause = (error as TaskStoreError).cause as NodeJS.ErrnoException;
        expect(cause).toBeInstanceOf(Error);
        expect(cause.code).toBe('ENOTDIR');
        expect(typeof cause.errno).toBe('number');
        expect(typeof cause.syscall).toBe('string');
        expect(cause.path).toContain(fileNameForTaskId('blocked'));
        expect((error as TaskStoreError).message).toContain(cause.message);
      }
      await store.close();
    });

    it('should decide conflicts and lost leases as before: ConflictError and LeaseLostError with their fields', async () => {
      const store = await FileTaskStore.open(temp.make());
      await store.save('t', { step: 1 }, { expectedRevision: null });
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, writer) =>
          store.save('t', { writer }, { expectedRevision: 1 }),
        ),
      );
      const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(rejected).toHaveLength(7);
      for (const reason of rejected) {
        expect(reason).toBeInstanceOf(ConflictError);
        expect(reason).toMatchObject({ taskId: 't', expectedRevision: 1, actualRevision: 2 });
      }
      const lease = await store.claim('t', 'worker-1', { leaseMs: 60_000 });
      if (lease === null) throw new Error('claim gave null');
      await store.release('t', lease);
      const lost = await store.save('t', { late: true }, { expectedRevision: 2, lease }).then(
        () => null,
        (rejected: unknown) => rejected,
      );
      expect(lost).toBeInstanceOf(LeaseLostError);
      expect(lost).toMatchObject({ taskId: 't', workerId: 'worker-1', token: lease.token });
      await store.close();
    });
  });

  describe('in a process of its own (the built package)', () => {
    /** A guard against a child that never ends, not a measure of one that does. */
    const CHILD_TIMEOUT_MS = 60_000;

    /** A store directory that exists already, so that opening it writes nothing. */
    async function existingStore(): Promise<string> {
      const dir = join(temp.make(), 'store');
      mkdirSync(dir);
      await (await FileTaskStore.open(dir)).close();
      return dir;
    }

    /** The number after `step` in the child's line for that step. */
    function threadsAt(lines: readonly string[], step: string): number {
      const line = lines.find((candidate) => candidate.startsWith(`${step} `));
      if (line === undefined) throw new Error(`no '${step}' line in ${JSON.stringify(lines)}`);
      return Number(line.split(' ').at(-1));
    }

    it(
      `should start no thread before the first read, at most ${MAX_THREADS} for 32 overlapping saves, and end by itself after close()`,
      async () => {
        const child = startFixture('threadedStore.mjs', [await existingStore(), 'close']);
        await expect(child.exited).resolves.toEqual({ code: 0, signal: null });
        expect(child.stderr()).toBe('');
        const { lines } = child;
        expect(threadsAt(lines, 'imported')).toBe(0);
        expect(threadsAt(lines, 'opened')).toBe(0);
        expect(threadsAt(lines, 'loaded')).toBe(1);
        expect(lines).toContain(`saved 32 ${threadsAt(lines, 'saved')}`);
        expect(threadsAt(lines, 'saved')).toBeGreaterThanOrEqual(1);
        expect(threadsAt(lines, 'saved')).toBeLessThanOrEqual(MAX_THREADS);
        expect(threadsAt(lines, 'closed')).toBe(threadsAt(lines, 'saved'));
      },
      CHILD_TIMEOUT_MS,
    );

    it(
      'should end the idle threads of a burst but one, and go on with the one left',
      async () => {
        const child = startFixture('threadedStore.mjs', [await existingStore(), 'retire']);
        await expect(child.exited).resolves.toEqual({ code: 0, signal: null });
        expect(child.stderr()).toBe('');
        expect(child.lines).toContain('idle 1');
        expect(child.lines).toContain('saved again 1');
      },
      CHILD_TIMEOUT_MS,
    );

    it(
      'should end by itself when the store is never closed',
      async () => {
        const child = startFixture('threadedStore.mjs', [await existingStore(), 'forget']);
        await expect(child.exited).resolves.toEqual({ code: 0, signal: null });
        expect(child.stderr()).toBe('');
        expect(child.lines).toContain(`saved 32 ${threadsAt(child.lines, 'saved')}`);
      },
      CHILD_TIMEOUT_MS,
    );

    it(
      'should finish a save nothing awaits before the process ends',
      async () => {
        const dir = await existingStore();
        const child = startFixture('threadedStore.mjs', [dir, 'unawaited']);
        await expect(child.exited).resolves.toEqual({ code: 0, signal: null });
        expect(child.stderr()).toBe('');
        expect(child.lines).toContain('saved 1');
        const store = await FileTaskStore.open(dir);
        await expect(store.load('unawaited')).resolves.toEqual({
          snapshot: { step: 1 },
          revision: 1,
          lease: null,
        });
        await store.close();
      },
      CHILD_TIMEOUT_MS,
    );
  });
});
