import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import { instrument } from '../../src/opentelemetry/instrument.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { tempDirs } from '../support/tempDir.js';
import { eventNames, memoryTracing } from './tracing.js';

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'implementer',
  dependencies,
});

/** spec → impl. */
const chain = () => TaskGraph.fromTasks([task('spec'), task('impl', 'spec')]);
const prUrl = (id: string, attemptNum: number) =>
  `https://github.com/acme/app/pull/${id}-${attemptNum}`;

describe('instrument on a GraphWorker', () => {
  const { tracer, spans, reset, shutdown } = memoryTracing();
  const dirs = tempDirs('task-runtime-otel-worker-');

  afterEach(() => {
    reset();
    dirs.removeAll();
  });
  afterAll(shutdown);

  const attemptSpans = (): ReadableSpan[] => spans().filter((span) => span.name === 'task.attempt');
  const runSpan = (): ReadableSpan | undefined => spans().find((span) => span.name === 'task.run');

  it('should trace the run the worker executes, a retry carrying the delay the worker waited', async () => {
    const run = new TaskGraphRuntime(chain(), { maxAttempts: 3 });
    const worker = new GraphWorker(run, {
      work: (view, attempt) => {
        if (view.task.id === 'spec' && attempt.attemptNum === 0) throw new Error('tests failed');
        return { prUrl: prUrl(attempt.taskId, attempt.attemptNum) };
      },
      merge: () => undefined,
      retryDelayMs: 7,
    });
    const stop = instrument(worker, { tracer });
    expect(await worker.run()).toBe('succeeded');
    stop();

    expect(attemptSpans().map((span) => span.attributes)).toEqual([
      { 'task.id': 'spec', 'task.attempt': 0, 'task.role': 'implementer' },
      {
        'task.id': 'spec',
        'task.attempt': 1,
        'task.role': 'implementer',
        'task.worker.retry_delay_ms': 7,
      },
      { 'task.id': 'impl', 'task.attempt': 0, 'task.role': 'implementer' },
    ]);
    const [failed, retried] = attemptSpans();
    expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'tests failed' });
    expect(retried && eventNames(retried)).toEqual(['START', 'PR_CREATED', 'PR_MERGED']);
    const runOfWorker = runSpan();
    expect(runOfWorker?.attributes['task.run.outcome']).toBe('succeeded');
    for (const span of attemptSpans()) {
      expect(span.parentSpanContext?.spanId).toBe(runOfWorker?.spanContext().spanId);
    }
  });

  it('should show a timeout as a span event before the attempt fails', async () => {
    const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('slow')]), { maxAttempts: 1 });
    const worker = new GraphWorker(run, {
      work: (_view, attempt) =>
        new Promise((resolve) => {
          attempt.signal.addEventListener('abort', () => resolve({ prUrl: 'https://late.test/1' }));
        }),
      merge: () => undefined,
      attemptTimeoutMs: 20,
    });
    const stop = instrument(worker, { tracer });
    expect(await worker.run()).toBe('completed_with_failures');
    stop();

    const [span] = attemptSpans();
    expect(span && eventNames(span)).toEqual(['START', 'task.worker.timed_out', 'FAIL']);
    expect(span?.events[1]?.attributes).toEqual({ 'task.id': 'slow', 'task.attempt': 0 });
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.status.message).toMatch(/^attempt 0 timed out after 20 ms/);
  });

  it('should mark what the worker recovered after a crash on the attempt found open', async () => {
    const dir = dirs.make();
    const store = await FileTaskStore.open(dir);
    try {
      const crashed = await DurableTaskGraphRuntime.open(store, chain());
      await crashed.markRunning('spec'); // the process died here, its attempt open
      const run = await DurableTaskGraphRuntime.open(store, chain());
      const worker = new GraphWorker(run, {
        work: (_view, attempt) => ({ prUrl: prUrl(attempt.taskId, attempt.attemptNum) }),
        merge: () => undefined,
        retryDelayMs: 0,
      });
      const stop = instrument(worker, { tracer });
      expect(await worker.run()).toBe('succeeded');
      stop();
      const [lost, retried] = attemptSpans();
      expect(lost && eventNames(lost)).toEqual(['task.worker.recovered', 'FAIL']);
      expect(lost?.events[0]?.attributes).toEqual({ 'task.id': 'spec', 'task.status': 'running' });
      expect(lost?.status.message).toMatch(/^worker lost/);
      expect(retried?.attributes).toMatchObject({
        'task.attempt': 1,
        'task.worker.retry_delay_ms': 0,
      });
    } finally {
      await store.close();
    }
  });

  it('should stop hearing the worker once stopped', async () => {
    const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('solo')]), { maxAttempts: 2 });
    let calls = 0;
    const worker = new GraphWorker(run, {
      work: () => {
        calls += 1;
        if (calls === 1) throw new Error('flaky');
        return { prUrl: 'https://x.test/1' };
      },
      merge: () => undefined,
      retryDelayMs: 0,
    });
    instrument(worker, { tracer })();
    expect(await worker.run()).toBe('succeeded');
    expect(attemptSpans()).toEqual([]);
    expect(runSpan()?.attributes).toEqual({ 'task.count': 1 }); // ended by stop(), before any outcome
  });
});
