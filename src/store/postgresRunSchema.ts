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

/** SQL: whether the task row `row` is pr_merged. */
const mergedSql = (row: 'OLD' | 'NEW' | 't') => `coalesce(${row}.status = 'pr_merged', false)`;
/** SQL: whether the task row `row` is open: stored, and neither pr_merged nor failed (it may still be claimed). */
export const openSql = (row: 'OLD' | 'NEW' | 't') =>
  `coalesce(${row}.status NOT IN ('pr_merged', 'failed'), false)`;

/**
 * The statements that create the run tables, their indexes, and the function that the trigger on the task table
 * `quoted` runs to keep them in step ({@link runTrigger}), in the transaction of `migrate()`; safe to run again.
 *
 * A task of a run is *ready* when its row in `<table>_run_tasks` is open with no unmerged dependency and its own row
 * in the task table is startable with no live lease; the partial index holds the open rows without unmerged
 * dependencies, so that finished tasks leave it and a claim never walks past them. The trigger fires only when a
 * task opens or closes (becomes or stops being pr_merged or failed) or becomes startable; a claim, a renewal, a
 * start and a PR do not even evaluate its condition. A merge lowers its dependents' `unmerged` in the merge's own transaction; a NOTIFY
 * is sent only when a task of a run became ready (a NOTIFY serialises the commits that send one; identical ones of
 * one transaction are sent once). A merge changes its dependents' rows one by one in (run_id, task_key) order, so
 * that two merges with dependents in common cannot deadlock.
 */
export function runSchemaStatements(quoted: string, names: PostgresRunNames): string[] {
  const q = (name: string) => `"${name}"`;
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
      open boolean NOT NULL,
      PRIMARY KEY (run_id, task_key)
    )`,
    `CREATE INDEX IF NOT EXISTS ${q(names.readyIndex)} ON ${q(names.runTasks)} (run_id, position)
      WHERE unmerged = 0 AND open`,
    `CREATE INDEX IF NOT EXISTS ${q(names.taskIndex)} ON ${q(names.runTasks)} (task_key)`,
    `CREATE TABLE IF NOT EXISTS ${q(names.runEdges)} (
      dependency_key bytea NOT NULL,
      run_id text NOT NULL,
      task_key bytea NOT NULL,
      PRIMARY KEY (dependency_key, run_id, task_key)
    )`,
    `CREATE OR REPLACE FUNCTION ${q(names.follow)}() RETURNS trigger LANGUAGE plpgsql AS $follow$
    DECLARE
      was_open boolean := ${openSql('OLD')};
      is_open boolean := ${openSql('NEW')};
      was_merged boolean := ${mergedSql('OLD')};
      is_merged boolean := ${mergedSql('NEW')};
      member record;
      ready boolean;
      hinted text;
    BEGIN
      IF is_open <> was_open THEN
        UPDATE ${q(names.runTasks)} SET open = is_open WHERE task_key = NEW.task_key;
      END IF;
      IF is_merged <> was_merged THEN
        -- One dependent at a time, by its primary key, in (run_id, task_key) order: a plan that stays an index
        -- lookup however many runs the table holds, and locks that two merges take in the same order.
        FOR member IN
          SELECT run_id, task_key FROM ${q(names.runEdges)} WHERE dependency_key = NEW.task_key
          ORDER BY run_id, task_key
        LOOP
          UPDATE ${q(names.runTasks)} r SET unmerged = r.unmerged + CASE WHEN is_merged THEN -1 ELSE 1 END
          WHERE r.run_id = member.run_id AND r.task_key = member.task_key
          RETURNING r.unmerged = 0 AND r.open INTO ready;
          IF ready AND member.run_id IS DISTINCT FROM hinted
            AND EXISTS (SELECT 1 FROM ${quoted} WHERE task_key = member.task_key AND startable) THEN
            PERFORM pg_notify(${channel}, member.run_id);
            hinted := member.run_id;
          END IF;
        END LOOP;
      END IF;
      IF NEW.startable AND NOT OLD.startable THEN
        -- FOR SHARE waits for a merge of a dependency that is committing, then reads its count.
        FOR member IN
          SELECT run_id FROM ${q(names.runTasks)} WHERE task_key = NEW.task_key AND unmerged = 0 AND open FOR SHARE
        LOOP
          PERFORM pg_notify(${channel}, member.run_id);
        END LOOP;
      END IF;
      RETURN NULL;
    END
    $follow$`,
  ];
}

/** The name of the trigger on the task table. */
export const RUN_TRIGGER = 'task_runtime_runs';

/**
 * The statement that creates the trigger on the task table `quoted` (see {@link runSchemaStatements}). Rows are never
 * removed from the task table (a delete leaves a tombstone, which an UPDATE makes), so an INSERT is a task in no run
 * yet, and only UPDATEs need it. It watches the updates that set `startable`: every save but that of a task in flight
 * over an open one (`saveInFlight`, which can neither open, close nor ready a task), every delete, and the creation
 * that replaces a tombstone.
 */
export function runTrigger(quoted: string, names: PostgresRunNames): string {
  return `CREATE TRIGGER ${RUN_TRIGGER} AFTER UPDATE OF startable ON ${quoted} FOR EACH ROW
    WHEN (${openSql('OLD')} <> ${openSql('NEW')} OR ${mergedSql('OLD')} <> ${mergedSql('NEW')}
      OR (NEW.startable AND NOT OLD.startable))
    EXECUTE FUNCTION "${names.follow}"()`;
}

/**
 * Brings the task table `quoted` (unquoted name `table`) and its run tables to this version, in the transaction of
 * `client` (which holds the migration lock): the `startable` column (filled from each pending row's snapshot when
 * it is new), the run tables, and the trigger, created only when missing (creating it locks the table).
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
  for (const statement of runSchemaStatements(quoted, names)) await client.query(statement);
  const { rows: triggers } = await client.query<{ found: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = $2) AS found',
    [quoted, RUN_TRIGGER],
  );
  if (triggers[0]?.found !== true) await client.query(runTrigger(quoted, names));
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
