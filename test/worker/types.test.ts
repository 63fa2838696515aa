/** Type-level checks of the worker's public types: what must not compile, beside what must. */
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { TaskGraphRuntime } from '../../src/graph/TaskGraphRuntime.js';
import type { GraphWorkerEvent } from '../../src/worker/events.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { task } from './harness.js';

const run = new TaskGraphRuntime(TaskGraph.fromTasks([task('a')]));

describe('GraphWorker types', () => {
  it('should accept handlers that are sync or async, and refuse a work without a prUrl', () => {
    new GraphWorker(run, { work: () => ({ prUrl: 'u' }), merge: () => undefined });
    new GraphWorker(run, { work: async () => ({ prUrl: 'u' }), merge: async () => undefined });
    // @ts-expect-error work must resolve with { prUrl }
    new GraphWorker(run, { work: () => ({ url: 'u' }), merge: () => undefined });
    // @ts-expect-error merge is required (and refused at run time too)
    expect(() => new GraphWorker(run, { work: () => ({ prUrl: 'u' }) })).toThrow('options.merge');
  });

  it('should narrow the events by type', () => {
    const describe = (event: GraphWorkerEvent): string => {
      switch (event.type) {
        case 'retryScheduled':
          return `${event.taskId} retries as attempt ${event.attemptNum} in ${event.delayMs} ms`;
        case 'recovered':
          return `${event.taskId} found ${event.status}`;
        case 'attemptTimedOut':
          // @ts-expect-error a timeout has no delay
          return `${event.taskId} timed out (${event.delayMs})`;
        case 'storeFailed':
          return `the store failed on ${event.taskId ?? 'the run'}: ${event.error.message}`;
      }
    };
    expect(describe({ type: 'recovered', taskId: 'a', status: 'running' })).toBe('a found running');
  });
});
