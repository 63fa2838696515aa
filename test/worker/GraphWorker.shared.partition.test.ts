import { DurableTaskGraphRuntime } from '../../src/graph/DurableTaskGraphRuntime.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { AttemptEndedError } from '../../src/worker/AttemptContext.js';
import type { GraphWorkerEvent } from '../../src/worker/events.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import { startTcpProxy, throughPort } from '../support/tcpProxy.js';

/*
 * A partition: worker A reaches PostgreSQL through a TCP proxy that the test cuts mid-attempt (every connection
 * reset, new ones refused), while worker B reaches it directly.
 */

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});

const prUrl = (worker: string, taskId: string) => `https://example.com/${worker}/pr/${taskId}`;

describeWithPostgres('GraphWorker on a shared run cut off from PostgreSQL', () => {
  it('should lose its lease, write nothing after the takeover, and carry on once the network is back', async () => {
    const url = requirePostgresUrl();
    const table = freshTable();
    const server = new URL(url);
    const proxy = await startTcpProxy(server.hostname, Number(server.port));
    const options = { table: table.name, maxConnections: 3 };
    const storeA = await PostgresTaskStore.connect({
      connectionString: throughPort(url, proxy.port),
      ...options,
    });
    const storeB = await PostgresTaskStore.connect({ connectionString: url, ...options });
    const graph = TaskGraph.fromTasks([task('x'), task('y', 'x')]);
    const shared = { leaseMs: 600, followMs: 50, maxAttempts: 3 };
    const runA = await DurableTaskGraphRuntime.open(storeA, graph, { workerId: 'A', ...shared });
    const runB = await DurableTaskGraphRuntime.open(storeB, graph, { workerId: 'B', ...shared });
    try {
      let startedX = (): void => undefined;
      const xStarted = new Promise<void>((resolve) => {
        startedX = resolve;
      });
      let lostLease = (_reason: unknown): void => undefined;
      const leaseLost = new Promise<unknown>((resolve) => {
        lostLease = resolve;
      });
      const lateWrite: { error: unknown } = { error: null };
      const workerA = new GraphWorker(runA, {
        work: async (_view, attempt) => {
          if (attempt.taskId === 'x') {
            startedX();
            await new Promise((resolve) =>
              attempt.signal.addEventListener('abort', resolve, { once: true }),
            );
            lostLease(attempt.signal.reason);
            // The attempt goes on as if nothing happened: nothing it does may be written.
            await attempt.addConcern('written by A after losing x').catch((error: unknown) => {
              lateWrite.error = error;
            });
          }
          return { prUrl: prUrl('A', attempt.taskId) };
        },
        merge: async () => undefined,
        concurrency: 1,
      });
      const eventsA: GraphWorkerEvent[] = [];
      workerA.subscribe((event) => eventsA.push(event));
      const outcomeA = workerA.run();
      await xStarted;
      expect(runA.holdsLease('x')).toBe(true);

      proxy.cut();
      const reason = await leaseLost;
      expect(reason).toMatchObject({ name: 'AbortError', message: expect.stringMatching(/lease/) });
      expect(runA.holdsLease('x')).toBe(false);

      // B takes x over once A's lease ran out, retries it and merges it, then stops: y is left for A.
      const stopB = new AbortController();
      runB.subscribe((record) => {
        if (record.taskId === 'x' && record.event === 'PR_MERGED' && !record.rejected)
          stopB.abort();
      });
      const workerB = new GraphWorker(runB, {
        work: async (_view, attempt) => ({ prUrl: prUrl('B', attempt.taskId) }),
        merge: async () => undefined,
        concurrency: 1,
      });
      const eventsB: GraphWorkerEvent[] = [];
      workerB.subscribe((event) => eventsB.push(event));
      await workerB.run({ signal: stopB.signal });
      expect(eventsB).toContainEqual({ type: 'recovered', taskId: 'x', status: 'running' });
      expect(runB.task('x').status).toBe('pr_merged');
      expect(runB.task('y').status).toBe('pending');

      proxy.heal();
      await expect(outcomeA).resolves.toBe('succeeded');
      expect(lateWrite.error).toBeInstanceOf(AttemptEndedError);

      const x = await storeB.load('x');
      const y = await storeB.load('y');
      const ledger = (stored: typeof x): unknown => {
        if (stored === null) throw new Error('not stored');
        return (stored.snapshot as { context: { attempts: unknown } }).context.attempts;
      };
      // x: A's attempt ended as lost (written by B), B's attempt merged; nothing A did after the cut is stored.
      expect(ledger(x)).toEqual([
        expect.objectContaining({ attemptNum: 0, workerId: 'A', outcome: 'lost', prUrl: null }),
        expect.objectContaining({
          attemptNum: 1,
          workerId: 'B',
          outcome: 'pr_merged',
          prUrl: prUrl('B', 'x'),
        }),
      ]);
      expect(JSON.stringify(x?.snapshot)).not.toContain('written by A');
      expect(JSON.stringify(x?.snapshot)).not.toContain(prUrl('A', 'x'));
      // y: A, reconnected, worked it.
      expect(ledger(y)).toEqual([
        expect.objectContaining({ workerId: 'A', outcome: 'pr_merged', prUrl: prUrl('A', 'y') }),
      ]);
      expect(eventsA.filter((event) => event.type === 'recovered')).toEqual([]);
    } finally {
      runA.close();
      runB.close();
      await storeA.close();
      await storeB.close();
      await proxy.close();
      await table.drop();
    }
  }, 30_000);
});
