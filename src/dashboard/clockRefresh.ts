import type { TaskSummary } from './summary.js';
import { staleAfterMs, type TimeAxis } from './timeAxis.js';

/*
 * Some of what a page shows changes with the clock alone, with nothing saved: a held lease expires (and its
 * worker may be presumed lost), an open attempt's bar grows to now. The page says how soon it goes stale so
 * (`data-refresh-in-ms` on its live part), and the client script fetches it again then.
 */

/** A lease expiring now is judged a moment later, so that the page fetched then surely sees it expired. */
const AFTER_EXPIRY_MS = 50;

/**
 * How many milliseconds after `now` a page drawn at `now` goes stale by the clock: the first expiry of a held
 * lease among `summaries`, or the time an open attempt's bar on `axis` takes to visibly grow; null when neither.
 */
export function refreshInMs(
  summaries: readonly Pick<TaskSummary, 'lease'>[],
  axis: TimeAxis | null,
  now: number,
): number | null {
  let soonest = staleAfterMs(axis) ?? Number.POSITIVE_INFINITY;
  for (const { lease } of summaries) {
    if (lease === null || lease.standing !== 'held') continue;
    const expiresAt = Date.parse(lease.expiresAt);
    if (!Number.isNaN(expiresAt)) soonest = Math.min(soonest, expiresAt - now + AFTER_EXPIRY_MS);
  }
  return soonest === Number.POSITIVE_INFINITY ? null : Math.max(0, Math.round(soonest));
}
