import { AgentAddress } from '../agent/AgentAddress.js';
import { InvalidArgumentError, SnapshotError } from '../errors.js';
import { TASK_STATUSES, TaskStatus } from '../machines/status.js';
import {
  type AttemptOutcome,
  type AttemptRecord,
  attemptLimit,
  DEFAULT_MAX_LOST_ATTEMPTS,
  type TaskContext,
} from '../machines/taskMachine.js';
import { createTask, type Task, type TaskInput } from '../task/createTask.js';
import {
  describeValue,
  isAttemptNumber,
  isIsoTime,
  isNonEmptyString,
  isPositiveInteger,
  isRecord,
} from '../validation.js';

/** The snapshot schema this version writes; older ones are migrated on restore, newer ones refused. */
export const SNAPSHOT_SCHEMA_VERSION = 3;

/** What `TaskRuntime.persist()` returns: plain JSON, versioned, restorable in every status. */
export interface PersistedTaskRuntime {
  readonly schemaVersion: typeof SNAPSHOT_SCHEMA_VERSION;
  readonly status: TaskStatus;
  readonly context: TaskContext;
}

/** Upgrades a snapshot of version `n` (the key) to version `n + 1`. */
export type SnapshotMigration = (snapshot: Record<string, unknown>) => Record<string, unknown>;

const OUTCOMES: readonly AttemptOutcome[] = [
  'running',
  'pr_created',
  'pr_merged',
  'failed',
  'lost',
];

/**
 * Schema 0 is the format before the attempt ledger: `{ schemaVersion: 0, status, context }` with neither
 * `context.attempts` nor `context.retryable`. Its ledger is rebuilt from the status: one record for the current
 * attempt unless pending, with unknown (null) times; a failure counts as retryable.
 */
function migrateFrom0(snapshot: Record<string, unknown>): Record<string, unknown> {
  const { status } = snapshot;
  const context = isRecord(snapshot.context) ? snapshot.context : {};
  if ('attempts' in context || 'retryable' in context) {
    fail('schemaVersion', 'is 0, but the context has fields of schema 1 (attempts, retryable)');
  }
  const outcome = OUTCOMES.find((candidate) => candidate === status && candidate !== 'lost');
  const record = {
    attemptNum: context.attemptNum,
    startedAt: null,
    endedAt: null,
    outcome,
    error: status === TaskStatus.FAILED ? context.error : null,
    retryable: status === TaskStatus.FAILED ? true : null,
    prUrl:
      status === TaskStatus.PR_CREATED || status === TaskStatus.PR_MERGED ? context.prUrl : null,
  };
  return {
    ...snapshot,
    schemaVersion: 1,
    context: {
      ...context,
      retryable: status === TaskStatus.FAILED ? true : null,
      attempts: outcome === undefined ? [] : [record],
    },
  };
}

/**
 * Schema 1 is the format before lost attempts and reopen: no `context.maxLostAttempts` nor
 * `context.extraAttempts`, and no ledger outcome `'lost'`. It gets the default allowance of lost attempts and no
 * extra attempts, so the task restores with exactly the limits it had.
 */
function migrateFrom1(snapshot: Record<string, unknown>): Record<string, unknown> {
  const context = isRecord(snapshot.context) ? snapshot.context : {};
  if ('maxLostAttempts' in context || 'extraAttempts' in context) {
    fail(
      'schemaVersion',
      'is 1, but the context has fields of schema 2 (maxLostAttempts, extraAttempts)',
    );
  }
  const attempts = Array.isArray(context.attempts) ? context.attempts : [];
  const lost = attempts.findIndex((record) => isRecord(record) && record.outcome === 'lost');
  if (lost !== -1) {
    fail(`context.attempts[${lost}].outcome`, "is 'lost', which schema 1 does not have");
  }
  return {
    ...snapshot,
    schemaVersion: 2,
    context: { ...context, maxLostAttempts: DEFAULT_MAX_LOST_ATTEMPTS, extraAttempts: 0 },
  };
}

/**
 * Schema 2 is the format before shared runs: no `workerId` in the ledger's records. Its attempts ran on no named
 * worker, so each gets `workerId: null`.
 */
function migrateFrom2(snapshot: Record<string, unknown>): Record<string, unknown> {
  const context = snapshot.context;
  // Anything malformed is left as it is, for the reader to refuse with its own message.
  if (!isRecord(context) || !Array.isArray(context.attempts))
    return { ...snapshot, schemaVersion: 3 };
  const attempts: unknown[] = context.attempts;
  const named = attempts.findIndex((record) => isRecord(record) && 'workerId' in record);
  if (named !== -1) {
    fail(`context.attempts[${named}].workerId`, 'is a field of schema 3, not of schema 2');
  }
  return {
    ...snapshot,
    schemaVersion: 3,
    context: {
      ...context,
      attempts: attempts.map((record) =>
        isRecord(record) ? { ...record, workerId: null } : record,
      ),
    },
  };
}

/** Migrations by the version they upgrade from; restore applies them in order up to the current version. */
export const snapshotMigrations: Readonly<Record<number, SnapshotMigration>> = Object.freeze({
  0: migrateFrom0,
  1: migrateFrom1,
  2: migrateFrom2,
});

const CONTEXT_KEYS = [
  'task',
  'maxAttempts',
  'maxLostAttempts',
  'extraAttempts',
  'attemptNum',
  'worktreePath',
  'branchName',
  'signalDir',
  'integrationBranch',
  'workstreamWorktreePath',
  'error',
  'retryable',
  'prUrl',
  'concerns',
  'agentAddress',
  'attempts',
] as const;
const RECORD_KEYS = [
  'attemptNum',
  'startedAt',
  'endedAt',
  'outcome',
  'error',
  'retryable',
  'prUrl',
  'workerId',
] as const;

function fail(path: string, problem: string): never {
  throw new SnapshotError(path, problem);
}

function expect<T>(
  value: unknown,
  path: string,
  test: (v: unknown) => v is T,
  expected: string,
): T {
  return test(value) ? value : fail(path, `must be ${expected}, got ${describeValue(value)}`);
}

const isNullableText = (v: unknown): v is string | null => v === null || isNonEmptyString(v);
const isNullableBoolean = (v: unknown): v is boolean | null => v === null || typeof v === 'boolean';
const isNullableTime = (v: unknown): v is string | null => v === null || isIsoTime(v);
const isStatus = (v: unknown): v is TaskStatus => TASK_STATUSES.includes(v as TaskStatus);
const isOutcome = (v: unknown): v is AttemptOutcome => OUTCOMES.includes(v as AttemptOutcome);

function readObject(
  value: unknown,
  path: string,
  keys: readonly string[],
): Record<string, unknown> {
  const object = expect(value, path, isRecord, 'an object');
  for (const key of keys) {
    if (!(key in object)) fail(path === '' ? key : `${path}.${key}`, 'is missing');
  }
  for (const key of Object.keys(object)) {
    if (!keys.includes(key)) fail(path === '' ? key : `${path}.${key}`, 'is not a known field');
  }
  return object;
}

/** Re-throws an InvalidArgumentError from a nested constructor as a SnapshotError at `path`. */
function atPath<T>(path: string, build: () => T, argumentPrefix: string): T {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    const rest = error.argument.slice(argumentPrefix.length);
    return fail(`${path}${rest}`, `must be ${error.expected}, got ${error.received}`);
  }
}

function migrate(raw: Record<string, unknown>): Record<string, unknown> {
  const version = raw.schemaVersion;
  if (!Number.isSafeInteger(version)) {
    fail('schemaVersion', `must be an integer schema version, got ${describeValue(version)}`);
  }
  let snapshot = raw;
  for (let from = version as number; from < SNAPSHOT_SCHEMA_VERSION; from += 1) {
    const migration = snapshotMigrations[from];
    if (migration === undefined)
      fail('schemaVersion', `${from} is too old: no migration to ${from + 1} exists`);
    snapshot = migration(snapshot);
  }
  if ((version as number) > SNAPSHOT_SCHEMA_VERSION) {
    fail(
      'schemaVersion',
      `is ${version}, newer than the ${SNAPSHOT_SCHEMA_VERSION} this version of task-runtime reads; upgrade task-runtime`,
    );
  }
  return snapshot;
}

function readAttempts(
  value: unknown,
  attemptNum: number,
  limit: number | null,
  describeLimit: string,
): readonly AttemptRecord[] {
  const list = expect(value, 'context.attempts', Array.isArray, 'an array');
  let previous = -1;
  return Object.freeze(
    list.map((item, index) => {
      const path = `context.attempts[${index}]`;
      const raw = readObject(item, path, RECORD_KEYS);
      const record: AttemptRecord = Object.freeze({
        attemptNum: expect(
          raw.attemptNum,
          `${path}.attemptNum`,
          isAttemptNumber,
          'a non-negative integer',
        ),
        startedAt: expect(
          raw.startedAt,
          `${path}.startedAt`,
          isNullableTime,
          'an ISO-8601 time or null',
        ),
        endedAt: expect(raw.endedAt, `${path}.endedAt`, isNullableTime, 'an ISO-8601 time or null'),
        outcome: expect(raw.outcome, `${path}.outcome`, isOutcome, `one of ${OUTCOMES.join(', ')}`),
        error: expect(raw.error, `${path}.error`, isNullableText, 'a non-empty string or null'),
        retryable: expect(
          raw.retryable,
          `${path}.retryable`,
          isNullableBoolean,
          'a boolean or null',
        ),
        prUrl: expect(raw.prUrl, `${path}.prUrl`, isNullableText, 'a non-empty string or null'),
        workerId: expect(
          raw.workerId,
          `${path}.workerId`,
          isNullableText,
          'a non-empty string or null',
        ),
      });
      if (record.attemptNum <= previous)
        fail(`${path}.attemptNum`, 'must be greater than the attempt before it');
      if (record.attemptNum > attemptNum)
        fail(`${path}.attemptNum`, `must not exceed context.attemptNum (${attemptNum})`);
      if (limit !== null && record.attemptNum >= limit) {
        fail(`${path}.attemptNum`, `must be below ${describeLimit}`);
      }
      const failed = record.outcome === 'failed' || record.outcome === 'lost';
      if (index < list.length - 1 && !failed) {
        fail(
          `${path}.outcome`,
          `must be 'failed' or 'lost': only the last attempt can still be open or succeed`,
        );
      }
      if (record.outcome === 'lost' && record.retryable !== true) {
        fail(`${path}.retryable`, 'must be true when the outcome is lost');
      }
      const open = record.outcome === 'running' || record.outcome === 'pr_created';
      if (failed !== (record.error !== null)) {
        fail(`${path}.error`, 'must be set exactly when the outcome is failed or lost');
      }
      if (failed !== (record.retryable !== null)) {
        fail(`${path}.retryable`, 'must be set exactly when the outcome is failed or lost');
      }
      if (record.outcome !== 'running' && !failed && record.prUrl === null) {
        fail(`${path}.prUrl`, `must be set when the outcome is ${record.outcome}`);
      }
      if (open && record.endedAt !== null) {
        fail(`${path}.endedAt`, 'must be null while the attempt is open (running or pr_created)');
      }
      previous = record.attemptNum;
      return record;
    }),
  );
}

/** The task, rebuilt by createTask and required to be exactly what was stored: no field left to a default. */
function readTask(raw: unknown): Task {
  const task = atPath('context.task', () => createTask(raw as TaskInput), 'task');
  requireSame(task, raw, 'context.task');
  return task;
}

/** Fails at the first place where `stored` differs from `canonical` (key order aside). */
function requireSame(canonical: unknown, stored: unknown, path: string): void {
  if (canonical === null || typeof canonical !== 'object') {
    if (canonical !== stored)
      fail(path, `must be ${JSON.stringify(canonical)}, got ${describeValue(stored)}`);
    return;
  }
  const entries = Object.entries(canonical);
  if (!isRecord(stored) && !Array.isArray(stored))
    fail(path, `must be an object, got ${describeValue(stored)}`);
  const storedObject = stored as Record<string, unknown>;
  if (Array.isArray(canonical) && storedObject.length !== canonical.length)
    fail(path, 'has a different length');
  for (const [key, value] of entries) {
    const where = Array.isArray(canonical) ? `${path}[${key}]` : `${path}.${key}`;
    if (!(key in storedObject)) fail(where, 'is missing');
    requireSame(value, storedObject[key], where);
  }
}

function readContext(value: unknown, status: TaskStatus): TaskContext {
  const raw = readObject(value, 'context', CONTEXT_KEYS);
  const text = (key: (typeof CONTEXT_KEYS)[number]) =>
    expect(raw[key], `context.${key}`, isNullableText, 'a non-empty string or null');
  const maxAttempts = expect(
    raw.maxAttempts,
    'context.maxAttempts',
    (v): v is number | null => v === null || isPositiveInteger(v),
    'a positive integer or null',
  );
  const attemptNum = expect(
    raw.attemptNum,
    'context.attemptNum',
    isAttemptNumber,
    'a non-negative integer',
  );
  const maxLostAttempts = expect(
    raw.maxLostAttempts,
    'context.maxLostAttempts',
    isAttemptNumber,
    'a non-negative integer',
  );
  const extraAttempts = expect(
    raw.extraAttempts,
    'context.extraAttempts',
    Number.isSafeInteger as (v: unknown) => v is number,
    'an integer',
  );
  const limit = attemptLimit({ maxAttempts, extraAttempts });
  const describeLimit =
    extraAttempts === 0
      ? `context.maxAttempts (${maxAttempts})`
      : `context.maxAttempts + context.extraAttempts (${limit})`;
  if (limit !== null && attemptNum >= limit) {
    fail('context.attemptNum', `must be below ${describeLimit}, got ${attemptNum}`);
  }
  const concerns = expect(raw.concerns, 'context.concerns', Array.isArray, 'an array');
  const context: TaskContext = {
    task: readTask(raw.task),
    maxAttempts,
    maxLostAttempts,
    extraAttempts,
    attemptNum,
    worktreePath: text('worktreePath'),
    branchName: text('branchName'),
    signalDir: text('signalDir'),
    integrationBranch: text('integrationBranch'),
    workstreamWorktreePath: text('workstreamWorktreePath'),
    error: text('error'),
    retryable: expect(raw.retryable, 'context.retryable', isNullableBoolean, 'a boolean or null'),
    prUrl: text('prUrl'),
    concerns: Object.freeze(
      concerns.map((c, i) =>
        expect(c, `context.concerns[${i}]`, isNonEmptyString, 'a non-empty string'),
      ),
    ),
    agentAddress:
      raw.agentAddress === null
        ? null
        : atPath(
            'context.agentAddress',
            () => {
              readObject(raw.agentAddress, 'context.agentAddress', ['kind', 'session', 'paneId']);
              return Object.freeze(AgentAddress.fromJSON(raw.agentAddress, 'address').toJSON());
            },
            'address',
          ),
    attempts: readAttempts(raw.attempts, attemptNum, limit, describeLimit),
  };
  checkStatusInvariants(status, context);
  return context;
}

/** The invariants that tie the status to the context and the ledger. */
function checkStatusInvariants(status: TaskStatus, context: TaskContext): void {
  const last = context.attempts[context.attempts.length - 1];
  const lastOutcome = last?.attemptNum === context.attemptNum ? last.outcome : undefined;
  const expectedOutcome: Record<TaskStatus, AttemptOutcome | 'closed'> = {
    pending: 'closed',
    running: 'running',
    pr_created: 'pr_created',
    pr_merged: 'pr_merged',
    failed: 'failed',
  };
  const expected =
    status === TaskStatus.FAILED && lastOutcome === 'lost' ? 'lost' : expectedOutcome[status];
  if (expected === 'closed') {
    if (last !== undefined && last.outcome !== 'failed' && last.outcome !== 'lost') {
      fail(
        'context.attempts',
        `must not hold an open or merged attempt while pending (last is ${last.outcome})`,
      );
    }
  } else if (lastOutcome !== expected) {
    fail(
      'context.attempts',
      `must end with attempt ${context.attemptNum} as '${expected}' when the status is ${status}`,
    );
  }
  if (status === TaskStatus.FAILED && (context.error === null || context.retryable === null)) {
    fail(
      context.error === null ? 'context.error' : 'context.retryable',
      'must be set when the status is failed',
    );
  }
  if (status !== TaskStatus.PENDING && status !== TaskStatus.FAILED && context.error !== null) {
    fail('context.error', `must be null when the status is ${status}`);
  }
  if (
    (status === TaskStatus.PR_CREATED || status === TaskStatus.PR_MERGED) &&
    context.prUrl === null
  ) {
    fail('context.prUrl', `must be set when the status is ${status}`);
  }
}

/**
 * Validates anything claiming to be a persisted runtime and returns a fresh, frozen copy.
 * @throws {SnapshotError} naming the path of the first problem; nothing is restored.
 */
export function readPersistedTaskRuntime(snapshot: unknown): PersistedTaskRuntime {
  const raw = migrate(expect(snapshot, '', isRecord, 'an object'));
  readObject(raw, '', ['schemaVersion', 'status', 'context']);
  const status = expect(raw.status, 'status', isStatus, `one of ${TASK_STATUSES.join(', ')}`);
  return Object.freeze({
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    status,
    context: Object.freeze(readContext(raw.context, status)),
  });
}
