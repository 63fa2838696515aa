/*
 * What a FileTaskStore's worker threads run: each job is a whole step of a change (read the newest generation, or
 * create or advance one and clean up after it) done with synchronous calls, so that it costs one hop to a thread instead of one
 * hop through libuv's pool per call. The pool (fileStoreThreadPool.ts) starts a thread from the source text of
 * {@link fileStoreThread}; that is why the function takes nothing from this module's scope.
 */

/** What every thread is told when it starts. */
export interface FileStoreThreadData {
  /** The name of a generation's document, `doc.json`. */
  readonly document: string;
  /** The source of the pattern a generation directory's name matches. */
  readonly generationPattern: string;
  /** How many times a read looks again when the newest generation's document vanished under it. */
  readonly maxRounds: number;
}

/** A step of a change, done whole by a thread. Every path is absolute. */
export type FileStoreJob =
  | {
      /** The newest generation in `generations` (a task's `g/` directory) and its document's text. */
      readonly kind: 'read';
      readonly generations: string;
    }
  | {
      /**
       * The `read` of each of `generations` in one job, with its document's time and size; where `seen[i]` names
       * the newest generation, and its document's time and size are the same, `{ kind: 'seen' }` without reading
       * it. A read that throws gives its error in its place.
       */
      readonly kind: 'readMany';
      readonly generations: readonly string[];
      readonly seen: readonly (SeenDocument | null)[];
    }
  | {
      /**
       * A task's first generation: `text` written durably to `file` inside `staging/<generation>/`, `staging`
       * renamed to `target` (`<taskDir>/g`), then `taskDir` fsync'd, and `tasksDir` too when `taskDir` was new;
       * once it is durable, `guard` written, if given (not durably, and a failure is ignored).
       */
      readonly kind: 'create';
      readonly staging: string;
      readonly file: string;
      readonly taskDir: string;
      readonly tasksDir: string;
      readonly target: string;
      readonly text: string;
      readonly guard: { readonly file: string; readonly text: string } | null;
    }
  | {
      /**
       * The next generation: the directory `pending` made (inside the generation read), `text` written durably to
       * `file` in it, `pending` renamed to `target`, then `generations` fsync'd; once it is durable, when
       * `compact` is given, `compact.hint` and the generations older than `compact.newest` removed (a failure
       * only leaves them for a later compaction).
       */
      readonly kind: 'advance';
      readonly pending: string;
      readonly file: string;
      readonly target: string;
      readonly generations: string;
      readonly text: string;
      readonly compact: { readonly hint: string; readonly newest: number } | null;
    }
  | {
      /** `text` written durably to `tmp`, renamed over `file`, and `dir` (theirs) fsync'd. */
      readonly kind: 'replace';
      readonly tmp: string;
      readonly file: string;
      readonly dir: string;
      readonly text: string;
    }
  | {
      /** `text` written to `file` (not durably: a hint for other versions' readers). */
      readonly kind: 'write';
      readonly file: string;
      readonly text: string;
    };

/** What a `read` job found. */
export type ReadOutcome =
  /** There is no `g/` directory (a task of the version 1 layout, or none). */
  | { readonly kind: 'absent' }
  /** `g/` holds no generation. */
  | { readonly kind: 'empty' }
  | {
      readonly kind: 'document';
      readonly generation: number;
      readonly file: string;
      readonly text: string;
    }
  /** The newest generation has no document, twice in a row: damage, not a race. */
  | { readonly kind: 'lost'; readonly file: string }
  /** The newest generation's document vanished `maxRounds` times in a row. */
  | { readonly kind: 'unstable' };

/** A generation's document as a `readMany` job saw it: generations never change, so this tells a hand's edit. */
export interface SeenDocument {
  readonly generation: number;
  readonly mtimeMs: number;
  readonly size: number;
}

/** What a `readMany` job found of one task. */
export type ReadManyOutcome =
  | Exclude<ReadOutcome, { kind: 'document' }>
  | (Extract<ReadOutcome, { kind: 'document' }> & Omit<SeenDocument, 'generation'>)
  /** The document is the one `seen` named. */
  | { readonly kind: 'seen' }
  /** The read threw: the error, as it crossed back. */
  | { readonly kind: 'failed'; readonly error: ThreadError };

/** What each kind of job resolves to. */
export interface FileStoreJobResults {
  readonly read: ReadOutcome;
  readonly readMany: readonly ReadManyOutcome[];
  /** Whether this job created the generation (false: another writer did first). */
  readonly create: boolean;
  /** Whether this job created the generation (false: another writer did first, or the one read is gone). */
  readonly advance: boolean;
  readonly replace: null;
  readonly write: null;
}

/** An error thrown in a thread, as it crosses back: its message and the fields of a Node.js system error. */
export interface ThreadError {
  readonly message: string;
  readonly code?: string;
  readonly errno?: number;
  readonly syscall?: string;
  readonly path?: string;
  readonly dest?: string;
}

/**
 * A thread's answer to a job: its result, or the error it threw. `cleaning` says that the thread goes on with the
 * job's clean-up (see {@link FileStoreJob}) and posts {@link CLEANED_UP} once done; until then it takes no job.
 */
export type ThreadReply =
  | {
      readonly ok: true;
      readonly value: FileStoreJobResults[keyof FileStoreJobResults];
      readonly cleaning: boolean;
    }
  | { readonly ok: false; readonly error: ThreadError; readonly cleaning: false };

/** What a thread posts after a {@link ThreadReply} with `cleaning`, once the clean-up is done. */
export const CLEANED_UP = 'cleaned up';

/**
 * The body of a thread: answers each {@link FileStoreJob} posted to it with a {@link ThreadReply}, then does the
 * job's clean-up, if any: the change is durable already, so its caller need not wait for that. It runs from its
 * source text in a thread started with `eval`, so it names nothing outside itself but `require`: that works
 * alike from the ES module build, from a CommonJS transpilation and from a bundle, with no file to locate.
 */
/* istanbul ignore next: runs in a worker thread, from its source text */
export function fileStoreThread(): void {
  const fs = require('node:fs') as typeof import('node:fs');
  const { dirname, join } = require('node:path') as typeof import('node:path');
  const { parentPort, workerData } =
    require('node:worker_threads') as typeof import('node:worker_threads');
  const { document, generationPattern, maxRounds } = workerData as FileStoreThreadData;
  /** A job's result, and what the thread does after answering, if anything. */
  type Done = readonly [FileStoreJobResults[keyof FileStoreJobResults], (() => void) | null];
  const isGeneration = new RegExp(generationPattern);
  const codeOf = (error: unknown): string | undefined =>
    (error as NodeJS.ErrnoException | null)?.code;
  const isMissing = (error: unknown): boolean => codeOf(error) === 'ENOENT';
  const isTaken = (error: unknown): boolean =>
    codeOf(error) === 'EEXIST' || codeOf(error) === 'ENOTEMPTY';
  const removeQuietly = (path: string): void => {
    try {
      fs.rmSync(path, { recursive: true, force: true });
    } catch {
      // left for the clean-up of temporary files at the next open
    }
  };
  /** The generations among `names` older than `below`, oldest first. */
  const generationsBelow = (names: readonly string[], below: number): number[] =>
    names
      .filter((name) => isGeneration.test(name) && Number(name) < below)
      .map(Number)
      .sort((a, b) => a - b);

  const writeDurably = (file: string, text: string): void => {
    const fd = fs.openSync(file, 'wx');
    try {
      const bytes = Buffer.from(text, 'utf8');
      for (let written = 0; written < bytes.length; ) {
        written += fs.writeSync(fd, bytes, written, bytes.length - written);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };

  const fsyncDirectory = (dir: string): void => {
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };

  const read = (generations: string): ReadOutcome => {
    let missing: number | null = null;
    for (let round = 0; round < maxRounds; round += 1) {
      let names: string[];
      try {
        names = fs.readdirSync(generations);
      } catch (error) {
        if (isMissing(error)) return { kind: 'absent' };
        throw error;
      }
      const generation = generationsBelow(names, Number.POSITIVE_INFINITY).pop();
      if (generation === undefined) return { kind: 'empty' };
      const file = join(generations, String(generation), document);
      try {
        return { kind: 'document', generation, file, text: fs.readFileSync(file, 'utf8') };
      } catch (error) {
        if (!isMissing(error)) throw error;
        // Removed after a newer one appeared, which the next listing shows. When it does not, the newest
        // generation lost its document (a file system that broke its promise, or a hand).
        if (missing === generation) return { kind: 'lost', file };
        missing = generation;
      }
    }
    return { kind: 'unstable' };
  };

  /** What crosses back of an error thrown here: its message and the fields of a system error. */
  const threadErrorOf = (thrown: unknown): ThreadError => {
    const { message, code, errno, syscall, path, dest } =
      thrown instanceof Error
        ? (thrown as NodeJS.ErrnoException & { dest?: string })
        : { message: String(thrown) };
    return { message, code, errno, syscall, path, dest };
  };

  const readMany = (generations: string, seen: SeenDocument | null): ReadManyOutcome => {
    try {
      if (seen !== null) {
        const newest = generationsBelow(
          fs.readdirSync(generations),
          Number.POSITIVE_INFINITY,
        ).pop();
        if (newest === seen.generation) {
          const stat = fs.statSync(join(generations, String(newest), document));
          if (stat.mtimeMs === seen.mtimeMs && stat.size === seen.size) return { kind: 'seen' };
        }
      }
      const found = read(generations);
      if (found.kind !== 'document') return found;
      const { mtimeMs, size } = fs.statSync(found.file);
      return { ...found, mtimeMs, size };
    } catch (thrown) {
      return { kind: 'failed', error: threadErrorOf(thrown) };
    }
  };

  const create = (job: Extract<FileStoreJob, { kind: 'create' }>): Done => {
    try {
      fs.mkdirSync(dirname(job.file), { recursive: true });
      writeDurably(job.file, job.text); // with the names above it (see advance)
      const createdTaskDir = fs.mkdirSync(job.taskDir, { recursive: true });
      try {
        fs.renameSync(job.staging, job.target);
      } catch (error) {
        if (isTaken(error)) return [false, null];
        throw error;
      }
      fsyncDirectory(job.taskDir);
      if (createdTaskDir !== undefined) fsyncDirectory(job.tasksDir);
    } finally {
      removeQuietly(job.staging);
    }
    const { guard } = job;
    if (guard === null) return [true, null];
    const writeGuard = (): void => {
      try {
        fs.writeFileSync(guard.file, guard.text);
      } catch {
        // only a hint for other versions' readers
      }
    };
    return [true, writeGuard];
  };

  const advance = (job: Extract<FileStoreJob, { kind: 'advance' }>): Done => {
    try {
      fs.mkdirSync(job.pending);
    } catch (error) {
      if (isMissing(error)) return [false, null]; // the generation read was removed: a newer one exists
      throw error;
    }
    try {
      // The fsync of a new file also makes its name durable on Linux's journaling file systems (ext4, XFS,
      // btrfs); the rename is made durable by the fsync of the generations' directory below.
      writeDurably(job.file, job.text);
      fs.renameSync(job.pending, job.target);
    } catch (error) {
      removeQuietly(job.pending);
      if (isMissing(error) || isTaken(error)) return [false, null];
      throw error;
    }
    fsyncDirectory(job.generations);
    const { generations, compact: older } = job;
    return [true, older === null ? null : () => compact(generations, older.hint, older.newest)];
  };

  const replace = (job: Extract<FileStoreJob, { kind: 'replace' }>): null => {
    writeDurably(job.tmp, job.text);
    fs.renameSync(job.tmp, job.file);
    fsyncDirectory(job.dir);
    return null;
  };

  /**
   * Removes `hint`, then the generations in `generations` older than `newest`, oldest first: a generation is only
   * ever removed once every older one is gone, which keeps a stalled writer from winning later.
   */
  const compact = (generations: string, hint: string, newest: number): void => {
    try {
      fs.unlinkSync(hint);
    } catch {
      // none, as a rule
    }
    let names: string[] = [];
    try {
      names = fs.readdirSync(generations);
    } catch {
      return;
    }
    for (const generation of generationsBelow(names, newest)) {
      const dir = join(generations, String(generation));
      try {
        try {
          fs.unlinkSync(join(dir, document));
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
        fs.rmdirSync(dir);
      } catch (error) {
        if (isMissing(error)) continue;
        try {
          fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 1 });
        } catch {
          return; // left for the next change, and so is every newer one
        }
      }
    }
  };

  const run = (job: FileStoreJob): Done => {
    switch (job.kind) {
      case 'read':
        return [read(job.generations), null];
      case 'readMany':
        return [
          job.generations.map((generations, index) =>
            readMany(generations, job.seen[index] ?? null),
          ),
          null,
        ];
      case 'create':
        return create(job);
      case 'advance':
        return advance(job);
      case 'replace':
        return [replace(job), null];
      case 'write':
        fs.writeFileSync(job.file, job.text);
        return [null, null];
    }
  };

  parentPort?.on('message', (job: FileStoreJob) => {
    let cleanUp: (() => void) | null = null;
    try {
      const [value, after] = run(job);
      cleanUp = after;
      parentPort.postMessage({ ok: true, value, cleaning: after !== null } satisfies ThreadReply);
    } catch (thrown) {
      const error = threadErrorOf(thrown);
      parentPort.postMessage({ ok: false, error, cleaning: false } satisfies ThreadReply);
    }
    if (cleanUp === null) return;
    try {
      cleanUp();
    } finally {
      parentPort.postMessage('cleaned up' satisfies typeof CLEANED_UP);
    }
  });
}
