import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import {
  InvalidArgumentError,
  SnapshotError,
  TaskRuntimeError,
  TaskStoreError,
} from '../../src/errors.js';
import { MAX_TASK_ID_LENGTH } from '../../src/index.js';
import { DOCUMENT_VERSION, FileTaskStore } from '../../src/store/FileTaskStore.js';
import { fileNameForTaskId } from '../../src/store/taskIdFileName.js';
import { rejectionOf } from '../support/errors.js';
import { tempDirs } from '../support/tempDir.js';
import { documentFile } from './fileStoreLayout.js';
import { describeLeaseContract } from './leaseContract.js';
import { describeTaskStoreContract, HOSTILE_TASK_IDS } from './taskStoreContract.js';

const REPO = resolve(__dirname, '..', '..');
const FIXTURE = join(REPO, 'test', 'fixtures', 'store-as-user.mjs');
const BUILT_PACKAGE = join(REPO, 'dist', 'index.js');
const RUNS_AS_ROOT = process.getuid?.() === 0;
/** The user the unwritable-directory checks run as when the tests run as root ("nobody"). */
const OTHER_USER = { uid: 65534, gid: 65534 };

/** New empty directories under the OS temp dir, removed after all tests. */
const temp = tempDirs('file-task-store-');

afterAll(() => temp.removeAll(restoreModes));

/** Makes every directory under `dir` writable by its owner again, so that it can be removed. */
function restoreModes(dir: string): void {
  if (!existsSync(dir)) return;
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) restoreModes(join(dir, entry.name));
  }
}

/** Every path under `root`, relative to it, with `/` separators; directories end with `/`. */
function walk(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    const shown = relative(root, path).split(sep).join('/');
    return entry.isDirectory() ? [`${shown}/`, ...walk(root, path)] : [shown];
  });
}

/** Every file under `root` with its bytes (base64), to show that nothing changed. */
function contents(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const path of walk(root)) {
    files[path] = path.endsWith('/')
      ? 'directory'
      : readFileSync(join(root, path)).toString('base64');
  }
  return files;
}

describeTaskStoreContract('FileTaskStore', () => FileTaskStore.open(temp.make()));

describeLeaseContract('FileTaskStore', async () => {
  let now = Date.parse('2030-01-01T00:00:00.000Z'); // a fake clock: leases run out without waiting
  const store = await FileTaskStore.open(temp.make(), { clock: () => new Date(now) });
  const advance = async (ms: number): Promise<void> => {
    now += ms;
  };
  return { store, advance, close: () => store.close() };
});

describe('FileTaskStore', () => {
  describe('open', () => {
    it('should create the directory with tasks/ and tmp/ inside', async () => {
      const dir = join(temp.make(), 'nested', 'store');
      const store = await FileTaskStore.open(dir);
      expect(store.dir).toBe(dir);
      expect(statSync(join(dir, 'tasks')).isDirectory()).toBe(true);
      expect(statSync(join(dir, 'tmp')).isDirectory()).toBe(true);
      expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
      await store.close();
    });

    it('should let a second instance on the same directory see what the first saved', async () => {
      const dir = temp.make();
      const first = await FileTaskStore.open(dir);
      await first.save('shared', { from: 'first' }, { expectedRevision: null });
      const second = await FileTaskStore.open(dir);
      await expect(second.load('shared')).resolves.toEqual({
        snapshot: { from: 'first' },
        revision: 1,
        lease: null,
      });
      await second.save('shared', { from: 'second' }, { expectedRevision: 1 });
      await expect(first.load('shared')).resolves.toEqual({
        snapshot: { from: 'second' },
        revision: 2,
        lease: null,
      });
      await first.close();
      await second.close();
    });

    it.each([
      ['an empty string', ''],
      ['a path with NUL', 'a\0b'],
      ['a number', 42],
    ])('should throw InvalidArgumentError for %s as directory', async (_label, dir) => {
      const error = await rejectionOf(() => FileTaskStore.open(dir as string));
      expect(error).toBeInstanceOf(InvalidArgumentError);
    });
  });

  describe('temporary files left by a killed writer', () => {
    it('should remove old temporary files of dead processes on open, and keep the others', async () => {
      const dir = temp.make();
      await (await FileTaskStore.open(dir)).close();
      const deadPid = spawnSync(process.execPath, ['-e', '']).pid as number;
      const tmp = join(dir, 'tmp');
      const old = new Date(Date.now() - 10 * 60_000);
      const abandoned = `${deadPid}-1-aaaaaaaaaaaa.json`;
      const recent = `${deadPid}-2-bbbbbbbbbbbb.json`;
      const alive = `${process.pid}-3-cccccccccccc.json`;
      for (const name of [abandoned, recent, alive]) writeFileSync(join(tmp, name), '{"half":');
      utimesSync(join(tmp, abandoned), old, old);
      utimesSync(join(tmp, alive), old, old);
      await (await FileTaskStore.open(dir)).close();
      expect(readdirSync(tmp).sort()).toEqual([recent, alive].sort());
    });
  });

  describe('path-trick task ids', () => {
    it('should never create anything outside <dir>/tasks, whatever the id', async () => {
      const root = temp.make();
      const storeDir = join(root, 'a', 'b', 'store');
      const store = await FileTaskStore.open(storeDir);
      const ids = [
        ...HOSTILE_TASK_IDS,
        '../../../../../../../../tmp/escaped',
        '..\\..\\..\\escaped',
        '/',
        '//',
        'tasks',
        'tmp',
        '../tmp/x',
        '../tasks/x',
        `~h${'a'.repeat(64)}`,
        '1.json',
        `${'/..'.repeat(300)}`,
      ];
      for (const id of ids) {
        await store.save(id, { id }, { expectedRevision: null });
        await store.save(id, { id, again: true }, { expectedRevision: 1 });
      }
      for (const id of ids.slice(0, 10)) await store.delete(id, { expectedRevision: 2 });
      for (const id of ids.slice(10)) {
        await expect(store.load(id)).resolves.toEqual({
          snapshot: { id, again: true },
          revision: 2,
          lease: null,
        });
      }
      expect(new Set(await store.list())).toEqual(new Set(ids.slice(10)));
      await store.close();

      const fixed = ['a/', 'a/b/', 'a/b/store/', 'a/b/store/store.json', 'a/b/store/tasks/'];
      const inTask =
        /^a\/b\/store\/tasks\/[a-z0-9_~-]+\/(current|9007199254740991\.json|g\/([1-9][0-9]*\/(doc\.json)?)?)?$/;
      const outside = walk(root).filter(
        (path) => ![...fixed, 'a/b/store/tmp/'].includes(path) && !inTask.test(path),
      );
      expect(outside).toEqual([]);
      expect(readdirSync(join(storeDir, 'tmp'))).toEqual([]);
      expect(readdirSync(join(storeDir, 'tasks'))).toHaveLength(ids.length);
    });
  });

  describe('task ids the store cannot hold', () => {
    let dir: string;
    let store: FileTaskStore;

    beforeEach(async () => {
      dir = temp.make();
      store = await FileTaskStore.open(dir);
      await store.save('kept', { step: 1 }, { expectedRevision: null });
    });

    afterEach(() => store.close());

    const refused: ReadonlyArray<readonly [string, string]> = [
      ['one character over MAX_TASK_ID_LENGTH', 'a'.repeat(MAX_TASK_ID_LENGTH + 1)],
      ['far over MAX_TASK_ID_LENGTH', '../'.repeat(MAX_TASK_ID_LENGTH)],
      ['a lone high surrogate', '\uD800'],
      ['a lone low surrogate inside text', 'a\uDC00b'],
      ['surrogates in the wrong order', '\uDE00\uD83D'],
      ['an emoji cut in half', '🚀'.slice(0, 1)],
    ];

    it.each(refused)(
      'should throw InvalidArgumentError for an id with %s on save, load and delete, writing nothing',
      async (_label, id) => {
        await store.flush(); // the clean-up after the saves above is done
        const before = contents(dir);
        for (const call of [
          () => store.save(id, { id }, { expectedRevision: null }),
          () => store.load(id),
          () => store.delete(id, { expectedRevision: 1 }),
        ]) {
          const error = await rejectionOf(call);
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect((error as InvalidArgumentError).argument).toBe('taskId');
        }
        expect(contents(dir)).toEqual(before);
        await expect(store.list()).resolves.toEqual(['kept']);
      },
    );

    it('should hold an id of exactly MAX_TASK_ID_LENGTH characters, also of multi-byte ones', async () => {
      const ascii = 'z'.repeat(MAX_TASK_ID_LENGTH);
      const emoji = '🚀'.repeat(MAX_TASK_ID_LENGTH / 2);
      expect(emoji).toHaveLength(MAX_TASK_ID_LENGTH);
      await expect(store.save(ascii, { ascii: true }, { expectedRevision: null })).resolves.toBe(1);
      await expect(store.save(emoji, { emoji: true }, { expectedRevision: null })).resolves.toBe(1);
      await expect(store.load(ascii)).resolves.toEqual({
        snapshot: { ascii: true },
        revision: 1,
        lease: null,
      });
      await expect(store.load(emoji)).resolves.toEqual({
        snapshot: { emoji: true },
        revision: 1,
        lease: null,
      });
      expect(new Set(await store.list())).toEqual(new Set(['kept', ascii, emoji]));
    });
  });

  describe('corrupt and foreign documents', () => {
    const LONG_ID = `long/${'ü'.repeat(150)}`; // stored under a hashed name
    let dir: string;
    let store: FileTaskStore;

    beforeEach(async () => {
      dir = temp.make();
      store = await FileTaskStore.open(dir);
      await store.save('good', { step: 1 }, { expectedRevision: null });
      await store.save('good', { step: 2 }, { expectedRevision: 1 });
      await store.save('bad', { step: 1 }, { expectedRevision: null });
      await store.save(LONG_ID, { step: 1 }, { expectedRevision: null });
    });

    afterEach(() => store.close());

    const editDocument =
      (edit: (document: Record<string, unknown>) => void) =>
      (text: string): string => {
        const document = JSON.parse(text) as Record<string, unknown>;
        edit(document);
        return JSON.stringify(document);
      };

    const corruptions: ReadonlyArray<
      readonly [string, (text: string) => string | Buffer, string | null]
    > = [
      ['truncated to half', (text) => text.slice(0, Math.floor(text.length / 2)), ''],
      ['truncated to its first byte', (text) => text.slice(0, 1), ''],
      ['cut just before its last brace', (text) => text.slice(0, -1), ''],
      ['truncated to zero bytes', () => '', ''],
      ['garbage bytes', () => Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37, 0xc3, 0x28, 0x0a]), ''],
      ['text that is not JSON', () => 'hello, I am not a task\n', ''],
      ['JSON null', () => 'null', ''],
      ['a JSON array', () => '[1,2,3]', ''],
      ['a foreign JSON document', () => '{"name":"some-package","version":"1.0.0"}', ''],
      [
        'a document with a newer version',
        editDocument((document) => {
          document.version = DOCUMENT_VERSION + 1;
        }),
        'version',
      ],
      [
        'a document of another task',
        editDocument((document) => {
          document.taskId = 'good';
        }),
        'taskId',
      ],
      [
        'a document with a revision that is not a positive integer',
        editDocument((document) => {
          document.revision = 0;
        }),
        'revision',
      ],
      [
        'a document without its snapshot',
        editDocument((document) => {
          delete document.snapshot;
        }),
        null,
      ],
    ];

    it.each(corruptions)(
      'should give SnapshotError naming the task for a file with %s, and keep the others working',
      async (_label, corrupt, path) => {
        for (const id of ['bad', LONG_ID]) {
          const file = documentFile(dir, id, 1);
          writeFileSync(file, corrupt(readFileSync(file, 'utf8')));
        }
        await store.flush(); // the clean-up after the saves above is done
        const before = contents(dir);
        for (const id of ['bad', LONG_ID]) {
          const error = await rejectionOf(() => store.load(id));
          expect(error).toBeInstanceOf(SnapshotError);
          const snapshotError = error as SnapshotError;
          expect(snapshotError.taskId).toBe(id);
          expect(snapshotError.message).toContain(`'${id}'`);
          if (path !== null) expect(snapshotError.path).toBe(path);
        }
        const listed = await store.list();
        expect(listed).toContain('good');
        await expect(store.load('good')).resolves.toEqual({
          snapshot: { step: 2 },
          revision: 2,
          lease: null,
        });
        expect(contents(dir)).toEqual(before); // a failed load changes nothing
        await expect(store.save('good', { step: 3 }, { expectedRevision: 2 })).resolves.toBe(3);
        await expect(store.load('good')).resolves.toEqual({
          snapshot: { step: 3 },
          revision: 3,
          lease: null,
        });
      },
    );

    it('should tell to upgrade task-runtime when a document has a newer version', async () => {
      const file = documentFile(dir, 'bad', 1);
      writeFileSync(
        file,
        editDocument((document) => {
          document.version = 99;
        })(readFileSync(file, 'utf8')),
      );
      const error = await rejectionOf(() => store.load('bad'));
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as Error).message).toMatch(/upgrade/i);
      expect((error as Error).message).toContain('99');
    });

    it('should give SnapshotError, not spin, when the newest generation lost its document, and keep the others working', async () => {
      const file = documentFile(dir, 'bad', 1);
      unlinkSync(file);
      const other = await FileTaskStore.open(dir); // knows nothing it wrote itself, so it must read
      for (const call of [
        () => other.load('bad'),
        () => other.save('bad', {}, { expectedRevision: 1 }),
      ]) {
        const error = await rejectionOf(call);
        expect(error).toBeInstanceOf(SnapshotError);
        expect((error as SnapshotError).taskId).toBe('bad');
        expect((error as Error).message).toContain(`missing file '${file}'`);
      }
      expect(existsSync(file)).toBe(false); // nothing was written in its place
      expect(await other.list()).toEqual([LONG_ID, 'bad', 'good'].sort());
      await expect(other.load('good')).resolves.toEqual({
        snapshot: { step: 2 },
        revision: 2,
        lease: null,
      });
      await other.close();
    });

    it('should name the file in the SnapshotError of a corrupt document', async () => {
      const file = documentFile(dir, 'bad', 1);
      writeFileSync(file, '{"format":');
      const error = await rejectionOf(() => store.load('bad'));
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as Error).message).toContain(file);
    });
  });

  describe('stray entries', () => {
    it('should leave stray files and directories in <dir>/tasks out of list()', async () => {
      const dir = temp.make();
      const store = await FileTaskStore.open(dir);
      const longId = 'q'.repeat(300);
      await store.save('good', { step: 1 }, { expectedRevision: null });
      await store.save(longId, { long: true }, { expectedRevision: null });
      const tasks = join(dir, 'tasks');
      const goodDocument = readFileSync(documentFile(dir, 'good', 1), 'utf8');
      writeFileSync(join(tasks, 'README.md'), '# notes');
      writeFileSync(join(tasks, '.DS_Store'), Buffer.from([0, 1, 2]));
      mkdirSync(join(tasks, '.hidden'));
      mkdirSync(join(tasks, 'ABC')); // not a name any id produces
      writeFileSync(join(tasks, 'ABC', '1.json'), goodDocument.replace('"good"', '"ABC"'));
      mkdirSync(join(tasks, '~61')); // 'a' spelled the non-canonical way
      writeFileSync(join(tasks, '~61', '1.json'), goodDocument.replace('"good"', '"a"'));
      mkdirSync(join(tasks, 'empty'));
      writeFileSync(join(tasks, 'afile'), 'a file where a task directory would be');
      mkdirSync(join(tasks, 'notes'));
      writeFileSync(join(tasks, 'notes', 'notes.txt'), 'no revisions here');
      writeFileSync(join(tasks, 'notes', '0.json'), goodDocument);
      writeFileSync(join(tasks, 'notes', '01.json'), goodDocument);
      writeFileSync(join(tasks, '~hzz'), 'not a hash');
      mkdirSync(join(tasks, `~h${'a'.repeat(64)}`));
      mkdirSync(join(tasks, `~h${'b'.repeat(64)}`));
      writeFileSync(join(tasks, `~h${'b'.repeat(64)}`, '1.json'), 'garbage');
      mkdirSync(join(tasks, `~h${'c'.repeat(64)}`));
      writeFileSync(join(tasks, `~h${'c'.repeat(64)}`, '1.json'), goodDocument); // id does not hash here
      writeFileSync(join(documentFile(dir, 'good', 1), '..', 'notes.txt'), 'stray in a task dir');
      writeFileSync(join(documentFile(dir, 'good', 1), '..', '0.json'), 'stray revision 0');
      writeFileSync(join(documentFile(dir, 'good', 1), '..', '1.json.tmp'), 'stray temp');

      expect([...(await store.list())].sort()).toEqual(['good', longId].sort());
      await expect(store.load('good')).resolves.toEqual({
        snapshot: { step: 1 },
        revision: 1,
        lease: null,
      });
      await expect(store.load(longId)).resolves.toEqual({
        snapshot: { long: true },
        revision: 1,
        lease: null,
      });
      await expect(store.load('empty')).resolves.toBeNull();
      await expect(store.load('notes')).resolves.toBeNull();
      await expect(store.load('a')).resolves.toBeNull();
      await expect(store.save('good', { step: 2 }, { expectedRevision: 1 })).resolves.toBe(2);
      await store.close();
    });
  });

  describe('unwritable places', () => {
    it('should fail open() with TaskStoreError naming the cause when the path runs through a regular file', async () => {
      const root = temp.make();
      const file = join(root, 'a-file');
      writeFileSync(file, 'keep me');
      for (const dir of [join(file, 'store'), file]) {
        const error = await rejectionOf(() => FileTaskStore.open(dir));
        expect(error).toBeInstanceOf(TaskStoreError);
        const storeError = error as TaskStoreError;
        expect(storeError.taskId).toBeNull();
        expect(storeError.message).toContain(dir);
        expect(storeError.message).toContain('ENOTDIR');
        expect((storeError.cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
      }
      expect(walk(root)).toEqual(['a-file']);
      expect(readFileSync(file, 'utf8')).toBe('keep me');
    });

    it('should fail save() and load() with TaskStoreError naming the task and the cause when its place is a file', async () => {
      const dir = temp.make();
      const store = await FileTaskStore.open(dir);
      await store.save('kept', { step: 1 }, { expectedRevision: null });
      writeFileSync(join(dir, 'tasks', fileNameForTaskId('blocked')), 'in the way');
      await store.flush(); // the clean-up after the saves above is done
      const before = contents(dir);
      for (const call of [
        () => store.save('blocked', { step: 1 }, { expectedRevision: null }),
        () => store.load('blocked'),
        () => store.delete('blocked', { expectedRevision: 1 }),
      ]) {
        const error = await rejectionOf(call);
        expect(error).toBeInstanceOf(TaskStoreError);
        expect((error as TaskStoreError).taskId).toBe('blocked');
        expect((error as Error).message).toContain("'blocked'");
        expect((error as Error).message).toContain('ENOTDIR');
      }
      expect(contents(dir)).toEqual(before);
      await expect(store.load('kept')).resolves.toEqual({
        snapshot: { step: 1 },
        revision: 1,
        lease: null,
      });
      await store.close();
    });

    describe('a directory this process may not write to', () => {
      interface ChildOutcome {
        readonly ok: boolean;
        readonly revision?: number;
        readonly name?: string;
        readonly message?: string;
        readonly taskId?: string | null;
        readonly causeCode?: string | null;
      }

      /**
       * The fixture and the built store in a directory every user can read: the other user may not be able to
       * reach the repository itself (a clone under a 0700 temp directory, say).
       */
      function portableFixture(): string {
        const root = temp.make();
        cpSync(join(REPO, 'dist'), join(root, 'dist'), { recursive: true });
        cpSync(FIXTURE, join(root, 'test', 'fixtures', 'store-as-user.mjs'));
        spawnSync('chmod', ['-R', 'a+rX', root]);
        return join(root, 'test', 'fixtures', 'store-as-user.mjs');
      }

      /** Runs the fixture as another user when root (chmod does not stop root), else as this user. */
      function runFixture(args: readonly string[]): ChildOutcome {
        const fixture = RUNS_AS_ROOT ? portableFixture() : FIXTURE;
        const result = spawnSync(process.execPath, [fixture, ...args], {
          encoding: 'utf8',
          ...(RUNS_AS_ROOT ? OTHER_USER : {}),
        });
        expect(result.error).toBeUndefined();
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        return JSON.parse(result.stdout) as ChildOutcome;
      }

      /** A temp root that the other user can reach (mkdtemp makes it 0700). */
      function reachableRoot(): string {
        const root = temp.make();
        chmodSync(root, 0o755);
        return root;
      }

      beforeAll(() => {
        if (!existsSync(BUILT_PACKAGE)) {
          throw new Error(`${BUILT_PACKAGE} is missing: run 'npm run build' first (npm test does)`);
        }
      });

      it('should fail open() with TaskStoreError naming the directory and the cause', () => {
        const root = reachableRoot();
        const locked = join(root, 'locked');
        mkdirSync(locked);
        chmodSync(locked, 0o555);
        const dir = join(locked, 'store');
        const outcome = runFixture([dir, 'open']);
        expect(outcome.ok).toBe(false);
        expect(outcome.name).toBe('TaskStoreError');
        expect(outcome.causeCode).toBe('EACCES');
        expect(outcome.message).toContain(dir);
        expect(outcome.message).toContain('permission denied');
        expect(existsSync(dir)).toBe(false);
      });

      it('should fail open() of an existing store whose tmp/ is not writable, changing nothing', async () => {
        const root = reachableRoot();
        const dir = join(root, 'store');
        const store = await FileTaskStore.open(dir);
        await store.save('kept', { step: 1 }, { expectedRevision: null });
        chmodSync(join(dir, 'tmp'), 0o555);
        await store.flush(); // the clean-up after the saves above is done
        const before = contents(root);
        const outcome = runFixture([dir, 'open']);
        expect(outcome.ok).toBe(false);
        expect(outcome.name).toBe('TaskStoreError');
        expect(outcome.causeCode).toBe('EACCES');
        expect(outcome.message).toContain(dir);
        expect(contents(root)).toEqual(before);
        await expect(store.load('kept')).resolves.toEqual({
          snapshot: { step: 1 },
          revision: 1,
          lease: null,
        });
        await store.close();
      });

      it('should fail save() with TaskStoreError naming the task and the cause, changing nothing', async () => {
        const root = reachableRoot();
        const dir = join(root, 'store');
        const store = await FileTaskStore.open(dir);
        await store.save('kept', { step: 1 }, { expectedRevision: null });
        chmodSync(join(dir, 'tmp'), 0o777); // the child may write temp files, but no task
        chmodSync(join(dir, 'tasks', fileNameForTaskId('kept')), 0o555);
        chmodSync(join(dir, 'tasks'), 0o555);
        await store.flush(); // the clean-up after the saves above is done
        const before = contents(root);

        for (const [taskId, expected] of [
          ['new', 'null'],
          ['kept', '1'],
        ] as const) {
          const outcome = runFixture([dir, 'save', taskId, expected]);
          expect(outcome.ok).toBe(false);
          expect(outcome.name).toBe('TaskStoreError');
          expect(outcome.taskId).toBe(taskId);
          expect(outcome.causeCode).toBe('EACCES');
          expect(outcome.message).toContain(`'${taskId}'`);
          expect(outcome.message).toContain('not writable');
        }
        expect(contents(root)).toEqual(before); // temp files removed, no task written
        await expect(store.load('kept')).resolves.toEqual({
          snapshot: { step: 1 },
          revision: 1,
          lease: null,
        });
        await expect(store.list()).resolves.toEqual(['kept']);
        await store.close();
      });
    });
  });

  describe('close', () => {
    it('should reject calls after close() with a TaskStoreError saying the store was closed', async () => {
      const store = await FileTaskStore.open(temp.make());
      await store.close();
      const error = await rejectionOf(() => store.list());
      expect(error).toBeInstanceOf(TaskStoreError);
      expect(error).toBeInstanceOf(TaskRuntimeError);
      expect((error as Error).message).toContain('closed');
    });
  });
});
