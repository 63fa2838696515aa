import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Command } from 'commander';
import { SnapshotError, TaskRuntime } from '../../index.js';
import {
  FORMAT as FILE_STORE_FORMAT,
  DOCUMENT_VERSION as FILE_STORE_VERSION,
} from '../../store/FileTaskStore.js';
import { describeValue, isRecord } from '../../validation.js';
import { CliError, EXIT_CODES_HELP, ExitCode } from '../exit.js';
import { shellQuote } from '../paths.js';
import { pc } from '../render.js';

const HELP_AFTER = `
The file holds one task: its snapshot, as written by JSON.stringify(runtime.persist()), or a FileTaskStore
task document, <dir>/tasks/<task>/g/<generation>/doc.json (the highest generation is the task's newest),
whose "snapshot" is checked. validate accepts exactly what TaskRuntime.restore accepts; for anything else it
prints where in the file the first problem is and why. For a damaged task document it lists the older
generations the store keeps beside it and how to go back to one.

Examples:
  $ task-runtime validate snapshot.json
  $ task-runtime validate .task-runtime/tasks/<task>/g/<generation>/doc.json

Exit codes here: 0 restorable; 1 anything else about the file: not restorable (path and reason printed),
not a task (the store's store.json, a graph run's snapshot…), empty, not JSON (a truncated document), or
unreadable; 2 a usage error (no file given, an unknown option).
${EXIT_CODES_HELP}`;

/** What validate checks, for the messages about a file that is something else. */
const EXPECTED =
  "one task's snapshot (the JSON of runtime.persist(), an object with schemaVersion, status and context) " +
  'or a FileTaskStore task document (<dir>/tasks/<task>/g/<generation>/doc.json)';

/** The snapshot inside a parsed file, and where it sits in the file (for error paths). */
interface Located {
  readonly snapshot: unknown;
  /** The path of the snapshot in the file: `''` for a bare snapshot, `'snapshot'` in a store document. */
  readonly at: string;
  readonly kind: string;
}

const isStoreFile = (json: unknown): json is Record<string, unknown> =>
  isRecord(json) && json.format === FILE_STORE_FORMAT;

/** An object, for a message: its `format` when it has one, and its first keys. */
function describeObject(json: Record<string, unknown>): string {
  const keys = Object.keys(json);
  if (keys.length === 0) return 'an empty object';
  const format = typeof json.format === 'string' ? ` (format ${JSON.stringify(json.format)})` : '';
  const more = keys.length > 6 ? ', …' : '';
  return `an object${format} with the keys ${keys.slice(0, 6).join(', ')}${more}`;
}

/**
 * Why the parsed `json` of `file` is not one task's snapshot or document, naming what it is when it is a file
 * task-runtime writes; null when it means to be one (restore then says what, if anything, is wrong with it).
 */
function notATask(file: string, json: unknown): string | null {
  const named = (what: string): string => `${file} is ${what}.\nvalidate expects ${EXPECTED}.`;
  if (isStoreFile(json)) {
    if ('layout' in json && !('snapshot' in json)) {
      const layout = typeof json.layout === 'number' ? json.layout : describeValue(json.layout);
      return named(
        `the store's layout record (store.json), not a task document: it records that the store's task ` +
          `directories are in layout ${layout}`,
      );
    }
    if ('note' in json && !('taskId' in json) && !('snapshot' in json)) {
      return named(
        `the guard an upgraded store keeps in every task directory (${Number.MAX_SAFE_INTEGER}.json), not a ` +
          'task document: it makes the versions of task-runtime that read one file per generation refuse the task',
      );
    }
    return null;
  }
  if (isRecord(json) && json.kind === 'task-graph-run') {
    return named(
      "a graph run's snapshot (TaskGraphRuntime.persist(), every task of the run), not one task's; a " +
        'DurableTaskGraphRuntime stores each task under its own id, whose document validate checks',
    );
  }
  if (isRecord(json) && ['schemaVersion', 'status', 'context'].some((key) => key in json))
    return null;
  const got = isRecord(json) ? describeObject(json) : describeValue(json);
  return `${file} is not a task: expected ${EXPECTED}, got ${got}.`;
}

/** The snapshot of a file that is meant to be one task's; SnapshotError when its store document is unreadable. */
function locate(json: unknown): Located {
  if (!isStoreFile(json)) return { snapshot: json, at: '', kind: 'snapshot' };
  const { version, revision } = json;
  if (typeof version !== 'number') {
    throw new SnapshotError(
      'version',
      `is ${describeValue(version)}; a FileTaskStore task document names its version (1 to ${FILE_STORE_VERSION})`,
    );
  }
  if (version > FILE_STORE_VERSION) {
    throw new SnapshotError(
      'version',
      `is ${version}, newer than the ${FILE_STORE_VERSION} this version of task-runtime reads; upgrade task-runtime`,
    );
  }
  if (!('snapshot' in json)) throw new SnapshotError('snapshot', 'is missing');
  const kind = `FileTaskStore document${typeof revision === 'number' ? `, revision ${revision}` : ''}`;
  return { snapshot: json.snapshot, at: 'snapshot', kind };
}

const joinPath = (at: string, path: string): string =>
  at === '' ? path : path === '' ? at : path.startsWith('[') ? `${at}${path}` : `${at}.${path}`;

/** An error's message; errors from another realm (a test sandbox) are not `instanceof Error`. */
function messageOf(error: unknown): string {
  return isRecord(error) && typeof error.message === 'string' ? error.message : String(error);
}

/** Why a file could not be read, in words, from a Node.js file-system error. */
function readProblem(error: unknown): string {
  const code = isRecord(error) ? error.code : undefined;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return messageOf(error);
}

const GENERATION = /^[1-9][0-9]{0,15}$/;

/**
 * For a FileTaskStore task document (`…/g/<generation>/doc.json`, even one whose document is gone): which older
 * generations the store kept beside it, and how to go back to one by hand. Null for any other file.
 */
async function recoveryAdvice(file: string): Promise<string | null> {
  const generationDir = dirname(file);
  const generationsDir = dirname(generationDir);
  const name = basename(generationDir);
  if (basename(file) !== 'doc.json' || basename(generationsDir) !== 'g' || !GENERATION.test(name)) {
    return null;
  }
  const generations = (await readdir(generationsDir).catch(() => [] as string[]))
    .filter((entry) => GENERATION.test(entry))
    .map(Number);
  const damaged = Number(name);
  if (!generations.includes(damaged)) return null;
  const at = (generation: number): string => join(generationsDir, String(generation));
  const newest = Math.max(...generations);
  if (newest > damaged) {
    return `This is not the task's newest generation: the store reads ${at(newest)}/doc.json.`;
  }
  const older = generations.filter((generation) => generation < damaged).sort((a, b) => b - a);
  const [latest] = older;
  if (latest === undefined) {
    const why =
      damaged === 1
        ? 'this is its first'
        : 'the writer of every fourth generation removes the ones before it';
    return (
      `The store keeps no older generation of this task (${why}): restore the task from a backup, or ` +
      `delete its directory ${shellQuote(dirname(generationsDir))} to drop it (stop every process that uses ` +
      'the store first).'
    );
  }
  return (
    `The store keeps older generations of this task beside it: ${older.map((n) => `g/${n}`).join(', ')} ` +
    '(newest first). To go back to one by hand: stop every process that uses the store; check it with ' +
    `\`task-runtime validate ${shellQuote(`${at(latest)}/doc.json`)}\`; then move the damaged generation ` +
    `out of the store (\`mv ${shellQuote(at(damaged))} <a directory outside the store>\`). The store then ` +
    `reads g/${latest} as the task's newest (its revision and lease with it), and the next change writes ` +
    `generation ${damaged} again.`
  );
}

/** Ends the command with exit code 1: `problem`, then the recovery advice for a damaged task document. */
async function refuse(file: string, problem: string): Promise<never> {
  const advice = await recoveryAdvice(file);
  throw new CliError(advice === null ? problem : `${problem}\n${advice}`, ExitCode.FAILURE);
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return refuse(
      file,
      `cannot read ${file} (${readProblem(error)}). Check the path; relative paths start at ${process.cwd()}.`,
    );
  }
  if (text.trim() === '') {
    return refuse(
      file,
      `${file} is empty: there is no snapshot to check (a FileTaskStore never writes an empty document: the file was truncated or is not one).`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    return refuse(
      file,
      `${file} is not valid JSON (${messageOf(error)}): it was truncated, or it is not a snapshot. validate reads the output of JSON.stringify(runtime.persist()) or a FileTaskStore task document.`,
    );
  }
}

/** `task-runtime validate <file>`: whether `TaskRuntime.restore` accepts the snapshot in a file. */
export function createValidateCommand(): Command {
  return new Command('validate')
    .description('check that a snapshot file (or a FileTaskStore task document) can be restored')
    .argument('<file>', 'a JSON snapshot, or a FileTaskStore task document (g/<n>/doc.json)')
    .addHelpText('after', HELP_AFTER)
    .action(async (file: string, _options: unknown, command: Command) => {
      const json = await readJson(file);
      const notTask = notATask(file, json);
      if (notTask !== null) throw new CliError(notTask, ExitCode.FAILURE);
      let located: Located = {
        snapshot: json,
        at: '',
        kind: isStoreFile(json) ? 'FileTaskStore document' : 'snapshot',
      };
      try {
        located = locate(json);
        const runtime = TaskRuntime.restore(located.snapshot);
        const write = command.configureOutput().writeOut ?? ((text) => process.stdout.write(text));
        write(
          `${pc.green('OK')} ${file}: task '${runtime.task.id}' is restorable ` +
            `(${located.kind}; status ${runtime.status}, attempt ${runtime.state.attemptNum})\n`,
        );
      } catch (error) {
        if (!(error instanceof SnapshotError)) throw error;
        const path = joinPath(located.at, error.path);
        const advice = await recoveryAdvice(file);
        throw new CliError(
          `${file} cannot be restored (${located.kind}):\n` +
            `  path:   ${path === '' ? '(the whole file)' : path}\n` +
            `  reason: ${error.problem}\n` +
            (advice ?? 'Fix the value at that path, or use an earlier copy of the task.'),
          ExitCode.FAILURE,
        );
      }
    });
}
