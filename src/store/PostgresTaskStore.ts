import { createHash } from 'node:crypto';
import type { Client, Pool, PoolClient, QueryResultRow } from 'pg';
import {
  ConflictError,
  InvalidArgumentError,
  LeaseLostError,
  SnapshotError,
  TaskStoreError,
} from '../errors.js';
import { describeValue, isNonEmptyString, isRecord } from '../validation.js';
import { PostgresReadyListener } from './postgresReadyListener.js';
import { migrateRuns, type PostgresRunNames, postgresRunNames } from './postgresRunSchema.js';
import { type PostgresRunStatement, postgresRunStatements } from './postgresRunStatements.js';
import { type PostgresStatement, postgresStatements } from './postgresStatements.js';
import { runDigest } from './runDigest.js';
import {
  type ChangedTask,
  checkRunId,
  checkRunTasks,
  isStartableSnapshot,
  type KnownRevision,
  type ReadyClaim,
  type RunTaskEntry,
  type SharedRunStore,
} from './sharedRunStore.js';
import {
  checkDeleteOptions,
  checkKnownRevisions,
  checkLeaseOptions,
  checkLeaseRef,
  checkSaveOptions,
  checkTaskId,
  checkWorkerId,
  serializeSnapshot,
} from './storeArguments.js';
import type {
  DeleteOptions,
  Lease,
  LeaseOptions,
  LeaseRef,
  SaveOptions,
  StoredTask,
  TaskStore,
} from './TaskStore.js';

/** Options of {@link PostgresTaskStore.connect}. */
export interface PostgresTaskStoreOptions {
  /** A libpq connection string, e.g. `postgresql://user@127.0.0.1:5432/db`. */
  readonly connectionString: string;
  /** The table holding the tasks (created by `migrate()`). @default 'task_runtime_tasks' */
  readonly table?: string;
  /** Run `migrate()` on connect. @default true */
  readonly migrate?: boolean;
  /** Connections in the pool. @default 10 */
  readonly maxConnections?: number;
  /**
   * Prepare each statement once per connection (a save then costs about a quarter less); false for a pooler
   * that cannot keep prepared statements, such as PgBouncer before 1.21 in transaction mode. @default true
   */
  readonly preparedStatements?: boolean;
}

interface TaskRow extends QueryResultRow {
  readonly revision: number;
  readonly deleted: boolean;
  readonly lease_owner: string | null;
  readonly fencing_token: string;
}

interface ClaimedRow extends QueryResultRow {
  readonly task_id: Buffer;
  readonly revision: number;
  readonly snapshot_json: string | null;
  readonly token: string;
  readonly expires_at: Date;
}

interface ChangedRow extends QueryResultRow {
  readonly task_id: Buffer;
  readonly revision: number;
  readonly snapshot_json: string | null;
  readonly lease_owner: string | null;
  readonly fencing_token: string;
  readonly lease_expires_at: Date | null;
}

interface LoadedRow extends QueryResultRow {
  readonly revision: number;
  readonly snapshot_json: string | null;
  readonly lease_owner: string | null;
  readonly fencing_token: string;
  readonly lease_expires_at: Date | null;
}

/** The lease a row holds, as stored (it may have run out); null when none. */
function leaseOf(row: LoadedRow | ChangedRow): Lease | null {
  if (row.lease_owner === null || row.lease_expires_at === null) return null;
  return {
    workerId: row.lease_owner,
    token: Number(row.fencing_token),
    expiresAt: row.lease_expires_at.toISOString(),
  };
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Whether `value` can name a PostgresTaskStore's table: a lower-case SQL identifier (a letter or `_`, then
 * letters, digits or `_`, at most 63 characters), such as `task_runtime_tasks`.
 */
export function isTableName(value: unknown): value is string {
  return typeof value === 'string' && TABLE_NAME.test(value);
}

const idBytes = (taskId: string): Buffer => Buffer.from(taskId, 'utf8');
/** How many task keys {@link keyOf} remembers (a run's follow asks for the same ones again and again). */
const REMEMBERED_KEYS = 65_536;
const knownKeys = new Map<string, Buffer>();

/** The row key of a task: the SHA-256 of its id's UTF-8 bytes, computed once per id while remembered. */
function keyOf(taskId: string): Buffer {
  let key = knownKeys.get(taskId);
  if (key === undefined) {
    key = createHash('sha256').update(idBytes(taskId)).digest();
    if (knownKeys.size >= REMEMBERED_KEYS) knownKeys.clear();
    knownKeys.set(taskId, key);
  }
  return key;
}
const statusOf = (snapshot: unknown): string | null =>
  isRecord(snapshot) && typeof snapshot.status === 'string' ? snapshot.status : null;
const attemptOf = (snapshot: unknown): number | null => {
  const context = isRecord(snapshot) ? snapshot.context : undefined;
  return isRecord(context) && Number.isSafeInteger(context.attemptNum)
    ? (context.attemptNum as number)
    : null;
};

/**
 * A {@link TaskStore} in PostgreSQL for several orchestrator workers on several machines: one row per task
 * (the snapshot's exact JSON text, so that every string round-trips, U+0000 and lone surrogates included, which
 * jsonb refuses; status and attempt as plain columns for queries), revisions compared and set in a single
 * `UPDATE … WHERE revision = $n`, leases with fencing tokens, lease times from the server's clock. Also a
 * {@link SharedRunStore}: a run's next ready task is claimed in one statement, and idle workers hear of new ones
 * through LISTEN/NOTIFY.
 * Needs the optional peer dependency `pg` (`npm install pg`), loaded only when you connect.
 * @example
 * const store = await PostgresTaskStore.connect({ connectionString: process.env.DATABASE_URL });
 * const lease = await store.claim('login', 'worker-1', { leaseMs: 30_000 });
 */
export class PostgresTaskStore implements TaskStore, SharedRunStore {
  /** The (unquoted) name of the table holding the tasks. */
  readonly table: string;
  readonly #pool: Pool;
  readonly #quoted: string;
  readonly #sql: ReturnType<typeof postgresStatements>;
  /** The prefix of this store's prepared statement names, or null when it prepares none. */
  readonly #statementPrefix: string | null;
  readonly #runNames: PostgresRunNames;
  readonly #runSql: ReturnType<typeof postgresRunStatements>;
  readonly #ready: PostgresReadyListener;
  #closed = false;

  private constructor(pool: Pool, table: string, prepared: boolean, connect: () => Client) {
    this.#pool = pool;
    this.table = table;
    this.#quoted = `"${table}"`;
    this.#sql = postgresStatements(this.#quoted);
    // Short and fixed in length: PostgreSQL cuts names at 63 bytes, and a table name may take all of them.
    const tableTag = createHash('sha256').update(table).digest('hex').slice(0, 12);
    this.#statementPrefix = prepared ? `task-runtime:${tableTag}:` : null;
    this.#runNames = postgresRunNames(table);
    this.#runSql = postgresRunStatements(this.#quoted, this.#runNames);
    this.#ready = new PostgresReadyListener(connect, this.#runNames.channel);
  }

  /** Connects a pool (and, unless `migrate: false`, creates the table); TaskStoreError when the server is unreachable. */
  static async connect(options: PostgresTaskStoreOptions): Promise<PostgresTaskStore> {
    if (!isRecord(options) || !isNonEmptyString(options.connectionString)) {
      const given = describeValue(isRecord(options) ? options.connectionString : options);
      throw new InvalidArgumentError('connectionString', 'a PostgreSQL connection string', given);
    }
    const table = options.table ?? 'task_runtime_tasks';
    if (!isTableName(table)) {
      throw new InvalidArgumentError(
        'table',
        'a lower-case SQL identifier such as task_runtime_tasks',
        describeValue(table),
      );
    }
    const pg = await loadDriver();
    const max = options.maxConnections ?? 10;
    if (!Number.isSafeInteger(max) || max < 1 || max > 1000) {
      throw new InvalidArgumentError(
        'maxConnections',
        'an integer from 1 to 1000',
        describeValue(max),
      );
    }
    const prepared = options.preparedStatements === undefined ? true : options.preparedStatements;
    if (typeof prepared !== 'boolean') {
      throw new InvalidArgumentError(
        'preparedStatements',
        'true or false',
        describeValue(prepared),
      );
    }
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max,
    });
    pool.on('error', () => undefined); // an idle client's connection dropped; the next query reconnects
    const connect = () => new pg.Client({ connectionString: options.connectionString });
    const store = new PostgresTaskStore(pool, table, prepared, connect);
    try {
      await pool.query('SELECT 1');
      if (options.migrate !== false) await store.migrate();
    } catch (cause) {
      await pool.end().catch(() => undefined);
      throw new TaskStoreError(
        null,
        'connect to PostgreSQL',
        `${(cause as Error).message}; check the connection string and that the server runs`,
        { cause },
      );
    }
    return store;
  }

  /**
   * Creates the table, its index and what shared runs need (see `openRun`) when missing, and upgrades a table of an
   * earlier version; safe to run any number of times, also concurrently.
   */
  async migrate(): Promise<void> {
    this.#checkOpen('migrate');
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `task-runtime:migrate:${this.table}`,
      ]);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.#quoted} (
          task_id bytea NOT NULL,
          task_key bytea GENERATED ALWAYS AS (sha256(task_id)) STORED PRIMARY KEY,
          revision integer NOT NULL CHECK (revision > 0),
          deleted boolean NOT NULL DEFAULT false,
          snapshot_json text,
          status text,
          attempt_num integer,
          startable boolean NOT NULL DEFAULT false,
          lease_owner text,
          lease_expires_at timestamptz,
          fencing_token bigint NOT NULL DEFAULT 0,
          updated_at timestamptz NOT NULL DEFAULT now()
        )`);
      await client.query(
        `CREATE INDEX IF NOT EXISTS "${this.table}_lease_expiry" ON ${this.#quoted} (lease_expires_at) WHERE lease_owner IS NOT NULL`,
      );
      await this.#moveJsonbSnapshots(client);
      await migrateRuns(client, this.table, this.#quoted, this.#runNames);
      await client.query(
        `COMMENT ON COLUMN ${this.#quoted}.task_id IS 'UTF-8 bytes of the task id: convert_from(task_id, ''UTF8'')'`,
      );
      await client.query(
        `COMMENT ON COLUMN ${this.#quoted}.snapshot_json IS 'the snapshot''s exact JSON text (JSON.stringify); U+0000 and lone surrogates appear as \\u escapes, so cast to jsonb only rows without them'`,
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Tables made by the first version kept the snapshot as jsonb: moves it to `snapshot_json` (its text) and drops
   * the jsonb column, in the migration's transaction.
   */
  async #moveJsonbSnapshots(client: PoolClient): Promise<void> {
    const { rows } = await client.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'snapshot') AS found`,
      [this.table],
    );
    if (rows[0]?.found !== true) return;
    await client.query(`ALTER TABLE ${this.#quoted} ADD COLUMN IF NOT EXISTS snapshot_json text`);
    await client.query(
      `UPDATE ${this.#quoted} SET snapshot_json = snapshot::text WHERE snapshot IS NOT NULL AND snapshot_json IS NULL`,
    );
    await client.query(`ALTER TABLE ${this.#quoted} DROP COLUMN snapshot`);
  }

  /** @inheritDoc */
  async load(taskId: string): Promise<StoredTask | null> {
    this.#checkOpen('load');
    checkTaskId(taskId);
    const { rows } = await this.#query<LoadedRow>(taskId, 'load', [keyOf(taskId)]);
    const row = rows[0];
    if (row === undefined) return null;
    const lease = leaseOf(row);
    return { snapshot: parseSnapshot(taskId, row.snapshot_json), revision: row.revision, lease };
  }

  /**
   * Stores a snapshot if the stored revision is `expectedRevision` (and `lease` is current); resolves to the new
   * revision. The snapshot is kept as its exact JSON text: every string round-trips, U+0000 included.
   */
  async save(taskId: string, snapshot: unknown, options: SaveOptions): Promise<number> {
    this.#checkOpen('save');
    checkTaskId(taskId);
    checkSaveOptions(options);
    const text = serializeSnapshot(snapshot);
    const { expectedRevision, lease, releaseLease = false } = options;
    const status = statusOf(snapshot);
    if (
      expectedRevision !== null &&
      !releaseLease &&
      (status === 'running' || status === 'pr_created')
    ) {
      // Most saves of an attempt: one that leaves the task open runs nothing of the shared runs' trigger.
      const values = [keyOf(taskId), text, status, attemptOf(snapshot), expectedRevision];
      const { rowCount } =
        lease === undefined
          ? await this.#query(taskId, 'saveInFlight', values, 'save')
          : await this.#query(
              taskId,
              'saveInFlightLeased',
              [...values, lease.workerId, lease.token],
              'save',
            );
      if (rowCount === 1) return expectedRevision + 1;
      // Refused, or the task was not open (failed, say): the full save below decides.
    }
    const row = [text, status, attemptOf(snapshot), isStartableSnapshot(snapshot)];
    if (expectedRevision === null) {
      const values = [idBytes(taskId), ...row, lease?.workerId ?? null];
      const { rows } = await this.#query<{ revision: number }>(taskId, 'create', values, 'save');
      if (rows[0] !== undefined) return rows[0].revision;
    } else {
      const { rowCount } =
        lease === undefined
          ? await this.#query(taskId, 'save', [keyOf(taskId), ...row, expectedRevision])
          : await this.#query(
              taskId,
              releaseLease ? 'saveReleasing' : 'saveLeased',
              [keyOf(taskId), ...row, expectedRevision, lease.workerId, lease.token],
              'save',
            );
      if (rowCount === 1) return expectedRevision + 1;
    }
    throw await this.#refusal(taskId, expectedRevision, lease);
  }

  /** @inheritDoc */
  async delete(taskId: string, options: DeleteOptions): Promise<void> {
    this.#checkOpen('delete');
    checkTaskId(taskId);
    checkDeleteOptions(options);
    const { rows } = await this.#query(taskId, 'delete', [keyOf(taskId), options.expectedRevision]);
    if (rows.length === 0) throw await this.#refusal(taskId, options.expectedRevision, undefined);
  }

  /** @inheritDoc */
  async list(): Promise<string[]> {
    this.#checkOpen('list');
    const { rows } = await this.#query<{ task_id: Buffer }>(null, 'list', []);
    return rows.map((row) => row.task_id.toString('utf8')).sort();
  }

  /** @inheritDoc */
  async claim(taskId: string, workerId: string, options: LeaseOptions): Promise<Lease | null> {
    this.#checkOpen('claim');
    checkTaskId(taskId);
    checkWorkerId(workerId);
    checkLeaseOptions(options);
    const { rows } = await this.#query<{ token: string; expires_at: Date }>(taskId, 'claim', [
      keyOf(taskId),
      workerId,
      options.leaseMs,
    ]);
    const row = rows[0];
    if (row !== undefined)
      return { workerId, token: Number(row.token), expiresAt: row.expires_at.toISOString() };
    const current = await this.#current(taskId);
    if (current === null || current.deleted) {
      throw new TaskStoreError(taskId, 'claim', 'it is not stored; save it first');
    }
    return null;
  }

  /** @inheritDoc */
  async renew(taskId: string, lease: LeaseRef, options: LeaseOptions): Promise<Lease> {
    this.#checkOpen('renew');
    checkTaskId(taskId);
    checkLeaseRef(lease);
    checkLeaseOptions(options);
    const { rows } = await this.#query<{ expires_at: Date }>(taskId, 'renew', [
      keyOf(taskId),
      lease.workerId,
      lease.token,
      options.leaseMs,
    ]);
    const row = rows[0];
    if (row === undefined) throw await this.#leaseLost(taskId, lease);
    return {
      workerId: lease.workerId,
      token: lease.token,
      expiresAt: row.expires_at.toISOString(),
    };
  }

  /** @inheritDoc */
  async release(taskId: string, lease: LeaseRef): Promise<void> {
    this.#checkOpen('release');
    checkTaskId(taskId);
    checkLeaseRef(lease);
    const { rows } = await this.#query(taskId, 'release', [
      keyOf(taskId),
      lease.workerId,
      lease.token,
    ]);
    if (rows.length === 0) throw await this.#leaseLost(taskId, lease);
  }

  /** @inheritDoc */
  async listExpired(): Promise<string[]> {
    this.#checkOpen('listExpired');
    const { rows } = await this.#query<{ task_id: Buffer }>(null, 'listExpired', []);
    return rows.map((row) => row.task_id.toString('utf8')).sort();
  }

  /**
   * A value that changes whenever any task is saved, created or deleted, in one cheap query: every save and delete
   * adds one to a row's revision and rows are never removed, so the sum of all revisions only grows. For watchers
   * such as `task-runtime serve`, which poll it instead of loading every task.
   */
  async changeMark(): Promise<string> {
    this.#checkOpen('changeMark');
    const { rows } = await this.#query<{ mark: string }>(null, 'changeMark', []);
    return rows[0]?.mark ?? '0';
  }

  /**
   * Registers run `runId` — its tasks in this order, and their dependencies — and creates the tasks not stored yet,
   * in one transaction; resolves with the ids it created. See {@link SharedRunStore.openRun}. The first call
   * registers the run: beside the task table, one row per run (`<table>_runs`, with a digest of the tasks and
   * dependencies that later calls must match), one per task of the run (`<table>_run_tasks`: its position, whether
   * it is startable, how many of its dependencies are not merged) and one per dependency (`<table>_run_edges`).
   */
  async openRun(runId: string, tasks: readonly RunTaskEntry[]): Promise<string[]> {
    this.#checkOpen('openRun');
    checkRunId(runId);
    checkRunTasks(tasks);
    const texts = tasks.map((entry, index) => snapshotText(entry.snapshot, index));
    const keys = tasks.map((entry) => keyOf(entry.taskId));
    const keyOfId = new Map(tasks.map((entry, index) => [entry.taskId, keys[index] as Buffer]));
    const edgeTasks: Buffer[] = [];
    const edgeDependencies: Buffer[] = [];
    tasks.forEach((entry, index) => {
      for (const dependency of entry.dependencies) {
        edgeTasks.push(keys[index] as Buffer);
        edgeDependencies.push(keyOfId.get(dependency) as Buffer);
      }
    });
    const client = await this.#client('openRun');
    try {
      await client.query('BEGIN');
      const digest = runDigest(tasks);
      const registered = await this.#runQuery<{ run_id: string }>(client, 'registerRun', [
        runId,
        digest,
        tasks.length,
      ]);
      const registering = registered.rows.length === 1;
      if (!registering) await this.#checkRunShape(client, runId, digest, tasks.length);
      const stored = await this.#runQuery<{ task_key: Buffer }>(client, 'storedKeys', [keys]);
      const storedKeys = new Set(stored.rows.map((row) => row.task_key.toString('hex')));
      const missing = keys.flatMap((key, index) =>
        storedKeys.has(key.toString('hex')) ? [] : [index],
      );
      let created: string[] = [];
      if (missing.length > 0) {
        const snapshots = missing.map((index) => tasks[index]?.snapshot);
        const { rows } = await this.#runQuery<{ task_id: Buffer }>(client, 'createTasks', [
          missing.map((index) => idBytes(tasks[index]?.taskId ?? '')),
          missing.map((index) => texts[index]),
          snapshots.map(statusOf),
          snapshots.map(attemptOf),
          snapshots.map(isStartableSnapshot),
        ]);
        const createdIds = new Set(rows.map((row) => row.task_id.toString('utf8')));
        created = tasks
          .filter((entry) => createdIds.has(entry.taskId))
          .map((entry) => entry.taskId);
      }
      if (registering) {
        await this.#runQuery(client, 'lockTasks', [keys]);
        await this.#runQuery(client, 'addEdges', [runId, edgeTasks, edgeDependencies]);
        await this.#runQuery(client, 'addTasks', [runId, keys, edgeTasks, edgeDependencies]);
      }
      await client.query('COMMIT');
      return created;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (error instanceof InvalidArgumentError || error instanceof TaskStoreError) throw error;
      throw new TaskStoreError(null, 'openRun', (error as Error).message, { cause: error });
    } finally {
      client.release();
    }
  }

  /**
   * Claims the first ready task of run `runId` for `workerId` (see {@link SharedRunStore.claimReady}), in one
   * statement: a CTE picks it from the partial index of the run's ready tasks with `FOR UPDATE SKIP LOCKED`, and
   * `UPDATE … RETURNING` takes its lease and returns it as stored. Null when none is ready.
   */
  async claimReady(
    runId: string,
    workerId: string,
    options: LeaseOptions,
  ): Promise<ReadyClaim | null> {
    this.#checkOpen('claimReady');
    checkRunId(runId);
    checkWorkerId(workerId);
    checkLeaseOptions(options);
    let result: { rows: ClaimedRow[] };
    try {
      result = await this.#pool.query<ClaimedRow>(
        this.#runStatement('claimReady', [runId, workerId, options.leaseMs]),
      );
    } catch (cause) {
      throw new TaskStoreError(null, 'claimReady', (cause as Error).message, { cause });
    }
    const row = result.rows[0];
    if (row === undefined) return null;
    const taskId = row.task_id.toString('utf8');
    const lease = { workerId, token: Number(row.token), expiresAt: row.expires_at.toISOString() };
    const snapshot = parseSnapshot(taskId, row.snapshot_json);
    return { taskId, lease, stored: { snapshot, revision: row.revision, lease } };
  }

  /**
   * Calls `listener` when a task of run `runId` may have become ready (see {@link SharedRunStore.listenReady}):
   * the trigger that counts merged dependencies sends a NOTIFY on `<table>_ready` with the run id, only when a
   * task became ready. One LISTEN connection per store, apart from the pool, connected again when lost.
   */
  async listenReady(runId: string, listener: () => void): Promise<() => Promise<void>> {
    this.#checkOpen('listenReady');
    checkRunId(runId);
    if (typeof listener !== 'function') {
      throw new InvalidArgumentError('listener', 'a function', describeValue(listener));
    }
    return this.#ready.add(runId, listener);
  }

  /**
   * What changed among `known` (see {@link SharedRunStore.loadChanged}), in one statement: the rows whose revision
   * differs, with their JSON, and the leased ones, without it when their revision is the same.
   */
  async loadChanged(known: readonly KnownRevision[]): Promise<ChangedTask[]> {
    this.#checkOpen('loadChanged');
    checkKnownRevisions(known);
    let result: { rows: ChangedRow[] };
    try {
      result = await this.#pool.query<ChangedRow>(
        this.#runStatement('loadChanged', [
          known.map((entry) => keyOf(entry.taskId)),
          known.map((entry) => entry.revision),
        ]),
      );
    } catch (cause) {
      throw new TaskStoreError(null, 'loadChanged', (cause as Error).message, { cause });
    }
    return result.rows.map((row) => {
      const taskId = row.task_id.toString('utf8');
      const lease = leaseOf(row);
      const stored =
        row.snapshot_json === null
          ? null
          : { snapshot: parseSnapshot(taskId, row.snapshot_json), revision: row.revision, lease };
      return { taskId, lease, stored };
    });
  }

  /** @inheritDoc */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ready.close();
    await this.#pool.end();
  }

  /** A connection of the pool for a transaction; TaskStoreError naming `operation` when none can be made. */
  async #client(operation: string): Promise<PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (cause) {
      throw new TaskStoreError(null, operation, (cause as Error).message, { cause });
    }
  }

  /** One of the run statements as a query, prepared once per connection unless that is turned off. */
  #runStatement(statement: PostgresRunStatement, values: readonly unknown[]) {
    const name =
      this.#statementPrefix === null ? undefined : `${this.#statementPrefix}run:${statement}`;
    return { name, text: this.#runSql[statement], values: values as unknown[] };
  }

  #runQuery<Row extends QueryResultRow>(
    client: PoolClient,
    statement: PostgresRunStatement,
    values: readonly unknown[],
  ): Promise<{ rows: Row[] }> {
    return client.query<Row>(this.#runStatement(statement, values));
  }

  /** Refuses to open run `runId` with tasks other than those it was registered with. */
  async #checkRunShape(
    client: PoolClient,
    runId: string,
    digest: Buffer,
    taskCount: number,
  ): Promise<void> {
    const { rows } = await this.#runQuery<{ graph_sha256: Buffer; task_count: number }>(
      client,
      'runShape',
      [runId],
    );
    const row = rows[0];
    if (row?.graph_sha256.equals(digest)) return;
    throw new InvalidArgumentError(
      'runId',
      'the id of this run: it names a run registered with other tasks or dependencies; give this graph an id of its own',
      `${describeValue(runId)}, registered with ${row?.task_count ?? 0} tasks of another shape (${taskCount} given)`,
    );
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new TaskStoreError(null, operation, 'the store was closed; connect again');
  }

  /**
   * Runs one of the store's statements, prepared once per connection unless that is turned off; a failure is a
   * TaskStoreError naming the task and the operation (the statement's name unless given).
   */
  async #query<Row extends QueryResultRow>(
    taskId: string | null,
    statement: PostgresStatement,
    values: readonly unknown[],
    operation: string = statement,
  ): Promise<{ rows: Row[]; rowCount: number | null }> {
    const text = this.#sql[statement];
    const name =
      this.#statementPrefix === null ? undefined : `${this.#statementPrefix}${statement}`;
    try {
      return await this.#pool.query<Row>({ name, text, values: values as unknown[] });
    } catch (cause) {
      throw new TaskStoreError(taskId, operation, (cause as Error).message, { cause });
    }
  }

  async #current(taskId: string): Promise<TaskRow | null> {
    const { rows } = await this.#query<TaskRow>(taskId, 'current', [keyOf(taskId)], 'read');
    return rows[0] ?? null;
  }

  /** Why a conditional write matched no row: the lease was lost, or the revision was not the expected one. */
  async #refusal(
    taskId: string,
    expected: number | null,
    lease: LeaseRef | undefined,
  ): Promise<Error> {
    const row = await this.#current(taskId);
    const live = row !== null && !row.deleted;
    if (
      lease !== undefined &&
      !(live && row.lease_owner === lease.workerId && Number(row.fencing_token) === lease.token)
    ) {
      return new LeaseLostError(
        taskId,
        lease.workerId,
        lease.token,
        row === null ? null : Number(row.fencing_token),
      );
    }
    return new ConflictError(taskId, expected, live ? row.revision : null);
  }

  async #leaseLost(taskId: string, lease: LeaseRef): Promise<LeaseLostError> {
    const row = await this.#current(taskId);
    return new LeaseLostError(
      taskId,
      lease.workerId,
      lease.token,
      row === null ? null : Number(row.fencing_token),
    );
  }
}

/** The JSON text of the snapshot of `tasks[index]` in `openRun`; InvalidArgumentError naming it otherwise. */
function snapshotText(snapshot: unknown, index: number): string {
  try {
    return serializeSnapshot(snapshot);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    throw new InvalidArgumentError(`tasks[${index}].snapshot`, error.expected, error.received);
  }
}

/** The snapshot of a row; SnapshotError when its text is not JSON (a row edited by hand, say). */
function parseSnapshot(taskId: string, text: string | null): unknown {
  try {
    if (text === null) throw new Error('no snapshot');
    return JSON.parse(text);
  } catch {
    throw new SnapshotError('', 'is not valid JSON in the snapshot_json column', taskId);
  }
}

async function loadDriver(): Promise<typeof import('pg')> {
  try {
    const driver = (await import('pg')) as typeof import('pg') & { default?: typeof import('pg') };
    return driver.default ?? driver;
  } catch (cause) {
    throw new TaskStoreError(
      null,
      'use PostgresTaskStore',
      "the optional peer dependency 'pg' is not installed; run `npm install pg`",
      { cause },
    );
  }
}
