/*
 * The floor of the shared-run rows (bench/sharedPostgres.ts): the bare statements one task of a shared run needs,
 * on plain connections, each prepared once per connection. A claim is one CTE that picks the first ready row with
 * `FOR UPDATE SKIP LOCKED` from a partial index of ready rows and takes its lease with `UPDATE … RETURNING`; then
 * three compare-and-set UPDATEs (revision and lease) write the task's START, PR_CREATED and PR_MERGED JSON texts,
 * the first taking the row out of the ready ones. No dependencies: every row is ready from the start.
 */
import type pg from 'pg';

/** Creates the floor's table and its partial index of ready rows. */
export async function createFloorTable(client: pg.Client, table: string): Promise<void> {
  await client.query(`CREATE TABLE "${table}" (
    task_id text PRIMARY KEY,
    position integer NOT NULL,
    ready boolean NOT NULL,
    revision integer NOT NULL,
    snapshot_json text,
    lease_owner text,
    lease_expires_at timestamptz,
    fencing_token bigint NOT NULL DEFAULT 0
  )`);
  await client.query(`CREATE INDEX "${table}_ready" ON "${table}" (position) WHERE ready`);
}

/** The floor's two statements on `table`. */
function floorStatements(table: string) {
  return {
    claim: `WITH candidate AS (
        SELECT task_id FROM "${table}"
        WHERE ready AND (lease_owner IS NULL OR lease_expires_at <= clock_timestamp())
        ORDER BY position LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      UPDATE "${table}" f SET fencing_token = f.fencing_token + 1, lease_owner = $1,
        lease_expires_at = clock_timestamp() + interval '60 seconds'
      FROM candidate c WHERE f.task_id = c.task_id
      RETURNING f.task_id, f.revision, f.snapshot_json, f.fencing_token AS token`,
    save: `UPDATE "${table}" SET snapshot_json = $2, revision = revision + 1, ready = false
      WHERE task_id = $1 AND revision = $3 AND lease_owner = $4 AND fencing_token = $5`,
  };
}

/**
 * Runs every ready row of `table` through its three steps (`steps`: the JSON texts, per task id) on `clients`, one
 * worker per connection; resolves with the milliseconds from the first claim to the last save.
 */
export async function runFloor(
  clients: readonly pg.Client[],
  table: string,
  steps: ReadonlyMap<string, readonly string[]>,
): Promise<number> {
  const sql = floorStatements(table);
  const worker = async (client: pg.Client, workerId: string) => {
    for (;;) {
      const { rows } = await client.query<{ task_id: string; revision: number; token: string }>({
        name: `floor-claim-${table}`,
        text: sql.claim,
        values: [workerId],
      });
      const row = rows[0];
      if (row === undefined) return;
      let revision = row.revision;
      for (const json of steps.get(row.task_id) ?? []) {
        const { rowCount } = await client.query({
          name: `floor-save-${table}`,
          text: sql.save,
          values: [row.task_id, json, revision, workerId, row.token],
        });
        if (rowCount !== 1) throw new Error(`the floor's save of ${row.task_id} matched no row`);
        revision += 1;
      }
    }
  };
  const start = performance.now();
  await Promise.all(clients.map((client, index) => worker(client, `w${index}`)));
  return performance.now() - start;
}
