import { basename } from 'node:path';
import { SnapshotError } from '../errors.js';
import { describeValue, isRecord } from '../validation.js';
import type { Lease } from './TaskStore.js';
import { fileNameForTaskId } from './taskIdFileName.js';

/** The `format` field of every stored document, so a foreign JSON file is recognised as such. */
export const FORMAT = 'task-runtime/file-store';
/**
 * The document version this store writes (2: one directory per generation, the document names its generation);
 * version 1 documents (one file per generation) are read and upgraded, newer ones are refused with SnapshotError.
 */
export const DOCUMENT_VERSION = 2;

/** One generation of a task: what a document holds besides the format fields. */
export interface TaskDocument {
  readonly taskId: string;
  /** Grows by one with every save or delete; lease changes keep it. */
  readonly revision: number;
  readonly deleted: boolean;
  /** The last fencing token handed out for this task (0 before the first claim). */
  readonly fencingToken: number;
  readonly lease: Lease | null;
  readonly snapshot: unknown;
}

/** A parsed document and the generation it says it is (null for version 1, which names it in its file name). */
export interface ParsedDocument extends TaskDocument {
  readonly generation: number | null;
}

/** The document of `generation` as JSON text; `snapshotText` is the snapshot's exact JSON. */
export function serializeDocument(
  document: TaskDocument,
  generation: number,
  snapshotText: string,
): string {
  const { taskId, revision, deleted, fencingToken, lease } = document;
  return (
    `{"format":"${FORMAT}","version":${DOCUMENT_VERSION},"taskId":${JSON.stringify(taskId)},` +
    `"generation":${generation},"revision":${revision},"deleted":${deleted},"fencingToken":${fencingToken},` +
    `"lease":${JSON.stringify(lease)},"snapshot":${snapshotText}}`
  );
}

/**
 * Parses a document read from `file` in the directory of a task (`taskDir`); SnapshotError naming the file when it
 * is not a document of that task. `expectedId` is null for a hashed directory name (any id hashing to it).
 */
export function parseDocument(
  text: string,
  expectedId: string | null,
  taskDir: string,
  file: string,
): ParsedDocument {
  const fail = (path: string, problem: string): never => {
    throw new SnapshotError(path, `${problem} (file '${file}')`, expectedId);
  };
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return fail('', 'is not valid JSON: the file is corrupt or was truncated');
  }
  if (!isRecord(document) || document.format !== FORMAT) {
    return fail('', 'is not a task-runtime file-store document');
  }
  const { version } = document;
  if (typeof version !== 'number' || version > DOCUMENT_VERSION) {
    return fail(
      'version',
      `is ${describeValue(version)}, newer than the ${DOCUMENT_VERSION} this version of task-runtime reads; upgrade task-runtime`,
    );
  }
  const storedId = document.taskId;
  const matches =
    expectedId === null
      ? basename(taskDir) === fileNameForTaskId(String(storedId))
      : storedId === expectedId;
  if (typeof storedId !== 'string' || !matches) {
    return fail('taskId', `is ${describeValue(storedId)}, not the task stored under this name`);
  }
  const { generation, revision, deleted, fencingToken, lease } = document;
  if (!('snapshot' in document)) fail('snapshot', 'is missing');
  if (version >= 2 && !(Number.isSafeInteger(generation) && (generation as number) >= 1)) {
    fail('generation', 'is not a positive integer');
  }
  if (!Number.isSafeInteger(revision) || (revision as number) < 1)
    fail('revision', 'is not a positive integer');
  if (typeof deleted !== 'boolean') fail('deleted', 'is not a boolean');
  if (!Number.isSafeInteger(fencingToken) || (fencingToken as number) < 0)
    fail('fencingToken', 'is not a token');
  if (lease !== null && !isLease(lease))
    fail('lease', 'is not a lease { workerId, token, expiresAt }');
  return {
    taskId: storedId,
    generation: version >= 2 ? (generation as number) : null,
    revision: revision as number,
    deleted: deleted as boolean,
    fencingToken: fencingToken as number,
    lease: lease as Lease | null,
    snapshot: document.snapshot,
  };
}

function isLease(value: unknown): value is Lease {
  return (
    isRecord(value) &&
    typeof value.workerId === 'string' &&
    Number.isSafeInteger(value.token) &&
    typeof value.expiresAt === 'string' &&
    !Number.isNaN(Date.parse(value.expiresAt))
  );
}
