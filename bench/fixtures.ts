import { createActor } from 'xstate';
import { type TaskActor, type TaskEvent, taskMachine } from '../src/machines/taskMachine.js';
import { TaskRuntime } from '../src/runtime/TaskRuntime.js';
import { createTask, type Task } from '../src/task/createTask.js';
import { AgentRole } from '../src/task/enums.js';

/** A task as an orchestrator declares it: 2 paths and 2 dependencies. */
export function typicalTask(id = 'implement-login'): Task {
  return createTask({
    id,
    role: AgentRole.IMPLEMENTER,
    description: 'Implement the login form and its validation',
    paths: { src: ['src/login/LoginForm.ts'], test: ['test/login/LoginForm.test.ts'] },
    dependencies: ['spec-login', 'tests-login'],
  });
}

/** The pull request every benchmark task opens. */
export const PR_URL = 'https://github.com/acme/app/pull/7';

/** The events of a full lifecycle pending → pr_merged, as the facade's commands send them (without `at`). */
export const LIFECYCLE_EVENTS: readonly TaskEvent[] = Object.freeze([
  { type: 'PREPARE_ATTEMPT', attemptNum: 0 },
  { type: 'ASSIGN_WORKTREE', worktreePath: '/tmp/worktrees/login', branchName: 'task/login' },
  { type: 'START' },
  { type: 'PR_CREATED', prUrl: PR_URL },
  { type: 'PR_MERGED' },
]);

/** Runs the lifecycle of {@link LIFECYCLE_EVENTS} through the facade's verbs. */
export function runLifecycle(runtime: TaskRuntime): void {
  runtime.prepareForAttempt(0);
  runtime.assignWorktree({ worktreePath: '/tmp/worktrees/login', branchName: 'task/login' });
  runtime.markRunning();
  runtime.markPrCreated(PR_URL);
  runtime.markPrMerged();
}

/** Sends {@link LIFECYCLE_EVENTS} to a raw actor. */
export function runRawLifecycle(actor: TaskActor): void {
  for (const event of LIFECYCLE_EVENTS) actor.send(event);
}

/** The events that bring a task to a typical mid-life state: 3 attempts (2 failed), 3 concerns, pr_created. */
export const TYPICAL_HISTORY: readonly TaskEvent[] = Object.freeze([
  { type: 'ASSIGN_WORKTREE', worktreePath: '/tmp/worktrees/login', branchName: 'task/login' },
  { type: 'START' },
  { type: 'FAIL', error: 'tests failed: 3 of 41' },
  { type: 'RETRY' },
  { type: 'PREPARE_ATTEMPT', attemptNum: 1 },
  { type: 'START' },
  { type: 'FAIL', error: 'agent timed out after 30 minutes' },
  { type: 'RETRY' },
  { type: 'PREPARE_ATTEMPT', attemptNum: 2 },
  { type: 'START' },
  { type: 'ADD_CONCERN', concern: 'the login form has no rate limit' },
  { type: 'PR_CREATED', prUrl: PR_URL },
]);

/** A runtime in the typical state of {@link TYPICAL_HISTORY} (2 paths, 2 dependencies, 3 attempts, 3 concerns). */
export function typicalRuntime(id?: string): TaskRuntime {
  const runtime = new TaskRuntime(typicalTask(id), { maxAttempts: 5 });
  runtime.assignWorktree({ worktreePath: '/tmp/worktrees/login', branchName: 'task/login' });
  runtime.markRunning();
  runtime.markFailed('tests failed: 3 of 41');
  runtime.resetForRetry();
  runtime.prepareForAttempt(1);
  runtime.markRunning();
  runtime.markFailed('agent timed out after 30 minutes');
  runtime.resetForRetry();
  runtime.prepareForAttempt(2);
  runtime.markRunning();
  runtime.addConcern('the login form has no rate limit');
  runtime.markPrCreated(PR_URL);
  return runtime;
}

/** A raw actor of `task`, started: what the facade's rows compare `new TaskRuntime(task)` with. */
export function rawActor(task: Task): TaskActor {
  return createActor(taskMachine, { input: { task } }).start();
}

/** A raw actor in the same typical state as {@link typicalRuntime}. */
export function typicalActor(): TaskActor {
  const actor = createActor(taskMachine, {
    input: { task: typicalTask(), maxAttempts: 5 },
  }).start();
  for (const event of TYPICAL_HISTORY) actor.send(event);
  return actor;
}
