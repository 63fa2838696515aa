import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import {
  ConflictError,
  InvalidArgumentError,
  LeaseLostError,
  SnapshotError,
  TaskStoreError,
} from '../errors.js';
import { describeValue, isNonEmptyString, isRecord } from '../validation.js';
import { type PostgresStatement, postgresStatements } from './postgresStatements.js';
import {
  checkDeleteOptions,
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

interface LoadedRow extends QueryResultRow {
  readonly revision: number;
  readonly snapshot_json: string | null;
  readonly lease_owner: string | null;
  readonly fencing_token: string;
  readonly lease_expires_at: Date | null;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const idBytes = (taskId: string): Buffer => Buffer.from(taskId, 'utf8');
/** The primary key of a task's row: the SHA-256 of its id's UTF-8 bytes, as the generated `task_key` column. */
const keyOf = (taskId: string): Buffer => createHash('sha256').update(idBytes(taskId)).digest();
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
 * `UPDATE … WHERE revision = $n`, leases with fencing tokens, lease times from the server's clock.
 * Needs the optional peer dependency `pg` (`npm install pg`), loaded only when you connect.
 * @example
 * const store = await PostgresTaskStore.connect({ connectionString: process.env.DATABASE_URL });
 * const lease = await store.claim('login', 'worker-1', { leaseMs: 30_000 });
 */
export class PostgresTaskStore implements TaskStore {
  /** The (unquoted) name of the table holding the tasks. */
  readonly table: string;
  readonly #pool: Pool;
  readonly #quoted: string;
  readonly #sql: ReturnType<typeof postgresStatements>;
  /** The prefix of this store's prepared statement names, or null when it prepares none. */
  readonly #statementPrefix: string | null;
  #closed = false;

  private constructor(pool: Pool, table: string, prepared: boolean) {
    this.#pool = pool;
    this.table = table;
    this.#quoted = `"${table}"`;
    this.#sql = postgresStatements(this.#quoted);
    this.#statementPrefix = prepared ? `task-runtime:${table}:` : null;
  }

  /** Connects a pool (and, unless `migrate: false`, creates the table); TaskStoreError when the server is unreachable. */
  static async connect(options: PostgresTaskStoreOptions): Promise<PostgresTaskStore> {
    if (!isRecord(options) || !isNonEmptyString(options.connectionString)) {
      const given = describeValue(isRecord(options) ? options.connectionString : options);
      throw new InvalidArgumentError('connectionString', 'a PostgreSQL connection string', given);
    }
    const table = options.table ?? 'task_runtime_tasks';
    if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
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
    const store = new PostgresTaskStore(pool, table, prepared);
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

  /** Creates the table and its index when missing; safe to run any number of times, also concurrently. */
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
          lease_owner text,
          lease_expires_at timestamptz,
          fencing_token bigint NOT NULL DEFAULT 0,
          updated_at timestamptz NOT NULL DEFAULT now()
        )`);
      await client.query(
        `CREATE INDEX IF NOT EXISTS "${this.table}_lease_expiry" ON ${this.#quoted} (lease_expires_at) WHERE lease_owner IS NOT NULL`,
      );
      await this.#moveJsonbSnapshots(client);
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
    const lease =
      row.lease_owner === null || row.lease_expires_at === null
        ? null
        : {
            workerId: row.lease_owner,
            token: Number(row.fencing_token),
            expiresAt: row.lease_expires_at.toISOString(),
          };
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
    const { expectedRevision, lease } = options;
    const row = [text, statusOf(snapshot), attemptOf(snapshot)];
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
              'saveLeased',
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

  /** @inheritDoc */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
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
