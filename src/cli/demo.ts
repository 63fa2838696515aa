/**
 * `npm start`: a small orchestrator run, saved in a FileTaskStore under `./.task-runtime/`. Four tasks with
 * dependencies go through success, a failed attempt and its retry, a worker that dies mid-attempt (the task is
 * resumed from the store and failed as `worker lost`), a task that runs out of attempts, and a task blocked by
 * its failed dependency. Every transition is printed. Run it again after a kill and it resumes from the store.
 */
import {
  createTask,
  DurableTaskRuntime,
  FileTaskStore,
  IllegalTransitionError,
  type Task,
  TmuxAddress,
} from '../index.js';

/** What the simulated agent does in each attempt: 'pr' succeeds, 'crash' kills the worker, else the failure message. */
const script: Record<string, readonly string[]> = {
  'spec-login': ['pr'],
  'tests-login': ['pytest: 3 failed', 'pr'],
  'impl-login': ['lint failed', 'crash', 'type errors'],
  'docs-login': ['pr'],
};

const tasks: readonly Task[] = [
  createTask({ id: 'spec-login', role: 'spec_writer', description: 'Write the login spec' }),
  createTask({ id: 'tests-login', role: 'test_writer', dependencies: ['spec-login'] }),
  createTask({ id: 'impl-login', role: 'implementer', dependencies: ['tests-login'] }),
  createTask({ id: 'docs-login', role: 'generic', dependencies: ['impl-login'] }),
];

let minute = 0;
const options = { maxAttempts: 3, clock: () => new Date(Date.UTC(2026, 0, 1, 9, minute++)) };

/** Runs one command and prints the transition it made, if any. */
async function step(runtime: DurableTaskRuntime, command: () => Promise<void>): Promise<void> {
  const from = runtime.status;
  await command();
  if (runtime.status === from) return;
  const detail = runtime.status === 'failed' ? `  (${runtime.state.error})` : '';
  console.log(
    `${runtime.task.id.padEnd(12)} attempt ${runtime.state.attemptNum}  ${from.padEnd(10)} → ${runtime.status}` +
      `${detail}  [revision ${runtime.revision}]`,
  );
}

/** One attempt of the simulated agent; returns false when the worker died mid-attempt. */
async function runAttempt(runtime: DurableTaskRuntime): Promise<boolean> {
  const attempt = runtime.state.attemptNum;
  const outcome = script[runtime.task.id]?.[attempt] ?? 'no script';
  await runtime.assignWorktree({
    worktreePath: `/work/${runtime.task.id}-${attempt}`,
    branchName: `task/${runtime.task.id}`,
  });
  await runtime.recordAgentAddress(new TmuxAddress('agentrelay', `%${attempt}`));
  await step(runtime, () => runtime.markRunning());
  if (outcome === 'crash') return false;
  if (outcome !== 'pr') {
    await step(runtime, () => runtime.markFailed(outcome));
    return true;
  }
  await step(runtime, () =>
    runtime.markPrCreated(`https://github.com/acme/app/pull/${100 + attempt}`),
  );
  await step(runtime, () => runtime.markPrMerged());
  return true;
}

/** What an orchestrator does with a task it finds running after a restart: its worker is gone. */
async function recoverLostWorker(runtime: DurableTaskRuntime): Promise<void> {
  if (runtime.status !== 'running' && runtime.status !== 'pr_created') return;
  console.log(
    `${runtime.task.id.padEnd(12)} found ${runtime.status} in the store with no worker: failing it`,
  );
  await step(runtime, () => runtime.markFailed('worker lost'));
}

/** Runs an attempt; when its worker dies, reloads the task from the store as a restarted orchestrator would. */
async function attemptWithRecovery(
  store: FileTaskStore,
  runtime: DurableTaskRuntime,
): Promise<DurableTaskRuntime> {
  if (await runAttempt(runtime)) return runtime;
  console.log(
    `${runtime.task.id.padEnd(12)} the worker died mid-attempt; the orchestrator reloads the task`,
  );
  const reloaded = (await DurableTaskRuntime.load(
    store,
    runtime.task.id,
    options,
  )) as DurableTaskRuntime;
  await recoverLostWorker(reloaded);
  return reloaded;
}

async function main(): Promise<void> {
  const store = await FileTaskStore.open('.task-runtime');
  console.log(`Task store: ${store.dir}`);
  const stored = await Promise.all(
    tasks.map((task) => DurableTaskRuntime.load(store, task.id, options)),
  );
  if (stored.every((runtime) => runtime?.isTerminal)) {
    console.log('The previous run finished; starting a new one.\n');
    for (const runtime of stored) {
      if (runtime !== null)
        await store.delete(runtime.task.id, { expectedRevision: runtime.revision });
    }
  } else if (stored.some((runtime) => runtime !== null)) {
    console.log('Resuming the previous run from the store.\n');
  }

  const runtimes = new Map<string, DurableTaskRuntime>();
  for (const task of tasks) {
    const runtime = await DurableTaskRuntime.open(store, task, options);
    await recoverLostWorker(runtime);
    runtimes.set(task.id, runtime);
  }

  for (const task of tasks) {
    let runtime = runtimes.get(task.id) as DurableTaskRuntime;
    const blocker = task.dependencies.find((id) => runtimes.get(id)?.status !== 'pr_merged');
    if (blocker !== undefined && runtime.status === 'pending') {
      await step(runtime, () =>
        runtime.markFailed(`blocked: dependency ${blocker} did not merge`, { retryable: false }),
      );
    }
    while (runtime.status === 'pending' || runtime.can({ type: 'RETRY' })) {
      if (runtime.status === 'failed') await step(runtime, () => runtime.resetForRetry());
      if (!runtime.can({ type: 'START' }))
        await runtime.prepareForAttempt(runtime.state.attemptNum + 1);
      runtime = await attemptWithRecovery(store, runtime);
    }
    runtimes.set(task.id, runtime);
  }

  console.log('\nA refused command changes nothing and says why:');
  try {
    await runtimes.get('spec-login')?.markRunning();
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) throw error;
    console.log(`  ${error.message}`);
  }

  console.log('\nSummary:');
  for (const runtime of runtimes.values()) {
    const concerns = runtime.artifacts.concerns;
    console.log(
      `  ${runtime.task.id.padEnd(12)} ${runtime.status.padEnd(10)} attempts used: ${runtime.attempts.length}` +
        (concerns.length > 0 ? `, concerns: ${concerns.join(' | ')}` : ''),
    );
  }
  await store.close();
}

await main();
