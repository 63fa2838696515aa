import { Command } from 'commander';
import { type ReadableTask, readStoredTasks } from '../../graph/storedTasks.js';
import { CliError, EXIT_CODES_HELP } from '../exit.js';
import { dirOption } from '../options.js';
import { dirFlag, shellQuote } from '../paths.js';
import { colorStatus, pc, table } from '../render.js';
import { damagedMessage, openExistingStore } from '../store.js';

const HELP_AFTER = `
Columns: task id, status, current attempt number (from 0), and the last error in its ledger (with the attempt
that had it). A task failed because a dependency failed for good says \`blocked by <dependency>\` there.
A task whose stored document cannot be read says so on its line; the others still print, and the exit
code is 1.

Example:
  $ task-runtime status --dir .task-runtime
${EXIT_CODES_HELP}`;

/** The last error of a task: who blocked it, else its current error, else the latest failed attempt's. */
function lastError({ blockedBy, persisted: { context } }: ReadableTask): string {
  if (blockedBy !== null) return `${pc.red('blocked by')} ${blockedBy}`;
  if (context.error !== null) return context.error;
  const failed = context.attempts.findLast((record) => record.error !== null);
  return failed === undefined ? '' : `${failed.error} ${pc.dim(`(attempt ${failed.attemptNum})`)}`;
}

/** `task-runtime status`: one line per stored task; corrupt tasks are reported on their line. */
export function createStatusCommand(): Command {
  return new Command('status')
    .description('list the stored tasks: id, status, attempt, last error (or who blocked it)')
    .addOption(dirOption())
    .addHelpText('after', HELP_AFTER)
    .action(async (options: { readonly dir: string }) => {
      const { dir } = options;
      const store = await openExistingStore(dir);
      try {
        const stored = await readStoredTasks(store);
        if (stored.length === 0) {
          console.log(
            `The task store ${shellQuote(dir)} is empty. Run \`task-runtime demo${dirFlag(dir)}\` to fill it.`,
          );
          return;
        }
        const rows = stored.map((entry) =>
          entry.kind === 'corrupt'
            ? [entry.id, pc.red('CORRUPT'), '—', entry.problem]
            : [
                entry.id,
                colorStatus(entry.persisted.status),
                String(entry.persisted.context.attemptNum),
                lastError(entry),
              ],
        );
        console.log(`${stored.length} task(s) in ${shellQuote(dir)}:`);
        for (const line of table([['task', 'status', 'attempt', 'last error'], ...rows])) {
          console.log(line);
        }
        const damaged = stored.filter(({ kind }) => kind === 'corrupt').map(({ id }) => id);
        if (damaged.length > 0) throw new CliError(damagedMessage(damaged));
      } finally {
        await store.close();
      }
    });
}
