/**
 * `npm start`: a small orchestrator run — four tasks with dependencies go through success, a failed attempt
 * and its retry, an exhausted task, and a task blocked by its failed dependency; every transition is printed.
 */
import {
  createTask,
  IllegalTransitionError,
  type Task,
  TaskRuntime,
  TmuxAddress,
} from '../index.js';

/** What the simulated agent does in each attempt of a task: 'pr' succeeds, anything else is the failure message. */
const script: Record<string, readonly string[]> = {
  'spec-login': ['pr'],
  'tests-login': ['pytest: 3 failed', 'pr'],
  'impl-login': ['lint failed', 'timeout after 30 min', 'type errors'],
  'docs-login': ['pr'],
};

const tasks: readonly Task[] = [
  createTask({ id: 'spec-login', role: 'spec_writer', description: 'Write the login spec' }),
  createTask({ id: 'tests-login', role: 'test_writer', dependencies: ['spec-login'] }),
  createTask({ id: 'impl-login', role: 'implementer', dependencies: ['tests-login'] }),
  createTask({ id: 'docs-login', role: 'generic', dependencies: ['impl-login'] }),
];

let minute = 0;
const clock = () => new Date(Date.UTC(2026, 0, 1, 9, minute++));
const runtimes = new Map(
  tasks.map((task) => [task.id, new TaskRuntime(task, { maxAttempts: 3, clock })]),
);

for (const runtime of runtimes.values()) {
  let previous = runtime.status;
  runtime.actor.subscribe((snapshot) => {
    if (snapshot.value === previous) return;
    const { attemptNum, error } = snapshot.context;
    const detail = snapshot.value === 'failed' ? `  (${error})` : '';
    console.log(
      `${runtime.task.id.padEnd(12)} attempt ${attemptNum}  ${previous.padEnd(10)} → ${snapshot.value}${detail}`,
    );
    previous = snapshot.value;
  });
}

function runAttempt(runtime: TaskRuntime): void {
  const attempt = runtime.state.attemptNum;
  const outcome = script[runtime.task.id]?.[attempt] ?? 'no script';
  runtime.assignWorktree({
    worktreePath: `/work/${runtime.task.id}-${attempt}`,
    branchName: `task/${runtime.task.id}`,
  });
  runtime.recordAgentAddress(new TmuxAddress('agentrelay', `%${attempt}`));
  runtime.markRunning();
  if (outcome !== 'pr') {
    runtime.markFailed(outcome);
    return;
  }
  runtime.markPrCreated(`https://github.com/acme/app/pull/${100 + attempt}`);
  runtime.markPrMerged();
}

for (const task of tasks) {
  const runtime = runtimes.get(task.id) as TaskRuntime;
  const failedDependency = task.dependencies.find((id) => runtimes.get(id)?.status !== 'pr_merged');
  if (failedDependency !== undefined) {
    runtime.markFailed(`blocked: dependency ${failedDependency} did not merge`, {
      retryable: false,
    });
    continue;
  }
  runAttempt(runtime);
  while (runtime.status === 'failed' && runtime.can({ type: 'RETRY' })) {
    runtime.resetForRetry();
    runtime.prepareForAttempt(runtime.state.attemptNum + 1);
    runAttempt(runtime);
  }
}

console.log('\nA refused command changes nothing and says why:');
try {
  runtimes.get('spec-login')?.markRunning();
} catch (error) {
  if (!(error instanceof IllegalTransitionError)) throw error;
  console.log(`  ${error.message}`);
}

console.log('\nSummary:');
for (const runtime of runtimes.values()) {
  const { status, attemptNum } = runtime.state;
  const concerns = runtime.artifacts.concerns;
  console.log(
    `  ${runtime.task.id.padEnd(12)} ${status.padEnd(10)} attempts used: ${runtime.attempts.length}, last attempt ${attemptNum}` +
      (concerns.length > 0 ? `, concerns: ${concerns.join(' | ')}` : ''),
  );
}
