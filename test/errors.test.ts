import {
  IllegalTransitionError,
  InvalidArgumentError,
  SnapshotError,
  TaskRuntimeError,
} from '../src/errors.js';
import * as api from '../src/index.js';

const details = {
  taskId: 'implement-login',
  status: 'pr_merged',
  event: 'FAIL',
  reason: 'illegalInStatus',
  allowed: ['ADD_CONCERN'],
  explanation: 'FAIL is accepted only in pending, running, pr_created',
} as const;

describe('TaskRuntimeError', () => {
  it('should be an Error with its name and message', () => {
    const error = new TaskRuntimeError('something went wrong');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(TaskRuntimeError);
    expect(error.name).toBe('TaskRuntimeError');
    expect(error.message).toBe('something went wrong');
    expect(String(error)).toBe('TaskRuntimeError: something went wrong');
  });
});

const invalidArgument = new InvalidArgumentError(
  'task.dependencies[1]',
  'no duplicate dependencies',
  'a string ("a")',
);
const illegalTransition = new IllegalTransitionError(details);
const snapshotError = new SnapshotError('context.attemptNum', 'must be a non-negative integer');

describe.each([
  ['InvalidArgumentError', InvalidArgumentError, invalidArgument],
  ['IllegalTransitionError', IllegalTransitionError, illegalTransition],
  ['SnapshotError', SnapshotError, snapshotError],
] as const)('%s', (name, type, error) => {
  it('should extend TaskRuntimeError and Error', () => {
    expect(error).toBeInstanceOf(type);
    expect(error).toBeInstanceOf(TaskRuntimeError);
    expect(error).toBeInstanceOf(Error);
  });

  it('should set its name', () => {
    expect(error.name).toBe(name);
    expect(String(error)).toMatch(new RegExp(`^${name}: `));
  });
});

describe('InvalidArgumentError', () => {
  const error = invalidArgument;

  it('should keep argument, expected and received', () => {
    expect(error.argument).toBe('task.dependencies[1]');
    expect(error.expected).toBe('no duplicate dependencies');
    expect(error.received).toBe('a string ("a")');
    const rename = (e: InvalidArgumentError): void => {
      // @ts-expect-error argument is readonly
      e.argument = 'other';
    };
    expect(typeof rename).toBe('function');
  });

  it('should say the argument, what was expected and what was given', () => {
    expect(error.message).toContain('task.dependencies[1]');
    expect(error.message).toContain('expected no duplicate dependencies');
    expect(error.message).toContain('a string ("a")');
  });
});

describe('IllegalTransitionError', () => {
  const error = illegalTransition;

  it('should keep every detail', () => {
    expect(error.taskId).toBe('implement-login');
    expect(error.status).toBe('pr_merged');
    expect(error.event).toBe('FAIL');
    expect(error.reason).toBe('illegalInStatus');
    expect(error.allowed).toEqual(['ADD_CONCERN']);
    expect(error.explanation).toBe(details.explanation);
    const rename = (e: IllegalTransitionError): void => {
      // @ts-expect-error status is readonly
      e.status = 'failed';
    };
    expect(typeof rename).toBe('function');
  });

  it('should keep a frozen copy of allowed', () => {
    const allowed = ['RETRY', 'ADD_CONCERN'];
    const copied = new IllegalTransitionError({ ...details, allowed });
    allowed.push('START');
    expect(copied.allowed).toEqual(['RETRY', 'ADD_CONCERN']);
    expect(Object.isFrozen(copied.allowed)).toBe(true);
  });

  it('should say the task, status, event, reason, explanation and what is allowed', () => {
    expect(error.message).toContain('implement-login');
    expect(error.message).toContain('pr_merged');
    expect(error.message).toContain('FAIL');
    expect(error.message).toContain('illegalInStatus');
    expect(error.message).toContain(details.explanation);
    expect(error.message).toContain('ADD_CONCERN');
  });

  it('should list every allowed event type in the message', () => {
    const many = new IllegalTransitionError({ ...details, allowed: ['RETRY', 'MARK_PENDING'] });
    expect(many.message).toContain('RETRY');
    expect(many.message).toContain('MARK_PENDING');
  });

  it('should say that nothing is allowed when the list is empty', () => {
    const none = new IllegalTransitionError({ ...details, allowed: [] });
    expect(none.allowed).toEqual([]);
    expect(none.message).toMatch(/nothing/);
  });
});

describe('SnapshotError', () => {
  const error = snapshotError;

  it('should keep path and problem, with no task id by default', () => {
    expect(error.path).toBe('context.attemptNum');
    expect(error.problem).toBe('must be a non-negative integer');
    expect(error.taskId).toBeNull();
    const rename = (e: SnapshotError): void => {
      // @ts-expect-error path is readonly
      e.path = 'other';
    };
    expect(typeof rename).toBe('function');
  });

  it('should say where and why', () => {
    expect(error.message).toContain('context.attemptNum');
    expect(error.message).toContain('must be a non-negative integer');
  });

  it('should name the task when it is known', () => {
    const withTask = new SnapshotError('status', 'must be a status', 'implement-login');
    expect(withTask.taskId).toBe('implement-login');
    expect(withTask.message).toContain('implement-login');
    expect(withTask.message).toContain('status');
  });

  it('should describe the snapshot itself for an empty path', () => {
    const whole = new SnapshotError('', 'must be an object');
    expect(whole.path).toBe('');
    expect(whole.message).toContain('must be an object');
    expect(whole.message).not.toContain("''");
  });
});

describe('package error exports', () => {
  const exported = api as unknown as Record<string, unknown>;

  it.each([
    'TaskRuntimeError',
    'IllegalTransitionError',
    'InvalidArgumentError',
    'SnapshotError',
    'ConflictError',
    'LeaseLostError',
  ])('should export %s as a TaskRuntimeError class', (name) => {
    const candidate = exported[name];
    expect(typeof candidate).toBe('function');
    const prototype = (candidate as { prototype: unknown }).prototype;
    expect(prototype instanceof TaskRuntimeError || candidate === TaskRuntimeError).toBe(true);
    expect(prototype instanceof Error).toBe(true);
  });
});
