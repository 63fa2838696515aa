import { failureOf, prUrlProblem } from '../../src/worker/failure.js';
import { NonRetryableError } from '../../src/worker/NonRetryableError.js';

describe('failureOf', () => {
  it("should take an Error's message, and the string form of anything else", () => {
    expect(failureOf(new TypeError('bad type'), 'work')).toEqual({
      message: 'bad type',
      retryable: true,
    });
    expect(failureOf('plain text', 'work').message).toBe('plain text');
    expect(failureOf(undefined, 'merge').message).toBe('undefined');
    expect(failureOf(Symbol('s'), 'work').message).toBe('Symbol(s)');
  });

  it('should name the handler when there is no message', () => {
    expect(failureOf(new Error(''), 'work').message).toBe('work failed without a message');
    expect(failureOf('', 'merge').message).toBe('merge failed without a message');
  });

  it('should describe a thrown value that has no string form', () => {
    const message = failureOf(Object.create(null), 'work').message;
    expect(message).toBe('a handler threw an object, which has no string form');
  });

  it('should be final only for a NonRetryableError or an error whose retryable is false', () => {
    expect(failureOf(new NonRetryableError('no'), 'work').retryable).toBe(false);
    expect(failureOf(Object.assign(new Error('x'), { retryable: false }), 'work').retryable).toBe(
      false,
    );
    expect(failureOf(Object.assign(new Error('x'), { retryable: 0 }), 'work').retryable).toBe(true);
    expect(failureOf({ retryable: false }, 'merge').retryable).toBe(false);
    const throwing = Object.defineProperty(new Error('x'), 'retryable', {
      get() {
        throw new Error('getter');
      },
    });
    expect(failureOf(throwing, 'work').retryable).toBe(true);
  });
});

describe('prUrlProblem', () => {
  it('should accept an object with a non-empty string prUrl', () => {
    expect(prUrlProblem({ prUrl: 'https://example.test/pull/1', extra: true })).toBeNull();
  });

  it('should say what was expected and what was given', () => {
    expect(prUrlProblem(null)).toBe(
      'work returned null: expected an object with a non-empty string prUrl, such as { prUrl: "https://…/pull/1" }',
    );
    expect(prUrlProblem({ prUrl: null })).toContain('work returned an object whose prUrl is null');
    const unreadable = Object.defineProperty({}, 'prUrl', {
      get() {
        throw new Error('getter');
      },
    });
    expect(prUrlProblem(unreadable)).toContain('whose prUrl cannot be read');
  });
});

describe('NonRetryableError', () => {
  it('should be an Error with its name and retryable false', () => {
    const error = new NonRetryableError('stop', { cause: 'why' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('NonRetryableError');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('stop');
    expect(error.cause).toBe('why');
    expect(String(error)).toBe('NonRetryableError: stop');
  });
});
