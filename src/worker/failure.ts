import { describeValue, isNonEmptyString, isRecord } from '../validation.js';
import { NonRetryableError } from './NonRetryableError.js';

/** The handler of an attempt that failed: `work` (before the PR) or `merge` (after it). */
export type HandlerStep = 'work' | 'merge';

/** What `markFailed` records for a failed attempt. */
export interface AttemptFailure {
  readonly message: string;
  readonly retryable: boolean;
}

/**
 * The failure a handler's throw or rejection stands for: the error's `message` (a non-Error's string form; an empty
 * one becomes `'<step> failed without a message'`), final only for a NonRetryableError or an error whose `retryable`
 * is `false`.
 */
export function failureOf(thrown: unknown, step: HandlerStep): AttemptFailure {
  const message = messageOf(thrown);
  return {
    message: message === '' ? `${step} failed without a message` : message,
    retryable: !isNonRetryable(thrown),
  };
}

/** The error's message, or the string form of a non-Error; a value that cannot say it is described instead. */
function messageOf(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return String(thrown.message);
    return String(thrown);
  } catch {
    return `a handler threw ${describeValue(thrown)}, which has no string form`;
  }
}

/** Whether the thrown value asks for a final failure: a NonRetryableError, or anything whose `retryable` is false. */
function isNonRetryable(thrown: unknown): boolean {
  if (thrown instanceof NonRetryableError) return true;
  if ((typeof thrown !== 'object' && typeof thrown !== 'function') || thrown === null) return false;
  try {
    return (thrown as { retryable?: unknown }).retryable === false;
  } catch {
    return false;
  }
}

/** Why `result` is not what `work` must return (an object with a non-empty string `prUrl`), or null when it is. */
export function prUrlProblem(result: unknown): string | null {
  const expected =
    'expected an object with a non-empty string prUrl, such as { prUrl: "https://…/pull/1" }';
  if (!isRecord(result)) return `work returned ${describeValue(result)}: ${expected}`;
  let prUrl: unknown;
  try {
    prUrl = result.prUrl;
  } catch {
    return `work returned an object whose prUrl cannot be read: ${expected}`;
  }
  if (isNonEmptyString(prUrl)) return null;
  return `work returned an object whose prUrl is ${describeValue(prUrl)}: ${expected}`;
}
