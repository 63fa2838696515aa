/*
 * Group `shared-postgres`: shared runs on PostgreSQL. Skipped without a server (TASK_RUNTIME_PG_URL).
 *
 * - Throughput: a 2,000-task run (benchGraph: 10 roots, 90 core tasks, the rest on 2–3 core tasks) with no-op work,
 *   8 workers at once, each with one connection: claim a ready task, then save its START, PR_CREATED and PR_MERGED
 *   snapshots with compare-and-set and the lease. The floor issues the bare statements one task needs on 8
 *   connections (bench/sharedPostgresFloor.ts): a `SKIP LOCKED` claim of the next ready row and three
 *   compare-and-set UPDATEs of the same JSON texts, on a table whose rows are all ready from the start (it tracks
 *   no dependencies, so it never waits for a merge). Each side is a {@link RunSide}: the sides of a round run one
 *   after another, in alternating order, each on a run of its own opened untimed, and each is timed from its first
 *   claim to its last save. A side that runs whole worker processes is one more RunSide.
 * - Wake-up latency: the median time from the start of a dependency's merge save in this process to its dependent's
 *   claimReady succeeding in a child process woken by listenReady (bench/sharedPostgresChild.ts), next to the same
 *   child receiving a bare NOTIFY from this process (the floor of any LISTEN/NOTIFY hint). The child also polls,
 *   every second, so that a lost hint shows as a second, not as a hang.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TaskGraph } from '../src/graph/TaskGraph.js';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { PostgresTaskStore } from '../src/store/PostgresTaskStore.js';
import { postgresRunNames } from '../src/store/postgresRunSchema.js';
import type { RunTaskEntry } from '../src/store/sharedRunStore.js';
import { PR_URL } from './fixtures.js';
import { benchGraph } from './graph.js';
import { alternate, log, median, type Settings } from './harness.js';
import { type BenchGroup, comparedRow, opsRow, ratioOf, type Timed } from './rows.js';
import { createFloorTable, runFloor } from './sharedPostgresFloor.js';

/** Workers (connections, pools or processes) on each side of the throughput rows. */
export const SHARED_WORKERS = 8;
const LEASE = { leaseMs: 60_000 };
/** The wake-up latency's target: at most this many milliseconds. */
const WAKE_UP_TARGET_MS = 50;

/** A run of the bench graph as every side gets it: its tasks in order, and the three snapshots each task saves. */
export interface BenchRun {
  readonly connectionString: string;
  /** The task table of the store sides (the floor has a table of its own). */
  readonly table: string;
  /** Unique per side and round: the run id, and the prefix of its task ids. */
  readonly runId: string;
  readonly entries: readonly RunTaskEntry[];
  /** Per task id: the snapshots after START, PR_CREATED and PR_MERGED, in that order. */
  readonly steps: ReadonlyMap<string, readonly unknown[]>;
}

/** One way of running a {@link BenchRun} to its end with {@link SHARED_WORKERS} workers. */
export interface RunSide {
  readonly what: string;
  /** Untimed: creates what the side runs on (the run opened in the store, or the floor's rows). */
  readonly prepare: (run: BenchRun) => Promise<void>;
  /** Runs every task to pr_merged and resolves with the milliseconds it took. */
  readonly run: (run: BenchRun) => Promise<number>;
}

/** The run of `graph` under `runId`: task ids prefixed with it, fresh snapshots, and each task's three steps. */
export function benchRun(
  graph: TaskGraph,
  connectionString: string,
  table: string,
  runId: string,
): BenchRun {
  const id = (taskId: string) => `${runId}/${taskId}`;
  const entries: RunTaskEntry[] = [];
  const steps = new Map<string, unknown[]>();
  for (const taskId of graph.taskIds) {
    const task = graph.task(taskId);
    const runtime = new TaskRuntime({ ...task, id: id(taskId), dependencies: [] });
    entries.push({
      taskId: id(taskId),
      dependencies: graph.dependenciesOf(taskId).map(id),
      snapshot: runtime.persist(),
    });
    runtime.markRunning({ workerId: 'bench' });
    const started = runtime.persist();
    runtime.markPrCreated(PR_URL);
    const created = runtime.persist();
    runtime.markPrMerged();
    steps.set(id(taskId), [started, created, runtime.persist()]);
  }
  return { connectionString, table, runId, entries, steps };
}

/**
 * The store side: {@link SHARED_WORKERS} PostgresTaskStores of one connection each, every worker claiming with
 * claimReady and saving the three steps with the lease; a worker that finds nothing ready waits for listenReady's
 * hint (or 50 ms).
 */
export function storeSide(stores: readonly PostgresTaskStore[]): RunSide {
  return {
    what: `PostgresTaskStore.claimReady + 3 saves per task, ${SHARED_WORKERS} pools of 1 connection`,
    prepare: async (run) => {
      await stores[0]?.openRun(run.runId, run.entries);
    },
    run: async (run) => {
      const total = run.entries.length;
      let merged = 0;
      const waiting = new Set<() => void>();
      const wakeAll = () => {
        for (const wake of [...waiting]) wake();
      };
      const stops = await Promise.all(stores.map((store) => store.listenReady(run.runId, wakeAll)));
      const idle = () =>
        new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiting.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, 50);
          waiting.add(wake);
        });
      const worker = async (store: PostgresTaskStore, workerId: string) => {
        while (merged < total) {
          const claim = await store.claimReady(run.runId, workerId, LEASE);
          if (claim === null) {
            await idle();
            continue;
          }
          let revision = claim.stored.revision;
          for (const snapshot of run.steps.get(claim.taskId) ?? []) {
            revision = await store.save(claim.taskId, snapshot, {
              expectedRevision: revision,
              lease: claim.lease,
            });
          }
          merged += 1;
          if (merged === total) wakeAll();
        }
      };
      const start = performance.now();
      await Promise.all(stores.map((store, index) => worker(store, `w${index}`)));
      const ms = performance.now() - start;
      await Promise.all(stops.map((stop) => stop()));
      return ms;
    },
  };
}

/** The floor side: the bare statements on {@link SHARED_WORKERS} connections (bench/sharedPostgresFloor.ts). */
function floorSide(clients: readonly pg.Client[], floorTable: string): RunSide {
  let position = 0;
  return {
    what: `bare SKIP LOCKED claim + 3 compare-and-set UPDATEs per task, ${SHARED_WORKERS} connections`,
    prepare: async (run) => {
      const rows = run.entries.map((entry) => ({
        taskId: entry.taskId,
        snapshot: JSON.stringify(entry.snapshot),
      }));
      await createFloorRows(clients[0] as pg.Client, floorTable, rows, position);
      position += rows.length;
    },
    run: (run) =>
      runFloor(
        clients,
        floorTable,
        new Map(
          [...run.steps].map(([id, steps]) => [id, steps.map((step) => JSON.stringify(step))]),
        ),
      ),
  };
}

/** Inserts the floor's rows of one run, all ready, after `position`. */
async function createFloorRows(
  client: pg.Client,
  table: string,
  rows: readonly { taskId: string; snapshot: string }[],
  position: number,
): Promise<void> {
  await client.query(
    `INSERT INTO "${table}" (task_id, position, ready, revision, snapshot_json)
     SELECT id, $3::integer + n, true, 1, json FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(id, json, n)`,
    [rows.map((row) => row.taskId), rows.map((row) => row.snapshot), position],
  );
}

/** Per-round milliseconds of each side, each round on fresh runs, sides in alternating order. */
async function measureSides(
  graph: TaskGraph,
  connectionString: string,
  table: string,
  sides: readonly RunSide[],
  rounds: number,
): Promise<number[][]> {
  const timings = sides.map(() => [] as number[]);
  let runs = 0;
  const measures = sides.map((side, index) => async () => {
    const run = benchRun(graph, connectionString, table, `run-${runs++}`);
    await side.prepare(run);
    timings[index]?.push(await side.run(run));
  });
  // One untimed round first: prepared statements, the JIT, the server's caches.
  await alternate(1, measures);
  for (const timing of timings) timing.length = 0;
  await alternate(rounds, measures);
  return timings;
}

/** What the child process prints per trial: which trial, and when it claimed (or received), in epoch ms. */
interface ChildLine {
  readonly trial: number;
  readonly at: number;
}

/** The wake-up child (bench/sharedPostgresChild.ts), driven line by line. */
class WakeUpChild {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;

  constructor(connectionString: string, table: string) {
    const script = fileURLToPath(new URL('./sharedPostgresChild.js', import.meta.url));
    this.#child = spawn(process.execPath, [script, connectionString, table]);
    this.#child.stderr.pipe(process.stderr);
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  /** Sends a command and waits for its acknowledgement (`ok`). */
  async command(line: string): Promise<void> {
    this.#child.stdin.write(`${line}\n`);
    const reply = await this.next();
    if (reply !== 'ok') throw new Error(`the wake-up child answered ${reply} to ${line}`);
  }

  /** The next line the child prints. */
  async next(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done === true) throw new Error('the wake-up child ended');
    return value;
  }

  async end(): Promise<void> {
    this.#child.stdin.end();
    await new Promise((resolve) => this.#child.once('exit', resolve));
  }
}

/** Now, in epoch milliseconds with sub-millisecond precision (comparable across processes on one machine). */
const now = () => performance.timeOrigin + performance.now();

/**
 * Per-trial milliseconds from the start of a merge save here to the dependent's claim in the child, and from a
 * bare NOTIFY here to its arrival there, in alternating trials.
 */
async function measureWakeUp(
  connectionString: string,
  table: string,
  store: PostgresTaskStore,
  trials: number,
): Promise<{ wakeUp: number[]; bare: number[] }> {
  const child = new WakeUpChild(connectionString, table);
  const notifier = new pg.Client({ connectionString });
  await notifier.connect();
  const wakeUp: number[] = [];
  const bare: number[] = [];
  try {
    if ((await child.next()) !== 'ready') throw new Error('the wake-up child did not start');
    let trial = 0;
    const byHint = async () => {
      trial += 1;
      const runId = `wake-${trial}`;
      const snapshot = (id: string) => new TaskRuntime({ id, role: 'implementer' }).persist();
      const [dependency, dependent] = [`${runId}/dependency`, `${runId}/dependent`];
      await store.openRun(runId, [
        { taskId: dependency, dependencies: [], snapshot: snapshot(dependency) },
        { taskId: dependent, dependencies: [dependency], snapshot: snapshot(dependent) },
      ]);
      const claim = await store.claimReady(runId, 'parent', LEASE);
      if (claim?.taskId !== dependency) throw new Error(`claimed ${claim?.taskId} first`);
      const runtime = TaskRuntime.restore(claim.stored.snapshot);
      const save = (expectedRevision: number) =>
        store.save(dependency, runtime.persist(), { expectedRevision, lease: claim.lease });
      runtime.markRunning();
      let revision = await save(claim.stored.revision);
      runtime.markPrCreated(PR_URL);
      revision = await save(revision);
      await child.command(`listen ${trial} ${runId}`);
      runtime.markPrMerged();
      const start = now();
      await save(revision);
      const line = JSON.parse(await child.next()) as ChildLine;
      if (line.trial !== trial)
        throw new Error(`the child answered trial ${line.trial}, not ${trial}`);
      wakeUp.push(line.at - start);
    };
    const byBareNotify = async () => {
      trial += 1;
      await child.command(`bare ${trial}`);
      const start = now();
      await notifier.query(`NOTIFY bench_bare, '${trial}'`);
      const line = JSON.parse(await child.next()) as ChildLine;
      if (line.trial !== trial)
        throw new Error(`the child answered trial ${line.trial}, not ${trial}`);
      bare.push(line.at - start);
    };
    await alternate(2, [byHint, byBareNotify]); // untimed warm-up
    wakeUp.length = 0;
    bare.length = 0;
    await alternate(trials, [byHint, byBareNotify]);
  } finally {
    await child.end();
    await notifier.end();
  }
  return { wakeUp, bare };
}

export const sharedPostgresGroup: BenchGroup = {
  name: 'shared-postgres',
  async measure(settings: Settings) {
    const connectionString = process.env.TASK_RUNTIME_PG_URL;
    if (connectionString === undefined || connectionString === '') {
      log(
        'shared-run PostgreSQL rows skipped: set TASK_RUNTIME_PG_URL, or run `.ci/with-postgres npm run bench`',
      );
      return [];
    }
    const size = settings.quick ? 200 : 2_000;
    const graph = benchGraph(size);
    const table = `bench_shared_${process.pid}_${Date.now()}`;
    const floorTable = `${table}_floor`;
    log(
      `shared runs on PostgreSQL (${size.toLocaleString('en-US')} tasks, ${SHARED_WORKERS} workers)`,
    );
    const stores = await Promise.all(
      Array.from({ length: SHARED_WORKERS }, () =>
        PostgresTaskStore.connect({ connectionString, table, maxConnections: 1 }),
      ),
    );
    const clients = Array.from(
      { length: SHARED_WORKERS },
      () => new pg.Client({ connectionString }),
    );
    await Promise.all(clients.map((client) => client.connect()));
    try {
      await createFloorTable(clients[0] as pg.Client, floorTable);
      const sides = [storeSide(stores), floorSide(clients, floorTable)];
      const [storeMs = [], floorMs = []] = await measureSides(
        graph,
        connectionString,
        table,
        sides,
        settings.quick ? 2 : settings.rounds,
      );
      const perTask = (ms: readonly number[]) => ms.map((value) => value / size);
      const storeTimed: Timed = { what: sides[0]?.what ?? '', ms: perTask(storeMs) };
      const floorTimed: Timed = { what: sides[1]?.what ?? '', ms: perTask(floorMs) };
      log('wake-up latency (LISTEN/NOTIFY, a child process)');
      const trials = settings.quick ? 5 : 51;
      const { wakeUp, bare } = await measureWakeUp(
        connectionString,
        table,
        stores[0] as PostgresTaskStore,
        trials,
      );
      const latency = median(wakeUp);
      return [
        opsRow(
          `shared run: claimReady + 3 saves per task, ${SHARED_WORKERS} pools (${size.toLocaleString('en-US')} tasks) vs bare statements`,
          storeTimed,
          floorTimed,
          1.5,
        ),
        {
          ...comparedRow(
            'shared run: wake-up latency, merge in one process → dependent claimed in another (median)',
            {
              what: `merge save → listenReady → claimReady in a child process (${trials} trials)`,
              value: latency * 1e6,
              unit: 'ns/op',
            },
            {
              what: 'bare NOTIFY → LISTEN in the same child process',
              value: median(bare) * 1e6,
              unit: 'ns/op',
            },
            ratioOf(wakeUp, bare),
            null,
          ),
          target: `≤ ${WAKE_UP_TARGET_MS} ms`,
          pass: latency <= WAKE_UP_TARGET_MS,
        },
      ];
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      const client = clients[0] as pg.Client;
      const names = postgresRunNames(table);
      for (const name of [table, floorTable, names.runs, names.runTasks, names.runEdges]) {
        await client.query(`DROP TABLE IF EXISTS "${name}"`);
      }
      await client.query(`DROP FUNCTION IF EXISTS "${names.follow}"()`);
      await Promise.all(clients.map((each) => each.end()));
    }
  },
};
