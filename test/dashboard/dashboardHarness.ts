/** What the dashboard tests share: sample tasks, a store filled with them, and `task-runtime serve` running. */
import { TmuxAddress } from '../../src/agent/AgentAddress.js';
import { blockedError } from '../../src/graph/blocking.js';
import { TaskRuntime } from '../../src/runtime/TaskRuntime.js';
import type { TaskStore } from '../../src/store/TaskStore.js';
import type { TaskInput } from '../../src/task/createTask.js';
import { type CliProcess, startCli } from '../cli/cliHarness.js';
import { type Fixture, startFixture } from '../support/childProcess.js';

/** A clock that starts at 2026-01-05 09:00 UTC and moves 7 minutes per reading. */
export function steppingClock(): () => Date {
  let ms = Date.parse('2026-01-05T09:00:00.000Z');
  return () => {
    ms += 7 * 60_000;
    return new Date(ms);
  };
}

/** A runtime for `input` (role implementer unless given) with the stepping clock and at most 3 attempts. */
export function runtimeOf(input: Partial<TaskInput> & { readonly id: string }): TaskRuntime {
  return new TaskRuntime(
    { role: 'implementer', ...input },
    { maxAttempts: 3, clock: steppingClock() },
  );
}

/**
 * Six tasks in every status: `spec` merged, `tests` failed three times (finally), `impl` blocked by it,
 * `docs` running in a worktree, `review` with a PR open after a lost attempt, `later` pending.
 */
export function sampleRuntimes(): TaskRuntime[] {
  const spec = runtimeOf({ id: 'spec', role: 'spec_writer', description: 'Write the spec' });
  spec.markRunning();
  spec.markPrCreated('https://github.com/acme/app/pull/1');
  spec.markPrMerged();

  const tests = runtimeOf({ id: 'tests', role: 'test_writer', dependencies: ['spec'] });
  for (const [attempt, error] of [
    'tests failed: 4 of 41',
    'agent crashed',
    'type errors',
  ].entries()) {
    if (attempt > 0) {
      tests.resetForRetry();
      tests.prepareForAttempt(attempt);
    }
    tests.markRunning();
    tests.markFailed(error);
  }

  const impl = runtimeOf({ id: 'impl', dependencies: ['tests'] });
  impl.markFailed(blockedError('tests'), { retryable: false });

  const docs = runtimeOf({ id: 'docs', role: 'generic', dependencies: ['spec'] });
  docs.assignWorktree({ worktreePath: '/work/docs', branchName: 'task/docs' });
  docs.recordAgentAddress(new TmuxAddress('agents', '%3'));
  docs.markRunning();

  const review = runtimeOf({ id: 'review', role: 'test_reviewer', dependencies: ['spec'] });
  review.markRunning();
  review.markFailed('worker lost: the orchestrator was killed', { workerLost: true });
  review.resetForRetry();
  review.prepareForAttempt(1);
  review.markRunning();
  review.markPrCreated('https://github.com/acme/app/pull/2');

  const later = runtimeOf({ id: 'later', dependencies: ['impl', 'docs'] });
  return [spec, tests, impl, docs, review, later];
}

/** Saves every runtime as a new task; resolves to the revisions by id. */
export async function saveAll(
  store: TaskStore,
  runtimes: readonly TaskRuntime[],
): Promise<Map<string, number>> {
  const revisions = new Map<string, number>();
  for (const runtime of runtimes) {
    const { id } = runtime.task;
    revisions.set(id, await store.save(id, runtime.persist(), { expectedRevision: null }));
  }
  return revisions;
}

/** `task-runtime serve` running, and the URL it printed. */
export interface Served {
  readonly cli: CliProcess;
  readonly url: string;
}

const SERVING = /^Serving (.+) at (http:\/\/\S+\/)$/m;

/** Starts `task-runtime serve …args` (add `--port 0`) and resolves once it printed where it serves. */
export async function serve(args: readonly string[]): Promise<Served> {
  const cli = startCli(['serve', ...args]);
  await cli.waitFor((stdout) => SERVING.test(stdout));
  const url = SERVING.exec(cli.stdout())?.[2] ?? '';
  return { cli, url };
}

/** Stops a `serve` with SIGTERM; resolves to its exit code once it ended. */
export async function stopServe({ cli }: Served): Promise<number | null> {
  cli.child.kill('SIGTERM');
  return (await cli.done).code;
}

/** Another process writing to a store: `save()` sends one snapshot and resolves to the new revision. */
export interface Writer {
  readonly fixture: Fixture;
  save(id: string, snapshot: unknown, expectedRevision: number | null): Promise<number>;
}

/** Starts test/fixtures/dashboardWriter.mjs on a FileTaskStore directory or on a PostgreSQL table. */
export async function startWriter(
  target: { readonly dir: string } | { readonly url: string; readonly table: string },
): Promise<Writer> {
  const args = 'dir' in target ? ['file', target.dir] : ['pg', target.url, target.table];
  const fixture = startFixture('dashboardWriter.mjs', args);
  if ((await fixture.nextLine()) !== 'ready') throw new Error('dashboardWriter did not start');
  return {
    fixture,
    async save(id, snapshot, expectedRevision) {
      fixture.send(JSON.stringify({ id, snapshot, expectedRevision }));
      const line = await fixture.nextLine();
      const match = /^saved (\d+)$/.exec(line);
      if (match === null) throw new Error(`dashboardWriter: ${line}`);
      return Number(match[1]);
    },
  };
}

/** Text that would run or break out if any page put it into HTML unescaped, with U+0000 and a lone surrogate. */
export const HOSTILE = `<script>alert("x")</script><img src=x onerror="alert('y')">" ' & \u0000 \ud800 end`;

/** {@link HOSTILE} as a task id: without the lone surrogate, which stores refuse in ids. */
export const HOSTILE_ID = `${HOSTILE.replace('\ud800', '')} id`;

/** A task with {@link HOSTILE} text in every field an agent or orchestrator can fill, and a `javascript:` PR URL. */
export function hostileRuntime(id = HOSTILE_ID): TaskRuntime {
  const runtime = runtimeOf({
    id,
    role: 'implementer',
    description: `${HOSTILE} description`,
    paths: { src: [`${HOSTILE} src`], test: [`${HOSTILE} test`], spec: `${HOSTILE} spec` },
    dependencies: [`${HOSTILE} dependency`],
    completionGate: `${HOSTILE} gate`,
    primaryAgent: { model: `${HOSTILE} model`, environment: { session: `${HOSTILE} session` } },
    workstreamId: `${HOSTILE} workstream`,
  });
  runtime.assignWorktree({
    worktreePath: `${HOSTILE} worktree`,
    branchName: `${HOSTILE} branch`,
    signalDir: `${HOSTILE} signals`,
  });
  runtime.assignWorkstream({
    integrationBranch: `${HOSTILE} integration`,
    workstreamWorktreePath: `${HOSTILE} workstream path`,
  });
  runtime.recordAgentAddress(new TmuxAddress(`${HOSTILE} tmux`, '%1'));
  runtime.addConcern(`${HOSTILE} concern`);
  runtime.markRunning();
  runtime.markPrCreated(`javascript:alert('pr')//${HOSTILE}`);
  runtime.markFailed(`${HOSTILE} error`);
  return runtime;
}

/** {@link HOSTILE} as a worker id in an attempt ledger, which takes any non-empty string. */
export const HOSTILE_WORKER = `${HOSTILE} worker`;

/** {@link HOSTILE} as a lease's worker id: without U+0000 and the lone surrogate, which stores refuse there. */
export const HOSTILE_LEASE_WORKER = `${HOSTILE.replace('\u0000', '').replace('\ud800', '')} holder`;

/** The ids of {@link sharedRunRuntimes} in the run's order (dependencies first, ties by id). */
export const SHARED_RUN_ORDER = ['lint', 'release', 'spec', 'impl', 'docs', 'tests'];

/** The ids of {@link sharedRunRuntimes} by their latest change, latest first (ties by id, `docs` has none). */
export const SHARED_RUN_RECENT = ['tests', 'impl', 'lint', 'release', 'spec', 'docs'];

/**
 * A run shared by workers, an hour long up to `now` (epoch milliseconds): `spec` merged by worker-a; `impl`
 * lost with worker-b, then running under worker-a (open); `tests` failed under {@link HOSTILE_WORKER}, then
 * pr_created under it (open); `lint` failed for good under worker-c and so blocked `release`; `docs` pending.
 */
export function sharedRunRuntimes(now: number): TaskRuntime[] {
  let minutesAgo = 60;
  const clock = () => new Date(now - minutesAgo * 60_000);
  const runtime = (id: string, dependencies: string[] = [], maxAttempts = 3) =>
    new TaskRuntime({ id, role: 'implementer', dependencies }, { maxAttempts, clock });
  const when = (ago: number, command: () => void) => {
    minutesAgo = ago;
    command();
  };
  const spec = runtime('spec');
  when(60, () => spec.markRunning({ workerId: 'worker-a' }));
  when(55, () => spec.markPrCreated('https://github.com/acme/app/pull/11'));
  when(50, () => spec.markPrMerged());
  const impl = runtime('impl', ['spec']);
  when(48, () => impl.markRunning({ workerId: 'worker-b' }));
  when(40, () => impl.markFailed('worker lost: worker-b stopped renewing', { workerLost: true }));
  when(40, () => impl.resetForRetry());
  when(40, () => impl.prepareForAttempt(1));
  when(30, () => impl.markRunning({ workerId: 'worker-a' }));
  const tests = runtime('tests', ['spec']);
  when(45, () => tests.markRunning({ workerId: HOSTILE_WORKER }));
  when(35, () => tests.markFailed(`${HOSTILE} error`));
  when(35, () => tests.resetForRetry());
  when(35, () => tests.prepareForAttempt(1));
  when(20, () => tests.markRunning({ workerId: HOSTILE_WORKER }));
  when(10, () => tests.markPrCreated('https://github.com/acme/app/pull/12'));
  const lint = runtime('lint', [], 1);
  when(44, () => lint.markRunning({ workerId: 'worker-c' }));
  when(38, () => lint.markFailed('lint failed', { retryable: false }));
  const release = runtime('release', ['lint']);
  when(38, () => release.markFailed(blockedError('lint'), { retryable: false }));
  return [spec, impl, tests, lint, release, runtime('docs', ['impl'])];
}
