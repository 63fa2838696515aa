import { AgentAddress } from '../agent/AgentAddress.js';
import { InvalidArgumentError } from '../errors.js';
import type { TaskEvent } from '../machines/taskMachine.js';
import {
  describeValue,
  isAttemptNumber,
  isIsoTime,
  isNonEmptyString,
  isPositiveInteger,
  isRecord,
} from '../validation.js';

function requireText(event: Record<string, unknown>, key: string, optional = false): void {
  const value = event[key];
  if (optional && value === undefined) return;
  if (!isNonEmptyString(value))
    throw new InvalidArgumentError(key, 'a non-empty string', describeValue(value));
}

/**
 * Checks the arguments of a reopen (`reason`, and `options` with an optional `attempts`, default 1) before anything
 * else is looked at; returns the attempts. @throws {InvalidArgumentError} naming the argument.
 */
export function checkReopenArguments(reason: unknown, options: unknown): number {
  if (!isRecord(options)) {
    throw new InvalidArgumentError('options', 'an object { attempts? }', describeValue(options));
  }
  const { attempts = 1 } = options;
  checkEvent({ type: 'REOPEN', reason, attempts });
  return attempts as number;
}

/**
 * Checks that `event` is a well-formed {@link TaskEvent}; the argument names in errors are the payload's field names.
 * @throws {InvalidArgumentError} when a field is missing, of the wrong type, or empty.
 */
export function checkEvent(event: unknown): asserts event is TaskEvent {
  if (!isRecord(event))
    throw new InvalidArgumentError('event', 'an event object with a type', describeValue(event));
  if (event.at !== undefined && !isIsoTime(event.at)) {
    throw new InvalidArgumentError('at', 'an ISO-8601 time', describeValue(event.at));
  }
  switch (event.type) {
    case 'PREPARE_ATTEMPT':
      if (!isAttemptNumber(event.attemptNum)) {
        throw new InvalidArgumentError(
          'attemptNum',
          'a non-negative safe integer',
          describeValue(event.attemptNum),
        );
      }
      break;
    case 'PR_CREATED':
      requireText(event, 'prUrl');
      break;
    case 'FAIL':
      requireText(event, 'error');
      if (event.retryable !== undefined && typeof event.retryable !== 'boolean') {
        throw new InvalidArgumentError('retryable', 'a boolean', describeValue(event.retryable));
      }
      if (event.workerLost !== undefined && typeof event.workerLost !== 'boolean') {
        throw new InvalidArgumentError('workerLost', 'a boolean', describeValue(event.workerLost));
      }
      if (event.workerLost === true && event.retryable === false) {
        throw new InvalidArgumentError(
          'retryable',
          'true or absent when workerLost is true (a lost attempt is always retryable)',
          'false',
        );
      }
      break;
    case 'REOPEN':
      requireText(event, 'reason');
      if (!isPositiveInteger(event.attempts)) {
        throw new InvalidArgumentError(
          'attempts',
          'a positive safe integer',
          describeValue(event.attempts),
        );
      }
      break;
    case 'ASSIGN_WORKTREE':
      requireText(event, 'worktreePath');
      requireText(event, 'branchName');
      requireText(event, 'signalDir', true);
      break;
    case 'ASSIGN_WORKSTREAM':
      requireText(event, 'integrationBranch');
      requireText(event, 'workstreamWorktreePath');
      break;
    case 'RECORD_AGENT_ADDRESS':
      AgentAddress.fromJSON(event.address, 'address');
      break;
    case 'ADD_CONCERN':
      requireText(event, 'concern');
      break;
    case 'START':
      requireText(event, 'workerId', true);
      break;
    case 'PR_MERGED':
    case 'RETRY':
    case 'MARK_PENDING':
      break;
    default:
      throw new InvalidArgumentError(
        'event.type',
        'one of the task machine event types',
        describeValue(event.type),
      );
  }
}
