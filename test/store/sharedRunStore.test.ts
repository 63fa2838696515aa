import { InvalidArgumentError } from '../../src/errors.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { runDigest } from '../../src/store/runDigest.js';
import {
  checkRunId,
  isSharedRunStore,
  isStartableSnapshot,
} from '../../src/store/sharedRunStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import { invalidArgument } from '../support/errors.js';

/* The store-neutral parts of shared runs: the type guard, the run id's check, startable snapshots, the digest. */

/** A TaskStore whose every method fails: only its shape matters to the type guard. */
function storeShape(extra: Record<string, unknown> = {}): TaskStore {
  const fail = () => Promise.reject(new Error('not called'));
  return {
    load: fail,
    save: fail,
    delete: fail,
    list: fail,
    claim: fail,
    renew: fail,
    release: fail,
    listExpired: fail,
    close: fail,
    ...extra,
  } as TaskStore;
}

describe('isSharedRunStore', () => {
  it('should accept a store with openRun, claimReady, listenReady and loadChanged, and no other', () => {
    const fn = () => undefined;
    const all = { openRun: fn, claimReady: fn, listenReady: fn, loadChanged: fn };
    expect(isSharedRunStore(storeShape())).toBe(false);
    expect(isSharedRunStore(storeShape({ openRun: fn, claimReady: fn }))).toBe(false);
    expect(isSharedRunStore(storeShape({ openRun: fn, claimReady: fn, listenReady: 1 }))).toBe(
      false,
    );
    expect(isSharedRunStore(storeShape({ openRun: fn, claimReady: fn, listenReady: fn }))).toBe(
      false,
    );
    expect(isSharedRunStore(storeShape({ ...all, loadChanged: 'no' }))).toBe(false);
    expect(isSharedRunStore(storeShape(all))).toBe(true);
  });
});

describe('checkRunId', () => {
  it('should accept any well-formed string of 1 to 200 characters without U+0000', () => {
    for (const runId of ['r', 'x'.repeat(200), '<b>run</b>', '🙂 ü', "'; DROP TABLE x; --"]) {
      expect(() => checkRunId(runId)).not.toThrow();
    }
  });

  it('should refuse anything else with InvalidArgumentError naming runId', () => {
    for (const runId of [
      '',
      'x'.repeat(201),
      'a\u0000b',
      'lone \uDC00',
      '\uD83D',
      7,
      null,
      undefined,
      {},
    ]) {
      const error = invalidArgument(() => checkRunId(runId));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.argument).toBe('runId');
      expect(error.message).toMatch(/at most 200 characters/);
    }
  });
});

describe('isStartableSnapshot', () => {
  const fresh = () => new TaskRuntime({ id: 'a', role: 'implementer' }, { maxAttempts: 3 });

  it('should say true exactly when START would be accepted', () => {
    const runtime = fresh();
    const startable = () => isStartableSnapshot(runtime.persist());
    expect(startable()).toBe(true);
    expect(startable()).toBe(runtime.can({ type: 'START' }));
    runtime.markRunning();
    expect(startable()).toBe(false);
    runtime.markFailed('boom');
    expect(startable()).toBe(false);
    runtime.resetForRetry();
    expect(runtime.status).toBe('pending');
    expect(startable()).toBe(false);
    expect(runtime.can({ type: 'START' })).toBe(false);
    runtime.prepareForAttempt(1);
    expect(startable()).toBe(true);
    runtime.markRunning();
    runtime.markPrCreated('https://github.com/acme/app/pull/1');
    expect(startable()).toBe(false);
    runtime.markPrMerged();
    expect(startable()).toBe(false);
  });

  it('should say false for what is not a snapshot, and true for a pending one without a ledger (schema 0)', () => {
    for (const value of [
      null,
      'pending',
      [],
      { status: 'pending' },
      { status: 'running', context: {} },
    ]) {
      expect(isStartableSnapshot(value)).toBe(false);
    }
    expect(isStartableSnapshot({ status: 'pending', context: { attemptNum: 0 } })).toBe(true);
  });
});

describe('runDigest', () => {
  it('should tell runs apart by their ids, their order and their dependencies, not their snapshots', () => {
    const digest = (spec: [string, string[]][], snapshot: unknown = {}) =>
      runDigest(
        spec.map(([taskId, dependencies]) => ({ taskId, dependencies, snapshot })),
      ).toString('hex');
    const base = digest([
      ['a', []],
      ['b', ['a']],
    ]);
    expect(
      digest(
        [
          ['a', []],
          ['b', ['a']],
        ],
        { other: true },
      ),
    ).toBe(base);
    expect(
      digest([
        ['b', ['a']],
        ['a', []],
      ]),
    ).not.toBe(base);
    expect(
      digest([
        ['a', []],
        ['b', []],
      ]),
    ).not.toBe(base);
    expect(
      digest([
        ['a', []],
        ['c', ['a']],
      ]),
    ).not.toBe(base);
  });
});
