/*
 * `npm run bench`: what the facade costs over raw XState, over no machine at all, and what durability costs,
 * as ratios against baselines measured in the same run, interleaved with them (absolute times vary ±20% on
 * shared machines). Prints one table and writes bench/results.json (or $BENCH_RESULTS). BENCH_QUICK=1 runs a
 * smoke-sized version in seconds; BENCH_ONLY=store,history runs only the groups named. A missed target is
 * reported, never an exit code.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createActor } from 'xstate';
import { IllegalTransitionError } from '../src/errors.js';
import { type TaskEvent, taskMachine } from '../src/machines/taskMachine.js';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { dashboardRow } from './dashboard.js';
import {
  LIFECYCLE_EVENTS,
  runLifecycle,
  runRawLifecycle,
  typicalActor,
  typicalRuntime,
  typicalTask,
} from './fixtures.js';
import { graphSink, measureGraphCommands, measureOpen, measureReady } from './graph.js';
import { measureGroup, median, prepared, type Settings, settingsFor, timed } from './harness.js';
import type { MemoryReport } from './memory.js';
import { measurePostgres } from './postgres.js';
import { initialState, type ReducerState, reduce } from './reducer.js';
import { measureStore, storeSink } from './store.js';
import { measureHistory } from './storeHistory.js';

/** A measured or baseline figure: what it is, its value and its unit. */
export interface Figure {
  readonly what: string;
  readonly value: number;
  readonly unit: 'ns/op' | 'bytes/runtime' | 'bytes' | 'ops/s' | 'entries';
}

/** One row of the table and of results.json. */
export interface ResultRow {
  readonly name: string;
  readonly measured: Figure;
  readonly baseline: Figure | null;
  /** Median over the interleaved rounds of measured ÷ baseline (for ops/s rows: of the time per operation). */
  readonly ratio: number | null;
  /** The goal, e.g. `≤ 1.2×`, or `reported` when the row is there to inform. */
  readonly target: string;
  /** Whether the target was met; null for reported rows. */
  readonly pass: boolean | null;
}

/** The whole of results.json. */
export interface BenchResults {
  readonly generatedAt: string;
  readonly mode: 'quick' | 'full';
  readonly machine: { readonly node: string; readonly cpu: string; readonly cores: number };
  readonly settings: Settings;
  readonly durationSeconds: number;
  readonly rows: readonly ResultRow[];
}

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const settings = settingsFor(process.env.BENCH_QUICK === '1');
const resultsPath = process.env.BENCH_RESULTS ?? `${root}bench/results.json`;
const task = typicalTask();
const CONCERN = 'the retry hid a flaky test';
const START: TaskEvent = { type: 'START' };
const POOL = 64;
const POOL_REUSE = 16;
const LIFECYCLES = 16;
let sink = 0;

const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

/** A pool of `size` fresh items, replaced after `reuse` iterations (so that concerns grow by at most `reuse`). */
function pool<T>(create: () => T, size = POOL, reuse = POOL_REUSE): () => readonly T[] {
  let items: readonly T[] = [];
  let uses = reuse;
  return () => {
    if (uses >= reuse) {
      items = Array.from({ length: size }, create);
      uses = 0;
    }
    uses += 1;
    return items;
  };
}

const rawActor = () => createActor(taskMachine, { input: { task } }).start();

/** Ratio rows from per-round timings: the median of the per-round ratios. */
function ratioOf(measured: readonly number[], baseline: readonly number[]): number {
  return median(measured.map((value, round) => value / (baseline[round] ?? Number.NaN)));
}

function timeRow(
  name: string,
  timings: Map<string, number[]>,
  measured: string,
  baseline: string,
  maxRatio: number | null,
): ResultRow {
  const a = timings.get(measured) ?? [];
  const b = timings.get(baseline) ?? [];
  const ratio = ratioOf(a, b);
  return {
    name,
    measured: { what: measured, value: median(a), unit: 'ns/op' },
    baseline: { what: baseline, value: median(b), unit: 'ns/op' },
    ratio,
    target: maxRatio === null ? 'reported' : `≤ ${maxRatio}×`,
    pass: maxRatio === null ? null : ratio <= maxRatio,
  };
}

function commandGroup(): ResultRow[] {
  log('commands, refusals and state reads');
  const refusing = new TaskRuntime(task);
  const reader = typicalRuntime();
  const timings = measureGroup(
    [
      prepared(
        'TaskRuntime.addConcern',
        POOL,
        pool(() => new TaskRuntime(task)),
        (runtimes) => {
          for (const runtime of runtimes) runtime.addConcern(CONCERN);
        },
      ),
      prepared('raw actor.send(ADD_CONCERN)', POOL, pool(rawActor), (actors) => {
        for (const actor of actors) actor.send({ type: 'ADD_CONCERN', concern: CONCERN });
      }),
      timed('TaskRuntime.markPrMerged() in pending, caught', POOL, () => {
        for (let i = 0; i < POOL; i += 1) {
          try {
            refusing.markPrMerged();
          } catch (error) {
            if (!(error instanceof IllegalTransitionError)) throw error;
            sink += 1;
          }
        }
      }),
      timed('TaskRuntime.state + .status', 1_000, () => {
        for (let i = 0; i < 1_000; i += 1) {
          sink += reader.state.attemptNum;
          if (reader.status === 'failed') sink += 1;
        }
      }),
    ],
    settings,
  );
  return [
    timeRow(
      'accepted command: addConcern',
      timings,
      'TaskRuntime.addConcern',
      'raw actor.send(ADD_CONCERN)',
      1.2,
    ),
    timeRow(
      'refused command (IllegalTransitionError)',
      timings,
      'TaskRuntime.markPrMerged() in pending, caught',
      'TaskRuntime.addConcern',
      3,
    ),
    timeRow(
      'state read: state + status',
      timings,
      'TaskRuntime.state + .status',
      'TaskRuntime.addConcern',
      0.1,
    ),
  ];
}

function lifecycleGroup(): ResultRow[] {
  log('lifecycles');
  const timings = measureGroup(
    [
      prepared(
        'TaskRuntime lifecycle (5 commands)',
        LIFECYCLES,
        () => Array.from({ length: LIFECYCLES }, () => new TaskRuntime(task)),
        (runtimes) => {
          for (const runtime of runtimes) runLifecycle(runtime);
        },
      ),
      prepared(
        'raw actor lifecycle (5 events)',
        LIFECYCLES,
        () => Array.from({ length: LIFECYCLES }, rawActor),
        (actors) => {
          for (const actor of actors) runRawLifecycle(actor);
        },
      ),
      prepared(
        'hand-written reducer lifecycle (5 events)',
        LIFECYCLES,
        () => Array.from({ length: LIFECYCLES }, () => initialState({ task })),
        (states) => {
          for (const initial of states) {
            let state: ReducerState | null = initial;
            for (const event of LIFECYCLE_EVENTS)
              state = state === null ? null : reduce(state, event);
            if (state?.status !== 'pr_merged') throw new Error('the reducer did not merge');
          }
        },
      ),
    ],
    settings,
  );
  return [
    timeRow(
      'accepted command: lifecycle pending → pr_merged',
      timings,
      'TaskRuntime lifecycle (5 commands)',
      'raw actor lifecycle (5 events)',
      1.2,
    ),
    timeRow(
      'reference: facade vs hand-written reducer',
      timings,
      'TaskRuntime lifecycle (5 commands)',
      'hand-written reducer lifecycle (5 events)',
      null,
    ),
    timeRow(
      'reference: raw machine vs hand-written reducer',
      timings,
      'raw actor lifecycle (5 events)',
      'hand-written reducer lifecycle (5 events)',
      null,
    ),
  ];
}

function canGroup(): ResultRow[] {
  log('legality checks');
  const runtime = new TaskRuntime(task);
  const actor = rawActor();
  const timings = measureGroup(
    [
      timed('TaskRuntime.can(START)', 256, () => {
        for (let i = 0; i < 256; i += 1) if (runtime.can(START)) sink += 1;
      }),
      timed('raw snapshot.can(START)', 256, () => {
        for (let i = 0; i < 256; i += 1) if (actor.getSnapshot().can(START)) sink += 1;
      }),
    ],
    settings,
  );
  return [
    timeRow(
      'legality check: can(event)',
      timings,
      'TaskRuntime.can(START)',
      'raw snapshot.can(START)',
      1.2,
    ),
  ];
}

function createGroup(): ResultRow[] {
  log('creation');
  const created: unknown[] = [];
  const timings = measureGroup(
    [
      timed('new TaskRuntime(task)', 32, () => {
        for (let i = 0; i < 32; i += 1) created[i] = new TaskRuntime(task);
      }),
      timed('raw createActor(taskMachine, { input }).start()', 32, () => {
        for (let i = 0; i < 32; i += 1) created[i] = rawActor();
      }),
    ],
    settings,
  );
  sink += created.length;
  return [
    timeRow(
      'create',
      timings,
      'new TaskRuntime(task)',
      'raw createActor(taskMachine, { input }).start()',
      1.3,
    ),
  ];
}

function persistGroup(): ResultRow[] {
  log('persist and restore');
  const runtime = typicalRuntime();
  const actor = typicalActor();
  let restored: unknown;
  const timings = measureGroup(
    [
      timed('persist() + JSON round trip + TaskRuntime.restore()', 16, () => {
        for (let i = 0; i < 16; i += 1) {
          restored = TaskRuntime.restore(JSON.parse(JSON.stringify(runtime.persist())));
        }
      }),
      timed('raw getPersistedSnapshot() + createActor({ snapshot }).start()', 16, () => {
        for (let i = 0; i < 16; i += 1) {
          restored = createActor(taskMachine, {
            input: { task },
            snapshot: actor.getPersistedSnapshot(),
          }).start();
        }
      }),
      timed(
        'raw getPersistedSnapshot() + JSON round trip + createActor({ snapshot }).start()',
        16,
        () => {
          for (let i = 0; i < 16; i += 1) {
            restored = createActor(taskMachine, {
              input: { task },
              snapshot: JSON.parse(JSON.stringify(actor.getPersistedSnapshot())),
            }).start();
          }
        },
      ),
    ],
    settings,
  );
  sink += restored === undefined ? 0 : 1;
  return [
    timeRow(
      'persist/restore',
      timings,
      'persist() + JSON round trip + TaskRuntime.restore()',
      'raw getPersistedSnapshot() + createActor({ snapshot }).start()',
      1.5,
    ),
    timeRow(
      'persist/restore, both with a JSON round trip',
      timings,
      'persist() + JSON round trip + TaskRuntime.restore()',
      'raw getPersistedSnapshot() + JSON round trip + createActor({ snapshot }).start()',
      null,
    ),
  ];
}

const run = promisify(execFile);

async function memoryOf(kind: 'facade' | 'raw'): Promise<number> {
  const { stdout } = await run(process.execPath, [
    '--expose-gc',
    `${here}memory.js`,
    kind,
    String(settings.memoryCount),
  ]);
  return (JSON.parse(stdout) as MemoryReport).bytesPerItem;
}

async function memoryRow(): Promise<ResultRow> {
  log(`memory (${settings.memoryCount.toLocaleString('en-US')} live runtimes per child process)`);
  const facade: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < settings.memoryRounds; round += 1) {
    // ABBA order, so that neither side always runs first.
    if (round % 2 === 0) {
      facade.push(await memoryOf('facade'));
      raw.push(await memoryOf('raw'));
    } else {
      raw.push(await memoryOf('raw'));
      facade.push(await memoryOf('facade'));
    }
  }
  const ratio = ratioOf(facade, raw);
  const count = settings.memoryCount.toLocaleString('en-US');
  return {
    name: `memory: heap per live runtime (${count})`,
    measured: { what: 'new TaskRuntime(task)', value: median(facade), unit: 'bytes/runtime' },
    baseline: {
      what: 'raw createActor(taskMachine, { input }).start()',
      value: median(raw),
      unit: 'bytes/runtime',
    },
    ratio,
    target: '≤ 1.3×',
    pass: ratio <= 1.3,
  };
}

function snapshotSizeRow(): ResultRow {
  const bytes = Buffer.byteLength(JSON.stringify(typicalRuntime().persist()));
  const rawBytes = Buffer.byteLength(JSON.stringify(typicalActor().getPersistedSnapshot()));
  return {
    name: 'snapshot size (2 paths, 2 deps, 3 attempts, 3 concerns)',
    measured: { what: 'JSON.stringify(runtime.persist())', value: bytes, unit: 'bytes' },
    baseline: {
      what: 'JSON.stringify(actor.getPersistedSnapshot())',
      value: rawBytes,
      unit: 'bytes',
    },
    ratio: bytes / rawBytes,
    target: '≤ 2 KB',
    pass: bytes <= 2048,
  };
}

/** A row comparing per-round milliseconds per operation, shown as operations per second. */
function opsRow(
  name: string,
  measured: { what: string; ms: readonly number[] },
  baseline: { what: string; ms: readonly number[] },
  maxRatio: number | null,
): ResultRow {
  const ratio = ratioOf(measured.ms, baseline.ms);
  return {
    name,
    measured: { what: measured.what, value: 1_000 / median(measured.ms), unit: 'ops/s' },
    baseline: { what: baseline.what, value: 1_000 / median(baseline.ms), unit: 'ops/s' },
    ratio,
    target: maxRatio === null ? 'reported' : `≤ ${maxRatio}×`,
    pass: maxRatio === null ? null : ratio <= maxRatio,
  };
}

async function storeRows(): Promise<ResultRow[]> {
  const count = settings.storeTasks.toLocaleString('en-US');
  log(`file store (${count} tasks)`);
  const timings = await measureStore(settings);
  const persist = 'persist() + JSON.stringify';
  const floor = 'same JSON to a temp file, fsync, rename over, fsync dir';
  const oneRead = 'readdir + one readFile per task (64 at a time)';
  return [
    opsRow(
      `file store: save (${count} tasks)`,
      { what: 'FileTaskStore.save (fsync), one at a time', ms: timings.saveMs },
      { what: persist, ms: timings.saveBaselineMs },
      null,
    ),
    opsRow(
      `file store: load (${count} tasks)`,
      { what: 'FileTaskStore.load, one at a time', ms: timings.loadMs },
      { what: persist, ms: timings.loadBaselineMs },
      null,
    ),
    opsRow(
      'file store: save vs the fsync floor',
      { what: 'FileTaskStore.save (fsync), one at a time', ms: timings.saveMs },
      { what: floor, ms: timings.saveFloorMs },
      1.5,
    ),
    opsRow(
      `file store: list() of ${count} tasks vs one small read per task`,
      { what: 'FileTaskStore.list(), per task', ms: timings.listMs },
      { what: oneRead, ms: timings.listFloorMs },
      1.5,
    ),
    opsRow(
      `file store: listExpired() of ${count} tasks vs one small read per task`,
      { what: 'FileTaskStore.listExpired(), per task', ms: timings.listExpiredMs },
      { what: oneRead, ms: timings.listFloorMs },
      1.5,
    ),
  ];
}

async function historyRows(): Promise<ResultRow[]> {
  const long = settings.historyRevisions.toLocaleString('en-US');
  const short = settings.historyBase.toLocaleString('en-US');
  log(`file store history (${long} revisions vs ${short})`);
  const timings = await measureHistory(settings);
  const maxEntries = 10; // the guard file, `g/` and at most four generations (a directory and its document each)
  return [
    opsRow(
      `file store: save after ${long} revisions vs after ${short}`,
      { what: `FileTaskStore.save, task at ${long}+ revisions`, ms: timings.saveLongMs },
      { what: `FileTaskStore.save, task at ${short}+ revisions`, ms: timings.saveShortMs },
      1.25,
    ),
    opsRow(
      `file store: load after ${long} revisions vs after ${short}`,
      { what: `FileTaskStore.load, task at ${long}+ revisions`, ms: timings.loadLongMs },
      { what: `FileTaskStore.load, task at ${short}+ revisions`, ms: timings.loadShortMs },
      1.25,
    ),
    {
      name: `file store: files per task after ${long} revisions`,
      measured: {
        what: 'files and directories in the task directory',
        value: timings.entriesLong,
        unit: 'entries',
      },
      baseline: null,
      ratio: null,
      target: `≤ ${maxEntries}`,
      pass: timings.entriesLong <= maxEntries,
    },
  ];
}

async function graphRows(): Promise<ResultRow[]> {
  log('task graphs');
  const commands = measureGraphCommands(settings);
  const ready = measureReady(settings);
  const [readyLabel = '', handLabel = ''] = [...ready.keys()];
  const count = settings.storeTasks.toLocaleString('en-US');
  log(`opening a durable run of ${count} tasks`);
  const open = await measureOpen(settings);
  const openRatio = ratioOf(open.openMs, open.loadMs);
  return [
    timeRow(
      'graph command: lifecycle on a 1,000-task run vs a lone TaskRuntime',
      commands,
      'TaskGraphRuntime lifecycle on a 1,000-task graph',
      'TaskRuntime lifecycle, lone runtimes',
      1.2,
    ),
    timeRow('graph ready() vs a hand-written pass', ready, readyLabel, handLabel, 2),
    {
      name: `graph open: DurableTaskGraphRuntime.open of ${count} tasks vs loading them one by one`,
      measured: {
        what: 'DurableTaskGraphRuntime.open (FileTaskStore)',
        value: median(open.openMs) * 1e6,
        unit: 'ns/op',
      },
      baseline: {
        what: 'FileTaskStore.load of every task, one by one',
        value: median(open.loadMs) * 1e6,
        unit: 'ns/op',
      },
      ratio: openRatio,
      target: '≤ 1.5×',
      pass: openRatio <= 1.5,
    },
  ];
}

async function postgresRows(): Promise<ResultRow[]> {
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
}

function formatFigure(figure: Figure | null): string {
  if (figure === null) return '—';
  const { value, unit } = figure;
  const fixed = (n: number) => n.toLocaleString('en-US', { maximumSignificantDigits: 3 });
  switch (unit) {
    case 'ns/op':
      return value < 1_000
        ? `${fixed(value)} ns`
        : value < 1e6
          ? `${fixed(value / 1_000)} µs`
          : `${fixed(value / 1e6)} ms`;
    case 'bytes/runtime':
      return `${fixed(value / 1_024)} KiB`;
    case 'bytes':
      return `${Math.round(value).toLocaleString('en-US')} B`;
    case 'ops/s':
      return `${Math.round(value).toLocaleString('en-US')}/s`;
    case 'entries':
      return `${Math.round(value).toLocaleString('en-US')}`;
  }
}

function formatRatio(ratio: number | null): string {
  if (ratio === null) return '—';
  return `${ratio.toLocaleString('en-US', { maximumSignificantDigits: 3 })}×`;
}

/** The results as one Markdown table. */
export function formatTable(rows: readonly ResultRow[]): string {
  const cells = rows.map((row) => [
    row.name,
    formatFigure(row.measured),
    formatFigure(row.baseline),
    formatRatio(row.ratio),
    row.target,
    row.pass === null ? '—' : row.pass ? 'pass' : 'MISS',
  ]);
  const header = ['row', 'measured', 'baseline', 'ratio', 'target', 'result'];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((line) => (line[i] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    `| ${values.map((value, i) => value.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = line(widths.map((width) => '-'.repeat(width)));
  return [line(header), rule, ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  log(`${settings.quick ? 'quick' : 'full'} run, ${settings.rounds} interleaved rounds per group`);
  const groups: Record<string, () => ResultRow[] | Promise<ResultRow[]>> = {
    command: commandGroup,
    lifecycle: lifecycleGroup,
    can: canGroup,
    create: createGroup,
    persist: persistGroup,
    memory: async () => [await memoryRow()],
    size: () => [snapshotSizeRow()],
    store: storeRows,
    graph: graphRows,
    history: historyRows,
    postgres: postgresRows,
    dashboard: async () => [await dashboardRow(settings)],
  };
  const only = process.env.BENCH_ONLY?.split(',').filter((name) => name !== '');
  const unknown = only?.filter((name) => !(name in groups)) ?? [];
  if (unknown.length > 0) {
    throw new Error(
      `BENCH_ONLY names groups ${Object.keys(groups).join(', ')}; got ${unknown.join(', ')}`,
    );
  }
  const rows: ResultRow[] = [];
  for (const [name, group] of Object.entries(groups)) {
    if (only === undefined || only.includes(name)) rows.push(...(await group()));
  }
  const order = [
    'accepted command: addConcern',
    'accepted command: lifecycle pending → pr_merged',
    'refused command (IllegalTransitionError)',
    'legality check: can(event)',
    'state read: state + status',
    'create',
    'persist/restore',
    'persist/restore, both with a JSON round trip',
  ];
  const rank = (row: ResultRow) => {
    const index = order.indexOf(row.name);
    return index === -1 ? order.length : index;
  };
  rows.sort((a, b) => rank(a) - rank(b));
  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    mode: settings.quick ? 'quick' : 'full',
    machine: {
      node: process.version,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores: availableParallelism(),
    },
    settings,
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    rows,
  };
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${formatTable(rows)}\n`);
  const { machine } = results;
  log(
    `node ${machine.node}, ${machine.cpu}, ${machine.cores} cores; ${results.durationSeconds} s; ` +
      `wrote ${resultsPath} (checksum ${sink + storeSink() + graphSink()})`,
  );
}

await main();
