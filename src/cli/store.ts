import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import {
  FileTaskStore,
  PostgresTaskStore,
  TaskRuntimeError,
  type TaskStore,
  TaskStoreError,
} from '../index.js';
import { CliError } from './exit.js';
import { dirOption } from './options.js';
import { dirFlag, shellQuote } from './paths.js';

/** The options naming a store: a FileTaskStore directory, or a PostgresTaskStore's connection string and table. */
export interface StoreOptions {
  readonly dir: string;
  readonly pg?: string;
  readonly pgTable: string;
}

/** The table `--pg` uses unless `--pg-table` says otherwise (the PostgresTaskStore's default). */
const DEFAULT_PG_TABLE = 'task_runtime_tasks';

/** `--dir`, `--pg` and `--pg-table`, for a command that `verb`s a store of either kind. */
export function storeOptions(verb: string): Option[] {
  return [
    dirOption('the task store directory (a FileTaskStore)').conflicts('pg'),
    new Option(
      '--pg <url>',
      `${verb} a PostgresTaskStore instead: its connection string`,
    ).argParser((value) => {
      if (value.trim() === '') {
        throw new InvalidArgumentError('Expected a PostgreSQL connection string.');
      }
      return value;
    }),
    new Option('--pg-table <name>', 'the table of the PostgresTaskStore').default(DEFAULT_PG_TABLE),
  ];
}

/** A connection string with its password replaced by `***`, to print. */
function withoutPassword(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password !== '') url.password = '***';
    return url.href;
  } catch {
    return 'the given PostgreSQL server';
  }
}

/**
 * Opens the existing store the options name, without creating anything, and reads its list once, so a store that
 * cannot be read fails now with a CliError that says why. Returns it with a label to print.
 */
export async function openNamedStore(
  options: StoreOptions,
): Promise<{ store: TaskStore; label: string }> {
  let store: TaskStore;
  let label: string;
  if (options.pg === undefined) {
    store = await openExistingStore(options.dir);
    label = shellQuote(options.dir);
  } else {
    try {
      // migrate: false, so nothing is ever created; a missing table fails the first list() below.
      const pgStore = await PostgresTaskStore.connect({
        connectionString: options.pg,
        table: options.pgTable,
        migrate: false,
      });
      store = pgStore;
      label = `${withoutPassword(options.pg)} (table ${pgStore.table})`;
    } catch (error) {
      if (error instanceof TaskRuntimeError) throw new CliError(error.message);
      throw error;
    }
  }
  try {
    await store.list();
  } catch (error) {
    await store.close().catch(() => undefined);
    if (!(error instanceof Error)) throw error;
    throw new CliError(`Cannot read the tasks of ${label}: ${error.message}`);
  }
  return { store, label };
}

/** What is at `path`: a directory, something else, or nothing. */
async function kindOf(path: string): Promise<'directory' | 'other' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}

/** Opens the FileTaskStore in `dir`, creating it when missing; an unusable directory is a CliError that says why. */
export async function openStore(dir: string): Promise<FileTaskStore> {
  try {
    return await FileTaskStore.open(dir);
  } catch (error) {
    if (error instanceof TaskStoreError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Opens an existing store for reading, without creating anything: a missing directory, or one that holds no
 * store, is a CliError that says how to make one.
 */
export async function openExistingStore(dir: string): Promise<FileTaskStore> {
  const kind = await kindOf(dir);
  if (kind !== 'directory') {
    throw new CliError(
      `No task store at ${shellQuote(dir)}: ${kind === 'missing' ? 'the directory does not exist' : 'it is not a directory'}. ` +
        `Run \`task-runtime demo${dirFlag(dir)}\` to create one, or point --dir at an existing store.`,
    );
  }
  if ((await kindOf(join(dir, 'tasks'))) !== 'directory') {
    throw new CliError(
      `${shellQuote(dir)} is not a task store (it has no tasks/ directory). ` +
        'Point --dir at the directory given to FileTaskStore.open or to `task-runtime demo --dir`.',
    );
  }
  return openStore(dir);
}

/** What to do about a task of a FileTaskStore whose newest generation cannot be read. */
export const DAMAGED_TASK_ADVICE =
  "The store may keep up to three older generations beside a task's newest one (tasks/<task>/g/<generation>/doc.json): " +
  '`task-runtime validate` on the newest doc.json lists them and how to go back to one by hand. ' +
  'Without one, restore the task from a backup, or delete its directory under tasks/ in the store.';

/** The error to end a command with when some stored tasks could not be read. */
export function damagedMessage(ids: readonly string[]): string {
  return `${ids.length} stored task(s) cannot be read: ${ids.join(', ')}. ${DAMAGED_TASK_ADVICE}`;
}
