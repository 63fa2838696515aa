import type { InspectionEvent } from 'xstate';
import { ConflictError, IllegalTransitionError, InvalidArgumentError } from '../../src/errors.js';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import type { TaskRecord } from '../../src/runtime/records.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { makeTempDir, removeDir } from '../support/tempDir.js';

const clock = () => new Date('2026-01-01T09:00:00.000Z');
const task = { id: 'login', role: 'implementer' } as const;

describe('TaskRuntime.subscribe', () => {
  it('should report an accepted command as a transition record', () => {
    const runtime = new TaskRuntime(task, { clock });
    const records: TaskRecord[] = [];
    runtime.subscribe((record) => records.push(record));
    runtime.markRunning();
    runtime.addConcern('slow tests');
    expect(records).toEqual([
      {
        taskId: 'login',
        from: 'pending',
        to: 'running',
        event: 'START',
        attemptNum: 0,
        at: '2026-01-01T09:00:00.000Z',
        rejected: false,
      },
      {
        taskId: 'login',
        from: 'running',
        to: 'running',
        event: 'ADD_CONCERN',
        attemptNum: 0,
        at: '2026-01-01T09:00:00.000Z',
        rejected: false,
      },
    ]);
  });

  it('should report a refused command with the guard that said no, and still throw', () => {
    const runtime = new TaskRuntime(task, { clock });
    const records: TaskRecord[] = [];
    runtime.subscribe((record) => records.push(record));
    expect(() => runtime.markPrMerged()).toThrow(IllegalTransitionError);
    runtime.markRunning();
    runtime.markFailed('boom');
    runtime.resetForRetry();
    expect(() => runtime.markRunning()).toThrow(IllegalTransitionError);
    expect(records.filter((record) => record.rejected)).toEqual([
      {
        taskId: 'login',
        status: 'pending',
        event: 'PR_MERGED',
        reason: 'illegalInStatus',
        rejected: true,
      },
      {
        taskId: 'login',
        status: 'pending',
        event: 'START',
        reason: 'isCurrentAttemptUnused',
        rejected: true,
      },
    ]);
  });

  it('should report malformed arguments as invalidArgument rejections', () => {
    const runtime = new TaskRuntime(task, { clock });
    const records: TaskRecord[] = [];
    runtime.subscribe((record) => records.push(record));
    expect(() => runtime.markFailed('')).toThrow(InvalidArgumentError);
    expect(() => runtime.assignWorktree(null as never)).toThrow(InvalidArgumentError);
    expect(records).toEqual([
      {
        taskId: 'login',
        status: 'pending',
        event: 'FAIL',
        reason: 'invalidArgument',
        rejected: true,
      },
      {
        taskId: 'login',
        status: 'pending',
        event: 'ASSIGN_WORKTREE',
        reason: 'invalidArgument',
        rejected: true,
      },
    ]);
  });

  it('should keep the runtime and the other listeners working when a listener throws', () => {
    const runtime = new TaskRuntime(task, { clock });
    const heard: string[] = [];
    const consoleError = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    runtime.subscribe(() => {
      throw new Error('listener bug');
    });
    runtime.subscribe((record) => heard.push(record.event));
    runtime.markRunning();
    expect(runtime.status).toBe('running');
    expect(heard).toEqual(['START']);
    expect(consoleError).toHaveBeenCalledTimes(1);
    consoleError.mockRestore();
  });

  it('should stop calling a listener after it unsubscribed', () => {
    const runtime = new TaskRuntime(task, { clock });
    const heard: string[] = [];
    const unsubscribe = runtime.subscribe((record) => heard.push(record.event));
    runtime.markRunning();
    unsubscribe();
    runtime.markPrCreated('https://example.com/pr/1');
    expect(heard).toEqual(['START']);
  });

  it('should refuse a listener that is not a function', () => {
    const runtime = new TaskRuntime(task);
    expect(() => runtime.subscribe('log' as never)).toThrow(InvalidArgumentError);
  });
});

describe('TaskRuntime inspect option', () => {
  it('should hand the observer every event the actor processes', () => {
    const inspected: InspectionEvent[] = [];
    const runtime = new TaskRuntime(task, { clock, inspect: (event) => inspected.push(event) });
    runtime.markRunning();
    const events = inspected
      .filter((event) => event.type === '@xstate.event')
      .map((event) => event.event.type);
    expect(events).toContain('START');
    expect(inspected.some((event) => event.type === '@xstate.actor')).toBe(true);
  });

  it('should not show a refused command to the inspector', () => {
    const inspected: InspectionEvent[] = [];
    const runtime = new TaskRuntime(task, { clock, inspect: (event) => inspected.push(event) });
    expect(() => runtime.markPrMerged()).toThrow(IllegalTransitionError);
    const events = inspected
      .filter((event) => event.type === '@xstate.event')
      .map((event) => event.event.type);
    expect(events).not.toContain('PR_MERGED');
  });
});

describe('DurableTaskRuntime.subscribe', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('records-');
  });
  afterEach(() => removeDir(dir));

  it('should report an accepted command only once it is saved', async () => {
    const store = await FileTaskStore.open(dir);
    const runtime = await DurableTaskRuntime.create(store, task, { clock });
    const reader = await FileTaskStore.open(dir);
    const storedWhenHeard: Promise<unknown>[] = [];
    runtime.subscribe(() => {
      storedWhenHeard.push(reader.load('login').then((stored) => stored?.snapshot));
    });
    await runtime.markRunning();
    const [snapshot] = await Promise.all(storedWhenHeard);
    expect(storedWhenHeard).toHaveLength(1);
    expect(snapshot).toMatchObject({ status: 'running' });
  });

  it('should report nothing for a command whose save lost to another writer', async () => {
    const store = await FileTaskStore.open(dir);
    const first = await DurableTaskRuntime.create(store, task, { clock });
    const second = await DurableTaskRuntime.load(store, 'login', { clock });
    const heard: TaskRecord[] = [];
    first.subscribe((record) => heard.push(record));
    await second?.addConcern('second writer');
    await expect(first.markRunning()).rejects.toThrow(ConflictError);
    expect(heard).toEqual([]);
    expect(first.status).toBe('pending');
  });

  it('should report a refused command at once', async () => {
    const store = await FileTaskStore.open(dir);
    const runtime = await DurableTaskRuntime.create(store, task, { clock });
    const heard: TaskRecord[] = [];
    runtime.subscribe((record) => heard.push(record));
    await expect(runtime.markPrMerged()).rejects.toThrow(IllegalTransitionError);
    expect(heard).toEqual([
      {
        taskId: 'login',
        status: 'pending',
        event: 'PR_MERGED',
        reason: 'illegalInStatus',
        rejected: true,
      },
    ]);
  });
});
