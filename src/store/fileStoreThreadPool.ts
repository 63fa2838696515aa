/*
 * The worker threads FileTaskStore does its disk work in: one process-wide pool, shared by every open store. The
 * first job starts a thread, overlapping jobs start more (up to 16), idle ones beyond the last end after a few
 * seconds, and all end soon after the last store closes. A thread is unref'd while idle, so a program that forgets
 * close() still exits.
 */
import { Worker } from 'node:worker_threads';
import {
  CLEANED_UP,
  type FileStoreJob,
  type FileStoreJobResults,
  type FileStoreThreadData,
  fileStoreThread,
  type ThreadError,
  type ThreadReply,
} from './fileStoreThread.js';

/**
 * Threads the pool starts at most, each when a job finds every other one busy. A thread waits for the disk in its
 * synchronous fsyncs, so the fsyncs of concurrent saves only overlap (and the file system commits them together)
 * in threads of their own: 16 concurrent saves need 16 threads to keep up with the floor. Each costs about 9 MB
 * while it lives (see {@link RETIRE_AFTER_MS}).
 */
export const MAX_THREADS = 16;

/** How long a thread stays idle before it ends, unless it is the last one: a burst's threads do not linger. */
export const RETIRE_AFTER_MS = 5_000;

/** What a thread runs: the body of {@link fileStoreThread}, from its source text. */
const THREAD_SOURCE = `(${fileStoreThread.toString()})();`;

/** A job waiting for a thread, or for its thread's reply, or for the end of its clean-up. */
interface Queued {
  readonly job: FileStoreJob;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Called once the thread is done with the job, its clean-up included. */
  readonly finish: () => void;
}

/** A thread, whether it has started, and the job it runs (null while idle). */
interface Slot {
  readonly worker: Worker;
  online: boolean;
  current: Queued | null;
  /** Ends the thread once it has been idle for {@link RETIRE_AFTER_MS}; null while it runs a job. */
  retirement: NodeJS.Timeout | null;
}

/** A job started in a thread: its result, and when the thread is done with it. */
export interface StartedJob<R> {
  /** The job's result; rejects with what it threw in the thread, rebuilt as an Error with the same fields. */
  readonly result: Promise<R>;
  /** Resolves (never rejects) once the thread is done with the job: after its result, and its clean-up if any. */
  readonly finished: Promise<void>;
}

/** A store's use of the process's threads; {@link FileStoreThreads.release} once, when the store closes. */
export interface FileStoreThreads {
  /** Starts `job` in a thread (or queues it until one is free). */
  start<K extends FileStoreJob['kind']>(
    job: Extract<FileStoreJob, { kind: K }>,
  ): StartedJob<FileStoreJobResults[K]>;
  /** The result of `job`, started with {@link FileStoreThreads.start}. */
  run<K extends FileStoreJob['kind']>(
    job: Extract<FileStoreJob, { kind: K }>,
  ): Promise<FileStoreJobResults[K]>;
  /** Gives the threads up; once the last user did, they end (see {@link END_AFTER_MS}). */
  release(): void;
}

/**
 * A pool of at most {@link MAX_THREADS} threads that take queued {@link FileStoreJob}s one at a time. A job that
 * finds every thread busy starts one more, but does not wait for it: the first thread free takes the job, so a
 * thread's start (tens of milliseconds) never delays a job that another thread would run sooner.
 */
class FileStoreThreadPool {
  readonly #data: FileStoreThreadData;
  readonly #slots: Slot[] = [];
  readonly #queue: Queued[] = [];
  #closed = false;

  constructor(data: FileStoreThreadData) {
    this.#data = data;
  }

  start(job: FileStoreJob): StartedJob<unknown> {
    let finish = (): void => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const result = new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('the file store threads were ended: the store was closed'));
        finish();
        return;
      }
      this.#queue.push({ job, resolve, reject, finish });
      this.#dispatch();
    });
    return { result, finished };
  }

  /** Ends every thread (none runs a job: the stores that used the pool awaited theirs first). */
  close(): void {
    this.#closed = true;
    for (const queued of this.#queue.splice(0)) {
      queued.reject(new Error('the store was closed'));
      queued.finish();
    }
    for (const slot of this.#slots.splice(0)) {
      if (slot.retirement !== null) clearTimeout(slot.retirement);
      void slot.worker.terminate();
    }
  }

  /** Gives queued jobs to idle threads, and starts a thread when jobs are left waiting and fewer run than allowed. */
  #dispatch(): void {
    for (const slot of this.#slots) {
      const next = slot.online && slot.current === null ? this.#queue.shift() : undefined;
      if (next !== undefined) this.#start(slot, next);
    }
    const starting = this.#slots.filter((slot) => !slot.online).length;
    if (this.#queue.length > starting && this.#slots.length < MAX_THREADS) this.#spawn();
  }

  #spawn(): void {
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: this.#data,
      execArgv: [], // no loader or flag of the main thread is needed, and none slows the start
    });
    const slot: Slot = { worker, online: false, current: null, retirement: null };
    worker.on('online', () => {
      slot.online = true;
      this.#dispatch();
      if (slot.current === null) this.#idle(slot);
    });
    worker.on('message', (reply: ThreadReply | typeof CLEANED_UP) =>
      reply === CLEANED_UP ? this.#free(slot) : this.#settle(slot, reply),
    );
    worker.on('error', (error) => this.#lose(slot, error));
    worker.on('exit', (code) => {
      this.#lose(slot, new Error(`a file store thread exited with code ${code}`));
    });
    this.#slots.push(slot);
  }

  #start(slot: Slot, queued: Queued): void {
    if (slot.retirement !== null) clearTimeout(slot.retirement);
    slot.retirement = null;
    slot.current = queued;
    slot.worker.ref(); // a job keeps the process alive, as a pending fs call does
    slot.worker.postMessage(queued.job);
  }

  /** Settles the job of `slot` with its reply; frees the thread unless it goes on with the job's clean-up. */
  #settle(slot: Slot, reply: ThreadReply): void {
    const queued = slot.current;
    if (queued === null) return;
    if (reply.ok) queued.resolve(reply.value);
    else queued.reject(rebuiltError(reply.error));
    if (!reply.cleaning) this.#free(slot);
  }

  /** The thread of `slot` is done with its job: it takes the next one waiting, or idles. */
  #free(slot: Slot): void {
    slot.current?.finish();
    const next = this.#queue.shift();
    if (next === undefined) {
      slot.current = null;
      this.#idle(slot);
    } else {
      this.#start(slot, next);
    }
  }

  /** `slot` has no job: its thread no longer keeps the process alive, and ends in a while unless it is the last. */
  #idle(slot: Slot): void {
    slot.worker.unref();
    slot.retirement = setTimeout(() => {
      slot.retirement = null;
      if (slot.current !== null || this.#slots.length <= 1) return;
      this.#slots.splice(this.#slots.indexOf(slot), 1);
      void slot.worker.terminate();
    }, RETIRE_AFTER_MS);
    slot.retirement.unref();
  }

  /** A thread that failed outside a job (out of memory, say) or exited: its job fails, the others go on. */
  #lose(slot: Slot, error: unknown): void {
    const index = this.#slots.indexOf(slot);
    if (index === -1) return;
    this.#slots.splice(index, 1);
    if (slot.retirement !== null) clearTimeout(slot.retirement);
    slot.current?.reject(error); // no effect when its reply came, and the thread failed in the clean-up
    slot.current?.finish();
    slot.current = null;
    this.#dispatch();
  }
}

/** An Error like the one a thread threw: same message, and the `code`, `errno`, `syscall`… of a system error. */
export function rebuiltError(thrown: ThreadError): Error {
  const error = new Error(thrown.message) as Error & Record<string, unknown>;
  for (const [key, value] of Object.entries(thrown)) {
    if (key !== 'message' && value !== undefined) error[key] = value;
  }
  return error;
}

/**
 * How long the threads outlive the last store's close(): a store opened again meanwhile reuses them instead of
 * starting new ones. Idle threads never keep the process alive, so this delays no exit.
 */
export const END_AFTER_MS = 1_000;

let shared: FileStoreThreadPool | null = null;
let users = 0;
let ending: NodeJS.Timeout | null = null;

/** The process's threads, for one more store (no thread starts before its first job). */
export function useFileStoreThreads(data: FileStoreThreadData): FileStoreThreads {
  if (ending !== null) clearTimeout(ending);
  ending = null;
  shared ??= new FileStoreThreadPool(data);
  const pool = shared;
  users += 1;
  let released = false;
  return {
    start: (job) => pool.start(job) as never,
    run: (job) => pool.start(job).result as never,
    release() {
      if (released) return;
      released = true;
      users -= 1;
      if (users > 0 || shared !== pool) return;
      ending = setTimeout(() => {
        ending = null;
        shared = null;
        pool.close();
      }, END_AFTER_MS);
      ending.unref();
    },
  };
}
