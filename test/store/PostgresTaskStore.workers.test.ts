import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LeaseLostError } from '../../src/errors.js';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import type { PersistedTaskRuntime } from '../../src/runtime/snapshot.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { Lease } from '../../src/store/TaskStore.js';
import { AgentRole } from '../../src/task/enums.js';
import { killRunning, startFixture } from '../support/childProcess.js';
import { rejectionOf } from '../support/errors.js';
import { SEED } from '../support/random.js';
import {
  describeWithPostgres,
  dropTables,
  freshTable,
  queryRows,
  requirePostgresUrl,
} from './postgres.js';

/*
 * Many orchestrator workers on one PostgreSQL database. The workers are real child processes running the BUILT
 * package (test/fixtures/pg*.mjs import dist/index.js; `npm test` builds first); the parent checks the store
 * through the sources. Random choices come from a seeded generator: set TASK_RUNTIME_SEED to replay one.
 */

const BUILT_PACKAGE = join(__dirname, '..', '..', 'dist', 'index.js');
const MAX_ATTEMPTS = 3;

/** What test/fixtures/pgLifecycleWorker.mjs prints when it is done (keep the two in step). */
interface WorkerReport {
  readonly workerId: string;
  readonly accepted: number;
  readonly attempts: Readonly<Record<string, readonly number[]>>;
  readonly claims: number;
  readonly claimsRefused: number;
  readonly leaseLost: number;
  readonly conflicts: number;
  readonly stalls: number;
  readonly workerLost: number;
  readonly found: readonly string[];
}

/** What test/fixtures/pgLeaseHolder.mjs prints for each task it holds. */
interface HeldTask {
  readonly taskId: string;
  readonly lease: Lease;
  readonly revision: number;
  readonly snapshot: PersistedTaskRuntime;
}

/** Runs a lifecycle worker to its end and returns its report; fails when it exits with an error. */
async function runWorker(config: Record<string, unknown>): Promise<WorkerReport> {
  const worker = startFixture('pgLifecycleWorker.mjs', [JSON.stringify(config)]);
  const exit = await worker.exited;
  expect({ seed: SEED, workerId: config.workerId, exit, stderr: worker.stderr() }).toEqual({
    seed: SEED,
    workerId: config.workerId,
    exit: { code: 0, signal: null },
    stderr: '',
  });
  return JSON.parse(worker.lines.at(-1) ?? 'null') as WorkerReport;
}

/** Merged, or failed with no retry left: nothing more for any worker to do. */
const finished = (runtime: DurableTaskRuntime): boolean =>
  runtime.status === 'pr_merged' ||
  (runtime.status === 'failed' && !runtime.can({ type: 'RETRY' }));

describeWithPostgres('PostgresTaskStore with many worker processes', () => {
  const tables: string[] = [];
  const stores: PostgresTaskStore[] = [];

  async function openStore(): Promise<PostgresTaskStore> {
    const { name } = freshTable();
    tables.push(name);
    const store = await PostgresTaskStore.connect({
      connectionString: requirePostgresUrl(),
      table: name,
    });
    stores.push(store);
    return store;
  }

  /** Creates the tasks (pending, attempt 0) in batches. */
  async function createTasks(store: PostgresTaskStore, ids: readonly string[]): Promise<void> {
    for (let start = 0; start < ids.length; start += 25) {
      await Promise.all(
        ids
          .slice(start, start + 25)
          .map((id) =>
            DurableTaskRuntime.create(
              store,
              { id, role: AgentRole.IMPLEMENTER },
              { maxAttempts: MAX_ATTEMPTS },
            ),
          ),
      );
    }
  }

  beforeAll(() => {
    if (!existsSync(BUILT_PACKAGE)) {
      throw new Error(`${BUILT_PACKAGE} is missing: run 'npm run build' first (npm test does)`);
    }
  });

  afterAll(async () => {
    await killRunning();
    await Promise.all(stores.map((store) => store.close()));
    await dropTables(tables);
  });

  it('should let 8 worker processes drive 200 shared tasks to the end, running each attempt once', async () => {
    const store = await openStore();
    const ids = Array.from({ length: 200 }, (_, n) => `task-${String(n).padStart(3, '0')}`);
    await createTasks(store, ids);

    const reports = await Promise.all(
      Array.from({ length: 8 }, (_, n) =>
        runWorker({
          mode: 'work',
          connectionString: requirePostgresUrl(),
          table: store.table,
          workerId: `worker-${n}`,
          seed: (SEED + n) >>> 0,
          taskIds: ids,
          leaseMs: 30_000,
          window: 12, // workers crowd the same few tasks, so claims collide
          failRunning: 0.25,
          failPrCreated: 0.15,
          nonRetryable: 0.1,
          stall: { probability: 0.05, leaseMs: 40, sleepMs: 120 },
        }),
      ),
    );

    // Every task is at its end.
    const runtimes = new Map<string, DurableTaskRuntime>();
    for (const id of ids) {
      const runtime = await DurableTaskRuntime.load(store, id);
      if (runtime === null) throw new Error(`${id} vanished (seed ${SEED})`);
      runtimes.set(id, runtime);
    }
    const unfinished = ids.filter((id) => {
      const runtime = runtimes.get(id);
      return runtime === undefined || !finished(runtime);
    });
    expect({ seed: SEED, unfinished }).toEqual({ seed: SEED, unfinished: [] });

    // No attempt ran twice, and the attempts the workers ran are exactly those of the ledgers.
    const ran = new Map<string, number[]>();
    for (const report of reports) {
      for (const [id, attempts] of Object.entries(report.attempts)) {
        ran.set(id, [...(ran.get(id) ?? []), ...attempts]);
      }
    }
    const ranTwice = [...ran].filter(([, attempts]) => new Set(attempts).size !== attempts.length);
    expect({ seed: SEED, ranTwice }).toEqual({ seed: SEED, ranTwice: [] });
    const ledgerMismatches = ids.flatMap((id) => {
      const ledger = (runtimes.get(id)?.attempts ?? []).map((record) => record.attemptNum);
      const reported = [...(ran.get(id) ?? [])].sort((a, b) => a - b);
      return JSON.stringify(ledger) === JSON.stringify(reported) ? [] : [{ id, ledger, reported }];
    });
    expect({ seed: SEED, ledgerMismatches }).toEqual({ seed: SEED, ledgerMismatches: [] });

    // Every save was one accepted command, and every accepted command was one save.
    const saves = [...runtimes.values()].reduce((sum, runtime) => sum + runtime.revision - 1, 0);
    const accepted = reports.reduce((sum, report) => sum + report.accepted, 0);
    expect({ seed: SEED, saves }).toEqual({ seed: SEED, saves: accepted });

    // Leases kept writers apart: no save ever reached the revision check, and no lease was left behind.
    const conflicts = reports.reduce((sum, report) => sum + report.conflicts, 0);
    expect({ seed: SEED, conflicts }).toEqual({ seed: SEED, conflicts: 0 });
    const held = await queryRows<{ n: string }>(
      `SELECT count(*) AS n FROM "${store.table}" WHERE lease_owner IS NOT NULL`,
    );
    expect({ seed: SEED, held }).toEqual({ seed: SEED, held: [{ n: '0' }] });
    await expect(store.listExpired()).resolves.toEqual([]);
    const busy = reports.filter((report) => report.accepted > 0).length;
    expect({ seed: SEED, busy: busy >= 2 }).toEqual({ seed: SEED, busy: true });
    // Stalled workers lost tasks to others, who failed the abandoned attempts as 'worker lost' and went on.
    const takenOver = reports.reduce((sum, report) => sum + report.workerLost, 0);
    expect({ seed: SEED, takenOver: takenOver > 0 }).toEqual({ seed: SEED, takenOver: true });
  }, 60_000);

  it('should let another worker take over the tasks of a worker killed with SIGKILL and fence the dead one out', async () => {
    const store = await openStore();
    const ids = ['held-0', 'held-1', 'held-2', 'held-3', 'held-4'];
    await createTasks(store, [...ids, 'idle-pending']);
    // A bystander that runs under a live lease: it must not be taken for lost.
    const bystander = await DurableTaskRuntime.create(store, {
      id: 'busy-running',
      role: AgentRole.IMPLEMENTER,
    });
    const bystanderLease = await store.claim('busy-running', 'healthy', { leaseMs: 60_000 });
    if (bystanderLease === null) throw new Error('claim gave null');
    bystander.lease = bystanderLease;
    await bystander.markRunning();

    const holder = startFixture('pgLeaseHolder.mjs', [
      JSON.stringify({
        connectionString: requirePostgresUrl(),
        table: store.table,
        workerId: 'doomed',
        leaseMs: 1_000,
        taskIds: ids,
      }),
    ]);
    await holder.waitForLine('holding', 15_000);
    holder.process.kill('SIGKILL');
    await expect(holder.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    const held = holder.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as HeldTask);
    expect(held.map((task) => task.taskId)).toEqual(ids);

    // Its leases outlive it: nobody may take the tasks yet.
    await expect(store.listExpired()).resolves.toEqual([]);
    await expect(store.claim('held-0', 'impatient', { leaseMs: 1_000 })).resolves.toBeNull();

    const rescuer = await runWorker({
      mode: 'rescue',
      connectionString: requirePostgresUrl(),
      table: store.table,
      workerId: 'rescuer',
      seed: SEED,
      taskIds: [],
      expectExpired: ids.length,
      deadlineMs: 15_000,
      leaseMs: 30_000,
      window: 1,
      failRunning: 0,
      failPrCreated: 0,
      nonRetryable: 0,
      stall: { probability: 0, leaseMs: 40, sleepMs: 0 },
    });
    expect(rescuer.found).toEqual(ids);
    expect(rescuer.workerLost).toBe(ids.length);
    expect(rescuer.attempts).toEqual(Object.fromEntries(ids.map((id) => [id, [1]])));
    for (const id of ids) {
      const runtime = await DurableTaskRuntime.load(store, id);
      expect(runtime?.status).toBe('pr_merged');
      expect(
        runtime?.attempts.map(({ attemptNum, outcome, error }) => ({ attemptNum, outcome, error })),
      ).toEqual([
        { attemptNum: 0, outcome: 'failed', error: 'worker lost' },
        { attemptNum: 1, outcome: 'pr_merged', error: null },
      ]);
      expect(runtime?.artifacts.concerns).toEqual(['attempt_0_error: worker lost']);
    }
    await expect(store.listExpired()).resolves.toEqual([]);
    await expect(store.load('idle-pending')).resolves.toMatchObject({ revision: 1 });
    await expect(store.load('busy-running')).resolves.toMatchObject({ revision: 2 });

    // The dead worker comes back with a late result: its token is refused and nothing changes.
    for (const task of held) {
      const before = await store.load(task.taskId);
      const late = TaskRuntime.restore(task.snapshot);
      late.markPrCreated('https://example.test/late/pull/0');
      for (const expectedRevision of [task.revision, before?.revision ?? 0]) {
        const error = await rejectionOf(() =>
          store.save(task.taskId, late.persist(), { expectedRevision, lease: task.lease }),
        );
        expect(error).toBeInstanceOf(LeaseLostError);
        const lost = error as LeaseLostError;
        expect(lost.workerId).toBe('doomed');
        expect(lost.token).toBe(task.lease.token);
        expect(lost.currentToken).toBeGreaterThan(task.lease.token);
      }
      await expect(store.renew(task.taskId, task.lease, { leaseMs: 1_000 })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      await expect(store.release(task.taskId, task.lease)).rejects.toBeInstanceOf(LeaseLostError);
      const resumed = await DurableTaskRuntime.load(store, task.taskId);
      if (resumed === null) throw new Error(`${task.taskId} vanished`);
      resumed.lease = task.lease;
      await expect(resumed.addConcern('late note from the dead worker')).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      expect(resumed.artifacts.concerns).toEqual(['attempt_0_error: worker lost']);
      await expect(store.load(task.taskId)).resolves.toEqual(before);
    }
  }, 45_000);
});
