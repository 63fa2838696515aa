import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { succeed, task } from './harness.js';

describe('GraphWorker.subscribe', () => {
  it('should tell every listener, go on past a throwing one, and stop after unsubscribe', async () => {
    const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('a')]));
    let failures = 0;
    const worker = new GraphWorker(run, {
      work(view, attempt) {
        if (failures < 2) {
          failures += 1;
          throw new Error('again');
        }
        return succeed(view, attempt);
      },
      merge: () => undefined,
      retryDelayMs: 0,
    });
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const heard: string[] = [];
    worker.subscribe(() => {
      throw new Error('a broken listener');
    });
    const stop = worker.subscribe((event) => {
      heard.push(event.type);
      stop();
    });
    const other: number[] = [];
    worker.subscribe((event) => {
      if (event.type === 'retryScheduled') other.push(event.attemptNum);
    });
    await expect(worker.run()).resolves.toBe('succeeded');
    expect(heard).toEqual(['retryScheduled']);
    expect(other).toEqual([1, 2]);
    expect(error).toHaveBeenCalledWith(
      expect.stringContaining("a listener of the worker threw on 'retryScheduled' of task 'a'"),
      expect.any(Error),
    );
    error.mockRestore();
  });
});
