import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { SharedRunStore } from '../../src/store/sharedRunStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';

/*
 * A GraphWorker on a shared run of PostgreSQL claims ready work from the store and sleeps when a claim finds
 * none, until the store hints (NOTIFY) that a task became ready. A hint that arrives while a claim is under way
 * must not be lost to that claim's empty answer: the claim ran before the merge committed and could not see it.
 */

jest.setTimeout(30_000);

const PR_URL = 'https://github.com/acme/app/pull/1';
/** No follow within a test (its timeout is 30 s): only the store's hint can wake the worker. */
const NO_FOLLOW = { leaseMs: 10_000, followMs: 60_000 } as const;
const graph = TaskGraph.fromTasks([
  { id: 'dep', role: 'generic' },
  { id: 'next', role: 'generic', dependencies: ['dep'] },
]);

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** `store` whose first claimReady that finds nothing answers only once `answer` is opened (it ran already). */
function holdingFirstEmptyClaim(store: PostgresTaskStore) {
  const ranEmpty = gate();
  const answer = gate();
  let held = false;
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'claimReady') {
        return async (...args: Parameters<SharedRunStore['claimReady']>) => {
          const claim = await target.claimReady(...args);
          if (claim === null && !held) {
            held = true;
            ranEmpty.open();
            await answer.promise;
          }
          return claim;
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: proxy as TaskStore, ranEmpty: ranEmpty.promise, answer: answer.open };
}

describeWithPostgres(
  'GraphWorker on a shared run: the store hints that a task became ready',
  () => {
    const table = freshTable();
    const stores: PostgresTaskStore[] = [];
    const runs: DurableTaskGraphRuntime[] = [];

    async function connect(): Promise<PostgresTaskStore> {
      const store = await PostgresTaskStore.connect({
        connectionString: requirePostgresUrl(),
        table: table.name,
      });
      stores.push(store);
      return store;
    }

    afterAll(async () => {
      for (const run of runs) run.close();
      for (const store of stores) await store.close();
      await table.drop();
    });

    it('should claim again when a hint came while a claim that found nothing was under way', async () => {
      const other = await DurableTaskGraphRuntime.open(await connect(), graph, {
        ...NO_FOLLOW,
        workerId: 'other',
      });
      runs.push(other);
      await other.markRunning('dep');
      await other.markPrCreated('dep', PR_URL);

      const held = holdingFirstEmptyClaim(await connect());
      const run = await DurableTaskGraphRuntime.open(held.store, graph, {
        ...NO_FOLLOW,
        workerId: 'worker',
      });
      runs.push(run);
      const heard: string[] = [];
      run.watch((event) => heard.push(event.type));
      const worked: string[] = [];
      const done = new GraphWorker(run, {
        work: async (attempt) => {
          worked.push(attempt.task.id);
          return { prUrl: PR_URL };
        },
        merge: async () => {},
      }).run();

      await held.ranEmpty; // the worker's claim found nothing: dep is still other's, next waits for it
      await other.markPrMerged('dep'); // commits; the store hints that next became ready
      while (!heard.includes('hinted')) await new Promise((resolve) => setTimeout(resolve, 5));
      held.answer(); // the empty answer arrives after the hint

      expect(await done).toBe('succeeded');
      expect(worked).toEqual(['next']);
      expect(heard).not.toContain('followed');
      expect(run.task('next').attempts.map((record) => record.workerId)).toEqual(['worker']);
    });
  },
);
