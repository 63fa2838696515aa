/*
 * Group `store`: FileTaskStore's save and load against `persist()` + `JSON.stringify` of the same runtimes, its save
 * against the cheapest durable replacement of the same bytes done with synchronous calls (the fsync floor), the
 * event loop's delay while it saves, 16 concurrent saves against the floor run in 16 threads at once, and list()
 * and listExpired() against one small read per task.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import { durableReplace, FLOOR_MODULES } from './durableFloor.js';
import { typicalRuntime } from './fixtures.js';
import { keep, log, median, type Settings, withTempDir } from './harness.js';
import { type BenchGroup, durationRow, opsRow } from './rows.js';

/** Per-chunk milliseconds per operation of the store and of its baseline, `persist()` + `JSON.stringify`. */
interface StoreTimings {
  readonly saveMs: number[];
  readonly loadMs: number[];
  /** The baseline chunk measured right after each save chunk (same runtimes). */
  readonly saveBaselineMs: number[];
  /** The baseline chunk measured right after each load chunk (same runtimes). */
  readonly loadBaselineMs: number[];
  /** Per save chunk: the same bytes written the cheapest durable way (see {@link durableReplace}). */
  readonly saveFloorMs: number[];
  /** While the store saved every task once more, one at a time: see {@link measureDelayWhileSaving}. */
  delay: Delay;
  /** Per chunk: saves of {@link CONCURRENT_SAVES} distinct tasks at once, and the floor the same way in threads. */
  readonly concurrentMs: number[];
  readonly concurrentFloorMs: number[];
  /** Per chunk: the same floor saves one after another on the main thread (synchronous calls cannot overlap). */
  readonly inRowFloorMs: number[];
  /** Per round: list(), listExpired(), and one small read per task (the floor of both). */
  readonly listMs: number[];
  readonly listExpiredMs: number[];
  readonly listFloorMs: number[];
}

/** Task directories or files read at once, by the store's list() and by its floor alike. */
const READ_CONCURRENCY = 64;

/** Saves in flight at once in the concurrent rows, each of a task of its own. */
const CONCURRENT_SAVES = 16;
/** The sampling interval of the event-loop delay histogram, in milliseconds (its least). */
const DELAY_RESOLUTION_MS = 1;

/** One save of the floor: a directory, a file name in it, and the JSON. */
interface FloorSave {
  readonly dir: string;
  readonly file: string;
  readonly text: string;
}

/**
 * {@link CONCURRENT_SAVES} threads that each run {@link durableReplace}: the floor of that many saves at once (the
 * synchronous calls of one thread wait for the disk, so only threads of their own let them overlap).
 */
class FloorThreads {
  readonly #threads: Worker[] = [];
  /** Per thread, what its reply resolves. */
  readonly #waiting: ((error?: unknown) => void)[] = [];

  constructor() {
    const source = `
      const { parentPort } = require('node:worker_threads');
      const modules = { fs: require('node:fs'), path: require('node:path') };
      const durableReplace = ${durableReplace.toString()};
      parentPort.on('message', ({ dir, file, text }) => {
        durableReplace(modules, dir, file, text);
        parentPort.postMessage(null);
      });`;
    for (let index = 0; index < CONCURRENT_SAVES; index += 1) {
      const thread = new Worker(source, { eval: true, execArgv: [] });
      const settle = (error?: unknown) => this.#waiting[index]?.(error);
      thread.on('message', () => settle());
      thread.on('error', settle);
      this.#threads.push(thread);
    }
  }

  /** Runs `saves` at once, the n-th in the n-th thread. */
  async run(saves: readonly FloorSave[]): Promise<void> {
    await Promise.all(
      saves.map(
        (save, index) =>
          new Promise<void>((resolve, reject) => {
            this.#waiting[index] = (error) => (error === undefined ? resolve() : reject(error));
            this.#threads[index]?.postMessage(save);
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.#threads.map((thread) => thread.terminate()));
  }
}

/** The floor of list(): the names of a directory, then every file in it read, 64 at a time. */
async function readEveryFile(dir: string): Promise<number> {
  const names = await readdir(dir);
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < names.length; index = next++) {
      bytes += (await readFile(join(dir, names[index] as string), 'utf8')).length;
    }
  };
  await Promise.all(Array.from({ length: READ_CONCURRENCY }, worker));
  return bytes;
}

let sink = 0;

/** Milliseconds per `persist()` + `JSON.stringify` over `runtimes`. */
function persistAndStringify(runtimes: readonly TaskRuntime[]): number {
  const start = performance.now();
  for (const runtime of runtimes) sink += JSON.stringify(runtime.persist()).length;
  return (performance.now() - start) / runtimes.length;
}

/** How long the event loop was held while the store saved, in milliseconds. */
interface Delay {
  /** The p99 and the longest of the main thread's busy time over one save, from its call to its result. */
  readonly busyP99Ms: number;
  readonly busyMaxMs: number;
  /** The p99 of `monitorEventLoopDelay`'s intervals over all the saves, less its sampling interval. */
  readonly monitorP99Ms: number;
}

/**
 * The event loop's delay while the store saves every task once, one at a time (each snapshot made by `persist()`
 * before its save starts). Per save, the main thread's busy time from the call to the result (the active time of
 * `performance.eventLoopUtilization`: the save's own work on the thread, the reply's handling, and any garbage
 * collection in between), which bounds the longest stretch a save holds the loop; and over all of them, the p99
 * of `monitorEventLoopDelay` sampling every {@link DELAY_RESOLUTION_MS}. That one is coarse: libuv's timers count
 * whole milliseconds, so a loop woken often (by each save's reply) shows intervals up to a millisecond late while
 * it merely waits.
 */
async function measureDelayWhileSaving(
  store: FileTaskStore,
  runtimes: readonly TaskRuntime[],
  revisions: Map<string, number>,
): Promise<Delay> {
  const monitor = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  const busyMs: number[] = [];
  monitor.enable();
  for (const runtime of runtimes) {
    const { id } = runtime.task;
    const expectedRevision = revisions.get(id) ?? null;
    const snapshot = runtime.persist();
    const before = performance.eventLoopUtilization();
    revisions.set(id, await store.save(id, snapshot, { expectedRevision }));
    busyMs.push(performance.eventLoopUtilization(before).active);
  }
  monitor.disable();
  await store.flush();
  busyMs.sort((a, b) => a - b);
  return {
    busyP99Ms: busyMs[Math.floor(busyMs.length * 0.99)] ?? Number.NaN,
    busyMaxMs: busyMs.at(-1) ?? Number.NaN,
    monitorP99Ms: Math.max(0, monitor.percentile(99) / 1e6 - DELAY_RESOLUTION_MS),
  };
}

/**
 * Times chunks of saves made {@link CONCURRENT_SAVES} at a time, each to a task of its own, alternating with the
 * floor of as many saves at once: the same bytes, each batch's n-th save in the n-th of {@link FloorThreads}, into
 * a directory per thread (distinct tasks have distinct directories in the store too); and with the same floor
 * saves made one after another on the main thread. All replace files that exist, and the order of the three turns
 * round from chunk to chunk.
 */
async function measureConcurrentSaves(
  settings: Settings,
  store: FileTaskStore,
  runtimes: readonly TaskRuntime[],
  revisions: Map<string, number>,
  floorDir: string,
  timings: StoreTimings,
): Promise<void> {
  const floor = new FloorThreads();
  const dirs = Array.from({ length: CONCURRENT_SAVES }, (_, n) => join(floorDir, `thread-${n}`));
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  const batches = Math.max(1, Math.floor(settings.storeChunk / CONCURRENT_SAVES));
  const batchAt = (index: number): TaskRuntime[] => {
    const from = (index * CONCURRENT_SAVES) % (runtimes.length - CONCURRENT_SAVES + 1);
    return runtimes.slice(from, from + CONCURRENT_SAVES);
  };
  const storeBatch = (batch: readonly TaskRuntime[]) =>
    Promise.all(
      batch.map(async (runtime) => {
        const { id } = runtime.task;
        const expectedRevision = revisions.get(id) ?? null;
        revisions.set(id, await store.save(id, runtime.persist(), { expectedRevision }));
      }),
    );
  const floorSaves = (batch: readonly TaskRuntime[]): FloorSave[] =>
    batch.map((runtime, n) => ({
      dir: dirs[n] as string,
      file: `${runtime.task.id}.json`,
      text: JSON.stringify(runtime.persist()),
    }));
  const floorBatch = (batch: readonly TaskRuntime[]) => floor.run(floorSaves(batch));
  const inRowBatch = async (batch: readonly TaskRuntime[]) => {
    for (const { dir, file, text } of floorSaves(batch))
      durableReplace(FLOOR_MODULES, dir, file, text);
  };
  try {
    let next = 0;
    for (let warm = 0; warm < batches; warm += 1) {
      const batch = batchAt(next++);
      await storeBatch(batch); // starts the store's threads
      await floorBatch(batch); // and makes the floor's files
    }
    await store.flush();
    const chunks = settings.rounds * 3;
    for (let chunk = 0; chunk < chunks; chunk += 1) {
      const first = next;
      next += batches;
      const timeChunk = async (
        saveBatch: (batch: readonly TaskRuntime[]) => Promise<unknown>,
      ): Promise<number> => {
        const start = performance.now();
        for (let index = first; index < first + batches; index += 1) {
          await saveBatch(batchAt(index));
        }
        return (performance.now() - start) / (batches * CONCURRENT_SAVES);
      };
      const measureStore = async () => {
        timings.concurrentMs.push(await timeChunk(storeBatch));
        await store.flush();
      };
      const measureFloor = async () => {
        timings.concurrentFloorMs.push(await timeChunk(floorBatch));
      };
      const measureInRow = async () => {
        timings.inRowFloorMs.push(await timeChunk(inRowBatch));
      };
      const sides = [measureFloor, measureStore, measureInRow];
      for (let turn = 0; turn < sides.length; turn += 1) {
        await sides[(chunk + turn) % sides.length]?.();
      }
    }
  } finally {
    await floor.close();
  }
}

/**
 * Fills a FileTaskStore in a temporary directory with `settings.storeTasks` typical tasks (concurrently, untimed),
 * then times one save (a new revision of every task, one at a time) and one load of every task, in chunks that
 * alternate with the baselines (the same bytes replaced durably into a file per task; `persist()` +
 * `JSON.stringify`), then `list()` and `listExpired()` in rounds alternating with one read of each of those files.
 * The directory is removed afterwards.
 */
async function measureStore(settings: Settings): Promise<StoreTimings> {
  return withTempDir('store', async (dir) => {
    const store = await FileTaskStore.open(join(dir, 'store'));
    const floorDir = join(dir, 'floor');
    await mkdir(floorDir);
    const runtimes = Array.from({ length: settings.storeTasks }, (_, i) =>
      typicalRuntime(`task-${String(i).padStart(5, '0')}`),
    );
    const ids = runtimes.map((runtime) => runtime.task.id);
    const revisions = new Map<string, number>();
    const concurrency = 16;
    for (let i = 0; i < runtimes.length; i += concurrency) {
      await Promise.all(
        runtimes.slice(i, i + concurrency).map(async (runtime) => {
          const { id } = runtime.task;
          revisions.set(id, await store.save(id, runtime.persist(), { expectedRevision: null }));
          // The floor replaces an existing file of the task, as the store replaces its document.
          durableReplace(FLOOR_MODULES, floorDir, `${id}.json`, JSON.stringify(runtime.persist()));
        }),
      );
    }
    await store.flush();
    const timings: StoreTimings = {
      saveMs: [],
      loadMs: [],
      saveBaselineMs: [],
      loadBaselineMs: [],
      saveFloorMs: [],
      delay: { busyP99Ms: 0, busyMaxMs: 0, monitorP99Ms: 0 },
      concurrentMs: [],
      concurrentFloorMs: [],
      inRowFloorMs: [],
      listMs: [],
      listExpiredMs: [],
      listFloorMs: [],
    };
    for (let i = 0; i < runtimes.length; i += settings.storeChunk) {
      const chunk = runtimes.slice(i, i + settings.storeChunk);
      const saveChunk = async (): Promise<void> => {
        const start = performance.now();
        for (const runtime of chunk) {
          const { id } = runtime.task;
          const expectedRevision = revisions.get(id) ?? null;
          revisions.set(id, await store.save(id, runtime.persist(), { expectedRevision }));
        }
        timings.saveMs.push((performance.now() - start) / chunk.length);
        await store.flush(); // the clean-up of this chunk is not left to the floor's time
      };
      const floorChunk = async (): Promise<void> => {
        const start = performance.now();
        for (const runtime of chunk) {
          const text = JSON.stringify(runtime.persist());
          durableReplace(FLOOR_MODULES, floorDir, `${runtime.task.id}.json`, text);
        }
        timings.saveFloorMs.push((performance.now() - start) / chunk.length);
      };
      // Every other chunk the floor goes first, so that neither always follows the other.
      const first = (i / settings.storeChunk) % 2 === 0;
      await (first ? saveChunk() : floorChunk());
      await (first ? floorChunk() : saveChunk());
      timings.saveBaselineMs.push(persistAndStringify(chunk));
    }
    timings.delay = await measureDelayWhileSaving(store, runtimes, revisions);
    const concurrentFloorDir = join(dir, 'concurrent-floor'); // beside the floor that list() is compared with
    await measureConcurrentSaves(settings, store, runtimes, revisions, concurrentFloorDir, timings);
    for (let i = 0; i < ids.length; i += settings.storeChunk) {
      const chunk = ids.slice(i, i + settings.storeChunk);
      const start = performance.now();
      for (const id of chunk) {
        const stored = await store.load(id);
        if (stored === null) throw new Error(`task '${id}' was not found in the store`);
        sink += stored.revision;
      }
      timings.loadMs.push((performance.now() - start) / chunk.length);
      timings.loadBaselineMs.push(persistAndStringify(runtimes.slice(i, i + settings.storeChunk)));
    }
    await store.flush();
    for (let round = 0; round < settings.rounds; round += 1) {
      const timeIt = async (run: () => Promise<number>): Promise<number> => {
        const start = performance.now();
        sink += await run();
        return (performance.now() - start) / ids.length;
      };
      const listed = async () => (await store.list()).length;
      const expired = async () => (await store.listExpired()).length + 1;
      const floor = () => readEveryFile(floorDir);
      const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
      for (const which of order) {
        if (which === 0) timings.listMs.push(await timeIt(listed));
        if (which === 1) timings.listExpiredMs.push(await timeIt(expired));
        if (which === 2) timings.listFloorMs.push(await timeIt(floor));
      }
    }
    if ((await store.list()).length !== ids.length) throw new Error('list() missed tasks');
    await store.close();
    return timings;
  });
}

export const storeGroup: BenchGroup = {
  name: 'store',
  async measure(settings) {
    const count = settings.storeTasks.toLocaleString('en-US');
    log(`file store (${count} tasks)`);
    const timings = await measureStore(settings);
    keep(sink);
    const persist = 'persist() + JSON.stringify';
    const floor = 'same JSON to a temp file, fsync, rename over, fsync dir (synchronous calls)';
    const concurrentFloor = `the same, ${CONCURRENT_SAVES} at once in ${CONCURRENT_SAVES} threads`;
    const oneFloorSave = { what: `${floor}, median`, ms: [median(timings.saveFloorMs)] };
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
        'file store: save vs the fsync floor (synchronous calls)',
        { what: 'FileTaskStore.save (fsync), one at a time', ms: timings.saveMs },
        { what: floor, ms: timings.saveFloorMs },
        1.5,
      ),
      durationRow(
        'file store: event-loop delay during saves (p99 main-thread time of a save) vs one floor save',
        { what: 'eventLoopUtilization active time per save, p99', ms: [timings.delay.busyP99Ms] },
        oneFloorSave,
        1,
      ),
      durationRow(
        'file store: event-loop delay during saves (longest main-thread time of a save) vs one floor save',
        { what: 'eventLoopUtilization active time per save, max', ms: [timings.delay.busyMaxMs] },
        oneFloorSave,
        null,
      ),
      durationRow(
        'file store: event-loop delay during saves (monitorEventLoopDelay p99, 1 ms timer) vs one floor save',
        {
          what: 'monitorEventLoopDelay p99 while saving, less its 1 ms interval',
          ms: [timings.delay.monitorP99Ms],
        },
        oneFloorSave,
        null,
      ),
      opsRow(
        `file store: ${CONCURRENT_SAVES} concurrent saves vs the floor's throughput`,
        {
          what: `FileTaskStore.save, ${CONCURRENT_SAVES} distinct tasks at once`,
          ms: timings.concurrentMs,
        },
        { what: concurrentFloor, ms: timings.concurrentFloorMs },
        1,
      ),
      opsRow(
        `file store: ${CONCURRENT_SAVES} concurrent saves vs the floor's saves in a row`,
        {
          what: `FileTaskStore.save, ${CONCURRENT_SAVES} distinct tasks at once`,
          ms: timings.concurrentMs,
        },
        { what: `${floor}, one after another`, ms: timings.inRowFloorMs },
        null,
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
  },
};
