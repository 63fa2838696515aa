import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FileTaskStore, TaskStoreError } from '../index.js';
import { CliError } from './exit.js';
import { dirFlag, shellQuote } from './paths.js';

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
