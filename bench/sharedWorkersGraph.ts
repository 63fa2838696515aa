/*
 * The graph of the shared-workers rows (bench/sharedWorkers.ts), built the same way in the bench process and in
 * its worker processes: the bench graph's shape (bench/graph.ts: a tenth of a core of `size / 20` tasks are roots,
 * the rest of the core depends on 2–3 roots, every other task on 2–3 core tasks; deterministic) with every id
 * prefixed, so that each side and round has tasks of its own in one store.
 */
import { TaskGraph } from '../src/index.js';
import { benchGraph } from './graph.js';

/** {@link benchGraph} of `size` tasks with every task id (and dependency) prefixed with `prefix`. */
export function prefixedBenchGraph(size: number, prefix: string): TaskGraph {
  const graph = benchGraph(size);
  return TaskGraph.fromTasks(
    graph.taskIds.map((id) => ({
      id: `${prefix}${id}`,
      role: 'implementer',
      dependencies: graph.dependenciesOf(id).map((dependency) => `${prefix}${dependency}`),
    })),
  );
}

/** A dependency and its dependent, prefixed with `prefix`: the graph of one wake-up trial. */
export function wakeUpGraph(prefix: string): TaskGraph {
  return TaskGraph.fromTasks([
    { id: `${prefix}dependency`, role: 'implementer' },
    { id: `${prefix}dependent`, role: 'implementer', dependencies: [`${prefix}dependency`] },
  ]);
}
