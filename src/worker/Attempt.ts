import type { AttemptContext } from './AttemptContext.js';

/** What a handler's call came to: its value, what it threw, or the attempt ended first (the handler is ignored). */
export type HandlerOutcome =
  | { readonly kind: 'returned'; readonly value: unknown }
  | { readonly kind: 'threw'; readonly error: unknown }
  | { readonly kind: 'ended' };

const ENDED: HandlerOutcome = Object.freeze({ kind: 'ended' });

/**
 * One attempt in flight, inside the worker. Whoever ends it first (the attempt's own course, its timeout, or a store
 * failure) claims it; only the claimer records its end, and from the claim on the context refuses its commands
 * and the handler's outcome is ignored. The slot is held until {@link Attempt.finish}.
 */
export class Attempt {
  readonly taskId: string;
  readonly attemptNum: number;
  readonly controller = new AbortController();
  /** Resolves once the attempt is finished and its slot free. */
  readonly finished: Promise<void>;
  /** The context handed to both handlers; set by the worker right after construction. */
  context: AttemptContext | null = null;
  #ended = false;
  #cancelTimeout: (() => void) | null = null;
  readonly #commands = new Set<Promise<unknown>>();
  #onEnd: () => void = () => undefined;
  readonly #whenEnded: Promise<HandlerOutcome>;
  #onFinish: () => void = () => undefined;

  constructor(taskId: string, attemptNum: number) {
    this.taskId = taskId;
    this.attemptNum = attemptNum;
    this.#whenEnded = new Promise((resolve) => {
      this.#onEnd = () => resolve(ENDED);
    });
    this.finished = new Promise((resolve) => {
      this.#onFinish = resolve;
    });
  }

  /** Whether someone claimed the attempt's end. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Claims the attempt's end; true for the first caller only. Cancels the timeout. */
  claim(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#cancelTimeout?.();
    this.#onEnd();
    return true;
  }

  /** Keeps the cancel function of the attempt's timeout (cancelled by {@link Attempt.claim}). */
  setTimeout(cancel: () => void): void {
    if (this.#ended) cancel();
    else this.#cancelTimeout = cancel;
  }

  /** Counts `command` among the attempt's run commands until it settles. */
  track(command: Promise<unknown>): void {
    this.#commands.add(command);
    const forget = () => this.#commands.delete(command);
    command.then(forget, forget);
  }

  /** Resolves once every run command of the attempt issued so far has settled. */
  async commandsSettled(): Promise<void> {
    await Promise.allSettled([...this.#commands]);
  }

  /** Calls the handler and waits for its outcome, or for the attempt's end, whichever comes first. */
  async call(handler: () => unknown): Promise<HandlerOutcome> {
    if (this.#ended) return ENDED;
    let outcome: Promise<HandlerOutcome>;
    try {
      outcome = Promise.resolve(handler()).then(
        (value): HandlerOutcome => ({ kind: 'returned', value }),
        (error: unknown): HandlerOutcome => ({ kind: 'threw', error }),
      );
    } catch (error) {
      outcome = Promise.resolve({ kind: 'threw', error });
    }
    const first = await Promise.race([outcome, this.#whenEnded]);
    return this.#ended ? ENDED : first;
  }

  /** Frees the attempt's slot (idempotent). */
  finish(): void {
    this.#onFinish();
  }
}
