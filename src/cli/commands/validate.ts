import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { SnapshotError, TaskRuntime } from '../../index.js';
import {
  FORMAT as FILE_STORE_FORMAT,
  DOCUMENT_VERSION as FILE_STORE_VERSION,
} from '../../store/FileTaskStore.js';
import { describeValue, isRecord } from '../../validation.js';
import { CliError, EXIT_CODES_HELP, ExitCode } from '../exit.js';
import { pc } from '../render.js';

const HELP_AFTER = `
The file holds either a snapshot, as written by JSON.stringify(runtime.persist()), or a FileTaskStore
document (<dir>/tasks/<task>/<generation>.json, the newest one) whose "snapshot" is checked. validate accepts exactly
what TaskRuntime.restore accepts; for anything else it prints where in the file the first problem is and why.

Examples:
  $ task-runtime validate snapshot.json
  $ task-runtime validate .task-runtime/tasks/<task>/3.json

Exit codes here: 0 restorable; 1 not restorable (path and reason printed); 2 unreadable file or not JSON.
${EXIT_CODES_HELP}`;

/** The snapshot inside a parsed file, and where it sits in the file (for error paths). */
interface Located {
  readonly snapshot: unknown;
  /** The path of the snapshot in the file: `''` for a bare snapshot, `'snapshot'` in a store document. */
  readonly at: string;
  readonly kind: string;
}

const isStoreDocument = (json: unknown): json is Record<string, unknown> =>
  isRecord(json) && json.format === FILE_STORE_FORMAT;

function locate(json: unknown): Located {
  if (!isStoreDocument(json)) return { snapshot: json, at: '', kind: 'snapshot' };
  const { version, revision } = json;
  if (typeof version !== 'number' || version > FILE_STORE_VERSION) {
    throw new SnapshotError(
      'version',
      `is ${describeValue(version)}, newer than the ${FILE_STORE_VERSION} this version of task-runtime reads; upgrade task-runtime`,
    );
  }
  if (!('snapshot' in json)) throw new SnapshotError('snapshot', 'is missing');
  const kind = `FileTaskStore document${typeof revision === 'number' ? `, revision ${revision}` : ''}`;
  return { snapshot: json.snapshot, at: 'snapshot', kind };
}

const join = (at: string, path: string): string =>
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

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read ${file} (${readProblem(error)}). Check the path; relative paths start at ${process.cwd()}.`,
      ExitCode.USAGE,
    );
  }
  if (text.trim() === '') {
    throw new CliError(
      `${file} is empty: there is no snapshot to check (a FileTaskStore empties the documents a newer one superseded).`,
      ExitCode.USAGE,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `${file} is not valid JSON (${messageOf(error)}). validate reads the output of JSON.stringify(runtime.persist()) or a FileTaskStore revision file.`,
      ExitCode.USAGE,
    );
  }
}

/** `task-runtime validate <file>`: whether `TaskRuntime.restore` accepts the snapshot in a file. */
export function createValidateCommand(): Command {
  return new Command('validate')
    .description('check that a snapshot file (or a FileTaskStore revision file) can be restored')
    .argument('<file>', 'a JSON snapshot, or a FileTaskStore revision file')
    .addHelpText('after', HELP_AFTER)
    .action(async (file: string, _options: unknown, command: Command) => {
      const json = await readJson(file);
      let located: Located = {
        snapshot: json,
        at: '',
        kind: isStoreDocument(json) ? 'FileTaskStore document' : 'snapshot',
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
        const path = join(located.at, error.path);
        throw new CliError(
          `${file} cannot be restored (${located.kind}):\n` +
            `  path:   ${path === '' ? '(the whole file)' : path}\n` +
            `  reason: ${error.problem}\n` +
            'Fix the value at that path, or use an earlier copy of the task.',
          ExitCode.FAILURE,
        );
      }
    });
}
