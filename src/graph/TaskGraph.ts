import { InvalidArgumentError } from '../errors.js';
import { createTask, type Task, type TaskInput } from '../task/createTask.js';
import { describeValue } from '../validation.js';
import { MinHeap } from './MinHeap.js';

const quoted = (ids: Iterable<string>): string => [...ids].map((id) => `'${id}'`).join(', ');

/**
 * A validated, immutable DAG of tasks: ids unique, every dependency in the graph, no cycle. Ids come in one
 * topological order (dependencies first, the smallest ready id first), so input order never matters.
 * @example
 * const graph = TaskGraph.fromTasks([
 *   { id: 'impl', role: 'implementer', dependencies: ['spec'] },
 *   { id: 'spec', role: 'spec_writer' },
 * ]);
 * graph.taskIds;            // ['spec', 'impl']
 * graph.dependentsOf('spec'); // ['impl']
 */
export class TaskGraph {
  /** Every id in topological order: dependencies first; among tasks ready at the same step, the smallest id first. */
  readonly taskIds: readonly string[];
  /** Tasks without dependencies, in topological order. */
  readonly roots: readonly string[];
  /** Tasks no other task depends on, in topological order. */
  readonly leaves: readonly string[];
  readonly #tasks: ReadonlyMap<string, Task>;
  readonly #dependents: ReadonlyMap<string, readonly string[]>;
  readonly #order: ReadonlyMap<string, number>;

  private constructor(tasks: ReadonlyMap<string, Task>) {
    this.#tasks = tasks;
    const dependents = new Map<string, string[]>([...tasks.keys()].map((id) => [id, []]));
    for (const task of tasks.values()) {
      for (const dependency of task.dependencies) dependents.get(dependency)?.push(task.id);
    }
    this.#dependents = new Map(
      [...dependents].map(([id, ids]) => [id, Object.freeze(ids.sort(compareIds))]),
    );
    this.taskIds = Object.freeze(topologicalOrder(tasks, this.#dependents));
    this.#order = new Map(this.taskIds.map((id, index) => [id, index]));
    this.roots = Object.freeze(
      this.taskIds.filter((id) => this.task(id).dependencies.length === 0),
    );
    this.leaves = Object.freeze(this.taskIds.filter((id) => this.dependentsOf(id).length === 0));
    Object.freeze(this);
  }

  /**
   * Validates `tasks` into a graph.
   * @throws {InvalidArgumentError} for an empty graph, a malformed task, a duplicate id, a dependency that is not in
   * the graph, or a cycle (its message shows it as `a -> b -> a`, from the smallest id along dependency edges).
   */
  static fromTasks(tasks: Iterable<Task | TaskInput>): TaskGraph {
    if (typeof (tasks as Partial<Iterable<unknown>> | null)?.[Symbol.iterator] !== 'function') {
      throw new InvalidArgumentError('tasks', 'an iterable of tasks', describeValue(tasks));
    }
    const byId = new Map<string, Task>();
    for (const input of tasks) {
      const task = createTask(input);
      if (byId.has(task.id)) {
        throw new InvalidArgumentError(
          'tasks',
          'tasks with distinct ids',
          `the id '${task.id}' twice`,
        );
      }
      byId.set(task.id, task);
    }
    if (byId.size === 0) throw new InvalidArgumentError('tasks', 'at least one task', 'none');
    for (const task of byId.values()) {
      const unknown = task.dependencies.filter((id) => !byId.has(id));
      if (unknown.length > 0) {
        throw new InvalidArgumentError(
          `task '${task.id}'.dependencies`,
          'ids of tasks in the graph',
          `${quoted(unknown)}, not in the graph`,
        );
      }
    }
    const cycle = findCycle(byId);
    if (cycle !== null) {
      throw new InvalidArgumentError(
        'tasks',
        'dependencies without a cycle',
        `the cycle ${cycle.join(' -> ')}`,
      );
    }
    return new TaskGraph(byId);
  }

  /** The number of tasks. */
  get size(): number {
    return this.taskIds.length;
  }

  /** Whether the graph has a task with this id. */
  has(taskId: string): boolean {
    return this.#tasks.has(taskId);
  }

  /** The task with this id. @throws {InvalidArgumentError} for an id not in the graph. */
  task(taskId: string): Task {
    const task = this.#tasks.get(taskId);
    if (task === undefined) throw unknownTask(taskId);
    return task;
  }

  /** The task's dependencies, in declared order. */
  dependenciesOf(taskId: string): readonly string[] {
    return this.task(taskId).dependencies;
  }

  /** The tasks that depend on this one, sorted by id. */
  dependentsOf(taskId: string): readonly string[] {
    const dependents = this.#dependents.get(taskId);
    if (dependents === undefined) throw unknownTask(taskId);
    return dependents;
  }

  /** The task's position in {@link TaskGraph.taskIds}. */
  indexOf(taskId: string): number {
    const index = this.#order.get(taskId);
    if (index === undefined) throw unknownTask(taskId);
    return index;
  }

  /** Every task, in topological order. */
  tasks(): Task[] {
    return this.taskIds.map((id) => this.task(id));
  }
}

/** The error of a run or graph method given an id that is not in the graph. */
export function unknownTask(taskId: unknown): InvalidArgumentError {
  return new InvalidArgumentError('taskId', 'the id of a task in the graph', describeValue(taskId));
}

/** Checks that a run was given a {@link TaskGraph}. @throws {InvalidArgumentError} otherwise. */
export function requireGraph(graph: unknown): asserts graph is TaskGraph {
  if (!(graph instanceof TaskGraph)) {
    throw new InvalidArgumentError(
      'graph',
      'a TaskGraph (TaskGraph.fromTasks(tasks))',
      describeValue(graph),
    );
  }
}

/** String order of ids (UTF-16 code units), the tie rule of the topological order. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Kahn's algorithm with the smallest ready id first; the graph is known to be acyclic. */
function topologicalOrder(
  tasks: ReadonlyMap<string, Task>,
  dependents: ReadonlyMap<string, readonly string[]>,
): string[] {
  const waitingOn = new Map<string, number>();
  const ready = new MinHeap<string>(compareIds);
  for (const task of tasks.values()) {
    waitingOn.set(task.id, task.dependencies.length);
    if (task.dependencies.length === 0) ready.push(task.id);
  }
  const order: string[] = [];
  for (let id = ready.pop(); id !== undefined; id = ready.pop()) {
    order.push(id);
    for (const dependent of dependents.get(id) ?? []) {
      const left = (waitingOn.get(dependent) ?? 0) - 1;
      waitingOn.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  return order;
}

/**
 * A cycle as a list of ids that starts and ends at the smallest id lying on any cycle, following dependency edges
 * (each id depends on the next), or null when there is none. Iterative, so deep graphs cannot overflow the stack.
 */
function findCycle(tasks: ReadonlyMap<string, Task>): string[] | null {
  const onCycle = tasksOnCycles(tasks);
  if (onCycle.size === 0) return null;
  const start = [...onCycle.keys()].sort(compareIds)[0] as string;
  const component = onCycle.get(start) as number;
  // Shortest way back to `start` inside its strongly connected component, dependencies in declared order.
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head += 1) {
    const id = queue[head] as string;
    for (const dependency of tasks.get(id)?.dependencies ?? []) {
      if (onCycle.get(dependency) !== component) continue;
      if (dependency === start) {
        const path = [id];
        for (let step = id; step !== start; step = cameFrom.get(step) as string) {
          path.push(cameFrom.get(step) as string);
        }
        return [...path.reverse(), start];
      }
      if (!cameFrom.has(dependency)) {
        cameFrom.set(dependency, id);
        queue.push(dependency);
      }
    }
  }
  return null;
}

/** The ids that lie on a cycle, each with the number of its strongly connected component (Tarjan, iterative). */
function tasksOnCycles(tasks: ReadonlyMap<string, Task>): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result = new Map<string, number>();
  let counter = 0;
  let components = 0;
  for (const root of tasks.keys()) {
    if (index.has(root)) continue;
    const frames: { id: string; next: number }[] = [{ id: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter);
    counter += 1;
    stack.push(root);
    onStack.add(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as { id: string; next: number };
      const dependencies = tasks.get(frame.id)?.dependencies ?? [];
      if (frame.next < dependencies.length) {
        const dependency = dependencies[frame.next] as string;
        frame.next += 1;
        if (!index.has(dependency)) {
          index.set(dependency, counter);
          low.set(dependency, counter);
          counter += 1;
          stack.push(dependency);
          onStack.add(dependency);
          frames.push({ id: dependency, next: 0 });
        } else if (onStack.has(dependency)) {
          low.set(frame.id, Math.min(low.get(frame.id) as number, index.get(dependency) as number));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) {
        low.set(parent.id, Math.min(low.get(parent.id) as number, low.get(frame.id) as number));
      }
      if (low.get(frame.id) !== index.get(frame.id)) continue;
      const members: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        members.push(member);
      } while (member !== frame.id);
      // Tasks cannot depend on themselves (createTask refuses it), so a cycle has two members or more.
      if (members.length > 1) for (const id of members) result.set(id, components);
      components += 1;
    }
  }
  return result;
}
