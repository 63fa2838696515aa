import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import { IllegalTransitionError, InvalidArgumentError, SnapshotError } from '../../src/errors.js';
import { blockedError } from '../../src/graph/blocking.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import type { TaskRecord } from '../../src/runtime/records.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { illegalTransition } from '../support/errors.js';

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});

/** spec → tests → impl, and docs after spec. */
const pipeline = () =>
  TaskGraph.fromTasks([
    task('spec'),
    task('tests', 'spec'),
    task('impl', 'tests', 'spec'),
    task('docs', 'spec'),
  ]);

const fixedClock = () => new Date('2026-01-05T09:00:00.000Z');

function merge(run: TaskGraphRuntime, id: string): void {
  run.markRunning(id);
  run.markPrCreated(id, `https://github.com/acme/app/pull/${id}`);
  run.markPrMerged(id);
}

describe('TaskGraphRuntime', () => {
  describe('dependencies first', () => {
    it('should refuse START while a dependency is not merged, naming each one and its status', () => {
      const run = new TaskGraphRuntime(pipeline(), { clock: fixedClock });
      run.markRunning('spec');
      const before = JSON.stringify(run.persist());
      const error = illegalTransition(() => run.markRunning('impl'));
      expect(error.reason).toBe('dependenciesNotMerged');
      expect(error.taskId).toBe('impl');
      expect(error.status).toBe('pending');
      expect(error.message).toContain("'tests' is pending");
      expect(error.message).toContain("'spec' is running");
      expect(error.allowed).not.toContain('START');
      expect(error.allowed).toContain('FAIL');
      expect(JSON.stringify(run.persist())).toBe(before);
      expect(run.task('impl').can({ type: 'START' })).toBe(false);
    });

    it('should accept START once every dependency is pr_merged', () => {
      const run = new TaskGraphRuntime(pipeline());
      merge(run, 'spec');
      expect(run.task('tests').can({ type: 'START' })).toBe(true);
      merge(run, 'tests');
      run.markRunning('impl');
      expect(run.task('impl').status).toBe('running');
    });

    it("should report the task's own refusal before the graph's", () => {
      const run = new TaskGraphRuntime(pipeline(), { maxAttempts: 3 });
      run.markFailed('tests', 'not ready', { retryable: true });
      expect(illegalTransition(() => run.markRunning('tests')).reason).toBe('illegalInStatus');
      run.resetForRetry('tests');
      expect(illegalTransition(() => run.markRunning('tests')).reason).toBe(
        'isCurrentAttemptUnused',
      );
    });

    it('should list in ready() exactly the tasks whose START is accepted, in topological order', () => {
      const run = new TaskGraphRuntime(pipeline());
      expect(run.ready()).toEqual(['spec']);
      merge(run, 'spec');
      expect(run.ready()).toEqual(['docs', 'tests']);
      run.markRunning('docs');
      expect(run.ready()).toEqual(['tests']);
    });
  });

  describe('final failure blocks dependents', () => {
    it('should block every pending task downstream of a final failure within the same command', () => {
      const run = new TaskGraphRuntime(pipeline(), { clock: fixedClock });
      run.markRunning('spec');
      run.markFailed('spec', 'agent crashed', { retryable: false });
      for (const id of ['tests', 'impl', 'docs']) {
        const view = run.task(id);
        expect(view.status).toBe('failed');
        expect(view.blockedBy).toBe(id === 'impl' ? 'tests' : 'spec');
        expect(view.state.error).toBe(blockedError(view.blockedBy as string));
        expect(view.can({ type: 'RETRY' })).toBe(false);
        expect(view.attempts).toEqual([
          expect.objectContaining({
            attemptNum: 0,
            startedAt: null,
            outcome: 'failed',
            retryable: false,
          }),
        ]);
      }
      expect(run.task('spec').blockedBy).toBeNull();
      expect(run.outcome).toBe('completed_with_failures');
    });

    it('should name the first dependency in declared order that failed finally', () => {
      const run = new TaskGraphRuntime(
        TaskGraph.fromTasks([task('a'), task('b'), task('c', 'b', 'a')]),
        { maxAttempts: 1 },
      );
      run.markFailed('a', 'no');
      expect(run.task('c').blockedBy).toBe('a');
      const second = new TaskGraphRuntime(
        TaskGraph.fromTasks([task('a'), task('b'), task('c', 'b', 'a')]),
        { maxAttempts: 1 },
      );
      second.markFailed('b', 'no');
      second.markFailed('a', 'no');
      expect(second.task('c').state.error).toBe(
        "Blocked by orchestration rules: dependency 'b' failed",
      );
    });

    it('should count a failure with no attempt left under maxAttempts as final', () => {
      const run = new TaskGraphRuntime(pipeline(), { maxAttempts: 2 });
      run.markRunning('spec');
      run.markFailed('spec', 'tests failed');
      expect(run.task('tests').status).toBe('pending');
      expect(run.outcome).toBe('in_progress');
      run.resetForRetry('spec');
      run.prepareForAttempt('spec', 1);
      run.markRunning('spec');
      run.markFailed('spec', 'tests failed again');
      expect(run.task('tests').blockedBy).toBe('spec');
      expect(run.outcome).toBe('completed_with_failures');
    });

    it('should block a retried task at once when its dependency has failed finally', () => {
      const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('a'), task('b', 'a')]), {
        maxAttempts: 3,
      });
      run.markFailed('b', 'waiting too long');
      run.markRunning('a');
      run.markFailed('a', 'broken', { retryable: false });
      expect(run.task('b').status).toBe('failed');
      expect(run.task('b').blockedBy).toBeNull();
      run.resetForRetry('b');
      expect(run.task('b').status).toBe('failed');
      expect(run.task('b').blockedBy).toBe('a');
      expect(run.task('b').artifacts.concerns).toEqual(['attempt_0_error: waiting too long']);
    });

    it('should block nothing for a failure that can still be retried', () => {
      const run = new TaskGraphRuntime(pipeline());
      run.markRunning('spec');
      run.markFailed('spec', 'flaky');
      expect(run.ready()).toEqual([]);
      expect(['tests', 'impl', 'docs'].map((id) => run.task(id).status)).toEqual([
        'pending',
        'pending',
        'pending',
      ]);
    });

    it('should report succeeded when every task merged', () => {
      const run = new TaskGraphRuntime(pipeline());
      for (const id of run.graph.taskIds) merge(run, id);
      expect(run.outcome).toBe('succeeded');
    });
  });

  describe('bad input', () => {
    it('should refuse an unknown id in every run method with InvalidArgumentError', () => {
      const run = new TaskGraphRuntime(pipeline());
      const before = JSON.stringify(run.persist());
      const calls: (() => unknown)[] = [
        () => run.prepareForAttempt('nope', 1),
        () => run.markRunning('nope'),
        () => run.markPrCreated('nope', 'https://x'),
        () => run.markPrMerged('nope'),
        () => run.markFailed('nope', 'x'),
        () => run.resetForRetry('nope'),
        () => run.markPending('nope'),
        () => run.assignWorktree('nope', { worktreePath: '/w', branchName: 'b' }),
        () =>
          run.assignWorkstream('nope', { integrationBranch: 'i', workstreamWorktreePath: '/w' }),
        () => run.recordAgentAddress('nope', new TmuxAddress('s', '%1')),
        () => run.addConcern('nope', 'x'),
        () => run.task('nope'),
        () => run.markRunning(42 as never),
      ];
      for (const call of calls) {
        expect(call).toThrow(InvalidArgumentError);
      }
      expect(JSON.stringify(run.persist())).toBe(before);
    });

    it('should refuse malformed arguments before the status, changing nothing', () => {
      const run = new TaskGraphRuntime(pipeline());
      const before = JSON.stringify(run.persist());
      expect(() => run.markFailed('spec', '')).toThrow(InvalidArgumentError);
      expect(() => run.markPrCreated('impl', 42 as never)).toThrow(InvalidArgumentError);
      expect(JSON.stringify(run.persist())).toBe(before);
    });

    it('should refuse a graph that is not a TaskGraph', () => {
      expect(() => new TaskGraphRuntime([task('a')] as never)).toThrow(InvalidArgumentError);
    });

    it('should put every task back when the clock fails half-way through blocking', () => {
      let reads = 0;
      const clock = () => {
        reads += 1;
        return reads > 2 ? new Date(Number.NaN) : fixedClock();
      };
      const run = new TaskGraphRuntime(pipeline(), { clock, maxAttempts: 1 });
      run.markRunning('spec'); // read 1
      const before = JSON.stringify(run.persist());
      expect(() => run.markFailed('spec', 'broken')).toThrow(InvalidArgumentError); // read 2 ok, blocking fails
      expect(JSON.stringify(run.persist())).toBe(before);
    });
  });

  describe('views', () => {
    it('should give read-only views with no commands', () => {
      const run = new TaskGraphRuntime(pipeline());
      const view = run.task('spec');
      expect(Object.isFrozen(view)).toBe(true);
      expect('markRunning' in view).toBe(false);
      expect(() => {
        (view as { status: string }).status = 'pr_merged';
      }).toThrow(TypeError);
      run.markRunning('spec');
      expect(view.status).toBe('running');
      expect(Object.isFrozen(view.state)).toBe(true);
    });
  });

  describe('subscribe', () => {
    it("should deliver every task's records with its taskId, a blocked task's FAIL included", () => {
      const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('a'), task('b', 'a')]), {
        clock: fixedClock,
      });
      const records: TaskRecord[] = [];
      const stop = run.subscribe((record) => records.push(record));
      run.markRunning('a');
      expect(() => run.markRunning('b')).toThrow(IllegalTransitionError);
      run.markFailed('a', 'no', { retryable: false });
      stop();
      run.addConcern('a', 'after');
      expect(records).toEqual([
        expect.objectContaining({
          taskId: 'a',
          from: 'pending',
          to: 'running',
          event: 'START',
          rejected: false,
        }),
        {
          taskId: 'b',
          status: 'pending',
          event: 'START',
          reason: 'dependenciesNotMerged',
          rejected: true,
        },
        expect.objectContaining({ taskId: 'a', from: 'running', to: 'failed', event: 'FAIL' }),
        expect.objectContaining({ taskId: 'b', from: 'pending', to: 'failed', event: 'FAIL' }),
      ]);
    });
  });

  describe('persist and restore', () => {
    it('should restore an equal run in any state after a JSON round trip', () => {
      const run = new TaskGraphRuntime(pipeline(), { maxAttempts: 2, clock: fixedClock });
      merge(run, 'spec');
      run.markRunning('tests');
      run.markFailed('docs', 'no docs needed', { retryable: false });
      const saved = JSON.stringify(run.persist());
      const restored = TaskGraphRuntime.restore(JSON.parse(saved), { clock: fixedClock });
      expect(JSON.stringify(restored.persist())).toBe(saved);
      expect(restored.graph.taskIds).toEqual(run.graph.taskIds);
      restored.markPrCreated('tests', 'https://github.com/acme/app/pull/2');
      expect(restored.task('tests').status).toBe('pr_created');
    });

    it('should refuse a run whose task started before its dependencies merged', () => {
      const run = new TaskGraphRuntime(pipeline());
      merge(run, 'spec');
      run.markRunning('tests');
      const snapshot = JSON.parse(JSON.stringify(run.persist()));
      const spec = snapshot.tasks.findIndex(
        (t: { context: { task: { id: string } } }) => t.context.task.id === 'spec',
      );
      snapshot.tasks[spec] = new TaskGraphRuntime(pipeline()).persist().tasks[0];
      const error = (() => {
        try {
          TaskGraphRuntime.restore(snapshot);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as SnapshotError).message).toContain("'spec' is pending");
    });

    it('should refuse a pending task behind a final failure', () => {
      const blockedRun = new TaskGraphRuntime(TaskGraph.fromTasks([task('a'), task('b', 'a')]), {
        maxAttempts: 1,
      });
      blockedRun.markFailed('a', 'no');
      const fresh = new TaskGraphRuntime(TaskGraph.fromTasks([task('a'), task('b', 'a')]), {
        maxAttempts: 1,
      });
      const snapshot = {
        ...blockedRun.persist(),
        tasks: [blockedRun.persist().tasks[0], fresh.persist().tasks[1]],
      };
      expect(() => TaskGraphRuntime.restore(snapshot)).toThrow(/failed finally/);
    });

    it('should refuse malformed snapshots with the path of the problem', () => {
      const good = JSON.parse(JSON.stringify(new TaskGraphRuntime(pipeline()).persist()));
      const cases: [unknown, string][] = [
        [null, ''],
        [{ ...good, kind: 'other' }, 'kind'],
        [{ ...good, schemaVersion: 99 }, 'schemaVersion'],
        [{ ...good, tasks: 'x' }, 'tasks'],
        [{ ...good, tasks: [] }, 'tasks'],
        [{ ...good, extra: 1 }, 'extra'],
        [
          { ...good, tasks: [good.tasks[0], { ...good.tasks[1], status: 'bogus' }] },
          'tasks[1].status',
        ],
        [{ ...good, tasks: [good.tasks[1]] }, 'tasks'],
      ];
      for (const [snapshot, path] of cases) {
        try {
          TaskGraphRuntime.restore(snapshot);
          throw new Error(`restored ${JSON.stringify(snapshot)?.slice(0, 60)}`);
        } catch (error) {
          expect(error).toBeInstanceOf(SnapshotError);
          expect((error as SnapshotError).path).toBe(path);
        }
      }
    });
  });

  describe('inspect', () => {
    it("should hand the inspector every task's actor", () => {
      const actors = new Set<string>();
      const run = new TaskGraphRuntime(pipeline(), {
        inspect: (event) => {
          if (event.type === '@xstate.actor') actors.add(event.actorRef.sessionId);
        },
      });
      expect(actors.size).toBe(run.graph.size);
    });
  });
});
