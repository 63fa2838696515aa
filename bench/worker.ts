/*
 * Group `worker`: what GraphWorker adds to the run it executes. A 2,000-task run with no-op handlers at concurrency 8
 * against the same commands issued in a plain loop; the same run on a DurableTaskGraphRuntime over a FileTaskStore
 * against the same saves made directly through the store; and the heap an attempt holds while it is in flight
 * against the least any worker must hold for one.
 *
 * Fairness:
 * - Each side of a comparison gets a fresh run (and a fresh store) built the same way outside the timed part, and a
 *   full GC before it; the measured side's time includes building the GraphWorker and its whole run().
 * - The loop issues markRunning, markPrCreated and markPrMerged per task in the graph's topological order (the order
 *   ready() lists tasks in), which it knows beforehand: the cheapest way to drive the run to the end.
 * - The durable sides start from copies of one store in which the run's tasks were created (opening or creating
 *   2,000 tasks is not what is measured), each synced to disk and opened as a DurableTaskGraphRuntime (which loads
 *   every task) before the timed part. The floor replays the saves that a recorded run of the worker made (same
 *   snapshots, same order, each with its expected revision) through `store.save`, one at a time like the run's
 *   queue. Both stop the clock when their last save has resolved; the store's background compaction is flushed
 *   afterwards, untimed. fsync dominates both sides, so this row mostly tells whether anything but the saves grew.
 * - The heap of N attempts in flight (their `work` awaiting a promise that is resolved after the measurement) is the
 *   heap used after a full GC minus that of the same run before the attempts started, divided by N. Its floor holds
 *   the same N attempts the cheapest way: each task marked running and, in a Map, the attempt its handler is given
 *   (task id, number, a signal made when first read) with the promise of the handler's outcome; both sides hand the
 *   handler the task's view. Target ≤ 2× the floor: the floor is what any worker must hold per attempt (the run's
 *   running state, the view, the handler's suspended call), and the worker may spend as much again on its own
 *   bookkeeping (its Attempt, a context with four commands, the steps of the attempt waiting); beyond that, memory
 *   grows with concurrency for nothing the contract asks for.
 */
import { execFile } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DurableTaskGraphRuntime } from '../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../src/graph/TaskGraph.js';
import { type RunOutcome, TaskGraphRuntime } from '../src/graph/TaskGraphRuntime.js';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import type {
  DeleteOptions,
  Lease,
  LeaseOptions,
  LeaseRef,
  SaveOptions,
  StoredTask,
  TaskStore,
} from '../src/store/TaskStore.js';
import { GraphWorker } from '../src/worker/GraphWorker.js';
import type { GraphWorkerOptions } from '../src/worker/options.js';
import { PR_URL } from './fixtures.js';
import { benchGraph } from './graph.js';
import { alternate, keep, log, median, type Settings, withTempDir } from './harness.js';
import { type BenchGroup, comparedRow, durationRow, ratioOf, type Timed } from './rows.js';

const CONCURRENCY = 8;
const RUN_TASKS = 2_000;
/** Untimed rounds of each in-memory side before the measured ones. */
const WARM_UP_ROUNDS = 3;
const execFileAsync = promisify(execFile);
let sink = 0;

/** No-op handlers: `work` opens a PR at once, `merge` merges it at once. */
function noOpOptions(concurrency: number): GraphWorkerOptions {
  return { work: () => ({ prUrl: PR_URL }), merge: () => {}, concurrency };
}

function requireSucceeded(outcome: RunOutcome, what: string): void {
  if (outcome !== 'succeeded') throw new Error(`${what} ended ${outcome}, not succeeded`);
}

/** The heap used after two full collections. */
function heapUsed(): number {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('run the bench with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Milliseconds of `run`, after a full collection so that no garbage of the preparation is collected in it. */
async function timeAfterGc(run: () => Promise<void> | void): Promise<number> {
  globalThis.gc?.();
  const start = performance.now();
  await run();
  return performance.now() - start;
}

/** The plain loop: the three commands per task, in topological order. */
function commandsInALoop(run: TaskGraphRuntime, order: readonly string[]): void {
  for (const id of order) {
    run.markRunning(id);
    run.markPrCreated(id, PR_URL);
    run.markPrMerged(id);
  }
}

/** Per-round ms of a GraphWorker run and of the plain loop, each on a fresh TaskGraphRuntime of `graph`. */
async function measureInMemory(
  graph: TaskGraph,
  rounds: number,
): Promise<{ worker: number[]; loop: number[] }> {
  const order = graph.taskIds;
  const worker: number[] = [];
  const loop: number[] = [];
  const byWorker = async (into: number[] | null) => {
    const run = new TaskGraphRuntime(graph);
    const ms = await timeAfterGc(async () => {
      requireSucceeded(await new GraphWorker(run, noOpOptions(CONCURRENCY)).run(), 'the worker');
    });
    into?.push(ms);
  };
  const byLoop = async (into: number[] | null) => {
    const run = new TaskGraphRuntime(graph);
    const ms = await timeAfterGc(() => commandsInALoop(run, order));
    requireSucceeded(run.outcome, 'the loop');
    into?.push(ms);
  };
  // Warm-up: the worker has more code for the JIT to optimize than the loop.
  await alternate(WARM_UP_ROUNDS, [() => byWorker(null), () => byLoop(null)]);
  await alternate(rounds, [() => byWorker(worker), () => byLoop(loop)]);
  return { worker, loop };
}

/**
 * Writes the file system of `path` to disk (`sync -f`, Linux), so that the writeback of a fresh copy does not land in
 * the timed part of whichever side comes next; elsewhere the copy is left to the kernel.
 */
async function syncFileSystem(path: string): Promise<void> {
  await execFileAsync('sync', ['-f', path]).catch(() => undefined);
}

/** One `store.save` a run made: what it saved, and the revision it expected. */
interface RecordedSave {
  readonly taskId: string;
  readonly snapshot: unknown;
  readonly expectedRevision: number | null;
}

/** A TaskStore that passes every call to `inner` and records the saves that succeeded, in order. */
class RecordingStore implements TaskStore {
  readonly saves: RecordedSave[] = [];
  readonly #inner: TaskStore;

  constructor(inner: TaskStore) {
    this.#inner = inner;
  }

  load(taskId: string): Promise<StoredTask | null> {
    return this.#inner.load(taskId);
  }

  async save(taskId: string, snapshot: unknown, options: SaveOptions): Promise<number> {
    const revision = await this.#inner.save(taskId, snapshot, options);
    this.saves.push({ taskId, snapshot, expectedRevision: options.expectedRevision });
    return revision;
  }

  delete(taskId: string, options: DeleteOptions): Promise<void> {
    return this.#inner.delete(taskId, options);
  }

  list(): Promise<string[]> {
    return this.#inner.list();
  }

  claim(taskId: string, workerId: string, options: LeaseOptions): Promise<Lease | null> {
    return this.#inner.claim(taskId, workerId, options);
  }

  renew(taskId: string, lease: LeaseRef, options: LeaseOptions): Promise<Lease> {
    return this.#inner.renew(taskId, lease, options);
  }

  release(taskId: string, lease: LeaseRef): Promise<void> {
    return this.#inner.release(taskId, lease);
  }

  listExpired(): Promise<string[]> {
    return this.#inner.listExpired();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * Per-round ms of a GraphWorker run on a DurableTaskGraphRuntime over a FileTaskStore, and of the same saves replayed
 * through the store; each on its own copy of a store in which every task of `graph` is created, opened untimed.
 */
async function measureDurable(
  graph: TaskGraph,
  rounds: number,
): Promise<{ worker: number[]; floor: number[]; saves: number }> {
  return withTempDir('worker', async (dir) => {
    const template = join(dir, 'template');
    const created = await FileTaskStore.open(template);
    await DurableTaskGraphRuntime.open(created, graph);
    await created.close();
    let copies = 0;
    /** A fresh store, copied from the template, and the durable run opened on it (`wrap` sees every call). */
    const prepare = async (wrap: (store: TaskStore) => TaskStore = (store) => store) => {
      const copy = join(dir, `copy-${copies++}`);
      await cp(template, copy, { recursive: true });
      await syncFileSystem(copy);
      const fileStore = await FileTaskStore.open(copy);
      const store = wrap(fileStore);
      const run = await DurableTaskGraphRuntime.open(store, graph);
      const dispose = async () => {
        await fileStore.close(); // waits for the background compaction
        await rm(copy, { recursive: true, force: true });
      };
      return { store, run, dispose };
    };
    // The run whose saves the floor replays; also the warm-up of the worker's path and of the store's.
    const recorded = await prepare((store) => new RecordingStore(store));
    requireSucceeded(
      await new GraphWorker(recorded.run, noOpOptions(CONCURRENCY)).run(),
      'the worker',
    );
    await recorded.dispose();
    const saves = recorded.store instanceof RecordingStore ? recorded.store.saves : [];
    if (saves.length !== graph.size * 3) {
      throw new Error(`the run saved ${saves.length} times, not 3 per task (${graph.size * 3})`);
    }
    const worker: number[] = [];
    const floor: number[] = [];
    const byWorker = async () => {
      const { run, dispose } = await prepare();
      worker.push(
        await timeAfterGc(async () => {
          requireSucceeded(
            await new GraphWorker(run, noOpOptions(CONCURRENCY)).run(),
            'the worker',
          );
        }),
      );
      await dispose();
    };
    const byStore = async () => {
      const { store, dispose } = await prepare();
      floor.push(
        await timeAfterGc(async () => {
          for (const { taskId, snapshot, expectedRevision } of saves) {
            sink += await store.save(taskId, snapshot, { expectedRevision });
          }
        }),
      );
      await dispose();
    };
    await alternate(rounds, [byWorker, byStore]);
    return { worker, floor, saves: saves.length };
  });
}

/** A graph of `count` tasks without dependencies: all of them ready at once. */
function independentTasks(count: number): TaskGraph {
  return TaskGraph.fromTasks(
    Array.from({ length: count }, (_, index) => ({
      id: `a${String(index).padStart(6, '0')}`,
      role: 'implementer',
    })),
  );
}

/**
 * The least a worker holds per attempt in flight besides the run's state and the handler's call: the attempt its
 * handler is given (the task, its number, a signal made when first read) and the promise of its outcome.
 */
class FloorAttempt {
  readonly taskId: string;
  readonly attemptNum = 0;
  done: Promise<void> | null = null;
  #controller: AbortController | null = null;

  constructor(taskId: string) {
    this.taskId = taskId;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }
}

/** Heap bytes per attempt in flight: `count` of them held by a GraphWorker, and by the floor (see the header). */
async function measureHeap(
  graph: TaskGraph,
  rounds: number,
): Promise<{ worker: number[]; floor: number[] }> {
  const count = graph.size;
  /** `work` for both sides: counts its calls and waits for `gate`; `allCalled` resolves at the `count`-th call. */
  const handlers = () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let called = 0;
    let allCalled: () => void = () => undefined;
    const whenAllCalled = new Promise<void>((resolve) => {
      allCalled = resolve;
    });
    const work = async (_task?: unknown, _attempt?: unknown) => {
      called += 1;
      if (called === count) allCalled();
      await gate;
      return { prUrl: PR_URL };
    };
    return { work, open, whenAllCalled };
  };
  const worker: number[] = [];
  const floor: number[] = [];
  const byWorker = async (into: number[] | null) => {
    const run = new TaskGraphRuntime(graph);
    const { work, open, whenAllCalled } = handlers();
    const graphWorker = new GraphWorker(run, { work, merge: () => {}, concurrency: count });
    const before = heapUsed();
    const done = graphWorker.run();
    await whenAllCalled;
    const after = heapUsed();
    open();
    requireSucceeded(await done, 'the worker');
    into?.push((after - before) / count);
  };
  const byFloor = async (into: number[] | null) => {
    const run = new TaskGraphRuntime(graph);
    const { work, open, whenAllCalled } = handlers();
    const inFlight = new Map<string, FloorAttempt>();
    let ended = 0;
    const before = heapUsed();
    for (const taskId of run.ready()) {
      run.markRunning(taskId);
      const attempt = new FloorAttempt(taskId);
      attempt.done = work(run.task(taskId), attempt).then(
        () => {
          ended += 1;
        },
        () => undefined,
      );
      inFlight.set(taskId, attempt);
    }
    await whenAllCalled;
    const after = heapUsed();
    open();
    await Promise.all([...inFlight.values()].map((attempt) => attempt.done));
    if (ended !== count) throw new Error(`the floor ended ${ended} attempts, not ${count}`);
    into?.push((after - before) / count);
  };
  await byWorker(null); // warm-up: compiled code and shared structures are not counted
  await byFloor(null);
  await alternate(rounds, [() => byWorker(worker), () => byFloor(floor)]);
  return { worker, floor };
}

export const workerGroup: BenchGroup = {
  name: 'worker',
  async measure(settings: Settings) {
    const tasks = RUN_TASKS.toLocaleString('en-US');
    log(`GraphWorker on a ${tasks}-task run in memory`);
    const inMemory = await measureInMemory(benchGraph(RUN_TASKS), settings.rounds * 3);
    const durableTasks = settings.quick ? 50 : RUN_TASKS;
    const durableCount = durableTasks.toLocaleString('en-US');
    log(`GraphWorker on a durable ${durableCount}-task run (FileTaskStore)`);
    // A round of 2,000 tasks is 6,000 fsync'd saves per side: a few rounds of long measurements.
    const durable = await measureDurable(benchGraph(durableTasks), settings.quick ? 2 : 3);
    const attempts = settings.quick ? 1_000 : 10_000;
    const attemptCount = attempts.toLocaleString('en-US');
    log(`heap of ${attemptCount} attempts in flight`);
    const heap = await measureHeap(independentTasks(attempts), settings.rounds);
    keep(sink);
    const loop: Timed = {
      what: 'markRunning, markPrCreated, markPrMerged per task in a loop',
      ms: inMemory.loop,
    };
    return [
      durationRow(
        `worker: run on TaskGraphRuntime (${tasks} tasks) vs the same commands in a loop`,
        {
          what: `GraphWorker.run(), no-op handlers, concurrency ${CONCURRENCY}`,
          ms: inMemory.worker,
        },
        loop,
        1.3,
      ),
      durationRow(
        `worker: run on DurableTaskGraphRuntime (${durableCount} tasks, FileTaskStore) vs the same saves`,
        {
          what: `GraphWorker.run(), no-op handlers, concurrency ${CONCURRENCY}`,
          ms: durable.worker,
        },
        {
          what: `FileTaskStore.save of the run's ${durable.saves.toLocaleString('en-US')} snapshots, one at a time`,
          ms: durable.floor,
        },
        1.2,
      ),
      comparedRow(
        `worker: heap per in-flight attempt (${attemptCount})`,
        { what: 'GraphWorker, attempts awaiting work', value: median(heap.worker), unit: 'bytes' },
        {
          what: 'markRunning + pending handler call + lazy signal, in a Map',
          value: median(heap.floor),
          unit: 'bytes',
        },
        ratioOf(heap.worker, heap.floor),
        2,
      ),
    ];
  },
};
