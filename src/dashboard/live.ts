import { createHash } from 'node:crypto';
import { SnapshotError, type TaskStore } from '../index.js';
import { StoreSlot } from './storeSlot.js';

/** A store that can tell cheaply whether anything in it changed (PostgresTaskStore does). */
interface ChangeMarked {
  changeMark(): Promise<string>;
}

function hasChangeMark(store: TaskStore): store is TaskStore & ChangeMarked {
  return typeof (store as Partial<ChangeMarked>).changeMark === 'function';
}

/** What a subscriber of {@link StoreChanges} hears. */
export type StoreEvent =
  /** The first look at the store after subscribing is done: changes from now on are reported. */
  | 'ready'
  /** Some task was saved, created or deleted since the last look. */
  | 'change';

/** Options of {@link StoreChanges}. */
export interface StoreChangesOptions {
  /** Milliseconds between two looks at the store (longer when a look itself takes long). @default 500 */
  readonly intervalMs?: number;
}

const LOADS_AT_ONCE = 8;

/**
 * A value that changes whenever a task is saved, created or deleted: the store's own `changeMark()` when it has
 * one (one query on PostgreSQL, which sums the revisions, so a lease claimed, renewed or released without a save
 * does not move it), else a hash of every id, revision and lease from the public TaskStore interface (`list()`,
 * then `load()` of each), which moves with the leases too.
 */
export async function changeMarkOf(store: TaskStore): Promise<string> {
  if (hasChangeMark(store)) return store.changeMark();
  const ids = await store.list();
  const revisions: string[] = new Array(ids.length).fill('');
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < ids.length; index = next++) {
      try {
        const stored = await store.load(ids[index] as string);
        revisions[index] = stored === null ? '-' : JSON.stringify([stored.revision, stored.lease]);
      } catch (error) {
        if (!(error instanceof SnapshotError)) throw error;
        revisions[index] = 'corrupt';
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOADS_AT_ONCE, ids.length) }, worker));
  const hash = createHash('sha256');
  ids.forEach((id, index) => {
    hash.update(`${JSON.stringify(id)}=${revisions[index]}\n`);
  });
  return hash.digest('hex');
}

/**
 * The change feed of a store, by polling: while anyone listens it looks at the store every `intervalMs` (or
 * twice as long as a look takes, whichever is longer, so a large store is not polled without pause) and tells
 * every listener when the mark of {@link changeMarkOf} moved. A failing look is retried at the next tick.
 */
export class StoreChanges {
  readonly #slot: StoreSlot;
  readonly #intervalMs: number;
  /** Every subscribed listener; those that heard 'ready' are also in #listeners. */
  readonly #subscribed = new Set<(event: StoreEvent) => void>();
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  /** Listeners that joined after the current look started: they get 'ready' after the next one. */
  #joining = new Set<(event: StoreEvent) => void>();
  #mark: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #looking = false;
  #closed = false;

  /** Watches `store`, or the store of a slot once it is filled (its waiting reason changing counts as a change). */
  constructor(store: TaskStore | StoreSlot, options: StoreChangesOptions = {}) {
    this.#slot = StoreSlot.of(store);
    this.#intervalMs = options.intervalMs ?? 500;
  }

  /** Calls `listener` with 'ready' once, then with 'change' after every change; returns the unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    const wrapped = (event: StoreEvent): void => listener(event);
    this.#subscribed.add(wrapped);
    this.#joining.add(wrapped);
    if (!this.#looking) this.#schedule(0);
    return () => {
      this.#subscribed.delete(wrapped);
      this.#joining.delete(wrapped);
      this.#listeners.delete(wrapped);
      if (this.#listeners.size === 0 && this.#joining.size === 0) this.#stop();
    };
  }

  /** Stops polling for good; listeners hear nothing more. */
  close(): void {
    this.#closed = true;
    this.#subscribed.clear();
    this.#listeners.clear();
    this.#joining.clear();
    this.#stop();
  }

  #stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#mark = null;
  }

  #schedule(delayMs: number): void {
    if (this.#closed || this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#look();
    }, delayMs);
    this.#timer.unref();
  }

  async #look(): Promise<void> {
    const joined = this.#joining;
    this.#joining = new Set();
    this.#looking = true;
    const started = performance.now();
    let mark: string | null = null;
    try {
      const store = this.#slot.store;
      mark =
        store === null
          ? `waiting for the store: ${this.#slot.waitingFor}`
          : await changeMarkOf(store);
    } catch {
      // The store failed this time (a file mid-rename, a dropped connection): look again at the next tick.
    }
    this.#looking = false;
    if (this.#closed) return;
    if (mark !== null) {
      const changed = this.#mark !== null && mark !== this.#mark;
      this.#mark = mark;
      if (changed) for (const listener of this.#listeners) listener('change');
      for (const listener of joined) {
        if (!this.#subscribed.has(listener)) continue;
        this.#listeners.add(listener);
        listener('ready');
      }
    } else {
      for (const listener of joined)
        if (this.#subscribed.has(listener)) this.#joining.add(listener);
    }
    if (this.#listeners.size > 0 || this.#joining.size > 0) {
      this.#schedule(Math.max(this.#intervalMs, 2 * (performance.now() - started)));
    } else {
      this.#mark = null;
    }
  }
}
