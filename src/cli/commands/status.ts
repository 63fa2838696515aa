import { Command } from 'commander';
import { DurableTaskRuntime, SnapshotError } from '../../index.js';
import { CliError, EXIT_CODES_HELP } from '../exit.js';
import { dirOption } from '../options.js';
import { dirFlag, shellQuote } from '../paths.js';
import { colorStatus, pc, table } from '../render.js';
import { openExistingStore } from '../store.js';

const HELP_AFTER = `
Columns: task id, status, current attempt number (from 0), and the last error in its ledger (with the attempt
that had it). A task whose stored document cannot be read says so on its line; the others still print, and
the exit code is 1.

Example:
  $ task-runtime status --dir .task-runtime
${EXIT_CODES_HELP}`;

/** The last error of a task: its current one, else the latest failed attempt's, with the attempt number. */
function lastError(task: DurableTaskRuntime): string {
  if (task.state.error !== null) return task.state.error;
  const failed = task.attempts.findLast((record) => record.error !== null);
  return failed === undefined ? '' : `${failed.error} ${pc.dim(`(attempt ${failed.attemptNum})`)}`;
}

/** `task-runtime status`: one line per stored task; corrupt tasks are reported on their line. */
export function createStatusCommand(): Command {
  return new Command('status')
    .description('list the stored tasks: id, status, attempt, last error')
    .addOption(dirOption())
    .addHelpText('after', HELP_AFTER)
    .action(async (options: { readonly dir: string }) => {
      const { dir } = options;
      const store = await openExistingStore(dir);
      try {
        const ids = await store.list();
        if (ids.length === 0) {
          console.log(
            `The task store ${shellQuote(dir)} is empty. Run \`task-runtime demo${dirFlag(dir)}\` to fill it.`,
          );
          return;
        }
        const rows: string[][] = [];
        const damaged: string[] = [];
        for (const id of ids) {
          try {
            const task = await DurableTaskRuntime.load(store, id);
            if (task === null) continue; // deleted since it was listed
            rows.push([
              id,
              colorStatus(task.status),
              String(task.state.attemptNum),
              lastError(task),
            ]);
          } catch (error) {
            if (!(error instanceof SnapshotError)) throw error;
            damaged.push(id);
            rows.push([id, pc.red('CORRUPT'), '—', describeDamage(error)]);
          }
        }
        console.log(`${ids.length} task(s) in ${shellQuote(dir)}:`);
        for (const line of table([['task', 'status', 'attempt', 'last error'], ...rows])) {
          console.log(line);
        }
        if (damaged.length > 0) {
          throw new CliError(
            `${damaged.length} stored task(s) cannot be read: ${damaged.join(', ')}. ` +
              'Restore them from a backup, or delete their directories under tasks/ in the store.',
          );
        }
      } finally {
        await store.close();
      }
    });
}

function describeDamage(error: SnapshotError): string {
  return `SnapshotError: ${error.path === '' ? '' : `${error.path} `}${error.problem}`;
}
