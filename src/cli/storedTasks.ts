import { DurableTaskRuntime, type FileTaskStore, SnapshotError } from '../index.js';

/** A stored task as the read-only commands see it: loaded, or unreadable with the reason. */
export type StoredTaskRead =
  | { readonly id: string; readonly task: DurableTaskRuntime; readonly damage: null }
  | { readonly id: string; readonly task: null; readonly damage: SnapshotError };

/** Every stored task in id order; one whose document cannot be restored is kept with its SnapshotError. */
export async function readStoredTasks(store: FileTaskStore): Promise<StoredTaskRead[]> {
  const read: StoredTaskRead[] = [];
  for (const id of await store.list()) {
    try {
      const task = await DurableTaskRuntime.load(store, id);
      if (task !== null) read.push({ id, task, damage: null }); // null: deleted since it was listed
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      read.push({ id, task: null, damage: error });
    }
  }
  return read;
}

/** `SnapshotError: <path> <problem>`, what a command shows of a task it cannot read. */
export function describeDamage(error: SnapshotError): string {
  return `SnapshotError: ${error.path === '' ? '' : `${error.path} `}${error.problem}`;
}

/** The error to end a command with when some stored tasks could not be read. */
export function damagedMessage(ids: readonly string[]): string {
  return (
    `${ids.length} stored task(s) cannot be read: ${ids.join(', ')}. ` +
    'Restore them from a backup, or delete their directories under tasks/ in the store.'
  );
}
