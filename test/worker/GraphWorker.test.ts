import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import type { AttemptContext } from '../../src/worker/AttemptContext.js';
import { AttemptEndedError } from '../../src/worker/AttemptContext.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { NonRetryableError } from '../../src/worker/NonRetryableError.js';
import type { GraphWorkerOptions } from '../../src/worker/options.js';
import { invalidArgument, rejectionOf } from '../support/errors.js';
import {
  deferred,
  listen,
  mergeAtOnce,
  prUrlOf,
  RUN_KINDS,
  runFactory,
  succeed,
  task,
  tickingClock,
  until,
  watchInvariants,
} from './harness.js';

const runs = runFactory();
afterAll(() => runs.closeAll());

/** a → b → c, a → d, and e alone. */
const TASKS = [task('a'), task('b', 'a'), task('c', 'b'), task('d', 'a'), task('e')];

const handlers: GraphWorkerOptions = { work: succeed, merge: mergeAtOnce, retryDelayMs: 0 };

describe('GraphWorker', () => {
  describe('constructor', () => {
    const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('a')]));
    const bad: [string, Record<string, unknown>][] = [
      ['options.work', { work: 'no' }],
      ['options.work', { work: undefined }],
      ['options.merge', { merge: 42 }],
      ['options.concurrency', { concurrency: 0 }],
      ['options.concurrency', { concurrency: 1.5 }],
      ['options.concurrency', { concurrency: '2' }],
      ['options.retryDelayMs', { retryDelayMs: -1 }],
      ['options.retryDelayMs', { retryDelayMs: Number.NaN }],
      ['options.retryDelayMs', { retryDelayMs: Number.POSITIVE_INFINITY }],
      ['options.retryDelayMs', { retryDelayMs: '10' }],
      ['options.attemptTimeoutMs', { attemptTimeoutMs: 0 }],
      ['options.attemptTimeoutMs', { attemptTimeoutMs: -5 }],
      ['options.attemptTimeoutMs', { attemptTimeoutMs: Number.POSITIVE_INFINITY }],
    ];

    it.each(bad)(
      'should refuse a bad %s with an InvalidArgumentError naming it',
      (name, change) => {
        const error = invalidArgument(
          () => new GraphWorker(run, { ...handlers, ...change } as unknown as GraphWorkerOptions),
        );
        expect(error.argument).toBe(name);
        expect(error.message).toContain(name);
      },
    );

    it('should refuse options that are not an object, and a run that is not a graph run', () => {
      expect(
        invalidArgument(() => new GraphWorker(run, null as unknown as GraphWorkerOptions)).argument,
      ).toBe('options');
      const notARun = { ready: () => [] } as unknown as TaskGraphRuntime;
      expect(invalidArgument(() => new GraphWorker(notARun, handlers)).argument).toBe('run');
    });

    it('should refuse a listener that is not a function', () => {
      const worker = new GraphWorker(run, handlers);
      expect(invalidArgument(() => worker.subscribe(42 as never)).argument).toBe('listener');
    });
  });

  describe.each(RUN_KINDS)('on a %s run', (kind) => {
    it('should run every task through work, PR, merge in topological order with concurrency 1', async () => {
      const run = await runs.open(kind, TASKS);
      const worker = new GraphWorker(run, handlers);
      const heard = listen(run);
      await expect(worker.run()).resolves.toBe('succeeded');
      const starts = heard.transitions().filter((r) => r.event === 'START');
      expect(starts.map((r) => r.taskId)).toEqual(run.graph.taskIds);
      expect(heard.steps().slice(0, 3)).toEqual(['a:START', 'a:PR_CREATED', 'a:PR_MERGED']);
      for (const id of run.graph.taskIds) {
        expect(run.task(id).status).toBe('pr_merged');
        expect(run.task(id).artifacts.prUrl).toBe(prUrlOf(id, 0));
      }
    });

    it('should give work and merge the same context, whose commands go through the run', async () => {
      const run = await runs.open(kind, [task('a')]);
      const contexts: AttemptContext[] = [];
      const worker = new GraphWorker(run, {
        async work(view, attempt) {
          contexts.push(attempt);
          expect(view.status).toBe('running');
          await attempt.assignWorktree({ worktreePath: '/w/a', branchName: 'task/a' });
          await attempt.assignWorkstream({
            integrationBranch: 'main',
            workstreamWorktreePath: '/w/main',
          });
          await attempt.recordAgentAddress(new TmuxAddress('agents', '%1'));
          await attempt.addConcern('flaky test seen');
          return { prUrl: 'https://example.test/pull/1' };
        },
        merge(view, attempt) {
          contexts.push(attempt);
          expect(view.status).toBe('pr_created');
        },
      });
      await worker.run();
      expect(contexts).toHaveLength(2);
      expect(contexts[0]).toBe(contexts[1]);
      expect(contexts[0]).toMatchObject({ taskId: 'a', attemptNum: 0 });
      expect(contexts[0]?.signal.aborted).toBe(false);
      const view = run.task('a');
      expect(view.state).toMatchObject({ worktreePath: '/w/a', integrationBranch: 'main' });
      expect(view.artifacts.concerns).toEqual(['flaky test seen']);
      expect(view.artifacts.agentAddress?.label).toBe('agents:%1');
    });

    it('should refuse context commands after the attempt ended, changing nothing', async () => {
      const run = await runs.open(kind, [task('a')]);
      let kept: AttemptContext | null = null;
      const worker = new GraphWorker(run, {
        ...handlers,
        work(_view, attempt) {
          kept = attempt;
          return { prUrl: 'https://example.test/pull/1' };
        },
      });
      await worker.run();
      const before = JSON.stringify(run.persist());
      const context = kept as unknown as AttemptContext;
      const error = await rejectionOf(() => context.addConcern('too late'));
      expect(error).toBeInstanceOf(AttemptEndedError);
      expect(error).toMatchObject({ taskId: 'a', attemptNum: 0, command: 'addConcern' });
      await expect(
        context.assignWorktree({ worktreePath: '/w', branchName: 'b' }),
      ).rejects.toBeInstanceOf(AttemptEndedError);
      expect(JSON.stringify(run.persist())).toBe(before);
    });

    it('should hand a context command refused by the run to the handler, which may go on', async () => {
      const run = await runs.open(kind, [task('a')]);
      const worker = new GraphWorker(run, {
        ...handlers,
        async work(_view, attempt) {
          await expect(attempt.addConcern('')).rejects.toBeInstanceOf(InvalidArgumentError);
          return { prUrl: 'https://example.test/pull/1' };
        },
      });
      await expect(worker.run()).resolves.toBe('succeeded');
    });

    it('should retry an attempt that failed until it succeeds, never reusing an attempt number', async () => {
      const run = await runs.open(kind, [task('a'), task('b', 'a')], { maxAttempts: 5 });
      const asked: unknown[] = [];
      const worker = new GraphWorker(run, {
        work(view, attempt) {
          if (view.task.id === 'a' && attempt.attemptNum < 2) {
            throw new Error(`tests failed on attempt ${attempt.attemptNum}`);
          }
          return succeed(view, attempt);
        },
        merge: mergeAtOnce,
        retryDelayMs: (failed) => {
          asked.push(failed);
          return 1;
        },
      });
      const heard = listen(run, worker);
      const invariants = watchInvariants(run);
      await expect(worker.run()).resolves.toBe('succeeded');
      expect(asked).toEqual([
        { taskId: 'a', attemptNum: 0, error: 'tests failed on attempt 0' },
        { taskId: 'a', attemptNum: 1, error: 'tests failed on attempt 1' },
      ]);
      expect(heard.events).toEqual([
        { type: 'retryScheduled', taskId: 'a', attemptNum: 1, delayMs: 1 },
        { type: 'retryScheduled', taskId: 'a', attemptNum: 2, delayMs: 1 },
      ]);
      expect(run.task('a').attempts.map((r) => [r.attemptNum, r.outcome])).toEqual([
        [0, 'failed'],
        [1, 'failed'],
        [2, 'pr_merged'],
      ]);
      expect(run.task('a').artifacts.concerns).toEqual([
        'attempt_0_error: tests failed on attempt 0',
        'attempt_1_error: tests failed on attempt 1',
      ]);
      expect(invariants.violations).toEqual([]);
    });

    it('should record a handler failure as the contract maps it', async () => {
      const thrown: Record<string, () => unknown> = {
        plain: () => new Error('boom'),
        string: () => 'a string was thrown',
        number: () => 42,
        empty: () => new Error(''),
        nonRetryable: () => new NonRetryableError('spec is contradictory'),
        retryableFalse: () => Object.assign(new Error('quota exhausted'), { retryable: false }),
        objectRetryableFalse: () => ({ retryable: false }),
      };
      const ids = Object.keys(thrown);
      const run = await runs.open(
        kind,
        ids.map((id) => task(id)),
        { maxAttempts: 2 },
      );
      const worker = new GraphWorker(run, {
        work(view) {
          throw (thrown[view.task.id] as () => unknown)();
        },
        merge: mergeAtOnce,
        retryDelayMs: 0,
      });
      await worker.run();
      const firstFailure = (id: string) => {
        const record = run.task(id).attempts[0];
        return [record?.error, record?.retryable];
      };
      expect(Object.fromEntries(ids.map((id) => [id, firstFailure(id)]))).toEqual({
        plain: ['boom', true],
        string: ['a string was thrown', true],
        number: ['42', true],
        empty: ['work failed without a message', true],
        nonRetryable: ['spec is contradictory', false],
        retryableFalse: ['quota exhausted', false],
        objectRetryableFalse: ['[object Object]', false],
      });
      expect(run.task('nonRetryable').attempts).toHaveLength(1);
      expect(run.task('plain').attempts).toHaveLength(2);
    });

    it('should name merge in the message of a merge failure without one', async () => {
      const run = await runs.open(kind, [task('a')], { maxAttempts: 1 });
      const worker = new GraphWorker(run, {
        ...handlers,
        merge: () => Promise.reject(new Error('')),
      });
      await expect(worker.run()).resolves.toBe('completed_with_failures');
      expect(run.task('a').attempts[0]).toMatchObject({
        outcome: 'failed',
        error: 'merge failed without a message',
        prUrl: prUrlOf('a', 0),
      });
    });

    it('should fail an attempt for good when work returns no valid prUrl, saying what was expected', async () => {
      const results: Record<string, unknown> = {
        nothing: undefined,
        text: 'https://example.test/pull/1',
        missing: {},
        empty: { prUrl: '' },
        number: { prUrl: 7 },
        array: ['https://example.test/pull/1'],
      };
      const ids = Object.keys(results);
      const run = await runs.open(
        kind,
        ids.map((id) => task(id)),
      );
      const worker = new GraphWorker(run, {
        ...handlers,
        work: (view) => results[view.task.id] as never,
      });
      await expect(worker.run()).resolves.toBe('completed_with_failures');
      const errors = Object.fromEntries(ids.map((id) => [id, run.task(id).state.error]));
      expect(errors).toEqual({
        nothing: expect.stringMatching(
          /^work returned undefined: expected an object with a non-empty string prUrl/,
        ),
        text: expect.stringContaining('work returned a string ("https://example.test/pull/1")'),
        missing: expect.stringContaining('work returned an object whose prUrl is undefined'),
        empty: expect.stringContaining('prUrl is an empty string'),
        number: expect.stringContaining('prUrl is a number (7)'),
        array: expect.stringContaining('work returned an array of 1'),
      });
      for (const id of ids) expect(run.task(id).can({ type: 'RETRY' })).toBe(false);
    });

    it('should keep every rule whatever the handlers do: throw at once, return plainly, settle twice', async () => {
      const run = await runs.open(kind, [task('sync'), task('plain'), task('twice')], {
        maxAttempts: 2,
      });
      const worker = new GraphWorker(run, {
        ...handlers,
        concurrency: 3,
        work(view, attempt) {
          if (view.task.id === 'sync' && attempt.attemptNum === 0) throw new Error('sync throw');
          if (view.task.id === 'twice') {
            // A thenable that resolves, then rejects, then resolves again: only the first counts.
            return {
              // biome-ignore lint/suspicious/noThenProperty: the point is a misbehaving thenable
              then(resolve: (value: unknown) => void, reject: (error: unknown) => void) {
                resolve({ prUrl: 'https://example.test/pull/twice' });
                reject(new Error('second settlement'));
                resolve({ prUrl: 'https://example.test/pull/third' });
              },
            } as never;
          }
          return succeed(view, attempt);
        },
      });
      const invariants = watchInvariants(run);
      await expect(worker.run()).resolves.toBe('succeeded');
      expect(run.task('sync').attempts.map((r) => r.error)).toEqual(['sync throw', null]);
      expect(run.task('twice').artifacts.prUrl).toBe('https://example.test/pull/twice');
      expect(invariants.violations).toEqual([]);
    });

    it('should keep at most `concurrency` attempts in flight, work and merge both counting', async () => {
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
      const run = await runs.open(
        kind,
        ids.map((id) => task(id)),
      );
      let inFlight = 0;
      let most = 0;
      const firstWave = deferred<void>();
      const busy = async <T>(value: T): Promise<T> => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        if (inFlight === 3) firstWave.resolve();
        await firstWave.promise; // the first three hold until all three are in flight
        await new Promise((resolve) => setTimeout(resolve, 2));
        inFlight -= 1;
        return value;
      };
      const worker = new GraphWorker(run, {
        work: (view, attempt) => busy(succeed(view, attempt)),
        merge: () => busy(undefined),
        concurrency: 3,
      });
      const heard = listen(run);
      await expect(worker.run()).resolves.toBe('succeeded');
      expect(most).toBe(3);
      const starts = heard.transitions().filter((r) => r.event === 'START');
      expect(starts.map((r) => r.taskId)).toEqual(ids);
    });

    it('should time an attempt out: abort its signal, fail it at once, free its slot, ignore the handler later', async () => {
      const run = await runs.open(kind, [task('slow'), task('after', 'slow')]);
      const late = deferred<{ prUrl: string }>();
      const signals: AbortSignal[] = [];
      let timedOut: AttemptContext | null = null;
      const worker = new GraphWorker(run, {
        work(view, attempt) {
          signals.push(attempt.signal);
          if (attempt.attemptNum === 0) {
            timedOut = attempt;
            return late.promise;
          }
          return succeed(view, attempt);
        },
        merge: mergeAtOnce,
        retryDelayMs: 0,
        attemptTimeoutMs: 30,
      });
      const heard = listen(run, worker);
      await expect(worker.run()).resolves.toBe('succeeded');
      expect(signals[0]?.aborted).toBe(true);
      expect((signals[0]?.reason as Error | undefined)?.name).toBe('TimeoutError');
      expect(signals[1]?.aborted).toBe(false);
      expect(run.task('slow').attempts[0]).toMatchObject({
        outcome: 'failed',
        retryable: true,
        error: 'attempt 0 timed out after 30 ms',
      });
      expect(heard.events.slice(0, 2)).toEqual([
        { type: 'attemptTimedOut', taskId: 'slow', attemptNum: 0 },
        { type: 'retryScheduled', taskId: 'slow', attemptNum: 1, delayMs: 0 },
      ]);
      const before = JSON.stringify(run.persist());
      late.resolve({ prUrl: 'https://example.test/pull/late' });
      await new Promise((resolve) => setTimeout(resolve, 5));
      const abandoned = timedOut as unknown as AttemptContext;
      await expect(abandoned.addConcern('late')).rejects.toBeInstanceOf(AttemptEndedError);
      expect(JSON.stringify(run.persist())).toBe(before);
    });

    it('should count the timeout over work and merge together', async () => {
      const run = await runs.open(kind, [task('a')], { maxAttempts: 1 });
      const worker = new GraphWorker(run, {
        work: async (view, attempt) => {
          await new Promise((resolve) => setTimeout(resolve, 25));
          return succeed(view, attempt);
        },
        merge: (_view, attempt) =>
          new Promise<void>((_resolve, reject) => {
            attempt.signal.addEventListener('abort', () => reject(attempt.signal.reason));
          }),
        attemptTimeoutMs: 50,
      });
      await expect(worker.run()).resolves.toBe('completed_with_failures');
      expect(run.task('a').attempts[0]).toMatchObject({
        outcome: 'failed',
        error: 'attempt 0 timed out after 50 ms',
        prUrl: prUrlOf('a', 0),
      });
    });

    it('should recover a task found running as a lost attempt that costs no attempt, then retry it', async () => {
      const run = await runs.open(kind, [task('a'), task('b', 'a')], { maxAttempts: 1 });
      await run.markRunning('a'); // a previous worker died here
      const worker = new GraphWorker(run, handlers);
      const heard = listen(run, worker);
      await expect(worker.run()).resolves.toBe('succeeded');
      expect(heard.events[0]).toEqual({ type: 'recovered', taskId: 'a', status: 'running' });
      expect(run.task('a').attempts.map((r) => [r.attemptNum, r.outcome])).toEqual([
        [0, 'lost'],
        [1, 'pr_merged'],
      ]);
      expect(run.task('a').attempts[0]?.error).toMatch(/^worker lost/);
    });

    it('should recover a task found pr_created by merging it again, same attempt, without new work', async () => {
      const run = await runs.open(kind, [task('a'), task('b', 'a')]);
      await run.markRunning('a');
      await run.markPrCreated('a', 'https://example.test/pull/a');
      const worked: string[] = [];
      const merged: [string, number][] = [];
      const worker = new GraphWorker(run, {
        work(view, attempt) {
          worked.push(view.task.id);
          return succeed(view, attempt);
        },
        merge(view, attempt) {
          merged.push([view.task.id, attempt.attemptNum]);
        },
      });
      const heard = listen(run, worker);
      await expect(worker.run()).resolves.toBe('succeeded');
      expect(heard.events).toEqual([{ type: 'recovered', taskId: 'a', status: 'pr_created' }]);
      expect(worked).toEqual(['b']);
      expect(merged).toEqual([
        ['a', 0],
        ['b', 0],
      ]);
      expect(run.task('a').attempts).toHaveLength(1);
      expect(run.task('a').artifacts.prUrl).toBe('https://example.test/pull/a');
    });

    it('should stop on its signal: no new start, in-flight signals aborted, results recorded', async () => {
      const run = await runs.open(kind, [task('a'), task('b'), task('c', 'a')]);
      const stop = new AbortController();
      const started: string[] = [];
      const worker = new GraphWorker(run, {
        work(view, attempt) {
          started.push(view.task.id);
          if (view.task.id === 'b') throw new Error('b fails');
          // a: keeps working until told to stop, then hands in its PR.
          return new Promise((resolve) => {
            attempt.signal.addEventListener('abort', () => resolve(succeed(view, attempt)));
          });
        },
        merge: () => {
          throw new Error('merge must wait for the next run');
        },
        concurrency: 2,
        retryDelayMs: 60_000,
      });
      const running = worker.run({ signal: stop.signal });
      await until(() => run.task('b').status === 'failed' && run.task('a').status === 'running');
      stop.abort();
      await expect(running).resolves.toBe('in_progress');
      expect(started).toEqual(['a', 'b']);
      expect(run.task('a').status).toBe('pr_created');
      expect(run.task('b').status).toBe('failed');
      expect(run.task('c').status).toBe('pending');
      // The next run merges a (recovered), retries b, and runs c.
      const next = new GraphWorker(run, handlers);
      await expect(next.run()).resolves.toBe('succeeded');
    });

    it('should wait, on stop, for a handler that only settles later, and record its result', async () => {
      const run = await runs.open(kind, [task('a')]);
      const stop = new AbortController();
      const held = deferred<{ prUrl: string }>();
      const worker = new GraphWorker(run, { ...handlers, work: () => held.promise });
      const running = worker.run({ signal: stop.signal });
      await until(() => run.task('a').status === 'running');
      stop.abort();
      let settled = false;
      void running.then(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(settled).toBe(false);
      held.resolve({ prUrl: 'https://example.test/pull/a' });
      await expect(running).resolves.toBe('in_progress');
      expect(run.task('a').status).toBe('pr_created');
    });

    it('should do nothing with a signal aborted before run()', async () => {
      const run = await runs.open(kind, [task('a')]);
      const worker = new GraphWorker(run, handlers);
      await expect(worker.run({ signal: AbortSignal.abort() })).resolves.toBe('in_progress');
      expect(run.task('a').status).toBe('pending');
    });

    it('should refuse a second run() while one is going, and accept one after it', async () => {
      const run = await runs.open(kind, [task('a')]);
      const held = deferred<{ prUrl: string }>();
      const worker = new GraphWorker(run, { ...handlers, work: () => held.promise });
      const first = worker.run();
      expect(worker.isRunning).toBe(true);
      const error = await rejectionOf(() => worker.run());
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('run()');
      held.resolve({ prUrl: 'https://example.test/pull/a' });
      await expect(first).resolves.toBe('succeeded');
      expect(worker.isRunning).toBe(false);
      await expect(worker.run()).resolves.toBe('succeeded');
    });

    it('should refuse run options that are not an object with an AbortSignal', async () => {
      const run = await runs.open(kind, [task('a')]);
      const worker = new GraphWorker(run, handlers);
      const error = await rejectionOf(() => worker.run({ signal: 'stop' as never }));
      expect((error as InvalidArgumentError).argument).toBe('options.signal');
      expect(worker.isRunning).toBe(false);
    });

    it('should reject run() when the retryDelayMs function returns a bad delay', async () => {
      for (const bad of [-1, Number.NaN, '5', undefined]) {
        const run = await runs.open(kind, [task('a')]);
        const worker = new GraphWorker(run, {
          ...handlers,
          work: () => {
            throw new Error('fails');
          },
          retryDelayMs: () => bad as number,
        });
        const error = await rejectionOf(() => worker.run());
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe('options.retryDelayMs');
        expect(run.task('a').status).toBe('failed');
      }
    });

    it('should pick up a task reopened after its final failure, with the tasks it blocked', async () => {
      const run = await runs.open(kind, [task('a'), task('b', 'a'), task('c', 'b')], {
        maxAttempts: 1,
      });
      let fixed = false;
      const worker = new GraphWorker(run, {
        ...handlers,
        work(view, attempt) {
          if (view.task.id === 'a' && !fixed) throw new NonRetryableError('missing secret');
          return succeed(view, attempt);
        },
      });
      await expect(worker.run()).resolves.toBe('completed_with_failures');
      expect(run.task('c').blockedBy).toBe('b');
      fixed = true;
      await run.reopen('a', 'secret added');
      await expect(worker.run()).resolves.toBe('succeeded');
      expect(run.task('a').attempts.map((r) => r.outcome)).toEqual(['failed', 'pr_merged']);
    });

    it('should pick up a reopen made while it runs', async () => {
      const run = await runs.open(kind, [task('a'), task('b', 'a'), task('long')], {
        maxAttempts: 1,
      });
      const held = deferred<{ prUrl: string }>();
      let fixed = false;
      const worker = new GraphWorker(run, {
        ...handlers,
        concurrency: 2,
        work(view, attempt) {
          if (view.task.id === 'long') return held.promise;
          if (view.task.id === 'a' && !fixed) throw new NonRetryableError('missing secret');
          return succeed(view, attempt);
        },
      });
      const running = worker.run();
      await until(() => run.task('b').blockedBy === 'a');
      fixed = true;
      await run.reopen('a', 'secret added');
      await until(() => run.task('b').status === 'pr_merged');
      held.resolve({ prUrl: 'https://example.test/pull/long' });
      await expect(running).resolves.toBe('succeeded');
    });
  });

  describe('on a run someone else also drives', () => {
    it('should wait for the records of a task held elsewhere, then end', async () => {
      const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('a'), task('b')]));
      const held = deferred<{ prUrl: string }>();
      const worker = new GraphWorker(run, {
        ...handlers,
        work: (view, attempt) => {
          if (view.task.id === 'a') {
            run.markRunning('b'); // another holder starts b while the worker is busy with a
            return held.promise;
          }
          return succeed(view, attempt);
        },
      });
      let settled = false;
      const running = worker.run().then((outcome) => {
        settled = true;
        return outcome;
      });
      await until(() => run.task('b').status === 'running');
      held.resolve({ prUrl: 'https://example.test/pull/a' });
      await until(() => run.task('a').status === 'pr_merged');
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(settled).toBe(false); // b is the other holder's
      run.markPrCreated('b', 'https://example.test/pull/b');
      run.markPrMerged('b');
      await expect(running).resolves.toBe('succeeded');
    });
  });

  describe('retryDelayMs', () => {
    afterEach(() => jest.useRealTimers());

    it('should wait 1 s doubled per attempt by default, at most 5 minutes, before each retry', async () => {
      jest.useFakeTimers();
      const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('a')]), {
        clock: tickingClock(),
      });
      const worker = new GraphWorker(run, {
        work(view, attempt) {
          if (attempt.attemptNum < 10) throw new Error(`failure ${attempt.attemptNum}`);
          return succeed(view, attempt);
        },
        merge: mergeAtOnce,
      });
      const heard = listen(run, worker);
      const running = worker.run();
      await jest.advanceTimersByTimeAsync(0);
      expect(run.task('a').status).toBe('failed');
      await jest.advanceTimersByTimeAsync(999);
      expect(run.task('a').attempts).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(run.task('a').attempts).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(2000);
      expect(run.task('a').attempts).toHaveLength(3);
      await jest.advanceTimersByTimeAsync(3_600_000);
      await expect(running).resolves.toBe('succeeded');
      const delays = heard.events.map((event) =>
        event.type === 'retryScheduled' ? event.delayMs : null,
      );
      expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000]);
    });
  });
});
