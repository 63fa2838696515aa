/*
 * Group `history`: FileTaskStore's save and load of a task with a long history against one with a short history,
 * and the entries the long-lived task's directory holds afterwards.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import { fileNameForTaskId } from '../src/store/taskIdFileName.js';
import { typicalRuntime } from './fixtures.js';
import { log, type Settings, withTempDir } from './harness.js';
import { type BenchGroup, opsRow } from './rows.js';

/** Per-round milliseconds per save and per load of a task with a long history and of one with a short one. */
interface HistoryTimings {
  readonly longRevisions: number;
  readonly shortRevisions: number;
  readonly saveLongMs: number[];
  readonly saveShortMs: number[];
  readonly loadLongMs: number[];
  readonly loadShortMs: number[];
  /** Files and directories in the long-lived task's directory, counted after the rounds. */
  readonly entriesLong: number;
}

/** Every file and directory below `dir`. */
async function countEntries(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((entry) => relative(dir, join(dir, entry)) !== '').length;
}

/**
 * Brings one typical task to `settings.historyRevisions` revisions and another to `settings.historyBase` (untimed),
 * then times saves and loads of each in interleaved rounds: what a long history costs.
 */
async function measureHistory(settings: Settings): Promise<HistoryTimings> {
  return withTempDir('history', async (dir) => {
    const store = await FileTaskStore.open(dir);
    const snapshot = typicalRuntime().persist();
    const revisions = new Map<string, number>();
    const saveMany = async (id: string, count: number): Promise<void> => {
      let revision = revisions.get(id) ?? null;
      for (let i = 0; i < count; i += 1) {
        revision = await store.save(id, snapshot, { expectedRevision: revision });
      }
      revisions.set(id, revision ?? 0);
    };
    await saveMany('long', settings.historyRevisions);
    await saveMany('short', settings.historyBase);
    const timings: HistoryTimings = {
      longRevisions: settings.historyRevisions,
      shortRevisions: settings.historyBase,
      saveLongMs: [],
      saveShortMs: [],
      loadLongMs: [],
      loadShortMs: [],
      entriesLong: 0,
    };
    const per = settings.quick ? 10 : 50;
    const time = async (run: () => Promise<unknown>): Promise<number> => {
      const start = performance.now();
      for (let i = 0; i < per; i += 1) await run();
      return (performance.now() - start) / per;
    };
    for (let round = 0; round < settings.rounds; round += 1) {
      const sides = round % 2 === 0 ? (['long', 'short'] as const) : (['short', 'long'] as const);
      for (const side of sides) {
        const ms = await time(() => saveMany(side, 1));
        (side === 'long' ? timings.saveLongMs : timings.saveShortMs).push(ms);
      }
      await store.flush();
      for (const side of sides) {
        const ms = await time(() => store.load(side));
        (side === 'long' ? timings.loadLongMs : timings.loadShortMs).push(ms);
      }
    }
    await store.close();
    const entriesLong = await countEntries(join(dir, 'tasks', fileNameForTaskId('long')));
    return { ...timings, entriesLong };
  });
}

export const historyGroup: BenchGroup = {
  name: 'history',
  async measure(settings) {
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
  },
};
