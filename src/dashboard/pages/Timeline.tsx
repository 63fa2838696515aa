import type { AttemptRecord } from '../../index.js';
import { visibleText } from '../text.js';
import { attemptShapeOf, fractionOf, ticksOf, timeAxisOf } from '../timeAxis.js';
import { describeAttempt } from './attemptText.js';
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

/**
 * A task's attempt ledger on a time axis: one bar per attempt from its start to its end, coloured by outcome and
 * labelled with the worker that ran it. An open attempt runs to now (drawn open-ended); a failure before the
 * attempt ran (a blocked task) is a marker at its end time. An SVG of presentation attributes only (no inline
 * style, so the page's CSP holds). `now` is epoch milliseconds.
 */
export function Timeline({
  attempts,
  now,
}: {
  readonly attempts: readonly AttemptRecord[];
  readonly now: number;
}) {
  if (attempts.length === 0) {
    return <p class="note">No attempt has started yet.</p>;
  }
  const axis = timeAxisOf([attempts], now);
  const plot = WIDTH - LABEL_WIDTH - RIGHT_PAD;
  const x = (ms: number): number =>
    axis === null ? LABEL_WIDTH : LABEL_WIDTH + fractionOf(axis, ms) * plot;
  const height = AXIS_HEIGHT + attempts.length * ROW_HEIGHT;
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
      {axis === null
        ? null
        : ticksOf(axis, TICKS).map((ms, i) => (
            <g class="tick">
              <line x1={x(ms)} x2={x(ms)} y1={AXIS_HEIGHT - 6} y2={height} />
              <text
                x={x(ms)}
                y={AXIS_HEIGHT - 12}
                text-anchor={i === 0 ? 'start' : i === TICKS ? 'end' : 'middle'}
              >
                {formatTime(new Date(ms).toISOString())}
              </text>
            </g>
          ))}
      {attempts.map((record, row) => {
        const shape = axis === null ? null : attemptShapeOf(record, axis);
        const y = AXIS_HEIGHT + row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2;
        const label = (
          <text class="attempt-label" x={8} y={y + BAR_HEIGHT - 3}>
            {`attempt ${record.attemptNum}`}
          </text>
        );
        const title = <title>{describeAttempt(record, now)}</title>;
        if (shape === null || shape.kind === 'mark') {
          const at = shape === null ? LABEL_WIDTH : x(shape.at);
          return (
            <g
              class={`bar outcome-${record.outcome} before-start`}
              data-attempt={record.attemptNum}
            >
              {title}
              {label}
              <path
                d={`M ${at} ${y} l 8 ${BAR_HEIGHT / 2} l -8 ${BAR_HEIGHT / 2} l -8 ${-BAR_HEIGHT / 2} z`}
              />
            </g>
          );
        }
        const width = Math.max(x(shape.end) - x(shape.start), MIN_BAR);
        return (
          <g
            class={`bar outcome-${record.outcome}${shape.open ? ' open' : ''}`}
            data-attempt={record.attemptNum}
            data-worker={record.workerId === null ? undefined : visibleText(record.workerId)}
          >
            {title}
            {label}
            <rect x={x(shape.start)} y={y} width={width} height={BAR_HEIGHT} rx={3} />
            {record.workerId === null ? null : (
              // A nested viewport clips the worker's name to its bar.
              <svg x={x(shape.start)} y={y} width={width} height={BAR_HEIGHT} aria-hidden="true">
                <text class="worker-label" x={4} y={BAR_HEIGHT - 4}>
                  {visibleText(record.workerId)}
                </text>
              </svg>
            )}
          </g>
        );
      })}
    </svg>
  );
}
