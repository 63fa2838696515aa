import { Command, Option } from 'commander';
import { type LeaseSummary, summarize } from '../../dashboard/summary.js';
import {
  type ReadableTask,
  readStoredTasks,
  runOutcomeOf,
  type StoredEntry,
} from '../../graph/storedTasks.js';
import { CliError, EXIT_CODES_HELP } from '../exit.js';
import { dirFlag } from '../paths.js';
import { colorStatus, formatTimeWithZone, pc, table } from '../render.js';
import { addStoreOptions, damagedMessage, openNamedStore, type StoreOptions } from '../store.js';

const HELP_AFTER = `
Columns: task id, status, current attempt number (from 0), and the last error in its ledger (with the attempt
that had it). A task failed because a dependency failed for good says \`blocked by <dependency>\` there.
When some task is held under a lease (workers sharing a run claim the tasks they work on), two more columns
say which worker holds each task and until when (UTC); a lease that expired on a running or pr_created task
means its worker is presumed lost (another worker takes the task over). The last line is the run's outcome:
in_progress, succeeded, or completed_with_failures.
A task whose stored document cannot be read says so on its line; the others still print, and the exit
code is 1.

--json prints { store, outcome, tasks: [{ id, status, role, attemptNum, lastError, prUrl, blockedBy,
dependencies, lastChange, revision, problem, lease: { workerId, token, expiresAt, standing } | null }] },
the rows of the dashboard's /api/tasks; standing is held, expired, or lost.

Examples:
  $ task-runtime status --dir .task-runtime
  $ task-runtime status --pg postgresql://me@127.0.0.1:5432/tasks --json | jq '.tasks[] | select(.lease)'
${EXIT_CODES_HELP}`;

/** The options of `task-runtime status`, as commander parses them. */
interface StatusOptions extends StoreOptions {
  readonly json?: boolean;
}

/** The last error of a task: who blocked it, else its current error, else the latest failed attempt's. */
function lastError({ blockedBy, persisted: { context } }: ReadableTask): string {
  if (blockedBy !== null) return `${pc.red('blocked by')} ${blockedBy}`;
  if (context.error !== null) return context.error;
  const failed = context.attempts.findLast((record) => record.error !== null);
  return failed === undefined ? '' : `${failed.error} ${pc.dim(`(attempt ${failed.attemptNum})`)}`;
}

/** The lease column: until when it holds, or since when it expired (and, on a running task, that its worker is lost). */
function leaseText(lease: LeaseSummary | null): string {
  if (lease === null) return '';
  const time = formatTimeWithZone(lease.expiresAt);
  switch (lease.standing) {
    case 'held':
      return `until ${time}`;
    case 'expired':
      return pc.dim(`expired ${time}`);
    case 'lost':
      return pc.red(`expired ${time}, worker presumed lost`);
  }
}

/** One line of the table: id, status, attempt, then the lease columns when `leases`, then the last error. */
function row(entry: StoredEntry, lease: LeaseSummary | null, leases: boolean): string[] {
  const leaseCells = leases ? [lease?.workerId ?? '', leaseText(lease)] : [];
  return entry.kind === 'corrupt'
    ? [entry.id, pc.red('CORRUPT'), '—', ...leaseCells, entry.problem]
    : [
        entry.id,
        colorStatus(entry.persisted.status),
        String(entry.persisted.context.attemptNum),
        ...leaseCells,
        lastError(entry),
      ];
}

/** `task-runtime status`: one line per stored task; corrupt tasks are reported on their line. */
export function createStatusCommand(): Command {
  const command = new Command('status').description(
    'list the stored tasks: id, status, attempt, who holds it, last error (or who blocked it)',
  );
  addStoreOptions(command, 'list');
  return command
    .addOption(new Option('--json', 'print JSON for other tools instead of a table'))
    .addHelpText('after', HELP_AFTER)
    .action(async (options: StatusOptions) => {
      const { store, label } = await openNamedStore(options);
      try {
        const stored = await readStoredTasks(store);
        const now = Date.now();
        const summaries = stored.map((entry) => summarize(entry, now));
        const outcome = runOutcomeOf(stored);
        if (options.json === true) {
          console.log(JSON.stringify({ store: label, outcome, tasks: summaries }, null, 2));
        } else if (stored.length === 0) {
          const fill =
            options.pg === undefined
              ? ` Run \`task-runtime demo${dirFlag(options.dir)}\` to fill it.`
              : '';
          console.log(`The task store ${label} is empty.${fill}`);
        } else {
          const leases = summaries.some((summary) => summary.lease !== null);
          const header = [
            'task',
            'status',
            'attempt',
            ...(leases ? ['worker', 'lease'] : []),
            'last error',
          ];
          const rows = stored.map((entry, index) =>
            row(entry, summaries[index]?.lease ?? null, leases),
          );
          console.log(`${stored.length} task(s) in ${label}:`);
          for (const line of table([header, ...rows])) console.log(line);
          console.log(`Run outcome: ${outcome}`);
        }
        const damaged = stored.filter(({ kind }) => kind === 'corrupt').map(({ id }) => id);
        if (damaged.length > 0) throw new CliError(damagedMessage(damaged, options));
      } finally {
        await store.close();
      }
    });
}
