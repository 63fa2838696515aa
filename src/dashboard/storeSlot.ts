import type { TaskStore } from '../index.js';

/**
 * The store a dashboard serves: there from the start, or awaited — `task-runtime serve` may start before the
 * orchestrator made its store, and then shows why it waits until the store is filled in.
 */
export class StoreSlot {
  #store: TaskStore | null;
  #waitingFor: string;

  /** A slot holding `store`, or an empty one waiting for the reason given. */
  constructor(store: TaskStore | null, waitingFor = 'the store does not exist yet') {
    this.#store = store;
    this.#waitingFor = waitingFor;
  }

  /** `store` in a slot of its own, or the slot itself. */
  static of(store: TaskStore | StoreSlot): StoreSlot {
    return store instanceof StoreSlot ? store : new StoreSlot(store);
  }

  /** The store, or null while it is awaited. */
  get store(): TaskStore | null {
    return this.#store;
  }

  /** Why there is no store yet, as a phrase (`the directory does not exist yet`); meaningless once filled. */
  get waitingFor(): string {
    return this.#waitingFor;
  }

  /** Says why the store is still awaited (the reason may change: a server comes up, its table is still missing). */
  wait(reason: string): void {
    if (this.#store === null) this.#waitingFor = reason;
  }

  /** Fills the slot with the store, once. @throws {Error} when it already holds one */
  fill(store: TaskStore): void {
    if (this.#store !== null) throw new Error('the dashboard already serves a store');
    this.#store = store;
  }
}
