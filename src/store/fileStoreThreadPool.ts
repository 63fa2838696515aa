/*
 * The worker threads FileTaskStore does its disk work in: one process-wide pool, shared by every open store,
 * started with the first job and ended soon after the last store closes. A thread is unref'd while idle, so a program
 * that forgets close() still exits.
 */
import { Worker } from 'node:worker_threads';
import {
  type FileStoreJob,
  type FileStoreJobResults,
  type FileStoreThreadData,
  fileStoreThread,
  type ThreadError,
  type ThreadReply,
} from './fileStoreThread.js';

/**
 * Threads the pool starts at most, each when a job finds every other one busy. Four, like libuv's pool: enough
 * for the fsyncs of concurrent saves to overlap, at about 10 MB of memory each.
 */
export const MAX_THREADS = 4;

/** What a thread runs: the body of {@link fileStoreThread}, from its source text. */
const THREAD_SOURCE = `(${fileStoreThread.toString()})();`;

/** A job waiting for a thread, or for its thread's reply. */
interface Queued {
  readonly job: FileStoreJob;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** A thread, whether it has started, and the job it runs (null while idle). */
interface Slot {
  readonly worker: Worker;
  online: boolean;
  current: Queued | null;
}

/** A store's use of the process's threads; {@link FileStoreThreads.release} once, when the store closes. */
export interface FileStoreThreads {
  /** Runs `job` in a thread; rejects with what it threw there, rebuilt as an Error with the same fields. */
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

  run(job: FileStoreJob): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('the file store threads were ended: the store was closed'));
        return;
      }
      this.#queue.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  /** Ends every thread (none runs a job: the stores that used the pool awaited theirs first). */
  close(): void {
    this.#closed = true;
    for (const queued of this.#queue.splice(0)) queued.reject(new Error('the store was closed'));
    for (const slot of this.#slots.splice(0)) void slot.worker.terminate();
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
    const slot: Slot = { worker, online: false, current: null };
    worker.on('online', () => {
      slot.online = true;
      this.#dispatch();
      if (slot.current === null) worker.unref();
    });
    worker.on('message', (reply: ThreadReply) => this.#settle(slot, reply));
    worker.on('error', (error) => this.#lose(slot, error));
    worker.on('exit', (code) => {
      this.#lose(slot, new Error(`a file store thread exited with code ${code}`));
    });
    this.#slots.push(slot);
  }

  #start(slot: Slot, queued: Queued): void {
    slot.current = queued;
    slot.worker.ref(); // a job keeps the process alive, as a pending fs call does
    slot.worker.postMessage(queued.job);
  }

  #settle(slot: Slot, reply: ThreadReply): void {
    const queued = slot.current;
    if (queued === null) return;
    const next = this.#queue.shift();
    if (next === undefined) {
      slot.current = null;
      slot.worker.unref();
    } else {
      this.#start(slot, next);
    }
    if (reply.ok) queued.resolve(reply.value);
    else queued.reject(rebuiltError(reply.error));
  }

  /** A thread that failed outside a job (out of memory, say) or exited: its job fails, the others go on. */
  #lose(slot: Slot, error: unknown): void {
    const index = this.#slots.indexOf(slot);
    if (index === -1) return;
    this.#slots.splice(index, 1);
    slot.current?.reject(error);
    slot.current = null;
    this.#dispatch();
  }
}

/** An Error like the one a thread threw: same message, and the `code`, `errno`, `syscall`… of a system error. */
function rebuiltError(thrown: ThreadError): Error {
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
    run: (job) => pool.run(job) as never,
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
