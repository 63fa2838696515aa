import { ConflictError, InvalidArgumentError, TaskRuntimeError } from '../../src/errors.js';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import { MAX_TASK_ID_LENGTH } from '../../src/store/storeArguments.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { AgentRole } from '../../src/task/enums.js';
import { rejectionOf } from '../support/errors.js';

/**
 * The behaviour every TaskStore must show, whatever it stores into. It uses nothing but the TaskStore
 * interface, so the same suite runs unchanged against every store; `openStore` must give an empty store.
 */

/** Asserts a ConflictError with the given fields and returns it. */
async function expectConflict(
  call: () => Promise<unknown>,
  taskId: string,
  expectedRevision: number | null,
  actualRevision: number | null,
): Promise<ConflictError> {
  const error = await rejectionOf(call);
  expect(error).toBeInstanceOf(ConflictError);
  const conflict = error as ConflictError;
  expect(conflict.taskId).toBe(taskId);
  expect(conflict.expectedRevision).toBe(expectedRevision);
  expect(conflict.actualRevision).toBe(actualRevision);
  return conflict;
}

/** Ids that path tricks, encodings and case must not confuse; each must come back exactly as given. */
export const HOSTILE_TASK_IDS: readonly string[] = [
  'plain',
  'a/b',
  '/etc/passwd',
  'a\\b',
  '..\\..\\windows\\system32',
  '..',
  '.',
  '...',
  '../../etc/passwd',
  'tasks/../../escape',
  'nul\0byte',
  '\0',
  ' ',
  ' leading and trailing spaces ',
  'tab\tnew\nline\r',
  'ünïcödé',
  'e\u0301', // 'é' decomposed: must stay distinct from the composed form
  'é',
  '日本語のタスク',
  '🚀 launch 👩‍💻',
  'Task',
  'task',
  'TASK',
  'tAsK',
  '~',
  '~h',
  '~41',
  '%2e%2e%2f',
  'CON',
  'nul',
  'a:b*c?d"e<f>g|h',
  'x'.repeat(500),
  'X'.repeat(500),
  `${'../'.repeat(150)}etc/passwd`,
];

const sortedCopy = (ids: readonly string[]): string[] => [...ids].sort();

/** A snapshot naming `id` as it is, U+0000 included. */
const idSnapshot = (id: string): { id: string } => ({ id });

/** Ids both stores refuse, each with InvalidArgumentError for `taskId`. */
export const REFUSED_TASK_IDS: ReadonlyArray<readonly [string, string]> = [
  ['one character over MAX_TASK_ID_LENGTH', 'a'.repeat(MAX_TASK_ID_LENGTH + 1)],
  ['a lone high surrogate', '\uD800'],
  ['a lone low surrogate inside text', 'a\uDC00b'],
  ['surrogates in the wrong order', '\uDE00\uD83D'],
  ['an emoji cut in half', '🚀'.slice(0, 1)],
];

const CATEGORIES =
  'Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn'.split(
    ' ',
  );

/** Up to `count` code points of every Unicode general category below U+30000 (surrogates as lone halves). */
function codePointsByCategory(count: number): Map<string, string> {
  const patterns = CATEGORIES.map(
    (category) => [category, new RegExp(`^\\p{gc=${category}}$`, 'u')] as const,
  );
  const found = new Map<string, string[]>(CATEGORIES.map((category) => [category, []]));
  for (let code = 0; code < 0x30000; code += 1) {
    const char = String.fromCodePoint(code);
    for (const [category, pattern] of patterns) {
      const list = found.get(category) as string[];
      if (list.length < count && pattern.test(char)) list.push(char);
    }
  }
  return new Map([...found].map(([category, chars]) => [category, chars.join('')]));
}

/** Text a coding agent's output can hold, which a store must give back exactly as it was given. */
export const HOSTILE_TEXTS: ReadonlyArray<readonly [string, string]> = [
  ['a lone high surrogate', 'tests failed 🙂🙂'.slice(0, 14)],
  ['a lone low surrogate', '🙂'.slice(1)],
  ['surrogates in the wrong order', '\uDE00\uD83D'],
  ['U+0000', 'before\u0000after'],
  ['only U+0000', '\u0000'],
  ['every C0 control', Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join('')],
  ['a 200 KB string', `${'0123456789abcdef'.repeat(12_800)}🚀\u0000`],
  ['JSON text', '{"status":"completed","revision":99,"snapshot":null}'],
  ['a JSON-escaped U+0000', '\\u0000 and \\ud800'],
  ['JSON punctuation', '"},{"x":[' + "'\\"],
  ['HTML and a javascript: URL', '<script>alert(1)</script><a href="javascript:alert(1)">x</a>'],
  ['line and paragraph separators', 'a\u2028b\u2029c\uFEFF'],
  ['noncharacters', '\uFFFE\uFFFF\u{10FFFF}'],
  ...[...codePointsByCategory(40)].map(
    ([category, chars]) => [`code points of category ${category}`, chars] as const,
  ),
];

const isCounter = (value: unknown): value is { count: number } =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { count?: unknown }).count === 'number';

/** Declares the TaskStore contract suite for a store; `openStore` must give a new, empty store per call. */
export function describeTaskStoreContract(name: string, openStore: () => Promise<TaskStore>): void {
  describe(`${name} (TaskStore contract)`, () => {
    let store: TaskStore;
    let closed: boolean;

    beforeEach(async () => {
      store = await openStore();
      closed = false;
    });

    afterEach(async () => {
      if (!closed) await store.close();
    });

    describe('save and load', () => {
      it('should create revision 1 when saving a new task with expectedRevision null', async () => {
        await expect(store.save('t1', { step: 1 }, { expectedRevision: null })).resolves.toBe(1);
        await expect(store.load('t1')).resolves.toEqual({
          snapshot: { step: 1 },
          revision: 1,
          lease: null,
        });
      });

      it('should return null when loading a task that is not stored', async () => {
        await store.save('other', { step: 1 }, { expectedRevision: null });
        await expect(store.load('missing')).resolves.toBeNull();
      });

      it('should give back a JSON snapshot exactly as it was saved', async () => {
        const snapshot = {
          schemaVersion: 1,
          text: 'line\nwith "quotes", \\ and 🚀',
          numbers: [0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER],
          flags: [true, false, null],
          nested: { empty: {}, list: [], deep: { deeper: { deepest: 'ok' } } },
        };
        await store.save('json', snapshot, { expectedRevision: null });
        const loaded = await store.load('json');
        expect(loaded?.snapshot).toEqual(snapshot);
        expect(JSON.stringify(loaded?.snapshot)).toBe(JSON.stringify(snapshot)); // key order too
      });

      it('should grow the revision by one with every save and load the last snapshot', async () => {
        const revisions: number[] = [];
        let expected: number | null = null;
        for (let step = 1; step <= 5; step += 1) {
          expected = await store.save('grow', { step }, { expectedRevision: expected });
          revisions.push(expected);
        }
        expect(revisions).toEqual([1, 2, 3, 4, 5]);
        await expect(store.load('grow')).resolves.toEqual({
          snapshot: { step: 5 },
          revision: 5,
          lease: null,
        });
      });

      it('should not let a caller change the stored snapshot through the object it saved or loaded', async () => {
        const snapshot = { list: [1, 2], inner: { value: 'a' } };
        await store.save('copy', snapshot, { expectedRevision: null });
        snapshot.list.push(3);
        snapshot.inner.value = 'changed';
        const first = await store.load('copy');
        expect(first?.snapshot).toEqual({ list: [1, 2], inner: { value: 'a' } });
        const loaded = first?.snapshot as { list: number[] } | undefined;
        try {
          loaded?.list.push(99);
        } catch {
          // a frozen copy is fine too
        }
        await expect(store.load('copy')).resolves.toEqual({
          snapshot: { list: [1, 2], inner: { value: 'a' } },
          revision: 1,
          lease: null,
        });
      });
    });

    describe('expectedRevision conflicts', () => {
      const stored = { step: 3 };

      beforeEach(async () => {
        await store.save('c', { step: 1 }, { expectedRevision: null });
        await store.save('c', { step: 2 }, { expectedRevision: 1 });
        await store.save('c', stored, { expectedRevision: 2 });
      });

      it.each([
        ['stale', 2],
        ['much older', 1],
        ['ahead of the stored one', 4],
        ['far ahead', 99],
        ['null although the task exists', null],
      ])(
        'should throw ConflictError and write nothing when expectedRevision is %s',
        async (_label, expectedRevision) => {
          await expectConflict(
            () => store.save('c', { step: 'lost' }, { expectedRevision }),
            'c',
            expectedRevision,
            3,
          );
          await expect(store.load('c')).resolves.toEqual({
            snapshot: stored,
            revision: 3,
            lease: null,
          });
          await expect(store.list()).resolves.toEqual(['c']);
        },
      );

      it('should accept the stored revision after a conflict', async () => {
        await expectConflict(
          () => store.save('c', { step: 'x' }, { expectedRevision: 2 }),
          'c',
          2,
          3,
        );
        await expect(store.save('c', { step: 4 }, { expectedRevision: 3 })).resolves.toBe(4);
      });

      it('should throw ConflictError with actualRevision null when a task that does not exist is expected at a revision', async () => {
        await expectConflict(
          () => store.save('ghost', { step: 1 }, { expectedRevision: 1 }),
          'ghost',
          1,
          null,
        );
        await expect(store.load('ghost')).resolves.toBeNull();
        await expect(store.list()).resolves.toEqual(['c']);
      });

      it('should say in the ConflictError message which task and which revisions', async () => {
        const error = await expectConflict(
          () => store.save('c', {}, { expectedRevision: 1 }),
          'c',
          1,
          3,
        );
        expect(error.message).toContain("'c'");
        expect(error.message).toContain('3');
        expect(error).toBeInstanceOf(TaskRuntimeError);
      });
    });

    describe('list', () => {
      it('should return an empty list for an empty store', async () => {
        await expect(store.list()).resolves.toEqual([]);
      });

      it('should return exactly the stored ids, each once', async () => {
        const ids = ['b', 'a', 'c-3', 'c_2'];
        for (const id of ids) await store.save(id, { id }, { expectedRevision: null });
        await store.save('a', { id: 'a', again: true }, { expectedRevision: 1 });
        expect(sortedCopy(await store.list())).toEqual(sortedCopy(ids));
      });
    });

    describe('delete', () => {
      beforeEach(async () => {
        await store.save('gone', { step: 1 }, { expectedRevision: null });
        await store.save('gone', { step: 2 }, { expectedRevision: 1 });
        await store.save('kept', { step: 1 }, { expectedRevision: null });
      });

      it('should remove the task when expectedRevision is the stored revision', async () => {
        await expect(store.delete('gone', { expectedRevision: 2 })).resolves.toBeUndefined();
        await expect(store.load('gone')).resolves.toBeNull();
        await expect(store.list()).resolves.toEqual(['kept']);
        await expect(store.load('kept')).resolves.toEqual({
          snapshot: { step: 1 },
          revision: 1,
          lease: null,
        });
      });

      it.each([
        ['stale', 1],
        ['ahead', 3],
      ])(
        'should throw ConflictError and keep the task when expectedRevision is %s',
        async (_label, expectedRevision) => {
          await expectConflict(
            () => store.delete('gone', { expectedRevision }),
            'gone',
            expectedRevision,
            2,
          );
          await expect(store.load('gone')).resolves.toEqual({
            snapshot: { step: 2 },
            revision: 2,
            lease: null,
          });
          expect(sortedCopy(await store.list())).toEqual(['gone', 'kept']);
        },
      );

      it('should throw ConflictError when deleting a task that is not stored', async () => {
        await expectConflict(
          () => store.delete('ghost', { expectedRevision: 1 }),
          'ghost',
          1,
          null,
        );
        expect(sortedCopy(await store.list())).toEqual(['gone', 'kept']);
      });

      it('should throw ConflictError when deleting a task twice', async () => {
        await store.delete('gone', { expectedRevision: 2 });
        await expectConflict(() => store.delete('gone', { expectedRevision: 2 }), 'gone', 2, null);
      });

      it('should refuse saves that expect the deleted revision', async () => {
        await store.delete('gone', { expectedRevision: 2 });
        await expectConflict(
          () => store.save('gone', { step: 3 }, { expectedRevision: 2 }),
          'gone',
          2,
          null,
        );
        await expect(store.load('gone')).resolves.toBeNull();
      });

      it('should let a deleted task be created again with expectedRevision null', async () => {
        await store.delete('gone', { expectedRevision: 2 });
        const revision = await store.save('gone', { reborn: true }, { expectedRevision: null });
        expect(Number.isSafeInteger(revision) && revision > 0).toBe(true);
        await expect(store.load('gone')).resolves.toEqual({
          snapshot: { reborn: true },
          revision,
          lease: null,
        });
        expect(sortedCopy(await store.list())).toEqual(['gone', 'kept']);
        await expect(
          store.save('gone', { step: 'next' }, { expectedRevision: revision }),
        ).resolves.toBe(revision + 1);
      });

      it('should not let a writer holding a revision from before the delete overwrite the re-created task', async () => {
        await store.save('phoenix', { incarnation: 1 }, { expectedRevision: null });
        const seenByStaleWriter = 1;
        await store.delete('phoenix', { expectedRevision: seenByStaleWriter });
        const reborn = await store.save('phoenix', { incarnation: 2 }, { expectedRevision: null });
        const error = await rejectionOf(() =>
          store.save(
            'phoenix',
            { incarnation: 1, late: true },
            { expectedRevision: seenByStaleWriter },
          ),
        );
        expect(error).toBeInstanceOf(ConflictError);
        await expect(store.load('phoenix')).resolves.toEqual({
          snapshot: { incarnation: 2 },
          revision: reborn,
          lease: null,
        });
      });
    });

    describe('task ids', () => {
      it('should round-trip every hostile id verbatim through save, load and list', async () => {
        for (const id of HOSTILE_TASK_IDS) {
          await expect(store.save(id, idSnapshot(id), { expectedRevision: null })).resolves.toBe(1);
        }
        for (const id of HOSTILE_TASK_IDS) {
          await expect(store.load(id)).resolves.toEqual({
            snapshot: idSnapshot(id),
            revision: 1,
            lease: null,
          });
        }
        const listed = await store.list();
        expect(listed).toHaveLength(HOSTILE_TASK_IDS.length);
        expect(sortedCopy(listed)).toEqual(sortedCopy(HOSTILE_TASK_IDS));
      });

      it('should keep ids that differ only in case as different tasks', async () => {
        const ids = ['Task', 'task', 'TASK', 'tAsK'];
        for (const [index, id] of ids.entries()) {
          await expect(store.save(id, { index }, { expectedRevision: null })).resolves.toBe(1);
        }
        await store.save('task', { index: 1, updated: true }, { expectedRevision: 1 });
        await store.delete('TASK', { expectedRevision: 1 });
        await expect(store.load('Task')).resolves.toEqual({
          snapshot: { index: 0 },
          revision: 1,
          lease: null,
        });
        await expect(store.load('task')).resolves.toEqual({
          snapshot: { index: 1, updated: true },
          revision: 2,
          lease: null,
        });
        await expect(store.load('TASK')).resolves.toBeNull();
        await expect(store.load('tAsK')).resolves.toEqual({
          snapshot: { index: 3 },
          revision: 1,
          lease: null,
        });
        expect(sortedCopy(await store.list())).toEqual(sortedCopy(['Task', 'task', 'tAsK']));
      });

      it('should keep ids that are equal only after Unicode normalization as different tasks', async () => {
        await store.save('caf\u00e9', { form: 'NFC' }, { expectedRevision: null });
        await store.save('cafe\u0301', { form: 'NFD' }, { expectedRevision: null });
        await expect(store.load('caf\u00e9')).resolves.toEqual({
          snapshot: { form: 'NFC' },
          revision: 1,
          lease: null,
        });
        await expect(store.load('cafe\u0301')).resolves.toEqual({
          snapshot: { form: 'NFD' },
          revision: 1,
          lease: null,
        });
      });

      it('should delete a hostile id without touching the others', async () => {
        for (const id of HOSTILE_TASK_IDS) {
          await store.save(id, idSnapshot(id), { expectedRevision: null });
        }
        await store.delete('../../etc/passwd', { expectedRevision: 1 });
        await store.delete('..', { expectedRevision: 1 });
        const rest = HOSTILE_TASK_IDS.filter((id) => id !== '../../etc/passwd' && id !== '..');
        expect(sortedCopy(await store.list())).toEqual(sortedCopy(rest));
        for (const id of rest) {
          await expect(store.load(id)).resolves.toEqual({
            snapshot: idSnapshot(id),
            revision: 1,
            lease: null,
          });
        }
      });
    });

    describe('hostile content', () => {
      it.each(HOSTILE_TEXTS)(
        'should give back a snapshot holding %s exactly, as value and as key, on create and update',
        async (_label, text) => {
          const snapshot = { text, list: ['x', text, { [text]: text }], [text]: [text] };
          await expect(
            store.save('hostile', { step: 1 }, { expectedRevision: null }),
          ).resolves.toBe(1);
          await expect(store.save('hostile', snapshot, { expectedRevision: 1 })).resolves.toBe(2);
          await expect(store.save('fresh', snapshot, { expectedRevision: null })).resolves.toBe(1);
          for (const id of ['hostile', 'fresh']) {
            const loaded = await store.load(id);
            expect(loaded?.revision).toBe(id === 'hostile' ? 2 : 1);
            expect(JSON.stringify(loaded?.snapshot)).toBe(JSON.stringify(snapshot));
            expect((loaded?.snapshot as { text?: unknown } | undefined)?.text).toBe(text);
          }
        },
      );

      it('should give back a top-level string, number, array and null snapshot exactly', async () => {
        const values: unknown[] = [
          '\u0000\uD800',
          0,
          -1.5e-300,
          [null, true, '\uDFFF'],
          null,
          '{}',
        ];
        for (const [index, value] of values.entries()) {
          await store.save(`value-${index}`, value, { expectedRevision: null });
          const loaded = await store.load(`value-${index}`);
          expect({ index, json: JSON.stringify(loaded?.snapshot) }).toEqual({
            index,
            json: JSON.stringify(value),
          });
        }
      });

      it('should record a failure whose text was cut inside an emoji through a DurableTaskRuntime', async () => {
        const cut = 'tests failed 🙂🙂'.slice(0, 14);
        const runtime = await DurableTaskRuntime.create(store, {
          id: 'cut\u0000emoji',
          role: AgentRole.IMPLEMENTER,
          description: 'output\u0000with NUL and half an emoji \uD83D',
        });
        await runtime.assignWorktree({ worktreePath: '/tmp/wt/\u0000', branchName: 'task/cut' });
        await runtime.markRunning();
        await runtime.addConcern(cut);
        await runtime.markFailed(cut);
        const loaded = await DurableTaskRuntime.load(store, 'cut\u0000emoji');
        expect(loaded?.status).toBe('failed');
        expect(loaded?.revision).toBe(runtime.revision);
        expect(JSON.stringify(loaded?.persist())).toBe(JSON.stringify(runtime.persist()));
        expect(loaded?.artifacts.concerns).toEqual([cut]);
      });

      it.each(REFUSED_TASK_IDS)(
        'should refuse an id with %s on every operation with InvalidArgumentError, writing nothing',
        async (_label, id) => {
          await store.save('kept', { step: 1 }, { expectedRevision: null });
          const calls: ReadonlyArray<() => Promise<unknown>> = [
            () => store.save(id, { id: 'x' }, { expectedRevision: null }),
            () => store.load(id),
            () => store.delete(id, { expectedRevision: 1 }),
            () => store.claim(id, 'worker-1', { leaseMs: 1_000 }),
            () => store.renew(id, { workerId: 'worker-1', token: 1 }, { leaseMs: 1_000 }),
            () => store.release(id, { workerId: 'worker-1', token: 1 }),
          ];
          for (const call of calls) {
            const error = await rejectionOf(call);
            expect(error).toBeInstanceOf(InvalidArgumentError);
            expect((error as InvalidArgumentError).argument).toBe('taskId');
          }
          await expect(store.list()).resolves.toEqual(['kept']);
        },
      );
    });

    describe('invalid arguments', () => {
      const bigint = { value: BigInt(1) };
      const cycle: Record<string, unknown> = { name: 'cycle' };
      cycle.self = cycle;

      const cases: ReadonlyArray<readonly [string, string, (s: TaskStore) => Promise<unknown>]> = [
        ['save with an empty id', 'taskId', (s) => s.save('', {}, { expectedRevision: null })],
        [
          'save with a number as id',
          'taskId',
          (s) => s.save(42 as unknown as string, {}, { expectedRevision: null }),
        ],
        [
          'save with null as id',
          'taskId',
          (s) => s.save(null as unknown as string, {}, { expectedRevision: null }),
        ],
        [
          'save with an object as id',
          'taskId',
          (s) => s.save({ id: 'x' } as unknown as string, {}, { expectedRevision: null }),
        ],
        ['load with an empty id', 'taskId', (s) => s.load('')],
        ['load with undefined as id', 'taskId', (s) => s.load(undefined as unknown as string)],
        ['delete with an empty id', 'taskId', (s) => s.delete('', { expectedRevision: 1 })],
        [
          'delete with a number as id',
          'taskId',
          (s) => s.delete(7 as unknown as string, { expectedRevision: 1 }),
        ],
        [
          'save with expectedRevision 0',
          'expectedRevision',
          (s) => s.save('x', {}, { expectedRevision: 0 }),
        ],
        [
          'save with expectedRevision -1',
          'expectedRevision',
          (s) => s.save('x', {}, { expectedRevision: -1 }),
        ],
        [
          'save with expectedRevision 1.5',
          'expectedRevision',
          (s) => s.save('x', {}, { expectedRevision: 1.5 }),
        ],
        [
          "save with expectedRevision '1'",
          'expectedRevision',
          (s) => s.save('x', {}, { expectedRevision: '1' as unknown as number }),
        ],
        [
          'save with expectedRevision NaN',
          'expectedRevision',
          (s) => s.save('x', {}, { expectedRevision: Number.NaN }),
        ],
        [
          'save with expectedRevision Infinity',
          'expectedRevision',
          (s) => s.save('x', {}, { expectedRevision: Number.POSITIVE_INFINITY }),
        ],
        [
          'save with expectedRevision undefined',
          'expectedRevision',
          (s) => s.save('x', {}, { expectedRevision: undefined as unknown as null }),
        ],
        [
          'delete with expectedRevision 0',
          'expectedRevision',
          (s) => s.delete('x', { expectedRevision: 0 }),
        ],
        [
          'delete with expectedRevision 1.5',
          'expectedRevision',
          (s) => s.delete('x', { expectedRevision: 1.5 }),
        ],
        [
          "delete with expectedRevision '1'",
          'expectedRevision',
          (s) => s.delete('x', { expectedRevision: '1' as unknown as number }),
        ],
        [
          'delete with expectedRevision null',
          'expectedRevision',
          (s) => s.delete('x', { expectedRevision: null as unknown as number }),
        ],
        [
          'save with an undefined snapshot',
          'snapshot',
          (s) => s.save('x', undefined, { expectedRevision: null }),
        ],
        [
          'save with a snapshot holding a BigInt',
          'snapshot',
          (s) => s.save('x', bigint, { expectedRevision: null }),
        ],
        [
          'save with a BigInt snapshot',
          'snapshot',
          (s) => s.save('x', BigInt(2), { expectedRevision: null }),
        ],
        [
          'save with a snapshot with a cycle',
          'snapshot',
          (s) => s.save('x', cycle, { expectedRevision: null }),
        ],
        [
          'save with a function as snapshot',
          'snapshot',
          (s) => s.save('x', () => 1, { expectedRevision: null }),
        ],
      ];

      it.each(cases)(
        'should throw InvalidArgumentError for %s and write nothing',
        async (_label, argument, call) => {
          const error = await rejectionOf(() => call(store));
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect((error as InvalidArgumentError).argument).toBe(argument);
          await expect(store.list()).resolves.toEqual([]);
          await expect(store.load('x')).resolves.toBeNull();
        },
      );

      it.each(cases)(
        'should throw InvalidArgumentError for %s and leave a stored task unchanged',
        async (_label, _argument, call) => {
          await store.save('x', { step: 1 }, { expectedRevision: null });
          const error = await rejectionOf(() => call(store));
          expect(error).toBeInstanceOf(InvalidArgumentError);
          await expect(store.load('x')).resolves.toEqual({
            snapshot: { step: 1 },
            revision: 1,
            lease: null,
          });
          await expect(store.list()).resolves.toEqual(['x']);
        },
      );

      it('should throw InvalidArgumentError when the options are missing', async () => {
        const error = await rejectionOf(() =>
          store.save('x', {}, undefined as unknown as { expectedRevision: null }),
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        await expect(store.load('x')).resolves.toBeNull();
      });
    });

    describe('concurrency in one process', () => {
      it('should let exactly one of 10 concurrent saves with the same expectedRevision win', async () => {
        await store.save('race', { writer: 'creator' }, { expectedRevision: null });
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, writer) =>
            store.save('race', { writer }, { expectedRevision: 1 }),
          ),
        );
        const fulfilled = results.flatMap((r, writer) =>
          r.status === 'fulfilled' ? [{ writer, revision: r.value }] : [],
        );
        const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        expect(fulfilled).toHaveLength(1);
        expect(fulfilled[0]?.revision).toBe(2);
        expect(rejected).toHaveLength(9);
        for (const reason of rejected) {
          expect(reason).toBeInstanceOf(ConflictError);
          expect((reason as ConflictError).expectedRevision).toBe(1);
          expect((reason as ConflictError).actualRevision).toBe(2);
        }
        await expect(store.load('race')).resolves.toEqual({
          snapshot: { writer: fulfilled[0]?.writer },
          revision: 2,
          lease: null,
        });
      });

      it('should let exactly one of 10 concurrent creations win', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, writer) =>
            store.save('born', { writer }, { expectedRevision: null }),
          ),
        );
        const winners = results.flatMap((r, writer) => (r.status === 'fulfilled' ? [writer] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
        }
        await expect(store.load('born')).resolves.toEqual({
          snapshot: { writer: winners[0] },
          revision: 1,
          lease: null,
        });
      });

      it('should lose no update when concurrent writers loop on load and save', async () => {
        await store.save('counter', { count: 0 }, { expectedRevision: null });
        const acknowledged: number[] = [];
        const worker = async (): Promise<void> => {
          for (let round = 0; round < 15; round += 1) {
            const loaded = await store.load('counter');
            if (loaded === null || !isCounter(loaded.snapshot)) throw new Error('counter vanished');
            try {
              acknowledged.push(
                await store.save(
                  'counter',
                  { count: loaded.snapshot.count + 1 },
                  { expectedRevision: loaded.revision },
                ),
              );
            } catch (error) {
              if (!(error instanceof ConflictError)) throw error;
            }
          }
        };
        await Promise.all(Array.from({ length: 6 }, worker));
        const final = await store.load('counter');
        expect(acknowledged.length).toBeGreaterThan(0);
        expect(new Set(acknowledged).size).toBe(acknowledged.length); // no revision acknowledged twice
        expect(final?.revision).toBe(acknowledged.length + 1);
        expect(final?.snapshot).toEqual({ count: acknowledged.length });
      });

      it('should not acknowledge a slow save whose expectedRevision was overtaken while it was written', async () => {
        // A large snapshot keeps one writer busy while a fast one saves again and again on the same task.
        // Whoever wins, no revision may be acknowledged twice and the last acknowledged save must be stored.
        const payload = 'x'.repeat(24 * 1024 * 1024);
        for (let trial = 0; trial < 6; trial += 1) {
          const id = `slow-${trial}`;
          await store.save(id, { writer: 'creator' }, { expectedRevision: null });
          const acknowledged: { writer: string; revision: number }[] = [];
          let settled = false;
          const slow = store
            .save(id, { writer: 'slow', payload }, { expectedRevision: 1 })
            .then(
              (revision) => {
                acknowledged.push({ writer: 'slow', revision });
              },
              (error: unknown) => {
                if (!(error instanceof ConflictError)) throw error;
              },
            )
            .finally(() => {
              settled = true;
            });
          for (let n = 0; !settled && n < 1000; n += 1) {
            const loaded = await store.load(id);
            if (loaded === null) throw new Error(`${id} vanished`);
            try {
              const writer = `fast-${n}`;
              const revision = await store.save(
                id,
                { writer },
                { expectedRevision: loaded.revision },
              );
              acknowledged.push({ writer, revision });
            } catch (error) {
              if (!(error instanceof ConflictError)) throw error;
            }
          }
          await slow;
          const revisions = acknowledged.map((ack) => ack.revision);
          expect({ trial, revisions: [...revisions].sort((a, b) => a - b) }).toEqual({
            trial,
            revisions: [...new Set(revisions)].sort((a, b) => a - b),
          });
          const final = await store.load(id);
          const last = acknowledged.reduce((a, b) => (b.revision > a.revision ? b : a));
          expect({ trial, revision: final?.revision }).toEqual({
            trial,
            revision: 1 + acknowledged.length,
          });
          expect({
            trial,
            writer: (final?.snapshot as { writer?: unknown } | undefined)?.writer,
          }).toEqual({ trial, writer: last.writer });
        }
      }, 60_000);
    });

    describe('close', () => {
      it.each<readonly [string, (s: TaskStore) => Promise<unknown>]>([
        ['load', (s) => s.load('t')],
        ['save', (s) => s.save('t', { after: 'close' }, { expectedRevision: 1 })],
        ['save of a new task', (s) => s.save('new', {}, { expectedRevision: null })],
        ['delete', (s) => s.delete('t', { expectedRevision: 1 })],
        ['list', (s) => s.list()],
      ])('should make %s fail after close()', async (_label, call) => {
        await store.save('t', { before: 'close' }, { expectedRevision: null });
        await store.close();
        closed = true;
        const error = await rejectionOf(() => call(store));
        expect(error).toBeInstanceOf(TaskRuntimeError);
      });
    });
  });
}
