/** A stored task snapshot and the revision it was saved at. */
export interface StoredTask {
  readonly snapshot: unknown;
  /** A positive integer that grows by one with every save. */
  readonly revision: number;
  /** The task's lease as stored (it may have expired), or null when no worker claimed it or it was released. */
  readonly lease: Lease | null;
}

/** What a worker shows to prove it still holds a task: its id and the fencing token of its claim. */
export interface LeaseRef {
  readonly workerId: string;
  readonly token: number;
}

/** A worker's time-limited claim on a task; `token` is the fencing token, strictly increasing per task. */
export interface Lease extends LeaseRef {
  /** ISO-8601 time after which another worker may claim the task. */
  readonly expiresAt: string;
}

/** Options of {@link TaskStore.save}. */
export interface SaveOptions {
  /** The revision the caller last saw; `null` means "must not exist yet". A mismatch throws ConflictError. */
  readonly expectedRevision: number | null;
  /** When given, the save is refused with LeaseLostError unless this is the task's current lease. */
  readonly lease?: LeaseRef;
  /** With `lease`: the lease ends with this save, in the same write (as `release` right after it would). */
  readonly releaseLease?: boolean;
}

/** Options of {@link TaskStore.delete}. */
export interface DeleteOptions {
  /** The revision the caller last saw; a mismatch throws ConflictError. */
  readonly expectedRevision: number;
}

/** Options of {@link TaskStore.claim} and {@link TaskStore.renew}. */
export interface LeaseOptions {
  /** How long the lease lasts, in milliseconds (a positive integer). */
  readonly leaseMs: number;
}

/**
 * Durable storage of task snapshots with optimistic concurrency and leases: every write names the revision it
 * expects, so a stale writer gets ConflictError instead of overwriting a newer state; a worker that claimed a task
 * carries its lease, so once another worker has claimed it the old one's saves fail with LeaseLostError.
 */
export interface TaskStore {
  /** The latest snapshot of a task and its revision, or null when it is not stored. */
  load(taskId: string): Promise<StoredTask | null>;
  /** Stores a snapshot if the stored revision is `expectedRevision` (and `lease` is current); resolves to the new revision. */
  save(taskId: string, snapshot: unknown, options: SaveOptions): Promise<number>;
  /** Removes a task if the stored revision is `expectedRevision`; its revisions and tokens are never reused. */
  delete(taskId: string, options: DeleteOptions): Promise<void>;
  /** The ids of every stored task, sorted. */
  list(): Promise<string[]>;
  /** Claims a stored task for `workerId`; null while another lease on it is live. Does not change the revision. */
  claim(taskId: string, workerId: string, options: LeaseOptions): Promise<Lease | null>;
  /** Extends a lease that is still the task's current one; LeaseLostError otherwise. */
  renew(taskId: string, lease: LeaseRef, options: LeaseOptions): Promise<Lease>;
  /** Gives a lease up; LeaseLostError if it was no longer the task's current one. */
  release(taskId: string, lease: LeaseRef): Promise<void>;
  /** Ids of tasks whose lease ran out while they were running or pr_created: their worker is presumed lost. */
  listExpired(): Promise<string[]>;
  /** Releases the store's resources; later calls fail. */
  close(): Promise<void>;
}
