import type { AttemptRecord } from '../../index.js';
import { visibleText } from '../text.js';
import { formatTime } from './parts.js';

const WIDTH = 820;
const LABEL_WIDTH = 96;
const RIGHT_PAD = 24;
const ROW_HEIGHT = 26;
const BAR_HEIGHT = 16;
const AXIS_HEIGHT = 34;
/** Tick intervals on the time axis (labels at the start, the middle and the end). */
const TICKS = 2;
const MIN_BAR = 3;

/** Milliseconds of an ISO time, or null. */
const timeOf = (iso: string | null): number | null => {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
};

function duration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  if (minutes >= 60) return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
  return minutes > 0 ? `${minutes}m ${String(seconds).padStart(2, '0')}s` : `${seconds}s`;
}

/** The tooltip of one attempt's bar: every field of its ledger record. */
function describe(record: AttemptRecord, start: number | null, end: number | null): string {
  const lines = [
    `attempt ${record.attemptNum}: ${record.outcome}`,
    `started ${record.startedAt === null ? '— (failed before it ran)' : formatTime(record.startedAt)}`,
    `ended ${record.endedAt === null ? '— (still open)' : formatTime(record.endedAt)}`,
  ];
  if (start !== null && end !== null) lines.push(`took ${duration(end - start)}`);
  if (record.error !== null) lines.push(`error: ${record.error}`);
  if (record.prUrl !== null) lines.push(`PR: ${record.prUrl}`);
  return visibleText(lines.join('\n'));
}

/**
 * The attempt ledger on a time axis: one bar per attempt from its start to its end, coloured by outcome. An open
 * attempt runs to the latest time in the ledger (drawn open-ended); a failure before the attempt ran (a blocked
 * task) is a marker at its end time. An SVG of presentation attributes only (no inline style, so the page's CSP
 * holds).
 */
export function Timeline({ attempts }: { readonly attempts: readonly AttemptRecord[] }) {
  if (attempts.length === 0) {
    return <p class="note">No attempt has started yet.</p>;
  }
  const times = attempts.flatMap((record) =>
    [timeOf(record.startedAt), timeOf(record.endedAt)].filter((ms): ms is number => ms !== null),
  );
  const first = times.length === 0 ? 0 : Math.min(...times);
  const last = times.length === 0 ? 0 : Math.max(...times);
  const span = Math.max(last - first, 1_000);
  const plot = WIDTH - LABEL_WIDTH - RIGHT_PAD;
  const x = (ms: number): number => LABEL_WIDTH + ((ms - first) / span) * plot;
  const height = AXIS_HEIGHT + attempts.length * ROW_HEIGHT;
  const ticks =
    last === first
      ? [first]
      : Array.from({ length: TICKS + 1 }, (_, i) => first + (span * i) / TICKS);
  return (
    <svg
      class="timeline"
      id="timeline"
      viewBox={`0 0 ${WIDTH} ${height}`}
      width={WIDTH}
      height={height}
      role="img"
      aria-labelledby="timeline-title"
    >
      <title id="timeline-title">Attempt timeline</title>
      {times.length === 0
        ? null
        : ticks.map((ms, i) => (
            <g class="tick">
              <line x1={x(ms)} x2={x(ms)} y1={AXIS_HEIGHT - 6} y2={height} />
              <text
                x={x(ms)}
                y={AXIS_HEIGHT - 12}
                text-anchor={i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle'}
              >
                {formatTime(new Date(ms).toISOString())}
              </text>
            </g>
          ))}
      {attempts.map((record, row) => {
        const start = timeOf(record.startedAt);
        const end = timeOf(record.endedAt);
        const y = AXIS_HEIGHT + row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2;
        const label = (
          <text class="attempt-label" x={8} y={y + BAR_HEIGHT - 3}>
            {`attempt ${record.attemptNum}`}
          </text>
        );
        if (start === null) {
          const at = x(end ?? last);
          return (
            <g
              class={`bar outcome-${record.outcome} before-start`}
              data-attempt={record.attemptNum}
            >
              <title>{describe(record, start, end)}</title>
              {label}
              <path
                d={`M ${at} ${y} l 8 ${BAR_HEIGHT / 2} l -8 ${BAR_HEIGHT / 2} l -8 ${-BAR_HEIGHT / 2} z`}
              />
            </g>
          );
        }
        const stop = end ?? last;
        return (
          <g
            class={`bar outcome-${record.outcome}${end === null ? ' open' : ''}`}
            data-attempt={record.attemptNum}
          >
            <title>{describe(record, start, end)}</title>
            {label}
            <rect
              x={x(start)}
              y={y}
              width={Math.max(x(stop) - x(start), MIN_BAR)}
              height={BAR_HEIGHT}
              rx={3}
            />
          </g>
        );
      })}
    </svg>
  );
}
