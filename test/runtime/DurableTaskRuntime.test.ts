import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import {
  ConflictError,
  IllegalTransitionError,
  InvalidArgumentError,
  SnapshotError,
  TaskStoreError,
} from '../../src/errors.js';
import type { TaskStatus } from '../../src/machines/status.js';
import type { AttemptRecord } from '../../src/machines/taskMachine.js';
import { DurableTaskRuntime } from '../../src/runtime/DurableTaskRuntime.js';
import { SNAPSHOT_SCHEMA_VERSION } from '../../src/runtime/snapshot.js';
import { TaskRuntime, type TaskRuntimeOptions } from '../../src/runtime/TaskRuntime.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { createTask, type Task } from '../../src/task/createTask.js';
import { AgentRole } from '../../src/task/enums.js';
import { rejectionOf } from '../support/errors.js';
import { makeTempDir, removeDir } from '../support/tempDir.js';

const PR_URL = 'https://github.com/org/repo/pull/7';
const TASK_ID = 'implement-login';

/** A clock that moves one second forward on every reading. */
function tickingClock(start = '2025-01-02T03:04:05.000Z'): () => Date {
  let now = new Date(start).getTime();
  return () => {
    now += 1000;
    return new Date(now);
  };
}

function makeTask(id = TASK_ID): Task {
  return createTask({ id, role: AgentRole.IMPLEMENTER, dependencies: ['spec-login'] });
}

/** What a value looks like after a trip through JSON, as a store gives it back. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('DurableTaskRuntime', () => {
  let dir: string;
  let store: FileTaskStore;
  /** A second store on the same directory, as another process would open it. */
  let observer: FileTaskStore;
  const options: TaskRuntimeOptions = { maxAttempts: 3 };

  beforeEach(async () => {
    dir = makeTempDir('durable-task-runtime-');
    store = await FileTaskStore.open(dir);
    observer = await FileTaskStore.open(dir);
  });

  afterEach(async () => {
    await store.close();
    await observer.close();
    removeDir(dir);
  });

  /** Asserts that the store holds exactly what `runtime` has in memory, at its revision. */
  async function expectSaved(runtime: DurableTaskRuntime): Promise<void> {
    await expect(observer.load(runtime.task.id)).resolves.toEqual({
      snapshot: plain(runtime.persist()),
      revision: runtime.revision,
      lease: null,
    });
  }

  describe('create, open and load', () => {
    it('should save a new task at revision 1 in pending', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      expect(runtime.revision).toBe(1);
      expect(runtime.status).toBe('pending');
      expect(runtime.task).toEqual(makeTask());
      await expectSaved(runtime);
      expect((await observer.load(TASK_ID))?.snapshot).toMatchObject({
        schemaVersion: SNAPSHOT_SCHEMA_VERSION,
        status: 'pending',
      });
    });

    it('should accept a TaskInput as well as a Task', async () => {
      const runtime = await DurableTaskRuntime.create(store, {
        id: 'from-input',
        role: AgentRole.GENERIC,
      });
      expect(runtime.task.workstreamId).toBe('default');
      await expectSaved(runtime);
    });

    it('should throw ConflictError when creating a task that is already stored', async () => {
      await DurableTaskRuntime.create(store, makeTask(), options);
      const error = await rejectionOf(() => DurableTaskRuntime.create(store, makeTask(), options));
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as ConflictError).taskId).toBe(TASK_ID);
      await expect(observer.load(TASK_ID)).resolves.toMatchObject({ revision: 1 });
    });

    it('should throw InvalidArgumentError for a malformed task and save nothing', async () => {
      const error = await rejectionOf(() =>
        DurableTaskRuntime.create(store, { id: '', role: AgentRole.GENERIC }),
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      await expect(observer.list()).resolves.toEqual([]);
    });

    it('should return null when loading a task that is not stored', async () => {
      await expect(DurableTaskRuntime.load(store, 'missing')).resolves.toBeNull();
    });

    it('should create the task with open() when it is absent and load it when it is stored', async () => {
      const created = await DurableTaskRuntime.open(store, makeTask(), options);
      expect(created.revision).toBe(1);
      await created.markRunning();
      const opened = await DurableTaskRuntime.open(observer, makeTask(), options);
      expect(opened.status).toBe('running');
      expect(opened.revision).toBe(2);
      expect(opened.persist()).toEqual(created.persist());
      await expect(observer.load(TASK_ID)).resolves.toMatchObject({ revision: 2 });
    });

    it('should refuse to open a stored task with a different spec, naming the field, and change nothing', async () => {
      const created = await DurableTaskRuntime.open(store, makeTask(), options);
      await created.markRunning();
      const changed = createTask({
        id: TASK_ID,
        role: AgentRole.IMPLEMENTER,
        dependencies: ['other'],
      });
      const error = await rejectionOf(() => DurableTaskRuntime.open(observer, changed, options));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('task.dependencies');
      expect((error as Error).message).toContain('["spec-login"]');
      expect((error as Error).message).toContain('["other"]');
      await expect(observer.load(TASK_ID)).resolves.toMatchObject({ revision: 2 });
    });

    it('should keep maxAttempts across a load', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), { maxAttempts: 2 });
      const loaded = await DurableTaskRuntime.load(observer, TASK_ID);
      await loaded?.prepareForAttempt(1);
      const error = await rejectionOf(async () => loaded?.prepareForAttempt(2));
      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect(runtime.revision).toBe(1);
      expect(loaded?.revision).toBe(2);
    });
  });

  describe('saving every accepted command', () => {
    it('should save each command before its promise resolves, one revision per command', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), {
        ...options,
        clock: tickingClock(),
      });
      const commands: ReadonlyArray<readonly [string, (r: DurableTaskRuntime) => Promise<void>]> = [
        [
          'assignWorkstream',
          (r) =>
            r.assignWorkstream({ integrationBranch: 'ws/main', workstreamWorktreePath: '/wt/ws' }),
        ],
        [
          'assignWorktree',
          (r) => r.assignWorktree({ worktreePath: '/wt/login', branchName: 'task/login' }),
        ],
        ['recordAgentAddress', (r) => r.recordAgentAddress(new TmuxAddress('agentrelay', '%1'))],
        ['addConcern', (r) => r.addConcern('spec is vague')],
        ['prepareForAttempt(0)', (r) => r.prepareForAttempt(0)],
        ['markRunning', (r) => r.markRunning()],
        ['markFailed', (r) => r.markFailed('tests failed')],
        ['resetForRetry', (r) => r.resetForRetry()],
        ['prepareForAttempt(1)', (r) => r.prepareForAttempt(1)],
        ['markRunning again', (r) => r.markRunning()],
        ['markFailed retryable', (r) => r.markFailed('flaky', { retryable: true })],
        ['markPending', (r) => r.markPending()],
        ['prepareForAttempt(2)', (r) => r.prepareForAttempt(2)],
        ['markRunning a third time', (r) => r.markRunning()],
        ['markPrCreated', (r) => r.markPrCreated(PR_URL)],
        ['markPrMerged', (r) => r.markPrMerged()],
        ['addConcern after the end', (r) => r.addConcern('teardown note')],
      ];
      let revision = runtime.revision;
      for (const [label, command] of commands) {
        await command(runtime);
        revision += 1;
        expect({ label, revision: runtime.revision }).toEqual({ label, revision });
        await expectSaved(runtime);
      }
      const resumed = await DurableTaskRuntime.load(observer, TASK_ID);
      expect(resumed?.status).toBe('pr_merged');
      expect(resumed?.attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'pr_merged']);
      expect(resumed?.artifacts.concerns).toEqual([
        'spec is vague',
        'attempt_0_error: tests failed',
        'teardown note',
      ]);
      expect(resumed?.artifacts.agentAddress?.label).toBe('agentrelay:%1');
    });

    it('should save a command even when its promise is the only thing awaited later', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      const pending = runtime.markRunning();
      await pending;
      await expect(observer.load(TASK_ID)).resolves.toMatchObject({
        revision: 2,
        snapshot: { status: 'running' },
      });
    });
  });

  describe('lost attempts and reopen', () => {
    it('should save a lost attempt and a reopen, and load them with the limits they moved', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), {
        maxAttempts: 1,
        maxLostAttempts: 1,
        clock: tickingClock(),
      });
      await runtime.markRunning();
      await runtime.markFailed('worker lost: lease expired', { workerLost: true });
      await expectSaved(runtime);
      await runtime.resetForRetry();
      await runtime.prepareForAttempt(1);
      await runtime.markRunning();
      await runtime.markFailed('tests failed', { retryable: false });
      await runtime.reopen('spec fixed', { attempts: 2 });
      await expectSaved(runtime);
      expect(runtime.revision).toBe(8);

      const resumed = await DurableTaskRuntime.load(observer, TASK_ID);

      expect(resumed?.persist().context).toMatchObject({
        maxAttempts: 1,
        maxLostAttempts: 1,
        // attempts 2 and 3 are the two granted: the limit is 1 + 1 + 2, maxAttempts 1 + extraAttempts 3
        extraAttempts: 3,
        attemptNum: 1,
      });
      expect(resumed?.attempts.map((a) => a.outcome)).toEqual(['lost', 'failed']);
      expect(resumed?.artifacts.concerns).toEqual([
        'attempt_0_error: worker lost: lease expired',
        'reopened: spec fixed (last error: tests failed)',
      ]);
      expect(resumed?.can({ type: 'PREPARE_ATTEMPT', attemptNum: 3 })).toBe(true);
      expect(resumed?.can({ type: 'PREPARE_ATTEMPT', attemptNum: 4 })).toBe(false);
    });

    it('should save nothing for a refused reopen or a lost attempt marked not retryable', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      await runtime.markRunning();
      await runtime.markFailed('tests failed');
      const refusal = await rejectionOf(() => runtime.reopen('too early'));
      const invalid = await rejectionOf(() =>
        DurableTaskRuntime.load(observer, TASK_ID).then((other) =>
          other?.reopen('', { attempts: 0 }),
        ),
      );
      await runtime.resetForRetry();
      await runtime.prepareForAttempt(1);
      await runtime.markRunning();
      const lostNotRetryable = await rejectionOf(() =>
        runtime.markFailed('worker lost', { workerLost: true, retryable: false }),
      );

      expect(refusal).toMatchObject({ name: 'IllegalTransitionError', reason: 'isFailureFinal' });
      expect(invalid).toMatchObject({ name: 'InvalidArgumentError', argument: 'reason' });
      expect(lostNotRetryable).toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'retryable',
      });
      expect(runtime.revision).toBe(6);
      await expectSaved(runtime);
    });

    it('should load a schema-1 snapshot written by the previous version and save it as the current schema', async () => {
      const fixture = JSON.parse(
        readFileSync(join(__dirname, '..', 'fixtures', 'snapshots-schema1.json'), 'utf8'),
      ) as { entries: { name: string; snapshot: { context: { task: { id: string } } } }[] };
      const entry = fixture.entries.find((e) => e.name === 'failed on the last attempt');
      if (entry === undefined) throw new Error('test bug: no such fixture entry');
      const id = entry.snapshot.context.task.id;
      await store.save(id, entry.snapshot, { expectedRevision: null });

      const runtime = await DurableTaskRuntime.load(observer, id);
      expect(runtime?.persist().context).toMatchObject({ maxLostAttempts: 3, extraAttempts: 0 });
      await runtime?.reopen('flaky CI replaced');

      await expect(store.load(id)).resolves.toMatchObject({
        revision: 2,
        snapshot: {
          schemaVersion: SNAPSHOT_SCHEMA_VERSION,
          status: 'pending',
          // attempt 1 failed last; the one attempt granted is attempt 2: the limit is 2 + extraAttempts 1
          context: { maxAttempts: 2, maxLostAttempts: 3, extraAttempts: 1 },
        },
      });
    });
  });

  describe('refused commands', () => {
    const refusals: ReadonlyArray<
      readonly [
        string,
        TaskStatus,
        (r: DurableTaskRuntime) => Promise<void>,
        typeof IllegalTransitionError | typeof InvalidArgumentError,
      ]
    > = [
      ['markPrMerged while pending', 'pending', (r) => r.markPrMerged(), IllegalTransitionError],
      [
        'markPrCreated while pending',
        'pending',
        (r) => r.markPrCreated(PR_URL),
        IllegalTransitionError,
      ],
      ['resetForRetry while pending', 'pending', (r) => r.resetForRetry(), IllegalTransitionError],
      ['markFailed with an empty error', 'pending', (r) => r.markFailed(''), InvalidArgumentError],
      ['prepareForAttempt(-1)', 'pending', (r) => r.prepareForAttempt(-1), InvalidArgumentError],
      [
        'prepareForAttempt(3) beyond maxAttempts',
        'pending',
        (r) => r.prepareForAttempt(3),
        IllegalTransitionError,
      ],
      ['markRunning while running', 'running', (r) => r.markRunning(), IllegalTransitionError],
      [
        'prepareForAttempt while running',
        'running',
        (r) => r.prepareForAttempt(1),
        IllegalTransitionError,
      ],
      ['addConcern with an empty text', 'running', (r) => r.addConcern(''), InvalidArgumentError],
      [
        'markPrCreated with an empty url',
        'running',
        (r) => r.markPrCreated(''),
        InvalidArgumentError,
      ],
      ['markRunning after a merge', 'pr_merged', (r) => r.markRunning(), IllegalTransitionError],
      [
        'markFailed after a merge',
        'pr_merged',
        (r) => r.markFailed('late'),
        IllegalTransitionError,
      ],
      [
        'assignWorktree after a merge',
        'pr_merged',
        (r) => r.assignWorktree({ worktreePath: '/wt', branchName: 'b' }),
        IllegalTransitionError,
      ],
    ];

    async function runtimeIn(status: TaskStatus): Promise<DurableTaskRuntime> {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      if (status === 'pending') return runtime;
      await runtime.markRunning();
      if (status === 'running') return runtime;
      await runtime.markPrCreated(PR_URL);
      await runtime.markPrMerged();
      return runtime;
    }

    it.each(refusals)(
      'should save nothing when refusing %s',
      async (_label, status, command, errorClass) => {
        const runtime = await runtimeIn(status);
        const revision = runtime.revision;
        const before = JSON.stringify(runtime.persist());
        const stored = await observer.load(TASK_ID);
        const error = await rejectionOf(() => command(runtime));
        expect(error).toBeInstanceOf(errorClass);
        expect(runtime.revision).toBe(revision);
        expect(JSON.stringify(runtime.persist())).toBe(before);
        await expect(observer.load(TASK_ID)).resolves.toEqual(stored);
      },
    );

    it('should go on after a refusal with the next command at the next revision', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      await expect(runtime.markPrMerged()).rejects.toBeInstanceOf(IllegalTransitionError);
      await runtime.markRunning();
      expect(runtime.revision).toBe(2);
      await expectSaved(runtime);
    });
  });

  describe('a second writer', () => {
    it('should get ConflictError, roll back to its last saved state, and continue after reload()', async () => {
      const first = await DurableTaskRuntime.create(store, makeTask(), options);
      const second = await DurableTaskRuntime.load(observer, TASK_ID);
      if (second === null) throw new Error('the task was not stored');
      await first.markRunning();
      const savedBySecond = JSON.stringify(second.persist());

      const error = await rejectionOf(() => second.markFailed('from the second writer'));
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as ConflictError).taskId).toBe(TASK_ID);
      expect((error as ConflictError).expectedRevision).toBe(1);
      expect((error as ConflictError).actualRevision).toBe(2);
      expect(second.status).toBe('pending');
      expect(second.revision).toBe(1);
      expect(JSON.stringify(second.persist())).toBe(savedBySecond);
      expect(second.state.error).toBeNull();
      await expectSaved(first);

      await second.reload();
      expect(second.status).toBe('running');
      expect(second.revision).toBe(2);
      expect(second.persist()).toEqual(first.persist());
      await second.markFailed('from the second writer');
      expect(second.revision).toBe(3);
      await expectSaved(second);

      const late = await rejectionOf(() => first.markPrCreated(PR_URL));
      expect(late).toBeInstanceOf(ConflictError);
      expect(first.status).toBe('running');
      expect(first.artifacts.prUrl).toBeNull();
      await expect(observer.load(TASK_ID)).resolves.toMatchObject({
        revision: 3,
        snapshot: { status: 'failed' },
      });
    });

    it('should let exactly one of two runtimes on the same task win a concurrent command', async () => {
      const first = await DurableTaskRuntime.create(store, makeTask(), options);
      const second = await DurableTaskRuntime.load(observer, TASK_ID);
      if (second === null) throw new Error('the task was not stored');
      const results = await Promise.allSettled([
        first.markRunning(),
        second.markFailed('blocked by a dependency'),
      ]);
      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(fulfilled).toHaveLength(1);
      expect(rejected).toHaveLength(1);
      expect(rejected[0]).toBeInstanceOf(ConflictError);
      const winner = results[0]?.status === 'fulfilled' ? first : second;
      const loser = winner === first ? second : first;
      expect(loser.status).toBe('pending');
      expect(loser.revision).toBe(1);
      await expectSaved(winner);
    });

    it('should roll back when the save fails for another reason', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      await store.close();
      const error = await rejectionOf(() => runtime.markRunning());
      expect(error).toBeInstanceOf(TaskStoreError);
      expect(runtime.status).toBe('pending');
      expect(runtime.attempts).toEqual([]);
      expect(runtime.revision).toBe(1);
      await expect(observer.load(TASK_ID)).resolves.toMatchObject({
        revision: 1,
        snapshot: { status: 'pending' },
      });
    });

    it('should fail reload() with SnapshotError naming the task when it was deleted', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      await observer.delete(TASK_ID, { expectedRevision: 1 });
      const error = await rejectionOf(() => runtime.reload());
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as SnapshotError).taskId).toBe(TASK_ID);
      expect(runtime.status).toBe('pending');
    });
  });

  describe('commands called without await', () => {
    it('should run and save them in call order', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      const settledOrder: number[] = [];
      const calls = [
        runtime.markRunning(),
        runtime.addConcern('first'),
        runtime.markPrCreated(PR_URL),
        runtime.markPrMerged(),
        runtime.addConcern('second'),
      ].map((promise, index) => promise.then(() => settledOrder.push(index)));
      await Promise.all(calls);
      expect(settledOrder).toEqual([0, 1, 2, 3, 4]);
      expect(runtime.status).toBe('pr_merged');
      expect(runtime.revision).toBe(6);
      expect(runtime.artifacts.concerns).toEqual(['first', 'second']);
      await expectSaved(runtime);
    });

    it('should judge each command on the state the ones before it left, refusals included', async () => {
      const runtime = await DurableTaskRuntime.create(store, makeTask(), options);
      const results = await Promise.allSettled([
        runtime.markPrCreated(PR_URL), // refused: still pending when it runs
        runtime.markRunning(),
        runtime.markPrCreated(PR_URL),
        runtime.markRunning(), // refused: pr_created by then
      ]);
      expect(results.map((r) => r.status)).toEqual([
        'rejected',
        'fulfilled',
        'fulfilled',
        'rejected',
      ]);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(IllegalTransitionError);
      }
      expect(runtime.status).toBe('pr_created');
      expect(runtime.revision).toBe(3);
      await expectSaved(runtime);
    });
  });

  describe('resume after a crash', () => {
    it.each(['running', 'pr_created'] as const)(
      'should load a task that was %s in that status with its attempt ledger',
      async (status) => {
        const clock = tickingClock();
        const crashed = await DurableTaskRuntime.create(store, makeTask(), { ...options, clock });
        await crashed.assignWorktree({ worktreePath: '/wt/login', branchName: 'task/login' });
        await crashed.markRunning();
        if (status === 'pr_created') await crashed.markPrCreated(PR_URL);

        const resumed = await DurableTaskRuntime.load(observer, TASK_ID, { clock });
        if (resumed === null) throw new Error('the task was not stored');
        expect(resumed.status).toBe(status);
        expect(resumed.revision).toBe(crashed.revision);
        expect(resumed.attempts).toEqual(crashed.attempts);
        expect(resumed.attempts).toHaveLength(1);
        expect(resumed.attempts[0]).toMatchObject({
          attemptNum: 0,
          outcome: status,
          endedAt: null,
        });
        expect(resumed.attempts[0]?.startedAt).toEqual(expect.any(String));
        expect(resumed.state).toEqual(crashed.state);
        expect(resumed.artifacts.prUrl).toBe(status === 'pr_created' ? PR_URL : null);

        await resumed.markFailed('worker lost');
        await resumed.resetForRetry();
        await resumed.prepareForAttempt(1);
        await resumed.markRunning();
        expect(resumed.status).toBe('running');
        expect(resumed.state.attemptNum).toBe(1);
        expect(
          resumed.attempts.map((a: AttemptRecord) => [a.attemptNum, a.outcome, a.error]),
        ).toEqual([
          [0, 'failed', 'worker lost'],
          [1, 'running', null],
        ]);
        expect(resumed.artifacts.concerns).toEqual(['attempt_0_error: worker lost']);
        expect(resumed.revision).toBe(crashed.revision + 4);
        await expectSaved(resumed);
      },
    );

    it('should let a resumed pr_created task keep waiting and merge', async () => {
      const crashed = await DurableTaskRuntime.create(store, makeTask(), options);
      await crashed.markRunning();
      await crashed.markPrCreated(PR_URL);
      const resumed = await DurableTaskRuntime.load(observer, TASK_ID);
      await resumed?.markPrMerged();
      expect(resumed?.status).toBe('pr_merged');
      expect(resumed?.attempts.map((a) => a.outcome)).toEqual(['pr_merged']);
      await expect(observer.load(TASK_ID)).resolves.toMatchObject({
        revision: 4,
        snapshot: { status: 'pr_merged' },
      });
    });
  });

  describe('stored snapshots that cannot be restored', () => {
    it.each<readonly [string, unknown, string]>([
      ['a foreign object', { hello: 'world' }, 'schemaVersion'],
      ['null', null, ''],
      ['a string', 'running', ''],
      ['an unknown status', { schemaVersion: 1, status: 'paused', context: {} }, 'status'],
    ])('should throw SnapshotError with taskId set for %s', async (_label, snapshot, path) => {
      await store.save(TASK_ID, snapshot, { expectedRevision: null });
      const error = await rejectionOf(() => DurableTaskRuntime.load(observer, TASK_ID));
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as SnapshotError).taskId).toBe(TASK_ID);
      expect((error as SnapshotError).path).toBe(path);
      expect((error as Error).message).toContain(`'${TASK_ID}'`);
    });

    it('should throw SnapshotError with taskId set when a snapshot breaks an invariant', async () => {
      const runtime = new TaskRuntime(makeTask());
      runtime.markRunning();
      runtime.markFailed('boom');
      const broken = plain(runtime.persist()) as { context: Record<string, unknown> };
      broken.context.error = null;
      await store.save(TASK_ID, broken, { expectedRevision: null });
      const error = await rejectionOf(() => DurableTaskRuntime.load(observer, TASK_ID));
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as SnapshotError).taskId).toBe(TASK_ID);
      expect((error as SnapshotError).path).toBe('context.error');
    });

    it('should throw SnapshotError when the snapshot belongs to another task id', async () => {
      const other = new TaskRuntime(makeTask('someone-else'));
      await store.save(TASK_ID, other.persist(), { expectedRevision: null });
      const error = await rejectionOf(() => DurableTaskRuntime.load(observer, TASK_ID));
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as SnapshotError).taskId).toBe(TASK_ID);
      expect((error as SnapshotError).path).toBe('context.task.id');
    });

    it('should throw SnapshotError telling to upgrade for a snapshot of schemaVersion 99', async () => {
      const future = {
        ...(plain(new TaskRuntime(makeTask()).persist()) as object),
        schemaVersion: 99,
      };
      await store.save(TASK_ID, future, { expectedRevision: null });
      const error = await rejectionOf(() => DurableTaskRuntime.load(observer, TASK_ID));
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as SnapshotError).taskId).toBe(TASK_ID);
      expect((error as SnapshotError).path).toBe('schemaVersion');
      expect((error as Error).message).toMatch(/upgrade task-runtime/);
      expect((error as Error).message).toContain('99');
      expect(() => TaskRuntime.restore(future)).toThrow(SnapshotError);
    });
  });

  describe('schema version 0', () => {
    /** A snapshot as schema 0 wrote it: no attempt ledger (`context.attempts`) and no `context.retryable`. */
    function schema0(
      status: TaskStatus,
      context: Record<string, unknown>,
    ): Record<string, unknown> {
      return {
        schemaVersion: 0,
        status,
        context: {
          task: {
            id: 'legacy-task',
            role: 'implementer',
            description: 'written by schema 0',
            paths: { src: ['src/login.ts'], test: [], spec: null },
            dependencies: [],
            completionGate: null,
            maxGateAttempts: null,
            primaryAgent: {
              framework: 'claude_code',
              model: null,
              adrVerbosity: 'none',
              environment: { session: 'agentrelay' },
            },
            review: null,
            workstreamId: 'default',
          },
          maxAttempts: 3,
          attemptNum: 0,
          worktreePath: null,
          branchName: null,
          signalDir: null,
          integrationBranch: null,
          workstreamWorktreePath: null,
          error: null,
          prUrl: null,
          concerns: [],
          agentAddress: null,
          ...context,
        },
      };
    }

    const cases: ReadonlyArray<
      readonly [TaskStatus, Record<string, unknown>, Partial<AttemptRecord>[], string | null]
    > = [
      ['pending', { attemptNum: 1, concerns: ['attempt_0_error: boom'] }, [], null],
      [
        'running',
        { worktreePath: '/wt/legacy', branchName: 'task/legacy' },
        [{ attemptNum: 0, outcome: 'running', error: null, startedAt: null, endedAt: null }],
        null,
      ],
      [
        'pr_created',
        { prUrl: PR_URL },
        [{ attemptNum: 0, outcome: 'pr_created', prUrl: PR_URL, endedAt: null }],
        null,
      ],
      [
        'failed',
        { attemptNum: 1, error: 'tests failed' },
        [{ attemptNum: 1, outcome: 'failed', error: 'tests failed', retryable: true }],
        'tests failed',
      ],
      [
        'pr_merged',
        { prUrl: PR_URL },
        [{ attemptNum: 0, outcome: 'pr_merged', prUrl: PR_URL }],
        null,
      ],
    ];

    it.each(cases)(
      'should migrate a %s snapshot through TaskRuntime.restore',
      (status, context, attempts, error) => {
        const runtime = TaskRuntime.restore(schema0(status, context));
        expect(runtime.status).toBe(status);
        expect(runtime.task.id).toBe('legacy-task');
        expect(runtime.task.paths.src).toEqual(['src/login.ts']);
        expect(runtime.state.error).toBe(error);
        expect(runtime.attempts).toHaveLength(attempts.length);
        attempts.forEach((expected, index) => {
          expect(runtime.attempts[index]).toMatchObject(expected);
        });
        expect(runtime.persist().schemaVersion).toBe(SNAPSHOT_SCHEMA_VERSION);
        expect(TaskRuntime.restore(plain(runtime.persist())).persist()).toEqual(runtime.persist());
      },
    );

    it.each(cases)(
      'should migrate a %s snapshot saved raw through the store on DurableTaskRuntime.load',
      async (status, context, attempts) => {
        await store.save('legacy-task', schema0(status, context), { expectedRevision: null });
        const runtime = await DurableTaskRuntime.load(observer, 'legacy-task');
        if (runtime === null) throw new Error('the task was not stored');
        expect(runtime.status).toBe(status);
        expect(runtime.revision).toBe(1);
        expect(runtime.attempts).toHaveLength(attempts.length);
        await runtime.addConcern('migrated');
        expect(runtime.revision).toBe(2);
        await expect(observer.load('legacy-task')).resolves.toMatchObject({
          revision: 2,
          snapshot: { schemaVersion: SNAPSHOT_SCHEMA_VERSION, status },
        });
      },
    );

    it('should let a migrated running task be failed as worker lost and retried', async () => {
      await store.save('legacy-task', schema0('running', {}), { expectedRevision: null });
      const runtime = await DurableTaskRuntime.load(observer, 'legacy-task');
      if (runtime === null) throw new Error('the task was not stored');
      await runtime.markFailed('worker lost');
      await runtime.resetForRetry();
      await runtime.prepareForAttempt(1);
      await runtime.markRunning();
      expect(runtime.status).toBe('running');
      expect(runtime.attempts.map((a) => [a.attemptNum, a.outcome])).toEqual([
        [0, 'failed'],
        [1, 'running'],
      ]);
      await expectSaved(runtime);
    });

    it('should let a migrated failed task be retried', async () => {
      await store.save('legacy-task', schema0('failed', { error: 'tests failed' }), {
        expectedRevision: null,
      });
      const runtime = await DurableTaskRuntime.load(observer, 'legacy-task');
      if (runtime === null) throw new Error('the task was not stored');
      await runtime.resetForRetry();
      expect(runtime.status).toBe('pending');
      expect(runtime.artifacts.concerns).toEqual(['attempt_0_error: tests failed']);
    });
  });
});
