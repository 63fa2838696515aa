import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  FileTaskStore,
  PostgresTaskStore,
  TaskRuntimeError,
  type TaskStore,
  TaskStoreError,
} from '../index.js';
import { isTableName } from '../store/PostgresTaskStore.js';
import { CliError, ExitCode } from './exit.js';
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

/**
 * Adds `--dir`, `--pg` and `--pg-table` to a command that `verb`s a store of either kind; `--pg-table` defaults to
 * `table` and is a usage error without `--pg`.
 */
export function addStoreOptions(command: Command, verb: string, table = DEFAULT_PG_TABLE): Command {
  command
    .addOption(dirOption('the task store directory (a FileTaskStore)').conflicts('pg'))
    .addOption(
      new Option(
        '--pg <url>',
        `${verb} a PostgresTaskStore instead: its connection string`,
      ).argParser((value) => {
        if (value.trim() === '') {
          throw new InvalidArgumentError('Expected a PostgreSQL connection string.');
        }
        return value;
      }),
    )
    .addOption(
      new Option(
        '--pg-table <name>',
        'the table of the PostgresTaskStore (a lower-case SQL identifier)',
      )
        .default(table)
        .argParser(tableName),
    );
  return command.hook('preAction', (self) => {
    if (self.getOptionValueSource('pgTable') === 'cli' && self.opts().pg === undefined) {
      self.error(
        `error: option '--pg-table <name>' names a table of a PostgresTaskStore: expected --pg <url> with it, given no --pg`,
        { code: 'task-runtime.pgTableWithoutPg', exitCode: ExitCode.USAGE },
      );
    }
  });
}

/** A commander argument parser for `--pg-table`: a name PostgresTaskStore accepts, or a usage error. */
function tableName(value: string): string {
  if (!isTableName(value)) {
    throw new InvalidArgumentError(
      'Expected a lower-case SQL identifier (a letter or _, then letters, digits or _; at most 63 characters), ' +
        'such as task_runtime_tasks.',
    );
  }
  return value;
}

/** A connection string to repeat in a suggested command line: its password hidden, quoted for a shell. */
function pgArgument(connectionString: string): string {
  return URL.canParse(connectionString)
    ? shellQuote(withoutPassword(connectionString))
    : "'<connection string>'";
}

/**
 * The options naming the store, to repeat in a suggested command line: ` --dir …` (empty for the default
 * directory), or ` --pg … --pg-table …` with the password hidden.
 */
export function storeFlagsOf(options: StoreOptions): string {
  return options.pg === undefined
    ? dirFlag(options.dir)
    : ` --pg ${pgArgument(options.pg)} --pg-table ${shellQuote(options.pgTable)}`;
}

/** A connection string with its password replaced by `***`, to print. */
export function withoutPassword(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password !== '') url.password = '***';
    return url.href;
  } catch {
    return 'the given PostgreSQL server';
  }
}

/** How the commands name the store the options name, to print (a password never shown). */
export function storeLabelOf(options: StoreOptions): string {
  return options.pg === undefined
    ? shellQuote(options.dir)
    : `${withoutPassword(options.pg)} (table ${options.pgTable})`;
}

/**
 * Error codes that say a PostgreSQL server is not up yet, or not reachable yet: refused, reset or timed-out
 * connections, a host name that does not resolve yet (a container still starting), a missing Unix socket, and
 * the server's own "starting up" (57P03).
 */
const SERVER_NOT_UP = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
  '57P03',
]);
/** PostgreSQL's undefined_table: the orchestrator has not created the store's table yet. */
const UNDEFINED_TABLE = '42P01';

/** The first error code along `error`'s causes (and an AggregateError's errors), or null. */
function codeOf(error: unknown): string | null {
  for (let seen = 0, cause = error; cause instanceof Error && seen < 8; seen += 1) {
    const { code } = cause as NodeJS.ErrnoException;
    if (typeof code === 'string') return code;
    const inner = cause instanceof AggregateError ? cause.errors[0] : undefined;
    cause = inner ?? cause.cause;
  }
  return null;
}

/** The store the options name, open and read once; or why it is not there yet (it may still appear). */
export type StoreOpening =
  | { readonly store: TaskStore; readonly label: string; readonly notYet: null }
  | { readonly store: null; readonly label: string; readonly notYet: string };

/**
 * Opens the store the options name like {@link openNamedStore}, but tells a store that is not there *yet* from
 * one that cannot be used: a directory that does not exist or has no tasks/ yet, a PostgreSQL server that does
 * not answer yet, or a table not created yet, is `notYet` (why, as a phrase); anything else is a CliError.
 */
export async function openNamedStoreOnceThere(options: StoreOptions): Promise<StoreOpening> {
  const label = storeLabelOf(options);
  if (options.pg === undefined) {
    const kind = await kindOf(options.dir);
    if (kind === 'missing') {
      return { store: null, label, notYet: 'the directory does not exist yet' };
    }
    if (kind === 'directory' && (await kindOf(join(options.dir, 'tasks'))) !== 'directory') {
      return { store: null, label, notYet: 'the directory holds no task store (tasks/) yet' };
    }
    return { ...(await openNamedStore(options)), notYet: null };
  }
  let store: TaskStore;
  try {
    store = await connectPostgres(options.pg, options.pgTable);
  } catch (error) {
    const code = codeOf(error);
    if (code !== null && SERVER_NOT_UP.has(code)) {
      return { store: null, label, notYet: `the server does not answer yet (${code})` };
    }
    throw error instanceof TaskRuntimeError ? new CliError(error.message) : error;
  }
  try {
    await store.list();
  } catch (error) {
    await store.close().catch(() => undefined);
    if (!(error instanceof Error)) throw error;
    const code = codeOf(error);
    if (code === UNDEFINED_TABLE)
      return { store: null, label, notYet: 'its table does not exist yet' };
    if (code !== null && SERVER_NOT_UP.has(code)) {
      return { store: null, label, notYet: `the server does not answer yet (${code})` };
    }
    throw new CliError(`Cannot read the tasks of ${label}: ${error.message}`);
  }
  return { store, label, notYet: null };
}

/** Connects to a PostgresTaskStore's table without creating anything (a missing table fails its first read). */
function connectPostgres(connectionString: string, table: string): Promise<TaskStore> {
  return PostgresTaskStore.connect({ connectionString, table, migrate: false });
}

/**
 * Opens the existing store the options name, without creating anything, and reads its list once, so a store that
 * cannot be read fails now with a CliError that says why. Returns it with a label to print.
 */
export async function openNamedStore(
  options: StoreOptions,
): Promise<{ store: TaskStore; label: string }> {
  const label = storeLabelOf(options);
  let store: TaskStore;
  if (options.pg === undefined) {
    store = await openExistingStore(options.dir);
  } else {
    try {
      store = await connectPostgres(options.pg, options.pgTable);
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
const DAMAGED_TASK_ADVICE =
  "The store may keep up to three older generations beside a task's newest one (tasks/<task>/g/<generation>/doc.json): " +
  '`task-runtime validate` on the newest doc.json lists them and how to go back to one by hand. ' +
  'Without one, restore the task from a backup, or delete its directory under tasks/ in the store.';

/** What to do about a task of a PostgresTaskStore whose snapshot cannot be read. */
const DAMAGED_ROW_ADVICE =
  "A PostgresTaskStore keeps only a task's newest snapshot (its row's snapshot_json, no older generations): " +
  'restore the row from a backup of the table.';

/** What to do about a stored task that cannot be read, in the store the options name. */
export function damagedAdviceOf(options: StoreOptions): string {
  return options.pg === undefined ? DAMAGED_TASK_ADVICE : DAMAGED_ROW_ADVICE;
}

/** The error to end a command with when some tasks stored in the store the options name could not be read. */
export function damagedMessage(ids: readonly string[], options: StoreOptions): string {
  return `${ids.length} stored task(s) cannot be read: ${ids.join(', ')}. ${damagedAdviceOf(options)}`;
}
