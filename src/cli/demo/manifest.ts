import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../exit.js';
import type { DemoSettings } from './graph.js';

const FORMAT = 'task-runtime/demo-run';
const FILE_NAME = 'demo-run.json';

/** Where the run manifest of the store in `dir` lives. */
export function manifestPath(dir: string): string {
  return join(dir, FILE_NAME);
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function parseSettings(value: unknown): DemoSettings | null {
  if (typeof value !== 'object' || value === null) return null;
  const { tasks, seed, failRate, maxAttempts, workers } = value as Record<string, unknown>;
  if (!isCount(tasks) || !isCount(seed) || !isCount(maxAttempts) || !isCount(workers)) return null;
  if (typeof failRate !== 'number' || !(failRate >= 0 && failRate <= 1)) return null;
  return { tasks, seed, failRate, maxAttempts, workers };
}

/** The settings of the run stored in `dir`, or null when no run was started there. */
export async function readManifest(dir: string): Promise<DemoSettings | null> {
  const file = manifestPath(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    document = null;
  }
  const record = document as { format?: unknown; settings?: unknown } | null;
  const settings = record?.format === FORMAT ? parseSettings(record.settings) : null;
  if (settings === null) {
    throw new CliError(
      `The demo run manifest '${file}' is corrupt. Start a new run with --fresh, or delete the file.`,
    );
  }
  return settings;
}

/** Records `settings` as the run stored in `dir` (written to a temporary file, then renamed into place). */
export async function writeManifest(dir: string, settings: DemoSettings): Promise<void> {
  const file = manifestPath(dir);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ format: FORMAT, settings }, null, 2)}\n`);
  await rename(temporary, file);
}

/** Forgets the run stored in `dir`. */
export async function deleteManifest(dir: string): Promise<void> {
  await rm(manifestPath(dir), { force: true });
}
