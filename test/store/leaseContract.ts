import {
  InvalidArgumentError,
  LeaseLostError,
  TaskRuntimeError,
  TaskStoreError,
} from '../../src/errors.js';
import type { TaskStatus } from '../../src/machines/status.js';
import type { PersistedTaskRuntime } from '../../src/runtime/snapshot.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import type { Lease, LeaseRef, SaveOptions, TaskStore } from '../../src/store/TaskStore.js';
import { AgentRole } from '../../src/task/enums.js';
import { rejectionOf } from '../support/errors.js';

/**
 * The lease behaviour every TaskStore must show: claim, renew, release, fencing of saves and listExpired. It uses
 * nothing but the TaskStore interface and the harness, so it runs against every store. Lease times come from the
 * store's clock: `advance(ms)` moves a fake clock (FileTaskStore) or really waits (PostgreSQL's server clock), so
 * the suite uses short leases only where a lease must run out, and long ones where it must stay live.
 */

/** What the suite needs of a store under test; `open` must give a new, empty store per call. */
export interface LeaseHarness {
  readonly store: TaskStore;
  /** Lets `ms` milliseconds pass on the clock the store's leases expire by. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** A lease that must run out within the test: `advance(PAST_SHORT)` ends it. */
const SHORT = 150;
const PAST_SHORT = 250;
/** A lease that must stay live for the whole test. */
const LONG = 60_000;

/** Asserts a LeaseLostError for `lease` on `taskId` and returns it. */
async function expectLeaseLost(
  call: () => Promise<unknown>,
  taskId: string,
  lease: LeaseRef,
): Promise<LeaseLostError> {
  const error = await rejectionOf(call);
  expect(error).toBeInstanceOf(LeaseLostError);
  expect(error).toBeInstanceOf(TaskRuntimeError);
  const lost = error as LeaseLostError;
  expect(lost.taskId).toBe(taskId);
  expect(lost.workerId).toBe(lease.workerId);
  expect(lost.token).toBe(lease.token);
  return lost;
}

/** `lease` after checking that claim() gave one. */
function granted(lease: Lease | null): Lease {
  expect(lease).not.toBeNull();
  if (lease === null) throw new Error('claim() gave null');
  return lease;
}

const FIXED_TIME = new Date('2030-01-02T03:04:05.678Z');

/** A real persisted runtime of task `id` in `status` (attempt 0, maxAttempts 3). */
export function snapshotIn(id: string, status: TaskStatus): PersistedTaskRuntime {
  const runtime = new TaskRuntime(
    { id, role: AgentRole.IMPLEMENTER },
    { maxAttempts: 3, clock: () => FIXED_TIME },
  );
  if (status === 'failed') runtime.markFailed('agent crashed');
  if (status === 'running' || status === 'pr_created' || status === 'pr_merged') {
    runtime.markRunning();
  }
  if (status === 'pr_created' || status === 'pr_merged') {
    runtime.markPrCreated(`https://example.test/${encodeURIComponent(id)}/pull/1`);
  }
  if (status === 'pr_merged') runtime.markPrMerged();
  expect(runtime.status).toBe(status);
  return runtime.persist();
}

/** Worker ids that quoting, escaping and encodings must not confuse; each must come back verbatim. */
export const HOSTILE_WORKER_IDS: readonly string[] = [
  "'); DROP TABLE tasks; --",
  'O\'Brien "the worker"',
  'back\\slash\\',
  '$1',
  '$$; SELECT 1; $$',
  '%_',
  'ünïcödé 日本語 🚀',
  'e\u0301',
  ' ',
  'w'.repeat(200),
];

/** Declares the lease contract suite for a store; `open` must give a new, empty store per call. */
export function describeLeaseContract(name: string, open: () => Promise<LeaseHarness>): void {
  describe(`${name} (lease contract)`, () => {
    let harness: LeaseHarness;
    let store: TaskStore;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close();
    });

    /** Stores task `id` in `status`; resolves to its revision (1). */
    const stored = (id: string, status: TaskStatus = 'running'): Promise<number> =>
      store.save(id, snapshotIn(id, status), { expectedRevision: null });

    describe('claim', () => {
      it('should give a lease { workerId, token, expiresAt } that lasts leaseMs', async () => {
        await stored('a');
        await stored('b');
        const long = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        const short = granted(await store.claim('b', 'worker-1', { leaseMs: SHORT }));
        expect(Object.keys(long).sort()).toEqual(['expiresAt', 'token', 'workerId']);
        expect(long.workerId).toBe('worker-1');
        expect(Number.isSafeInteger(long.token) && long.token > 0).toBe(true);
        expect(new Date(long.expiresAt).toISOString()).toBe(long.expiresAt);
        // Claimed one after the other, so their expiries lie about LONG - SHORT apart, whatever the clock.
        const apart = Date.parse(long.expiresAt) - Date.parse(short.expiresAt);
        expect(apart).toBeGreaterThan(LONG - SHORT - 5_000);
        expect(apart).toBeLessThanOrEqual(LONG - SHORT);
      });

      it('should return null while another live lease holds the task, whoever asks', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        await expect(store.claim('a', 'worker-2', { leaseMs: LONG })).resolves.toBeNull();
        await expect(store.claim('a', 'worker-1', { leaseMs: LONG })).resolves.toBeNull();
        // The refused claims took nothing from the holder.
        await expect(store.renew('a', lease, { leaseMs: LONG })).resolves.toMatchObject({
          workerId: 'worker-1',
          token: lease.token,
        });
      });

      it('should let another worker claim after the lease ran out, with a higher token', async () => {
        await stored('a');
        const first = granted(await store.claim('a', 'worker-1', { leaseMs: SHORT }));
        await harness.advance(PAST_SHORT);
        const second = granted(await store.claim('a', 'worker-2', { leaseMs: LONG }));
        expect(second.workerId).toBe('worker-2');
        expect(second.token).toBeGreaterThan(first.token);
        await expect(store.claim('a', 'worker-1', { leaseMs: LONG })).resolves.toBeNull();
      });

      it('should give strictly increasing tokens across release, expiry and delete/re-create', async () => {
        const tokens: number[] = [];
        let revision = await stored('a');
        const claimAndKeep = async (workerId: string, leaseMs: number): Promise<Lease> => {
          const lease = granted(await store.claim('a', workerId, { leaseMs }));
          tokens.push(lease.token);
          return lease;
        };
        await store.release('a', await claimAndKeep('w1', LONG));
        await store.release('a', await claimAndKeep('w1', LONG)); // the same worker again
        await claimAndKeep('w2', SHORT);
        await harness.advance(PAST_SHORT);
        const held = await claimAndKeep('w3', LONG);
        revision = await store.save('a', snapshotIn('a', 'running'), {
          expectedRevision: revision,
          lease: held,
        });
        await store.delete('a', { expectedRevision: revision }); // deleted while w3 holds it
        await stored('a');
        const reborn = await claimAndKeep('w4', LONG);
        for (let index = 1; index < tokens.length; index += 1) {
          expect({
            tokens,
            index,
            increases: (tokens[index] ?? 0) > (tokens[index - 1] ?? 0),
          }).toEqual({ tokens, index, increases: true });
        }
        // A lease from before the delete does not hold the re-created task.
        await expectLeaseLost(
          () => store.save('a', { late: true }, { expectedRevision: 1, lease: held }),
          'a',
          held,
        );
        await store.release('a', reborn);
      });

      it('should throw TaskStoreError naming the task when it is not stored, and create nothing', async () => {
        await stored('kept');
        const error = await rejectionOf(() => store.claim('ghost', 'worker-1', { leaseMs: LONG }));
        expect(error).toBeInstanceOf(TaskStoreError);
        expect((error as TaskStoreError).taskId).toBe('ghost');
        expect((error as Error).message).toContain("'ghost'");
        await expect(store.load('ghost')).resolves.toBeNull();
        await expect(store.list()).resolves.toEqual(['kept']);
        await expect(store.listExpired()).resolves.toEqual([]);
      });

      it('should throw TaskStoreError when the task was deleted', async () => {
        const revision = await stored('gone');
        await store.delete('gone', { expectedRevision: revision });
        const error = await rejectionOf(() => store.claim('gone', 'worker-1', { leaseMs: LONG }));
        expect(error).toBeInstanceOf(TaskStoreError);
        expect((error as TaskStoreError).taskId).toBe('gone');
        await expect(store.load('gone')).resolves.toBeNull();
        await expect(store.list()).resolves.toEqual([]);
      });

      it('should not change the revision or the snapshot when claiming, renewing or releasing', async () => {
        await stored('a');
        const before = await store.load('a');
        const unchanged = { snapshot: before?.snapshot, revision: before?.revision };
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: SHORT }));
        await expect(store.load('a')).resolves.toMatchObject(unchanged);
        await store.renew('a', lease, { leaseMs: LONG });
        await expect(store.load('a')).resolves.toMatchObject(unchanged);
        await store.release('a', lease);
        await expect(store.load('a')).resolves.toEqual({ ...unchanged, lease: null });
        const next = granted(await store.claim('a', 'worker-2', { leaseMs: LONG }));
        await expect(store.load('a')).resolves.toEqual({ ...unchanged, lease: next });
      });

      it('should show the current lease, with its holder, token and expiry, when loading', async () => {
        await stored('a');
        await expect(store.load('a')).resolves.toMatchObject({ lease: null });
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        const loaded = await store.load('a');
        expect(loaded?.lease).toEqual(lease);
        expect(Date.parse(loaded?.lease?.expiresAt ?? '')).toBeGreaterThan(Date.now());
        const renewed = await store.renew('a', lease, { leaseMs: LONG * 2 });
        await expect(store.load('a')).resolves.toMatchObject({ lease: renewed });
      });

      it('should hold hostile worker ids verbatim through claim, save, renew and release', async () => {
        for (const [index, workerId] of HOSTILE_WORKER_IDS.entries()) {
          const id = `task-${index}`;
          await stored(id);
          const lease = granted(await store.claim(id, workerId, { leaseMs: LONG }));
          expect(lease.workerId).toBe(workerId);
          await expect(store.save(id, { workerId }, { expectedRevision: 1, lease })).resolves.toBe(
            2,
          );
          // Only that exact id holds the lease: a look-alike does not.
          const lookAlike = { workerId: `${workerId.slice(1)}x`, token: lease.token };
          await expectLeaseLost(() => store.release(id, lookAlike), id, lookAlike);
          await expect(store.renew(id, lease, { leaseMs: LONG })).resolves.toMatchObject({
            workerId,
          });
          await store.release(id, lease);
          await expect(store.load(id)).resolves.toEqual({
            snapshot: { workerId },
            revision: 2,
            lease: null,
          });
        }
      });
    });

    describe('save with a lease', () => {
      it('should save with the current lease and keep the lease', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        const next = snapshotIn('a', 'pr_created');
        await expect(store.save('a', next, { expectedRevision: 1, lease })).resolves.toBe(2);
        await expect(store.load('a')).resolves.toEqual({ snapshot: next, revision: 2, lease });
        await expect(store.claim('a', 'worker-2', { leaseMs: LONG })).resolves.toBeNull();
        await expect(
          store.save('a', snapshotIn('a', 'pr_merged'), { expectedRevision: 2, lease }),
        ).resolves.toBe(3);
      });

      it('should throw LeaseLostError and write nothing once another worker claimed the task', async () => {
        await stored('a');
        const old = granted(await store.claim('a', 'worker-1', { leaseMs: SHORT }));
        await harness.advance(PAST_SHORT);
        const current = granted(await store.claim('a', 'worker-2', { leaseMs: LONG }));
        const before = await store.load('a');
        // Whatever revision the late writer expects, stale or current, its token decides.
        for (const expectedRevision of [1, 2]) {
          const lost = await expectLeaseLost(
            () => store.save('a', snapshotIn('a', 'failed'), { expectedRevision, lease: old }),
            'a',
            old,
          );
          expect(lost.currentToken).toBe(current.token);
          expect(lost.message).toContain("'a'");
          expect(lost.message).toContain('worker-1');
        }
        await expect(store.load('a')).resolves.toEqual(before);
        await expect(
          store.save('a', snapshotIn('a', 'failed'), { expectedRevision: 1, lease: current }),
        ).resolves.toBe(2);
      });

      it('should throw LeaseLostError and write nothing when the lease was released', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        await store.release('a', lease);
        await expectLeaseLost(
          () => store.save('a', { late: true }, { expectedRevision: 1, lease }),
          'a',
          lease,
        );
        await expect(store.load('a')).resolves.toEqual({
          snapshot: snapshotIn('a', 'running'),
          revision: 1,
          lease: null,
        });
      });

      it('should throw LeaseLostError for the current token shown by another worker id', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        const impostor = { workerId: 'worker-2', token: lease.token };
        await expectLeaseLost(
          () => store.save('a', { impostor: true }, { expectedRevision: 1, lease: impostor }),
          'a',
          impostor,
        );
        await expect(store.load('a')).resolves.toMatchObject({ revision: 1 });
      });

      it('should end the lease in the same write with releaseLease, so another worker claims at once', async () => {
        await stored('a', 'pr_created');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        const merged = snapshotIn('a', 'pr_merged');

        await expect(
          store.save('a', merged, { expectedRevision: 1, lease, releaseLease: true }),
        ).resolves.toBe(2);

        await expect(store.load('a')).resolves.toEqual({
          snapshot: merged,
          revision: 2,
          lease: null,
        });
        await expectLeaseLost(() => store.renew('a', lease, { leaseMs: LONG }), 'a', lease);
        await expectLeaseLost(() => store.release('a', lease), 'a', lease);
        await expectLeaseLost(
          () => store.save('a', { late: true }, { expectedRevision: 2, lease }),
          'a',
          lease,
        );
        const next = granted(await store.claim('a', 'worker-2', { leaseMs: LONG }));
        expect(next.token).toBeGreaterThan(lease.token);
      });

      it('should keep the lease when a save with releaseLease is refused, and save nothing', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        const before = await store.load('a');
        const refused = await rejectionOf(() =>
          store.save('a', snapshotIn('a', 'failed'), {
            expectedRevision: 7,
            lease,
            releaseLease: true,
          }),
        );
        expect(refused).toBeInstanceOf(TaskRuntimeError);
        await expect(store.load('a')).resolves.toEqual(before);
        await expect(store.claim('a', 'worker-2', { leaseMs: LONG })).resolves.toBeNull();
      });

      it('should refuse releaseLease without a lease, or not a boolean, with InvalidArgumentError naming it', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        const before = await store.load('a');
        for (const options of [
          { expectedRevision: 1, releaseLease: true },
          { expectedRevision: 1, lease, releaseLease: 'yes' },
          { expectedRevision: 1, lease, releaseLease: 1 },
          { expectedRevision: 1, lease, releaseLease: null },
        ]) {
          const error = await rejectionOf(() =>
            store.save('a', { bad: true }, options as unknown as SaveOptions),
          );
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect(error).toMatchObject({ argument: 'releaseLease' });
        }
        await expect(store.load('a')).resolves.toEqual(before);
      });

      it('should throw LeaseLostError when no lease was ever taken', async () => {
        await stored('a');
        const invented = { workerId: 'worker-1', token: 1 };
        await expectLeaseLost(
          () => store.save('a', { invented: true }, { expectedRevision: 1, lease: invented }),
          'a',
          invented,
        );
        await expect(store.load('a')).resolves.toMatchObject({ revision: 1 });
      });
    });

    describe('renew', () => {
      it('should extend expiresAt and keep the token, so the lease outlives its first term', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: SHORT }));
        const renewed = await store.renew('a', lease, { leaseMs: LONG });
        expect(renewed.workerId).toBe('worker-1');
        expect(renewed.token).toBe(lease.token);
        expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.parse(lease.expiresAt));
        await harness.advance(PAST_SHORT);
        await expect(store.claim('a', 'worker-2', { leaseMs: LONG })).resolves.toBeNull();
        await expect(store.listExpired()).resolves.toEqual([]);
        await expect(
          store.save('a', { still: 'mine' }, { expectedRevision: 1, lease: renewed }),
        ).resolves.toBe(2);
      });

      it('should throw LeaseLostError when renewing a lease another worker took over', async () => {
        await stored('a');
        const old = granted(await store.claim('a', 'worker-1', { leaseMs: SHORT }));
        await harness.advance(PAST_SHORT);
        const current = granted(await store.claim('a', 'worker-2', { leaseMs: LONG }));
        const lost = await expectLeaseLost(
          () => store.renew('a', old, { leaseMs: LONG }),
          'a',
          old,
        );
        expect(lost.currentToken).toBe(current.token);
        // The new holder is unaffected.
        await expect(
          store.save('a', { by: 'worker-2' }, { expectedRevision: 1, lease: current }),
        ).resolves.toBe(2);
      });

      it('should throw LeaseLostError when renewing a released lease', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        await store.release('a', lease);
        await expectLeaseLost(() => store.renew('a', lease, { leaseMs: LONG }), 'a', lease);
        await expect(store.claim('a', 'worker-2', { leaseMs: LONG })).resolves.not.toBeNull();
      });
    });

    describe('release', () => {
      it('should let another worker claim at once, with a higher token', async () => {
        await stored('a');
        const first = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        await store.release('a', first);
        const second = granted(await store.claim('a', 'worker-2', { leaseMs: LONG }));
        expect(second.token).toBeGreaterThan(first.token);
      });

      it('should throw LeaseLostError when releasing a lost lease, and leave the new holder its lease', async () => {
        await stored('a');
        const old = granted(await store.claim('a', 'worker-1', { leaseMs: SHORT }));
        await harness.advance(PAST_SHORT);
        const current = granted(await store.claim('a', 'worker-2', { leaseMs: LONG }));
        await expectLeaseLost(() => store.release('a', old), 'a', old);
        await expect(store.claim('a', 'worker-3', { leaseMs: LONG })).resolves.toBeNull();
        await expect(store.release('a', current)).resolves.toBeUndefined();
      });

      it('should throw LeaseLostError when releasing twice', async () => {
        await stored('a');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: LONG }));
        await store.release('a', lease);
        await expectLeaseLost(() => store.release('a', lease), 'a', lease);
      });
    });

    describe('listExpired', () => {
      it('should list exactly the tasks whose lease ran out while running or pr_created', async () => {
        const statuses: ReadonlyArray<readonly [string, TaskStatus]> = [
          ['expired-running', 'running'],
          ['expired-pr-created', 'pr_created'],
          ['expired-pending', 'pending'],
          ['expired-failed', 'failed'],
          ['expired-merged', 'pr_merged'],
          ['released-running', 'running'],
          ['live-running', 'running'],
          ['live-pr-created', 'pr_created'],
          ['never-claimed-running', 'running'],
        ];
        for (const [id, status] of statuses) await stored(id, status);
        for (const [id] of statuses) {
          if (id.startsWith('live-')) granted(await store.claim(id, 'worker-1', { leaseMs: LONG }));
        }
        for (const [id] of statuses) {
          if (id.startsWith('expired-') || id.startsWith('released-')) {
            const lease = granted(await store.claim(id, 'worker-1', { leaseMs: SHORT }));
            if (id.startsWith('released-')) await store.release(id, lease);
          }
        }
        await harness.advance(PAST_SHORT);
        await expect(store.listExpired()).resolves.toEqual([
          'expired-pr-created',
          'expired-running',
        ]);
      });

      it('should follow the status of the last save and forget a task once it is claimed again', async () => {
        await stored('a', 'pending');
        const lease = granted(await store.claim('a', 'worker-1', { leaseMs: SHORT }));
        await harness.advance(PAST_SHORT);
        await expect(store.listExpired()).resolves.toEqual([]);
        // The expired lease is still the current one, so its holder may save: now the task needs a live worker.
        await store.save('a', snapshotIn('a', 'running'), { expectedRevision: 1, lease });
        await expect(store.listExpired()).resolves.toEqual(['a']);
        const rescuer = granted(await store.claim('a', 'rescuer', { leaseMs: LONG }));
        expect(rescuer.token).toBeGreaterThan(lease.token);
        await expect(store.listExpired()).resolves.toEqual([]);
        await store.save('a', snapshotIn('a', 'failed'), { expectedRevision: 2, lease: rescuer });
        await store.release('a', rescuer);
        await harness.advance(PAST_SHORT);
        await expect(store.listExpired()).resolves.toEqual([]);
      });

      it('should leave out a deleted task', async () => {
        const revision = await stored('a');
        granted(await store.claim('a', 'worker-1', { leaseMs: SHORT }));
        await store.delete('a', { expectedRevision: revision });
        await harness.advance(PAST_SHORT);
        await expect(store.listExpired()).resolves.toEqual([]);
      });
    });

    describe('invalid arguments', () => {
      const lease = (token: unknown, workerId: unknown = 'holder'): LeaseRef =>
        ({ workerId, token }) as unknown as LeaseRef;
      const ms = (leaseMs: unknown): { leaseMs: number } =>
        ({ leaseMs }) as unknown as { leaseMs: number };

      const cases: ReadonlyArray<readonly [string, string, (s: TaskStore) => Promise<unknown>]> = [
        ['claim with an empty workerId', 'workerId', (s) => s.claim('x', '', ms(LONG))],
        [
          'claim with a number as workerId',
          'workerId',
          (s) => s.claim('x', 42 as unknown as string, ms(LONG)),
        ],
        [
          'claim with a workerId of 201 characters',
          'workerId',
          (s) => s.claim('x', 'w'.repeat(201), ms(LONG)),
        ],
        ['claim with an empty taskId', 'taskId', (s) => s.claim('', 'w', ms(LONG))],
        ['claim with leaseMs 0', 'leaseMs', (s) => s.claim('x', 'w', ms(0))],
        ['claim with leaseMs -1', 'leaseMs', (s) => s.claim('x', 'w', ms(-1))],
        ['claim with leaseMs 1.5', 'leaseMs', (s) => s.claim('x', 'w', ms(1.5))],
        ["claim with leaseMs '100'", 'leaseMs', (s) => s.claim('x', 'w', ms('100'))],
        ['claim with leaseMs NaN', 'leaseMs', (s) => s.claim('x', 'w', ms(Number.NaN))],
        [
          'claim with leaseMs Infinity',
          'leaseMs',
          (s) => s.claim('x', 'w', ms(Number.POSITIVE_INFINITY)),
        ],
        [
          'claim without options',
          'leaseMs',
          (s) => s.claim('x', 'w', undefined as unknown as { leaseMs: number }),
        ],
        ['renew with leaseMs 0', 'leaseMs', (s) => s.renew('x', lease(1), ms(0))],
        ['renew with leaseMs -1', 'leaseMs', (s) => s.renew('x', lease(1), ms(-1))],
        ['renew with leaseMs 1.5', 'leaseMs', (s) => s.renew('x', lease(1), ms(1.5))],
        ["renew with leaseMs '100'", 'leaseMs', (s) => s.renew('x', lease(1), ms('100'))],
        [
          'renew with a lease without token',
          'lease.token',
          (s) => s.renew('x', lease(undefined), ms(LONG)),
        ],
        ["renew with token '1'", 'lease.token', (s) => s.renew('x', lease('1'), ms(LONG))],
        ['renew with token 0', 'lease.token', (s) => s.renew('x', lease(0), ms(LONG))],
        ['renew with an empty workerId', 'workerId', (s) => s.renew('x', lease(1, ''), ms(LONG))],
        [
          'release with a lease without token',
          'lease.token',
          (s) => s.release('x', lease(undefined)),
        ],
        ['release with token 1.5', 'lease.token', (s) => s.release('x', lease(1.5))],
        ['release with an empty workerId', 'workerId', (s) => s.release('x', lease(1, ''))],
        ['release with null as lease', 'lease', (s) => s.release('x', null as unknown as LeaseRef)],
        [
          'save with a lease without token',
          'lease.token',
          (s) => s.save('x', { step: 2 }, { expectedRevision: 1, lease: lease(undefined) }),
        ],
        [
          'save with token -1',
          'lease.token',
          (s) => s.save('x', { step: 2 }, { expectedRevision: 1, lease: lease(-1) }),
        ],
        [
          'save with a lease with an empty workerId',
          'workerId',
          (s) => s.save('x', { step: 2 }, { expectedRevision: 1, lease: lease(1, '') }),
        ],
        [
          'save with null as lease',
          'lease',
          (s) =>
            s.save('x', { step: 2 }, { expectedRevision: 1, lease: null as unknown as LeaseRef }),
        ],
      ];

      it.each(cases)(
        'should throw InvalidArgumentError for %s and change nothing',
        async (_label, argument, call) => {
          await store.save('x', { step: 1 }, { expectedRevision: null });
          const held = granted(await store.claim('x', 'holder', { leaseMs: LONG }));
          const error = await rejectionOf(() => call(store));
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect((error as InvalidArgumentError).argument).toBe(argument);
          await expect(store.load('x')).resolves.toEqual({
            snapshot: { step: 1 },
            revision: 1,
            lease: held,
          });
          await expect(store.list()).resolves.toEqual(['x']);
          // The holder's lease is untouched: still live (no claim) and still current (release works).
          await expect(store.claim('x', 'other', { leaseMs: LONG })).resolves.toBeNull();
          await expect(store.release('x', held)).resolves.toBeUndefined();
        },
      );
    });
  });
}
