import { byLatestChange, inRunOrder, type StoredEntry } from '../graph/storedTasks.js';

/** How the overview orders its tasks: the run's order (dependencies first), or the latest change first. */
export type TaskOrder = 'run' | 'recent';

/** Every order, the default first; the query parameter `sort` names one. */
export const TASK_ORDERS: readonly TaskOrder[] = Object.freeze(['run', 'recent']);

/** What the sort control calls each order. */
export const TASK_ORDER_LABELS: Readonly<Record<TaskOrder, string>> = Object.freeze({
  run: 'run order (dependencies first)',
  recent: 'latest change first',
});

/** The order a `sort` query parameter names; anything else is the run's order. */
export function taskOrderOf(sort: string | undefined): TaskOrder {
  return sort === 'recent' ? 'recent' : 'run';
}

/** The stored tasks in `order`: `inRunOrder` (ties by id) or `byLatestChange` (tasks without a change last). */
export function inOrder<Entry extends StoredEntry>(
  entries: readonly Entry[],
  order: TaskOrder,
): Entry[] {
  return order === 'recent' ? byLatestChange(entries) : inRunOrder(entries);
}
