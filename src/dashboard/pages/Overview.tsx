import { raw } from 'hono/html';
import type { RunOutcome } from '../../index.js';
import { TASK_ORDER_LABELS, TASK_ORDERS, type TaskOrder } from '../order.js';
import { statusFilterPath } from '../paths.js';
import { SHOWN_STATUSES, type ShownStatus, type TaskSummary } from '../summary.js';
import { visibleText } from '../text.js';
import { Layout } from './Layout.js';
import { LeaseText, OutcomeBadge, PrLink, StatusBadge, TaskLink, Text, Time } from './parts.js';
import { RunTimeline, type RunTimelineData } from './RunTimeline.js';

/** The table's filter and order, from the query string: a status (or `blocked`), a search text for ids, an order. */
export interface OverviewFilter {
  readonly status: ShownStatus | 'blocked' | null;
  readonly search: string;
  readonly order: TaskOrder;
}

/** What the overview shows; the diagrams are Graphviz SVG (its text escaped by Graphviz) or a note why not. */
export interface OverviewData {
  /** Every task, in the filter's order. */
  readonly summaries: readonly TaskSummary[];
  /** The run's outcome; null for an empty store. */
  readonly outcome: RunOutcome | null;
  readonly timeline: RunTimelineData;
  /** How soon the page goes stale by the clock alone (a lease expiring, an open attempt growing); null: never. */
  readonly refreshInMs: number | null;
  readonly counts: Readonly<Record<ShownStatus, number>>;
  readonly lifecycleSvg: string;
  readonly dependencySvg: string | null;
  /** Shown instead of the dependency graph when there is none. */
  readonly dependencyNote: string | null;
  readonly filter: OverviewFilter;
}

/** Whether a row passes the filter (the client script applies the same rule as you type). */
export function passesFilter(
  summary: TaskSummary,
  { status, search }: Pick<OverviewFilter, 'status' | 'search'>,
): boolean {
  if (
    status === 'blocked' ? summary.blockedBy === null : status !== null && summary.status !== status
  ) {
    return false;
  }
  return search === '' || summary.id.toLowerCase().includes(search.toLowerCase());
}

function Counts({
  counts,
  total,
}: {
  readonly counts: OverviewData['counts'];
  readonly total: number;
}) {
  return (
    <ul class="counts">
      <li>
        <a href="/" class="count count-all">
          <span class="count-number">{total}</span> tasks
        </a>
      </li>
      {SHOWN_STATUSES.filter((status) => status !== 'corrupt' || counts.corrupt > 0).map(
        (status) => (
          <li>
            <a href={statusFilterPath(status)} class={`count status-${status}`} data-count={status}>
              <span class="count-number">{counts[status]}</span> {status}
            </a>
          </li>
        ),
      )}
    </ul>
  );
}

function TaskRow({ summary, hidden }: { readonly summary: TaskSummary; readonly hidden: boolean }) {
  return (
    <tr
      class={`task-row status-${summary.status}`}
      data-id={visibleText(summary.id)}
      data-status={summary.status}
      data-blocked={summary.blockedBy === null ? 'no' : 'yes'}
      hidden={hidden}
    >
      <td>
        <TaskLink id={summary.id} />
      </td>
      <td>
        <Text value={summary.role} />
      </td>
      <td>
        <StatusBadge status={summary.status} />
      </td>
      <td class="number">{summary.attemptNum ?? '—'}</td>
      <td class="lease-cell">
        <LeaseText lease={summary.lease} />
      </td>
      <td class="error-cell">
        {summary.problem === null ? (
          <Text value={summary.lastError} />
        ) : (
          <span class="problem">{visibleText(summary.problem)}</span>
        )}
      </td>
      <td>
        <PrLink url={summary.prUrl} />
      </td>
      <td>{summary.blockedBy === null ? '' : <TaskLink id={summary.blockedBy} />}</td>
      <td>
        <Time iso={summary.lastChange} />
      </td>
      <td class="number">{summary.revision ?? '—'}</td>
    </tr>
  );
}

/** The run's outcome, computed from the stored tasks as `TaskGraphRuntime.outcome` is. */
function Outcome({ outcome }: { readonly outcome: RunOutcome | null }) {
  return (
    <p class="run-outcome">
      run outcome:{' '}
      {outcome === null ? (
        <span class="none">— (no tasks yet)</span>
      ) : (
        <OutcomeBadge outcome={outcome} />
      )}
    </p>
  );
}

/** The part of the overview that live updates replace: outcome, counts, diagrams, timeline and the task table. */
export function OverviewLive({ data }: { readonly data: OverviewData }) {
  const { summaries, counts, filter } = data;
  const shown = summaries.filter((summary) => passesFilter(summary, filter)).length;
  return (
    <div
      id="live"
      data-page="overview"
      data-order={filter.order}
      data-refresh-in-ms={data.refreshInMs === null ? undefined : String(data.refreshInMs)}
    >
      <Outcome outcome={data.outcome} />
      <Counts counts={counts} total={summaries.length} />
      <div class="diagrams">
        <section class="diagram" id="lifecycle">
          <h2>Lifecycle</h2>
          <div class="svg-box">{raw(data.lifecycleSvg)}</div>
        </section>
        <section class="diagram" id="dependencies">
          <h2>Dependencies</h2>
          {data.dependencySvg === null ? (
            <p class="note">{data.dependencyNote}</p>
          ) : (
            <div class="svg-box">{raw(data.dependencySvg)}</div>
          )}
        </section>
      </div>
      <RunTimeline data={data.timeline} shown={(summary) => passesFilter(summary, filter)} />
      <p class="shown" id="shown-count">
        {`${shown} of ${summaries.length} tasks shown`}
      </p>
      <table class="tasks" id="task-table">
        <thead>
          <tr>
            <th>task</th>
            <th>role</th>
            <th>status</th>
            <th>attempt</th>
            <th>worker (lease)</th>
            <th>last error</th>
            <th>PR</th>
            <th>blocked by</th>
            <th>last change</th>
            <th>revision</th>
          </tr>
        </thead>
        <tbody>
          {summaries.map((summary) => (
            <TaskRow summary={summary} hidden={!passesFilter(summary, filter)} />
          ))}
        </tbody>
      </table>
      {summaries.length === 0 ? (
        <p class="note">
          The store holds no tasks yet. Saved tasks appear here as they are stored.
        </p>
      ) : null}
    </div>
  );
}

function FilterForm({ filter }: { readonly filter: OverviewFilter }) {
  const options: readonly (ShownStatus | 'blocked')[] = [...SHOWN_STATUSES, 'blocked'];
  return (
    <form class="filter" id="filter" method="get" action="/">
      <label>
        status{' '}
        <select name="status" id="filter-status">
          <option value="" selected={filter.status === null}>
            all
          </option>
          {options.map((status) => (
            <option value={status} selected={filter.status === status}>
              {status}
            </option>
          ))}
        </select>
      </label>
      <label>
        task id{' '}
        <input
          type="search"
          name="q"
          id="filter-search"
          value={visibleText(filter.search)}
          placeholder="search ids"
          autocomplete="off"
        />
      </label>
      <label>
        order{' '}
        <select name="sort" id="filter-sort">
          {TASK_ORDERS.map((order) => (
            <option value={order} selected={filter.order === order}>
              {TASK_ORDER_LABELS[order]}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" id="filter-submit">
        filter
      </button>
    </form>
  );
}

/** The overview page: counts, the lifecycle diagram with counts, the dependency graph, and the task table. */
export function OverviewPage({
  storeLabel,
  data,
}: {
  readonly storeLabel: string;
  readonly data: OverviewData;
}) {
  return (
    <Layout title="overview" storeLabel={storeLabel}>
      <h1>Tasks</h1>
      <FilterForm filter={data.filter} />
      <OverviewLive data={data} />
    </Layout>
  );
}
