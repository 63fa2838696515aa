import type { AttemptContext } from './AttemptContext.js';

/** What a handler's call came to: its value, what it threw, or the attempt ended first (the handler is ignored). */
export type HandlerOutcome =
  | { readonly kind: 'returned'; readonly value: unknown }
  | { readonly kind: 'threw'; readonly error: unknown }
  | { readonly kind: 'ended' };

const ENDED: HandlerOutcome = Object.freeze({ kind: 'ended' });

/** Whether `value` is a promise or another thenable (its outcome is awaited). */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * One attempt in flight, inside the worker. Whoever ends it first (the attempt's own course, its timeout, or a store
 * failure) claims it; only the claimer records its end, and from the claim on the context refuses its commands
 * and the handler's outcome is ignored. The slot is held until {@link Attempt.finish}. Its promises and its
 * AbortController are made only when something waits on them (a worker with sync handlers makes none).
 */
export class Attempt {
  readonly taskId: string;
  /** The context handed to both handlers; set by the worker once the attempt's number is known. */
  context: AttemptContext | null = null;
  #attemptNum = -1;
  #ended = false;
  #finished = false;
  #cancelTimeout: (() => void) | null = null;
  #commands: Set<Promise<unknown>> | null = null;
  #controller: AbortController | null = null;
  #abort: { readonly reason: unknown } | null = null;
  #onEnd: (() => void) | null = null;
  #whenFinished: Promise<void> | null = null;
  #onFinished: (() => void) | null = null;
  readonly #onFinish: () => void;

  /** `onFinish` is called once, when the attempt finishes. */
  constructor(taskId: string, onFinish: () => void) {
    this.taskId = taskId;
    this.#onFinish = onFinish;
  }

  /** The attempt's number, as in the task's ledger; -1 until {@link Attempt.begin}. */
  get attemptNum(): number {
    return this.#attemptNum;
  }

  /** Sets the attempt's number once the run recorded its start (or, for a recovered PR, as found). */
  begin(attemptNum: number): void {
    this.#attemptNum = attemptNum;
  }

  /** Whether someone claimed the attempt's end. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The attempt's signal (aborted with the reason given to {@link Attempt.abort}). */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#abort !== null) this.#controller.abort(this.#abort.reason);
    }
    return this.#controller.signal;
  }

  /** Aborts the attempt's signal with `reason` (the first reason stays). */
  abort(reason: unknown): void {
    if (this.#abort !== null) return;
    this.#abort = { reason };
    this.#controller?.abort(reason);
  }

  /** Claims the attempt's end; true for the first caller only. Cancels the timeout. */
  claim(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#cancelTimeout?.();
    this.#onEnd?.();
    return true;
  }

  /** Keeps the cancel function of the attempt's timeout (cancelled by {@link Attempt.claim}). */
  setTimeout(cancel: () => void): void {
    if (this.#ended) cancel();
    else this.#cancelTimeout = cancel;
  }

  /** Counts `command` among the attempt's run commands until it settles. */
  track(command: Promise<unknown>): void {
    const commands = this.#commands ?? new Set();
    this.#commands = commands;
    commands.add(command);
    const forget = () => commands.delete(command);
    command.then(forget, forget);
  }

  /** Resolves once every run command of the attempt issued so far has settled. */
  async commandsSettled(): Promise<void> {
    if (this.#commands !== null) await Promise.allSettled([...this.#commands]);
  }

  /** Calls the handler and waits for its outcome, or for the attempt's end, whichever comes first. */
  call(handler: () => unknown): HandlerOutcome | Promise<HandlerOutcome> {
    if (this.#ended) return ENDED;
    let result: unknown;
    try {
      result = handler();
    } catch (error) {
      return this.#ended ? ENDED : { kind: 'threw', error };
    }
    if (!isThenable(result)) return this.#ended ? ENDED : { kind: 'returned', value: result };
    // One promise settled by whichever comes first: the handler's outcome, or the attempt's end (a claim).
    return new Promise<HandlerOutcome>((resolve) => {
      this.#onEnd = () => resolve(ENDED);
      Promise.resolve(result).then(
        (value) => resolve(this.#ended ? ENDED : { kind: 'returned', value }),
        (error: unknown) => resolve(this.#ended ? ENDED : { kind: 'threw', error }),
      );
    });
  }

  /** Frees the attempt's slot (idempotent). */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#onFinished?.();
    this.#onFinish();
  }

  /** Resolves once the attempt is finished and its slot free. */
  get finished(): Promise<void> {
    if (this.#whenFinished === null) {
      this.#whenFinished = this.#finished
        ? Promise.resolve()
        : new Promise((resolve) => {
            this.#onFinished = resolve;
          });
    }
    return this.#whenFinished;
  }
}
