import type { SharedDemo } from './DemoRun.js';
import type { DemoSettings } from './graph.js';

/*
 * What `task-runtime demo --processes N` and its worker processes tell each other over the IPC channel of
 * `child_process.fork`: the parent sends the run to work and, on Ctrl-C, the stop; each worker reports what it
 * does, each step once saved.
 */

/** The store a worker process opens: the demo's FileTaskStore directory, or a PostgresTaskStore's table. */
export type SharedStoreSpec =
  | { readonly kind: 'file'; readonly dir: string }
  | { readonly kind: 'pg'; readonly connectionString: string; readonly table: string };

/** Everything a worker process needs to take part in the run (sent over IPC: a password never shows in `ps`). */
export interface WorkerConfig extends SharedDemo {
  readonly store: SharedStoreSpec;
  readonly settings: DemoSettings;
  /** Real milliseconds per simulated step of this worker's agents. */
  readonly delayMs: number;
}

/** What the parent sends a worker process. */
export type ParentMessage =
  /** Open the run on the store (then say `opened`, and wait for `go`). */
  | { readonly type: 'start'; readonly config: WorkerConfig }
  /** Every worker has opened the run (or died trying): work it until it is settled. */
  | { readonly type: 'go' }
  /** Start nothing new, let the agents at work finish their step, and end. */
  | { readonly type: 'stop' };

/** What a worker did, as a worker process reports it to the parent. */
export type WorkerMessage =
  /** The run is open: the worker waits for `go`. */
  | { readonly type: 'opened' }
  /** A status change this worker saved (a dependent it blocked included). */
  | {
      readonly type: 'transition';
      readonly at: string;
      readonly taskId: string;
      readonly attemptNum: number;
      readonly from: string;
      readonly to: string;
      /** The error of a failure, the PR of a PR, `retry`, or empty. */
      readonly detail: string;
    }
  /** A remark, e.g. a task taken over from a worker whose lease ran out. */
  | { readonly type: 'note'; readonly text: string }
  /** The worker ended: the run is settled (`finished`), or it was stopped (`interrupted`). */
  | { readonly type: 'done'; readonly result: 'finished' | 'interrupted' };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

const WORKER_MESSAGE_TYPES: ReadonlySet<unknown> = new Set([
  'opened',
  'transition',
  'note',
  'done',
]);

/** Whether `value`, received over IPC, is a {@link WorkerMessage} (by its type; the sender is this package). */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return isObject(value) && WORKER_MESSAGE_TYPES.has(value.type);
}

/** Whether `value`, received over IPC, is a {@link ParentMessage}. */
export function isParentMessage(value: unknown): value is ParentMessage {
  if (!isObject(value)) return false;
  return (
    value.type === 'stop' ||
    value.type === 'go' ||
    (value.type === 'start' && isObject(value.config))
  );
}
