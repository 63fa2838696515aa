/* Group `dashboard`: the overview page's server time against `store.list()` and loading every task. */
import { createDashboardApp } from '../src/dashboard/app.js';
import { StoreChanges } from '../src/dashboard/live.js';
import { FileTaskStore } from '../src/store/FileTaskStore.js';
import { typicalRuntime } from './fixtures.js';
import { alternate, keep, withTempDir } from './harness.js';
import { type BenchGroup, durationRow } from './rows.js';

/** Tasks in the store of the dashboard row (a full run; quick runs use 200). */
const FULL_TASKS = 5_000;
/** The dashboard loads this many tasks at once; the baseline does the same, so both wait on the disk alike. */
const LOADS_AT_ONCE = 8;

/** What the timed loops read, kept so that no engine drops the work. */
let sink = 0;

/** Baseline: `store.list()`, then `load()` of every task, {@link LOADS_AT_ONCE} at a time. */
async function listAndLoadAll(store: FileTaskStore): Promise<void> {
  const ids = await store.list();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < ids.length; index = next++) {
      sink += (await store.load(ids[index] as string))?.revision ?? 0;
    }
  };
  await Promise.all(Array.from({ length: LOADS_AT_ONCE }, worker));
}

/**
 * The overview's server time (GET / through the Hono app, to the last byte of HTML: list, load and restore every
 * task, count, render the lifecycle diagram and the table) against `store.list()` + loading every task, over a
 * FileTaskStore of 5,000 typical tasks; interleaved rounds, the median of the per-round ratios.
 */
export const dashboardGroup: BenchGroup = {
  name: 'dashboard',
  measure(settings) {
    const count = settings.quick ? 200 : FULL_TASKS;
    return withTempDir('dashboard', async (dir) => {
      const store = await FileTaskStore.open(dir);
      for (let i = 0; i < count; i += 16) {
        await Promise.all(
          Array.from({ length: Math.min(16, count - i) }, (_, j) => {
            const runtime = typicalRuntime(`task-${String(i + j).padStart(5, '0')}`);
            return store.save(runtime.task.id, runtime.persist(), { expectedRevision: null });
          }),
        );
      }
      const changes = new StoreChanges(store);
      const app = createDashboardApp({ store, storeLabel: dir, changes });
      const overview = async (): Promise<void> => {
        const response = await app.request('/');
        if (response.status !== 200) throw new Error(`GET / answered ${response.status}`);
        sink += (await response.text()).length;
      };
      await overview(); // warm-up: Graphviz loads and lays the lifecycle out once (cached afterwards)
      await listAndLoadAll(store);
      const measured: number[] = [];
      const baseline: number[] = [];
      const time = async (run: () => Promise<void>, into: number[]): Promise<void> => {
        const start = performance.now();
        await run();
        into.push(performance.now() - start);
      };
      await alternate(settings.rounds, [
        () => time(overview, measured),
        () => time(() => listAndLoadAll(store), baseline),
      ]);
      changes.close();
      await store.close();
      if (sink === 0) throw new Error('the dashboard row read nothing');
      keep(sink);
      return [
        durationRow(
          `dashboard: overview (${count.toLocaleString('en-US')} tasks)`,
          { what: 'GET / server time', ms: measured },
          { what: `store.list() + load() of every task, ${LOADS_AT_ONCE} at a time`, ms: baseline },
          1.5,
        ),
      ];
    });
  },
};
