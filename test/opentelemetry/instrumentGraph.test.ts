import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { blockedError } from '../../src/graph/blocking.js';
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import { instrument } from '../../src/opentelemetry/instrument.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { tempDirs } from '../support/tempDir.js';
import { eventNames, memoryTracing, millis, tickingClock } from './tracing.js';

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: id === 'spec' ? 'spec_writer' : 'implementer',
  dependencies,
});

/** spec → tests → impl. */
const chain = () =>
  TaskGraph.fromTasks([task('spec'), task('tests', 'spec'), task('impl', 'tests')]);

/** Lets the microtasks run: the run span ends after the records of the command that settled the run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('instrument on a graph run', () => {
  const { tracer, spans, reset, shutdown } = memoryTracing();
  const dirs = tempDirs('task-runtime-otel-graph-');

  afterEach(() => {
    reset();
    dirs.removeAll();
  });
  afterAll(shutdown);

  const runSpan = (): ReadableSpan | undefined => spans().find((span) => span.name === 'task.run');
  const attemptSpans = (): ReadableSpan[] => spans().filter((span) => span.name === 'task.attempt');
  const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

  function merge(run: TaskGraphRuntime, id: string): void {
    run.markRunning(id);
    run.markPrCreated(id, `https://github.com/acme/app/pull/${id}`);
    run.markPrMerged(id);
  }

  it('should give the run one task.run span parenting every attempt span, ended when the run succeeded', async () => {
    const run = new TaskGraphRuntime(chain());
    const stop = instrument(run, { tracer });
    merge(run, 'spec');
    merge(run, 'tests');
    expect(runSpan()).toBeUndefined();
    merge(run, 'impl');
    await settle();

    const span = runSpan();
    expect(span?.attributes).toEqual({ 'task.count': 3, 'task.run.outcome': 'succeeded' });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.endTime).toEqual(attemptSpans().at(-1)?.endTime);
    expect(attemptSpans().map((attempt) => attempt.attributes)).toEqual([
      { 'task.id': 'spec', 'task.attempt': 0, 'task.role': 'spec_writer' },
      { 'task.id': 'tests', 'task.attempt': 0, 'task.role': 'implementer' },
      { 'task.id': 'impl', 'task.attempt': 0, 'task.role': 'implementer' },
    ]);
    for (const attempt of attemptSpans()) {
      expect(parentOf(attempt)).toBe(span?.spanContext().spanId);
      expect(attempt.spanContext().traceId).toBe(span?.spanContext().traceId);
    }
    stop();
    expect(spans()).toHaveLength(4);
  });

  it('should make the blocked dependents spans of their own under the run, and end the run with ERROR after them', async () => {
    const run = new TaskGraphRuntime(chain());
    const stop = instrument(run, { tracer });
    run.markRunning('spec');
    run.markFailed('spec', 'spec rejected', { retryable: false });
    await settle();
    stop();

    const attempts = attemptSpans();
    expect(attempts.map((span) => [span.attributes['task.id'], span.status])).toEqual([
      ['spec', { code: SpanStatusCode.ERROR, message: 'spec rejected' }],
      ['tests', { code: SpanStatusCode.ERROR, message: blockedError('spec') }],
      ['impl', { code: SpanStatusCode.ERROR, message: blockedError('tests') }],
    ]);
    const span = runSpan();
    expect(span?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'completed_with_failures',
    });
    expect(span?.attributes['task.run.outcome']).toBe('completed_with_failures');
    expect(spans().at(-1)).toBe(span);
    for (const attempt of attempts) expect(parentOf(attempt)).toBe(span?.spanContext().spanId);
  });

  it("should put a task's commands outside its attempts, refusals included, on the run span with the task's id", async () => {
    const run = new TaskGraphRuntime(chain());
    const stop = instrument(run, { tracer });
    run.assignWorktree('spec', { worktreePath: '/tmp/wt/spec', branchName: 'spec' });
    expect(() => run.markRunning('tests')).toThrow();
    stop();

    const span = runSpan();
    expect(span?.events.map((event) => [event.name, event.attributes])).toEqual([
      [
        'ASSIGN_WORKTREE',
        { 'task.id': 'spec', 'task.status.from': 'pending', 'task.status.to': 'pending' },
      ],
      [
        'task.refused',
        {
          'task.id': 'tests',
          'task.event': 'START',
          'task.status': 'pending',
          'task.refusal.reason': 'dependenciesNotMerged',
        },
      ],
    ]);
  });

  it('should end a settled run with its outcome when stopped at once after the last command', () => {
    const run = new TaskGraphRuntime(chain());
    const stop = instrument(run, { tracer });
    run.markFailed('spec', 'no spec', { retryable: false });
    stop();

    expect(runSpan()?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'completed_with_failures',
    });
    expect(attemptSpans()).toHaveLength(3);
  });

  it('should end the run span without a status or outcome when stopped while the run is in progress', async () => {
    const run = new TaskGraphRuntime(chain());
    const stop = instrument(run, { tracer });
    run.markRunning('spec');
    stop();
    run.markPrCreated('spec', 'https://github.com/acme/app/pull/1');
    run.markPrMerged('spec');
    await settle();

    expect(runSpan()?.status.code).toBe(SpanStatusCode.UNSET);
    expect(runSpan()?.attributes['task.run.outcome']).toBeUndefined();
    expect(attemptSpans()).toHaveLength(1);
    expect(eventNames(attemptSpans()[0])).toEqual(['START']);
  });

  it('should trace a DurableTaskGraphRuntime once each command is saved, a resumed attempt from its ledger start', async () => {
    const dir = dirs.make();
    const first = await FileTaskStore.open(dir);
    const crashed = await DurableTaskGraphRuntime.open(first, chain(), { clock: tickingClock() });
    await crashed.markRunning('spec');
    await first.close();

    const store = await FileTaskStore.open(dir);
    const run = await DurableTaskGraphRuntime.open(store, chain(), { clock: tickingClock() });
    const stop = instrument(run, { tracer });
    await run.markPrCreated('spec', 'https://github.com/acme/app/pull/1');
    await run.markPrMerged('spec');
    await run.markRunning('tests');
    await run.markFailed('tests', 'tests failed', { retryable: false });
    await settle();
    stop();
    await store.close();

    const [spec, tests, impl] = attemptSpans();
    expect(runSpan()?.startTime).toEqual(spec?.startTime);
    const startedAt = Date.parse(run.task('spec').attempts[0]?.startedAt ?? '');
    expect(millis(spec?.startTime ?? [0, 0])).toBe(startedAt);
    expect(eventNames(spec)).toEqual(['PR_CREATED', 'PR_MERGED']);
    expect(tests?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'tests failed' });
    expect(impl?.status).toEqual({ code: SpanStatusCode.ERROR, message: blockedError('tests') });
    expect(runSpan()?.attributes['task.run.outcome']).toBe('completed_with_failures');
  });
});
