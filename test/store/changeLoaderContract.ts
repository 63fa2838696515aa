import { InvalidArgumentError } from '../../src/errors.js';
import {
  type ChangedTask,
  type ChangeLoader,
  canLoadChanged,
} from '../../src/store/sharedRunStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { rejectionOf } from '../support/errors.js';
import { HOSTILE_TASK_IDS } from './taskStoreContract.js';

/** A store that tells what changed among many tasks in one go. */
export type ChangeLoadingStore = TaskStore & ChangeLoader;

/** More tasks than FileTaskStore reads in one thread job, so that an answer spans jobs. */
const MANY = 600;

/** The changes sorted by task id (loadChanged lists them in no particular order). */
const sorted = (changes: readonly ChangedTask[]): ChangedTask[] =>
  [...changes].sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));

/**
 * The contract of {@link ChangeLoader.loadChanged} every store that has it meets: the tasks stored at another
 * revision than the one given (with their snapshots) and the leased ones (with their leases only).
 */
export function describeChangeLoaderContract(
  name: string,
  openStore: () => Promise<ChangeLoadingStore>,
): void {
  describe(`${name} (loadChanged contract)`, () => {
    let store: ChangeLoadingStore;

    beforeEach(async () => {
      store = await openStore();
    });
    afterEach(() => store.close());

    it('should be found by canLoadChanged', () => {
      expect(canLoadChanged(store)).toBe(true);
      expect(canLoadChanged({ ...store, loadChanged: undefined } as unknown as TaskStore)).toBe(
        false,
      );
    });

    it('should list the tasks stored at another revision with their snapshots, and the leased ones without', async () => {
      await store.save('a', { step: 1 }, { expectedRevision: null });
      await store.save('b', { step: 1 }, { expectedRevision: null });
      await store.save('gone', { step: 1 }, { expectedRevision: null });
      await store.delete('gone', { expectedRevision: 1 });
      const seen = [
        { taskId: 'a', revision: 1 },
        { taskId: 'b', revision: 1 },
        { taskId: 'gone', revision: 1 },
        { taskId: 'never-stored', revision: 0 },
      ];
      await expect(store.loadChanged(seen)).resolves.toEqual([]);

      const lease = await store.claim('a', 'worker-a', { leaseMs: 60_000 });
      await expect(store.loadChanged(seen)).resolves.toEqual([
        { taskId: 'a', lease, stored: null },
      ]);

      await store.save('a', { step: 2 }, { expectedRevision: 1, lease: lease ?? undefined });
      await expect(store.loadChanged(seen)).resolves.toEqual([
        { taskId: 'a', lease, stored: { snapshot: { step: 2 }, revision: 2, lease } },
      ]);
      await expect(store.loadChanged([{ taskId: 'a', revision: 2 }])).resolves.toEqual([
        { taskId: 'a', lease, stored: null },
      ]);

      await store.release('a', lease as NonNullable<typeof lease>);
      await expect(store.loadChanged([{ taskId: 'a', revision: 2 }, ...seen])).resolves.toEqual([
        { taskId: 'a', lease: null, stored: { snapshot: { step: 2 }, revision: 2, lease: null } },
      ]);
      await expect(store.loadChanged([{ taskId: 'a', revision: 2 }])).resolves.toEqual([]);
    });

    it('should give, for revision 0, what load() gives of every stored task, hostile ids included', async () => {
      const ids = [
        ...Array.from({ length: MANY }, (_, index) => `task-${index}`),
        ...HOSTILE_TASK_IDS,
      ];
      for (const [index, id] of ids.entries()) {
        const revision = await store.save(
          id,
          { index, text: `<b>${id}</b>` },
          { expectedRevision: null },
        );
        if (index % 3 === 0)
          await store.save(id, { index, again: true }, { expectedRevision: revision });
      }
      const asked = ['never-stored', ...ids.slice().reverse()];

      const changes = await store.loadChanged(asked.map((taskId) => ({ taskId, revision: 0 })));

      const loaded = await Promise.all(ids.map((id) => store.load(id)));
      expect(sorted(changes)).toEqual(
        sorted(
          ids.map((taskId, index) => ({ taskId, lease: null, stored: loaded[index] ?? null })),
        ),
      );
      const known = ids.map((taskId, index) => ({ taskId, revision: index % 3 === 0 ? 2 : 1 }));
      await expect(store.loadChanged(known)).resolves.toEqual([]);
    });

    it('should refuse a bad entry with InvalidArgumentError naming it, before reading anything', async () => {
      const refusals: [unknown, string][] = [
        ['a', 'known'],
        [null, 'known'],
        [[null], 'known[0]'],
        [[{ taskId: '', revision: 1 }], 'taskId'],
        [[{ taskId: 'lone \ud800', revision: 1 }], 'taskId'],
        [[{ taskId: 'x'.repeat(100_000), revision: 1 }], 'taskId'],
        ...[-1, 1.5, Number.NaN, '1', null, 2 ** 60].map((revision): [unknown, string] => [
          [{ taskId: 'a', revision }],
          'known[0].revision',
        ]),
      ];
      for (const [given, argument] of refusals) {
        const error = await rejectionOf(() => store.loadChanged(given as never));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error).toMatchObject({ argument });
      }
    });
  });
}
