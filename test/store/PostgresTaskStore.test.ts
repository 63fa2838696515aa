import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InvalidArgumentError,
  LeaseLostError,
  TaskRuntimeError,
  TaskStoreError,
} from '../../src/errors.js';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import { MAX_TASK_ID_LENGTH } from '../../src/store/storeArguments.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { AgentRole } from '../../src/task/enums.js';
import { rejectionOf } from '../support/errors.js';
import { mulberry32, SEED } from '../support/random.js';
import { describeChangeLoaderContract } from './changeLoaderContract.js';
import { describeLeaseContract, snapshotIn } from './leaseContract.js';
import {
  describeWithPostgres,
  dropTables,
  freshTable,
  queryRows,
  requirePostgresUrl,
  tableExists,
  withClient,
} from './postgres.js';
import { describeTaskStoreContract } from './taskStoreContract.js';

/*
 * PostgresTaskStore against a real server (TASK_RUNTIME_PG_URL; `.ci/with-postgres npm test` starts one). Every
 * store gets a table of its own, dropped at the end. Random choices come from a seeded generator: set
 * TASK_RUNTIME_SEED to replay one.
 */

describeWithPostgres('PostgresTaskStore', () => {
  const tables: string[] = [];

  /** A store on a table of its own (dropped after all tests). */
  async function openStore(
    options: { maxConnections?: number; migrate?: boolean; preparedStatements?: boolean } = {},
  ): Promise<PostgresTaskStore> {
    const { name } = freshTable();
    tables.push(name);
    return PostgresTaskStore.connect({
      connectionString: requirePostgresUrl(),
      table: name,
      ...options,
    });
  }

  afterAll(async () => {
    await dropTables(tables);
  });

  describeTaskStoreContract('PostgresTaskStore', () => openStore());

  // For poolers that cannot keep prepared statements: the same contract, every statement sent unprepared.
  describeTaskStoreContract('PostgresTaskStore without prepared statements', () =>
    openStore({ preparedStatements: false }),
  );

  describeChangeLoaderContract('PostgresTaskStore', () => openStore());

  describeLeaseContract('PostgresTaskStore', async () => {
    const store = await openStore();
    // Lease times come from the server's clock: letting time pass means waiting.
    return { store, advance: (ms) => sleep(ms), close: () => store.close() };
  });

  describe('connect', () => {
    it('should fail with TaskStoreError naming the cause when nothing listens at the URL', async () => {
      const error = await rejectionOf(() =>
        PostgresTaskStore.connect({
          connectionString: 'postgresql://postgres@127.0.0.1:1/postgres',
        }),
      );
      expect(error).toBeInstanceOf(TaskStoreError);
      expect((error as TaskStoreError).taskId).toBeNull();
      expect((error as Error).message).toContain('ECONNREFUSED');
      expect((error as Error).message).toMatch(/connection string/);
      expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('should fail with TaskStoreError naming the cause when the database does not exist', async () => {
      const url = new URL(requirePostgresUrl());
      url.pathname = `/no_such_db_${randomBytes(4).toString('hex')}`;
      const error = await rejectionOf(() =>
        PostgresTaskStore.connect({ connectionString: url.toString() }),
      );
      expect(error).toBeInstanceOf(TaskStoreError);
      expect((error as Error).message).toContain(url.pathname.slice(1));
      expect((error as Error).message).toContain('does not exist');
    });

    it.each([
      ['a quoted injection', 'tasks"; DROP TABLE "tasks'],
      ['a statement after a semicolon', 'x; DROP TABLE x'],
      ['upper case', 'Tasks'],
      ['a leading digit', '1tasks'],
      ['a dot (schema)', 'public.tasks'],
      ['a space', 'my tasks'],
      ['64 characters', 'a'.repeat(64)],
      ['an empty string', ''],
      ['a number', 42],
    ])(
      'should throw InvalidArgumentError for a table name with %s, before connecting',
      async (_label, table) => {
        const canary = freshTable();
        tables.push(canary.name);
        await queryRows(`CREATE TABLE "${canary.name}" (x int)`);
        const error = await rejectionOf(() =>
          PostgresTaskStore.connect({
            connectionString: requirePostgresUrl(),
            table: table as string,
          }),
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe('table');
        expect(await tableExists(canary.name)).toBe(true);
      },
    );

    it.each([
      ['an empty string', ''],
      ['undefined', undefined],
      ['a number', 5432],
    ])(
      'should throw InvalidArgumentError for %s as connection string',
      async (_label, connectionString) => {
        const error = await rejectionOf(() =>
          PostgresTaskStore.connect({ connectionString: connectionString as string }),
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe('connectionString');
      },
    );

    it.each([
      ['a string', 'yes'],
      ['a number', 1],
      ['null', null],
    ])(
      'should throw InvalidArgumentError for %s as preparedStatements, before connecting',
      async (_label, preparedStatements) => {
        const error = await rejectionOf(() =>
          PostgresTaskStore.connect({
            connectionString: requirePostgresUrl(),
            preparedStatements: preparedStatements as unknown as boolean,
          }),
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe('preparedStatements');
        expect((error as Error).message).toContain('true or false');
      },
    );

    it('should keep working with its prepared statements after the table was dropped and made again', async () => {
      const store = await openStore({ maxConnections: 1 });
      const revision = await store.save('kept', { step: 1 }, { expectedRevision: null });
      await expect(store.load('kept')).resolves.toEqual({
        snapshot: { step: 1 },
        revision,
        lease: null,
      });
      await queryRows(`DROP TABLE "${store.table}"`);
      await store.migrate();
      await expect(store.load('kept')).resolves.toBeNull();
      await expect(store.save('kept', { step: 2 }, { expectedRevision: null })).resolves.toBe(1);
      await expect(store.load('kept')).resolves.toEqual({
        snapshot: { step: 2 },
        revision: 1,
        lease: null,
      });
      await store.close();
    });

    it('should reject calls after close() with a TaskStoreError saying the store was closed', async () => {
      const store = await openStore();
      await store.close();
      for (const call of [
        () => store.list(),
        () => store.claim('a', 'w', { leaseMs: 1000 }),
        () => store.listExpired(),
        () => store.migrate(),
      ]) {
        const error = await rejectionOf(call);
        expect(error).toBeInstanceOf(TaskStoreError);
        expect((error as Error).message).toContain('closed');
      }
      await expect(store.close()).resolves.toBeUndefined();
    });
  });

  describe('migrate', () => {
    const COLUMNS = {
      task_id: 'bytea',
      task_key: 'bytea',
      revision: 'integer',
      deleted: 'boolean',
      snapshot_json: 'text',
      status: 'text',
      attempt_num: 'integer',
      startable: 'boolean',
      lease_owner: 'text',
      lease_expires_at: 'timestamp with time zone',
      fencing_token: 'bigint',
      updated_at: 'timestamp with time zone',
    };

    const columnsOf = async (table: string): Promise<Record<string, string>> => {
      const rows = await queryRows<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1`,
        [table],
      );
      return Object.fromEntries(rows.map((row) => [row.column_name, row.data_type]));
    };

    it('should create one table with the snapshot as JSON text and status and attempt as plain columns', async () => {
      const store = await openStore();
      try {
        expect(await columnsOf(store.table)).toEqual(COLUMNS);
      } finally {
        await store.close();
      }
    });

    it('should be idempotent: running it again keeps the table and its rows', async () => {
      const store = await openStore();
      try {
        await store.save('kept', { step: 1 }, { expectedRevision: null });
        const lease = await store.claim('kept', 'worker-1', { leaseMs: 60_000 });
        for (let round = 0; round < 3; round += 1) await store.migrate();
        await expect(store.load('kept')).resolves.toEqual({
          snapshot: { step: 1 },
          revision: 1,
          lease,
        });
        expect(await columnsOf(store.table)).toEqual(COLUMNS);
        await expect(store.claim('kept', 'worker-2', { leaseMs: 60_000 })).resolves.toBeNull();
        if (lease === null) throw new Error('claim gave null');
        await expect(store.save('kept', { step: 2 }, { expectedRevision: 1, lease })).resolves.toBe(
          2,
        );
      } finally {
        await store.close();
      }
    });

    it('should move the snapshots of a table made by the jsonb version into snapshot_json and drop jsonb', async () => {
      const { name } = freshTable();
      tables.push(name);
      // The table as the first version created it, with a row it wrote.
      await withClient(async (client) => {
        await client.query(`CREATE TABLE "${name}" (
          task_id bytea NOT NULL,
          task_key bytea GENERATED ALWAYS AS (sha256(task_id)) STORED PRIMARY KEY,
          revision integer NOT NULL CHECK (revision > 0),
          deleted boolean NOT NULL DEFAULT false,
          snapshot jsonb,
          status text,
          attempt_num integer,
          lease_owner text,
          lease_expires_at timestamptz,
          fencing_token bigint NOT NULL DEFAULT 0,
          updated_at timestamptz NOT NULL DEFAULT now())`);
        await client.query(
          `INSERT INTO "${name}" (task_id, revision, snapshot, status, fencing_token) VALUES
             ($1, 3, $2::jsonb, 'running', 2), ($3, 2, NULL, NULL, 1)`,
          [
            Buffer.from('old'),
            JSON.stringify({ status: 'running', text: 'ü 🚀' }),
            Buffer.from('gone'),
          ],
        );
        await client.query(`UPDATE "${name}" SET deleted = true WHERE task_id = $1`, [
          Buffer.from('gone'),
        ]);
      });
      const store = await PostgresTaskStore.connect({
        connectionString: requirePostgresUrl(),
        table: name,
      });
      try {
        expect(await columnsOf(name)).toEqual(COLUMNS);
        await expect(store.load('old')).resolves.toEqual({
          snapshot: { status: 'running', text: 'ü 🚀' },
          revision: 3,
          lease: null,
        });
        await expect(store.list()).resolves.toEqual(['old']);
        await expect(store.save('old', { text: '\u0000' }, { expectedRevision: 3 })).resolves.toBe(
          4,
        );
        await expect(store.save('gone', { back: true }, { expectedRevision: null })).resolves.toBe(
          3,
        );
        await store.migrate();
        await expect(store.load('old')).resolves.toEqual({
          snapshot: { text: '\u0000' },
          revision: 4,
          lease: null,
        });
      } finally {
        await store.close();
      }
    });

    it('should be safe when 8 connections run it at once on a new table, and again on the existing one', async () => {
      for (let round = 0; round < 3; round += 1) {
        const { name } = freshTable();
        tables.push(name);
        const stores = await Promise.all(
          Array.from({ length: 8 }, () =>
            PostgresTaskStore.connect({
              connectionString: requirePostgresUrl(),
              table: name,
              migrate: false,
              maxConnections: 1,
            }),
          ),
        );
        try {
          expect(await tableExists(name)).toBe(false);
          const first = await Promise.allSettled(stores.map((store) => store.migrate()));
          expect({ round, first: first.map((r) => r.status) }).toEqual({
            round,
            first: Array(8).fill('fulfilled'),
          });
          await stores[0]?.save('kept', { round }, { expectedRevision: null });
          const again = await Promise.allSettled(stores.map((store) => store.migrate()));
          expect({ round, again: again.map((r) => r.status) }).toEqual({
            round,
            again: Array(8).fill('fulfilled'),
          });
          expect(await columnsOf(name)).toEqual(COLUMNS);
          for (const store of stores) {
            await expect(store.load('kept')).resolves.toEqual({
              snapshot: { round },
              revision: 1,
              lease: null,
            });
          }
        } finally {
          await Promise.all(stores.map((store) => store.close()));
        }
      }
    });

    it('should be safe when 8 stores connect and create the same table at once', async () => {
      const { name } = freshTable();
      tables.push(name);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () =>
          PostgresTaskStore.connect({
            connectionString: requirePostgresUrl(),
            table: name,
            maxConnections: 1,
          }),
        ),
      );
      const stores = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      try {
        expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason)))).toEqual(
          Array(8).fill('ok'),
        );
        expect(await columnsOf(name)).toEqual(COLUMNS);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });
  });

  describe('hostile input', () => {
    let store: PostgresTaskStore;
    const canary = freshTable();

    beforeAll(async () => {
      tables.push(canary.name);
      await queryRows(`CREATE TABLE "${canary.name}" (x int)`);
      await queryRows(`INSERT INTO "${canary.name}" VALUES (1)`);
    });

    beforeEach(async () => {
      store = await openStore();
    });

    afterEach(async () => {
      await store.close();
    });

    /** Texts that would break out of a hand-built SQL string; each aims at the store's table and a canary. */
    const injections = (): string[] => [
      `'); DROP TABLE "${store.table}"; --`,
      `'; DROP TABLE ${store.table}; --`,
      `"); DROP TABLE "${canary.name}"; --`,
      `x' OR '1'='1`,
      `' OR 1=1 --`,
      `\\'; DELETE FROM "${store.table}"; --`,
      `\\`,
      `\\\\x00`,
      `E'\\x27'`,
      '$1',
      '$2::jsonb',
      `$$; DROP TABLE "${canary.name}"; $$`,
      `'||(SELECT pg_sleep(5))||'`,
      '%',
      '_',
      "Robert'); DROP TABLE Students;--",
      '日本語\'"\\',
      '🚀 \u2028\u2029 \uFEFF',
      'ʼ look-alike apostrophe ’',
      "''''''''",
      '\\"\\\'',
    ];

    it('should store task ids, worker ids and concerns with SQL in them verbatim and keep every table', async () => {
      const texts = injections();
      for (const [index, text] of texts.entries()) {
        const workerId = `${text} #${index}`;
        const runtime = await DurableTaskRuntime.create(
          store,
          { id: text, role: AgentRole.IMPLEMENTER },
          { maxAttempts: 3 },
        );
        const lease = await store.claim(text, workerId, { leaseMs: 60_000 });
        if (lease === null) throw new Error(`claim of ${JSON.stringify(text)} gave null`);
        expect(lease.workerId).toBe(workerId);
        runtime.lease = lease;
        await runtime.addConcern(text);
        await runtime.markRunning();
        const rows = await queryRows<{ lease_owner: string; status: string }>(
          `SELECT lease_owner, status FROM "${store.table}" WHERE task_id = $1`,
          [Buffer.from(text, 'utf8')],
        );
        expect(rows).toEqual([{ lease_owner: workerId, status: 'running' }]);
        await store.release(text, lease);
      }
      expect(await tableExists(store.table)).toBe(true);
      expect(await tableExists(canary.name)).toBe(true);
      await expect(queryRows(`SELECT x FROM "${canary.name}"`)).resolves.toEqual([{ x: 1 }]);
      expect(await store.list()).toEqual([...texts].sort());
      for (const text of texts) {
        const loaded = await DurableTaskRuntime.load(store, text);
        expect(loaded?.task.id).toBe(text);
        expect(loaded?.artifacts.concerns).toEqual([text]);
        expect(loaded?.status).toBe('running');
        expect(loaded?.revision).toBe(3);
      }
      const count = await queryRows<{ n: string }>(`SELECT count(*) AS n FROM "${store.table}"`);
      expect(count).toEqual([{ n: String(texts.length) }]);
    });

    it('should find, delete and list a task whose id is an injection without touching the others', async () => {
      const texts = injections();
      for (const text of texts) await store.save(text, { text }, { expectedRevision: null });
      const victim = texts[0] ?? '';
      await store.delete(victim, { expectedRevision: 1 });
      const rest = texts.slice(1);
      expect(await store.list()).toEqual([...rest].sort());
      for (const text of rest) {
        await expect(store.load(text)).resolves.toEqual({
          snapshot: { text },
          revision: 1,
          lease: null,
        });
      }
    });

    it('should keep a snapshot holding U+0000 verbatim, in the snapshot_json column as JSON text', async () => {
      const cases: ReadonlyArray<readonly [string, unknown]> = [
        ['in a value', { text: 'before\u0000after' }],
        ['as a whole value', { text: '\u0000' }],
        ['in a key', { 'key\u0000': 1 }],
        ['deep inside', { a: [{ b: ['x', 'y\u0000'] }] }],
      ];
      for (const [label, snapshot] of cases) {
        await store.save(label, { step: 1 }, { expectedRevision: null });
        await expect(store.save(label, snapshot, { expectedRevision: 1 })).resolves.toBe(2);
        expect({ label, stored: await store.load(label) }).toEqual({
          label,
          stored: { snapshot, revision: 2, lease: null },
        });
        const rows = await queryRows<{ snapshot_json: string }>(
          `SELECT snapshot_json FROM "${store.table}" WHERE task_id = $1`,
          [Buffer.from(label, 'utf8')],
        );
        expect(rows).toEqual([{ snapshot_json: JSON.stringify(snapshot) }]);
      }
    });

    it('should record a failure whose text holds half an emoji or U+0000 through a DurableTaskRuntime', async () => {
      const cut = 'tests failed 🙂🙂'.slice(0, 14);
      const runtime = await DurableTaskRuntime.create(store, {
        id: 'nul\u0000task',
        role: AgentRole.IMPLEMENTER,
      });
      await runtime.assignWorktree({ worktreePath: '/tmp/wt/\u0000', branchName: 'task/nul' });
      await runtime.markRunning();
      await runtime.addConcern('not\u0000fine');
      await runtime.markFailed(cut);
      expect(runtime.status).toBe('failed');
      const loaded = await DurableTaskRuntime.load(store, 'nul\u0000task');
      expect(loaded?.status).toBe('failed');
      expect(loaded?.persist()).toEqual(runtime.persist());
      expect(loaded?.artifacts.concerns).toEqual(['not\u0000fine']);
      const [row] = await queryRows<{ status: string }>(`SELECT status FROM "${store.table}"`);
      expect(row?.status).toBe('failed');
    });

    it('should throw InvalidArgumentError, not TaskStoreError, for a worker id holding U+0000', async () => {
      await store.save('a', { step: 1 }, { expectedRevision: null });
      const error = await rejectionOf(() =>
        store.claim('a', 'worker\u0000one', { leaseMs: 60_000 }),
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('workerId');
      await expect(store.claim('a', 'worker-2', { leaseMs: 60_000 })).resolves.not.toBeNull();
    });

    it('should hold task ids of MAX_TASK_ID_LENGTH characters however many bytes they take', async () => {
      const random = mulberry32(SEED);
      // Random CJK characters: 3 bytes each in UTF-8 and incompressible, so the id is 3000 bytes long.
      const cjk = (): string =>
        Array.from({ length: MAX_TASK_ID_LENGTH }, () =>
          String.fromCharCode(0x4e00 + Math.floor(random() * 0x5000)),
        ).join('');
      const ids = [cjk(), cjk(), 'z'.repeat(MAX_TASK_ID_LENGTH)];
      for (const [index, id] of ids.entries()) {
        const outcome = await store.save(id, { index }, { expectedRevision: null }).then(
          (revision) => ({ revision }),
          (error: unknown) => ({
            error: String((error as Error).message)
              .split("': ")
              .pop(),
          }),
        );
        expect({ seed: SEED, index, outcome }).toEqual({
          seed: SEED,
          index,
          outcome: { revision: 1 },
        });
        await expect(store.load(id)).resolves.toEqual({
          snapshot: { index },
          revision: 1,
          lease: null,
        });
      }
      expect(new Set(await store.list())).toEqual(new Set(ids));
    });
  });

  describe('query columns', () => {
    let store: PostgresTaskStore;

    beforeEach(async () => {
      store = await openStore();
    });

    afterEach(async () => {
      await store.close();
    });

    interface Columns {
      readonly revision: number;
      readonly status: string | null;
      readonly attempt_num: number | null;
      readonly lease_owner: string | null;
      readonly fencing_token: string;
    }

    const columns = async (taskId: string): Promise<Columns | undefined> =>
      (
        await queryRows<Columns>(
          `SELECT revision, status, attempt_num, lease_owner, fencing_token FROM "${store.table}" WHERE task_id = $1`,
          [Buffer.from(taskId, 'utf8')],
        )
      )[0];

    it('should keep status and attempt_num in step with the snapshot through the lifecycle', async () => {
      const runtime = await DurableTaskRuntime.create(
        store,
        { id: 'life', role: AgentRole.IMPLEMENTER },
        { maxAttempts: 3 },
      );
      const seen: Array<readonly [string, number | null]> = [];
      const check = async (): Promise<void> => {
        const row = await columns('life');
        expect(row).toMatchObject({
          revision: runtime.revision,
          status: runtime.status,
          attempt_num: runtime.state.attemptNum,
        });
        seen.push([row?.status ?? 'none', row?.attempt_num ?? null]);
      };
      await check();
      const lease = await store.claim('life', 'worker-1', { leaseMs: 60_000 });
      if (lease === null) throw new Error('claim gave null');
      runtime.lease = lease;
      await expect(columns('life')).resolves.toMatchObject({
        lease_owner: 'worker-1',
        fencing_token: String(lease.token),
      });
      for (const step of [
        () => runtime.markRunning(),
        () => runtime.markFailed('tests failed'),
        () => runtime.resetForRetry(),
        () => runtime.prepareForAttempt(1),
        () => runtime.markRunning(),
        () => runtime.markPrCreated('https://example.test/pull/7'),
        () => runtime.markPrMerged(),
      ]) {
        await step();
        await check();
      }
      expect(seen).toEqual([
        ['pending', 0],
        ['running', 0],
        ['failed', 0],
        ['pending', 0],
        ['pending', 1],
        ['running', 1],
        ['pr_created', 1],
        ['pr_merged', 1],
      ]);
      await store.release('life', lease);
      await expect(columns('life')).resolves.toMatchObject({ lease_owner: null });
    });

    it('should leave the columns null for a snapshot that is not a runtime, and after a delete', async () => {
      await store.save('plain', { anything: true }, { expectedRevision: null });
      await expect(columns('plain')).resolves.toMatchObject({ status: null, attempt_num: null });
      await store.save('plain', snapshotIn('plain', 'pr_created'), { expectedRevision: 1 });
      await expect(columns('plain')).resolves.toMatchObject({
        status: 'pr_created',
        attempt_num: 0,
      });
      await store.delete('plain', { expectedRevision: 2 });
      await expect(columns('plain')).resolves.toMatchObject({ status: null, attempt_num: null });
    });

    it('should let a query on the status column find the tasks in each status', async () => {
      for (const status of ['pending', 'running', 'pr_created', 'pr_merged', 'failed'] as const) {
        await store.save(`task-${status}`, snapshotIn(`task-${status}`, status), {
          expectedRevision: null,
        });
      }
      const rows = await queryRows<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM "${store.table}" GROUP BY status ORDER BY status`,
      );
      expect(rows).toEqual(
        ['failed', 'pending', 'pr_created', 'pr_merged', 'running'].map((status) => ({
          status,
          n: '1',
        })),
      );
    });
  });

  describe('several stores on one table', () => {
    it('should let exactly one of 8 stores (pools) win a claim and a save at the same revision', async () => {
      const first = await openStore();
      const stores: TaskStore[] = [first];
      try {
        for (let n = 1; n < 8; n += 1) {
          stores.push(
            await PostgresTaskStore.connect({
              connectionString: requirePostgresUrl(),
              table: first.table,
              maxConnections: 1,
            }),
          );
        }
        await first.save('shared', { by: 'creator' }, { expectedRevision: null });
        const claims = await Promise.all(
          stores.map((store, n) => store.claim('shared', `worker-${n}`, { leaseMs: 60_000 })),
        );
        const winners = claims.flatMap((lease, n) => (lease === null ? [] : [{ lease, n }]));
        expect(winners).toHaveLength(1);
        const winner = winners[0];
        if (winner === undefined) throw new Error('no claim won');
        const saves = await Promise.allSettled(
          stores.map((store, n) =>
            store.save(
              'shared',
              { by: n },
              {
                expectedRevision: 1,
                lease: { workerId: `worker-${n}`, token: winner.lease.token },
              },
            ),
          ),
        );
        expect(saves.map((r) => r.status)).toEqual(
          stores.map((_, n) => (n === winner.n ? 'fulfilled' : 'rejected')),
        );
        for (const [n, result] of saves.entries()) {
          if (n !== winner.n && result.status === 'rejected') {
            expect(result.reason).toBeInstanceOf(LeaseLostError);
            expect(result.reason).toBeInstanceOf(TaskRuntimeError);
          }
        }
        await expect(first.load('shared')).resolves.toEqual({
          snapshot: { by: winner.n },
          revision: 2,
          lease: winner.lease,
        });
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });

    it('should see the server clock, not the client one: a lease runs out after leaseMs', async () => {
      const store = await openStore();
      try {
        await store.save('a', snapshotIn('a', 'running'), { expectedRevision: null });
        const lease = await store.claim('a', 'worker-1', { leaseMs: 200 });
        if (lease === null) throw new Error('claim gave null');
        const now = await withClient(
          async (client) =>
            (await client.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]?.now,
        );
        const left = Date.parse(lease.expiresAt) - (now?.getTime() ?? 0);
        expect(left).toBeGreaterThan(0);
        expect(left).toBeLessThanOrEqual(200);
        await sleep(300);
        await expect(store.listExpired()).resolves.toEqual(['a']);
      } finally {
        await store.close();
      }
    });
  });
});
