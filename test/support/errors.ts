/** Catching the error a call ends with, failing the test when it ends without one. */
import { IllegalTransitionError, InvalidArgumentError } from '../../src/errors.js';

/** Runs `call` (sync throws included) and returns what it rejected with; fails the test when it fulfils. */
export async function rejectionOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, but it fulfilled');
}

/** Runs `build` and returns the InvalidArgumentError it throws (fails the test otherwise). */
export function invalidArgument(build: () => unknown): InvalidArgumentError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError, but nothing was thrown');
}

/** Runs `call` and returns the IllegalTransitionError it throws (fails the test otherwise). */
export function illegalTransition(call: () => unknown): IllegalTransitionError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(IllegalTransitionError);
    return error as IllegalTransitionError;
  }
  throw new Error('expected an IllegalTransitionError, but nothing was thrown');
}
