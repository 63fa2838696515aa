import { Hono } from 'hono';
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import { secureHeaders } from 'hono/secure-headers';
import { streamSSE } from 'hono/streaming';
import {
  readStoredTask,
  readStoredTasks,
  runOutcomeOf,
  type StoredEntry,
} from '../graph/storedTasks.js';
import { TaskRuntime, type TaskStore } from '../index.js';
import { assetNamed } from './assets.js';
import { refreshInMs } from './clockRefresh.js';
import { dependencySvg, lifecycleSvg } from './diagrams.js';
import type { StoreChanges, StoreEvent } from './live.js';
import { inOrder, taskOrderOf } from './order.js';
import { type OverviewFilter, OverviewLive, OverviewPage } from './pages/Overview.js';
import { MAX_TIMELINE_TASKS, type RunTimelineData } from './pages/RunTimeline.js';
import { MessagePage, TaskLive, TaskPage } from './pages/TaskPage.js';
import { WaitingLive, WaitingPage } from './pages/Waiting.js';
import { taskIdOfSegment } from './paths.js';
import { StoreSlot } from './storeSlot.js';
import {
  countByStatus,
  SHOWN_STATUSES,
  type ShownStatus,
  summarize,
  type TaskSummary,
} from './summary.js';
import { timeAxisOf } from './timeAxis.js';

/** What {@link createDashboardApp} serves. */
export interface DashboardOptions {
  /** The store, or a slot that is filled once the store appears (until then every page says it waits). */
  readonly store: TaskStore | StoreSlot;
  /** How the pages name the store, e.g. its directory. */
  readonly storeLabel: string;
  /** The change feed behind `/api/events`. */
  readonly changes: StoreChanges;
  /**
   * Whether a request's Host header may be served; the server allows only its own loopback names, so a web page
   * on another site cannot read the dashboard through DNS rebinding. @default every host
   */
  readonly hostAllowed?: (host: string) => boolean;
}

const ALLOWED_METHODS = 'GET, HEAD';
/** How often an idle event stream sends a comment, so proxies and browsers keep it open. */
const HEARTBEAT_MS = 20_000;
/** How soon a browser reconnects an event stream that dropped. */
const RECONNECT_MS = 1_000;

const DOCTYPE = raw('<!DOCTYPE html>');

/** A whole HTML document: the doctype, then `page`. */
function htmlDocument(page: Child) {
  return (
    <>
      {DOCTYPE}
      {page}
    </>
  );
}

/** The query's filter; an unknown status is ignored (the table then shows every status), an unknown sort too. */
function filterOf(
  status: string | undefined,
  search: string | undefined,
  sort: string | undefined,
): OverviewFilter {
  const known = [...SHOWN_STATUSES, 'blocked'] as readonly string[];
  return {
    status:
      status !== undefined && known.includes(status) ? (status as ShownStatus | 'blocked') : null,
    search: search ?? '',
    order: taskOrderOf(sort),
  };
}

/** The run timeline of the overview: a row per task (in the overview's order) on one axis, or why none. */
function runTimelineOf(
  entries: readonly StoredEntry[],
  summaries: readonly TaskSummary[],
  now: number,
): RunTimelineData {
  if (entries.length === 0) return { rows: [], axis: null, note: 'No tasks are stored yet.', now };
  if (entries.length > MAX_TIMELINE_TASKS) {
    const note = `The run has ${entries.length} tasks, more than the ${MAX_TIMELINE_TASKS} this timeline draws; see a task's page for its attempts.`;
    return { rows: [], axis: null, note, now };
  }
  const rows = entries.map((entry, index) => ({
    summary: summaries[index] as TaskSummary,
    attempts: entry.kind === 'task' ? entry.persisted.context.attempts : [],
  }));
  return {
    rows,
    axis: timeAxisOf(
      rows.map((row) => row.attempts),
      now,
    ),
    note: null,
    now,
  };
}

/** The JSON of one stored task at `now`: its summary fields, the full views and the raw snapshot. */
function taskJson(entry: StoredEntry, now: number): Record<string, unknown> {
  const summary = summarize(entry, now);
  if (entry.kind === 'corrupt') return { ...summary, snapshot: entry.snapshot ?? null };
  const runtime = TaskRuntime.restore(entry.persisted);
  return {
    ...summary,
    task: runtime.task,
    state: runtime.state,
    artifacts: runtime.artifacts,
    attempts: runtime.attempts,
    snapshot: entry.snapshot,
  };
}

/**
 * The dashboard as a Hono app: read-only pages and JSON over `store`. Only GET and HEAD are served (any other
 * method is a 405); every page carries a Content-Security-Policy that allows no inline script and nothing remote.
 */
export function createDashboardApp(options: DashboardOptions): Hono {
  const { storeLabel, changes, hostAllowed = () => true } = options;
  const slot = StoreSlot.of(options.store);
  const app = new Hono();

  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      strictTransportSecurity: false,
      xFrameOptions: 'DENY',
    }),
  );
  app.use(async (c, next) => {
    if (!hostAllowed(c.req.header('host') ?? '')) {
      return c.text(
        'This dashboard answers only to the host name it was started with (see the URL it printed).\n',
        403,
      );
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      c.header('Allow', ALLOWED_METHODS);
      return c.text(`The dashboard is read-only: only ${ALLOWED_METHODS} are allowed.\n`, 405);
    }
    await next();
    if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store');
  });

  /** The store; only called on routes that the waiting check below lets through, so it is there. */
  const storeNow = (): TaskStore => slot.store as TaskStore;

  // Until the store appears, every page says so (503, live: it reloads once the store is there), and so does JSON.
  app.use(async (c, next) => {
    const { path } = c.req;
    const readsStore = path === '/' || path.startsWith('/tasks/') || path.startsWith('/api/tasks');
    if (slot.store !== null || !readsStore) return next();
    c.header('Retry-After', '1');
    if (path.startsWith('/api/')) {
      return c.json(
        { error: `Waiting for the task store ${storeLabel}: ${slot.waitingFor}.`, waiting: true },
        503,
      );
    }
    const reason = slot.waitingFor;
    if (c.req.query('part') === 'live') {
      return c.html(<WaitingLive storeLabel={storeLabel} reason={reason} />, 503);
    }
    return c.html(htmlDocument(<WaitingPage storeLabel={storeLabel} reason={reason} />), 503);
  });

  /** Every stored task in the order the query names, with its summary at `now`, and the filter. */
  const readOverview = async (query: (name: string) => string | undefined, now: number) => {
    const filter = filterOf(query('status'), query('q'), query('sort'));
    const entries = inOrder(await readStoredTasks(storeNow()), filter.order);
    const summaries = entries.map((entry) => summarize(entry, now));
    return { filter, entries, summaries };
  };

  app.get('/', async (c) => {
    const now = Date.now();
    const { filter, entries, summaries } = await readOverview((name) => c.req.query(name), now);
    const counts = countByStatus(summaries);
    const [lifecycle, dependencies] = await Promise.all([
      lifecycleSvg(counts),
      dependencySvg(entries),
    ]);
    const timeline = runTimelineOf(entries, summaries, now);
    const data = {
      summaries,
      counts,
      outcome: runOutcomeOf(entries),
      timeline,
      refreshInMs: refreshInMs(summaries, timeline.axis, now),
      lifecycleSvg: lifecycle,
      dependencySvg: dependencies.svg,
      dependencyNote: dependencies.note,
      filter,
    };
    if (c.req.query('part') === 'live') return c.html(<OverviewLive data={data} />);
    return c.html(htmlDocument(<OverviewPage storeLabel={storeLabel} data={data} />));
  });

  /** The stored task a path segment names, or null (no such task, or no id at all). */
  const entryOf = async (segment: string) => {
    const id = taskIdOfSegment(segment);
    return { id, entry: id === null ? null : await readStoredTask(storeNow(), id) };
  };

  app.get('/tasks/:id', async (c) => {
    const { id, entry } = await entryOf(c.req.param('id'));
    if (entry === null) {
      const what = `No task ${id === null ? 'with that id' : `'${id}'`} is stored in ${storeLabel}.`;
      return c.html(
        htmlDocument(<MessagePage storeLabel={storeLabel} title="Not found" message={what} />),
        404,
      );
    }
    const now = Date.now();
    const live = { entry, lease: summarize(entry, now).lease, now };
    if (c.req.query('part') === 'live') return c.html(<TaskLive {...live} />);
    return c.html(htmlDocument(<TaskPage storeLabel={storeLabel} {...live} />));
  });

  app.get('/api/tasks', async (c) => {
    const { entries, summaries } = await readOverview((name) => c.req.query(name), Date.now());
    return c.json({
      store: storeLabel,
      outcome: runOutcomeOf(entries),
      counts: countByStatus(summaries),
      tasks: summaries,
    });
  });

  app.get('/api/tasks/:id', async (c) => {
    const { id, entry } = await entryOf(c.req.param('id'));
    if (entry === null) return c.json({ error: `No task ${JSON.stringify(id)} is stored.` }, 404);
    return c.json(taskJson(entry, Date.now()));
  });

  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      const send = (event: StoreEvent): void => {
        stream.writeSSE({ event, data: event, retry: RECONNECT_MS }).catch(() => undefined);
      };
      const unsubscribe = changes.subscribe(send);
      const heartbeat = setInterval(() => {
        stream.write(': keep-alive\n\n').catch(() => undefined);
      }, HEARTBEAT_MS);
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      clearInterval(heartbeat);
      unsubscribe();
    }),
  );

  app.get('/assets/:name', (c) => {
    const asset = assetNamed(c.req.param('name'));
    if (asset === null) return c.text('No such asset.\n', 404);
    c.header('Content-Type', asset.type);
    c.header('Cache-Control', 'no-cache');
    return c.body(asset.body());
  });

  app.notFound((c) =>
    c.req.path.startsWith('/api/')
      ? c.json({ error: `No such resource: ${c.req.path}` }, 404)
      : c.html(
          htmlDocument(
            <MessagePage
              storeLabel={storeLabel}
              title="Not found"
              message={`Nothing is served at ${c.req.path}.`}
            />,
          ),
          404,
        ),
  );

  app.onError((error, c) => {
    const message = `The dashboard could not read the store: ${error.message}`;
    return c.req.path.startsWith('/api/')
      ? c.json({ error: message }, 500)
      : c.html(
          htmlDocument(
            <MessagePage storeLabel={storeLabel} title="Store error" message={message} />,
          ),
          500,
        );
  });

  return app;
}
