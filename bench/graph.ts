/*
 * Group `graph`: what the run's rules cost per command on a big graph compared with a lone TaskRuntime, ready()
 * compared with a hand-written pass over plain arrays, and opening a durable run compared with loading its
 * snapshots one by one.
 */
import { DurableTaskGraphRuntime } from '../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../src/graph/TaskGraphRuntime.js';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import type { TaskInput } from '../src/task/createTask.js';
import { PR_URL } from './fixtures.js';
import {
  alternate,
  keep,
  log,
  measureGroup,
  prepared,
  type Settings,
  timed,
  withTempDir,
} from './harness.js';
import { type BenchGroup, durationRow, timeRow } from './rows.js';

const LIFECYCLES = 16;
const WORKTREE = { worktreePath: '/tmp/worktrees/task', branchName: 'task/branch' };
let sink = 0;

/**
 * A graph of `size` tasks: a core of `core` tasks (the first tenth of them roots, the others depending on one or two
 * roots), and every other task depending on two or three core tasks. Deterministic.
 */
export function benchGraph(size: number, core = Math.max(10, Math.floor(size / 20))): TaskGraph {
  const id = (index: number) => `g${String(index).padStart(6, '0')}`;
  const roots = Math.max(1, Math.floor(core / 10));
  const tasks: TaskInput[] = Array.from({ length: size }, (_, index) => {
    const pool = index < roots ? 0 : index < core ? roots : core;
    const count = pool === 0 ? 0 : Math.min(pool, 2 + (index % 2));
    const dependencies = Array.from({ length: count }, (_, k) => id((index * 7 + k * 13) % pool));
    return { id: id(index), role: 'implementer', dependencies: [...new Set(dependencies)] };
  });
  return TaskGraph.fromTasks(tasks);
}

/** A run of `graph` with its core merged, so that every other task is ready. */
function runWithCoreMerged(graph: TaskGraph, core: number): TaskGraphRuntime {
  const run = new TaskGraphRuntime(graph);
  for (const id of graph.taskIds.slice(0, core)) {
    run.markRunning(id);
    run.markPrCreated(id, PR_URL);
    run.markPrMerged(id);
  }
  return run;
}

/** The per-task lifecycle an orchestrator runs: worktree, start, PR, merge. */
function lifecycleOnRun(run: TaskGraphRuntime, id: string): void {
  run.assignWorktree(id, WORKTREE);
  run.markRunning(id);
  run.markPrCreated(id, PR_URL);
  run.markPrMerged(id);
}

function lifecycleOnRuntime(runtime: TaskRuntime): void {
  runtime.assignWorktree(WORKTREE);
  runtime.markRunning();
  runtime.markPrCreated(PR_URL);
  runtime.markPrMerged();
}

/** Per-round ns per command: the same four commands on tasks of a 1,000-task run and on lone runtimes. */
function measureGraphCommands(settings: Settings): Map<string, number[]> {
  const size = 1_000;
  const core = 50;
  const graph = benchGraph(size, core);
  let run = runWithCoreMerged(graph, core);
  let next = core;
  const nextTasks = (): { run: TaskGraphRuntime; ids: string[] } => {
    if (next + LIFECYCLES > size) {
      run = runWithCoreMerged(graph, core);
      next = core;
    }
    const ids = graph.taskIds.slice(next, next + LIFECYCLES) as string[];
    next += LIFECYCLES;
    return { run, ids };
  };
  const loneTask = graph.task(graph.taskIds[core] as string);
  return measureGroup(
    [
      prepared(
        'TaskGraphRuntime lifecycle on a 1,000-task graph',
        LIFECYCLES * 4,
        nextTasks,
        (batch) => {
          for (const id of batch.ids) lifecycleOnRun(batch.run, id);
        },
      ),
      prepared(
        'TaskRuntime lifecycle, lone runtimes',
        LIFECYCLES * 4,
        () => Array.from({ length: LIFECYCLES }, () => new TaskRuntime(loneTask)),
        (runtimes) => {
          for (const runtime of runtimes) lifecycleOnRuntime(runtime);
        },
      ),
    ],
    settings,
  );
}

/** Per-round ns per task: ready() on a 10,000-task run, and a hand-written pass over plain arrays of the same state. */
function measureReady(settings: Settings): Map<string, number[]> {
  const size = settings.quick ? 1_000 : 10_000;
  const core = Math.floor(size / 20);
  const graph = benchGraph(size, core);
  const run = runWithCoreMerged(graph, core);
  // A run in progress: some tasks running, some failed.
  graph.taskIds.slice(core, core + 100).forEach((id, index) => {
    run.markRunning(id);
    if (index % 2 === 0) run.markFailed(id, 'tests failed');
  });
  const ids = [...graph.taskIds];
  const indexOf = new Map(ids.map((id, index) => [id, index]));
  const statuses = ids.map((id) => run.task(id).status as string);
  const used = ids.map((id) =>
    run.task(id).attempts.some((a) => a.attemptNum === run.task(id).state.attemptNum),
  );
  const dependencies = ids.map((id) =>
    graph.dependenciesOf(id).map((d) => indexOf.get(d) as number),
  );
  const expected = run.ready().length;
  const handWritten = (): string[] => {
    const ready: string[] = [];
    for (let i = 0; i < ids.length; i += 1) {
      if (statuses[i] !== 'pending' || used[i]) continue;
      let merged = true;
      for (const d of dependencies[i] as number[]) {
        if (statuses[d] !== 'pr_merged') {
          merged = false;
          break;
        }
      }
      if (merged) ready.push(ids[i] as string);
    }
    return ready;
  };
  if (handWritten().length !== expected)
    throw new Error('the hand-written pass disagrees with ready()');
  return measureGroup(
    [
      timed(`TaskGraphRuntime.ready() on ${size.toLocaleString('en-US')} tasks`, size, () => {
        sink += run.ready().length;
      }),
      timed(`hand-written pass over ${size.toLocaleString('en-US')} tasks`, size, () => {
        sink += handWritten().length;
      }),
    ],
    settings,
  );
}

/** Per-round ms: DurableTaskGraphRuntime.open of a stored run, and loading the same snapshots one by one. */
async function measureOpen(settings: Settings): Promise<{ openMs: number[]; loadMs: number[] }> {
  const size = settings.storeTasks;
  const graph = benchGraph(size);
  return withTempDir('graph', async (dir) => {
    const store = await FileTaskStore.open(dir);
    await DurableTaskGraphRuntime.open(store, graph, { maxAttempts: 3 });
    const openMs: number[] = [];
    const loadMs: number[] = [];
    const open = async () => {
      const start = performance.now();
      const run = await DurableTaskGraphRuntime.open(store, graph, { maxAttempts: 3 });
      openMs.push(performance.now() - start);
      sink += run.ready().length;
    };
    const load = async () => {
      const start = performance.now();
      for (const id of graph.taskIds) sink += (await store.load(id))?.revision ?? 0;
      loadMs.push(performance.now() - start);
    };
    await alternate(Math.min(settings.rounds, 5), [open, load]);
    await store.close();
    return { openMs, loadMs };
  });
}

export const graphGroup: BenchGroup = {
  name: 'graph',
  async measure(settings) {
    log('task graphs');
    const commands = measureGraphCommands(settings);
    const ready = measureReady(settings);
    const [readyLabel = '', handLabel = ''] = [...ready.keys()];
    const count = settings.storeTasks.toLocaleString('en-US');
    log(`opening a durable run of ${count} tasks`);
    const open = await measureOpen(settings);
    keep(sink);
    return [
      timeRow(
        'graph command: lifecycle on a 1,000-task run vs a lone TaskRuntime',
        commands,
        'TaskGraphRuntime lifecycle on a 1,000-task graph',
        'TaskRuntime lifecycle, lone runtimes',
        1.2,
      ),
      timeRow('graph ready() vs a hand-written pass', ready, readyLabel, handLabel, 2),
      durationRow(
        `graph open: DurableTaskGraphRuntime.open of ${count} tasks vs loading them one by one`,
        { what: 'DurableTaskGraphRuntime.open (FileTaskStore)', ms: open.openMs },
        { what: 'FileTaskStore.load of every task, one by one', ms: open.loadMs },
        1.5,
      ),
    ];
  },
};
