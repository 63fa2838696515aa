import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { postgresRunNames } from '../../src/store/postgresRunSchema.js';

/*
 * What the PostgreSQL tests share: the server URL (TASK_RUNTIME_PG_URL, which `.ci/with-postgres` exports), a
 * `describe` that runs only when a server is given (and fails in CI when none is), and throw-away tables.
 */

/** How to run the PostgreSQL tests, for the messages below. */
const HOW_TO_RUN =
  'run `.ci/with-postgres npm test` (it starts a throw-away server and sets TASK_RUNTIME_PG_URL), ' +
  'or set TASK_RUNTIME_PG_URL=postgresql://user@host:port/db to use a server of your own';

/** The connection string of the test server, from TASK_RUNTIME_PG_URL; undefined when it is unset or blank. */
export function postgresUrl(): string | undefined {
  const url = process.env.TASK_RUNTIME_PG_URL;
  return url === undefined || url.trim() === '' ? undefined : url.trim();
}

/** The connection string of the test server; throws when there is none (call it inside describeWithPostgres). */
export function requirePostgresUrl(): string {
  const url = postgresUrl();
  if (url === undefined) throw new Error(`TASK_RUNTIME_PG_URL is not set: ${HOW_TO_RUN}`);
  return url;
}

/** Whether the tests run in CI, where the PostgreSQL tests must not be skipped. */
function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * `describe(name, fn)` when a PostgreSQL server is given. Without one it fails in CI (one failing test saying
 * how to run them) and is skipped elsewhere, with one visible warning and a todo in the summary.
 */
export function describeWithPostgres(name: string, fn: () => void): void {
  if (postgresUrl() !== undefined) {
    describe(name, fn);
  } else if (inCi()) {
    describe(name, () => {
      it('should run against a PostgreSQL server', () => {
        throw new Error(
          `PostgreSQL tests must run in CI, but TASK_RUNTIME_PG_URL is not set: ${HOW_TO_RUN}.`,
        );
      });
    });
  } else {
    console.warn(
      `Skipped the PostgreSQL tests of ${name}: TASK_RUNTIME_PG_URL is not set; to run them, ${HOW_TO_RUN}.`,
    );
    describe.skip(name, fn);
    // A suite of skipped tests only is not reported, warning included; a todo keeps both visible.
    describe(name, () => {
      it.todo('run the PostgreSQL tests: set TASK_RUNTIME_PG_URL (`.ci/with-postgres npm test`)');
    });
  }
}

const TABLE_NAME = /^t_[0-9a-f]{16}$/;

/** A table name no other test uses; `drop()` removes the table (also when it was never created). */
export interface FreshTable {
  readonly name: string;
  drop(): Promise<void>;
}

/** A unique table name such as `t_0f3a…` and the cleanup that drops it. */
export function freshTable(): FreshTable {
  const name = `t_${randomBytes(8).toString('hex')}`;
  return { name, drop: () => dropTables([name]) };
}

/** Drops the given tables (made by freshTable) and their shared-run tables and trigger function, when they exist. */
export async function dropTables(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  for (const name of names) {
    if (!TABLE_NAME.test(name)) throw new Error(`not a table of freshTable(): ${name}`);
  }
  const runs = names.map(postgresRunNames);
  const tables = [...names, ...runs.flatMap((run) => [run.runTasks, run.runEdges, run.runs])].map(
    (table) => `"${table}"`,
  );
  const functions = runs.map((run) => `"${run.follow}"()`);
  await withClient(async (client) => {
    // Two statements whatever the count: a suite's hundreds of tables go in one lock round.
    await client.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
    await client.query(`DROP FUNCTION IF EXISTS ${functions.join(', ')}`);
  });
}

/** Runs `work` with a connection of its own to the test server (not through a store). */
export async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: requirePostgresUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One query on a connection of its own; resolves to its rows. */
export function queryRows<Row extends pg.QueryResultRow>(
  sql: string,
  values: readonly unknown[] = [],
): Promise<Row[]> {
  return withClient(async (client) => (await client.query<Row>(sql, [...values])).rows);
}

/** Whether a table of that name exists in the test database. */
export async function tableExists(name: string): Promise<boolean> {
  const rows = await queryRows<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
    `"${name}"`,
  ]);
  return rows[0]?.found !== null && rows[0]?.found !== undefined;
}
