/*
 * A worker process of the shared-workers rows (bench/sharedWorkers.ts), on the package's public API only. Usage:
 *   node sharedWorkersChild.js <workerId>
 * Reads one JSON command a line on stdin and answers with JSON lines on stdout:
 * - `{ cmd: 'open', store, prefix, size, run }`: connects the store (`{ kind: 'postgres', connectionString, table,
 *   maxConnections }` or `{ kind: 'file', dir }`), opens the shared run of the bench graph of `size` tasks prefixed
 *   with `prefix` (bench/sharedWorkersGraph.ts) with `DurableTaskGraphRuntime.open(store, graph, { workerId, ...run })`,
 *   and answers `{ opened: true }`;
 * - `{ cmd: 'go', concurrency }`: runs `new GraphWorker(run, { work, merge, concurrency }).run()` with no-op handlers
 *   and answers `{ outcome, ms, cpuMs, started, claimedElsewhere, refused, refusals, followed }` (this process's milliseconds
 *   from the command to the outcome, the CPU time it used meanwhile, the attempts it started, its markRunning refused because another worker held the lease,
 *   its other commands refused (and how many of each event and reason), the follows it heard), then closes the run and the store;
 * - `{ cmd: 'wake', trial, store, prefix, run }`: opens the shared run of a dependency and its dependent
 *   (bench/sharedWorkersGraph.ts) and starts a GraphWorker on it (concurrency 1); answers `{ opened: true }` once it
 *   runs, `{ trial, at }` (epoch ms) when `work` is called for the dependent, and `{ outcome }` when `run()` ends;
 * - `{ cmd: 'listen', connectionString }`: LISTENs on `bench_workers_bare` with a plain connection and answers
 *   `{ listening: true }`; each NOTIFY on it is answered `{ trial: <payload>, at }`.
 * Ends, closing what it opened, when stdin ends (so a bench process that dies takes its workers with it).
 */
import { createInterface } from 'node:readline';
import pg from 'pg';
import {
  DurableTaskGraphRuntime,
  type DurableTaskGraphRuntimeOptions,
  FileTaskStore,
  GraphWorker,
  PostgresTaskStore,
  type TaskStore,
} from '../src/index.js';
import { prefixedBenchGraph, wakeUpGraph } from './sharedWorkersGraph.js';

/** The store a command names. */
export type ChildStore =
  | {
      readonly kind: 'postgres';
      readonly connectionString: string;
      readonly table: string;
      readonly maxConnections: number;
    }
  | { readonly kind: 'file'; readonly dir: string };

/** The shared-run options a command gives `DurableTaskGraphRuntime.open` (besides the worker id). */
export type ChildRunOptions = Pick<DurableTaskGraphRuntimeOptions, 'leaseMs' | 'followMs'>;

/** The commands of the bench process. */
export type ChildCommand =
  | {
      readonly cmd: 'open';
      readonly store: ChildStore;
      readonly prefix: string;
      readonly size: number;
      readonly run: ChildRunOptions;
    }
  | { readonly cmd: 'go'; readonly concurrency: number }
  | {
      readonly cmd: 'wake';
      readonly trial: number;
      readonly store: ChildStore;
      readonly prefix: string;
      readonly run: ChildRunOptions;
    }
  | { readonly cmd: 'listen'; readonly connectionString: string };

const PR_URL = 'https://github.com/acme/app/pull/7';
const workerId = process.argv[2];
if (workerId === undefined) {
  process.stderr.write('usage: sharedWorkersChild.js <workerId>\n');
  process.exit(2);
}
const now = () => performance.timeOrigin + performance.now();
const send = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

function connect(store: ChildStore): Promise<TaskStore> {
  return store.kind === 'file'
    ? FileTaskStore.open(store.dir)
    : PostgresTaskStore.connect({
        connectionString: store.connectionString,
        table: store.table,
        migrate: false,
        maxConnections: store.maxConnections,
      });
}

/** What this process holds open: the store and run opened for the next `go`, the wake-up trials' store, LISTEN's connection. */
const held: {
  opened: { store: TaskStore; run: DurableTaskGraphRuntime } | null;
  wakeStore: TaskStore | null;
  bare: pg.Client | null;
} = { opened: null, wakeStore: null, bare: null };

async function open(command: Extract<ChildCommand, { cmd: 'open' }>): Promise<void> {
  const store = await connect(command.store);
  const graph = prefixedBenchGraph(command.size, command.prefix);
  const run = await DurableTaskGraphRuntime.open(store, graph, {
    ...command.run,
    workerId: workerId as string,
  });
  held.opened = { store, run };
  send({ opened: true });
}

async function go(concurrency: number): Promise<void> {
  if (held.opened === null) throw new Error('go before open');
  const { store, run } = held.opened;
  held.opened = null;
  let started = 0;
  let refused = 0;
  let claimedElsewhere = 0;
  let followed = 0;
  const refusals: Record<string, number> = {};
  const unsubscribe = run.subscribe((record) => {
    if (!record.rejected) {
      if (record.event === 'START') started += 1;
    } else if (record.reason === 'claimedByAnotherWorker') claimedElsewhere += 1;
    else {
      refused += 1;
      const what = `${record.event} ${record.reason}`;
      refusals[what] = (refusals[what] ?? 0) + 1;
    }
  });
  const unwatch = run.watch((event) => {
    if (event.type === 'followed') followed += 1;
  });
  const start = performance.now();
  const cpuAtStart = process.cpuUsage();
  const outcome = await new GraphWorker(run, {
    work: async () => ({ prUrl: PR_URL }),
    merge: async () => {},
    concurrency,
  }).run();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  unsubscribe();
  unwatch();
  run.close();
  await store.close();
  send({ outcome, ms, cpuMs, started, claimedElsewhere, refused, refusals, followed });
}

async function wake(command: Extract<ChildCommand, { cmd: 'wake' }>): Promise<void> {
  held.wakeStore ??= await connect(command.store);
  const graph = wakeUpGraph(command.prefix);
  const dependent = `${command.prefix}dependent`;
  const run = await DurableTaskGraphRuntime.open(held.wakeStore, graph, {
    ...command.run,
    workerId: workerId as string,
  });
  const worker = new GraphWorker(run, {
    work: async (task) => {
      if (task.task.id === dependent) send({ trial: command.trial, at: now() });
      return { prUrl: PR_URL };
    },
    merge: async () => {},
  });
  const done = worker.run();
  send({ opened: true });
  const outcome = await done;
  run.close();
  send({ outcome });
}

async function listen(connectionString: string): Promise<void> {
  const bare = new pg.Client({ connectionString });
  held.bare = bare;
  await bare.connect();
  bare.on('notification', (message) => send({ trial: Number(message.payload), at: now() }));
  await bare.query('LISTEN bench_workers_bare');
  send({ listening: true });
}

const failed = (error: unknown) => {
  process.stderr.write(`sharedWorkersChild ${workerId}: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
};

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as ChildCommand;
  // `go` and `wake` answer when their run ends; the next command may come meanwhile (wake: the bench's merge).
  if (command.cmd === 'open') await open(command).catch(failed);
  else if (command.cmd === 'go') void go(command.concurrency).catch(failed);
  else if (command.cmd === 'wake') void wake(command).catch(failed);
  else if (command.cmd === 'listen') await listen(command.connectionString).catch(failed);
}
held.opened?.run.close();
await held.opened?.store.close();
await held.wakeStore?.close();
await held.bare?.end();
