import type { AttemptRecord } from '../../index.js';
import { visibleText } from '../text.js';
import { timeOf } from '../timeAxis.js';
import { formatTime } from './parts.js';

/** A duration as `1h 05m`, `12m 30s` or `45s`. */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  if (minutes >= 60)
    return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
  return minutes > 0 ? `${minutes}m ${String(seconds).padStart(2, '0')}s` : `${seconds}s`;
}

/**
 * The tooltip of one attempt's bar in a timeline: every field of its ledger record, times with their zone, the
 * worker that ran it; `now` (epoch milliseconds) tells how long an open attempt has run. Agent text made visible.
 */
export function describeAttempt(record: AttemptRecord, now: number, taskId?: string): string {
  const start = timeOf(record.startedAt);
  const end = timeOf(record.endedAt);
  const lines = [
    `${taskId === undefined ? '' : `${taskId} · `}attempt ${record.attemptNum}: ${record.outcome}`,
    `started ${record.startedAt === null ? '— (failed before it ran)' : formatTime(record.startedAt)}`,
    `ended ${record.endedAt === null ? '— (still open)' : formatTime(record.endedAt)}`,
  ];
  if (start !== null) {
    lines.push(
      end === null
        ? `running for ${formatDuration(Math.max(0, now - start))}`
        : `took ${formatDuration(end - start)}`,
    );
  }
  if (record.workerId !== null) lines.push(`worker: ${record.workerId}`);
  if (record.error !== null) lines.push(`error: ${record.error}`);
  if (record.prUrl !== null) lines.push(`PR: ${record.prUrl}`);
  return visibleText(lines.join('\n'));
}
