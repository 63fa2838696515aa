import type { AgentAddress } from '../agent/AgentAddress.js';
import { TaskRuntimeError } from '../errors.js';
import type { WorkstreamAssignment, WorktreeAssignment } from '../runtime/TaskRuntime.js';

/**
 * What a `work` and `merge` handler get for one attempt (the same object for both): which attempt, a signal that
 * says "stop now", and the run's record-keeping commands for this task, saved before they resolve on a durable run.
 * Once the attempt has ended, the commands reject with {@link AttemptEndedError} and change nothing.
 */
export interface AttemptContext {
  /** The task being attempted. */
  readonly taskId: string;
  /** The attempt's number, as in the task's ledger. */
  readonly attemptNum: number;
  /** Aborted when the attempt times out, when `run()` is stopped, or when the store fails. */
  readonly signal: AbortSignal;
  /** `run.assignWorktree(taskId, worktree)` while the attempt lasts. */
  assignWorktree(worktree: WorktreeAssignment): Promise<void>;
  /** `run.assignWorkstream(taskId, workstream)` while the attempt lasts. */
  assignWorkstream(workstream: WorkstreamAssignment): Promise<void>;
  /** `run.recordAgentAddress(taskId, address)` while the attempt lasts. */
  recordAgentAddress(address: AgentAddress): Promise<void>;
  /** `run.addConcern(taskId, text)` while the attempt lasts. */
  addConcern(text: string): Promise<void>;
}

/** The context commands, by name. */
export type AttemptCommand =
  | 'assignWorktree'
  | 'assignWorkstream'
  | 'recordAgentAddress'
  | 'addConcern';

/**
 * A context command called after its attempt ended (merged, failed, timed out, or abandoned on a store failure):
 * refused, nothing changed. Not an IllegalTransitionError, which is the machine's refusal: here the run was never
 * asked, because the handler's attempt is over and another attempt may own the task by now.
 */
export class AttemptEndedError extends TaskRuntimeError {
  override readonly name = 'AttemptEndedError';

  constructor(
    /** The task of the ended attempt. */
    readonly taskId: string,
    /** The number of the ended attempt. */
    readonly attemptNum: number,
    /** The context command that was refused, e.g. `'addConcern'`. */
    readonly command: AttemptCommand,
  ) {
    super(
      `Attempt ${attemptNum} of task '${taskId}' has ended: its context refused ${command} and nothing changed. ` +
        'A handler may use its context only until its attempt ends (a timed-out handler should stop when its signal aborts).',
    );
  }
}
