import { LeaseLostError } from '../errors.js';
import type { Lease, TaskStore } from '../store/TaskStore.js';

/** A lease this worker holds, and the local time before the request that last set its expiry was sent. */
export interface Held {
  lease: Lease;
  sentAt: number;
  /** When its last renewal was sent, answered or not. */
  triedAt: number;
  /** Whether a renewal of it is under way. */
  renewing: boolean;
}

/** The longest delay a Node timer takes (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The leases one worker of a shared run holds: renewed every third of `leaseMs` while held; a lease the store says
 * another worker took, or one that could not be renewed before it ran out (the store unreachable), is dropped and
 * reported to `onLost` — from then on this worker must not act on the task.
 */
export class HeldLeases {
  readonly #store: TaskStore;
  readonly #leaseMs: number;
  readonly #onLost: (taskId: string) => void;
  readonly #held = new Map<string, Held>();
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(store: TaskStore, leaseMs: number, onLost: (taskId: string) => void) {
    this.#store = store;
    this.#leaseMs = leaseMs;
    this.#onLost = onLost;
  }

  /** The lease held on the task, or undefined. */
  get(taskId: string): Lease | undefined {
    return this.#held.get(taskId)?.lease;
  }

  /** Claims the task for `workerId`; the lease when granted (then held and renewed), null while another is live. */
  async claim(taskId: string, workerId: string): Promise<Lease | null> {
    const sentAt = Date.now();
    const lease = await this.#store.claim(taskId, workerId, { leaseMs: this.#leaseMs });
    if (lease !== null) this.hold(taskId, lease, sentAt);
    return lease;
  }

  /** Holds (and renews) a lease claimed elsewhere — a store's ready-claim — whose request was sent at `sentAt`. */
  hold(taskId: string, lease: Lease, sentAt: number): void {
    this.#held.set(taskId, { lease, sentAt, triedAt: sentAt, renewing: false });
    this.#startRenewing();
  }

  /** Gives the task's lease back to the store (a lease already lost is simply forgotten). */
  async release(taskId: string): Promise<void> {
    const held = this.#held.get(taskId);
    if (held === undefined) return;
    this.#held.delete(taskId);
    if (this.#held.size === 0) this.#stopRenewing();
    try {
      await this.#store.release(taskId, held.lease);
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
    }
  }

  /**
   * Sets the task's lease aside while a save that ends it is under way: it is neither renewed nor reported lost
   * meanwhile. Give it to {@link HeldLeases.putBack} when that save fails; forget it when it succeeds.
   */
  setAside(taskId: string): Held | undefined {
    const held = this.#held.get(taskId);
    if (held !== undefined) this.forget(taskId);
    return held;
  }

  /** Holds again a lease set aside by {@link HeldLeases.setAside} (the save that was to end it failed). */
  putBack(taskId: string, held: Held): void {
    this.#held.set(taskId, held);
    this.#startRenewing();
  }

  /** Forgets the task's lease without telling the store (it runs out by itself). */
  forget(taskId: string): void {
    this.#held.delete(taskId);
    if (this.#held.size === 0) this.#stopRenewing();
  }

  /** Reports the task's lease lost (a save carrying it was refused): forgotten, and `onLost` told. */
  lost(taskId: string): void {
    if (!this.#held.has(taskId)) return;
    this.forget(taskId);
    this.#onLost(taskId);
  }

  /** Stops renewing; the leases still held run out by themselves, each reported to `onLost`. */
  close(): void {
    // Whoever acts on them must stop: from now on they only run out.
    for (const taskId of [...this.#held.keys()]) this.lost(taskId);
  }

  /** Milliseconds between two renewals: a third of the lease (at most the longest delay a timer takes). */
  get #interval(): number {
    return Math.max(1, Math.min(Math.floor(this.#leaseMs / 3), MAX_TIMER_MS));
  }

  /** Milliseconds between two looks at the leases: a quarter of a renewal's interval. */
  get #tick(): number {
    return Math.max(1, Math.floor(this.#interval / 4));
  }

  #startRenewing(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.#look(), this.#tick);
    this.#timer.unref();
  }

  #stopRenewing(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * Drops each lease that may run out before the next look — its last answered renewal (or claim) was sent a lease
   * ago, less one look — and sends a renewal for each one whose interval has passed with none under way. A timer
   * that comes late still renews a lease with time left; a renewal left unanswered is no excuse to act on a lease
   * that may have run out.
   */
  #look(): void {
    const now = Date.now();
    for (const [taskId, held] of [...this.#held]) {
      if (now >= held.sentAt + this.#leaseMs - this.#tick) {
        this.lost(taskId);
      } else if (!held.renewing && now >= held.triedAt + this.#interval) {
        void this.#renew(taskId, held);
      }
    }
  }

  async #renew(taskId: string, held: Held): Promise<void> {
    const sentAt = Date.now();
    held.renewing = true;
    held.triedAt = sentAt;
    try {
      const lease = await this.#store.renew(taskId, held.lease, { leaseMs: this.#leaseMs });
      if (this.#held.get(taskId) === held) {
        held.lease = lease;
        held.sentAt = sentAt;
      }
    } catch (error) {
      // Another worker took it; a store that cannot be reached is tried again until the lease would run out.
      if (error instanceof LeaseLostError && this.#held.get(taskId) === held) this.lost(taskId);
    } finally {
      held.renewing = false;
    }
  }
}
