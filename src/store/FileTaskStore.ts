import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  ConflictError,
  InvalidArgumentError,
  LeaseLostError,
  SnapshotError,
  TaskStoreError,
} from '../errors.js';
import { describeValue, isRecord } from '../validation.js';
import {
  DOCUMENT_VERSION,
  FORMAT,
  parseDocument,
  serializeDocument,
  type TaskDocument,
} from './fileStoreDocument.js';
import type {
  FileStoreJob,
  ReadManyOutcome,
  ReadOutcome,
  SeenDocument,
} from './fileStoreThread.js';
import { type FileStoreThreads, rebuiltError, useFileStoreThreads } from './fileStoreThreadPool.js';
import type { ChangedTask, ChangeLoader, KnownRevision } from './sharedRunStore.js';
import {
  checkDeleteOptions,
  checkKnownRevisions,
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

export { DOCUMENT_VERSION, FORMAT };

/** The directory of a task's generations: `<task>/g/<generation>/doc.json`. */
const GENERATIONS = 'g';
const DOCUMENT = 'doc.json';
/**
 * A symbolic link an earlier version kept to the newest document; nothing reads it any more, and the next
 * compaction removes it (readers of that version check that no newer generation exists, so a stale one is harmless).
 */
const OLD_HINT = 'current';
const GENERATION_DIR = /^[1-9][0-9]{0,15}$/;
/** A generation file of the version 1 layout (one file per generation in the task's directory). */
const LEGACY_FILE = /^([1-9][0-9]{0,15})\.json$/;
/**
 * Written into every task directory: version 1 of task-runtime reads the highest `<n>.json` first, finds a newer
 * document version and refuses the task ("upgrade task-runtime") instead of taking the task for a new one.
 */
const OLD_VERSION_GUARD = `${Number.MAX_SAFE_INTEGER}.json`; // the highest name version 1 reads back exactly
const OLD_VERSION_GUARD_TEXT = `{"format":"${FORMAT}","version":${DOCUMENT_VERSION},"note":"this store was upgraded; read it with this version of task-runtime or newer"}\n`;
/** The store's own description: the layout of its task directories. */
const LAYOUT_FILE = 'store.json';
const LAYOUT = 2;
/** How often an operation starts over when another writer changed the task under it (not a conflict yet). */
const MAX_ROUNDS = 100;
/**
 * The superseded generations are removed by the change that creates every COMPACT_EVERY-th generation, in its
 * thread right after it answered: a task holds at most this many generations, and removals come in batches (one at
 * every change costs a third of a save).
 */
const COMPACT_EVERY = 4;
/** What the store's threads are told when they start: the layout's names. */
const THREAD_DATA = {
  document: DOCUMENT,
  generationPattern: GENERATION_DIR.source,
  maxRounds: MAX_ROUNDS,
};
/** Task directories read at once by list() and listExpired(). */
const LIST_CONCURRENCY = 64;
/** How many tasks one thread job of {@link FileTaskStore.loadChanged} reads. */
const READS_PER_JOB = 256;
/** How many of those jobs {@link FileTaskStore.loadChanged} keeps under way at once. */
const CHUNKS_AHEAD = 3;
/** Tasks whose last written (and last seen) generation an instance remembers (without the snapshot: about 200 bytes each). */
const REMEMBERED_TASKS = 16_384;
/** A temporary file of a dead process older than this is removed when a store is opened. */
const ABANDONED_AFTER_MS = 60_000;

/** The newest generation of a task as read from disk. */
interface Current extends TaskDocument {
  readonly generation: number;
  /** Read from the version 1 layout: the task is upgraded before it changes. */
  readonly legacy: boolean;
}

/** A task as loadChanged last read it: enough to tell, without reading it, that it is unchanged. */
interface SeenTask extends SeenDocument {
  readonly revision: number;
  readonly lease: Lease | null;
}

/** One chunk of a {@link FileTaskStore.loadChanged}: its entries, their directories, what was seen of them, the job. */
interface ChunkRead {
  readonly chunk: readonly KnownRevision[];
  readonly dirs: readonly string[];
  readonly seen: readonly (SeenTask | null)[];
  readonly found: Promise<readonly ReadManyOutcome[]>;
}

/** Sets `key` in `map`, first forgetting the oldest entry when it holds {@link REMEMBERED_TASKS}. */
function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  if (map.size >= REMEMBERED_TASKS) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
  map.set(key, value);
}

/** Options of {@link FileTaskStore.open}. */
export interface FileTaskStoreOptions {
  /** Source of the time leases expire by. @default () => new Date() */
  readonly clock?: () => Date;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};
const codeOf = (error: unknown): string | undefined =>
  (error as NodeJS.ErrnoException | null)?.code;
const isMissing = (error: unknown): boolean => codeOf(error) === 'ENOENT';
const ignore = (): undefined => undefined;
const holds = (current: Current | null, lease: LeaseRef): boolean =>
  current?.lease?.workerId === lease.workerId &&
  current.lease.token === lease.token &&
  !current.deleted;
const exists = (current: Current | null): current is Current =>
  current !== null && !current.deleted;

/**
 * The embedded default store: one directory per task under `dir/tasks`; in it, `g/<generation>/doc.json` holds the
 * newest generation of the task and at most three superseded ones.
 *
 * A change (save, delete, claim, renew, release) that read generation N writes the document of N + 1 into a new
 * directory inside N's (`g/N/p-…/doc.json`), fsyncs it, renames that directory to `g/N+1` and fsyncs `g`. The
 * rename fails when `g/N+1` exists, so of all writers that read N — in this process or any other on the machine —
 * exactly one creates N + 1: a compare-and-set without lock files, hence without stale locks after a SIGKILL.
 * Every fourth generation's writer then removes the generations before it, oldest first and one at a time. A
 * writer that read N and stalled can never win later: its directory lived inside N's, and N is only removed after
 * N + 1 exists, so its rename either meets N + 1 or finds its own directory gone. A task's directory therefore
 * holds a bounded number of files whatever its history. A delete writes a tombstone, so revisions and fencing tokens are never reused.
 * Stores written by version 1 (one file per generation) are upgraded when opened.
 *
 * The disk work runs in worker threads, shared by every store of the process: a read, or the writing of a
 * generation with its fsyncs and rename, is one synchronous job there, so it costs one hop to a thread (where
 * asynchronous calls cost a hop through libuv's pool each) and never blocks the event loop. The first job starts
 * a thread; overlapping changes start more, up to 16, so that their fsyncs overlap too; idle ones beyond the last
 * end after a few seconds, none keeps the process alive while idle, and all end a second after the last store of
 * the process closed.
 * @example
 * const store = await FileTaskStore.open('./.task-runtime');
 * const revision = await store.save('login', runtime.persist(), { expectedRevision: null });
 */
export class FileTaskStore implements TaskStore, ChangeLoader {
  /** The store's directory, absolute. */
  readonly dir: string;
  readonly #tasksDir: string;
  readonly #tmpDir: string;
  readonly #clock: () => Date;
  #closed = false;
  #tmpCounter = 0;
  readonly #threads: FileStoreThreads;
  /** The reads and changes under way and the clean-ups after changes, awaited by flush() and close(). */
  readonly #operations = new Set<Promise<unknown>>();
  /**
   * The generation this instance last wrote, per task: the next change tries it first instead of reading the
   * disk. A stale entry costs one more round (its compare-and-set fails, or `decide` refuses), never a wrong write.
   */
  readonly #written = new Map<string, Current>();
  /** What loadChanged last read of each task, by its directory, without the snapshot (see {@link SeenTask}). */
  readonly #seen = new Map<string, SeenTask>();

  private constructor(dir: string, clock: () => Date) {
    this.dir = dir;
    this.#tasksDir = join(dir, 'tasks');
    this.#tmpDir = join(dir, 'tmp');
    this.#clock = clock;
    this.#threads = useFileStoreThreads(THREAD_DATA);
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
      await store.#prepare();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** @inheritDoc */
  async load(taskId: string): Promise<StoredTask | null> {
    this.#checkOpen('load');
    checkTaskId(taskId);
    const current = await this.#track(this.#read(this.#taskDir(taskId), taskId, 'load'));
    return exists(current)
      ? { snapshot: current.snapshot, revision: current.revision, lease: current.lease }
      : null;
  }

  /** Starts the thread job that reads one chunk of {@link FileTaskStore.loadChanged}. */
  #readChunk(chunk: readonly KnownRevision[]): ChunkRead {
    const dirs = chunk.map((entry) => this.#taskDir(entry.taskId));
    const seen = chunk.map((entry, index) => {
      const task = this.#seen.get(dirs[index] as string);
      return task !== undefined && task.revision === entry.revision ? task : null;
    });
    const generations = dirs.map((dir) => join(dir, GENERATIONS));
    const found = this.#track(
      this.#threads.run({ kind: 'readMany', generations, seen }).catch((cause: unknown) => {
        throw this.#ioError(null, 'loadChanged', cause);
      }),
    );
    return { chunk, dirs, seen, found };
  }

  /**
   * {@link ChangeLoader.loadChanged}: what changed among `known`, read in a few jobs of the store's threads. A task
   * this instance saw unchanged since (same generation, its document's time and size the same) is not read again.
   */
  async loadChanged(known: readonly KnownRevision[]): Promise<ChangedTask[]> {
    this.#checkOpen('loadChanged');
    checkKnownRevisions(known);
    const changed: ChangedTask[] = [];
    // Jobs run a few chunks ahead, so that the threads read the next chunks while this thread parses one.
    const jobs: ChunkRead[] = [];
    const startJob = (chunkStart: number): void => {
      if (chunkStart >= known.length) return;
      const job = this.#readChunk(known.slice(chunkStart, chunkStart + READS_PER_JOB));
      job.found.catch(ignore); // awaited in turn below; one that fails after an earlier failure is let be
      jobs.push(job);
    };
    for (let ahead = 0; ahead < CHUNKS_AHEAD; ahead += 1) startJob(ahead * READS_PER_JOB);
    for (let start = 0, turn = 0; start < known.length; start += READS_PER_JOB, turn += 1) {
      const { chunk, dirs, seen, found: reading } = jobs[turn] as ChunkRead;
      const found = await reading;
      startJob(start + CHUNKS_AHEAD * READS_PER_JOB);
      for (const [index, outcome] of found.entries()) {
        const { taskId, revision } = chunk[index] as KnownRevision;
        const dir = dirs[index] as string;
        if (outcome.kind === 'failed') {
          throw this.#ioError(taskId, 'loadChanged', rebuiltError(outcome.error));
        }
        if (outcome.kind === 'seen') {
          const { lease } = seen[index] as SeenTask;
          if (lease !== null) changed.push({ taskId, lease, stored: null });
          continue;
        }
        const current = await this.#currentOf(outcome, dir, taskId, 'loadChanged');
        this.#seen.delete(dir);
        if (!exists(current)) continue;
        if (outcome.kind === 'document') {
          const { mtimeMs, size } = outcome;
          remember(this.#seen, dir, {
            generation: current.generation,
            mtimeMs,
            size,
            revision: current.revision,
            lease: current.lease,
          });
        }
        const { snapshot, lease } = current;
        if (current.revision !== revision) {
          changed.push({ taskId, lease, stored: { snapshot, revision: current.revision, lease } });
        } else if (lease !== null) {
          changed.push({ taskId, lease, stored: null });
        }
      }
    }
    return changed;
  }

  /** @inheritDoc */
  async save(taskId: string, snapshot: unknown, options: SaveOptions): Promise<number> {
    this.#checkOpen('save');
    checkTaskId(taskId);
    checkSaveOptions(options);
    const snapshotText = serializeSnapshot(snapshot);
    const { expectedRevision, lease, releaseLease = false } = options;
    const next = await this.#change(taskId, 'save', snapshotText, (current) => {
      if (lease !== undefined) requireLease(taskId, current, lease);
      checkExpected(taskId, expectedRevision, current);
      return {
        taskId,
        revision: (current?.revision ?? 0) + 1,
        deleted: false,
        fencingToken: current?.fencingToken ?? 0,
        lease: current?.deleted === false && !releaseLease ? current.lease : null,
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
    const ids = await this.#mapTasks(async (taskDir, known) => {
      const current = await this.#read(taskDir, known, 'list').catch((error) => {
        if (known !== null && error instanceof SnapshotError) return 'corrupt' as const;
        return null;
      });
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
    const ids = await this.#mapTasks(async (taskDir, known) => {
      const current = await this.#read(taskDir, known, 'listExpired').catch(ignore);
      const expired =
        current !== undefined &&
        exists(current) &&
        current.lease !== null &&
        Date.parse(current.lease.expiresAt) <= now;
      return expired && needsLiveWorker(current.snapshot) ? current.taskId : null;
    });
    return ids.sort();
  }

  /**
   * Closes the store once the calls under way are done; the threads end a second after the last store of the
   * process closed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    this.#threads.release();
  }

  /**
   * Resolves once the calls of this instance under way are done, and the clean-up after its changes (superseded
   * generations removed, the guard against version 1 readers written), those started meanwhile too. Changes are
   * durable when their promise resolves, before their clean-up; this is for copying a store, say.
   */
  async flush(): Promise<void> {
    // A change under way adds its clean-up while it runs, so this looks again until nothing is left.
    while (this.#operations.size > 0) await Promise.allSettled(this.#operations);
  }

  /** Creates the store's directories, checks that they are writable, and brings an older layout up to date. */
  async #prepare(): Promise<void> {
    try {
      await mkdir(this.#tasksDir, { recursive: true });
      await mkdir(this.#tmpDir, { recursive: true });
      const probe = this.#tmpPath();
      await (await open(probe, 'wx')).close();
      await unlink(probe);
    } catch (cause) {
      const problem = `${(cause as Error).message}; give a directory this process can create and write`;
      throw new TaskStoreError(null, `open a file store in '${this.dir}'`, problem, { cause });
    }
    await this.#removeAbandonedTemporaryFiles();
    await this.#upgradeLayout();
  }

  /** `operation`, awaited by close() until it settles. */
  #track<T>(operation: Promise<T>): Promise<T> {
    this.#operations.add(operation);
    const forget = () => this.#operations.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  #now(): number {
    return this.#clock().getTime();
  }

  #checkOpen(operation: string): void {
    if (this.#closed)
      throw new TaskStoreError(null, operation, 'the store was closed; open it again');
  }

  #taskDir(taskId: string): string {
    return join(this.#tasksDir, fileNameForTaskId(taskId));
  }

  #ioError(taskId: string | null, operation: string, cause: unknown): TaskStoreError {
    const code = codeOf(cause);
    const hint =
      code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `; the store directory '${this.dir}' is not writable by this process`
        : code === 'ENOSPC'
          ? '; the disk is full'
          : '';
    return new TaskStoreError(taskId, operation, `${(cause as Error).message}${hint}`, { cause });
  }

  /** Calls `read` for every task directory (with the id its name encodes, or null) and keeps the ids it returns. */
  #mapTasks(
    read: (taskDir: string, known: string | null) => Promise<string | null>,
  ): Promise<string[]> {
    return this.#track(this.#mapTaskDirectories(read));
  }

  /** The work of {@link FileTaskStore.#mapTasks}. */
  async #mapTaskDirectories(
    read: (taskDir: string, known: string | null) => Promise<string | null>,
  ): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.#tasksDir);
    } catch (cause) {
      throw this.#ioError(null, 'list', cause);
    }
    const ids: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let index = next++; index < names.length; index = next++) {
        const name = names[index] as string;
        const known = taskIdForFileName(name);
        if (known === null && !name.startsWith('~h')) continue;
        const id = await read(join(this.#tasksDir, name), known);
        if (id !== null) ids.push(id);
      }
    };
    await Promise.all(Array.from({ length: LIST_CONCURRENCY }, worker));
    return ids;
  }

  /** The newest generation in a task directory; `expectedId` null for a hashed name (any id that hashes to it). */
  async #read(
    taskDir: string,
    expectedId: string | null,
    operation: string,
  ): Promise<Current | null> {
    let found: ReadOutcome;
    try {
      found = await this.#threads.run({ kind: 'read', generations: join(taskDir, GENERATIONS) });
    } catch (cause) {
      throw this.#ioError(expectedId, operation, cause);
    }
    return this.#currentOf(found, taskDir, expectedId, operation);
  }

  /** The task a `read` job found in `taskDir` (its id expected to be `expectedId`), or null. */
  #currentOf(
    found: ReadOutcome,
    taskDir: string,
    expectedId: string | null,
    operation: string,
  ): Promise<Current | null> | Current | null {
    switch (found.kind) {
      case 'absent':
        return this.#readLegacy(taskDir, expectedId, operation);
      case 'empty':
        return null;
      case 'lost':
        throw new SnapshotError('', `has no document (missing file '${found.file}')`, expectedId);
      case 'unstable':
        throw new TaskStoreError(
          expectedId,
          operation,
          `it changed ${MAX_ROUNDS} times while being read`,
        );
      case 'document': {
        const { generation, file, text } = found;
        const document = parseDocument(text, expectedId, taskDir, file);
        if (document.generation !== generation) {
          throw new SnapshotError(
            'generation',
            `is ${document.generation}, not the ${generation} of its directory (file '${file}')`,
            expectedId,
          );
        }
        return { ...document, generation, legacy: false };
      }
    }
  }

  /** The newest generation of a task directory in the version 1 layout (`<generation>.json` files), or null. */
  async #readLegacy(
    taskDir: string,
    expectedId: string | null,
    operation: string,
  ): Promise<Current | null> {
    let names: string[];
    try {
      names = await readdir(taskDir);
    } catch (cause) {
      if (isMissing(cause)) return null;
      throw this.#ioError(expectedId, operation, cause);
    }
    const generation = Math.max(0, ...legacyGenerations(names));
    if (generation === 0) return null;
    const file = join(taskDir, `${generation}.json`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      if (isMissing(cause)) return this.#read(taskDir, expectedId, operation); // upgraded meanwhile
      throw this.#ioError(expectedId, operation, cause);
    }
    const document = parseDocument(text, expectedId, taskDir, file);
    return { ...document, generation, legacy: true };
  }

  /**
   * The compare-and-set loop: reads the newest generation, lets `decide` check it and describe the next one
   * (or return null for "nothing to write"), and creates that as the next generation; starts over when another
   * writer created it first. `snapshotText` replaces the snapshot of `decide`'s document when not null.
   */
  #change(
    taskId: string,
    operation: string,
    snapshotText: string | null,
    decide: (current: Current | null) => TaskDocument | null,
  ): Promise<TaskDocument | null> {
    return this.#track(this.#changeRounds(taskId, operation, snapshotText, decide));
  }

  /** The rounds of {@link FileTaskStore.#change}. */
  async #changeRounds(
    taskId: string,
    operation: string,
    snapshotText: string | null,
    decide: (current: Current | null) => TaskDocument | null,
  ): Promise<TaskDocument | null> {
    const taskDir = this.#taskDir(taskId);
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      // A lease change rewrites the snapshot as it is on disk, so it always reads it.
      const remembered =
        round === 0 && snapshotText !== null ? this.#written.get(taskId) : undefined;
      this.#written.delete(taskId);
      const current = remembered ?? (await this.#read(taskDir, taskId, operation));
      if (current?.legacy === true) {
        await this.#upgradeTask(taskId, taskDir, current, operation);
        continue;
      }
      let next: TaskDocument | null;
      try {
        next = decide(current);
      } catch (error) {
        if (remembered !== undefined) continue; // perhaps stale: decide on what the disk says
        throw error;
      }
      if (next === null) {
        if (remembered !== undefined) continue;
        return null;
      }
      const generation = (current?.generation ?? 0) + 1;
      const text = snapshotText ?? JSON.stringify(next.snapshot);
      const document = serializeDocument(next, generation, text);
      const won =
        current === null
          ? await this.#create(taskId, taskDir, generation, document, operation)
          : await this.#advance(taskId, taskDir, current.generation, document, operation);
      if (won) {
        this.#remember(taskId, next, generation);
        return next;
      }
    }
    throw new TaskStoreError(
      taskId,
      operation,
      `other writers changed it ${MAX_ROUNDS} times in a row; try again`,
    );
  }

  /**
   * Creates a task's first generation: `g` with `<generation>/doc.json` inside is built in tmp/, fsync'd, and
   * renamed into the task's directory, then the guard against version 1 readers is written beside it; false when
   * another writer created `g` first.
   */
  async #create(
    taskId: string,
    taskDir: string,
    generation: number,
    text: string,
    operation: string,
  ): Promise<boolean> {
    const staging = this.#tmpPath();
    try {
      return await this.#startChange({
        kind: 'create',
        staging,
        file: join(staging, String(generation), DOCUMENT),
        taskDir,
        tasksDir: this.#tasksDir,
        target: join(taskDir, GENERATIONS),
        text,
        guard: { file: join(taskDir, OLD_VERSION_GUARD), text: OLD_VERSION_GUARD_TEXT },
      });
    } catch (cause) {
      throw this.#ioError(taskId, operation, cause);
    }
  }

  /**
   * Creates generation `from + 1`: its directory is built inside `from`'s and renamed next to it; every
   * COMPACT_EVERY-th generation, the same thread then removes the ones before it, after answering. False when
   * another writer created it first, or when `from` was removed meanwhile (a newer generation exists then).
   */
  async #advance(
    taskId: string,
    taskDir: string,
    from: number,
    text: string,
    operation: string,
  ): Promise<boolean> {
    const generations = join(taskDir, GENERATIONS);
    const pending = join(generations, String(from), `p-${this.#uniqueName()}`);
    try {
      return await this.#startChange({
        kind: 'advance',
        pending,
        file: join(pending, DOCUMENT),
        target: join(generations, String(from + 1)),
        generations,
        text,
        compact:
          (from + 1) % COMPACT_EVERY === 0
            ? { hint: join(taskDir, OLD_HINT), newest: from + 1 }
            : null,
      });
    } catch (cause) {
      throw this.#ioError(taskId, operation, cause);
    }
  }

  /** Starts a job that writes a generation; its clean-up, done after its result, is awaited by flush() and close(). */
  #startChange(job: Extract<FileStoreJob, { kind: 'create' | 'advance' }>): Promise<boolean> {
    const { result, finished } = this.#threads.start(job);
    this.#track(finished);
    return result;
  }

  #remember(taskId: string, document: TaskDocument, generation: number): void {
    const { revision, deleted, fencingToken, lease } = document;
    remember(this.#written, taskId, {
      taskId,
      revision,
      deleted,
      fencingToken,
      lease,
      snapshot: undefined,
      generation,
      legacy: false,
    });
  }

  /** Writes the guard against version 1 readers into a task directory (see {@link OLD_VERSION_GUARD}). */
  #writeGuard(taskDir: string): Promise<null> {
    return this.#threads.run({
      kind: 'write',
      file: join(taskDir, OLD_VERSION_GUARD),
      text: OLD_VERSION_GUARD_TEXT,
    });
  }

  /** Rewrites a version 1 task directory as `g/<generation>/doc.json`; the old files go once that is durable. */
  async #upgradeTask(
    taskId: string | null,
    taskDir: string,
    current: Current,
    operation: string,
  ): Promise<void> {
    const { generation } = current;
    const text = serializeDocument(current, generation, JSON.stringify(current.snapshot));
    await this.#create(taskId ?? current.taskId, taskDir, generation, text, operation);
    await this.#writeGuard(taskDir).catch(ignore);
    await removeLegacyFiles(taskDir);
  }

  /**
   * Upgrades a store written by version 1 of task-runtime, once: every task directory in the old layout is
   * rewritten (safe to interrupt at any point and to run in several processes at once), then `store.json` says so.
   */
  async #upgradeLayout(): Promise<void> {
    const layoutFile = join(this.dir, LAYOUT_FILE);
    const layout = await readFile(layoutFile, 'utf8').then(parseLayout, () => null);
    if (layout !== null && layout >= LAYOUT) return;
    try {
      const names = await readdir(this.#tasksDir);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let index = next++; index < names.length; index = next++) {
          await this.#upgradeDirectory(join(this.#tasksDir, names[index] as string));
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const text = `${JSON.stringify({ format: FORMAT, layout: LAYOUT })}\n`;
      const tmp = this.#tmpPath();
      await this.#threads.run({ kind: 'replace', tmp, file: layoutFile, dir: this.dir, text });
    } catch (cause) {
      throw new TaskStoreError(null, `upgrade the file store in '${this.dir}'`, String(cause), {
        cause,
      });
    }
  }

  /** Upgrades one entry of `tasks/` if it is a task directory of version 1; anything else is left alone. */
  async #upgradeDirectory(taskDir: string): Promise<void> {
    const names = await readdir(taskDir).catch(() => null);
    if (names === null) return; // not a directory
    if (names.includes(GENERATIONS)) {
      await removeLegacyFiles(taskDir); // an upgrade interrupted after its new generation was durable
      return;
    }
    if (legacyGenerations(names).length === 0) return;
    const expectedId = taskIdForFileName(taskDir.slice(this.#tasksDir.length + 1));
    const current = await this.#readLegacy(taskDir, expectedId, 'upgrade').catch(() => null);
    // A corrupt task stays as it is: load() keeps reporting it, and no other task is held up.
    if (current !== null) await this.#upgradeTask(expectedId, taskDir, current, 'upgrade');
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
        if (mtimeMs < cutoff) await rm(file, { recursive: true, force: true }).catch(ignore);
      }),
    );
  }

  #uniqueName(): string {
    this.#tmpCounter += 1;
    return `${process.pid}-${this.#tmpCounter}-${randomBytes(6).toString('hex')}`;
  }

  #tmpPath(): string {
    return join(this.#tmpDir, this.#uniqueName());
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

/** The generations of the version 1 files among `names` (the guard against version 1 readers excluded). */
function legacyGenerations(names: readonly string[]): number[] {
  return names.flatMap((name) => {
    const match = name === OLD_VERSION_GUARD ? null : LEGACY_FILE.exec(name);
    return match?.[1] === undefined ? [] : [Number(match[1])];
  });
}

async function removeLegacyFiles(taskDir: string): Promise<void> {
  const names = await readdir(taskDir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name !== OLD_VERSION_GUARD && LEGACY_FILE.test(name))
      .map((name) => unlink(join(taskDir, name)).catch(ignore)),
  );
}

function parseLayout(text: string): number | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) && parsed.format === FORMAT && typeof parsed.layout === 'number'
      ? parsed.layout
      : null;
  } catch {
    return null;
  }
}
