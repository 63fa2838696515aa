/*
 * Group `postgres`: PostgresTaskStore's save from one worker and from 8 at once, against one compare-and-set
 * UPDATE of the same JSON on the same server, and against the file store. Skipped without a server.
 */
import pg from 'pg';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../src/store/TaskStore.js';
import { typicalRuntime } from './fixtures.js';
import { log, type Settings, withTempDir } from './harness.js';
import { type BenchGroup, opsRow } from './rows.js';

/**
 * Per-round milliseconds per save: PostgreSQL with 1 and with 8 concurrent workers, the same saves as one plain
 * compare-and-set `UPDATE` of the same JSON on the same server (the floor), and the file store.
 */
interface PostgresTimings {
  readonly oneWorkerMs: number[];
  readonly eightWorkersMs: number[];
  readonly oneWorkerFloorMs: number[];
  readonly eightWorkersFloorMs: number[];
  readonly fileStoreMs: number[];
}

const WORKERS = 8;

/** Saves `count` new revisions of each of `ids`, one after another. */
async function saveLoop(store: TaskStore, ids: readonly string[], count: number): Promise<void> {
  const snapshot = typicalRuntime().persist();
  for (const id of ids) {
    let revision: number | null = (await store.load(id))?.revision ?? null;
    for (let i = 0; i < count; i += 1) {
      revision = await store.save(id, snapshot, { expectedRevision: revision });
    }
  }
}

/**
 * The floor of a save: one parameterized compare-and-set UPDATE of the snapshot's JSON, `count` times, prepared
 * once per connection like the store's statements.
 */
async function updateLoop(
  client: pg.Client,
  table: string,
  key: string,
  count: number,
): Promise<void> {
  const json = JSON.stringify(typicalRuntime().persist());
  await client.query(
    `INSERT INTO "${table}" (task_key, revision, snapshot_json) VALUES ($1, 1, $2)`,
    [key, json],
  );
  let revision = 1;
  for (let i = 0; i < count; i += 1) {
    const { rows } = await client.query<{ revision: number }>({
      name: 'floor-update',
      text: `UPDATE "${table}" SET snapshot_json = $2, revision = revision + 1
       WHERE task_key = $1 AND revision = $3 RETURNING revision`,
      values: [key, json, revision],
    });
    revision = rows[0]?.revision ?? Number.NaN;
  }
}

async function timePerSave(run: () => Promise<void>, saves: number): Promise<number> {
  const start = performance.now();
  await run();
  return (performance.now() - start) / saves;
}

/**
 * Saves per second into PostgreSQL from 1 worker and from 8 concurrent workers (each its own connection and its
 * own tasks), each interleaved round by round with its floor; then the same saves into a FileTaskStore. Null
 * without a server URL.
 */
async function measurePostgres(settings: Settings): Promise<PostgresTimings | null> {
  const connectionString = process.env.TASK_RUNTIME_PG_URL;
  if (connectionString === undefined || connectionString === '') return null;
  const table = `bench_${process.pid}_${Date.now()}`;
  const saves = settings.quick ? 40 : 400;
  return withTempDir('pg', async (dir) => {
    const stores = await Promise.all(
      Array.from({ length: WORKERS }, () =>
        PostgresTaskStore.connect({ connectionString, table, maxConnections: 1 }),
      ),
    );
    const file = await FileTaskStore.open(dir);
    const floorTable = `${table}_floor`;
    const clients = Array.from({ length: WORKERS }, () => new pg.Client({ connectionString }));
    await Promise.all(clients.map((client) => client.connect()));
    await clients[0]?.query(
      `CREATE TABLE "${floorTable}" (task_key text PRIMARY KEY, revision integer NOT NULL, snapshot_json text)`,
    );
    try {
      const timings: PostgresTimings = {
        oneWorkerMs: [],
        eightWorkersMs: [],
        oneWorkerFloorMs: [],
        eightWorkersFloorMs: [],
        fileStoreMs: [],
      };
      const perWorker = Math.ceil(saves / WORKERS);
      const one = stores[0] as PostgresTaskStore;
      const firstClient = clients[0] as pg.Client;
      const oneWorker = async (round: number): Promise<void> => {
        timings.oneWorkerMs.push(
          await timePerSave(() => saveLoop(one, [`one-${round}`], saves), saves),
        );
      };
      const oneWorkerFloor = async (round: number): Promise<void> => {
        timings.oneWorkerFloorMs.push(
          await timePerSave(
            () => updateLoop(firstClient, floorTable, `one-${round}`, saves),
            saves,
          ),
        );
      };
      const eightWorkers = async (round: number): Promise<void> => {
        const run = () =>
          Promise.all(
            stores.map((store, w) => saveLoop(store, [`eight-${round}-${w}`], perWorker)),
          ).then(() => undefined);
        timings.eightWorkersMs.push(await timePerSave(run, perWorker * WORKERS));
      };
      const eightWorkersFloor = async (round: number): Promise<void> => {
        const run = () =>
          Promise.all(
            clients.map((client, w) =>
              updateLoop(client, floorTable, `eight-${round}-${w}`, perWorker),
            ),
          ).then(() => undefined);
        timings.eightWorkersFloorMs.push(await timePerSave(run, perWorker * WORKERS));
      };
      // Each store measurement next to its floor, which goes first every other round: neither always follows
      // the other (nor the file store, whose fsyncs would slow the next server's WAL flushes for a moment).
      const pairs = [
        [oneWorker, oneWorkerFloor],
        [eightWorkers, eightWorkersFloor],
      ];
      for (let round = 0; round < settings.postgresRounds; round += 1) {
        for (const pair of pairs) {
          for (const measure of round % 2 === 0 ? pair : [...pair].reverse()) await measure(round);
        }
      }
      for (let round = 0; round < settings.postgresRounds; round += 1) {
        timings.fileStoreMs.push(
          await timePerSave(() => saveLoop(file, [`file-${round}`], saves), saves),
        );
      }
      return timings;
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      const client = clients[0] as pg.Client;
      await client.query(`DROP TABLE IF EXISTS "${table}"`);
      await client.query(`DROP TABLE IF EXISTS "${floorTable}"`);
      await Promise.all(clients.map((each) => each.end()));
      await file.close();
    }
  });
}

export const postgresGroup: BenchGroup = {
  name: 'postgres',
  async measure(settings) {
    log('PostgreSQL store');
    const timings = await measurePostgres(settings);
    if (timings === null) {
      log(
        'PostgreSQL rows skipped: set TASK_RUNTIME_PG_URL, or run `.ci/with-postgres npm run bench`',
      );
      return [];
    }
    const file = { what: 'FileTaskStore.save (fsync), 1 writer', ms: timings.fileStoreMs };
    const one = { what: 'PostgresTaskStore.save, one at a time', ms: timings.oneWorkerMs };
    const eight = {
      what: 'PostgresTaskStore.save, 8 connections at once (total)',
      ms: timings.eightWorkersMs,
    };
    const update = 'compare-and-set UPDATE of the same JSON';
    return [
      opsRow('PostgreSQL store: save, 1 worker', one, file, null),
      opsRow('PostgreSQL store: save, 8 concurrent workers', eight, file, null),
      opsRow(
        'PostgreSQL store: save vs one UPDATE, 1 worker',
        one,
        { what: `${update}, one at a time`, ms: timings.oneWorkerFloorMs },
        1.3,
      ),
      opsRow(
        'PostgreSQL store: save vs one UPDATE, 8 workers',
        eight,
        { what: `${update}, 8 connections at once`, ms: timings.eightWorkersFloorMs },
        1.3,
      ),
    ];
  },
};
