import { InvalidArgumentError } from '../errors.js';
import { describeValue, isNonEmptyString, isPositiveInteger, isRecord } from '../validation.js';
import type { KnownRevision } from './sharedRunStore.js';
import type { DeleteOptions, LeaseOptions, LeaseRef, SaveOptions } from './TaskStore.js';

/** The longest task id a store holds, in UTF-16 code units. */
export const MAX_TASK_ID_LENGTH = 1000;
/** The longest lease a store grants: one year, in milliseconds. */
const MAX_LEASE_MS = 365 * 24 * 60 * 60 * 1000;

/** Checks that `taskId` is a string a store can hold: non-empty, well-formed Unicode, not too long. */
export function checkTaskId(taskId: unknown): asserts taskId is string {
  if (typeof taskId !== 'string' || taskId.length === 0) {
    throw new InvalidArgumentError('taskId', 'a non-empty string', describeValue(taskId));
  }
  if (taskId.length > MAX_TASK_ID_LENGTH) {
    throw new InvalidArgumentError(
      'taskId',
      `at most ${MAX_TASK_ID_LENGTH} characters`,
      describeValue(taskId),
    );
  }
  if (!taskId.isWellFormed()) {
    throw new InvalidArgumentError(
      'taskId',
      'well-formed Unicode (no lone surrogates)',
      describeValue(taskId),
    );
  }
}

/** Checks the options of a save; `expectedRevision` may be null ("must not exist yet"). */
export function checkSaveOptions(options: unknown): asserts options is SaveOptions {
  if (!isRecord(options)) {
    throw new InvalidArgumentError(
      'options',
      'an object { expectedRevision, lease?, releaseLease? }',
      describeValue(options),
    );
  }
  checkRevision(options.expectedRevision, true);
  if (options.lease !== undefined) checkLeaseRef(options.lease);
  const { releaseLease } = options;
  if (releaseLease !== undefined && typeof releaseLease !== 'boolean') {
    throw new InvalidArgumentError('releaseLease', 'a boolean', describeValue(releaseLease));
  }
  if (releaseLease === true && options.lease === undefined) {
    throw new InvalidArgumentError(
      'releaseLease',
      'true only with the lease it ends (options.lease)',
      'true without a lease',
    );
  }
}

/** Checks the options of a delete: `{ expectedRevision }` with a positive integer. */
export function checkDeleteOptions(options: unknown): asserts options is DeleteOptions {
  if (!isRecord(options)) {
    throw new InvalidArgumentError(
      'options',
      'an object { expectedRevision }',
      describeValue(options),
    );
  }
  checkRevision(options.expectedRevision, false);
}

/** Checks a revision: a positive integer, or null when `nullable`. */
export function checkRevision(value: unknown, nullable: boolean): void {
  if ((nullable && value === null) || isPositiveInteger(value)) return;
  throw new InvalidArgumentError(
    'expectedRevision',
    nullable ? 'a positive integer, or null for "must not exist yet"' : 'a positive integer',
    describeValue(value),
  );
}

/** Checks a worker id: a non-empty string of at most 200 characters of well-formed Unicode, without U+0000. */
export function checkWorkerId(workerId: unknown): asserts workerId is string {
  if (
    !isNonEmptyString(workerId) ||
    workerId.length > 200 ||
    !workerId.isWellFormed() ||
    workerId.includes('\0')
  ) {
    throw new InvalidArgumentError(
      'workerId',
      'a non-empty string of at most 200 characters of well-formed Unicode (no lone surrogates) without U+0000',
      describeValue(workerId),
    );
  }
}

/** Checks `{ workerId, token }` as carried by saves, renewals and releases. */
export function checkLeaseRef(lease: unknown): asserts lease is LeaseRef {
  if (!isRecord(lease)) {
    throw new InvalidArgumentError(
      'lease',
      'a lease { workerId, token } from claim()',
      describeValue(lease),
    );
  }
  checkWorkerId(lease.workerId);
  if (!isPositiveInteger(lease.token)) {
    throw new InvalidArgumentError(
      'lease.token',
      'a positive integer from claim()',
      describeValue(lease.token),
    );
  }
}

/** Checks `{ leaseMs }`: a positive integer of at most a year. */
export function checkLeaseOptions(options: unknown): asserts options is LeaseOptions {
  const leaseMs = isRecord(options) ? options.leaseMs : options;
  if (!isPositiveInteger(leaseMs) || leaseMs > MAX_LEASE_MS) {
    throw new InvalidArgumentError(
      'leaseMs',
      `a positive integer of milliseconds up to ${MAX_LEASE_MS}`,
      describeValue(leaseMs),
    );
  }
}

/** The snapshot as JSON text; InvalidArgumentError for what JSON cannot hold (undefined, BigInt, cycles). */
export function serializeSnapshot(snapshot: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(snapshot);
  } catch (cause) {
    const given = `a value JSON.stringify refused (${(cause as Error).message})`;
    throw new InvalidArgumentError('snapshot', 'a JSON-serializable value', given);
  }
  if (text === undefined) {
    throw new InvalidArgumentError(
      'snapshot',
      'a JSON-serializable value',
      describeValue(snapshot),
    );
  }
  return text;
}

/** Whether a stored snapshot's status is one in which a worker must be alive (running or pr_created). */
export function needsLiveWorker(snapshot: unknown): boolean {
  const status = isRecord(snapshot) ? snapshot.status : undefined;
  return status === 'running' || status === 'pr_created';
}

/** Checks the argument of `loadChanged`: an array of `{ taskId, revision }`, each revision an integer ≥ 0. */
export function checkKnownRevisions(known: unknown): asserts known is readonly KnownRevision[] {
  if (!Array.isArray(known)) {
    throw new InvalidArgumentError(
      'known',
      'an array of { taskId, revision }',
      describeValue(known),
    );
  }
  known.forEach((entry: unknown, index) => {
    const at = `known[${index}]`;
    if (!isRecord(entry)) {
      throw new InvalidArgumentError(at, 'an object { taskId, revision }', describeValue(entry));
    }
    checkTaskId(entry.taskId);
    const { revision } = entry;
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
      throw new InvalidArgumentError(
        `${at}.revision`,
        'a revision: an integer ≥ 0 (0 for a task never seen)',
        describeValue(revision),
      );
    }
  });
}
