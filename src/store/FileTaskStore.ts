import { randomBytes } from 'node:crypto';
import {
  constants,
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  stat,
  unlink,
} from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConflictError, InvalidArgumentError, SnapshotError, TaskStoreError } from '../errors.js';
import { describeValue, isPositiveInteger, isRecord } from '../validation.js';
import type { DeleteOptions, SaveOptions, StoredTask, TaskStore } from './TaskStore.js';
import { checkTaskId, fileNameForTaskId, taskIdForFileName } from './taskIdFileName.js';

/** The `format` field of every stored document, so a foreign JSON file is recognised as such. */
const FORMAT = 'task-runtime/file-store';
/** The document version this store writes; newer ones are refused with SnapshotError. */
const DOCUMENT_VERSION = 1;
const REVISION_FILE = /^([1-9][0-9]{0,15})\.json$/;
/** How often a load retries when a revision it saw was replaced (and removed) between listing and reading. */
const READ_RETRIES = 20;

interface StoredDocument {
  readonly format: typeof FORMAT;
  readonly version: typeof DOCUMENT_VERSION;
  readonly taskId: string;
  readonly revision: number;
  readonly savedAt: string;
  readonly snapshot: unknown;
}

/** The newest revision file of a task; `deleted` when it is a tombstone (an empty file). */
interface LatestRevision {
  readonly revision: number;
  readonly deleted: boolean;
}

const isMissing = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
const isTaken = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException | null)?.code === 'EEXIST';

function checkRevision(value: unknown, argument: string, nullable: boolean): void {
  if ((nullable && value === null) || isPositiveInteger(value)) return;
  throw new InvalidArgumentError(
    argument,
    nullable ? 'a positive integer, or null for "must not exist yet"' : 'a positive integer',
    describeValue(value),
  );
}

/**
 * The embedded default store: one directory per task under `dir/tasks`, one JSON file per revision.
 *
 * A save writes the document to a temporary file, fsyncs it, and hard-links it to `<revision>.json` in the
 * task's directory, then fsyncs the directory. Creating a link fails if the name exists, so of all the writers
 * that expect revision N — in this process or any other on the machine — exactly one creates N + 1, and the
 * others get ConflictError: a compare-and-set without lock files, hence without stale locks after a SIGKILL.
 * A revision file is complete or absent, never torn. Older revisions are removed after each save; a delete
 * writes an empty tombstone revision, so revision numbers of a task id are never reused.
 * @example
 * const store = await FileTaskStore.open('./.task-runtime');
 * const revision = await store.save('login', runtime.persist(), { expectedRevision: null });
 */
export class FileTaskStore implements TaskStore {
  /** The store's directory, absolute. */
  readonly dir: string;
  readonly #tasksDir: string;
  readonly #tmpDir: string;
  #closed = false;
  #tmpCounter = 0;

  private constructor(dir: string) {
    this.dir = dir;
    this.#tasksDir = join(dir, 'tasks');
    this.#tmpDir = join(dir, 'tmp');
  }

  /** Opens (and creates when missing) a store in `dir`; fails with TaskStoreError when it is not a writable directory. */
  static async open(dir: string): Promise<FileTaskStore> {
    if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) {
      throw new InvalidArgumentError('dir', 'a directory path', describeValue(dir));
    }
    const store = new FileTaskStore(resolve(dir));
    try {
      await mkdir(store.#tasksDir, { recursive: true });
      await mkdir(store.#tmpDir, { recursive: true });
      const probe = join(store.#tmpDir, `probe-${process.pid}-${randomBytes(6).toString('hex')}`);
      await (await open(probe, 'wx')).close();
      await unlink(probe);
    } catch (cause) {
      throw new TaskStoreError(
        null,
        `open a file store in '${store.dir}'`,
        `${(cause as Error).message}; give a directory this process can create and write`,
        { cause },
      );
    }
    return store;
  }

  /** @inheritDoc */
  async load(taskId: string): Promise<StoredTask | null> {
    this.#checkOpen('load');
    checkTaskId(taskId);
    const dir = this.#taskDir(taskId);
    for (let retry = 0; retry < READ_RETRIES; retry += 1) {
      const latest = await this.#latest(taskId, dir, 'load');
      if (latest === null || latest.deleted) return null;
      const file = join(dir, `${latest.revision}.json`);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (cause) {
        if (isMissing(cause)) continue; // replaced by a newer revision between listing and reading
        throw this.#ioError(taskId, 'load', cause);
      }
      return {
        snapshot: parseDocument(text, taskId, latest.revision, file).snapshot,
        revision: latest.revision,
      };
    }
    throw new TaskStoreError(
      taskId,
      'load',
      `its revisions changed ${READ_RETRIES} times while being read`,
    );
  }

  /** @inheritDoc */
  async save(taskId: string, snapshot: unknown, options: SaveOptions): Promise<number> {
    this.#checkOpen('save');
    checkTaskId(taskId);
    if (!isRecord(options)) {
      throw new InvalidArgumentError(
        'options',
        'an object { expectedRevision }',
        describeValue(options),
      );
    }
    const { expectedRevision } = options;
    checkRevision(expectedRevision, 'expectedRevision', true);
    const snapshotText = serializeSnapshot(snapshot);
    const dir = this.#taskDir(taskId);
    const latest = await this.#latest(taskId, dir, 'save');
    const revision = (latest?.revision ?? 0) + 1;
    const text =
      `{"format":"${FORMAT}","version":${DOCUMENT_VERSION},"taskId":${JSON.stringify(taskId)},` +
      `"revision":${revision},"savedAt":"${new Date().toISOString()}","snapshot":${snapshotText}}`;
    this.#checkExpected(taskId, expectedRevision, latest);
    await this.#createRevision(taskId, dir, revision, text, expectedRevision, 'save');
    await this.#removeRevisionsBefore(dir, revision);
    return revision;
  }

  /** @inheritDoc */
  async delete(taskId: string, options: DeleteOptions): Promise<void> {
    this.#checkOpen('delete');
    checkTaskId(taskId);
    if (!isRecord(options)) {
      throw new InvalidArgumentError(
        'options',
        'an object { expectedRevision }',
        describeValue(options),
      );
    }
    checkRevision(options.expectedRevision, 'expectedRevision', false);
    const dir = this.#taskDir(taskId);
    const latest = await this.#latest(taskId, dir, 'delete');
    this.#checkExpected(taskId, options.expectedRevision, latest);
    const revision = (latest?.revision ?? 0) + 1;
    await this.#createRevision(taskId, dir, revision, '', options.expectedRevision, 'delete');
    await this.#removeRevisionsBefore(dir, revision);
  }

  /** @inheritDoc Hashed names (ids over 200 encoded characters) are named from their document; unreadable ones are left out. */
  async list(): Promise<string[]> {
    this.#checkOpen('list');
    let names: string[];
    try {
      names = await readdir(this.#tasksDir);
    } catch (cause) {
      throw this.#ioError(null, 'list', cause);
    }
    const ids = await Promise.all(
      names.map(async (name) => {
        const known = taskIdForFileName(name);
        if (known === null && !name.startsWith('~h')) return null;
        try {
          if (known !== null) {
            const latest = await this.#latest(known, join(this.#tasksDir, name), 'list');
            return latest === null || latest.deleted ? null : known;
          }
          return await this.#taskIdOfHashedName(name);
        } catch {
          return null; // a stray file or an unreadable task must not break the listing of the others
        }
      }),
    );
    return ids.filter((id): id is string => id !== null).sort();
  }

  /** @inheritDoc */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #taskDir(taskId: string): string {
    return join(this.#tasksDir, fileNameForTaskId(taskId));
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new TaskStoreError(null, operation, 'the store was closed; open it again');
  }

  #checkExpected(taskId: string, expected: number | null, latest: LatestRevision | null): void {
    const actual = latest === null || latest.deleted ? null : latest.revision;
    if (actual !== expected) throw new ConflictError(taskId, expected, actual);
  }

  #ioError(taskId: string | null, operation: string, cause: unknown): TaskStoreError {
    const code = (cause as NodeJS.ErrnoException | null)?.code;
    const hint =
      code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `; the store directory '${this.dir}' is not writable by this process`
        : code === 'ENOSPC'
          ? '; the disk is full'
          : '';
    return new TaskStoreError(taskId, operation, `${(cause as Error).message}${hint}`, { cause });
  }

  async #latest(taskId: string, dir: string, operation: string): Promise<LatestRevision | null> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (cause) {
      if (isMissing(cause)) return null;
      throw this.#ioError(taskId, operation, cause);
    }
    let revision = 0;
    for (const name of names) {
      const match = REVISION_FILE.exec(name);
      if (match?.[1] !== undefined) revision = Math.max(revision, Number(match[1]));
    }
    if (revision === 0) return null;
    try {
      const { size } = await stat(join(dir, `${revision}.json`));
      return { revision, deleted: size === 0 };
    } catch (cause) {
      if (isMissing(cause)) return this.#latest(taskId, dir, operation); // replaced meanwhile
      throw this.#ioError(taskId, operation, cause);
    }
  }

  /** Writes `text` durably and links it to `<revision>.json`; only one writer can create a given revision. */
  async #createRevision(
    taskId: string,
    dir: string,
    revision: number,
    text: string,
    expected: number | null,
    operation: string,
  ): Promise<void> {
    this.#tmpCounter += 1;
    const tmp = join(
      this.#tmpDir,
      `${process.pid}-${this.#tmpCounter}-${randomBytes(6).toString('hex')}.json`,
    );
    try {
      await writeDurably(tmp, text);
      await mkdir(dir, { recursive: true });
      try {
        await link(tmp, join(dir, `${revision}.json`));
      } catch (cause) {
        if (!isTaken(cause)) throw cause;
        const now = await this.#latest(taskId, dir, operation);
        throw new ConflictError(
          taskId,
          expected,
          now === null || now.deleted ? null : now.revision,
        );
      }
      await fsyncDirectory(dir);
      if (revision === 1) await fsyncDirectory(this.#tasksDir);
    } catch (cause) {
      if (cause instanceof ConflictError) throw cause;
      throw this.#ioError(taskId, operation, cause);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /** Removes superseded revision files; failures are harmless (loads always pick the newest). */
  async #removeRevisionsBefore(dir: string, revision: number): Promise<void> {
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names.map(async (name) => {
        const match = REVISION_FILE.exec(name);
        if (match?.[1] !== undefined && Number(match[1]) < revision) {
          await unlink(join(dir, name)).catch(() => undefined);
        }
      }),
    );
  }

  async #taskIdOfHashedName(name: string): Promise<string | null> {
    const dir = join(this.#tasksDir, name);
    const names = await readdir(dir);
    const revisions = names.flatMap((n) => {
      const match = REVISION_FILE.exec(n);
      return match?.[1] === undefined ? [] : [Number(match[1])];
    });
    if (revisions.length === 0) return null;
    const revision = Math.max(...revisions);
    const file = join(dir, `${revision}.json`);
    const text = await readFile(file, 'utf8');
    if (text === '') return null;
    const document = JSON.parse(text) as { taskId?: unknown };
    const { taskId } = document;
    return typeof taskId === 'string' && fileNameForTaskId(taskId) === name ? taskId : null;
  }
}

function serializeSnapshot(snapshot: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(snapshot);
  } catch (cause) {
    throw new InvalidArgumentError(
      'snapshot',
      'a JSON-serializable value',
      `a value JSON.stringify refused (${(cause as Error).message})`,
    );
  }
  if (text === undefined) {
    throw new InvalidArgumentError(
      'snapshot',
      'a JSON-serializable value',
      describeValue(snapshot),
    );
  }
  return text;
}

function parseDocument(
  text: string,
  taskId: string,
  revision: number,
  file: string,
): StoredDocument {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new SnapshotError(
      '',
      `is not valid JSON (file '${file}' is corrupt or was truncated)`,
      taskId,
    );
  }
  if (!isRecord(document) || document.format !== FORMAT) {
    throw new SnapshotError(
      '',
      `is not a task-runtime file-store document (file '${file}')`,
      taskId,
    );
  }
  if (typeof document.version !== 'number' || document.version > DOCUMENT_VERSION) {
    throw new SnapshotError(
      'version',
      `is ${describeValue(document.version)}, newer than the ${DOCUMENT_VERSION} this version of task-runtime reads; upgrade task-runtime`,
      taskId,
    );
  }
  if (document.taskId !== taskId) {
    throw new SnapshotError(
      'taskId',
      `is ${describeValue(document.taskId)}, not the task stored under this name (file '${file}')`,
      taskId,
    );
  }
  if (document.revision !== revision) {
    throw new SnapshotError(
      'revision',
      `is ${describeValue(document.revision)}, but the file is revision ${revision}`,
      taskId,
    );
  }
  return document as unknown as StoredDocument;
}

async function writeDurably(file: string, text: string): Promise<void> {
  const handle: FileHandle = await open(file, 'wx');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
