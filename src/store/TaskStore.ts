/** A stored task snapshot and the revision it was saved at. */
export interface StoredTask {
  readonly snapshot: unknown;
  /** A positive integer that grows by one with every save. */
  readonly revision: number;
}

/** Options of {@link TaskStore.save}. */
export interface SaveOptions {
  /** The revision the caller last saw; `null` means "must not exist yet". A mismatch throws ConflictError. */
  readonly expectedRevision: number | null;
}

/** Options of {@link TaskStore.delete}. */
export interface DeleteOptions {
  /** The revision the caller last saw; a mismatch throws ConflictError. */
  readonly expectedRevision: number;
}

/**
 * Durable storage of task snapshots with optimistic concurrency: every write names the revision it expects,
 * and a stale writer gets ConflictError instead of overwriting a newer state.
 */
export interface TaskStore {
  /** The latest snapshot of a task and its revision, or null when it is not stored. */
  load(taskId: string): Promise<StoredTask | null>;
  /** Stores a snapshot if the stored revision is `expectedRevision`; resolves to the new revision. */
  save(taskId: string, snapshot: unknown, options: SaveOptions): Promise<number>;
  /** Removes a task if the stored revision is `expectedRevision`. */
  delete(taskId: string, options: DeleteOptions): Promise<void>;
  /** The ids of every stored task. */
  list(): Promise<string[]>;
  /** Releases the store's resources; later calls fail. */
  close(): Promise<void>;
}
