import { randomBytes } from 'node:crypto';
import {
  constants,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  ConflictError,
  InvalidArgumentError,
  LeaseLostError,
  SnapshotError,
  TaskStoreError,
} from '../errors.js';
import { describeValue, isRecord } from '../validation.js';
import {
  checkDeleteOptions,
  checkLeaseOptions,
  checkLeaseRef,
  checkSaveOptions,
  checkTaskId,
  checkWorkerId,
  needsLiveWorker,
  serializeSnapshot,
} from './storeArguments.js';
import type {
  DeleteOptions,
  Lease,
  LeaseOptions,
  LeaseRef,
  SaveOptions,
  StoredTask,
  TaskStore,
} from './TaskStore.js';
import { fileNameForTaskId, taskIdForFileName } from './taskIdFileName.js';

/** The `format` field of every stored document, so a foreign JSON file is recognised as such. */
export const FORMAT = 'task-runtime/file-store';
/** The document version this store writes; newer ones are refused with SnapshotError. */
export const DOCUMENT_VERSION = 1;
const GENERATION_FILE = /^([1-9][0-9]{0,15})\.json$/;
/** How often an operation starts over when another writer changed the task under it (not a conflict yet). */
const MAX_ROUNDS = 100;

/** One generation of a task: what a document holds besides the format fields. */
interface TaskDocument {
  readonly taskId: string;
  /** Grows by one with every save or delete; lease changes keep it. */
  readonly revision: number;
  readonly deleted: boolean;
  /** The last fencing token handed out for this task (0 before the first claim). */
  readonly fencingToken: number;
  readonly lease: Lease | null;
  readonly snapshot: unknown;
}

/** The newest generation of a task as read from disk. */
interface Current extends TaskDocument {
  readonly generation: number;
}

/** Options of {@link FileTaskStore.open}. */
export interface FileTaskStoreOptions {
  /** Source of the time leases expire by. @default () => new Date() */
  readonly clock?: () => Date;
}

/** A temporary file of a dead process older than this is removed when a store is opened. */
const ABANDONED_AFTER_MS = 60_000;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};
const isMissing = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
const isTaken = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException | null)?.code === 'EEXIST';
const holds = (current: Current | null, lease: LeaseRef): boolean =>
  current?.lease?.workerId === lease.workerId &&
  current.lease.token === lease.token &&
  !current.deleted;
const exists = (current: Current | null): current is Current =>
  current !== null && !current.deleted;

/**
 * The embedded default store: one directory per task under `dir/tasks`, one JSON document per generation.
 *
 * Every change (save, delete, claim, renew, release) writes the task's next generation to a temporary file,
 * fsyncs it, and hard-links it to `<generation>.json` in the task's directory, then fsyncs the directory.
 * Creating a link fails when the name exists, so of all writers that read generation N — in this process or any
 * other on the machine — exactly one creates N + 1; the others read again and decide anew (ConflictError,
 * LeaseLostError, or another try). That is a compare-and-set without lock files, hence without stale locks after
 * a SIGKILL, and a generation file is complete or absent, never torn. Older generations are removed after each
 * change; a delete writes a tombstone, so a task id's revisions and fencing tokens are never reused.
 * @example
 * const store = await FileTaskStore.open('./.task-runtime');
 * const revision = await store.save('login', runtime.persist(), { expectedRevision: null });
 */
export class FileTaskStore implements TaskStore {
  /** The store's directory, absolute. */
  readonly dir: string;
  readonly #tasksDir: string;
  readonly #tmpDir: string;
  readonly #clock: () => Date;
  #closed = false;
  #tmpCounter = 0;

  private constructor(dir: string, clock: () => Date) {
    this.dir = dir;
    this.#tasksDir = join(dir, 'tasks');
    this.#tmpDir = join(dir, 'tmp');
    this.#clock = clock;
  }

  /** Opens (and creates when missing) a store in `dir`; TaskStoreError when it is not a writable directory. */
  static async open(dir: string, options: FileTaskStoreOptions = {}): Promise<FileTaskStore> {
    if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) {
      throw new InvalidArgumentError('dir', 'a directory path', describeValue(dir));
    }
    const clock = options.clock ?? (() => new Date());
    if (typeof clock !== 'function') {
      throw new InvalidArgumentError('clock', 'a function returning a Date', describeValue(clock));
    }
    const store = new FileTaskStore(resolve(dir), clock);
    try {
      await mkdir(store.#tasksDir, { recursive: true });
      await mkdir(store.#tmpDir, { recursive: true });
      const probe = store.#tmpPath();
      await (await open(probe, 'wx')).close();
      await unlink(probe);
    } catch (cause) {
      const problem = `${(cause as Error).message}; give a directory this process can create and write`;
      throw new TaskStoreError(null, `open a file store in '${store.dir}'`, problem, { cause });
    }
    await store.#removeAbandonedTemporaryFiles();
    return store;
  }

  /** @inheritDoc */
  async load(taskId: string): Promise<StoredTask | null> {
    this.#checkOpen('load');
    checkTaskId(taskId);
    const current = await this.#read(taskId, 'load');
    return exists(current) ? { snapshot: current.snapshot, revision: current.revision } : null;
  }

  /** @inheritDoc */
  async save(taskId: string, snapshot: unknown, options: SaveOptions): Promise<number> {
    this.#checkOpen('save');
    checkTaskId(taskId);
    checkSaveOptions(options);
    const snapshotText = serializeSnapshot(snapshot);
    const { expectedRevision, lease } = options;
    const next = await this.#change(taskId, 'save', snapshotText, (current) => {
      if (lease !== undefined) requireLease(taskId, current, lease);
      checkExpected(taskId, expectedRevision, current);
      return {
        taskId,
        revision: (current?.revision ?? 0) + 1,
        deleted: false,
        fencingToken: current?.fencingToken ?? 0,
        lease: current?.deleted === false ? current.lease : null,
        snapshot: undefined,
      };
    });
    return (next as TaskDocument).revision;
  }

  /** @inheritDoc */
  async delete(taskId: string, options: DeleteOptions): Promise<void> {
    this.#checkOpen('delete');
    checkTaskId(taskId);
    checkDeleteOptions(options);
    await this.#change(taskId, 'delete', 'null', (current) => {
      checkExpected(taskId, options.expectedRevision, current);
      const { revision, fencingToken } = current as Current;
      return {
        taskId,
        revision: revision + 1,
        deleted: true,
        fencingToken,
        lease: null,
        snapshot: null,
      };
    });
  }

  /** The ids of every stored task, sorted; ids too long to be a file name are read from their document, unreadable ones are left out. */
  async list(): Promise<string[]> {
    this.#checkOpen('list');
    const ids = await this.#mapTasks(async (name, known) => {
      const current = await this.#readDir(join(this.#tasksDir, name), known, 'list').catch(
        (error) => {
          if (known !== null && error instanceof SnapshotError) return 'corrupt' as const;
          return null;
        },
      );
      if (current === 'corrupt') return known; // listed, so that load() reports what is wrong with it
      return exists(current) ? current.taskId : null;
    });
    return ids.sort();
  }

  /** @inheritDoc */
  async claim(taskId: string, workerId: string, options: LeaseOptions): Promise<Lease | null> {
    this.#checkOpen('claim');
    checkTaskId(taskId);
    checkWorkerId(workerId);
    checkLeaseOptions(options);
    const next = await this.#change(taskId, 'claim', null, (current) => {
      if (!exists(current)) throw notStored(taskId, 'claim');
      if (current.lease !== null && Date.parse(current.lease.expiresAt) > this.#now()) return null;
      const token = current.fencingToken + 1;
      const expiresAt = new Date(this.#now() + options.leaseMs).toISOString();
      return { ...current, fencingToken: token, lease: { workerId, token, expiresAt } };
    });
    return next?.lease ?? null;
  }

  /** @inheritDoc */
  async renew(taskId: string, lease: LeaseRef, options: LeaseOptions): Promise<Lease> {
    this.#checkOpen('renew');
    checkTaskId(taskId);
    checkLeaseRef(lease);
    checkLeaseOptions(options);
    const next = await this.#change(taskId, 'renew', null, (current) => {
      requireLease(taskId, current, lease);
      const expiresAt = new Date(this.#now() + options.leaseMs).toISOString();
      return {
        ...(current as Current),
        lease: { workerId: lease.workerId, token: lease.token, expiresAt },
      };
    });
    return (next as TaskDocument).lease as Lease;
  }

  /** @inheritDoc */
  async release(taskId: string, lease: LeaseRef): Promise<void> {
    this.#checkOpen('release');
    checkTaskId(taskId);
    checkLeaseRef(lease);
    await this.#change(taskId, 'release', null, (current) => {
      requireLease(taskId, current, lease);
      return { ...(current as Current), lease: null };
    });
  }

  /** @inheritDoc */
  async listExpired(): Promise<string[]> {
    this.#checkOpen('listExpired');
    const now = this.#now();
    const ids = await this.#mapTasks(async (name, known) => {
      const current = await this.#readDir(join(this.#tasksDir, name), known, 'listExpired').catch(
        () => null,
      );
      const expired =
        exists(current) && current.lease !== null && Date.parse(current.lease.expiresAt) <= now;
      return expired && needsLiveWorker(current.snapshot) ? current.taskId : null;
    });
    return ids.sort();
  }

  /** @inheritDoc */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #now(): number {
    return this.#clock().getTime();
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new TaskStoreError(null, operation, 'the store was closed; open it again');
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

  /** Calls `read` for every task directory (with the id its name encodes, or null) and keeps the ids it returns. */
  async #mapTasks(
    read: (name: string, known: string | null) => Promise<string | null>,
  ): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.#tasksDir);
    } catch (cause) {
      throw this.#ioError(null, 'list', cause);
    }
    const ids = await Promise.all(
      names.map((name) => {
        const known = taskIdForFileName(name);
        return known === null && !name.startsWith('~h') ? null : read(name, known);
      }),
    );
    return ids.filter((id): id is string => id !== null);
  }

  async #read(taskId: string, operation: string): Promise<Current | null> {
    return this.#readDir(join(this.#tasksDir, fileNameForTaskId(taskId)), taskId, operation);
  }

  /** The newest generation in a task directory; `expectedId` null for a hashed name (any id that hashes to it). */
  async #readDir(
    dir: string,
    expectedId: string | null,
    operation: string,
  ): Promise<Current | null> {
    let emptyBefore = 0;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (cause) {
        if (isMissing(cause)) return null;
        throw this.#ioError(expectedId, operation, cause);
      }
      let generation = 0;
      for (const name of names) {
        const match = GENERATION_FILE.exec(name);
        if (match?.[1] !== undefined) generation = Math.max(generation, Number(match[1]));
      }
      if (generation === 0) return null;
      const file = join(dir, `${generation}.json`);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (cause) {
        if (isMissing(cause)) continue;
        throw this.#ioError(expectedId, operation, cause);
      }
      if (text === '' && emptyBefore !== generation) {
        emptyBefore = generation; // superseded between listing and reading: list again
        continue;
      }
      return { generation, ...parseDocument(text, expectedId, dir, file) };
    }
    throw new TaskStoreError(
      expectedId,
      operation,
      `it changed ${MAX_ROUNDS} times while being read`,
    );
  }

  /**
   * The compare-and-set loop: reads the newest generation, lets `decide` check it and describe the next one
   * (or return null for "nothing to write"), and links that as the next generation; starts over when another
   * writer linked first. `snapshotText` replaces the snapshot of `decide`'s document when not null.
   */
  async #change(
    taskId: string,
    operation: string,
    snapshotText: string | null,
    decide: (current: Current | null) => TaskDocument | null,
  ): Promise<TaskDocument | null> {
    const dir = join(this.#tasksDir, fileNameForTaskId(taskId));
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const current = await this.#read(taskId, operation);
      const next = decide(current);
      if (next === null) return null;
      const generation = (current?.generation ?? 0) + 1;
      const text = serializeDocument(next, snapshotText ?? JSON.stringify(next.snapshot));
      if (await this.#link(taskId, dir, generation, text, operation)) {
        if (current !== null) await this.#empty(join(dir, `${current.generation}.json`));
        return next;
      }
    }
    throw new TaskStoreError(
      taskId,
      operation,
      `other writers changed it ${MAX_ROUNDS} times in a row; try again`,
    );
  }

  /** Writes `text` durably and links it as `<generation>.json`; false when another writer created it first. */
  async #link(
    taskId: string,
    dir: string,
    generation: number,
    text: string,
    operation: string,
  ): Promise<boolean> {
    const tmp = this.#tmpPath();
    try {
      await writeDurably(tmp, text);
      await mkdir(dir, { recursive: true });
      try {
        await link(tmp, join(dir, `${generation}.json`));
      } catch (cause) {
        if (isTaken(cause)) return false;
        throw cause;
      }
      await fsyncDirectory(dir);
      if (generation === 1) await fsyncDirectory(this.#tasksDir);
      return true;
    } catch (cause) {
      throw this.#ioError(taskId, operation, cause);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * Replaces a superseded generation by an empty file instead of removing it: its name stays taken, so a writer
   * that read an older generation and was delayed can never link into it later (no ABA). Failures are harmless.
   */
  async #empty(file: string): Promise<void> {
    const placeholder = this.#tmpPath();
    await writeFile(placeholder, '', { flag: 'wx' })
      .then(() => rename(placeholder, file))
      .catch(() => unlink(placeholder).catch(() => undefined));
  }

  /** Removes temporary files left by processes that died mid-write (their pid is gone and the file is old). */
  async #removeAbandonedTemporaryFiles(): Promise<void> {
    const names = await readdir(this.#tmpDir).catch(() => [] as string[]);
    const cutoff = Date.now() - ABANDONED_AFTER_MS;
    await Promise.all(
      names.map(async (name) => {
        const pid = Number(/^(\d+)-/.exec(name)?.[1]);
        if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) return;
        const file = join(this.#tmpDir, name);
        const { mtimeMs } = await stat(file).catch(() => ({ mtimeMs: Number.POSITIVE_INFINITY }));
        if (mtimeMs < cutoff) await unlink(file).catch(() => undefined);
      }),
    );
  }

  #tmpPath(): string {
    this.#tmpCounter += 1;
    return join(
      this.#tmpDir,
      `${process.pid}-${this.#tmpCounter}-${randomBytes(6).toString('hex')}.json`,
    );
  }
}

/** Throws LeaseLostError unless `lease` is the task's current lease. */
function requireLease(taskId: string, current: Current | null, lease: LeaseRef): void {
  if (!holds(current, lease)) {
    throw new LeaseLostError(taskId, lease.workerId, lease.token, current?.fencingToken ?? null);
  }
}

function checkExpected(taskId: string, expected: number | null, current: Current | null): void {
  const actual = exists(current) ? current.revision : null;
  if (actual !== expected) throw new ConflictError(taskId, expected, actual);
}

function notStored(taskId: string, operation: string): TaskStoreError {
  return new TaskStoreError(taskId, operation, 'it is not stored; save it first');
}

function serializeDocument(document: TaskDocument, snapshotText: string): string {
  const { taskId, revision, deleted, fencingToken, lease } = document;
  return (
    `{"format":"${FORMAT}","version":${DOCUMENT_VERSION},"taskId":${JSON.stringify(taskId)},` +
    `"revision":${revision},"deleted":${deleted},"fencingToken":${fencingToken},"lease":${JSON.stringify(lease)},` +
    `"snapshot":${snapshotText}}`
  );
}

function parseDocument(
  text: string,
  expectedId: string | null,
  dir: string,
  file: string,
): TaskDocument {
  const taskId = expectedId;
  const fail = (path: string, problem: string): never => {
    throw new SnapshotError(path, `${problem} (file '${file}')`, taskId);
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
  if (typeof document.version !== 'number' || document.version > DOCUMENT_VERSION) {
    return fail(
      'version',
      `is ${describeValue(document.version)}, newer than the ${DOCUMENT_VERSION} this version of task-runtime reads; upgrade task-runtime`,
    );
  }
  const storedId = document.taskId;
  const matches =
    expectedId === null
      ? basename(dir) === fileNameForTaskId(String(storedId))
      : storedId === expectedId;
  if (typeof storedId !== 'string' || !matches) {
    return fail('taskId', `is ${describeValue(storedId)}, not the task stored under this name`);
  }
  const { revision, deleted, fencingToken, lease } = document;
  if (!('snapshot' in document)) fail('snapshot', 'is missing');
  if (!Number.isSafeInteger(revision) || (revision as number) < 1)
    fail('revision', 'is not a positive integer');
  if (typeof deleted !== 'boolean') fail('deleted', 'is not a boolean');
  if (!Number.isSafeInteger(fencingToken) || (fencingToken as number) < 0)
    fail('fencingToken', 'is not a token');
  if (lease !== null && !isLease(lease))
    fail('lease', 'is not a lease { workerId, token, expiresAt }');
  return {
    taskId: storedId,
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

async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx');
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
