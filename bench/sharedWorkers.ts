/*
 * Group `shared-workers`: shared runs executed by whole worker processes, each a GraphWorker on a
 * DurableTaskGraphRuntime opened with its own workerId on one store (bench/sharedWorkersChild.ts, on the package's
 * public API), against floors of the bare work on as many connections or processes.
 *
 * - PostgreSQL (skipped without TASK_RUNTIME_PG_URL): the 2,000-task bench graph (bench/sharedWorkersGraph.ts: 10
 *   roots, 90 core tasks on 2–3 roots, the rest on 2–3 core tasks) run with no-op handlers by 8 processes, each
 *   `DurableTaskGraphRuntime.open(store, graph, { workerId, leaseMs })` on a PostgresTaskStore of
 *   {@link PG_CONNECTIONS} connections (one table), then `new GraphWorker(run, { work, merge, concurrency }).run()`.
 *   The tasks are created by the bench process and every process has opened the run before the clock starts; the
 *   processes are told to start together and the clock stops when the last one's `run()` has resolved. The floor is
 *   the shared-postgres group's (bench/sharedPostgresFloor.ts): a `SKIP LOCKED` claim and three compare-and-set
 *   UPDATEs per task on 8 plain connections, on a table whose rows are all ready from the start (it tracks no
 *   dependencies and never waits for a merge). The shared-postgres group's store side (claimReady + 3 saves per task
 *   from 8 pools in one process) runs in the same rounds, as a reference. Each side of a round has a run of its own,
 *   the sides in alternating order: one untimed round, then 3.
 * - FileTaskStore: the same with 4 processes on one FileTaskStore in a temporary directory, against 4 processes
 *   doing the bare synchronous file operations of a task (bench/sharedFileFloor.ts: an exclusive create of a lease
 *   file and three durable replacements of the task's document, in a directory per task; four durable writes). A
 *   fresh directory per side and round; the worker side's tasks are created (and synced to disk) before the clock
 *   starts.
 * - Wake-up latency through the worker path: a dependency is claimed, started and given its PR in this process
 *   (a shared DurableTaskGraphRuntime); a worker process runs a GraphWorker on the same two-task run; the time from
 *   the start of the dependency's markPrMerged here to `work` being called for its dependent there, median over the
 *   trials. Next to it, a bare NOTIFY from this process to the same child (reported ratio). The run's `followMs` is
 *   the default unless BENCH_FOLLOW_MS sets it; the merge waits a different fraction of it in each trial, so that
 *   it falls at every phase of the child's follow timer.
 *
 * BENCH_WORKER_CONCURRENCY sets the GraphWorkers' concurrency ({@link DEFAULT_CONCURRENCY} unless set), and
 * BENCH_SHARED_WORKERS_PROFILE=<dir> writes a CPU profile of every worker process there (for finding where the
 * time goes; not for measuring).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { DEFAULT_FOLLOW_MS } from '../src/graph/sharedRunOptions.js';
import {
  DurableTaskGraphRuntime,
  FileTaskStore,
  PostgresTaskStore,
  type TaskGraph,
  TaskRuntime,
} from '../src/index.js';
import { postgresRunNames } from '../src/store/postgresRunSchema.js';
import { PR_URL } from './fixtures.js';
import { alternate, log, median, type Settings, withTempDir } from './harness.js';
import { type BenchGroup, comparedRow, opsRow, ratioOf, type Timed } from './rows.js';
import { createFloorTasks, type FloorTasks } from './sharedFileFloor.js';
import { benchRun, SHARED_WORKERS, storeSide } from './sharedPostgres.js';
import { createFloorTable, runFloor } from './sharedPostgresFloor.js';
import type { ChildCommand, ChildRunOptions, ChildStore } from './sharedWorkersChild.js';
import { prefixedBenchGraph, wakeUpGraph } from './sharedWorkersGraph.js';

/** Worker processes on PostgreSQL, as many as the floor's connections. */
const PG_PROCESSES = SHARED_WORKERS;
/** Worker processes on one FileTaskStore, as many as the floor's processes. */
const FILE_PROCESSES = 4;
/** Connections of each worker process's PostgresTaskStore pool: one for the run's commands, one for its follows. */
const PG_CONNECTIONS = 2;
/** The GraphWorkers' concurrency unless BENCH_WORKER_CONCURRENCY says otherwise. */
const DEFAULT_CONCURRENCY = 1;
const LEASE_MS = 60_000;
/** The target of both throughput rows: at most this many times the floor's time per task. */
const THROUGHPUT_TARGET = 1.5;
/** The wake-up latency's target: at most this many milliseconds. */
const WAKE_UP_TARGET_MS = 50;
/** The golden ratio's fraction: trial k merges after frac(k × it) of followMs, spread evenly over its phases. */
const PHASE_STEP = (Math.sqrt(5) - 1) / 2;
const execFileAsync = promisify(execFile);

/** A child process that reads and writes JSON lines (or plain ones). */
class LineChild {
  readonly #child;
  readonly #lines: AsyncIterator<string>;
  readonly #exited: Promise<void>;

  constructor(script: string, args: readonly string[], execArgv: readonly string[] = []) {
    const path = fileURLToPath(new URL(script, import.meta.url));
    this.#child = spawn(process.execPath, [...execArgv, path, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  send(message: ChildCommand | string): void {
    this.#child.stdin.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
  }

  /** The next line, parsed. */
  async next<T = Record<string, unknown>>(): Promise<T> {
    const { value, done } = await this.#lines.next();
    if (done === true) throw new Error(`a child process ended (exit code ${this.#child.exitCode})`);
    return JSON.parse(value) as T;
  }

  /** Ends stdin and waits for the exit; kills the process when it has not exited after 10 s. */
  async end(): Promise<void> {
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** Ends every child, whatever happened. */
async function endAll(children: readonly LineChild[]): Promise<void> {
  await Promise.allSettled(children.map((child) => child.end()));
}

/** The worker-process arguments of node: a CPU profile per process when BENCH_SHARED_WORKERS_PROFILE is set. */
function profileArgs(): string[] {
  const dir = process.env.BENCH_SHARED_WORKERS_PROFILE;
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** `count` worker processes (bench/sharedWorkersChild.ts), named w0, w1, … */
function workerChildren(count: number): LineChild[] {
  return Array.from(
    { length: count },
    (_, index) => new LineChild('./sharedWorkersChild.js', [`w${index}`], profileArgs()),
  );
}

/** What a worker process reports after its run (see bench/sharedWorkersChild.ts). */
interface WorkerReport {
  readonly outcome: string;
  readonly ms: number;
  readonly cpuMs: number;
  readonly started: number;
  readonly claimedElsewhere: number;
  readonly refused: number;
  readonly refusals: Readonly<Record<string, number>>;
  readonly followed: number;
}

/** The shared options of every worker process's run: the lease, and followMs when BENCH_FOLLOW_MS sets it. */
function runOptions(): ChildRunOptions {
  const follow = process.env.BENCH_FOLLOW_MS;
  return follow === undefined || follow === ''
    ? { leaseMs: LEASE_MS }
    : { leaseMs: LEASE_MS, followMs: Number(follow) };
}

function concurrency(): number {
  const value = process.env.BENCH_WORKER_CONCURRENCY;
  return value === undefined || value === '' ? DEFAULT_CONCURRENCY : Number(value);
}

/** Sums of the worker processes' reports over the measured rounds, logged to say where the time went. */
class Tally {
  rounds = 0;
  started = 0;
  claimedElsewhere = 0;
  refused = 0;
  followed = 0;
  /** The worker processes' CPU time, and the machine's busy CPU time (all processes, the server's included). */
  workerCpuMs = 0;
  machineBusyMs = 0;
  wallMs = 0;
  readonly refusals = new Map<string, number>();

  add(reports: readonly WorkerReport[], machine: { busyMs: number; wallMs: number }): void {
    this.rounds += 1;
    this.machineBusyMs += machine.busyMs;
    this.wallMs += machine.wallMs;
    for (const report of reports) {
      this.workerCpuMs += report.cpuMs;
      for (const [what, count] of Object.entries(report.refusals)) {
        this.refusals.set(what, (this.refusals.get(what) ?? 0) + count);
      }
      this.started += report.started;
      this.claimedElsewhere += report.claimedElsewhere;
      this.refused += report.refused;
      this.followed += report.followed;
    }
  }

  describe(processes: number): string {
    const per = (n: number) => Math.round(n / Math.max(1, this.rounds));
    return (
      `per round: ${per(this.started)} attempts started, ${per(this.claimedElsewhere)} markRunning refused ` +
      `(claimed by another process), ${per(this.refused)} other refusals, ` +
      `${(this.followed / Math.max(1, this.rounds) / processes).toFixed(1)} follows per process; refused: ` +
      `${[...this.refusals].map(([what, count]) => `${what} ${per(count)}`).join(', ') || 'none'}; CPU per task: ` +
      `${(this.workerCpuMs / Math.max(1, this.started)).toFixed(2)} ms in the worker processes, ` +
      `${(this.machineBusyMs / Math.max(1, this.started)).toFixed(2)} ms on the whole machine ` +
      `(busy ${Math.round((100 * this.machineBusyMs) / Math.max(1, this.wallMs * availableParallelism()))}% of its cores)`
    );
  }
}

/** The CPU time every core of the machine has spent busy since boot, in ms (Linux's /proc/stat; 0 elsewhere). */
function machineBusyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const ticks = [user, nice, system, irq, softirq, steal].reduce<number>(
      (sum, n) => sum + (n ?? 0),
      0,
    );
    return ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/**
 * Has `children` open the shared run of `graph` (created beforehand) on `store`, starts them together, and resolves
 * with the milliseconds from the start to the last one's outcome.
 */
async function runWorkerProcesses(
  children: readonly LineChild[],
  store: ChildStore,
  prefix: string,
  size: number,
  tally: Tally | null,
): Promise<number> {
  const run = runOptions();
  for (const child of children) child.send({ cmd: 'open', store, prefix, size, run });
  await Promise.all(children.map((child) => child.next()));
  const busyAtStart = machineBusyMs();
  const start = performance.now();
  for (const child of children) child.send({ cmd: 'go', concurrency: concurrency() });
  let end = start;
  const reports = await Promise.all(
    children.map(async (child) => {
      const report = await child.next<WorkerReport>();
      end = Math.max(end, performance.now());
      return report;
    }),
  );
  for (const report of reports) {
    if (report.outcome !== 'succeeded') throw new Error(`a worker process ended ${report.outcome}`);
  }
  const started = reports.reduce((sum, report) => sum + report.started, 0);
  if (started !== size)
    throw new Error(`the worker processes started ${started} attempts, not ${size}`);
  tally?.add(reports, { busyMs: machineBusyMs() - busyAtStart, wallMs: end - start });
  return end - start;
}

/**
 * A table name unique to this run, short enough that the store's prepared statements' names (`task-runtime:<table>:
 * <statement>`) stay within PostgreSQL's 63 bytes.
 */
function tableName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}`;
}

/**
 * Creates the graph's tasks in `store` (untimed, by this process), as the first worker to open the shared run would:
 * `DurableTaskGraphRuntime.open` with a worker id of its own, closed at once.
 */
async function createTasks(
  store: FileTaskStore | PostgresTaskStore,
  graph: TaskGraph,
): Promise<void> {
  const run = await DurableTaskGraphRuntime.open(store, graph, {
    workerId: 'bench-setup',
    leaseMs: LEASE_MS,
  });
  run.close();
}

/** Writes the file system of `path` to disk (Linux), so that a side's preparation is not written back in the next timed part. */
async function syncFileSystem(path: string): Promise<void> {
  await execFileAsync('sync', ['-f', path]).catch(() => undefined);
}

/** Per-round milliseconds of each side: one untimed round, then `rounds` with the sides in alternating order. */
async function measureRounds(
  sides: readonly ((round: number, timed: boolean) => Promise<number>)[],
  rounds: number,
): Promise<number[][]> {
  const timings = sides.map(() => [] as number[]);
  let round = 0;
  let timed = false;
  const measures = sides.map((side, index) => async () => {
    const ms = await side(round++, timed);
    if (timed) timings[index]?.push(ms);
  });
  await alternate(1, measures);
  timed = true;
  await alternate(rounds, measures);
  return timings;
}

/** The PostgreSQL rows' sides: worker processes, the floor, and the in-process claimReady store side. */
async function measurePostgres(
  connectionString: string,
  size: number,
  rounds: number,
): Promise<{
  workers: number[];
  floor: number[];
  store: number[];
  tally: Tally;
  whatStore: string;
}> {
  const table = tableName('bench_wk');
  const floorTable = `${table}_floor`;
  const graph = prefixedBenchGraph(size, '');
  const parent = await PostgresTaskStore.connect({ connectionString, table, maxConnections: 4 });
  const stores = await Promise.all(
    Array.from({ length: SHARED_WORKERS }, () =>
      PostgresTaskStore.connect({ connectionString, table, migrate: false, maxConnections: 1 }),
    ),
  );
  const clients = Array.from({ length: SHARED_WORKERS }, () => new pg.Client({ connectionString }));
  const children = workerChildren(PG_PROCESSES);
  const tally = new Tally();
  const inProcess = storeSide(stores);
  try {
    await Promise.all(clients.map((client) => client.connect()));
    await createFloorTable(clients[0] as pg.Client, floorTable);
    let position = 0;
    const store: ChildStore = {
      kind: 'postgres',
      connectionString,
      table,
      maxConnections: PG_CONNECTIONS,
    };
    const byWorkers = async (round: number, timed: boolean) => {
      const prefix = `workers-${round}/`;
      await createTasks(parent, prefixedBenchGraph(size, prefix));
      return runWorkerProcesses(children, store, prefix, size, timed ? tally : null);
    };
    const byFloor = async (round: number) => {
      const run = benchRun(graph, connectionString, table, `floor-${round}`);
      await insertFloorRows(clients[0] as pg.Client, floorTable, run.entries, position);
      position += run.entries.length;
      const steps = new Map(
        [...run.steps].map(([id, texts]) => [id, texts.map((step) => JSON.stringify(step))]),
      );
      return runFloor(clients, floorTable, steps);
    };
    const byStore = async (round: number) => {
      const run = benchRun(graph, connectionString, table, `store-${round}`);
      await inProcess.prepare(run);
      return inProcess.run(run);
    };
    const [workers = [], floor = [], inStore = []] = await measureRounds(
      [byWorkers, byFloor, byStore],
      rounds,
    );
    return { workers, floor, store: inStore, tally, whatStore: inProcess.what };
  } finally {
    await endAll(children);
    await Promise.all(stores.map((each) => each.close()));
    await parent.close();
    await dropTables(clients[0] as pg.Client, table, floorTable).catch((error: unknown) =>
      log(`could not drop the bench tables: ${(error as Error).message}`),
    );
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }
}

/** Inserts the floor's rows of one run, all ready, after `position` (as bench/sharedPostgres.ts does). */
async function insertFloorRows(
  client: pg.Client,
  table: string,
  entries: readonly { taskId: string; snapshot: unknown }[],
  position: number,
): Promise<void> {
  await client.query(
    `INSERT INTO "${table}" (task_id, position, ready, revision, snapshot_json)
     SELECT id, $3::integer + n, true, 1, json FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(id, json, n)`,
    [
      entries.map((entry) => entry.taskId),
      entries.map((entry) => JSON.stringify(entry.snapshot)),
      position,
    ],
  );
}

async function dropTables(client: pg.Client, table: string, floorTable: string): Promise<void> {
  const names = postgresRunNames(table);
  for (const name of [table, floorTable, names.runs, names.runTasks, names.runEdges]) {
    await client.query(`DROP TABLE IF EXISTS "${name}"`);
  }
  await client.query(`DROP FUNCTION IF EXISTS "${names.follow}"()`);
}

/** The floor's tasks of `graph`: ids in order, and each task's START, PR_CREATED and PR_MERGED snapshots' JSON. */
function floorTasksOf(graph: TaskGraph): { tasks: FloorTasks; initial: string[] } {
  const initial: string[] = [];
  const steps: string[][] = [];
  for (const id of graph.taskIds) {
    const runtime = new TaskRuntime(graph.task(id));
    initial.push(JSON.stringify(runtime.persist()));
    runtime.markRunning({ workerId: 'bench' });
    const started = JSON.stringify(runtime.persist());
    runtime.markPrCreated(PR_URL);
    const created = JSON.stringify(runtime.persist());
    runtime.markPrMerged();
    steps.push([started, created, JSON.stringify(runtime.persist())]);
  }
  return { tasks: { ids: graph.taskIds, steps }, initial };
}

/** The FileTaskStore row's sides: worker processes on one store, and the floor's processes. */
async function measureFile(
  size: number,
  rounds: number,
): Promise<{ workers: number[]; floor: number[]; tally: Tally }> {
  const children = workerChildren(FILE_PROCESSES);
  const tally = new Tally();
  try {
    const byWorkers = (round: number, timed: boolean) =>
      withTempDir('workers', async (dir) => {
        const prefix = `r${round}-`;
        const store = await FileTaskStore.open(dir);
        await createTasks(store, prefixedBenchGraph(size, prefix));
        await store.close();
        await syncFileSystem(dir);
        return runWorkerProcesses(
          children,
          { kind: 'file', dir },
          prefix,
          size,
          timed ? tally : null,
        );
      });
    const byFloor = (round: number) =>
      withTempDir('workers-floor', async (dir) => {
        const { tasks, initial } = floorTasksOf(prefixedBenchGraph(size, `r${round}-`));
        const floorDir = join(dir, 'tasks');
        await mkdir(floorDir);
        createFloorTasks(floorDir, tasks, initial);
        const tasksFile = join(dir, 'tasks.json');
        await writeFile(tasksFile, JSON.stringify(tasks));
        await syncFileSystem(dir);
        const floorChildren = Array.from(
          { length: FILE_PROCESSES },
          (_, index) =>
            new LineChild('./sharedFileFloorChild.js', [
              floorDir,
              tasksFile,
              `w${index}`,
              String(LEASE_MS),
            ]),
        );
        try {
          await Promise.all(floorChildren.map((child) => child.next()));
          const start = performance.now();
          for (const child of floorChildren) child.send('go');
          let end = start;
          const claimed = await Promise.all(
            floorChildren.map(async (child) => {
              const { claimed } = await child.next<{ claimed: number }>();
              end = Math.max(end, performance.now());
              return claimed;
            }),
          );
          const total = claimed.reduce((sum, each) => sum + each, 0);
          if (total !== size) throw new Error(`the floor claimed ${total} tasks, not ${size}`);
          return end - start;
        } finally {
          await endAll(floorChildren);
        }
      });
    const [workers = [], floor = []] = await measureRounds([byWorkers, byFloor], rounds);
    return { workers, floor, tally };
  } finally {
    await endAll(children);
  }
}

/** Now, in epoch milliseconds with sub-millisecond precision (comparable across processes on one machine). */
const now = () => performance.timeOrigin + performance.now();

/**
 * Per-trial milliseconds from the start of a dependency's markPrMerged here to `work` starting on its dependent in
 * a worker process, and from a bare NOTIFY here to its arrival there, in alternating trials.
 */
async function measureWakeUp(
  connectionString: string,
  trials: number,
): Promise<{ wakeUp: number[]; bare: number[]; followMs: number }> {
  const table = tableName('bench_wu');
  const store = await PostgresTaskStore.connect({ connectionString, table, maxConnections: 2 });
  const notifier = new pg.Client({ connectionString });
  const [child] = workerChildren(1) as [LineChild];
  const run = runOptions();
  const followMs = run.followMs ?? DEFAULT_FOLLOW_MS;
  const childStore: ChildStore = { kind: 'postgres', connectionString, table, maxConnections: 2 };
  const wakeUp: number[] = [];
  const bare: number[] = [];
  try {
    await notifier.connect();
    child.send({ cmd: 'listen', connectionString });
    await child.next();
    let trial = 0;
    const byWorker = async () => {
      trial += 1;
      const prefix = `wake-${trial}/`;
      const graph = wakeUpGraph(prefix);
      const dependency = `${prefix}dependency`;
      const here = await DurableTaskGraphRuntime.open(store, graph, {
        workerId: 'bench',
        leaseMs: LEASE_MS,
      });
      try {
        await here.markRunning(dependency);
        await here.markPrCreated(dependency, PR_URL);
        child.send({ cmd: 'wake', trial, store: childStore, prefix, run });
        await child.next(); // opened, its worker running
        const phase = (trial * PHASE_STEP) % 1;
        await new Promise((resolve) => setTimeout(resolve, phase * followMs));
        const start = now();
        await here.markPrMerged(dependency);
        const line = await child.next<{ trial: number; at: number }>();
        if (line.trial !== trial)
          throw new Error(`the child answered trial ${line.trial}, not ${trial}`);
        wakeUp.push(line.at - start);
        const { outcome } = await child.next<{ outcome: string }>();
        if (outcome !== 'succeeded') throw new Error(`the worker process's run ended ${outcome}`);
      } finally {
        here.close();
      }
    };
    const byBareNotify = async () => {
      trial += 1;
      const start = now();
      await notifier.query(`NOTIFY bench_workers_bare, '${trial}'`);
      const line = await child.next<{ trial: number; at: number }>();
      if (line.trial !== trial)
        throw new Error(`the child answered trial ${line.trial}, not ${trial}`);
      bare.push(line.at - start);
    };
    await alternate(2, [byWorker, byBareNotify]); // untimed warm-up
    wakeUp.length = 0;
    bare.length = 0;
    await alternate(trials, [byWorker, byBareNotify]);
  } finally {
    await endAll([child]);
    await store.close();
    await dropTables(notifier, table, `${table}_floor`).catch((error: unknown) =>
      log(`could not drop the bench tables: ${(error as Error).message}`),
    );
    await notifier.end().catch(() => undefined);
  }
  return { wakeUp, bare, followMs };
}

const perTask = (ms: readonly number[], size: number) => ms.map((value) => value / size);

export const sharedWorkersGroup: BenchGroup = {
  name: 'shared-workers',
  async measure(settings: Settings) {
    const rows = [];
    // A round of 2,000 tasks on one side takes from seconds to a minute: a few long measurements.
    const rounds = settings.quick ? 1 : 3;
    const workers = `concurrency ${concurrency()}`;
    const pgSize = settings.quick ? 200 : 2_000;
    const connectionString = process.env.TASK_RUNTIME_PG_URL;
    const hasPostgres = connectionString !== undefined && connectionString !== '';
    if (hasPostgres) {
      const count = pgSize.toLocaleString('en-US');
      log(
        `shared run by ${PG_PROCESSES} worker processes on PostgreSQL (${count} tasks, ${workers})`,
      );
      const measured = await measurePostgres(connectionString, pgSize, rounds);
      log(`worker processes on PostgreSQL, ${measured.tally.describe(PG_PROCESSES)}`);
      const processes: Timed = {
        what: `${PG_PROCESSES} processes: DurableTaskGraphRuntime.open shared + GraphWorker.run(), no-op handlers, ${workers}, pools of ${PG_CONNECTIONS}`,
        ms: perTask(measured.workers, pgSize),
      };
      rows.push(
        opsRow(
          `shared workers: ${PG_PROCESSES} processes on PostgreSQL (${count} tasks) vs bare statements`,
          processes,
          {
            what: `bare SKIP LOCKED claim + 3 compare-and-set UPDATEs per task, ${SHARED_WORKERS} connections (no dependencies)`,
            ms: perTask(measured.floor, pgSize),
          },
          THROUGHPUT_TARGET,
        ),
        opsRow(
          `shared workers: ${PG_PROCESSES} processes on PostgreSQL (${count} tasks) vs claimReady + 3 saves in one process`,
          processes,
          { what: measured.whatStore, ms: perTask(measured.store, pgSize) },
          null,
        ),
      );
    } else {
      log(
        'shared-workers PostgreSQL rows skipped: set TASK_RUNTIME_PG_URL, or run `.ci/with-postgres npm run bench`',
      );
    }
    const fileSize = settings.quick ? 100 : 2_000;
    const fileCount = fileSize.toLocaleString('en-US');
    log(
      `shared run by ${FILE_PROCESSES} worker processes on one FileTaskStore (${fileCount} tasks, ${workers})`,
    );
    const file = await measureFile(fileSize, rounds);
    log(`worker processes on FileTaskStore, ${file.tally.describe(FILE_PROCESSES)}`);
    rows.push(
      opsRow(
        `shared workers: ${FILE_PROCESSES} processes on one FileTaskStore (${fileCount} tasks) vs bare file operations`,
        {
          what: `${FILE_PROCESSES} processes: DurableTaskGraphRuntime.open shared + GraphWorker.run(), no-op handlers, ${workers}`,
          ms: perTask(file.workers, fileSize),
        },
        {
          what: `${FILE_PROCESSES} processes: exclusive lease file + 3 durable replacements per task, synchronous calls (no dependencies)`,
          ms: perTask(file.floor, fileSize),
        },
        THROUGHPUT_TARGET,
      ),
    );
    if (hasPostgres) {
      const trials = settings.quick ? 3 : 31;
      log(`wake-up latency through a GraphWorker in a worker process (${trials} trials)`);
      const { wakeUp, bare, followMs } = await measureWakeUp(connectionString, trials);
      const latency = median(wakeUp);
      rows.push({
        ...comparedRow(
          'shared workers: wake-up latency, merge in one process → dependent started by a GraphWorker in another (median)',
          {
            what: `markPrMerged here → work called in a worker process, followMs ${followMs} (${trials} trials)`,
            value: latency * 1e6,
            unit: 'ns/op',
          },
          {
            what: 'bare NOTIFY → LISTEN in the same worker process',
            value: median(bare) * 1e6,
            unit: 'ns/op',
          },
          ratioOf(wakeUp, bare),
          null,
        ),
        target: `≤ ${WAKE_UP_TARGET_MS} ms`,
        pass: latency <= WAKE_UP_TARGET_MS,
      });
    }
    return rows;
  },
};
