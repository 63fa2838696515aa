import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IllegalTransitionError, TaskStoreError } from '../../src/errors.js';
import {
  DurableTaskGraphRuntime,
  type SharedRunEvent,
} from '../../src/graph/DurableTaskGraphRuntime.js';
import { MIN_LEASE_MS } from '../../src/graph/sharedRunOptions.js';
import { TaskGraph } from '../../src/graph/TaskGraph.js';
import { readPersistedTaskRuntime } from '../../src/runtime/snapshot.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { AttemptEndedError } from '../../src/worker/AttemptContext.js';
import type { GraphWorkerEvent } from '../../src/worker/events.js';
import { GraphWorker } from '../../src/worker/GraphWorker.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import { killRunning, watchProcess } from '../support/childProcess.js';
import { rejectionOf } from '../support/errors.js';
import { tempDirs } from '../support/tempDir.js';

/*
 * The leases of a shared run: renewed while the attempt is in flight, however long it runs; and once lost (taken
 * by another worker, or run out unrenewed) told to the watchers, the attempt aborted, and nothing written after.
 */

jest.setTimeout(60_000);

/**
 * The leases of these tests, renewed every 667 ms. A run drops a lease when its renewal timer finds less than a
 * third of it left unrenewed (see the report on late timers), so a short lease on a loaded machine — an event loop
 * late by a third of the lease — makes a still valid lease look lost.
 */
const LEASE_MS = 2_000;
const PR = 'https://example.com/pr/t/1';

const task = (id: string, ...dependencies: string[]): TaskInput => ({
  id,
  role: 'generic',
  dependencies,
});
const graph = TaskGraph.fromTasks([task('t'), task('u', 't')]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within 10 s`);
    await sleep(5);
  }
}

/** What a store's renewals do: go through, wait until released (a slow network), or fail (store unreachable). */
type RenewalMode = 'pass' | 'hold' | 'fail';

/** `store` whose `renew` calls are counted and behave as `mode` says; every other call goes straight through. */
function withRenewals(store: TaskStore, initial: RenewalMode = 'pass') {
  let mode = initial;
  let renewals = 0;
  /** The local time the last answered renewal was sent, and when it was answered (0: none yet). */
  const last = { sentAt: 0, answeredAt: 0 };
  let release = (): void => undefined;
  let released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'renew') {
        return async (...args: Parameters<TaskStore['renew']>) => {
          renewals += 1;
          if (mode === 'fail') {
            throw new TaskStoreError(args[0], 'renew', 'the store cannot be reached (injected)');
          }
          if (mode === 'hold') await released;
          const sentAt = Date.now();
          const lease = await target.renew(...args);
          last.sentAt = sentAt;
          last.answeredAt = Date.now();
          return lease;
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store: proxy,
    get renewals() {
      return renewals;
    },
    last,
    /** From now on, renewals behave as `next` says; held ones go on (to the store) when it is not 'hold'. */
    set(next: RenewalMode) {
      mode = next;
      if (next !== 'hold') {
        release();
        released = new Promise<void>((resolve) => {
          release = resolve;
        });
      }
    },
  };
}

/** The stored task as another process sees it. */
async function storedTask(store: TaskStore, id: string) {
  const stored = await store.load(id);
  if (stored === null) throw new Error(`task '${id}' is not stored`);
  const { status, context } = readPersistedTaskRuntime(stored.snapshot);
  return {
    status,
    revision: stored.revision,
    lease: stored.lease,
    attempts: context.attempts,
    concerns: context.concerns,
  };
}

/** Whether the stored lease of the task has run out by now. */
async function leaseRanOut(store: TaskStore, id: string): Promise<boolean> {
  const { lease } = await storedTask(store, id);
  return lease !== null && Date.parse(lease.expiresAt) <= Date.now();
}

/** Where the workers meet: a store to open in this process, and how a child process opens it (JSON). */
interface Place {
  open(): Promise<TaskStore>;
  readonly config: Readonly<Record<string, string>>;
}

/** `store` that records the name of each error its saves were refused with. */
function recordingSaves(store: TaskStore) {
  const refusals: string[] = [];
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'save') {
        return async (...args: Parameters<TaskStore['save']>) => {
          try {
            return await target.save(...args);
          } catch (error) {
            refusals.push((error as Error).name);
            throw error;
          }
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: proxy, refusals };
}

/**
 * Worker B in a process of its own: opens the store, prints `ready`, reads a delay in ms from stdin, claims the
 * task that long after, and writes the lease it got (JSON; null when refused) to the file `config.out` (whole: by a
 * rename).
 */
const CLAIMER = `
import { renameSync, writeFileSync } from 'node:fs';
const config = JSON.parse(process.argv[1]);
const { FileTaskStore, PostgresTaskStore } = await import(config.dist);
const store = config.dir === undefined
  ? await PostgresTaskStore.connect({ connectionString: config.connectionString, table: config.table })
  : await FileTaskStore.open(config.dir);
process.stdout.write('ready\\n');
const delayMs = await new Promise((resolve) => {
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    text += chunk;
    if (text.includes('\\n')) resolve(Number(text.trim()));
  });
});
await new Promise((resolve) => setTimeout(resolve, delayMs));
const lease = await store.claim(config.taskId, 'B', { leaseMs: 60000 });
writeFileSync(config.out + '.tmp', JSON.stringify(lease));
renameSync(config.out + '.tmp', config.out);
await store.close();
process.exit(0);
`;

/** Starts worker B (see {@link CLAIMER}); what it claimed appears in the file `out`. */
function startClaimer(config: Readonly<Record<string, string>>, taskId: string, out: string) {
  const dist = pathToFileURL(resolve(__dirname, '..', '..', 'dist', 'index.js')).href;
  return watchProcess(
    spawn(process.execPath, [
      '--input-type=module',
      '-e',
      CLAIMER,
      JSON.stringify({ ...config, taskId, dist, out }),
    ]),
  );
}

function leaseSuite(place: () => Place): void {
  const openStore = () => place().open();
  const placeOf = () => place().config;
  const stores: TaskStore[] = [];
  const runs: DurableTaskGraphRuntime[] = [];

  afterEach(async () => {
    for (const run of runs.splice(0)) run.close();
    for (const store of stores.splice(0)) await store.close();
  });

  async function store(): Promise<TaskStore> {
    const opened = await openStore();
    stores.push(opened);
    return opened;
  }

  async function openRun(
    on: TaskStore,
    workerId: string,
    leaseMs = LEASE_MS,
  ): Promise<DurableTaskGraphRuntime> {
    const run = await DurableTaskGraphRuntime.open(on, graph, {
      workerId,
      leaseMs,
      followMs: 50,
      maxAttempts: 3,
    });
    runs.push(run);
    return run;
  }

  function watched(run: DurableTaskGraphRuntime): SharedRunEvent[] {
    const events: SharedRunEvent[] = [];
    run.watch((event) => {
      if (event.type === 'leaseLost') events.push(event);
    });
    return events;
  }

  it('should renew the lease of an attempt that runs longer than three leases, so that no other worker can start or take over the task', async () => {
    const observer = await store();
    const renewing = withRenewals(await store());
    const a = await openRun(renewing.store, 'A');
    const b = await openRun(await store(), 'B');
    const lost = watched(a);
    let finish = (): void => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let signal: AbortSignal | null = null;
    const worker = new GraphWorker(a, {
      work: async (_view, attempt) => {
        signal = attempt.signal;
        await finished;
        return { prUrl: PR };
      },
      merge: async () => undefined,
    });
    const outcome = worker.run();
    await until('t at work', () => signal !== null);
    const first = await storedTask(observer, 't');
    expect(first.lease).toMatchObject({ workerId: 'A', token: 1 });

    const startedAt = Date.now();
    const seen: string[] = [];
    while (Date.now() - startedAt < 3.25 * LEASE_MS) {
      const refused = await rejectionOf(() => b.markRunning('t'));
      expect(refused).toBeInstanceOf(IllegalTransitionError);
      expect(await b.takeOver('t')).toBeNull();
      const now = await storedTask(observer, 't');
      expect(now.status).toBe('running');
      expect(now.lease).toMatchObject({ workerId: 'A', token: 1 });
      expect(Date.parse(now.lease?.expiresAt ?? '')).toBeGreaterThan(Date.now());
      seen.push(now.lease?.expiresAt ?? '');
      await sleep(LEASE_MS / 8);
    }
    expect(renewing.renewals).toBeGreaterThanOrEqual(6);
    // Renewed again and again: the last expiry seen is more than two leases past the first one.
    expect(Date.parse(seen.at(-1) ?? '')).toBeGreaterThan(
      Date.parse(first.lease?.expiresAt ?? '') + 2 * LEASE_MS,
    );
    expect(Date.now() - startedAt).toBeGreaterThan(3 * LEASE_MS);
    expect(b.holdsLease('t')).toBe(false);
    expect(a.holdsLease('t')).toBe(true);

    finish();
    expect(await outcome).toBe('succeeded');
    expect((signal as AbortSignal | null)?.aborted).toBe(false);
    expect(lost).toEqual([]);
    const merged = await storedTask(observer, 't');
    expect(merged.status).toBe('pr_merged');
    expect(merged.lease).toBeNull(); // given back once merged
    expect(merged.attempts).toEqual([
      expect.objectContaining({ attemptNum: 0, outcome: 'pr_merged', workerId: 'A', prUrl: PR }),
    ]);
  });

  it('should give up a lease whose renewals go unanswered, tell leaseLost, and write nothing once another worker claimed the task', async () => {
    const observer = await store();
    const renewing = withRenewals(await store(), 'hold');
    const a = await openRun(renewing.store, 'A');
    const lost: { at: number; event: SharedRunEvent }[] = [];
    a.watch((event) => {
      if (event.type === 'leaseLost') lost.push({ at: Date.now(), event });
    });

    await a.markRunning('t');
    const claimedByA = (await storedTask(observer, 't')).lease;
    expect(claimedByA).toMatchObject({ workerId: 'A', token: 1 });
    await until('leaseLost told', () => lost.length > 0);
    expect(lost.map(({ event }) => event)).toEqual([{ type: 'leaseLost', taskId: 't' }]);
    expect(a.holdsLease('t')).toBe(false);

    await until("A's lease ran out", () => leaseRanOut(observer, 't'));
    const stolen = await observer.claim('t', 'B', { leaseMs: 60_000 });
    expect(stolen).toMatchObject({ workerId: 'B', token: 2 });
    const before = await storedTask(observer, 't');
    for (const [event, command] of [
      ['PR_CREATED', () => a.markPrCreated('t', PR)],
      ['FAIL', () => a.markFailed('t', 'gave up')],
      ['ADD_CONCERN', () => a.addConcern('t', 'still here')],
    ] as const) {
      const refused = await rejectionOf(command);
      expect(refused).toBeInstanceOf(IllegalTransitionError);
      expect(refused).toMatchObject({
        taskId: 't',
        event,
        status: 'running',
        reason: 'claimedByAnotherWorker',
      });
    }
    renewing.set('pass'); // the held renewal reaches the store at last, too late
    await sleep(LEASE_MS);
    expect(await storedTask(observer, 't')).toEqual(before);
    expect(lost).toHaveLength(1);
    expect(await a.takeOver('t')).toBeNull(); // B's lease is live
  });

  it('should fence off the save of a run stalled past its lease while another worker claimed the task: refused by the store, leaseLost told, nothing written', async () => {
    const observer = await store();
    const saves = recordingSaves(await store());
    const a = await DurableTaskGraphRuntime.open(saves.store, graph, {
      workerId: 'A',
      leaseMs: LEASE_MS,
      followMs: 60_000, // nothing of A's own in its queue when the stall ends
    });
    runs.push(a);
    const lost = watched(a);
    const out = join(dirs.make(), 'claimed.json');
    const claimer = startClaimer(placeOf(), 't', out);
    await claimer.waitUntil(
      () => claimer.lines.includes('ready'),
      15_000,
      (exit) => `the claimer did not start (${JSON.stringify(exit)}): ${claimer.stderr()}`,
    );
    await a.markRunning('t');
    await sleep(LEASE_MS); // renewed a few times
    const before = await storedTask(observer, 't');
    expect(before.lease).toMatchObject({ workerId: 'A', token: 1 });

    // A stalls (a long GC pause, a suspended VM) while the lease it last renewed runs out and B claims the task.
    const claimAfterMs = LEASE_MS + 100; // after the expiry set by the last renewal before the stall
    await new Promise((done) => claimer.process.stdin.write(`${claimAfterMs}\n`, done));
    const deadline = Date.now() + 20_000;
    while (!existsSync(out) && Date.now() < deadline) {
      // busy: no timer of A's runs, renewals included, until B has claimed
    }
    expect(a.holdsLease('t')).toBe(true); // A could not know
    const refusing = rejectionOf(() => a.markPrCreated('t', PR)); // sent before A's timers run
    const stolen = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as unknown) : null;
    expect(stolen).toMatchObject({ workerId: 'B', token: 2 });

    const refused = await refusing;
    expect(refused).toBeInstanceOf(IllegalTransitionError);
    expect(refused).toMatchObject({
      taskId: 't',
      event: 'PR_CREATED',
      status: 'running',
      reason: 'claimedByAnotherWorker',
    });
    expect(saves.refusals).toEqual(['LeaseLostError']); // the store refused the save A sent
    expect(lost).toEqual([{ type: 'leaseLost', taskId: 't' }]);
    expect(a.holdsLease('t')).toBe(false);
    await sleep(LEASE_MS);
    expect(await storedTask(observer, 't')).toEqual({ ...before, lease: stolen });
  });

  it('should write nothing for a task its run held when the run was closed and another worker claimed it after the lease ran out', async () => {
    const observer = await store();
    const a = await openRun(await store(), 'A');
    await a.markRunning('t');
    a.close();
    expect(a.holdsLease('t')).toBe(false);
    await until("A's lease ran out", () => leaseRanOut(observer, 't'));
    const stolen = await observer.claim('t', 'B', { leaseMs: 60_000 });
    expect(stolen).toMatchObject({ workerId: 'B', token: 2 });
    const before = await storedTask(observer, 't');

    const refused = await rejectionOf(() => a.markPrCreated('t', PR));
    expect(refused).toBeInstanceOf(IllegalTransitionError);
    expect(refused).toMatchObject({ taskId: 't', reason: 'claimedByAnotherWorker' });
    expect(await rejectionOf(() => a.markFailed('t', 'gave up'))).toMatchObject({
      reason: 'claimedByAnotherWorker',
    });
    expect(await storedTask(observer, 't')).toEqual(before);
  });

  it('should tell leaseLost and abort the attempt when its renewals fail, then take the task over and retry it', async () => {
    const observer = await store();
    const renewing = withRenewals(await store(), 'fail');
    const a = await openRun(renewing.store, 'A');
    /** What happened, in order. */
    const seen: string[] = [];
    a.watch((event) => {
      if (event.type === 'leaseLost') seen.push(`leaseLost ${event.taskId}`);
    });
    let aborted = false;
    let lateCommand: unknown = null;
    const calls: string[] = [];
    const worker = new GraphWorker(a, {
      work: async (_view, attempt) => {
        calls.push(`${attempt.taskId}#${attempt.attemptNum}`);
        seen.push(`work ${attempt.taskId}#${attempt.attemptNum}`);
        if (attempt.taskId === 't' && attempt.attemptNum === 0) {
          await new Promise((resolve) => attempt.signal.addEventListener('abort', resolve));
          aborted = true;
          seen.push('aborted t#0');
          renewing.set('pass'); // the store is back
          lateCommand = await rejectionOf(() => attempt.addConcern('done anyway'));
          return { prUrl: 'https://example.com/pr/t/from-the-aborted-attempt' };
        }
        return { prUrl: `https://example.com/pr/${attempt.taskId}/${attempt.attemptNum}` };
      },
      merge: async () => undefined,
      retryDelayMs: 0,
    });
    const workerEvents: GraphWorkerEvent[] = [];
    worker.subscribe((event) => {
      workerEvents.push(event);
      if (event.type === 'recovered') seen.push(`recovered ${event.taskId}`);
    });
    const outcome = worker.run();

    await until('the attempt aborted', () => aborted);
    expect(renewing.renewals).toBeGreaterThan(0);
    expect(await outcome).toBe('succeeded');
    expect(calls).toEqual(['t#0', 't#1', 'u#0']);
    // Lost, aborted, and only then taken over (by this worker, once the lease ran out) and retried.
    expect(seen).toEqual([
      'work t#0',
      'leaseLost t',
      'aborted t#0',
      'recovered t',
      'work t#1',
      'work u#0',
    ]);
    expect(workerEvents).toContainEqual({ type: 'recovered', taskId: 't', status: 'running' });
    const stored = await storedTask(observer, 't');
    expect(stored.status).toBe('pr_merged');
    expect(stored.attempts.map(({ attemptNum, outcome }) => ({ attemptNum, outcome }))).toEqual([
      { attemptNum: 0, outcome: 'lost' },
      { attemptNum: 1, outcome: 'pr_merged' },
    ]);
    expect(stored.attempts[0]?.error).toContain('worker lost');
    expect(stored.attempts[0]?.prUrl).toBeNull();
    expect(lateCommand).toBeInstanceOf(AttemptEndedError);
    expect(stored.concerns).not.toContain('done anyway');
    expect(stored.attempts[1]?.prUrl).toBe('https://example.com/pr/t/1');
  });
}

const dirs = tempDirs('task-runtime-leases-');
afterEach(killRunning);
afterAll(() => dirs.removeAll());

describe('DurableTaskGraphRuntime leases on a FileTaskStore', () => {
  let dir = '';
  beforeEach(() => {
    dir = dirs.make();
  });
  leaseSuite(() => ({ open: () => FileTaskStore.open(dir), config: { dir } }));
});

describeWithPostgres('DurableTaskGraphRuntime leases on PostgreSQL', () => {
  const tables: ReturnType<typeof freshTable>[] = [];
  beforeEach(() => {
    tables.push(freshTable());
  });
  afterAll(async () => {
    for (const table of tables) await table.drop();
  });
  leaseSuite(() => {
    const place = { connectionString: requirePostgresUrl(), table: tables.at(-1)?.name ?? '' };
    return { open: () => PostgresTaskStore.connect(place), config: place };
  });
});

describe('DurableTaskGraphRuntime lease renewal timing on a FileTaskStore', () => {
  const stores: TaskStore[] = [];
  const runs: DurableTaskGraphRuntime[] = [];
  afterEach(async () => {
    for (const run of runs.splice(0)) run.close();
    for (const store of stores.splice(0)) await store.close();
  });

  async function openRun(leaseMs: number) {
    const store = await FileTaskStore.open(dirs.make());
    stores.push(store);
    const renewing = withRenewals(store);
    const run = await DurableTaskGraphRuntime.open(renewing.store, graph, {
      workerId: 'A',
      leaseMs,
      followMs: 60_000,
    });
    runs.push(run);
    const lost: string[] = [];
    run.watch((event) => {
      if (event.type === 'leaseLost') lost.push(event.taskId);
    });
    return { run, store, renewing, lost };
  }

  // A renewal every third of the lease would be a timer delay above 2^31 - 1 ms for a lease over ~74.5 days
  // (open accepts up to a year), which Node takes for 1 ms ("TimeoutOverflowWarning"): renewals in a loop.
  it('should not renew a lease of 100 days every millisecond', async () => {
    const { run, renewing } = await openRun(100 * 24 * 60 * 60 * 1000);
    await run.markRunning('t');
    await sleep(200);
    expect(renewing.renewals).toBeLessThanOrEqual(1);
    expect(run.holdsLease('t')).toBe(true);
  });

  // An event loop busy for a third of the lease (a loaded machine) makes the renewal timer late; the lease still
  // has time left and no renewal is under way, so a renewal sent then lands in time: nothing is lost.
  it('should renew, not drop, a lease with time left when its renewal timer comes late', async () => {
    const { run, store, renewing, lost } = await openRun(MIN_LEASE_MS);
    await run.markRunning('t');
    await until('a renewal answered', () => renewing.last.answeredAt > 0);
    // Busy until 70 ms before the lease set by the last renewal runs out (no renewal under way meanwhile).
    const busyUntil = renewing.last.sentAt + MIN_LEASE_MS - 70;
    while (Date.now() < busyUntil) {
      // the event loop is late
    }
    const renewedBefore = renewing.renewals;
    await sleep(40); // the late timer fires; a renewal sent now lands well before the lease runs out
    expect(renewing.renewals).toBeGreaterThan(renewedBefore);
    const stored = await store.load('t');
    expect(Date.parse(stored?.lease?.expiresAt ?? '')).toBeGreaterThan(Date.now());
    expect(lost).toEqual([]);
    expect(run.holdsLease('t')).toBe(true);
  });
});
