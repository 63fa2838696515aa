import { refreshInMs } from '../../src/dashboard/clockRefresh.js';
import type { LeaseSummary } from '../../src/dashboard/summary.js';

const now = Date.parse('2026-01-05T09:00:00.000Z');

function lease(standing: LeaseSummary['standing'], inMs: number): { lease: LeaseSummary } {
  return {
    lease: {
      workerId: 'worker-a',
      token: 1,
      expiresAt: new Date(now + inMs).toISOString(),
      standing,
    },
  };
}

describe('refreshInMs', () => {
  it('should be null when nothing on the page changes with the clock', () => {
    expect(
      refreshInMs([{ lease: null }, lease('expired', -5), lease('lost', -5)], null, now),
    ).toBeNull();
    expect(refreshInMs([], { start: 0, end: 1, open: false }, now)).toBeNull();
  });

  it('should come just after the first held lease expires', () => {
    expect(
      refreshInMs([lease('held', 30_000), { lease: null }, lease('held', 5_000)], null, now),
    ).toBe(5_050);
  });

  it('should come when an open bar has grown, if that is sooner than any expiry', () => {
    const axis = { start: now - 3_600_000, end: now, open: true };
    expect(refreshInMs([lease('held', 60_000)], axis, now)).toBe(18_000);
    expect(refreshInMs([lease('held', 2_000)], axis, now)).toBe(2_050);
  });
});
