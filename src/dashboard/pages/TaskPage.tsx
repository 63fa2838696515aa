import type { StoredEntry } from '../../graph/storedTasks.js';
import { type AttemptRecord, type Task, TaskRuntime } from '../../index.js';
import { refreshInMs } from '../clockRefresh.js';
import type { LeaseSummary } from '../summary.js';
import { visibleText } from '../text.js';
import { timeAxisOf } from '../timeAxis.js';
import { Layout } from './Layout.js';
import { LeaseText, PrLink, StatusBadge, TaskLink, Text, Time } from './parts.js';
import { Timeline } from './Timeline.js';

function Field({ name, children }: { readonly name: string; readonly children?: unknown }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

function List({ items, empty }: { readonly items: readonly string[]; readonly empty: string }) {
  if (items.length === 0) return <span class="none">{empty}</span>;
  return (
    <ul class="plain">
      {items.map((item) => (
        <li>{visibleText(item)}</li>
      ))}
    </ul>
  );
}

function Spec({ task }: { readonly task: Task }) {
  const agent = task.primaryAgent;
  return (
    <section id="spec">
      <h2>Spec</h2>
      <dl>
        <Field name="role">{task.role}</Field>
        <Field name="description">
          <Text value={task.description} />
        </Field>
        <Field name="dependencies">
          {task.dependencies.length === 0 ? (
            <span class="none">none</span>
          ) : (
            <ul class="plain" id="dependency-links">
              {task.dependencies.map((id) => (
                <li>
                  <TaskLink id={id} />
                </li>
              ))}
            </ul>
          )}
        </Field>
        <Field name="workstream">
          <Text value={task.workstreamId} />
        </Field>
        <Field name="source paths">
          <List items={task.paths.src} empty="none" />
        </Field>
        <Field name="test paths">
          <List items={task.paths.test} empty="none" />
        </Field>
        <Field name="spec path">
          <Text value={task.paths.spec} />
        </Field>
        <Field name="completion gate">
          <Text value={task.completionGate} />
        </Field>
        <Field name="agent">
          <Text
            value={`${agent.framework}${agent.model === null ? '' : ` (${agent.model})`}, verbosity ${agent.adrVerbosity}, session ${agent.environment.session}`}
          />
        </Field>
        <Field name="review">
          <Text
            value={
              task.review === null
                ? null
                : `${task.review.agent.framework} on attempt ${task.review.reviewOnAttempt}`
            }
          />
        </Field>
      </dl>
    </section>
  );
}

function AttemptTable({ attempts }: { readonly attempts: readonly AttemptRecord[] }) {
  if (attempts.length === 0) return null;
  return (
    <table class="attempts" id="attempt-table">
      <thead>
        <tr>
          <th>attempt</th>
          <th>started</th>
          <th>ended</th>
          <th>outcome</th>
          <th>worker</th>
          <th>error</th>
          <th>PR</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((record) => (
          <tr class={`outcome-${record.outcome}`}>
            <td class="number">{record.attemptNum}</td>
            <td>
              <Time iso={record.startedAt} />
            </td>
            <td>
              <Time iso={record.endedAt} />
            </td>
            <td>
              <span class={`badge status-${record.outcome}`}>{record.outcome}</span>
            </td>
            <td class="worker-cell">
              <Text value={record.workerId} />
            </td>
            <td>
              <Text value={record.error} />
              {record.retryable === false ? <span class="final"> (not retryable)</span> : null}
            </td>
            <td>
              <PrLink url={record.prUrl} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The raw stored document as indented JSON (lone surrogates and U+0000 stay visible as JSON escapes). */
function RawSnapshot({ snapshot }: { readonly snapshot: unknown }) {
  return (
    <section id="raw">
      <h2>Raw snapshot</h2>
      <pre class="raw" id="raw-snapshot">
        {snapshot === undefined
          ? '(the store could not read it)'
          : JSON.stringify(snapshot, null, 2)}
      </pre>
    </section>
  );
}

/** Props of {@link TaskLive} and {@link TaskPage}. */
export interface TaskLiveProps {
  readonly entry: StoredEntry;
  /** The task's lease as the summaries show it, judged at `now`. */
  readonly lease: LeaseSummary | null;
  /** When the page is drawn, epoch milliseconds. */
  readonly now: number;
}

/** The part of a task's page that live updates replace. */
export function TaskLive({ entry, lease, now }: TaskLiveProps) {
  if (entry.kind === 'corrupt') {
    const refresh = refreshInMs([{ lease }], null, now);
    return (
      <div
        id="live"
        data-page="task"
        data-refresh-in-ms={refresh === null ? undefined : String(refresh)}
      >
        <p class="status-line">
          <StatusBadge status="corrupt" /> revision {entry.revision ?? '—'}
          {lease === null ? null : (
            <span id="lease-line">
              {' '}
              · lease: <LeaseText lease={lease} />
            </span>
          )}
        </p>
        <p class="problem" id="problem">
          {visibleText(entry.problem)}
        </p>
        <RawSnapshot snapshot={entry.snapshot} />
      </div>
    );
  }
  const runtime = TaskRuntime.restore(entry.persisted); // the views (agent address label…) of one valid snapshot
  const { state, artifacts } = runtime;
  const refresh = refreshInMs([{ lease }], timeAxisOf([runtime.attempts], now), now);
  return (
    <div
      id="live"
      data-page="task"
      data-refresh-in-ms={refresh === null ? undefined : String(refresh)}
    >
      <p class="status-line">
        <StatusBadge status={runtime.status} /> attempt {state.attemptNum} · revision{' '}
        {entry.revision}
        {lease === null ? null : (
          <span id="lease-line">
            {' '}
            · lease: <LeaseText lease={lease} />
          </span>
        )}
        {entry.blockedBy === null ? null : (
          <span class="blocked" id="blocked-by">
            {' '}
            · blocked by <TaskLink id={entry.blockedBy} />
          </span>
        )}
      </p>
      <div class="columns">
        <Spec task={runtime.task} />
        <section id="state">
          <h2>State</h2>
          <dl>
            <Field name="status">{runtime.status}</Field>
            <Field name="attempt">{state.attemptNum}</Field>
            <Field name="lease">
              <LeaseText lease={lease} />
            </Field>
            <Field name="error">
              <Text value={state.error} />
            </Field>
            <Field name="worktree">
              <Text value={state.worktreePath} />
            </Field>
            <Field name="branch">
              <Text value={state.branchName} />
            </Field>
            <Field name="signal dir">
              <Text value={state.signalDir} />
            </Field>
            <Field name="integration branch">
              <Text value={state.integrationBranch} />
            </Field>
            <Field name="workstream worktree">
              <Text value={state.workstreamWorktreePath} />
            </Field>
          </dl>
          <h2>Artifacts</h2>
          <dl>
            <Field name="PR">
              {artifacts.prUrl === null ? (
                <span class="none">—</span>
              ) : (
                <PrLink url={artifacts.prUrl} />
              )}
            </Field>
            <Field name="agent address">
              <Text value={artifacts.agentAddress?.label ?? null} />
            </Field>
            <Field name="concerns">
              <List items={artifacts.concerns} empty="none" />
            </Field>
          </dl>
        </section>
      </div>
      <section id="attempts">
        <h2>Attempts</h2>
        <Timeline attempts={runtime.attempts} now={now} />
        <AttemptTable attempts={runtime.attempts} />
      </section>
      <RawSnapshot snapshot={entry.snapshot} />
    </div>
  );
}

/** The page of one task: spec, state, artifacts, the attempt timeline and the raw snapshot. */
export function TaskPage({ storeLabel, ...live }: TaskLiveProps & { readonly storeLabel: string }) {
  const { entry } = live;
  return (
    <Layout title={entry.id} storeLabel={storeLabel}>
      <p class="crumbs">
        <a href="/">← all tasks</a>
      </p>
      <h1 id="task-id">{visibleText(entry.id)}</h1>
      <TaskLive {...live} />
    </Layout>
  );
}

/** A page with one message: an unknown task or path (404), or a store that failed (500). */
export function MessagePage(props: {
  readonly storeLabel: string;
  readonly title: string;
  readonly message: string;
}) {
  return (
    <Layout title={props.title} storeLabel={props.storeLabel}>
      <h1>{props.title}</h1>
      <p class="problem" id="message">
        {visibleText(props.message)}
      </p>
      <p>
        <a href="/">See every stored task</a>
      </p>
    </Layout>
  );
}
