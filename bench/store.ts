import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import { typicalRuntime } from './fixtures.js';
import type { Settings } from './harness.js';

/** Per-chunk milliseconds per operation of the store and of its baseline, `persist()` + `JSON.stringify`. */
export interface StoreTimings {
  readonly saveMs: number[];
  readonly loadMs: number[];
  /** The baseline chunk measured right after each save chunk (same runtimes). */
  readonly saveBaselineMs: number[];
  /** The baseline chunk measured right after each load chunk (same runtimes). */
  readonly loadBaselineMs: number[];
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
 * alternate with the baseline. The directory is removed afterwards.
 */
export async function measureStore(settings: Settings): Promise<StoreTimings> {
  const dir = await mkdtemp(join(tmpdir(), 'task-runtime-bench-'));
  try {
    const store = await FileTaskStore.open(dir);
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
        }),
      );
    }
    const timings: StoreTimings = {
      saveMs: [],
      loadMs: [],
      saveBaselineMs: [],
      loadBaselineMs: [],
    };
    for (let i = 0; i < runtimes.length; i += settings.storeChunk) {
      const chunk = runtimes.slice(i, i + settings.storeChunk);
      const start = performance.now();
      for (const runtime of chunk) {
        const { id } = runtime.task;
        const expectedRevision = revisions.get(id) ?? null;
        revisions.set(id, await store.save(id, runtime.persist(), { expectedRevision }));
      }
      timings.saveMs.push((performance.now() - start) / chunk.length);
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
    await store.close();
    return timings;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Keeps the results of the timed loops observable, so that no engine can drop them. */
export function storeSink(): number {
  return sink;
}
