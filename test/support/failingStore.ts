/** A real store with a fault injected on chosen saves, to test what a failed save leaves behind. */
import { TaskStoreError } from '../../src/errors.js';
import type { SaveOptions, TaskStore } from '../../src/store/TaskStore.js';

/** What the n-th save does instead of saving: throw (nothing written), or write and then throw (written, unacknowledged). */
export type SaveFault = 'fail' | 'failAfterWrite';

/** A {@link TaskStore} that counts its saves. */
export interface CountingStore extends TaskStore {
  /** The number of saves attempted so far. */
  readonly saves: number;
}

/**
 * `store` itself, except that the saves whose 1-based numbers are in `faults` fail as a full disk would
 * (a TaskStoreError), before or after the write. Every other call goes to the real store.
 */
export function failingOnSaves(
  store: TaskStore,
  faults: ReadonlyMap<number, SaveFault>,
): CountingStore {
  let saves = 0;
  return {
    get saves() {
      return saves;
    },
    async save(taskId: string, snapshot: unknown, options: SaveOptions) {
      saves += 1;
      const fault = faults.get(saves);
      const diskFull = () =>
        new TaskStoreError(taskId, 'save', `no space left on device (injected on save ${saves})`);
      if (fault === 'fail') throw diskFull();
      const revision = await store.save(taskId, snapshot, options);
      if (fault === 'failAfterWrite') throw diskFull();
      return revision;
    },
    load: (taskId) => store.load(taskId),
    delete: (taskId, options) => store.delete(taskId, options),
    list: () => store.list(),
    claim: (taskId, workerId, options) => store.claim(taskId, workerId, options),
    renew: (taskId, lease, options) => store.renew(taskId, lease, options),
    release: (taskId, lease) => store.release(taskId, lease),
    listExpired: () => store.listExpired(),
    close: () => store.close(),
  };
}
