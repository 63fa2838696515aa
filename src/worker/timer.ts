/** The longest delay `setTimeout` keeps (a longer one fires at once, with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `callback` once `ms` milliseconds have passed (any finite length: long delays are chained); returns the cancel function. */
export function afterDelay(ms: number, callback: () => void): () => void {
  let remaining = ms;
  let handle: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    const step = Math.min(remaining, MAX_TIMER_MS);
    remaining -= step;
    handle = setTimeout(() => (remaining > 0 ? arm() : callback()), step);
  };
  arm();
  return () => clearTimeout(handle);
}
