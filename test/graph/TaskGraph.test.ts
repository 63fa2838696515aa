import { InvalidArgumentError } from '../../src/errors.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { invalidArgument } from '../support/errors.js';

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});

describe('TaskGraph', () => {
  describe('taskIds', () => {
    it('should put a diamond in the same order whatever the input order', () => {
      const diamond = [task('a'), task('b', 'a'), task('c', 'a'), task('d', 'b', 'c')];
      expect(TaskGraph.fromTasks(diamond).taskIds).toEqual(['a', 'b', 'c', 'd']);
      expect(TaskGraph.fromTasks([...diamond].reverse()).taskIds).toEqual(['a', 'b', 'c', 'd']);
    });

    it('should take the smallest ready id first among ties', () => {
      const graph = TaskGraph.fromTasks([
        task('zeta'),
        task('alpha'),
        task('mid'),
        task('beta', 'zeta'),
      ]);
      expect(graph.taskIds).toEqual(['alpha', 'mid', 'zeta', 'beta']);
    });

    it('should release a dependent only after its last dependency, then by id', () => {
      const graph = TaskGraph.fromTasks([
        task('c', 'b'),
        task('b'),
        task('a', 'b'),
        task('z'),
        task('y', 'z', 'a'),
      ]);
      expect(graph.taskIds).toEqual(['b', 'a', 'c', 'z', 'y']);
    });

    it('should compare ids by UTF-16 code units, uppercase before lowercase', () => {
      expect(TaskGraph.fromTasks([task('b'), task('B'), task('a')]).taskIds).toEqual([
        'B',
        'a',
        'b',
      ]);
    });

    it('should be frozen', () => {
      const graph = TaskGraph.fromTasks([task('a'), task('b', 'a')]);
      expect(Object.isFrozen(graph)).toBe(true);
      expect(Object.isFrozen(graph.taskIds)).toBe(true);
      expect(() => (graph.taskIds as string[]).push('x')).toThrow(TypeError);
    });
  });

  describe('dependenciesOf and dependentsOf', () => {
    const graph = TaskGraph.fromTasks([
      task('top', 'mid', 'base'),
      task('mid', 'base'),
      task('base'),
      task('other', 'base'),
    ]);

    it('should keep the declared order of dependencies', () => {
      expect(graph.dependenciesOf('top')).toEqual(['mid', 'base']);
    });

    it('should sort dependents by id', () => {
      expect(graph.dependentsOf('base')).toEqual(['mid', 'other', 'top']);
      expect(Object.isFrozen(graph.dependentsOf('base'))).toBe(true);
    });

    it('should list roots and leaves in topological order', () => {
      expect(graph.roots).toEqual(['base']);
      expect(graph.leaves).toEqual(['other', 'top']);
    });

    it('should refuse an unknown id with InvalidArgumentError', () => {
      for (const call of [
        () => graph.task('nope'),
        () => graph.dependenciesOf('nope'),
        () => graph.dependentsOf('nope'),
        () => graph.indexOf('nope'),
      ]) {
        const error = invalidArgument(call);
        expect(error.argument).toBe('taskId');
        expect(error.message).toContain('"nope"');
      }
    });
  });

  describe('fromTasks', () => {
    it('should refuse an empty graph', () => {
      expect(invalidArgument(() => TaskGraph.fromTasks([])).message).toContain('at least one task');
    });

    it('should refuse something that is not iterable', () => {
      expect(() => TaskGraph.fromTasks(42 as never)).toThrow(InvalidArgumentError);
      expect(() => TaskGraph.fromTasks(null as never)).toThrow(InvalidArgumentError);
    });

    it('should name a duplicate id', () => {
      const error = invalidArgument(() => TaskGraph.fromTasks([task('same'), task('same')]));
      expect(error.message).toContain("'same' twice");
    });

    it('should name a dependency that is not in the graph, and the task that declares it', () => {
      const error = invalidArgument(() =>
        TaskGraph.fromTasks([task('a'), task('b', 'a', 'ghost', 'spirit')]),
      );
      expect(error.message).toContain("'b'");
      expect(error.message).toContain("'ghost', 'spirit'");
    });

    it('should refuse a malformed task with the error of createTask', () => {
      expect(
        invalidArgument(() => TaskGraph.fromTasks([{ id: '', role: 'generic' }])).argument,
      ).toBe('task.id');
    });

    it('should show a cycle from its smallest id along dependency edges', () => {
      const error = invalidArgument(() =>
        TaskGraph.fromTasks([
          task('c', 'a'),
          task('b', 'c'),
          task('a', 'b'),
          task('root'),
          task('x', 'root'),
        ]),
      );
      expect(error.message).toContain('a -> b -> c -> a');
    });

    it('should report the cycle through the smallest id when there are several', () => {
      const error = invalidArgument(() =>
        TaskGraph.fromTasks([
          task('q', 'p'),
          task('p', 'q'),
          task('m', 'n'),
          task('n', 'm'),
          task('after', 'm'),
        ]),
      );
      expect(error.message).toContain('m -> n -> m');
      expect(error.message).not.toContain('p -> q');
    });

    it('should take the shortest way back in a strongly connected component', () => {
      const error = invalidArgument(() =>
        TaskGraph.fromTasks([task('a', 'b', 'c'), task('b', 'c'), task('c', 'a')]),
      );
      expect(error.message).toContain('a -> c -> a');
    });

    it('should validate a deep chain of 20,000 tasks without overflowing the stack', () => {
      const tasks = Array.from({ length: 20_000 }, (_, index) =>
        task(
          `t${String(index).padStart(5, '0')}`,
          ...(index === 0 ? [] : [`t${String(index - 1).padStart(5, '0')}`]),
        ),
      );
      const graph = TaskGraph.fromTasks([...tasks].reverse());
      expect(graph.taskIds[0]).toBe('t00000');
      expect(graph.taskIds[19_999]).toBe('t19999');
      const cyclic = [...tasks.slice(1), task('t00000', 't19999')];
      expect(invalidArgument(() => TaskGraph.fromTasks(cyclic)).message).toContain(
        't00000 -> t19999 -> t19998',
      );
    });
  });
});
