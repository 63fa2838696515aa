import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { isStartableSnapshot } from './sharedRunStore.js';

/** The longest identifier PostgreSQL keeps (NAMEDATALEN - 1); longer ones are cut, and would collide. */
const MAX_IDENTIFIER = 63;

/**
 * The name of an object belonging to the task table `table`: `<table><suffix>`, or, when that is longer than
 * PostgreSQL keeps, the table's name cut short with 8 hex digits of its SHA-256 before the suffix.
 */
function derivedName(table: string, suffix: string): string {
  const name = `${table}${suffix}`;
  if (name.length <= MAX_IDENTIFIER) return name;
  const hash = createHash('sha256').update(table).digest('hex').slice(0, 8);
  return `${table.slice(0, MAX_IDENTIFIER - suffix.length - 9)}_${hash}${suffix}`;
}

/** The names (unquoted; each a lower-case identifier) of what shared runs keep beside the task table `table`. */
export interface PostgresRunNames {
  /** One row per run: its id and the SHA-256 of its tasks and dependencies. */
  readonly runs: string;
  /** One row per task of a run: its position, whether it is startable, and how many dependencies are unmerged. */
  readonly runTasks: string;
  /** One row per dependency of a task of a run, keyed by the dependency first (who waits for this task?). */
  readonly runEdges: string;
  /** The partial index of the ready tasks of each run, in their order. */
  readonly readyIndex: string;
  /** The index of a task's rows in every run it belongs to. */
  readonly taskIndex: string;
  /** The trigger function that keeps the run tables in step with the task table and sends the hints. */
  readonly follow: string;
  /** The NOTIFY channel of the hints; the payload is the run id. */
  readonly channel: string;
}

/** The names of the run tables of the task table `table` (see {@link PostgresRunNames}). */
export function postgresRunNames(table: string): PostgresRunNames {
  return {
    runs: derivedName(table, '_runs'),
    runTasks: derivedName(table, '_run_tasks'),
    runEdges: derivedName(table, '_run_edges'),
    readyIndex: derivedName(table, '_run_ready'),
    taskIndex: derivedName(table, '_run_task'),
    follow: derivedName(table, '_run_follow'),
    channel: derivedName(table, '_ready'),
  };
}

/**
 * The statements that create the run tables, their indexes, and the function that the triggers on the task table
 * run to keep them in step ({@link runTriggers}), in the transaction of `migrate()`; safe to run again. The triggers fire only when a task's
 * `startable` changes or it becomes or stops being pr_merged, so that most saves (and every claim and renewal) do
 * not run them. A merge lowers its dependents' `unmerged` in the merge's own transaction, and a NOTIFY is sent only
 * when a task of a run became ready by it (NOTIFY serialises the commits that send one; identical ones of one
 * transaction are sent once).
 */
export function runSchemaStatements(names: PostgresRunNames): string[] {
  const q = (name: string) => `"${name}"`;
  const merged = (row: 'OLD' | 'NEW') => `coalesce(${row}.status = 'pr_merged', false)`;
  const channel = `'${names.channel}'`;
  return [
    `CREATE TABLE IF NOT EXISTS ${q(names.runs)} (
      run_id text PRIMARY KEY,
      graph_sha256 bytea NOT NULL,
      task_count integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE IF NOT EXISTS ${q(names.runTasks)} (
      run_id text NOT NULL,
      task_key bytea NOT NULL,
      position integer NOT NULL,
      unmerged integer NOT NULL CHECK (unmerged >= 0),
      startable boolean NOT NULL,
      PRIMARY KEY (run_id, task_key)
    )`,
    `CREATE INDEX IF NOT EXISTS ${q(names.readyIndex)} ON ${q(names.runTasks)} (run_id, position)
      WHERE unmerged = 0 AND startable`,
    `CREATE INDEX IF NOT EXISTS ${q(names.taskIndex)} ON ${q(names.runTasks)} (task_key)`,
    `CREATE TABLE IF NOT EXISTS ${q(names.runEdges)} (
      dependency_key bytea NOT NULL,
      run_id text NOT NULL,
      task_key bytea NOT NULL,
      PRIMARY KEY (dependency_key, run_id, task_key)
    )`,
    `CREATE OR REPLACE FUNCTION ${q(names.follow)}() RETURNS trigger LANGUAGE plpgsql AS $follow$
    DECLARE
      was_merged boolean := false;
      was_startable boolean := false;
      is_merged boolean := ${merged('NEW')};
      ready_run text;
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        was_merged := ${merged('OLD')};
        was_startable := OLD.startable;
      END IF;
      -- Every transaction locks a task's rows of the runs in (run_id, task_key) order, so that two merges with
      -- dependents in common cannot deadlock.
      IF NEW.startable <> was_startable THEN
        PERFORM 1 FROM ${q(names.runTasks)} r WHERE r.task_key = NEW.task_key ORDER BY r.run_id FOR UPDATE;
        FOR ready_run IN
          UPDATE ${q(names.runTasks)} r SET startable = NEW.startable WHERE r.task_key = NEW.task_key
          RETURNING CASE WHEN r.startable AND r.unmerged = 0 THEN r.run_id END
        LOOP
          IF ready_run IS NOT NULL THEN PERFORM pg_notify(${channel}, ready_run); END IF;
        END LOOP;
      END IF;
      IF is_merged <> was_merged THEN
        PERFORM 1 FROM ${q(names.runTasks)} r JOIN ${q(names.runEdges)} e ON r.run_id = e.run_id AND r.task_key = e.task_key
        WHERE e.dependency_key = NEW.task_key ORDER BY r.run_id, r.task_key FOR UPDATE OF r;
        FOR ready_run IN
          WITH changed AS (
            UPDATE ${q(names.runTasks)} r SET unmerged = r.unmerged + CASE WHEN is_merged THEN -1 ELSE 1 END
            FROM ${q(names.runEdges)} e
            WHERE e.dependency_key = NEW.task_key AND r.run_id = e.run_id AND r.task_key = e.task_key
            RETURNING r.run_id, r.unmerged, r.startable
          )
          SELECT DISTINCT run_id FROM changed WHERE unmerged = 0 AND startable
        LOOP
          PERFORM pg_notify(${channel}, ready_run);
        END LOOP;
      END IF;
      RETURN NULL;
    END
    $follow$`,
  ];
}

/** The triggers on the task table, by name, with the statement that creates each (see {@link runSchemaStatements}). */
export function runTriggers(quoted: string, names: PostgresRunNames): ReadonlyMap<string, string> {
  const merged = (row: 'OLD' | 'NEW') => `coalesce(${row}.status = 'pr_merged', false)`;
  const run = `EXECUTE FUNCTION "${names.follow}"()`;
  return new Map([
    [
      'task_runtime_runs_insert',
      `CREATE TRIGGER task_runtime_runs_insert AFTER INSERT ON ${quoted} FOR EACH ROW
        WHEN (NEW.startable OR ${merged('NEW')}) ${run}`,
    ],
    [
      'task_runtime_runs_update',
      `CREATE TRIGGER task_runtime_runs_update AFTER UPDATE OF status, startable ON ${quoted} FOR EACH ROW
        WHEN (OLD.startable <> NEW.startable OR ${merged('OLD')} <> ${merged('NEW')}) ${run}`,
    ],
  ]);
}

/**
 * Brings the task table `quoted` (unquoted name `table`) and its run tables to this version, in the transaction of
 * `client` (which holds the migration lock): the `startable` column (filled from each pending row's snapshot when
 * it is new), the run tables, and the triggers, created only when missing (creating one locks the table).
 */
export async function migrateRuns(
  client: PoolClient,
  table: string,
  quoted: string,
  names: PostgresRunNames,
): Promise<void> {
  const { rows } = await client.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'startable') AS found`,
    [table],
  );
  if (rows[0]?.found !== true) {
    await client.query(
      `ALTER TABLE ${quoted} ADD COLUMN IF NOT EXISTS startable boolean NOT NULL DEFAULT false`,
    );
    await fillStartable(client, quoted);
  }
  for (const statement of runSchemaStatements(names)) await client.query(statement);
  const existing = await client.query<{ tgname: string }>(
    'SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal',
    [quoted],
  );
  const present = new Set(existing.rows.map((row) => row.tgname));
  for (const [name, statement] of runTriggers(quoted, names)) {
    if (!present.has(name)) await client.query(statement);
  }
  await client.query(
    `COMMENT ON COLUMN ${quoted}.startable IS 'pending, and the current attempt not in the ledger: START would be accepted'`,
  );
}

/** Sets `startable` of the pending rows of a table that had no such column, from their snapshots. */
async function fillStartable(client: PoolClient, quoted: string): Promise<void> {
  const { rows } = await client.query<{ task_key: Buffer; snapshot_json: string | null }>(
    `SELECT task_key, snapshot_json FROM ${quoted} WHERE status = 'pending' AND NOT deleted`,
  );
  const keys = rows
    .filter((row) => {
      try {
        return isStartableSnapshot(JSON.parse(row.snapshot_json ?? 'null'));
      } catch {
        return false; // a row edited by hand: its loads fail too
      }
    })
    .map((row) => row.task_key);
  if (keys.length > 0) {
    await client.query(`UPDATE ${quoted} SET startable = true WHERE task_key = ANY($1::bytea[])`, [
      keys,
    ]);
  }
}
