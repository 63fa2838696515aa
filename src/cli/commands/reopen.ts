import { Command, InvalidArgumentError, Option } from 'commander';
import { readStoredTasks } from '../../graph/storedTasks.js';
import { DurableTaskGraphRuntime, TaskGraph, type TaskStore } from '../../index.js';
import { CliError, EXIT_CODES_HELP } from '../exit.js';
import { integerIn } from '../options.js';
import { addStoreOptions, damagedMessage, openNamedStore, type StoreOptions } from '../store.js';

const HELP_AFTER = `
An operator's second chance for a task that failed for good (not retryable, or out of attempts): the task
returns to pending with its next attempt prepared and --attempts more counted attempts, and every task its
failure blocked returns to pending with it, transitively (a task that another failed dependency still
blocks is blocked again by that one). The error is kept in the task's concerns as \`reopened: <reason>
(last error: …)\`. The change is saved like any command of a DurableTaskGraphRuntime; a GraphWorker run on
the store afterwards starts the returned tasks once their dependencies merge. A worker already running in
another process does not see the reopen (it works from its own copy of the run): open the run and run() again.

A task that is only blocked cannot be reopened: reopen the task that blocked it (the error says which).
A failure that can still be retried is refused too: the worker retries it by itself.

Examples:
  $ task-runtime reopen impl-login --reason "fixed the flaky CI runner"
  $ task-runtime reopen spec --reason "new API key" --attempts 3 --dir /tmp/store
${EXIT_CODES_HELP}`;

/** The options of `task-runtime reopen`, as commander parses them. */
interface ReopenCommandOptions extends StoreOptions {
  readonly reason: string;
  readonly attempts: number;
}

function reasonText(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('Expected a non-empty reason.');
  return value;
}

/** The run of every task stored in `store`, opened as a DurableTaskGraphRuntime with the stored limits. */
async function openStoredRun(
  store: TaskStore,
  label: string,
  options: StoreOptions,
): Promise<DurableTaskGraphRuntime> {
  const stored = await readStoredTasks(store);
  const damaged = stored.filter(({ kind }) => kind === 'corrupt').map(({ id }) => id);
  if (damaged.length > 0) throw new CliError(damagedMessage(damaged, options));
  if (stored.length === 0)
    throw new CliError(`The task store ${label} is empty: nothing to reopen.`);
  const tasks = stored.flatMap((entry) =>
    entry.kind === 'task' ? [entry.persisted.context.task] : [],
  );
  let graph: TaskGraph;
  try {
    graph = TaskGraph.fromTasks(tasks);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    throw new CliError(`The tasks stored in ${label} do not form one run: ${error.message}`);
  }
  // Opened as one more worker of the run, so that a worker saving the same tasks meanwhile is met, not fought.
  return DurableTaskGraphRuntime.open(store, graph, {
    workerId: `task-runtime-reopen-${process.pid}`,
  });
}

/** `task-runtime reopen <id> --reason TEXT [--attempts N]`: reopens a finally failed task of a stored run. */
export function createReopenCommand(): Command {
  const command = new Command('reopen')
    .description(
      'give a task that failed for good a second chance, and return the tasks it blocked to pending',
    )
    .argument('<id>', 'the id of the task to reopen')
    .addOption(
      new Option('-r, --reason <text>', 'why it is reopened (kept in its concerns)')
        .makeOptionMandatory()
        .argParser(reasonText),
    )
    .addOption(
      new Option('-a, --attempts <n>', 'counted attempts it may use from now on (1-1000)')
        .default(1)
        .argParser(integerIn(1, 1000)),
    );
  addStoreOptions(command, 'reopen a task of');
  return command
    .addHelpText('after', HELP_AFTER)
    .action(async (id: string, options: ReopenCommandOptions) => {
      const { store, label } = await openNamedStore(options);
      let opened: DurableTaskGraphRuntime | null = null;
      try {
        const run = await openStoredRun(store, label, options);
        opened = run;
        if (!run.graph.has(id)) {
          const known = run.graph.taskIds.join(', ');
          throw new CliError(`No task '${id}' is stored in ${label}. Stored tasks: ${known}.`);
        }
        const before = new Map(
          run.graph.taskIds.map((taskId) => [taskId, run.task(taskId).blockedBy] as const),
        );
        const failedBefore = run.graph.taskIds.filter(
          (taskId) => run.task(taskId).status === 'failed',
        );
        await run.reopen(id, options.reason, { attempts: options.attempts });
        const { attemptNum } = run.task(id).state;
        console.log(
          `Reopened ${id}: attempt ${attemptNum} prepared, ${options.attempts} counted attempt(s) allowed.`,
        );
        const returned = failedBefore.filter((taskId) => run.task(taskId).status === 'pending');
        console.log(`Returned to pending: ${returned.join(', ')}.`);
        const reopened = new Set(returned);
        for (const taskId of failedBefore) {
          const blockedBy = run.task(taskId).blockedBy;
          const was = before.get(taskId) ?? null;
          if (blockedBy !== null && was !== null && reopened.has(was)) {
            console.log(`Blocked again: ${taskId}, by ${blockedBy} (it failed for good too).`);
          }
        }
      } finally {
        opened?.close();
        await store.close();
      }
    });
}
