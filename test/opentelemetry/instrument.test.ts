import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InvalidArgumentError } from '../../src/errors.js';
import { instrument } from '../../src/opentelemetry/instrument.js';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { createTask } from '../../src/task/createTask.js';
import { AgentRole } from '../../src/task/enums.js';
import { tempDirs } from '../support/tempDir.js';
import { CLOCK_START, eventNames, memoryTracing, millis, tickingClock } from './tracing.js';

const PR_URL = 'https://github.com/org/repo/pull/7';
const task = createTask({ id: 'login', role: AgentRole.IMPLEMENTER });

describe('instrument', () => {
  const { tracer, spans, reset, shutdown } = memoryTracing();
  const dirs = tempDirs('task-runtime-otel-');

  afterEach(() => {
    reset();
    dirs.removeAll();
  });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(async () => {
    context.disable();
    await shutdown();
  });

  it('should make one task.attempt span from START to PR_MERGED with the task attributes and ledger times', () => {
    const runtime = new TaskRuntime(task, { clock: tickingClock() });
    const stop = instrument(runtime, { tracer });
    runtime.markRunning();
    runtime.markPrCreated(PR_URL);
    expect(spans()).toEqual([]);
    runtime.markPrMerged();
    stop();

    const [span, ...others] = spans();
    expect(others).toEqual([]);
    expect(span?.name).toBe('task.attempt');
    expect(span?.attributes).toEqual({
      'task.id': 'login',
      'task.attempt': 0,
      'task.role': 'implementer',
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    const [attempt] = runtime.attempts;
    expect(millis(span?.startTime ?? [0, 0])).toBe(Date.parse(attempt?.startedAt ?? ''));
    expect(millis(span?.endTime ?? [0, 0])).toBe(Date.parse(attempt?.endedAt ?? ''));
    expect(eventNames(span)).toEqual(['START', 'PR_CREATED', 'PR_MERGED']);
    expect(span?.events[1]?.attributes).toEqual({
      'task.id': 'login',
      'task.status.from': 'running',
      'task.status.to': 'pr_created',
    });
  });

  it('should end a failed attempt with status ERROR and the error as its message, and start the next one anew', () => {
    const runtime = new TaskRuntime(task, { maxAttempts: 3 });
    const stop = instrument(runtime, { tracer });
    runtime.markRunning();
    runtime.markFailed('tests failed: 3 of 120');
    runtime.resetForRetry();
    runtime.prepareForAttempt(1);
    runtime.markRunning();
    stop();

    const [failed, second] = spans();
    expect(failed?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'tests failed: 3 of 120',
    });
    expect(failed?.attributes['task.attempt']).toBe(0);
    expect(eventNames(failed)).toEqual(['START', 'FAIL']);
    expect(second?.attributes['task.attempt']).toBe(1);
    expect(second?.status.code).toBe(SpanStatusCode.UNSET);
    expect(eventNames(second)).toEqual(['START']);
  });

  it('should make a failure straight from pending a zero-long span of its own with status ERROR', () => {
    const runtime = new TaskRuntime(task, { clock: tickingClock() });
    const stop = instrument(runtime, { tracer });
    runtime.markFailed("blocked: dependency 'spec' failed", { retryable: false });
    stop();

    const [span, ...others] = spans();
    expect(others).toEqual([]);
    expect(span?.name).toBe('task.attempt');
    expect(span?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: "blocked: dependency 'spec' failed",
    });
    expect(span?.startTime).toEqual(span?.endTime);
    expect(eventNames(span)).toEqual(['FAIL']);
    expect(span?.events[0]?.attributes?.['task.status.from']).toBe('pending');
  });

  it('should record a refused command as a task.refused event carrying the reason', () => {
    const runtime = new TaskRuntime(task);
    const stop = instrument(runtime, { tracer });
    runtime.markRunning();
    expect(() => runtime.markPrMerged()).toThrow();
    expect(() => runtime.markPrCreated('')).toThrow(InvalidArgumentError);
    runtime.markFailed('boom');
    stop();

    const [span] = spans();
    expect(eventNames(span)).toEqual(['START', 'task.refused', 'task.refused', 'FAIL']);
    expect(span?.events[1]?.attributes).toEqual({
      'task.id': 'login',
      'task.event': 'PR_MERGED',
      'task.status': 'running',
      'task.refusal.reason': 'illegalInStatus',
    });
    expect(span?.events[2]?.attributes?.['task.refusal.reason']).toBe('invalidArgument');
  });

  it('should put commands outside an attempt on the span active when they are made, and parent attempts to it', () => {
    const runtime = new TaskRuntime(task);
    const stop = instrument(runtime, { tracer });
    const step = tracer.startSpan('orchestrator.step');
    context.with(trace.setSpan(context.active(), step), () => {
      runtime.assignWorktree({ worktreePath: '/tmp/wt', branchName: 'login' });
      expect(() => runtime.markPrMerged()).toThrow();
      runtime.markRunning();
    });
    step.end();
    runtime.markFailed('boom');
    runtime.addConcern('cleanup left a branch');
    stop();

    const byName = new Map(spans().map((span) => [span.name, span]));
    const parent = byName.get('orchestrator.step');
    const attempt = byName.get('task.attempt');
    expect(eventNames(parent)).toEqual(['ASSIGN_WORKTREE', 'task.refused']);
    expect(attempt?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(eventNames(attempt)).toEqual(['START', 'FAIL']);
    expect(spans()).toHaveLength(2);
  });

  it('should stop tracing when told, ending the attempt still open without a status', () => {
    const runtime = new TaskRuntime(task);
    const stop = instrument(runtime, { tracer });
    runtime.markRunning();
    stop();
    expect(spans()).toHaveLength(1);
    expect(spans()[0]?.status.code).toBe(SpanStatusCode.UNSET);
    runtime.markPrCreated(PR_URL);
    runtime.markPrMerged();
    expect(spans()).toHaveLength(1);
    expect(eventNames(spans()[0])).toEqual(['START']);
  });

  it('should give an attempt already running when instrumented a span from the ledger start time', () => {
    const running = new TaskRuntime(task, { clock: tickingClock() });
    running.markRunning();
    const restored = TaskRuntime.restore(JSON.parse(JSON.stringify(running.persist())));
    const stop = instrument(restored, { tracer });
    restored.markPrCreated(PR_URL);
    restored.markPrMerged();
    stop();

    const [span, ...others] = spans();
    expect(others).toEqual([]);
    expect(millis(span?.startTime ?? [0, 0])).toBe(CLOCK_START + 1000);
    expect(eventNames(span)).toEqual(['PR_CREATED', 'PR_MERGED']);
  });

  it('should trace a DurableTaskRuntime once each command is saved', async () => {
    const store = await FileTaskStore.open(dirs.make());
    const runtime = await DurableTaskRuntime.create(store, task, { clock: tickingClock() });
    const stop = instrument(runtime, { tracer });
    await runtime.markRunning();
    await expect(runtime.markPrMerged()).rejects.toThrow();
    await runtime.markPrCreated(PR_URL);
    await runtime.markPrMerged();
    stop();
    await store.close();

    const [span, ...others] = spans();
    expect(others).toEqual([]);
    expect(span?.attributes['task.role']).toBe('implementer');
    expect(eventNames(span)).toEqual(['START', 'task.refused', 'PR_CREATED', 'PR_MERGED']);
  });

  it('should refuse a target that is not a runtime and options without a tracer', () => {
    const runtime = new TaskRuntime(task);
    const lookalike = { task, subscribe: () => () => undefined } as unknown as TaskRuntime;
    expect(() => instrument(lookalike, { tracer })).toThrow(
      'Invalid target: expected a TaskRuntime, DurableTaskRuntime, TaskGraphRuntime, DurableTaskGraphRuntime or GraphWorker, got an object.',
    );
    expect(() => instrument(undefined as never, { tracer })).toThrow(InvalidArgumentError);
    expect(() => instrument(runtime, {} as never)).toThrow(
      'Invalid options.tracer: expected an OpenTelemetry Tracer, got undefined.',
    );
    expect(() => instrument(runtime, null as never)).toThrow(InvalidArgumentError);
  });
});
