import type { AttemptRecord } from '../../index.js';
import type { TaskSummary } from '../summary.js';
import { visibleText } from '../text.js';
import { attemptShapeOf, fractionOf, type TimeAxis, ticksOf } from '../timeAxis.js';
import { describeAttempt } from './attemptText.js';
import { formatTime, TaskLink } from './parts.js';

/** Above this many tasks the overview does not draw the timeline (as with the dependency graph). */
export const MAX_TIMELINE_TASKS = 600;

/** One task of the run timeline: its summary (for the label and the filter) and its attempt ledger. */
export interface RunTimelineRow {
  readonly summary: TaskSummary;
  /** The ledger; empty for a task that cannot be read. */
  readonly attempts: readonly AttemptRecord[];
}

/** What the run timeline draws: rows in the overview's order on one axis, or a note why it draws none. */
export interface RunTimelineData {
  readonly rows: readonly RunTimelineRow[];
  /** The axis over every row's ledger; null when no attempt has a time yet. */
  readonly axis: TimeAxis | null;
  /** Shown instead of the rows (no tasks, too many); null when they are drawn. */
  readonly note: string | null;
  /** When it was drawn, epoch milliseconds. */
  readonly now: number;
}

/** Tick intervals on the axis (labels at the start, the middle and the end). */
const TICKS = 2;
/** Percent of a track's width left free at each end, so that marks at the edges show whole. */
const EDGE = 1;
/** The narrowest bar, in percent of the track, so that a short attempt still shows. */
const MIN_BAR = 0.3;
const TRACK_HEIGHT = 22;
const BAR_Y = 3;
const BAR_HEIGHT = 16;

/** Where `ms` lies on a track, in percent of its width. */
function percent(axis: TimeAxis, ms: number): number {
  return EDGE + fractionOf(axis, ms) * (100 - 2 * EDGE);
}

/** A percentage as an SVG length. */
const pct = (value: number): string => `${value.toFixed(3)}%`;

/** The vertical grid lines of a track, at the axis' ticks. */
function Grid({ axis }: { readonly axis: TimeAxis }) {
  return (
    <>
      {ticksOf(axis, TICKS).map((ms) => {
        const x = pct(percent(axis, ms));
        return <line class="grid" x1={x} x2={x} y1={0} y2={TRACK_HEIGHT} />;
      })}
    </>
  );
}

/** One attempt on a task's track: a bar labelled with its worker, or a mark for a failure before it ran. */
function AttemptBar({
  record,
  taskId,
  axis,
  now,
}: {
  readonly record: AttemptRecord;
  readonly taskId: string;
  readonly axis: TimeAxis;
  readonly now: number;
}) {
  const shape = attemptShapeOf(record, axis);
  if (shape === null) return null;
  const tooltip = describeAttempt(record, now, taskId);
  if (shape.kind === 'mark') {
    return (
      <g class={`bar outcome-${record.outcome} before-start`} data-attempt={record.attemptNum}>
        <svg
          x={pct(percent(axis, shape.at))}
          y={BAR_Y}
          width={1}
          height={BAR_HEIGHT}
          overflow="visible"
        >
          <title>{tooltip}</title>
          <path
            d={`M 0 0 l 7 ${BAR_HEIGHT / 2} l -7 ${BAR_HEIGHT / 2} l -7 ${-BAR_HEIGHT / 2} z`}
          />
        </svg>
      </g>
    );
  }
  const start = percent(axis, shape.start);
  const width = Math.max(percent(axis, shape.end) - start, MIN_BAR);
  const worker = record.workerId === null ? null : visibleText(record.workerId);
  return (
    <g
      class={`bar outcome-${record.outcome}${shape.open ? ' open' : ''}`}
      data-attempt={record.attemptNum}
      data-worker={worker ?? undefined}
    >
      {/* A nested viewport: the bar, and its worker's name clipped to it. */}
      <svg x={pct(start)} y={BAR_Y} width={pct(width)} height={BAR_HEIGHT}>
        <title>{tooltip}</title>
        <rect width="100%" height="100%" rx={3} />
        {worker === null ? null : (
          <text class="worker-label" x={4} y={BAR_HEIGHT - 4}>
            {worker}
          </text>
        )}
      </svg>
    </g>
  );
}

/** One task's row: its id (a link to its page) and its attempts on the shared axis. */
function Row({
  row,
  axis,
  now,
  hidden,
}: {
  readonly row: RunTimelineRow;
  readonly axis: TimeAxis | null;
  readonly now: number;
  readonly hidden: boolean;
}) {
  const { summary, attempts } = row;
  return (
    <div
      class={`gantt-row status-${summary.status}`}
      data-id={visibleText(summary.id)}
      data-status={summary.status}
      data-blocked={summary.blockedBy === null ? 'no' : 'yes'}
      hidden={hidden}
    >
      <div class="gantt-label">
        <TaskLink id={summary.id} />
      </div>
      {summary.status === 'corrupt' ? (
        <div class="gantt-empty problem">cannot be read</div>
      ) : axis === null || attempts.length === 0 ? (
        <div class="gantt-empty none">no attempt yet</div>
      ) : (
        <svg
          class="gantt-track"
          height={TRACK_HEIGHT}
          role="img"
          aria-label={`attempts of ${visibleText(summary.id)}`}
        >
          <Grid axis={axis} />
          {attempts.map((record) => (
            <AttemptBar record={record} taskId={summary.id} axis={axis} now={now} />
          ))}
        </svg>
      )}
    </div>
  );
}

/** The time axis above the rows: the start, middle and end times, with their zone. */
function Axis({ axis }: { readonly axis: TimeAxis }) {
  return (
    <div class="gantt-row gantt-axis">
      <div class="gantt-label" />
      <svg class="gantt-track" height={TRACK_HEIGHT} aria-hidden="true">
        {ticksOf(axis, TICKS).map((ms, i) => (
          <text
            class="tick"
            x={pct(percent(axis, ms))}
            y={15}
            text-anchor={i === 0 ? 'start' : i === TICKS ? 'end' : 'middle'}
          >
            {formatTime(new Date(ms).toISOString())}
          </text>
        ))}
      </svg>
    </div>
  );
}

/** The colours of the bars, with what a mark means. */
function Legend() {
  const outcomes = ['running', 'pr_created', 'pr_merged', 'failed', 'lost'] as const;
  return (
    <p class="gantt-legend">
      {outcomes.map((outcome) => (
        <span class={`badge status-${outcome}`}>{outcome}</span>
      ))}
      <span class="note">
        {' '}
        a bar per attempt, labelled with its worker; dashed: still open (drawn to now); ◆ failed
        before it ran (blocked)
      </span>
    </p>
  );
}

/**
 * The run timeline, like Airflow's Gantt view: one row per task in the overview's order, one bar per attempt from
 * its start to its end (an open one to now), coloured by outcome and labelled with the worker that ran it. Rows
 * carry the same data attributes as the task table, so the filter hides them alike. Positions are SVG percentages
 * (no inline style, so the page's CSP holds), and every text is escaped by JSX.
 */
export function RunTimeline({
  data,
  shown,
}: {
  readonly data: RunTimelineData;
  /** Whether a row passes the overview's filter. */
  readonly shown: (summary: TaskSummary) => boolean;
}) {
  return (
    <section id="run-timeline">
      <h2>Timeline</h2>
      {data.note !== null ? (
        <p class="note">{data.note}</p>
      ) : (
        <>
          <Legend />
          <div class="gantt" id="gantt">
            {data.axis === null ? null : <Axis axis={data.axis} />}
            {data.rows.map((row) => (
              <Row row={row} axis={data.axis} now={data.now} hidden={!shown(row.summary)} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}
