/**
 * agentrelay's orchestrator behaviours, restated for GraphWorker: what its users rely on must hold here too.
 */
import { blockedError } from '../../src/graph/blocking.js';
import type { TransitionRecord } from '../../src/runtime/records.js';
import type { GraphWorkerEvent } from '../../src/worker/events.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import {
  listen,
  mergeAtOnce,
  prUrlOf,
  RUN_KINDS,
  runFactory,
  succeed,
  task,
  tickingClock,
} from './harness.js';

const runs = runFactory();
afterAll(() => runs.closeAll());

/** spec → tests → impl, and docs alone. */
const TASKS = [task('spec'), task('tests', 'spec'), task('impl', 'tests'), task('docs')];

describe.each(RUN_KINDS)('GraphWorker as agentrelay orchestrates, on a %s run', (kind) => {
  it('should retry expected failures until they succeed', async () => {
    const run = await runs.open(kind, TASKS, { clock: tickingClock() });
    const failuresOf: Record<string, number> = { spec: 2, tests: 1, impl: 3, docs: 0 };
    const worker = new GraphWorker(run, {
      work(view, attempt) {
        if (attempt.attemptNum < (failuresOf[view.task.id] ?? 0)) {
          throw new Error(`expected failure ${attempt.attemptNum}`);
        }
        return succeed(view, attempt);
      },
      merge: mergeAtOnce,
      concurrency: 2,
      retryDelayMs: 0,
    });
    await expect(worker.run()).resolves.toBe('succeeded');
    for (const [id, failures] of Object.entries(failuresOf)) {
      const view = run.task(id);
      expect(view.attempts.map((r) => r.outcome)).toEqual([
        ...Array.from({ length: failures }, () => 'failed'),
        'pr_merged',
      ]);
      expect(view.artifacts.concerns).toEqual(
        Array.from({ length: failures }, (_, n) => `attempt_${n}_error: expected failure ${n}`),
      );
    }
  });

  it('should make a failure terminal without retries, and block its dependents', async () => {
    const run = await runs.open(kind, TASKS, { maxAttempts: 1 });
    const worker = new GraphWorker(run, {
      work(view, attempt) {
        if (view.task.id === 'tests') throw new Error('the test writer crashed');
        return succeed(view, attempt);
      },
      merge: mergeAtOnce,
    });
    const heard = listen(run, worker);
    await expect(worker.run()).resolves.toBe('completed_with_failures');
    expect(heard.events).toEqual([]); // no retry scheduled
    expect(run.task('tests').attempts).toHaveLength(1);
    expect(run.task('tests').state.error).toBe('the test writer crashed');
    expect(run.task('impl')).toMatchObject({ status: 'failed', blockedBy: 'tests' });
    expect(run.task('impl').state.error).toBe(blockedError('tests'));
    expect(run.task('impl').attempts[0]?.startedAt).toBeNull(); // it never ran
    expect(run.task('docs').status).toBe('pr_merged');
  });

  it('should block everything downstream of a dependency failure, and report each block', async () => {
    const run = await runs.open(kind, TASKS, { maxAttempts: 2 });
    const worker = new GraphWorker(run, {
      work(view, attempt) {
        if (view.task.id === 'spec') throw new Error('the spec writer gave up');
        return succeed(view, attempt);
      },
      merge: mergeAtOnce,
      retryDelayMs: 0,
    });
    const heard = listen(run, worker);
    await expect(worker.run()).resolves.toBe('completed_with_failures');
    const blocks = heard
      .transitions()
      .filter((r) => r.event === 'FAIL' && r.from === 'pending')
      .map((r) => [r.taskId, run.task(r.taskId).blockedBy]);
    expect(blocks).toEqual([
      ['tests', 'spec'],
      ['impl', 'tests'],
    ]);
    expect(run.graph.taskIds.map((id) => [id, run.task(id).blockedBy])).toEqual([
      ['docs', null],
      ['spec', null],
      ['tests', 'spec'],
      ['impl', 'tests'],
    ]);
    expect(run.task('docs').status).toBe('pr_merged');
  });

  it('should report events in order, with timestamps, the successful path carrying the PR URL', async () => {
    const run = await runs.open(kind, TASKS, { clock: tickingClock() });
    const worker = new GraphWorker(run, {
      work(view, attempt) {
        if (view.task.id === 'impl' && attempt.attemptNum === 0) throw new Error('flaky');
        return succeed(view, attempt);
      },
      merge: mergeAtOnce,
      retryDelayMs: 0,
    });
    const timeline: (TransitionRecord | GraphWorkerEvent)[] = [];
    run.subscribe((record) => {
      if (!record.rejected) timeline.push(record);
    });
    worker.subscribe((event) => timeline.push(event));
    await expect(worker.run()).resolves.toBe('succeeded');

    const records = timeline.filter((e): e is TransitionRecord => 'at' in e);
    const times = records.map((r) => r.at);
    for (const at of times) expect(new Date(at).toISOString()).toBe(at);
    expect([...times].sort()).toEqual(times);

    const impl = timeline
      .filter((e) => e.taskId === 'impl')
      .map((e) =>
        'event' in e
          ? `${e.event}#${e.attemptNum}`
          : `${e.type}#${'attemptNum' in e ? e.attemptNum : ''}`,
      );
    expect(impl).toEqual([
      'START#0',
      'FAIL#0',
      'retryScheduled#1',
      'RETRY#0',
      'PREPARE_ATTEMPT#1',
      'START#1',
      'PR_CREATED#1',
      'PR_MERGED#1',
    ]);
    for (const id of run.graph.taskIds) {
      const view = run.task(id);
      const last = view.attempts[view.attempts.length - 1];
      expect(view.artifacts.prUrl).toBe(prUrlOf(id, last?.attemptNum ?? -1));
      expect(last).toMatchObject({ outcome: 'pr_merged', prUrl: view.artifacts.prUrl });
    }
  });
});
