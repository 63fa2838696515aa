import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import { IllegalTransitionError, InvalidArgumentError, SnapshotError } from '../../src/errors.js';
import { blockedError } from '../../src/graph/blocking.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import type { TaskRecord } from '../../src/runtime/records.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { illegalTransition, invalidArgument } from '../support/errors.js';

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
    it('should list only the first ready tasks when given a limit, and refuse a bad limit', () => {
      const run = new TaskGraphRuntime(
        TaskGraph.fromTasks([task('a'), task('b'), task('c'), task('d', 'a')]),
        { clock: fixedClock },
      );
      expect(run.ready()).toEqual(['a', 'b', 'c']);
      expect(run.ready(2)).toEqual(['a', 'b']);
      expect(run.ready(0)).toEqual([]);
      expect(run.ready(10)).toEqual(['a', 'b', 'c']);
      for (const limit of [-1, 1.5, Number.NaN, '2']) {
        expect(invalidArgument(() => run.ready(limit as number)).argument).toBe('limit');
      }
    });

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

  describe('reopen', () => {
    /** The run of `pipeline()` after 'spec' failed finally: tests, impl and docs blocked. */
    function specFailedFinally(maxAttempts = 2): TaskGraphRuntime {
      const run = new TaskGraphRuntime(pipeline(), { maxAttempts, clock: fixedClock });
      run.markRunning('spec');
      run.markFailed('spec', 'spec is contradictory', { retryable: false });
      expect(run.graph.taskIds.map((id) => run.task(id).status)).toEqual(
        run.graph.taskIds.map(() => 'failed'),
      );
      return run;
    }

    /** Every task's status, blocker and attempt number, by id. */
    const standings = (run: TaskGraphRuntime) =>
      Object.fromEntries(
        run.graph.taskIds.map((id) => {
          const view = run.task(id);
          return [id, [view.status, view.blockedBy, view.state.attemptNum]];
        }),
      );

    it('should return every task it blocked, transitively, to pending with its next attempt prepared', () => {
      const run = specFailedFinally();
      run.reopen('spec', 'spec rewritten');
      expect(standings(run)).toEqual({
        spec: ['pending', null, 1],
        tests: ['pending', null, 1],
        docs: ['pending', null, 1],
        impl: ['pending', null, 1],
      });
      for (const id of run.graph.taskIds) {
        expect(run.task(id).state.error).toBeNull();
        expect(run.task(id).attempts.map((a) => a.attemptNum)).toEqual([0]);
      }
      expect(run.task('spec').artifacts.concerns).toEqual([
        'reopened: spec rewritten (last error: spec is contradictory)',
      ]);
      expect(run.task('impl').artifacts.concerns).toEqual([
        `reopened: spec rewritten (last error: ${blockedError('tests')})`,
      ]);
      expect(run.outcome).toBe('in_progress');
    });

    it('should make the returned tasks ready in topological order as their dependencies merge', () => {
      const run = specFailedFinally();
      run.reopen('spec', 'spec rewritten');
      expect(run.ready()).toEqual(['spec']);
      merge(run, 'spec');
      expect(run.ready()).toEqual(['docs', 'tests']);
      merge(run, 'docs');
      merge(run, 'tests');
      expect(run.ready()).toEqual(['impl']);
      merge(run, 'impl');
      expect(run.outcome).toBe('succeeded');
      expect(run.task('impl').attempts.map((a) => [a.attemptNum, a.outcome])).toEqual([
        [0, 'failed'],
        [1, 'pr_merged'],
      ]);
    });

    it('should not count the blocked attempt of a returned task against maxAttempts', () => {
      const run = specFailedFinally(2);
      run.reopen('spec', 'spec rewritten');
      merge(run, 'spec');
      // tests: attempt 0 was the block; attempts 1 and 2 are its two counted ones
      run.markRunning('tests');
      run.markFailed('tests', 'first try failed');
      expect(run.task('tests').can({ type: 'RETRY' })).toBe(true);
      run.resetForRetry('tests');
      run.prepareForAttempt('tests', 2);
      run.markRunning('tests');
      run.markFailed('tests', 'second try failed');
      expect(run.task('tests').can({ type: 'RETRY' })).toBe(false);
      expect(run.task('impl').blockedBy).toBe('tests');
    });

    it('should give the reopened task exactly the attempts asked for', () => {
      const run = specFailedFinally(5);
      run.reopen('spec', 'one more try');
      run.markRunning('spec');
      run.markFailed('spec', 'still contradictory');
      expect(run.task('spec').can({ type: 'RETRY' })).toBe(false);
      expect(run.task('tests').blockedBy).toBe('spec');
      run.reopen('spec', 'two more tries', { attempts: 2 });
      run.markRunning('spec');
      run.markFailed('spec', 'not yet');
      expect(run.task('spec').can({ type: 'RETRY' })).toBe(true);
    });

    it('should block a returned task again, in the same command, by another dependency that failed finally', () => {
      const run = new TaskGraphRuntime(
        TaskGraph.fromTasks([task('a'), task('b'), task('c', 'a', 'b'), task('d', 'c')]),
        { maxAttempts: 3, clock: fixedClock },
      );
      run.markFailed('a', 'broken', { retryable: false });
      run.markFailed('b', 'also broken', { retryable: false });
      expect(run.task('c').blockedBy).toBe('a');
      const records: TaskRecord[] = [];
      run.subscribe((record) => records.push(record));
      run.reopen('a', 'fixed a');
      expect(standings(run)).toMatchObject({
        a: ['pending', null, 1],
        b: ['failed', null, 0],
        c: ['failed', 'b', 1],
        // returned with c, then blocked again behind it
        d: ['failed', 'c', 1],
      });
      expect(run.task('c').state.error).toBe(blockedError('b'));
      expect(run.task('c').artifacts.concerns).toEqual([
        `reopened: fixed a (last error: ${blockedError('a')})`,
      ]);
      expect(records.map((r) => `${r.taskId} ${r.event}`)).toEqual([
        'a REOPEN',
        'a PREPARE_ATTEMPT',
        'c REOPEN',
        'c PREPARE_ATTEMPT',
        'd REOPEN',
        'd PREPARE_ATTEMPT',
        'c FAIL',
        'd FAIL',
      ]);
      run.reopen('b', 'fixed b');
      expect(standings(run)).toMatchObject({
        b: ['pending', null, 1],
        c: ['pending', null, 2],
        d: ['pending', null, 2],
      });
      // neither of d's two blocks counted: its three attempts are 2, 3 and 4
      expect(run.task('d').can({ type: 'PREPARE_ATTEMPT', attemptNum: 4 })).toBe(true);
      expect(run.task('d').can({ type: 'PREPARE_ATTEMPT', attemptNum: 5 })).toBe(false);
    });

    it('should leave alone the dependents blocked by another task', () => {
      const run = new TaskGraphRuntime(
        TaskGraph.fromTasks([task('a'), task('b'), task('c', 'b', 'a'), task('d', 'a')]),
        { maxAttempts: 1, clock: fixedClock },
      );
      run.markFailed('b', 'broken');
      run.markFailed('a', 'broken too');
      expect([run.task('c').blockedBy, run.task('d').blockedBy]).toEqual(['b', 'a']);
      const c = JSON.stringify(run.task('c').attempts);
      run.reopen('a', 'fixed a');
      expect(run.task('d').status).toBe('pending');
      expect(run.task('c').blockedBy).toBe('b');
      expect(JSON.stringify(run.task('c').attempts)).toBe(c);
    });

    it('should refuse to reopen a blocked task, naming its blocker and the task to reopen, changing nothing', () => {
      const run = specFailedFinally();
      const before = JSON.stringify(run.persist());
      const error = illegalTransition(() => run.reopen('impl', 'try it anyway'));
      expect(error.reason).toBe('blockedByDependency');
      expect(error.event).toBe('REOPEN');
      expect(error.status).toBe('failed');
      expect(error.taskId).toBe('impl');
      expect(error.allowed).toEqual(['ADD_CONCERN']);
      expect(error.message).toContain("blocked by its dependency 'tests'");
      expect(error.message).toContain("reopen 'spec'");
      expect(JSON.stringify(run.persist())).toBe(before);
      expect(illegalTransition(() => run.reopen('docs', 'x')).message).toContain("'spec'");
    });

    it('should check the arguments of a reopen before anything else, also on a blocked task', () => {
      const run = specFailedFinally();
      const before = JSON.stringify(run.persist());
      const heard: string[] = [];
      run.subscribe((record) => {
        if (record.rejected) heard.push(`${record.taskId} ${record.reason}`);
      });
      for (const call of [
        () => run.reopen('impl', ''),
        () => run.reopen('impl', 'x', { attempts: -1 }),
        () => run.reopen('impl', 'x', null as never),
      ]) {
        expect(call).toThrow(InvalidArgumentError);
      }
      expect(heard).toEqual(Array(3).fill('impl invalidArgument'));
      expect(JSON.stringify(run.persist())).toBe(before);
    });

    it('should refuse to reopen a task whose own dependency failed finally since, naming what to reopen', () => {
      const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('a'), task('b', 'a')]), {
        maxAttempts: 1,
        clock: fixedClock,
      });
      run.markFailed('b', 'given up before it started', { retryable: false });
      run.markRunning('a');
      run.markFailed('a', 'broken');
      expect(run.task('b').blockedBy).toBeNull(); // b failed on its own, before a did
      const before = JSON.stringify(run.persist());
      const error = illegalTransition(() => run.reopen('b', 'try again'));
      expect(error.reason).toBe('blockedByDependency');
      expect(error.message).toContain("its dependency 'a' failed finally");
      expect(error.message).toContain("reopen 'a'");
      expect(JSON.stringify(run.persist())).toBe(before);
    });

    it('should refuse a reopen the task itself refuses, changing nothing in any task', () => {
      const run = new TaskGraphRuntime(pipeline(), { maxAttempts: 3, clock: fixedClock });
      run.markRunning('spec');
      run.markFailed('spec', 'flaky');
      const before = JSON.stringify(run.persist());
      expect(illegalTransition(() => run.reopen('spec', 'x')).reason).toBe('isFailureFinal');
      expect(illegalTransition(() => run.reopen('tests', 'x')).reason).toBe('illegalInStatus');
      expect(() => run.reopen('spec', '')).toThrow(InvalidArgumentError);
      expect(() => run.reopen('spec', 'x', { attempts: 0 })).toThrow(InvalidArgumentError);
      expect(() => run.reopen('nope', 'x')).toThrow(InvalidArgumentError);
      expect(JSON.stringify(run.persist())).toBe(before);
    });

    it('should put every task back when the clock fails half-way through a reopen', () => {
      let reads = 0;
      let failFrom = Number.POSITIVE_INFINITY;
      const clock = () => {
        reads += 1;
        return reads >= failFrom ? new Date(Number.NaN) : fixedClock();
      };
      const run = new TaskGraphRuntime(
        TaskGraph.fromTasks([task('a'), task('b'), task('c', 'a', 'b')]),
        { maxAttempts: 2, clock },
      );
      run.markFailed('a', 'broken', { retryable: false });
      run.markFailed('b', 'broken too', { retryable: false });
      const before = JSON.stringify(run.persist());
      // the reopen reads the clock once: for c's new block, after a and c were returned
      failFrom = reads + 1;
      expect(() => run.reopen('a', 'fixed')).toThrow(InvalidArgumentError);
      expect(JSON.stringify(run.persist())).toBe(before);
      failFrom = Number.POSITIVE_INFINITY;
      run.reopen('a', 'fixed');
      expect(run.task('c').blockedBy).toBe('b');
    });

    it('should restore a reopened run equal, in a JSON round trip', () => {
      const run = specFailedFinally();
      run.reopen('spec', 'spec rewritten', { attempts: 3 });
      const saved = JSON.stringify(run.persist());
      const restored = TaskGraphRuntime.restore(JSON.parse(saved), { clock: fixedClock });
      expect(JSON.stringify(restored.persist())).toBe(saved);
      expect(restored.ready()).toEqual(['spec']);
    });
  });

  describe('lost attempts', () => {
    it('should not block dependents for a lost attempt that is forgiven, and block them once one counts', () => {
      const run = new TaskGraphRuntime(pipeline(), {
        maxAttempts: 1,
        maxLostAttempts: 1,
        clock: fixedClock,
      });
      run.markRunning('spec');
      run.markFailed('spec', 'worker lost', { workerLost: true });
      expect(run.task('tests').status).toBe('pending');
      expect(run.task('spec').attempts[0]?.outcome).toBe('lost');
      run.resetForRetry('spec');
      run.prepareForAttempt('spec', 1);
      run.markRunning('spec');
      run.markFailed('spec', 'worker lost again', { workerLost: true });
      expect(run.task('tests').blockedBy).toBe('spec');
      expect(run.outcome).toBe('completed_with_failures');
    });

    it('should refuse workerLost with retryable: false, changing nothing', () => {
      const run = new TaskGraphRuntime(pipeline());
      run.markRunning('spec');
      const before = JSON.stringify(run.persist());
      expect(() =>
        run.markFailed('spec', 'worker lost', { workerLost: true, retryable: false }),
      ).toThrow(InvalidArgumentError);
      expect(JSON.stringify(run.persist())).toBe(before);
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
