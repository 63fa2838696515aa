import { InvalidArgumentError } from '../errors.js';
import type { TaskStatus } from '../machines/status.js';
import type { TaskEventType } from '../machines/taskMachine.js';
import { describeValue } from '../validation.js';

/** What a listener hears when a command is accepted. */
export interface TransitionRecord {
  readonly taskId: string;
  readonly from: TaskStatus;
  readonly to: TaskStatus;
  readonly event: TaskEventType;
  readonly attemptNum: number;
  /** ISO-8601 time from the runtime's clock. */
  readonly at: string;
  readonly rejected: false;
}

/** What a listener hears when a command is refused: by a guard, by the status, or for a malformed argument. */
export interface RejectionRecord {
  readonly taskId: string;
  readonly status: TaskStatus;
  readonly event: TaskEventType;
  /** The guard that said no, `'illegalInStatus'`, or `'invalidArgument'`. */
  readonly reason: string;
  readonly rejected: true;
}

/** One record per command, accepted or refused. */
export type TaskRecord = TransitionRecord | RejectionRecord;

/** A function that hears every command of a runtime; what it throws is reported and otherwise ignored. */
export type TaskListener = (record: TaskRecord) => void;

/** Calls every listener with `record`; a throwing listener neither stops the others nor the runtime. */
export function notifyListeners(listeners: ReadonlySet<TaskListener>, record: TaskRecord): void {
  for (const listener of listeners) {
    try {
      listener(record);
    } catch (error) {
      console.error(`task-runtime: a listener of task '${record.taskId}' threw; ignored.`, error);
    }
  }
}

/** Adds `listener` to `listeners` after checking it is a function; returns the function that removes it. */
export function addListener(listeners: Set<TaskListener>, listener: TaskListener): () => void {
  if (typeof listener !== 'function') {
    throw new InvalidArgumentError('listener', 'a function', describeValue(listener));
  }
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
