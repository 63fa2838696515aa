import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, TaskStoreError } from '../../src/errors.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import { postgresRunNames } from '../../src/store/postgresRunSchema.js';
import {
  isSharedRunStore,
  isStartableSnapshot,
  type ReadyClaim,
  type RunTaskEntry,
} from '../../src/store/sharedRunStore.js';
import { rejectionOf } from '../support/errors.js';
import {
  describeWithPostgres,
  freshTable,
  queryRows,
  requirePostgresUrl,
  withClient,
} from './postgres.js';

/*
 * PostgresTaskStore as a SharedRunStore, against a real server (TASK_RUNTIME_PG_URL; `.ci/with-postgres npm test`
 * starts one): openRun, claimReady and listenReady, each store on a table of its own, dropped at the end with its
 * run tables. Waiting for a notification that must NOT come is done without sleeping: a NOTIFY known to come is sent
 * after it, and notifications arrive in commit order.
 */

const LEASE = { leaseMs: 60_000 };
const PR_URL = 'https://github.com/acme/app/pull/1';

/** The run entries of `[id, dependencies]` pairs, each with a fresh task's snapshot. */
function entries(spec: readonly (readonly [string, readonly string[]])[]): RunTaskEntry[] {
  return spec.map(([taskId, dependencies]) => ({
    taskId,
    dependencies,
    snapshot: new TaskRuntime({ id: 'task', role: 'implementer' }, { maxAttempts: 3 }).persist(),
  }));
}

/**
 * Saves the next steps of a claimed task as stored now (START, PR_CREATED, PR_MERGED by default) with its lease,
 * and gives the lease back after the merge, as a shared run does. Resolves with the last revision.
 */
async function advance(
  store: PostgresTaskStore,
  claim: ReadyClaim,
  steps: readonly ('start' | 'pr' | 'merge')[] = ['start', 'pr', 'merge'],
): Promise<number> {
  const stored = await store.load(claim.taskId);
  if (stored === null) throw new Error(`${claim.taskId} is not stored`);
  const runtime = TaskRuntime.restore(stored.snapshot, { maxAttempts: 3 });
  let revision = stored.revision;
  for (const step of steps) {
    if (step === 'start') runtime.markRunning({ workerId: claim.lease.workerId });
    if (step === 'pr') runtime.markPrCreated(PR_URL);
    if (step === 'merge') runtime.markPrMerged();
    revision = await store.save(claim.taskId, runtime.persist(), {
      expectedRevision: revision,
      lease: claim.lease,
    });
  }
  if (steps.includes('merge')) await store.release(claim.taskId, claim.lease);
  return revision;
}

/** Claims the next ready task of `runId` and requires one. */
async function claimNext(
  store: PostgresTaskStore,
  runId: string,
  workerId = 'w1',
): Promise<ReadyClaim> {
  const claim = await store.claimReady(runId, workerId, LEASE);
  if (claim === null) throw new Error(`nothing ready in ${runId}`);
  return claim;
}

/** A column of each task's row in the run's table, by task id (ids given, since the table keeps keys). */
async function runColumnOf(
  column: 'unmerged' | 'open',
  store: PostgresTaskStore,
  runId: string,
  ids: readonly string[],
): Promise<Record<string, unknown>> {
  const names = postgresRunNames(store.table);
  const rows = await queryRows<{ task_key: Buffer; value: unknown }>(
    `SELECT task_key, ${column} AS value FROM "${names.runTasks}" WHERE run_id = $1`,
    [runId],
  );
  const byKey = new Map(rows.map((row) => [row.task_key.toString('hex'), row.value]));
  return Object.fromEntries(
    ids.map((id) => [id, byKey.get(createHash('sha256').update(id, 'utf8').digest('hex'))]),
  );
}

/** The `unmerged` count of each task of the run, by task id. */
const unmergedOf = (store: PostgresTaskStore, runId: string, ids: readonly string[]) =>
  runColumnOf('unmerged', store, runId, ids);

/** Whether each task of the run is open (neither pr_merged nor failed), by task id. */
const openOf = (store: PostgresTaskStore, runId: string, ids: readonly string[]) =>
  runColumnOf('open', store, runId, ids);

/** Counts the NOTIFYs on a channel from a connection of its own; `next(payload)` waits for the next with it. */
async function notificationCounter(channel: string) {
  const seen: string[] = [];
  const waiters: (() => void)[] = [];
  const { Client } = await import('pg');
  const client = new Client({ connectionString: requirePostgresUrl() });
  await client.connect();
  client.on('notification', (message) => {
    seen.push(message.payload ?? '');
    for (const wake of waiters.splice(0)) wake();
  });
  await client.query(`LISTEN "${channel}"`);
  return {
    seen,
    /** Resolves once `count` notifications in all have arrived (fails after 10 s). */
    async until(count: number): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (seen.length < count) {
        if (Date.now() > deadline)
          throw new Error(`only ${seen.length} of ${count} notifications came`);
        await Promise.race([new Promise<void>((wake) => waiters.push(wake)), sleep(100)]);
      }
    },
    end: () => client.end(),
  };
}

describeWithPostgres('PostgresTaskStore as a SharedRunStore', () => {
  const tables: string[] = [];
  const stores: PostgresTaskStore[] = [];

  async function openStore(
    options: { table?: string; maxConnections?: number; preparedStatements?: boolean } = {},
  ): Promise<PostgresTaskStore> {
    const table = options.table ?? freshTable().name;
    if (!tables.includes(table)) tables.push(table);
    const store = await PostgresTaskStore.connect({
      connectionString: requirePostgresUrl(),
      ...options,
      table,
    });
    stores.push(store);
    return store;
  }

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await withClient(async (client) => {
      for (const table of tables) {
        const names = postgresRunNames(table);
        await client.query(`DROP TABLE IF EXISTS "${table}"`);
        for (const name of [names.runs, names.runTasks, names.runEdges]) {
          await client.query(`DROP TABLE IF EXISTS "${name}"`);
        }
        await client.query(`DROP FUNCTION IF EXISTS "${names.follow}"()`);
      }
    });
  });

  it('should be a SharedRunStore', async () => {
    expect(isSharedRunStore(await openStore())).toBe(true);
  });

  describe('openRun', () => {
    it('should create each task once under 8 concurrent callers, none of them seeing half a run', async () => {
      const first = await openStore();
      const others = await Promise.all(
        Array.from({ length: 7 }, () => openStore({ table: first.table, maxConnections: 2 })),
      );
      const callers = [first, ...others];
      const names = postgresRunNames(first.table);
      const spec = Array.from({ length: 300 }, (_, index) => {
        const dependencies = index === 0 ? [] : [`t${Math.floor((index - 1) / 3)}`];
        return [`t${index}`, dependencies] as const;
      });
      const run = entries(spec);
      // An observer counts the run's tasks and registrations in one snapshot while the callers open the run.
      const observed = new Set<string>();
      let opening = true;
      const observer = withClient(async (client) => {
        while (opening) {
          const { rows } = await client.query<{ tasks: string; members: string; edges: string }>(
            `SELECT (SELECT count(*) FROM "${first.table}") AS tasks,
                    (SELECT count(*) FROM "${names.runTasks}" WHERE run_id = 'fan') AS members,
                    (SELECT count(*) FROM "${names.runEdges}" WHERE run_id = 'fan') AS edges`,
          );
          const row = rows[0];
          observed.add(`${row?.tasks}/${row?.members}/${row?.edges}`);
        }
      });
      const created = await Promise.all(callers.map((store) => store.openRun('fan', run)));
      opening = false;
      await observer;
      expect(created.flat().sort()).toEqual(spec.map(([id]) => id).sort());
      expect(created.flat()).toHaveLength(300);
      expect([...observed].filter((seen) => seen !== '0/0/0' && seen !== '300/300/299')).toEqual(
        [],
      );
      // Right after its own call, every caller finds the root ready.
      await expect(others[3]?.claimReady('fan', 'w1', LEASE)).resolves.toMatchObject({
        taskId: 't0',
      });
      for (const id of ['t0', 't1', 't299']) {
        await expect(first.load(id)).resolves.toMatchObject({ revision: 1 });
      }
    });

    it('should be idempotent, create only the tasks not stored, and keep the stored ones as they are', async () => {
      const store = await openStore();
      const run = entries([
        ['a', []],
        ['b', ['a']],
      ]);
      const runtime = TaskRuntime.restore(run[0]?.snapshot);
      runtime.addConcern('stored before the run');
      await store.save('a', runtime.persist(), { expectedRevision: null });
      await expect(store.openRun('r', run)).resolves.toEqual(['b']);
      await expect(store.openRun('r', run)).resolves.toEqual([]);
      await expect(store.load('a')).resolves.toMatchObject({
        revision: 1,
        snapshot: { context: { concerns: ['stored before the run'] } },
      });
      // A task deleted since is created again (its tombstone replaced, its revisions going on).
      await store.delete('b', { expectedRevision: 1 });
      await expect(store.openRun('r', run)).resolves.toEqual(['b']);
      await expect(store.load('b')).resolves.toMatchObject({ revision: 3 });
    });

    it('should refuse a run id registered with other tasks or dependencies', async () => {
      const store = await openStore();
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', ['a']],
        ]),
      );
      for (const other of [
        entries([
          ['a', []],
          ['b', []],
        ]),
        entries([
          ['b', ['a']],
          ['a', []],
        ]),
        entries([['a', []]]),
      ]) {
        const error = await rejectionOf(() => store.openRun('r', other));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe('runId');
        expect((error as Error).message).toMatch(/registered with 2 tasks/);
      }
      await expect(store.list()).resolves.toEqual(['a', 'b']);
    });

    it('should refuse bad tasks before writing anything', async () => {
      const store = await openStore();
      const cases: [unknown, string][] = [
        [null, 'tasks'],
        [[null], 'tasks[0]'],
        [[{ taskId: '', dependencies: [], snapshot: {} }], 'tasks[0].taskId'],
        [[{ taskId: 'a\uD800', dependencies: [], snapshot: {} }], 'tasks[0].taskId'],
        [
          [
            { taskId: 'a', dependencies: [], snapshot: {} },
            { taskId: 'a', dependencies: [], snapshot: {} },
          ],
          'tasks[1].taskId',
        ],
        [[{ taskId: 'a', dependencies: 'b', snapshot: {} }], 'tasks[0].dependencies'],
        [[{ taskId: 'a', dependencies: ['missing'], snapshot: {} }], 'tasks[0].dependencies[0]'],
        [[{ taskId: 'a', dependencies: ['a'], snapshot: {} }], 'tasks[0].dependencies[0]'],
        [
          [
            { taskId: 'a', dependencies: [], snapshot: {} },
            { taskId: 'b', dependencies: ['a', 'a'], snapshot: {} },
          ],
          'tasks[1].dependencies[1]',
        ],
        [[{ taskId: 'a', dependencies: [], snapshot: 10n }], 'tasks[0].snapshot'],
      ];
      for (const [tasks, argument] of cases) {
        const error = await rejectionOf(() => store.openRun('r', tasks as RunTaskEntry[]));
        expect({ argument, error }).toEqual({ argument, error: expect.any(InvalidArgumentError) });
        expect((error as InvalidArgumentError).argument).toBe(argument);
      }
      await expect(store.list()).resolves.toEqual([]);
    });

    it('should count a merge that commits while the run is being registered', async () => {
      const store = await openStore();
      const run = entries([
        ['a', []],
        ['b', ['a']],
      ]);
      await store.save('a', run[0]?.snapshot, { expectedRevision: null });
      const merged = TaskRuntime.restore(run[0]?.snapshot, { maxAttempts: 3 });
      merged.markRunning();
      merged.markPrCreated(PR_URL);
      merged.markPrMerged();
      // The merge's transaction is open when the registration starts, and commits while it waits.
      await withClient(async (client) => {
        await client.query('BEGIN');
        await client.query(
          `UPDATE "${store.table}" SET status = 'pr_merged', startable = false, snapshot_json = $1,
             revision = revision + 1 WHERE task_id = $2`,
          [JSON.stringify(merged.persist()), Buffer.from('a')],
        );
        const opening = store.openRun('r', run);
        // The registration waits for the merge's row lock before counting.
        await waitFor(async () => {
          const waiting = await queryRows(
            `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR SHARE%'`,
          );
          return waiting.length === 1;
        });
        await client.query('COMMIT');
        await opening;
      });
      await expect(unmergedOf(store, 'r', ['a', 'b'])).resolves.toEqual({ a: 0, b: 0 });
      await expect(store.claimReady('r', 'w1', LEASE)).resolves.toMatchObject({ taskId: 'b' });
    });
  });

  describe('claimReady', () => {
    it('should claim only tasks whose dependencies are merged, in the order of the run', async () => {
      const store = await openStore();
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', ['a']],
          ['c', ['a', 'b']],
          ['d', []],
        ]),
      );
      const a = await claimNext(store, 'r');
      expect(a).toMatchObject({
        taskId: 'a',
        lease: { workerId: 'w1', token: 1 },
        stored: { revision: 1, snapshot: { status: 'pending' } },
      });
      expect(a.stored.lease).toEqual(a.lease);
      await expect(store.load('a')).resolves.toMatchObject({ revision: 1, lease: a.lease });
      const d = await claimNext(store, 'r');
      expect(d.taskId).toBe('d');
      await expect(store.claimReady('r', 'w1', LEASE)).resolves.toBeNull();
      // Running and pr_created are not merged.
      await advance(store, a, ['start', 'pr']);
      await expect(store.claimReady('r', 'w1', LEASE)).resolves.toBeNull();
      await advance(store, a, ['merge']);
      const b = await claimNext(store, 'r');
      expect(b.taskId).toBe('b');
      await expect(store.claimReady('r', 'w1', LEASE)).resolves.toBeNull();
      await advance(store, b);
      await expect(claimNext(store, 'r')).resolves.toMatchObject({ taskId: 'c' });
      await expect(unmergedOf(store, 'r', ['a', 'b', 'c', 'd'])).resolves.toEqual({
        a: 0,
        b: 0,
        c: 0,
        d: 0,
      });
    });

    it('should follow the order given to openRun', async () => {
      const store = await openStore();
      const ids = ['e', 'd', 'c', 'b', 'a', 'f'];
      await store.openRun('r', entries(ids.map((id) => [id, []])));
      const claimed: string[] = [];
      for (;;) {
        const claim = await store.claimReady('r', 'w1', LEASE);
        if (claim === null) break;
        claimed.push(claim.taskId);
      }
      expect(claimed).toEqual(ids);
    });

    it('should skip a task whose current attempt is used until its next attempt is prepared', async () => {
      const store = await openStore();
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', ['a']],
        ]),
      );
      const a = await claimNext(store, 'r');
      let revision = await advance(store, a, ['start']);
      const runtime = TaskRuntime.restore((await store.load('a'))?.snapshot, { maxAttempts: 3 });
      runtime.markFailed('tests failed');
      revision = await store.save('a', runtime.persist(), {
        expectedRevision: revision,
        lease: a.lease,
      });
      await expect(store.claimReady('r', 'w1', LEASE)).resolves.toBeNull();
      runtime.resetForRetry(); // pending again, attempt 0 still used
      expect(isStartableSnapshot(runtime.persist())).toBe(false);
      revision = await store.save('a', runtime.persist(), {
        expectedRevision: revision,
        lease: a.lease,
      });
      await expect(store.claimReady('r', 'w1', LEASE)).resolves.toBeNull();
      runtime.prepareForAttempt(1);
      await store.save('a', runtime.persist(), { expectedRevision: revision, lease: a.lease });
      await store.release('a', a.lease);
      const again = await claimNext(store, 'r', 'w2');
      expect(again).toMatchObject({ taskId: 'a', lease: { workerId: 'w2', token: 2 } });
      expect(again.stored.snapshot).toMatchObject({
        status: 'pending',
        context: { attemptNum: 1 },
      });
    });

    it('should skip a task under a live lease, and claim it again once that lease ran out', async () => {
      const store = await openStore();
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', []],
        ]),
      );
      const held = await store.claim('a', 'other', { leaseMs: 400 });
      await expect(claimNext(store, 'r')).resolves.toMatchObject({ taskId: 'b' });
      await expect(store.claimReady('r', 'w1', LEASE)).resolves.toBeNull();
      await sleep(500);
      const taken = await claimNext(store, 'r');
      expect(taken).toMatchObject({
        taskId: 'a',
        lease: { workerId: 'w1', token: (held?.token ?? 0) + 1 },
      });
    });

    it('should never show one run the tasks of another sharing the table', async () => {
      const store = await openStore();
      await store.openRun(
        'one',
        entries([
          ['one-a', []],
          ['one-b', ['one-a']],
        ]),
      );
      await store.openRun(
        'two',
        entries([
          ['two-a', []],
          ['two-b', []],
        ]),
      );
      await expect(claimNext(store, 'one')).resolves.toMatchObject({ taskId: 'one-a' });
      await expect(store.claimReady('one', 'w1', LEASE)).resolves.toBeNull();
      await expect(claimNext(store, 'two')).resolves.toMatchObject({ taskId: 'two-a' });
      await expect(claimNext(store, 'two')).resolves.toMatchObject({ taskId: 'two-b' });
      await expect(store.claimReady('two', 'w1', LEASE)).resolves.toBeNull();
      await expect(store.claimReady('three', 'w1', LEASE)).resolves.toBeNull();
    });

    it('should never give one task to two of 8 pools claiming from a 200-task fan-out', async () => {
      const first = await openStore();
      const pools = [
        first,
        ...(await Promise.all(
          Array.from({ length: 7 }, () => openStore({ table: first.table, maxConnections: 2 })),
        )),
      ];
      const spec = Array.from({ length: 200 }, (_, index) =>
        index === 0 ? (['root', []] as const) : ([`leaf-${index}`, ['root']] as const),
      );
      await first.openRun('fan', entries(spec));
      await advance(first, await claimNext(first, 'fan'));
      const claims = await Promise.all(
        pools.map(async (store, worker) => {
          const mine: ReadyClaim[] = [];
          for (;;) {
            const claim = await store.claimReady('fan', `w${worker}`, LEASE);
            if (claim === null) return mine;
            mine.push(claim);
          }
        }),
      );
      const ids = claims.flat().map((claim) => claim.taskId);
      expect(ids).toHaveLength(199);
      expect(new Set(ids).size).toBe(199);
      expect(claims.filter((mine) => mine.length > 0).length).toBeGreaterThan(1);
      for (const claim of claims.flat()) expect(claim.lease.token).toBe(1);
    });

    it('should claim tasks with hostile ids and give their ids back verbatim', async () => {
      const store = await openStore({ preparedStatements: false });
      const ids = [
        'nul\u0000byte',
        '<script>alert(1)</script>',
        'x'.repeat(300),
        '🙂 ü',
        "'; DROP TABLE x; --",
      ];
      await store.openRun(
        'hostile \u{1F600} run',
        entries(ids.map((id, index) => [id, index === 0 ? [] : [ids[0] ?? '']])),
      );
      const root = await claimNext(store, 'hostile \u{1F600} run');
      expect(root.taskId).toBe(ids[0]);
      await advance(store, root);
      const rest: string[] = [];
      for (;;) {
        const claim = await store.claimReady('hostile \u{1F600} run', 'w1', LEASE);
        if (claim === null) break;
        rest.push(claim.taskId);
      }
      expect(rest).toEqual(ids.slice(1));
      await expect(store.list()).resolves.toEqual([...ids].sort());
    });
  });

  describe('the unmerged counts', () => {
    it('should stay right through merges, deletions, and a save that takes a task out of pr_merged', async () => {
      const store = await openStore();
      const ids = ['a', 'b', 'c', 'd'];
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', []],
          ['c', ['a', 'b']],
          ['d', ['c', 'a']],
        ]),
      );
      await expect(unmergedOf(store, 'r', ids)).resolves.toEqual({ a: 0, b: 0, c: 2, d: 2 });
      const a = await claimNext(store, 'r');
      await advance(store, a, ['start', 'pr']);
      await expect(openOf(store, 'r', ids)).resolves.toEqual({
        a: true,
        b: true,
        c: true,
        d: true,
      });
      const merged = await advance(store, a, ['merge']);
      await expect(unmergedOf(store, 'r', ids)).resolves.toEqual({ a: 0, b: 0, c: 1, d: 1 });
      await expect(openOf(store, 'r', ids)).resolves.toEqual({
        a: false,
        b: true,
        c: true,
        d: true,
      });
      // The machine never leaves pr_merged, but a store takes any snapshot: the counts follow it anyway.
      const back = entries([['a', []]])[0]?.snapshot;
      const reverted = await store.save('a', back, { expectedRevision: merged });
      await expect(unmergedOf(store, 'r', ids)).resolves.toEqual({ a: 0, b: 0, c: 2, d: 2 });
      await expect(openOf(store, 'r', ids)).resolves.toEqual({
        a: true,
        b: true,
        c: true,
        d: true,
      });
      const again = await claimNext(store, 'r', 'w2');
      expect(again.taskId).toBe('a');
      expect(again.stored.revision).toBe(reverted);
      await advance(store, again);
      const b = await claimNext(store, 'r');
      const bMerged = await advance(store, b);
      await expect(unmergedOf(store, 'r', ids)).resolves.toEqual({ a: 0, b: 0, c: 0, d: 1 });
      await store.delete('b', { expectedRevision: bMerged });
      await expect(unmergedOf(store, 'r', ids)).resolves.toEqual({ a: 0, b: 0, c: 1, d: 1 });
      await expect(openOf(store, 'r', ids)).resolves.toEqual({
        a: false,
        b: false,
        c: true,
        d: true,
      });
      await expect(store.claimReady('r', 'w1', LEASE)).resolves.toBeNull();
    });

    it('should close a task that failed, and open it again when it is retried', async () => {
      const store = await openStore();
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', ['a']],
        ]),
      );
      const a = await claimNext(store, 'r');
      const revision = await advance(store, a, ['start']);
      const runtime = TaskRuntime.restore((await store.load('a'))?.snapshot, { maxAttempts: 3 });
      runtime.markFailed('boom');
      const failed = await store.save('a', runtime.persist(), {
        expectedRevision: revision,
        lease: a.lease,
      });
      await expect(openOf(store, 'r', ['a', 'b'])).resolves.toEqual({ a: false, b: true });
      runtime.resetForRetry();
      const retried = await store.save('a', runtime.persist(), {
        expectedRevision: failed,
        lease: a.lease,
      });
      await expect(openOf(store, 'r', ['a', 'b'])).resolves.toEqual({ a: true, b: true });
      await expect(unmergedOf(store, 'r', ['a', 'b'])).resolves.toEqual({ a: 0, b: 1 });
      // A store takes any snapshot: one in flight over a failed task opens it too.
      runtime.markFailed('boom again');
      const again = await store.save('a', runtime.persist(), {
        expectedRevision: retried,
        lease: a.lease,
      });
      await expect(openOf(store, 'r', ['a', 'b'])).resolves.toEqual({ a: false, b: true });
      const running = await store.load('a');
      const inFlight = { ...(running?.snapshot as object), status: 'running' };
      await expect(
        store.save('a', inFlight, { expectedRevision: again, lease: a.lease }),
      ).resolves.toBe(again + 1);
      await expect(openOf(store, 'r', ['a', 'b'])).resolves.toEqual({ a: true, b: true });
      await expect(
        store.save('a', inFlight, { expectedRevision: again, lease: a.lease }),
      ).rejects.toMatchObject({ name: 'ConflictError', actualRevision: again + 1 });
    });

    it('should be kept by the saves of a store that prepares no statements as well', async () => {
      const store = await openStore({ preparedStatements: false });
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', ['a']],
        ]),
      );
      await advance(store, await claimNext(store, 'r'));
      await expect(unmergedOf(store, 'r', ['a', 'b'])).resolves.toEqual({ a: 0, b: 0 });
      await expect(claimNext(store, 'r')).resolves.toMatchObject({ taskId: 'b' });
    });
  });

  describe('listenReady', () => {
    it('should hint once when a merge makes dependents ready, and never for a save that readies nothing', async () => {
      const store = await openStore();
      const names = postgresRunNames(store.table);
      const counter = await notificationCounter(names.channel);
      try {
        await store.openRun(
          'r',
          entries([
            ['a', []],
            ['b', ['a']],
            ['c', ['a']],
            ['d', ['a', 'b']],
            ['x', []],
          ]),
        );
        await counter.until(1); // the registration: a and x are ready
        const hints: string[] = [];
        const stop = await store.listenReady('r', () => hints.push('r'));
        const stopOther = await store.listenReady('other', () => hints.push('other'));
        const a = await claimNext(store, 'r');
        const x = await claimNext(store, 'r');
        expect(x.taskId).toBe('x');
        await advance(store, a, ['start', 'pr']); // claims, starts and PRs ready nothing
        const runtime = TaskRuntime.restore(x.stored.snapshot);
        runtime.addConcern('unrelated');
        await store.save('x', runtime.persist(), { expectedRevision: 1, lease: x.lease });
        await advance(store, a, ['merge']); // b and c ready: one NOTIFY
        await counter.until(2);
        expect(counter.seen).toEqual(['r', 'r']);
        await waitFor(() => hints.length === 1);
        expect(hints).toEqual(['r']);
        // b's merge readies d: the next hint; nothing came in between.
        const b = await claimNext(store, 'r');
        expect(b.taskId).toBe('b');
        await advance(store, b);
        await counter.until(3);
        await waitFor(() => hints.length === 2);
        expect(counter.seen).toEqual(['r', 'r', 'r']);
        expect(hints).toEqual(['r', 'r']);
        await stop();
        await stopOther();
      } finally {
        await counter.end();
      }
    });

    it('should hint when a failed task is made startable again with its dependencies merged', async () => {
      const store = await openStore();
      const counter = await notificationCounter(postgresRunNames(store.table).channel);
      try {
        await store.openRun('r', entries([['a', []]]));
        const a = await claimNext(store, 'r');
        const revision = await advance(store, a, ['start']);
        const runtime = TaskRuntime.restore((await store.load('a'))?.snapshot, { maxAttempts: 3 });
        runtime.markFailed('boom');
        const failed = await store.save('a', runtime.persist(), {
          expectedRevision: revision,
          lease: a.lease,
        });
        runtime.resetForRetry();
        const retried = await store.save('a', runtime.persist(), {
          expectedRevision: failed,
          lease: a.lease,
        });
        runtime.prepareForAttempt(1);
        await store.save('a', runtime.persist(), { expectedRevision: retried, lease: a.lease });
        await counter.until(2);
        expect(counter.seen).toEqual(['r', 'r']); // the registration, then the prepared attempt
      } finally {
        await counter.end();
      }
    });

    it('should listen again after its connection was terminated, and say so to its listeners', async () => {
      const store = await openStore();
      const names = postgresRunNames(store.table);
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', ['a']],
        ]),
      );
      let hints = 0;
      const stop = await store.listenReady('r', () => {
        hints += 1;
      });
      const listening = `LISTEN "${names.channel}"`;
      const before = await queryRows<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE query = $1',
        [listening],
      );
      expect(before).toHaveLength(1);
      await queryRows('SELECT pg_terminate_backend($1)', [before[0]?.pid]);
      await waitFor(() => hints === 1); // connected again: hints may have been missed
      const after = await queryRows<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE query = $1',
        [listening],
      );
      expect(after).toHaveLength(1);
      expect(after[0]?.pid).not.toBe(before[0]?.pid);
      await advance(store, await claimNext(store, 'r'));
      await waitFor(() => hints === 2);
      await stop();
      await waitFor(
        async () =>
          (await queryRows('SELECT pid FROM pg_stat_activity WHERE query = $1', [listening]))
            .length === 0,
      );
    });

    it('should keep one connection for every listener of a store and close it after the last', async () => {
      const store = await openStore();
      const listening = `LISTEN "${postgresRunNames(store.table).channel}"`;
      const count = async () =>
        (await queryRows('SELECT pid FROM pg_stat_activity WHERE query = $1', [listening])).length;
      const stops = await Promise.all(
        ['a', 'b', 'a'].map((run) => store.listenReady(run, () => {})),
      );
      expect(await count()).toBe(1);
      await stops[0]?.();
      await stops[0]?.(); // twice is once
      await stops[1]?.();
      expect(await count()).toBe(1);
      await stops[2]?.();
      await waitFor(async () => (await count()) === 0);
      const error = await rejectionOf(async () => {
        await store.close();
        await store.listenReady('a', () => {});
      });
      expect(error).toBeInstanceOf(TaskStoreError);
    });
  });

  describe('loadChanged', () => {
    it('should list the tasks stored at another revision with their snapshots, and the leased ones without', async () => {
      const store = await openStore();
      await store.openRun(
        'r',
        entries([
          ['a', []],
          ['b', ['a']],
          ['c', []],
        ]),
      );
      const seen = [
        { taskId: 'a', revision: 1 },
        { taskId: 'b', revision: 1 },
        { taskId: 'c', revision: 1 },
        { taskId: 'never-stored', revision: 0 },
      ];
      await expect(store.loadChanged(seen)).resolves.toEqual([]);
      const a = await claimNext(store, 'r');
      // Claimed, not changed: its lease only.
      await expect(store.loadChanged(seen)).resolves.toEqual([
        { taskId: 'a', lease: a.lease, stored: null },
      ]);
      await advance(store, a, ['start']);
      const [changed, ...rest] = await store.loadChanged(seen);
      expect(rest).toEqual([]);
      expect(changed).toEqual({
        taskId: 'a',
        lease: a.lease,
        stored: {
          revision: 2,
          lease: a.lease,
          snapshot: expect.objectContaining({ status: 'running' }),
        },
      });
      await advance(store, a, ['pr', 'merge']); // released after the merge
      await expect(
        store.loadChanged([
          { taskId: 'a', revision: 4 },
          { taskId: 'c', revision: 0 },
        ]),
      ).resolves.toEqual([
        {
          taskId: 'c',
          lease: null,
          stored: expect.objectContaining({ revision: 1, lease: null }),
        },
      ]);
    });
  });

  it('should refuse a bad run id in every operation, naming runId', async () => {
    const store = await openStore();
    const bad: unknown[] = ['', 'x'.repeat(201), 'nul\u0000', 'lone \uD800', 42, null];
    for (const runId of bad) {
      for (const call of [
        () => store.openRun(runId as string, []),
        () => store.claimReady(runId as string, 'w1', LEASE),
        () => store.listenReady(runId as string, () => {}),
      ]) {
        const error = await rejectionOf(call);
        expect({ runId, error }).toEqual({ runId, error: expect.any(InvalidArgumentError) });
        expect((error as InvalidArgumentError).argument).toBe('runId');
      }
    }
    await expect(store.openRun('x'.repeat(200), [])).resolves.toEqual([]);
    await expect(store.claimReady('r', 'w\u0000', LEASE)).rejects.toMatchObject({
      argument: 'workerId',
    });
    await expect(store.claimReady('r', 'w1', { leaseMs: 0 })).rejects.toMatchObject({
      argument: 'leaseMs',
    });
  });

  describe('migrate', () => {
    it('should upgrade a table of the previous version, computing startable for the rows it holds', async () => {
      const { name } = freshTable();
      tables.push(name);
      await withClient(async (client) => {
        await client.query(`
          CREATE TABLE "${name}" (
            task_id bytea NOT NULL,
            task_key bytea GENERATED ALWAYS AS (sha256(task_id)) STORED PRIMARY KEY,
            revision integer NOT NULL CHECK (revision > 0),
            deleted boolean NOT NULL DEFAULT false,
            snapshot_json text,
            status text,
            attempt_num integer,
            lease_owner text,
            lease_expires_at timestamptz,
            fencing_token bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
          )`);
        const fresh = entries([['x', []]])[0]?.snapshot;
        const used = TaskRuntime.restore(fresh, { maxAttempts: 3 });
        used.markRunning();
        used.markFailed('boom');
        used.resetForRetry();
        const running = TaskRuntime.restore(fresh);
        running.markRunning();
        const insert = `INSERT INTO "${name}" (task_id, revision, snapshot_json, status, attempt_num) VALUES ($1, 1, $2, $3, 0)`;
        await client.query(insert, [Buffer.from('fresh'), JSON.stringify(fresh), 'pending']);
        await client.query(insert, [
          Buffer.from('used'),
          JSON.stringify(used.persist()),
          'pending',
        ]);
        await client.query(insert, [
          Buffer.from('running'),
          JSON.stringify(running.persist()),
          'running',
        ]);
        await client.query(insert, [
          Buffer.from('nul'),
          '{"status":"pending","context":{"attemptNum":0,"attempts":[],"note":"\\u0000"}}',
          'pending',
        ]);
      });
      const stores = await Promise.all(Array.from({ length: 3 }, () => openStore({ table: name })));
      const rows = await queryRows<{ task_id: Buffer; startable: boolean }>(
        `SELECT task_id, startable FROM "${name}" ORDER BY task_id`,
      );
      expect(
        Object.fromEntries(rows.map((row) => [row.task_id.toString(), row.startable])),
      ).toEqual({
        fresh: true,
        nul: true,
        running: false,
        used: false,
      });
      const triggers = await queryRows<{ tgname: string }>(
        'SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname',
        [`"${name}"`],
      );
      expect(triggers.map((row) => row.tgname)).toEqual(['task_runtime_runs']);
      await stores[0]?.migrate();
      await stores[1]?.openRun(
        'r',
        entries([
          ['fresh', []],
          ['used', []],
          ['running', []],
          ['nul', ['fresh']],
        ]),
      );
      await expect(claimNext(stores[2] as PostgresTaskStore, 'r')).resolves.toMatchObject({
        taskId: 'fresh',
      });
      await expect(stores[2]?.claimReady('r', 'w1', LEASE)).resolves.toBeNull();
    });

    it('should find ready tasks through the partial index of ready tasks', async () => {
      const store = await openStore();
      const names = postgresRunNames(store.table);
      await store.openRun(
        'r',
        entries(Array.from({ length: 2_000 }, (_, index) => [`t${index}`, []])),
      );
      await queryRows(`ANALYZE "${names.runTasks}"`);
      await queryRows(`ANALYZE "${store.table}"`);
      const { postgresRunStatements } = await import('../../src/store/postgresRunStatements.js');
      const sql = postgresRunStatements(`"${store.table}"`, names).claimReady;
      const plan = await withClient(async (client) => {
        await client.query('BEGIN');
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN ${sql.replaceAll('$1', "'r'").replaceAll('$2', "'w'").replaceAll('$3', '1000')}`,
        );
        await client.query('ROLLBACK');
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      });
      expect(plan).toContain(names.readyIndex);
      expect(plan).toContain('LockRows');
    });
  });
});

/** Waits until `done()` holds (checked every 10 ms; fails after 10 s). */
async function waitFor(done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('waited 10 s in vain');
    await sleep(10);
  }
}
