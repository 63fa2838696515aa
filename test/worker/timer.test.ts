import { afterDelay } from '../../src/worker/timer.js';

describe('afterDelay', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('should call back once the delay has passed, even beyond what setTimeout keeps', () => {
    const called = jest.fn();
    afterDelay(2 ** 31 + 5000, called);
    jest.advanceTimersByTime(2 ** 31 - 1);
    expect(called).not.toHaveBeenCalled();
    jest.advanceTimersByTime(5000);
    expect(called).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(called).toHaveBeenCalledTimes(1);
  });

  it('should not call back once cancelled', () => {
    const called = jest.fn();
    const cancel = afterDelay(10, called);
    cancel();
    jest.advanceTimersByTime(100);
    expect(called).not.toHaveBeenCalled();
  });
});
