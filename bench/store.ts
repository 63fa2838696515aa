/*
 * Group `store`: FileTaskStore's save and load against `persist()` + `JSON.stringify` of the same runtimes, its save
 * against the cheapest durable replacement of the same bytes (the fsync floor), and list() and listExpired()
 * against one small read per task.
 */
import fs from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import { typicalRuntime } from './fixtures.js';
import { keep, log, type Settings, withTempDir } from './harness.js';
import { type BenchGroup, opsRow } from './rows.js';

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
  /** Per round: list(), listExpired(), and one small read per task (the floor of both). */
  readonly listMs: number[];
  readonly listExpiredMs: number[];
  readonly listFloorMs: number[];
}

/** Task directories or files read at once, by the store's list() and by its floor alike. */
const READ_CONCURRENCY = 64;

const openFd = promisify(fs.open);
const writeFd = promisify(fs.write);
const fsyncFd = promisify(fs.fsync);
const closeFd = promisify(fs.close);

/**
 * The floor of a durable save: `text` written to a temporary file, fsync'd, renamed over `file`, and the
 * directory fsync'd (what any atomic, durable replacement of a file costs), with the calls the store uses.
 */
async function durableReplace(dir: string, file: string, text: string): Promise<void> {
  const tmp = join(dir, `${file}.tmp`);
  const fd = await openFd(tmp, 'w');
  try {
    const bytes = Buffer.from(text, 'utf8');
    for (let written = 0; written < bytes.length; ) {
      written += (await writeFd(fd, bytes, written, bytes.length - written, null)).bytesWritten;
    }
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
  await rename(tmp, join(dir, file));
  const directory = await openFd(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await fsyncFd(directory);
  } finally {
    await closeFd(directory);
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
          await durableReplace(floorDir, `${id}.json`, JSON.stringify(runtime.persist()));
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
          await durableReplace(floorDir, `${runtime.task.id}.json`, text);
        }
        timings.saveFloorMs.push((performance.now() - start) / chunk.length);
      };
      // Every other chunk the floor goes first, so that neither always follows the other.
      const first = (i / settings.storeChunk) % 2 === 0;
      await (first ? saveChunk() : floorChunk());
      await (first ? floorChunk() : saveChunk());
      timings.saveBaselineMs.push(persistAndStringify(chunk));
    }
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
  },
};
