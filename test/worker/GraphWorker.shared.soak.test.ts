import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStoredTasks } from '../../src/graph/storedTasks.js';
import type { AttemptRecord } from '../../src/machines/taskMachine.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import { type Fixture, killRunning, startFixture } from '../support/childProcess.js';
import { mulberry32, SEED } from '../support/random.js';
import { tempDirs } from '../support/tempDir.js';

/*
 * The soak: 6 worker processes share one run of 300 tasks on a real store, their handlers failing at random, and 3
 * of them are SIGKILLed mid-run and replaced. Afterwards the stored ledgers and the handlers' own logs must show
 * every rule held across the processes.
 */

const TASKS = 300;
const WORKERS = 6;
const KILLS = 3;
const LEASE_MS = 1500;
const SOAK_TIMEOUT_MS = 240_000;

const dirs = tempDirs('task-runtime-soak-');
afterAll(() => dirs.removeAll());
afterEach(killRunning);

/** A random graph: each task depends on up to three earlier ones. */
function randomGraph(seed: number): TaskInput[] {
  const random = mulberry32(seed);
  return Array.from({ length: TASKS }, (_, index) => {
    const dependencies = new Set<string>();
    const count = index === 0 ? 0 : Math.floor(random() * 4);
    for (let n = 0; n < count; n += 1) dependencies.add(`task-${Math.floor(random() * index)}`);
    return { id: `task-${index}`, role: 'generic', dependencies: [...dependencies] };
  });
}

interface LogEntry {
  readonly event: string;
  readonly taskId: string;
  readonly attemptNum: number;
  readonly workerId: string;
  readonly at: number;
}

/** The complete lines of the handlers' log (a line being written is left for later). */
function readLog(logFile: string): LogEntry[] {
  const lines = readFileSync(logFile, 'utf8').split('\n');
  lines.pop(); // after the last newline: empty, or a line not written to its end yet
  return lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogEntry);
}

interface Soak {
  /** Where the workers open the run: `{ dir }` or `{ connectionString, table }`. */
  readonly place: Record<string, string>;
  openStore(): Promise<TaskStore>;
}

async function soak({ place, openStore }: Soak): Promise<void> {
  const tasks = randomGraph(SEED);
  const logFile = join(dirs.make(), 'handlers.log');
  writeFileSync(logFile, '');
  let started = 0;
  const live = new Map<string, Fixture>();
  const killedAt = new Map<string, number>();
  const start = (): Fixture => {
    const workerId = `worker-${++started}`;
    const config = {
      ...place,
      workerId,
      tasks,
      seed: SEED + started,
      leaseMs: LEASE_MS,
      followMs: 150,
      concurrency: 3,
      failRate: 0.2,
      nonRetryableRate: 0.01,
      maxAttempts: 4,
      logFile,
    };
    const fixture = startFixture('sharedRunWorker.mjs', [JSON.stringify(config)]);
    live.set(workerId, fixture);
    return fixture;
  };
  const starting = Array.from({ length: WORKERS }, start);
  await Promise.all(starting.map((fixture) => fixture.waitForLine('opened', 60_000)));

  const observer = await openStore();
  try {
    const random = mulberry32(SEED ^ 0x5eed);
    const ended = async (): Promise<number> =>
      (await readStoredTasks(observer)).filter(
        (entry) =>
          entry.kind === 'task' && ['pr_merged', 'failed'].includes(entry.persisted.status),
      ).length;
    // Kill a worker (with work in flight, most likely) each time another sixth of the run has ended.
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const threshold = Math.floor((TASKS * kill) / (KILLS + 2));
      const deadline = Date.now() + SOAK_TIMEOUT_MS / 2;
      while ((await ended()) < threshold) {
        if (Date.now() > deadline)
          throw new Error(`the run did not reach ${threshold} ended tasks`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // A worker that has worked already (a replacement may not have found work yet).
      const working = new Set(readLog(logFile).map((entry) => entry.workerId));
      const candidates = [...live.keys()].filter((workerId) => working.has(workerId));
      const victim = candidates[Math.floor(random() * candidates.length)] as string;
      const fixture = live.get(victim) as Fixture;
      live.delete(victim);
      fixture.process.kill('SIGKILL');
      killedAt.set(victim, Date.now());
      await fixture.exited;
      start();
    }
    const results = await Promise.all(
      [...live.values()].map(async (fixture) => {
        await fixture.waitUntil(
          () => fixture.lines.some((line) => line.startsWith('{')),
          SOAK_TIMEOUT_MS,
          (exit) => `a worker did not finish (exit ${JSON.stringify(exit)}): ${fixture.stderr()}`,
        );
        return JSON.parse(fixture.lines.find((line) => line.startsWith('{')) ?? '{}') as {
          outcome: string;
        };
      }),
    );

    const entries = await readStoredTasks(observer);
    const stored = new Map(
      entries.flatMap((entry) => (entry.kind === 'task' ? [[entry.id, entry.persisted]] : [])),
    );
    expect(stored.size).toBe(TASKS);
    const statusOf = (id: string) => stored.get(id)?.status;
    const isFinalFailure = (id: string): boolean => {
      const persisted = stored.get(id);
      return persisted?.status === 'failed' && !canRetry(persisted.context);
    };

    // Every task is terminal.
    const notTerminal = tasks.filter(
      (task) => !['pr_merged', 'failed'].includes(statusOf(task.id) ?? ''),
    );
    expect(notTerminal.map((task) => `${task.id}: ${statusOf(task.id)}`)).toEqual([]);
    expect(
      tasks.filter((task) => statusOf(task.id) === 'failed' && !isFinalFailure(task.id)),
    ).toEqual([]);

    // No attempt started before every dependency merged (from the stored ledgers).
    const mergedAt = (id: string): number | null => {
      const record = stored.get(id)?.context.attempts.find((r) => r.outcome === 'pr_merged');
      return record?.endedAt === null || record === undefined ? null : Date.parse(record.endedAt);
    };
    const early: string[] = [];
    for (const task of tasks) {
      for (const record of stored.get(task.id)?.context.attempts ?? []) {
        if (record.startedAt === null) continue;
        for (const dependency of task.dependencies ?? []) {
          const merged = mergedAt(dependency);
          if (merged === null || merged > Date.parse(record.startedAt)) {
            early.push(`${task.id}#${record.attemptNum} before ${dependency}`);
          }
        }
      }
    }
    expect(early).toEqual([]);

    // No task pending behind a final failure: every dependent of one is failed (blocked) too.
    const unblocked = tasks.filter(
      (task) => (task.dependencies ?? []).some(isFinalFailure) && statusOf(task.id) !== 'failed',
    );
    expect(unblocked).toEqual([]);
    // No task blocked twice: a block is an attempt that failed without starting, and there is one per task at most.
    const blockedTwice = tasks.filter(
      (task) =>
        (stored.get(task.id)?.context.attempts ?? []).filter((record) => record.startedAt === null)
          .length > 1,
    );
    expect(blockedTwice.map((task) => task.id)).toEqual([]);

    // From the handlers' logs: no (task, attempt) worked twice, no task worked by two live workers at once.
    const log = readLog(logFile);
    const workStarts = new Map<string, number>();
    for (const entry of log.filter((e) => e.event === 'workStart')) {
      const key = `${entry.taskId}#${entry.attemptNum}`;
      workStarts.set(key, (workStarts.get(key) ?? 0) + 1);
    }
    expect([...workStarts].filter(([, count]) => count > 1)).toEqual([]);
    const ledgerStarts = [...stored.values()].reduce(
      (sum, persisted) =>
        sum + persisted.context.attempts.filter((r) => r.startedAt !== null).length,
      0,
    );
    expect(workStarts.size).toBeLessThanOrEqual(ledgerStarts);
    expect(overlaps(log, killedAt)).toEqual([]);

    // Every worker that lived to the end gave the same outcome, the one the stored run has.
    const failures = tasks.some((task) => statusOf(task.id) === 'failed');
    const expected = failures ? 'completed_with_failures' : 'succeeded';
    expect(results.map((result) => result.outcome)).toEqual(results.map(() => expected));
    // Each kill hit a worker that had been working (its replacement may find the run done already).
    const workers = new Set(log.map((entry) => entry.workerId));
    expect([...killedAt.keys()].filter((victim) => !workers.has(victim))).toEqual([]);
    expect(killedAt.size).toBe(KILLS);
  } finally {
    await observer.close();
  }
}

/** Whether a failed task's context still allows a retry (the run's own rule: retryable with an attempt left). */
function canRetry(context: {
  readonly retryable: boolean | null;
  readonly attemptNum: number;
  readonly maxAttempts: number | null;
  readonly extraAttempts: number;
  readonly attempts: readonly AttemptRecord[];
}): boolean {
  if (context.retryable !== true) return false;
  if (context.maxAttempts === null) return true;
  return context.attemptNum + 1 < context.maxAttempts + context.extraAttempts;
}

/**
 * The times one task was worked by two workers at once: per task and worker, the spans from a handler's start to
 * its end (a killed worker's open span ends when it was killed), compared across workers.
 */
function overlaps(log: readonly LogEntry[], killedAt: ReadonlyMap<string, number>): string[] {
  const spans = new Map<string, { workerId: string; from: number; to: number }[]>();
  const open = new Map<string, LogEntry>();
  const close = (entry: LogEntry, to: number): void => {
    const list = spans.get(entry.taskId) ?? [];
    list.push({ workerId: entry.workerId, from: entry.at, to });
    spans.set(entry.taskId, list);
  };
  for (const entry of log) {
    const key = `${entry.taskId}|${entry.workerId}`;
    if (entry.event.endsWith('Start')) {
      open.set(key, entry);
    } else {
      const begun = open.get(key);
      if (begun !== undefined) close(begun, entry.at);
      open.delete(key);
    }
  }
  for (const begun of open.values()) {
    close(begun, killedAt.get(begun.workerId) ?? Number.POSITIVE_INFINITY);
  }
  const found: string[] = [];
  for (const [taskId, list] of spans) {
    for (const a of list) {
      for (const b of list) {
        if (a.workerId < b.workerId && a.from < b.to && b.from < a.to) {
          found.push(`${taskId}: ${a.workerId} and ${b.workerId}`);
        }
      }
    }
  }
  return found;
}

describe('GraphWorker on a shared run (soak)', () => {
  jest.setTimeout(SOAK_TIMEOUT_MS + 60_000);

  it(`should finish a ${TASKS}-task run with ${WORKERS} worker processes on one FileTaskStore through ${KILLS} SIGKILLs, every rule held (seed ${SEED})`, async () => {
    const dir = dirs.make();
    await soak({ place: { dir }, openStore: () => FileTaskStore.open(dir) });
  });
});

describeWithPostgres('GraphWorker on a shared run on PostgreSQL (soak)', () => {
  jest.setTimeout(SOAK_TIMEOUT_MS + 60_000);
  const table = freshTable();
  afterAll(() => table.drop());

  it(`should finish a ${TASKS}-task run with ${WORKERS} worker processes on one table through ${KILLS} SIGKILLs, every rule held (seed ${SEED})`, async () => {
    const connectionString = requirePostgresUrl();
    await soak({
      place: { connectionString, table: table.name },
      openStore: () => PostgresTaskStore.connect({ connectionString, table: table.name }),
    });
  });
});
