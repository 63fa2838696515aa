/**
 * The SQL of {@link PostgresTaskStore}, one statement per operation, for the table `quoted` (an identifier
 * already checked and quoted). Built once per store, so that each can be prepared once per connection under
 * its key. Every value is a parameter. `$1` is the task's key, the SHA-256 of its id's UTF-8 bytes (computed by
 * the client: the server's `sha256()` in a WHERE clause cost a tenth of a save), except in `create`, where it is
 * those bytes and the key column is generated from them. A row's `startable` (pending, current attempt unused; read
 * only while the row is pending) is computed by the client like `status` and `attempt_num`; shared runs find ready
 * tasks by it.
 */
export function postgresStatements(quoted: string) {
  const task = 'task_key = $1::bytea';
  const setSaved = `SET revision = revision + 1, snapshot_json = $2, status = $3, attempt_num = $4,
        startable = $5, updated_at = now()`;
  const save = `UPDATE ${quoted} ${setSaved}
      WHERE ${task} AND NOT deleted AND revision = $6`;
  const inFlight = `UPDATE ${quoted} SET revision = revision + 1, snapshot_json = $2, status = $3, attempt_num = $4,
        updated_at = now()
      WHERE ${task} AND NOT deleted AND revision = $5 AND status IN ('pending', 'running', 'pr_created')`;
  return {
    load: `SELECT revision, snapshot_json, lease_owner, fencing_token, lease_expires_at FROM ${quoted} WHERE ${task} AND NOT deleted`,
    /** A new task, or one whose tombstone it replaces; no row when `$6` (a lease's worker) is given. */
    create: `INSERT INTO ${quoted} AS t (task_id, revision, snapshot_json, status, attempt_num, startable)
        SELECT $1, 1, $2, $3, $4, $5 WHERE $6::text IS NULL
      ON CONFLICT (task_key) DO UPDATE SET revision = t.revision + 1, deleted = false,
        snapshot_json = EXCLUDED.snapshot_json, status = EXCLUDED.status, attempt_num = EXCLUDED.attempt_num,
        startable = EXCLUDED.startable, updated_at = now()
      WHERE t.deleted
      RETURNING revision`,
    /** Revision `$6` becomes `$6 + 1` when it matches: one row changed, or none (nothing returned either way). */
    save,
    /** A save that also needs the lease of worker `$7` with fencing token `$8`. */
    saveLeased: `${save} AND lease_owner = $7 AND fencing_token = $8`,
    /** {@link saveLeased} that also ends the lease, in the same write. */
    saveReleasing: `UPDATE ${quoted} ${setSaved}, lease_owner = NULL, lease_expires_at = NULL
      WHERE ${task} AND NOT deleted AND revision = $6 AND lease_owner = $7 AND fencing_token = $8`,
    /**
     * The save of a task in flight (running or pr_created) over one still open (pending, running or pr_created):
     * revision `$5` becomes `$5 + 1`. It leaves `startable` as it was (only read while pending), so it does not
     * touch the column the shared runs' trigger watches, which then does not even look at it.
     */
    saveInFlight: inFlight,
    /** {@link saveInFlight} that also needs the lease of worker `$6` with fencing token `$7`. */
    saveInFlightLeased: `${inFlight} AND lease_owner = $6 AND fencing_token = $7`,
    delete: `UPDATE ${quoted} SET deleted = true, revision = revision + 1, snapshot_json = NULL, status = NULL,
        attempt_num = NULL, startable = false, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
      WHERE ${task} AND NOT deleted AND revision = $2
      RETURNING revision`,
    list: `SELECT task_id FROM ${quoted} WHERE NOT deleted`,
    claim: `UPDATE ${quoted} SET fencing_token = fencing_token + 1, lease_owner = $2,
        lease_expires_at = clock_timestamp() + make_interval(secs => $3::double precision / 1000)
      WHERE ${task} AND NOT deleted AND (lease_owner IS NULL OR lease_expires_at <= clock_timestamp())
      RETURNING fencing_token AS token, lease_expires_at AS expires_at`,
    renew: `UPDATE ${quoted} SET lease_expires_at = clock_timestamp() + make_interval(secs => $4::double precision / 1000)
      WHERE ${task} AND NOT deleted AND lease_owner = $2 AND fencing_token = $3
      RETURNING lease_expires_at AS expires_at`,
    release: `UPDATE ${quoted} SET lease_owner = NULL, lease_expires_at = NULL
      WHERE ${task} AND NOT deleted AND lease_owner = $2 AND fencing_token = $3
      RETURNING fencing_token`,
    listExpired: `SELECT task_id FROM ${quoted}
      WHERE NOT deleted AND lease_owner IS NOT NULL AND lease_expires_at <= clock_timestamp()
        AND status IN ('running', 'pr_created')`,
    changeMark: `SELECT coalesce(sum(revision), 0)::text AS mark FROM ${quoted}`,
    /** What a refused change is checked against: the row as it is, tombstone included. */
    current: `SELECT revision, deleted, lease_owner, fencing_token FROM ${quoted} WHERE ${task}`,
  } as const;
}

/** The name of one statement of {@link postgresStatements}. */
export type PostgresStatement = keyof ReturnType<typeof postgresStatements>;
