import type { AttemptRecord } from '../index.js';

/*
 * The time axis of the dashboard's timelines (a task's attempts, the run's tasks): from the earliest time in the
 * ledgers drawn to the latest, or to now while an attempt is open — an open attempt's bar runs to now.
 */

/** The shortest axis drawn, so that a single instant still has a width. */
const MIN_SPAN_MS = 1_000;

/** A time axis: where a time falls between its start and its end. */
export interface TimeAxis {
  /** Epoch milliseconds of the left edge. */
  readonly start: number;
  /** Epoch milliseconds of the right edge: the latest time drawn, and at least now while an attempt is open. */
  readonly end: number;
  /** Whether some attempt drawn is open (started, not ended), so that the drawing grows with the clock. */
  readonly open: boolean;
}

/** Milliseconds of an ISO-8601 time, or null (absent or not a time). */
export function timeOf(iso: string | null): number | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * The axis over every attempt of `ledgers` at `now` (epoch milliseconds): from the earliest start or end to the
 * latest, extended to now while an attempt is open (unless the ledger's clock runs ahead of now). Null when no
 * attempt has a time.
 */
export function timeAxisOf(
  ledgers: Iterable<readonly AttemptRecord[]>,
  now: number,
): TimeAxis | null {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let open = false;
  for (const attempts of ledgers) {
    for (const record of attempts) {
      const start = timeOf(record.startedAt);
      const end = timeOf(record.endedAt);
      for (const time of [start, end]) {
        if (time === null) continue;
        first = Math.min(first, time);
        last = Math.max(last, time);
      }
      if (start !== null && end === null) open = true;
    }
  }
  if (first === Number.POSITIVE_INFINITY) return null;
  if (open) last = Math.max(last, now);
  return { start: first, end: Math.max(last, first + MIN_SPAN_MS), open };
}

/** Where `ms` falls on `axis`, from 0 (its start) to 1 (its end), clamped. */
export function fractionOf(axis: TimeAxis, ms: number): number {
  return Math.min(1, Math.max(0, (ms - axis.start) / (axis.end - axis.start)));
}

/** `intervals + 1` evenly spaced times from the axis' start to its end. */
export function ticksOf(axis: TimeAxis, intervals: number): number[] {
  const span = axis.end - axis.start;
  return Array.from({ length: intervals + 1 }, (_, i) => axis.start + (span * i) / intervals);
}

/** How one attempt is drawn on an axis: a bar from start to end (to the axis' end while open), or a mark. */
export type AttemptShape =
  | { readonly kind: 'bar'; readonly start: number; readonly end: number; readonly open: boolean }
  /** A failure before the attempt ran (a blocked task): no start, only the time it was failed. */
  | { readonly kind: 'mark'; readonly at: number };

/** The shape of `record` on `axis`, or null when it has no time at all. */
export function attemptShapeOf(record: AttemptRecord, axis: TimeAxis): AttemptShape | null {
  const start = timeOf(record.startedAt);
  const end = timeOf(record.endedAt);
  if (start === null) return end === null ? null : { kind: 'mark', at: end };
  return { kind: 'bar', start, end: end ?? axis.end, open: end === null };
}

/** How much of an axis' width an open bar may grow before the drawing is redrawn (half a percent). */
const STALE_FRACTION = 0.005;

/**
 * How soon a drawing of `axis` made now goes stale by the clock alone: while an attempt is open, the time its bar
 * takes to grow by half a percent of the axis (from 1 s to 1 min); null when nothing drawn is open.
 */
export function staleAfterMs(axis: TimeAxis | null): number | null {
  if (axis === null || !axis.open) return null;
  return Math.min(60_000, Math.max(1_000, Math.round((axis.end - axis.start) * STALE_FRACTION)));
}
