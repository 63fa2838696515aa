import { Hono } from 'hono';
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import { secureHeaders } from 'hono/secure-headers';
import { streamSSE } from 'hono/streaming';
import { readStoredTask, readStoredTasks, type StoredEntry } from '../graph/storedTasks.js';
import { TaskRuntime, type TaskStore } from '../index.js';
import { assetNamed } from './assets.js';
import { dependencySvg, lifecycleSvg } from './diagrams.js';
import type { StoreChanges, StoreEvent } from './live.js';
import { type OverviewFilter, OverviewLive, OverviewPage } from './pages/Overview.js';
import { MessagePage, TaskLive, TaskPage } from './pages/TaskPage.js';
import { taskIdOfSegment } from './paths.js';
import { countByStatus, SHOWN_STATUSES, type ShownStatus, summarize } from './summary.js';

/** What {@link createDashboardApp} serves. */
export interface DashboardOptions {
  readonly store: TaskStore;
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

/** The query's filter; an unknown status is ignored (the table then shows every status). */
function filterOf(status: string | undefined, search: string | undefined): OverviewFilter {
  const known = [...SHOWN_STATUSES, 'blocked'] as readonly string[];
  return {
    status:
      status !== undefined && known.includes(status) ? (status as ShownStatus | 'blocked') : null,
    search: search ?? '',
  };
}

/** The JSON of one stored task: its summary fields, the full views and the raw snapshot. */
function taskJson(entry: StoredEntry): Record<string, unknown> {
  const summary = summarize(entry);
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
  const { store, storeLabel, changes, hostAllowed = () => true } = options;
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

  app.get('/', async (c) => {
    const entries = await readStoredTasks(store);
    const summaries = entries.map((entry) => summarize(entry));
    const counts = countByStatus(summaries);
    const [lifecycle, dependencies] = await Promise.all([
      lifecycleSvg(counts),
      dependencySvg(entries),
    ]);
    const data = {
      summaries,
      counts,
      lifecycleSvg: lifecycle,
      dependencySvg: dependencies.svg,
      dependencyNote: dependencies.note,
      filter: filterOf(c.req.query('status'), c.req.query('q')),
    };
    if (c.req.query('part') === 'live') return c.html(<OverviewLive data={data} />);
    return c.html(htmlDocument(<OverviewPage storeLabel={storeLabel} data={data} />));
  });

  /** The stored task a path segment names, or null (no such task, or no id at all). */
  const entryOf = async (segment: string) => {
    const id = taskIdOfSegment(segment);
    return { id, entry: id === null ? null : await readStoredTask(store, id) };
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
    if (c.req.query('part') === 'live') return c.html(<TaskLive entry={entry} />);
    return c.html(htmlDocument(<TaskPage storeLabel={storeLabel} entry={entry} />));
  });

  app.get('/api/tasks', async (c) => {
    const summaries = (await readStoredTasks(store)).map((entry) => summarize(entry));
    return c.json({ store: storeLabel, counts: countByStatus(summaries), tasks: summaries });
  });

  app.get('/api/tasks/:id', async (c) => {
    const { id, entry } = await entryOf(c.req.param('id'));
    if (entry === null) return c.json({ error: `No task ${JSON.stringify(id)} is stored.` }, 404);
    return c.json(taskJson(entry));
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
