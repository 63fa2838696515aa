import { InvalidArgumentError } from '../../src/errors.js';
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import {
  checkSharedRunOptions,
  DEFAULT_FOLLOW_MS,
  DEFAULT_LEASE_MS,
  type DurableTaskGraphRuntimeOptions,
  MIN_LEASE_MS,
} from '../../src/graph/sharedRunOptions.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import { rejectionOf } from '../support/errors.js';
import { tempDirs } from '../support/tempDir.js';

/** The longest lease a store grants (one year), as the stores check it. */
const MAX_LEASE_MS = 365 * 24 * 60 * 60 * 1000;
/** The longest pause between two looks at what other workers saved. */
const MAX_FOLLOW_MS = 60_000;

const graph = TaskGraph.fromTasks([
  { id: 'a', role: 'generic' },
  { id: 'b', role: 'generic', dependencies: ['a'] },
]);

const EXPECTED_WORKER_ID =
  'a non-empty string of at most 200 characters of well-formed Unicode (no lone surrogates) without U+0000';
const EXPECTED_LEASE_MS = `a positive integer of milliseconds up to ${MAX_LEASE_MS}`;
const EXPECTED_LONG_ENOUGH_LEASE = `an integer of at least ${MIN_LEASE_MS} ms (the lease is renewed every third of it)`;
const EXPECTED_FOLLOW_MS = `a positive integer of milliseconds up to ${MAX_FOLLOW_MS}`;
const NEEDS_WORKER_ID = 'no value unless workerId is given (only a shared run takes leases)';

/** A refusal of `open`: the option it names, what a valid value looks like, and what was given. */
interface Refusal {
  readonly name: string;
  readonly options: DurableTaskGraphRuntimeOptions;
  readonly argument: string;
  readonly expected: string;
  readonly received: string;
}

const refusal = (
  name: string,
  options: Record<string, unknown>,
  argument: string,
  expected: string,
  received: string,
): Refusal => ({
  name,
  options: options as DurableTaskGraphRuntimeOptions,
  argument,
  expected,
  received,
});

/** A value as a test name shows it: strings quoted. */
const shown = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : String(value);

const REFUSALS: readonly Refusal[] = [
  refusal('an empty workerId', { workerId: '' }, 'workerId', EXPECTED_WORKER_ID, 'an empty string'),
  refusal(
    'a number as workerId',
    { workerId: 42 },
    'workerId',
    EXPECTED_WORKER_ID,
    'a number (42)',
  ),
  refusal('null as workerId', { workerId: null }, 'workerId', EXPECTED_WORKER_ID, 'null'),
  refusal(
    'a workerId with U+0000',
    { workerId: 'a\u0000b' },
    'workerId',
    EXPECTED_WORKER_ID,
    'a string ("a\\u0000b")',
  ),
  refusal(
    'a workerId with a lone surrogate',
    { workerId: '\uD800' },
    'workerId',
    EXPECTED_WORKER_ID,
    'a string ("\\ud800")',
  ),
  refusal(
    'a workerId of 201 characters',
    { workerId: 'w'.repeat(201) },
    'workerId',
    EXPECTED_WORKER_ID,
    `a string ("${'w'.repeat(40)}…", 201 characters)`,
  ),
  refusal(
    'a workerId of 10,000 characters',
    { workerId: 'w'.repeat(10_000) },
    'workerId',
    EXPECTED_WORKER_ID,
    `a string ("${'w'.repeat(40)}…", 10000 characters)`,
  ),
  ...(
    [
      [0, 'a number (0)'],
      [-1, 'a number (-1)'],
      [1.5, 'a number (1.5)'],
      [Number.NaN, 'a number (NaN)'],
      [Number.POSITIVE_INFINITY, 'a number (Infinity)'],
      ['1000', 'a string ("1000")'],
      [MAX_LEASE_MS + 1, `a number (${MAX_LEASE_MS + 1})`],
      [2 ** 53, `a number (${2 ** 53})`],
    ] as const
  ).map(([value, received]) =>
    refusal(
      `leaseMs ${shown(value)}`,
      { workerId: 'w1', leaseMs: value },
      'leaseMs',
      EXPECTED_LEASE_MS,
      received,
    ),
  ),
  refusal(
    'a null leaseMs (only an absent one takes the default)',
    { workerId: 'w1', leaseMs: null },
    'leaseMs',
    EXPECTED_LEASE_MS,
    'null',
  ),
  refusal(
    'a null followMs (only an absent one takes the default)',
    { workerId: 'w1', followMs: null },
    'followMs',
    EXPECTED_FOLLOW_MS,
    'null',
  ),
  refusal('a null leaseMs without workerId', { leaseMs: null }, 'leaseMs', NEEDS_WORKER_ID, 'null'),
  ...[1, MIN_LEASE_MS - 1].map((value) =>
    refusal(
      `leaseMs ${value}, below ${MIN_LEASE_MS}`,
      { workerId: 'w1', leaseMs: value },
      'leaseMs',
      EXPECTED_LONG_ENOUGH_LEASE,
      `a number (${value})`,
    ),
  ),
  ...(
    [
      [0, 'a number (0)'],
      [-1, 'a number (-1)'],
      [1.5, 'a number (1.5)'],
      [Number.NaN, 'a number (NaN)'],
      [Number.POSITIVE_INFINITY, 'a number (Infinity)'],
      ['1000', 'a string ("1000")'],
      [MAX_FOLLOW_MS + 1, `a number (${MAX_FOLLOW_MS + 1})`],
    ] as const
  ).map(([value, received]) =>
    refusal(
      `followMs ${shown(value)}`,
      { workerId: 'w1', followMs: value },
      'followMs',
      EXPECTED_FOLLOW_MS,
      received,
    ),
  ),
  refusal(
    'leaseMs without workerId',
    { leaseMs: 1000 },
    'leaseMs',
    NEEDS_WORKER_ID,
    'a number (1000)',
  ),
  refusal(
    'followMs without workerId',
    { followMs: 100 },
    'followMs',
    NEEDS_WORKER_ID,
    'a number (100)',
  ),
  refusal(
    'an invalid leaseMs without workerId',
    { leaseMs: -5, maxAttempts: 2 },
    'leaseMs',
    NEEDS_WORKER_ID,
    'a number (-5)',
  ),
];

/** The InvalidArgumentError that `open` rejects with (fails the test when it resolves or rejects otherwise). */
async function refusedOpen(
  store: TaskStore,
  options: DurableTaskGraphRuntimeOptions,
): Promise<InvalidArgumentError> {
  const error = await rejectionOf(() => DurableTaskGraphRuntime.open(store, graph, options));
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

/** Every stored task with its revision and lease, as another process sees them. */
async function contentsOf(store: TaskStore): Promise<unknown[]> {
  const ids = await store.list();
  return Promise.all(ids.map(async (id) => ({ id, stored: await store.load(id) })));
}

const dirs = tempDirs('task-runtime-shared-options-');
afterAll(() => dirs.removeAll());

describe('DurableTaskGraphRuntime.open with shared-run options', () => {
  describe('on a FileTaskStore', () => {
    let store: FileTaskStore;
    const runs: DurableTaskGraphRuntime[] = [];

    beforeEach(async () => {
      store = await FileTaskStore.open(dirs.make());
    });
    afterEach(async () => {
      for (const run of runs.splice(0)) run.close();
      await store.close();
    });

    it.each(REFUSALS.map((entry) => [entry.name, entry] as const))(
      'should refuse %s with an InvalidArgumentError naming the option, what it expected and what it got, and store nothing',
      async (_name, { options, argument, expected, received }) => {
        const error = await refusedOpen(store, options);
        expect(error).toMatchObject({ argument, expected, received });
        expect(error.message).toBe(`Invalid ${argument}: expected ${expected}, got ${received}.`);
        expect(await store.list()).toEqual([]);
      },
    );

    it('should leave a stored run as it was when a later open is refused', async () => {
      const first = await DurableTaskGraphRuntime.open(store, graph, {
        workerId: 'w1',
        leaseMs: 1000,
      });
      runs.push(first);
      await first.markRunning('a');
      const before = await contentsOf(store);
      expect(before).toHaveLength(2);
      for (const { options } of REFUSALS) await refusedOpen(store, options);
      expect(await contentsOf(store)).toEqual(before);
    });

    it.each([
      [
        'the defaults',
        { workerId: 'w1' },
        { leaseMs: DEFAULT_LEASE_MS, followMs: DEFAULT_FOLLOW_MS },
      ],
      [
        'the bounds',
        { workerId: 'w'.repeat(200), leaseMs: MIN_LEASE_MS, followMs: 1 },
        { leaseMs: MIN_LEASE_MS, followMs: 1 },
      ],
      [
        'the upper bounds',
        { workerId: 'w1', leaseMs: MAX_LEASE_MS, followMs: MAX_FOLLOW_MS },
        { leaseMs: MAX_LEASE_MS, followMs: MAX_FOLLOW_MS },
      ],
      [
        'a workerId of any well-formed Unicode',
        { workerId: 'wörker 🦀 #1' },
        { leaseMs: DEFAULT_LEASE_MS, followMs: DEFAULT_FOLLOW_MS },
      ],
    ] as const)('should open a shared run with %s', async (_name, options, checked) => {
      expect(checkSharedRunOptions(options)).toMatchObject({
        workerId: options.workerId,
        ...checked,
      });
      const run = await DurableTaskGraphRuntime.open(store, graph, options);
      runs.push(run);
      expect(run.workerId).toBe(options.workerId);
      expect(await store.list()).toEqual(['a', 'b']);
    });

    it.each([
      ['the default lease', { workerId: 'w1' }, DEFAULT_LEASE_MS],
      ['the shortest lease', { workerId: 'w'.repeat(200), leaseMs: MIN_LEASE_MS }, MIN_LEASE_MS],
    ] as const)(
      'should claim a lease of the length asked for with %s',
      async (_name, options, leaseMs) => {
        const run = await DurableTaskGraphRuntime.open(store, graph, options);
        runs.push(run);
        const sentAt = Date.now();
        await run.markRunning('a');
        const lease = (await store.load('a'))?.lease;
        expect(lease).toMatchObject({ workerId: options.workerId, token: 1 });
        const expiresAt = Date.parse(lease?.expiresAt ?? '');
        expect(expiresAt).toBeGreaterThanOrEqual(sentAt + leaseMs);
        expect(expiresAt).toBeLessThanOrEqual(Date.now() + leaseMs);
      },
    );

    it('should open a run of one process, taking no leases, when no shared-run option is given', async () => {
      expect(checkSharedRunOptions({ maxAttempts: 2 })).toBeNull();
      const run = await DurableTaskGraphRuntime.open(store, graph, {
        maxAttempts: 2,
        workerId: undefined,
        leaseMs: undefined,
        followMs: undefined,
      });
      runs.push(run);
      expect(run.workerId).toBeNull();
      await run.markRunning('a');
      expect(run.leaseOf('a')).toBeNull();
      expect((await store.load('a'))?.lease).toBeNull();
    });
  });
});

describeWithPostgres('DurableTaskGraphRuntime.open with shared-run options on PostgreSQL', () => {
  const table = freshTable();
  let store: PostgresTaskStore;

  beforeAll(async () => {
    store = await PostgresTaskStore.connect({
      connectionString: requirePostgresUrl(),
      table: table.name,
    });
  });
  afterAll(async () => {
    await store.close();
    await table.drop();
  });

  it('should refuse every bad option before it stores anything', async () => {
    for (const { options, argument, expected, received } of REFUSALS) {
      const error = await refusedOpen(store, options);
      expect(error).toMatchObject({ argument, expected, received });
    }
    expect(await store.list()).toEqual([]);
  });
});
