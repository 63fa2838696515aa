import { Command } from 'commander';
import {
  type AttemptRecord,
  DurableTaskRuntime,
  SnapshotError,
  type TaskStore,
} from '../../index.js';
import { CliError, EXIT_CODES_HELP } from '../exit.js';
import { colorStatus, formatDuration, formatTime, heading, pc, table } from '../render.js';
import {
  addStoreOptions,
  damagedAdviceOf,
  openNamedStore,
  type StoreOptions,
  storeFlagsOf,
} from '../store.js';

const HELP_AFTER = `
Shows the task's attempt ledger as a timeline: one row per attempt used, with its start and end (times from
the orchestrator's clock), duration, outcome, error and PR URL; then the task's concerns. An attempt that
failed before it started (a task blocked by its dependency) has no start time.

Examples:
  $ task-runtime history impl-login --dir .task-runtime
  $ task-runtime history impl-login --pg postgresql://me@127.0.0.1:5432/tasks --pg-table task_runtime_demo
${EXIT_CODES_HELP}`;

function duration(record: AttemptRecord): string {
  if (record.startedAt === null) return '—';
  if (record.endedAt === null) return 'running';
  return formatDuration(Date.parse(record.endedAt) - Date.parse(record.startedAt));
}

function outcome(record: AttemptRecord): string {
  const word = colorStatus(record.outcome);
  return record.outcome === 'failed' && record.retryable === false
    ? `${word} ${pc.dim('(final)')}`
    : word;
}

/** The ledger as table rows, one per attempt. */
function timeline(records: readonly AttemptRecord[]): string[] {
  return table([
    ['attempt', 'started', 'ended', 'duration', 'outcome', 'error', 'PR'],
    ...records.map((record) => [
      String(record.attemptNum),
      formatTime(record.startedAt),
      formatTime(record.endedAt),
      duration(record),
      outcome(record),
      record.error ?? '',
      record.prUrl ?? '',
    ]),
  ]);
}

/** Ids close to `wanted` (same letters up to case, containing it, or contained in it), for a hint. */
function similarIds(wanted: string, ids: readonly string[]): string[] {
  const lower = wanted.toLowerCase();
  return ids
    .filter((id) => {
      const other = id.toLowerCase();
      return other === lower || other.includes(lower) || lower.includes(other);
    })
    .slice(0, 5);
}

/** The stored task `taskId`; a CliError that says why not when it is missing (naming close ids) or damaged. */
async function loadOrExplain(
  store: TaskStore,
  taskId: string,
  label: string,
  options: StoreOptions,
): Promise<DurableTaskRuntime> {
  let task: DurableTaskRuntime | null;
  try {
    task = await DurableTaskRuntime.load(store, taskId);
  } catch (error) {
    if (!(error instanceof SnapshotError)) throw error;
    throw new CliError(`${error.message} Its history cannot be shown. ${damagedAdviceOf(options)}`);
  }
  if (task !== null) return task;
  const similar = similarIds(taskId, await store.list());
  throw new CliError(
    `No task '${taskId}' in ${label}.` +
      (similar.length > 0 ? ` Did you mean ${similar.map((id) => `'${id}'`).join(', ')}?` : '') +
      ` See the stored ids with \`task-runtime status${storeFlagsOf(options)}\`.`,
  );
}

/** `task-runtime history <taskId>`: a task's attempt ledger as a timeline, plus its concerns. */
export function createHistoryCommand(): Command {
  const command = new Command('history')
    .description(
      "show a task's attempts as a timeline (start, end, duration, outcome, error, PR) and its concerns",
    )
    .argument('<taskId>', 'the id of a stored task (see `task-runtime status`)');
  addStoreOptions(command, 'show a task of');
  return command
    .addHelpText('after', HELP_AFTER)
    .action(async (taskId: string, options: StoreOptions) => {
      const { store, label } = await openNamedStore(options);
      try {
        const task = await loadOrExplain(store, taskId, label, options);
        const { attemptNum, error } = task.state;
        console.log(
          `${heading(task.task.id)} (${task.task.role}): ${colorStatus(task.status)}, attempt ${attemptNum}` +
            (error === null ? '' : ` — ${pc.red(error)}`),
        );
        if (task.task.description !== null) console.log(`  ${task.task.description}`);
        if (task.task.dependencies.length > 0) {
          console.log(`  depends on: ${task.task.dependencies.join(', ')}`);
        }
        console.log('');
        if (task.attempts.length === 0) {
          console.log('No attempts yet.');
        } else {
          console.log(heading('Attempts'));
          for (const line of timeline(task.attempts)) console.log(line);
        }
        const { concerns } = task.artifacts;
        console.log('');
        console.log(heading('Concerns'));
        if (concerns.length === 0) console.log('  none');
        for (const concern of concerns) console.log(`  - ${concern}`);
      } finally {
        await store.close();
      }
    });
}
