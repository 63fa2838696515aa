import {
  attemptShapeOf,
  fractionOf,
  staleAfterMs,
  ticksOf,
  timeAxisOf,
} from '../../src/dashboard/timeAxis.js';
import type { AttemptRecord } from '../../src/machines/taskMachine.js';

const at = (iso: string) => Date.parse(iso);

/** A ledger record: failed between two times unless told otherwise. */
function record(change: Partial<AttemptRecord>): AttemptRecord {
  return {
    attemptNum: 0,
    startedAt: null,
    endedAt: null,
    outcome: 'failed',
    error: null,
    retryable: true,
    prUrl: null,
    workerId: null,
    ...change,
  };
}

const closed = record({
  startedAt: '2026-01-05T09:00:00.000Z',
  endedAt: '2026-01-05T10:00:00.000Z',
});
const open = record({ startedAt: '2026-01-05T09:30:00.000Z', outcome: 'running' });
const blocked = record({ endedAt: '2026-01-05T10:30:00.000Z' });

describe('timeAxisOf', () => {
  it('should span from the earliest time to the latest over every ledger', () => {
    expect(timeAxisOf([[closed], [blocked]], at('2027-01-01T00:00:00Z'))).toEqual({
      start: at('2026-01-05T09:00:00Z'),
      end: at('2026-01-05T10:30:00Z'),
      open: false,
    });
  });

  it('should run to now while an attempt is open', () => {
    const now = at('2026-01-05T12:00:00Z');
    expect(timeAxisOf([[closed], [open]], now)).toEqual({
      start: at('2026-01-05T09:00:00Z'),
      end: now,
      open: true,
    });
  });

  it('should keep the latest recorded time when the ledger runs ahead of now', () => {
    const now = at('2026-01-05T09:45:00Z');
    expect(timeAxisOf([[closed, open]], now)?.end).toBe(at('2026-01-05T10:00:00Z'));
  });

  it('should give a lone instant a second of width, and be null without any time', () => {
    expect(timeAxisOf([[blocked]], 0)).toEqual({
      start: at('2026-01-05T10:30:00Z'),
      end: at('2026-01-05T10:30:01Z'),
      open: false,
    });
    expect(timeAxisOf([[], [record({})]], 0)).toBeNull();
    expect(timeAxisOf([], 0)).toBeNull();
  });
});

describe('fractionOf and ticksOf', () => {
  const axis = { start: 1_000, end: 3_000, open: false };

  it('should place times between 0 and 1, clamped', () => {
    expect([0, 1_000, 2_500, 3_000, 9_000].map((ms) => fractionOf(axis, ms))).toEqual([
      0, 0, 0.75, 1, 1,
    ]);
  });

  it('should space the ticks evenly from start to end', () => {
    expect(ticksOf(axis, 2)).toEqual([1_000, 2_000, 3_000]);
    expect(ticksOf(axis, 4)).toEqual([1_000, 1_500, 2_000, 2_500, 3_000]);
  });
});

describe('attemptShapeOf', () => {
  const now = at('2026-01-05T12:00:00Z');
  const axis = timeAxisOf([[closed, open, blocked]], now);
  if (axis === null) throw new Error('the axis should exist');

  it('should draw an ended attempt from its start to its end', () => {
    expect(attemptShapeOf(closed, axis)).toEqual({
      kind: 'bar',
      start: at('2026-01-05T09:00:00Z'),
      end: at('2026-01-05T10:00:00Z'),
      open: false,
    });
  });

  it('should draw an open attempt to the end of the axis, which is now', () => {
    expect(attemptShapeOf(open, axis)).toEqual({
      kind: 'bar',
      start: at('2026-01-05T09:30:00Z'),
      end: now,
      open: true,
    });
  });

  it('should mark a failure before the attempt ran at its time, and skip a record without times', () => {
    expect(attemptShapeOf(blocked, axis)).toEqual({ kind: 'mark', at: at('2026-01-05T10:30:00Z') });
    expect(attemptShapeOf(record({}), axis)).toBeNull();
  });
});

describe('staleAfterMs', () => {
  it('should be null when nothing drawn is open', () => {
    expect(staleAfterMs(null)).toBeNull();
    expect(staleAfterMs({ start: 0, end: 3_600_000, open: false })).toBeNull();
  });

  it('should be the time an open bar takes to grow by half a percent, from 1 s to 1 min', () => {
    expect(staleAfterMs({ start: 0, end: 3_600_000, open: true })).toBe(18_000);
    expect(staleAfterMs({ start: 0, end: 10_000, open: true })).toBe(1_000);
    expect(staleAfterMs({ start: 0, end: 86_400_000, open: true })).toBe(60_000);
  });
});
