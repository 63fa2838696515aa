import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileNameForTaskId } from '../../src/store/taskIdFileName.js';

/** FileTaskStore's documented rhythm: the writer of every fourth generation removes the generations before it. */
export const COMPACT_EVERY = 4;

/** The directory of a task in a FileTaskStore at `storeDir`. */
export const taskDirOf = (storeDir: string, taskId: string): string =>
  join(storeDir, 'tasks', fileNameForTaskId(taskId));

/** The generation directories of a task, ascending (none when it has no `g` yet). */
export function generationsOf(storeDir: string, taskId: string): number[] {
  const g = join(taskDirOf(storeDir, taskId), 'g');
  if (!existsSync(g)) return [];
  return readdirSync(g)
    .filter((name) => /^[1-9][0-9]*$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The generations a task keeps once the clean-up after `newest` is done: those from the last multiple of
 * {@link COMPACT_EVERY} on (all of them before the first one).
 */
export function keptGenerations(newest: number): number[] {
  const first = Math.max(1, newest - (newest % COMPACT_EVERY));
  return Array.from({ length: newest - first + 1 }, (_, i) => first + i);
}
