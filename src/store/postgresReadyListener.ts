import type { Client } from 'pg';
import { TaskStoreError } from '../errors.js';

/** The first wait before connecting again after the listening connection was lost; it doubles up to the next. */
const FIRST_RETRY_MS = 50;
const LAST_RETRY_MS = 2_000;

/**
 * The LISTEN side of {@link PostgresTaskStore}'s ready hints: one connection of its own (a pooled one would be
 * handed to queries, and LISTEN belongs to a session), opened for the first listener and closed after the last.
 * A notification on `channel` calls the listeners of the run its payload names. When the connection is lost it
 * connects again (50 ms, then twice as long each time, up to 2 s) and then calls every listener once, since hints
 * may have been missed meanwhile.
 */
export class PostgresReadyListener {
  readonly #connect: () => Client;
  readonly #channel: string;
  readonly #listeners = new Map<string, Set<() => void>>();
  #client: Client | null = null;
  /** Connecting, disconnecting or waiting to reconnect: every change of the connection waits for the one before. */
  #changing: Promise<void> = Promise.resolve();
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  /** A listener on `channel` whose connections `connect` makes (not connected yet). */
  constructor(connect: () => Client, channel: string) {
    this.#connect = connect;
    this.#channel = channel;
  }

  /**
   * Calls `listener` on each hint for run `runId`; resolves once the connection listens, with the function that
   * stops it. TaskStoreError when the first connection fails.
   */
  async add(runId: string, listener: () => void): Promise<() => Promise<void>> {
    if (this.#closed)
      throw new TaskStoreError(null, 'listenReady', 'the store was closed; connect again');
    const entry = () => listener();
    const set = this.#listeners.get(runId) ?? new Set();
    set.add(entry);
    this.#listeners.set(runId, set);
    try {
      await this.#change(() => this.#ensureListening());
    } catch (cause) {
      this.#remove(runId, entry);
      throw new TaskStoreError(
        null,
        'listenReady',
        `${(cause as Error).message}; check the server`,
        {
          cause,
        },
      );
    }
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      this.#remove(runId, entry);
      if (this.#listeners.size === 0) await this.#change(() => this.#disconnect());
    };
  }

  /** Stops listening for good; later `add` calls fail. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    await this.#change(() => this.#disconnect());
  }

  #remove(runId: string, entry: () => void): void {
    const set = this.#listeners.get(runId);
    set?.delete(entry);
    if (set?.size === 0) this.#listeners.delete(runId);
  }

  #change(work: () => Promise<void>): Promise<void> {
    const next = this.#changing.then(work);
    this.#changing = next.catch(() => undefined);
    return next;
  }

  /** Connects and listens unless a connection listens already (or nobody listens any more). */
  async #ensureListening(): Promise<void> {
    if (this.#client !== null || this.#listeners.size === 0 || this.#closed) return;
    const client = this.#connect();
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (message) => {
      if (message.channel === this.#channel) this.#tell(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.#client = client;
  }

  async #disconnect(): Promise<void> {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const client = this.#client;
    if (client === null || (this.#listeners.size > 0 && !this.#closed)) return;
    this.#client = null;
    await client.end().catch(() => undefined);
  }

  /** The connection `client` broke (an error, or the server ended it): connect again while someone listens. */
  #lost(client: Client): void {
    if (this.#client !== client) return; // ended on purpose, or already replaced
    this.#client = null;
    client.end().catch(() => undefined);
    this.#reconnect(FIRST_RETRY_MS);
  }

  #reconnect(waitMs: number): void {
    if (this.#closed || this.#listeners.size === 0 || this.#retryTimer !== null) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#change(() => this.#ensureListening()).then(
        () => {
          if (this.#client !== null) this.#tell(null); // hints may have been missed meanwhile
        },
        () => this.#reconnect(Math.min(waitMs * 2, LAST_RETRY_MS)),
      );
    }, waitMs);
  }

  /** Calls the listeners of run `runId`, or of every run when null; a listener that throws is let be. */
  #tell(runId: string | null | undefined): void {
    const sets =
      runId === null ? [...this.#listeners.values()] : [this.#listeners.get(runId ?? '') ?? []];
    for (const set of sets) {
      for (const listener of [...set]) {
        try {
          listener();
        } catch {
          // A hint's listener has no one to report to; its own work reports its failures.
        }
      }
    }
  }
}
