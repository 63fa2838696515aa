import { openSql, type PostgresRunNames } from './postgresRunSchema.js';

/**
 * The SQL of shared runs on the task table `quoted` and its run tables (see {@link PostgresRunNames}), one
 * statement per step, each prepared once per connection under its key like {@link postgresStatements}'. Every value
 * is a parameter; task keys are SHA-256 digests computed by the client. `openRun` runs the first six in one
 * transaction; `claimReady` is one statement of its own.
 */
export function postgresRunStatements(quoted: string, names: PostgresRunNames) {
  const runs = `"${names.runs}"`;
  const runTasks = `"${names.runTasks}"`;
  const runEdges = `"${names.runEdges}"`;
  return {
    /**
     * Registers run `$1` with the digest `$2` of its `$3` tasks; a row back means this transaction registers it
     * (a concurrent registration of the same run makes it wait until that one commits, then return nothing).
     */
    registerRun: `INSERT INTO ${runs} (run_id, graph_sha256, task_count) VALUES ($1, $2, $3)
      ON CONFLICT (run_id) DO NOTHING RETURNING run_id`,
    /** The digest and size run `$1` was registered with. */
    runShape: `SELECT graph_sha256, task_count FROM ${runs} WHERE run_id = $1`,
    /** Which of the keys `$1` are stored (tombstones are not). */
    storedKeys: `SELECT task_key FROM ${quoted} WHERE task_key = ANY($1::bytea[]) AND NOT deleted`,
    /**
     * Creates the tasks (ids `$1`, snapshots `$2`, statuses `$3`, attempts `$4`, startable `$5`) not stored yet, in
     * the order of their keys (so that concurrent callers lock rows in one order), and returns the ids it created.
     */
    createTasks: `INSERT INTO ${quoted} AS t (task_id, revision, snapshot_json, status, attempt_num, startable)
        SELECT id, 1, json, status, attempt, startable
        FROM unnest($1::bytea[], $2::text[], $3::text[], $4::integer[], $5::boolean[]) AS n(id, json, status, attempt, startable)
        ORDER BY sha256(id)
      ON CONFLICT (task_key) DO UPDATE SET revision = t.revision + 1, deleted = false,
        snapshot_json = EXCLUDED.snapshot_json, status = EXCLUDED.status, attempt_num = EXCLUDED.attempt_num,
        startable = EXCLUDED.startable, updated_at = now()
      WHERE t.deleted
      RETURNING task_id`,
    /**
     * Locks the run's tasks `$1` (sorted) against changes until the registration commits: a merge or a start that
     * committed before is counted below, one that comes after waits and then finds the run's rows to update.
     */
    lockTasks: `SELECT 1 FROM ${quoted} WHERE task_key = ANY($1::bytea[]) ORDER BY task_key FOR SHARE`,
    /** The edges of run `$1`: task `$2[i]` depends on task `$3[i]`. */
    addEdges: `INSERT INTO ${runEdges} (dependency_key, run_id, task_key)
        SELECT dependency, $1, task FROM unnest($2::bytea[], $3::bytea[]) AS e(task, dependency)
      ON CONFLICT DO NOTHING`,
    /**
     * The tasks `$2` of run `$1` in their order, each open or not as stored, with its dependencies (the edges `$3[i]`
     * on `$4[i]`) not pr_merged counted; sends the hint when one of them is ready.
     */
    addTasks: `WITH unmerged AS (
        SELECT e.task, count(*) AS n FROM unnest($3::bytea[], $4::bytea[]) AS e(task, dependency)
          LEFT JOIN ${quoted} d ON d.task_key = e.dependency
        WHERE d.status IS DISTINCT FROM 'pr_merged'
        GROUP BY e.task
      ), added AS (
        INSERT INTO ${runTasks} (run_id, task_key, position, unmerged, open)
          SELECT $1, k.key, k.position - 1, coalesce(u.n, 0), ${openSql('t')}
          FROM unnest($2::bytea[]) WITH ORDINALITY AS k(key, position)
            JOIN ${quoted} t ON t.task_key = k.key
            LEFT JOIN unmerged u ON u.task = k.key
        ON CONFLICT DO NOTHING
        RETURNING task_key, unmerged, open
      )
      SELECT pg_notify('${names.channel}', $1) FROM added a JOIN ${quoted} t ON t.task_key = a.task_key
      WHERE a.unmerged = 0 AND a.open AND t.startable LIMIT 1`,
    /**
     * Claims the first ready task of run `$1` (in its order) for worker `$2` for `$3` ms: the ready index gives the
     * candidates, the task's own row decides (pending and startable, no live lease), and a row another claimer has
     * locked is skipped, not waited for.
     */
    claimReady: `WITH candidate AS (
        SELECT t.task_key FROM ${runTasks} r JOIN ${quoted} t ON t.task_key = r.task_key
        WHERE r.run_id = $1 AND r.unmerged = 0 AND r.open
          AND t.startable AND NOT t.deleted AND t.status = 'pending'
          AND (t.lease_owner IS NULL OR t.lease_expires_at <= clock_timestamp())
        ORDER BY r.position
        LIMIT 1
        FOR UPDATE OF t SKIP LOCKED
      )
      UPDATE ${quoted} t SET fencing_token = t.fencing_token + 1, lease_owner = $2,
        lease_expires_at = clock_timestamp() + make_interval(secs => $3::double precision / 1000)
      FROM candidate c WHERE t.task_key = c.task_key
      RETURNING t.task_id, t.revision, t.snapshot_json, t.fencing_token AS token, t.lease_expires_at AS expires_at`,
    /**
     * Of the tasks with keys `$1` last seen at revisions `$2`: those stored at another revision (with their JSON)
     * or holding a lease (without it, when the revision is the same).
     */
    loadChanged: `SELECT t.task_id, t.revision, t.lease_owner, t.fencing_token, t.lease_expires_at,
        CASE WHEN t.revision <> k.revision THEN t.snapshot_json END AS snapshot_json
      FROM unnest($1::bytea[], $2::integer[]) AS k(key, revision)
        JOIN ${quoted} t ON t.task_key = k.key
      WHERE NOT t.deleted AND (t.revision <> k.revision OR t.lease_owner IS NOT NULL)`,
  } as const;
}

/** The name of one statement of {@link postgresRunStatements}. */
export type PostgresRunStatement = keyof ReturnType<typeof postgresRunStatements>;
