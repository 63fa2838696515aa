import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { taskApiPath, taskPagePath } from '../../src/dashboard/paths.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import { killAll, removeTempDirs, runCli, tempDir } from '../cli/cliHarness.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import {
  HOSTILE,
  HOSTILE_ID,
  HOSTILE_LEASE_WORKER,
  HOSTILE_WORKER,
  hostileRuntime,
  runtimeOf,
  type Served,
  SHARED_RUN_ORDER,
  SHARED_RUN_RECENT,
  sampleRuntimes,
  saveAll,
  serve,
  sharedRunRuntimes,
  startWriter,
  stopServe,
} from './dashboardHarness.js';

/** A GET (or another method) with the path sent exactly as given, not normalized the way fetch and URL do. */
function rawRequest(
  base: string,
  path: string,
  options: { readonly method?: string; readonly host?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname,
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.host === undefined ? {} : { host: options.host },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Reads an event stream until `done(text so far)` holds; returns the text. */
async function readStreamUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
  sofar = '',
): Promise<string> {
  const decoder = new TextDecoder();
  let text = sofar;
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) throw new Error(`the event stream ended; it said:\n${text}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

interface ApiTask {
  readonly id: string;
  readonly lease: {
    readonly workerId: string;
    readonly token: number;
    readonly expiresAt: string;
    readonly standing: string;
  } | null;
  readonly status: string;
  readonly attemptNum: number | null;
  readonly lastError: string | null;
  readonly prUrl: string | null;
  readonly blockedBy: string | null;
  readonly revision: number | null;
  readonly problem: string | null;
}

const CORRUPT_ID = 'not-a-snapshot';

/** A TCP port of 127.0.0.1 where nothing listens (just now). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

jest.setTimeout(60_000);

afterEach(killAll);
afterAll(removeTempDirs);

describe('task-runtime serve over a FileTaskStore', () => {
  let dir: string;
  let served: Served;
  let revisions: Map<string, number>;

  beforeAll(async () => {
    dir = tempDir();
    const store = await FileTaskStore.open(dir);
    revisions = await saveAll(store, [...sampleRuntimes(), hostileRuntime()]);
    // Stores keep any JSON: this document is stored fine, but TaskRuntime.restore refuses it.
    revisions.set(
      CORRUPT_ID,
      await store.save(
        CORRUPT_ID,
        { schemaVersion: 1, status: 'nope' },
        { expectedRevision: null },
      ),
    );
    await store.close();
  });

  beforeEach(async () => {
    served = await serve(['--dir', dir, '--port', '0']);
  });

  afterEach(async () => {
    await stopServe(served);
  });

  it('should print the store and the URL on 127.0.0.1 with the port it took', () => {
    const match = /^Serving (.+) at http:\/\/127\.0\.0\.1:(\d+)\/$/m.exec(served.cli.stdout());
    expect(match?.[1]).toBe(dir);
    expect(Number(match?.[2])).toBeGreaterThan(0);
  });

  it('should list every stored task in /api/tasks with status, attempt, last error, PR and blocker', async () => {
    const response = await fetch(`${served.url}api/tasks`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      tasks: ApiTask[];
      counts: Record<string, number>;
      outcome: string;
    };
    expect(body.tasks.map((task) => task.id).sort()).toEqual([...revisions.keys()].sort());
    expect(body.outcome).toBe('in_progress');
    const byId = new Map(body.tasks.map((task) => [task.id, task]));
    expect(byId.get('spec')).toMatchObject({
      status: 'pr_merged',
      prUrl: 'https://github.com/acme/app/pull/1',
      blockedBy: null,
    });
    expect(byId.get('tests')).toMatchObject({
      status: 'failed',
      attemptNum: 2,
      lastError: 'type errors',
    });
    expect(byId.get('impl')).toMatchObject({ status: 'failed', blockedBy: 'tests' });
    expect(byId.get('docs')).toMatchObject({ status: 'running', revision: revisions.get('docs') });
    expect(body.counts).toEqual({
      pending: 1,
      running: 1,
      pr_created: 1,
      pr_merged: 1,
      failed: 3,
      corrupt: 1,
    });
  });

  it('should show a task that does not restore as a corrupt row while every other task is served', async () => {
    const tasks = ((await (await fetch(`${served.url}api/tasks`)).json()) as { tasks: ApiTask[] })
      .tasks;
    const corrupt = tasks.find((task) => task.id === CORRUPT_ID);
    expect(corrupt?.status).toBe('corrupt');
    expect(corrupt?.problem).toMatch(/^SnapshotError: /);
    const overview = await (await fetch(served.url)).text();
    expect(overview).toContain(`data-id="${CORRUPT_ID}" data-status="corrupt"`);
    for (const id of ['spec', 'tests', 'impl', 'docs', 'review', 'later']) {
      expect(overview).toContain(`href="/tasks/${id}"`);
    }
    const page = await fetch(`${served.url}tasks/${CORRUPT_ID}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('SnapshotError: ');
  });

  it("should give a task's views and raw snapshot at /api/tasks/:id, and 404 for an unknown id", async () => {
    const response = await fetch(`${served.url}api/tasks/docs`);
    expect(response.status).toBe(200);
    const docs = (await response.json()) as Record<string, unknown>;
    expect(docs).toMatchObject({
      id: 'docs',
      status: 'running',
      state: { worktreePath: '/work/docs', branchName: 'task/docs' },
      artifacts: { agentAddress: { kind: 'tmux', session: 'agents', paneId: '%3' } },
      snapshot: { schemaVersion: 3, status: 'running' },
    });
    expect((docs.attempts as unknown[]).length).toBe(1);
    const missing = await fetch(`${served.url}api/tasks/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'No task "nope" is stored.' });
    expect((await fetch(`${served.url}tasks/nope`)).status).toBe(404);
  });

  it('should render the overview with every task, the counts and both diagrams', async () => {
    const response = await fetch(served.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect((html.match(/<tr class="task-row /g) ?? []).length).toBe(revisions.size);
    expect(html).toMatch(/<section class="diagram" id="lifecycle">.*?<svg/s);
    expect(html).toMatch(/<section class="diagram" id="dependencies">.*?<svg/s);
    expect(html).toContain('failed (3)');
    expect(html).toContain('<span class="count-number">3</span> failed');
  });

  it('should render a task page with one timeline bar per attempt', async () => {
    const html = await (await fetch(`${served.url}tasks/tests`)).text();
    expect((html.match(/<g class="bar outcome-failed"/g) ?? []).length).toBe(3);
    expect(html).toContain('type errors');
    const impl = await (await fetch(`${served.url}tasks/impl`)).text();
    expect(impl).toContain('<g class="bar outcome-failed before-start"');
    expect(impl).toMatch(/id="blocked-by".*href="\/tasks\/tests"/s);
    const review = await (await fetch(`${served.url}tasks/review`)).text();
    expect(review).toContain('<g class="bar outcome-lost"');
    expect(review).toContain('<span class="badge status-lost">lost</span>');
    const css = await (await fetch(`${served.url}assets/dashboard.css`)).text();
    expect(css).toContain('.timeline .outcome-lost rect');
  });

  it('should answer every method but GET and HEAD with 405 and change nothing in the store', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      for (const path of ['/', '/api/tasks', '/api/tasks/docs', '/tasks/docs', '/nope']) {
        const response = await rawRequest(served.url, path, { method });
        expect({ method, path, status: response.status }).toEqual({ method, path, status: 405 });
        expect(response.headers.allow).toBe('GET, HEAD');
      }
    }
    const head = await fetch(served.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const store = await FileTaskStore.open(dir);
    for (const [id, revision] of revisions) expect((await store.load(id))?.revision).toBe(revision);
    await store.close();
  });

  it('should answer unknown paths with 404, as JSON under /api/', async () => {
    expect((await fetch(`${served.url}nope`)).status).toBe(404);
    expect((await fetch(`${served.url}tasks/`)).status).toBe(404);
    const api = await fetch(`${served.url}api/nope`);
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: 'No such resource: /api/nope' });
  });

  it('should send a Content-Security-Policy without inline script or remote sources on every response', async () => {
    for (const path of ['', 'api/tasks', 'tasks/docs', 'assets/dashboard.js', 'nope']) {
      const csp = (await fetch(`${served.url}${path}`)).headers.get('content-security-policy');
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    }
  });

  it('should serve its own assets and nothing else, whatever the encoding of the path', async () => {
    const script = await fetch(`${served.url}assets/dashboard.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('new EventSource');
    expect((await fetch(`${served.url}assets/dashboard.css`)).status).toBe(200);
    const tricks = [
      '/assets/../package.json',
      '/assets/..%2fpackage.json',
      '/assets/..%2F..%2Fpackage.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/assets/%252e%252e%252fpackage.json',
      '/assets/..%5c..%5cpackage.json',
      '/assets/%c0%ae%c0%ae/package.json',
      '/assets/dashboard.js%00.png',
      '/assets//etc/passwd',
      '/assets/%2fetc%2fpasswd',
      '/assets/',
      '/assets',
      '/dist/dashboard/client/dashboard.js',
    ];
    for (const path of tricks) {
      const response = await rawRequest(served.url, path);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(response.body).not.toContain('"name": "task-runtime"');
      expect(response.body).not.toContain('root:');
    }
  });

  it('should refuse a Host header that is not its loopback address (DNS rebinding)', async () => {
    const { port } = new URL(served.url);
    expect((await rawRequest(served.url, '/', { host: `evil.example:${port}` })).status).toBe(403);
    expect((await rawRequest(served.url, '/', { host: `127.0.0.1:1` })).status).toBe(403);
    expect((await rawRequest(served.url, '/', { host: `localhost:${port}` })).status).toBe(200);
  });

  it('should escape hostile text everywhere and link only http(s) PR URLs', async () => {
    const id = HOSTILE_ID;
    const pages = [await (await fetch(served.url)).text()];
    pages.push(await (await fetch(`${served.url}${taskPagePath(id).slice(1)}`)).text());
    for (const html of pages) {
      expect(html).not.toContain('<script>alert');
      expect(html).not.toContain('<img src=x');
      expect(html).not.toMatch(/href="javascript:/i);
      expect(html).not.toContain('\u0000');
      expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    }
    const page = pages[1] ?? '';
    // How HTML must carry HOSTILE as text: escaped, U+0000 shown as ␀, the lone surrogate as U+FFFD.
    const shown = HOSTILE.replaceAll('&', '&amp;')
      .replaceAll('<', '&lt;')
      .replaceAll('>', '&gt;')
      .replaceAll('"', '&quot;')
      .replaceAll("'", '&#39;')
      .replace('\u0000', '\u2400')
      .replace('\ud800', '\ufffd');
    const fields = [
      'description',
      'src',
      'test',
      'spec',
      'dependency',
      'gate',
      'worktree',
      'branch',
    ];
    fields.push(
      'signals',
      'integration',
      'workstream path',
      'tmux:%1',
      'concern',
      'error',
      'workstream',
    );
    for (const field of fields) {
      expect({ field, shown: page.includes(`${shown} ${field}`) }).toEqual({ field, shown: true });
    }
    expect(page).toContain(`${shown.replace('\ufffd', '')} id`);
    expect(page).toContain('class="unlinked-url"');
    const api = (await (await fetch(`${served.url}${taskApiPath(id).slice(1)}`)).json()) as {
      id: string;
      artifacts: { prUrl: string };
    };
    expect(api.id).toBe(id);
    expect(api.artifacts.prUrl).toBe(`javascript:alert('pr')//${HOSTILE}`);
  });

  it('should stream a change within the poll interval when another process saves a task', async () => {
    const abort = new AbortController();
    const response = await fetch(`${served.url}api/events`, { signal: abort.signal });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const ready = await readStreamUntil(reader, (text) => text.includes('event: ready'));
    expect(ready).not.toContain('event: change');
    const writer = await startWriter({ dir });
    const id = `live-${Date.now()}`;
    await writer.save(id, runtimeOf({ id }).persist(), null);
    const after = await readStreamUntil(reader, (text) => text.includes('event: change'), ready);
    expect(after).toContain('event: change');
    abort.abort();
    const tasks = ((await (await fetch(`${served.url}api/tasks`)).json()) as { tasks: ApiTask[] })
      .tasks;
    expect(tasks.map((task) => task.id)).toContain(id);
    revisions.set(id, 1);
  });

  it('should end with exit code 0 on SIGTERM', async () => {
    expect(await stopServe(served)).toBe(0);
    expect(served.cli.stdout()).toContain('Stopped.');
    served = await serve(['--dir', dir, '--port', '0']); // for afterEach
  });
});

describe('task-runtime serve over a damaged store file', () => {
  /** Every file under `dir` whose text holds `marker` (so the test does not depend on the store's file layout). */
  function filesHolding(dir: string, marker: string): string[] {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .filter((file) => readFileSync(file, 'utf8').includes(marker));
  }

  it('should show a task whose file is garbage as an error row, and every other task as usual', async () => {
    const dir = tempDir();
    const store = await FileTaskStore.open(dir);
    const victim = `victim-${Date.now()}`;
    await saveAll(store, [runtimeOf({ id: victim }), runtimeOf({ id: 'healthy' })]);
    await store.close();
    const files = filesHolding(dir, victim);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) writeFileSync(file, '{ "this is": not JSON');
    const served = await serve(['--dir', dir, '--port', '0']);
    try {
      const { tasks } = (await (await fetch(`${served.url}api/tasks`)).json()) as {
        tasks: ApiTask[];
      };
      expect(tasks.map((task) => [task.id, task.status])).toEqual([
        ['healthy', 'pending'],
        [victim, 'corrupt'],
      ]);
      expect(tasks[1]?.problem).toMatch(/^SnapshotError: /);
      const overview = await fetch(served.url);
      expect(overview.status).toBe(200);
      expect(await overview.text()).toContain(`data-id="${victim}" data-status="corrupt"`);
    } finally {
      await stopServe(served);
    }
  });
});

describe('task-runtime serve started before its store exists', () => {
  it('should say it waits, answer 503 saying why, and serve the store once it appears', async () => {
    const dir = join(tempDir(), 'not yet');
    const served = await serve(['--dir', dir, '--port', '0']);
    try {
      expect(served.cli.stdout()).toContain(
        `Waiting for the task store '${dir}': the directory does not exist yet. The dashboard shows it once it appears.`,
      );
      const page = await fetch(served.url);
      expect(page.status).toBe(503);
      expect(page.headers.get('retry-after')).toBe('1');
      const html = await page.text();
      expect(html).toContain('data-page="waiting"');
      expect(html).toContain('the directory does not exist yet');
      expect((await fetch(`${served.url}tasks/a`)).status).toBe(503);
      const api = await fetch(`${served.url}api/tasks`);
      expect(api.status).toBe(503);
      expect(await api.json()).toMatchObject({ waiting: true });
      expect((await fetch(`${served.url}assets/dashboard.css`)).status).toBe(200);
      // serve itself creates nothing while it waits.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(readdirSync(join(dir, '..'))).toEqual([]);
      const store = await FileTaskStore.open(dir);
      try {
        await saveAll(store, [runtimeOf({ id: 'first' })]);
      } finally {
        await store.close();
      }
      await served.cli.waitFor((stdout) => stdout.includes('is there now'), 5_000);
      const body = (await (await fetch(`${served.url}api/tasks`)).json()) as { tasks: ApiTask[] };
      expect(body.tasks.map((task) => task.id)).toEqual(['first']);
      expect((await fetch(`${served.url}tasks/first`)).status).toBe(200);
    } finally {
      expect(await stopServe(served)).toBe(0);
    }
  });

  it('should wait for a directory that holds no store yet, saying so', async () => {
    const dir = tempDir();
    const served = await serve(['--dir', dir, '--port', '0']);
    try {
      expect(served.cli.stdout()).toContain(': the directory holds no task store (tasks/) yet.');
      const store = await FileTaskStore.open(dir);
      await store.close();
      await served.cli.waitFor((stdout) => stdout.includes('is there now'), 5_000);
      const body = (await (await fetch(`${served.url}api/tasks`)).json()) as { tasks: ApiTask[] };
      expect(body.tasks).toEqual([]);
    } finally {
      await stopServe(served);
    }
  });
});

describe('task-runtime serve of a run shared by workers', () => {
  let dir: string;
  let served: Served;
  let leases: Map<string, { workerId: string; token: number; expiresAt: string }>;

  beforeAll(async () => {
    dir = tempDir();
    const store = await FileTaskStore.open(dir);
    await saveAll(store, sharedRunRuntimes(Date.now()));
    const held = await store.claim('impl', 'worker-a', { leaseMs: 3_600_000 });
    const lost = await store.claim('tests', HOSTILE_LEASE_WORKER, { leaseMs: 1 });
    if (held === null || lost === null) throw new Error('the claims should succeed');
    leases = new Map([
      ['impl', held],
      ['tests', lost],
    ]);
    await store.close();
    await new Promise((resolve) => setTimeout(resolve, 10)); // the lease of tests has expired
  });

  // Per test: every command still running is killed after each test (afterEach above).
  beforeEach(async () => {
    served = await serve(['--dir', dir, '--port', '0']);
  });

  afterEach(async () => {
    await stopServe(served);
  });

  it("should list the tasks in the run's order, or the latest change first, with the run's outcome", async () => {
    const byRun = (await (await fetch(`${served.url}api/tasks`)).json()) as {
      tasks: ApiTask[];
      outcome: string;
    };
    expect(byRun.tasks.map((task) => task.id)).toEqual(SHARED_RUN_ORDER);
    expect(byRun.outcome).toBe('in_progress');
    const recent = (await (await fetch(`${served.url}api/tasks?sort=recent`)).json()) as {
      tasks: ApiTask[];
    };
    expect(recent.tasks.map((task) => task.id)).toEqual(SHARED_RUN_RECENT);
    const overview = await (await fetch(`${served.url}?sort=recent`)).text();
    const rowIds = [...overview.matchAll(/<tr class="task-row [^"]*" data-id="([^"]*)"/g)].map(
      (match) => match[1],
    );
    expect(rowIds).toEqual(SHARED_RUN_RECENT);
    expect(overview).toMatch(/<option value="recent" selected="">latest change first<\/option>/);
  });

  it('should give each task the worker holding it, its expiry, and whether its worker is presumed lost', async () => {
    const { tasks } = (await (await fetch(`${served.url}api/tasks`)).json()) as {
      tasks: ApiTask[];
    };
    const byId = new Map(tasks.map((task) => [task.id, task]));
    expect(byId.get('impl')?.lease).toEqual({ ...leases.get('impl'), standing: 'held' });
    expect(byId.get('tests')?.lease).toEqual({ ...leases.get('tests'), standing: 'lost' });
    expect(byId.get('spec')?.lease).toBeNull();
    const detail = (await (await fetch(`${served.url}api/tasks/impl`)).json()) as ApiTask;
    expect(detail.lease?.workerId).toBe('worker-a');
    const overview = await (await fetch(served.url)).text();
    const implRow = /<tr class="task-row [^"]*" data-id="impl".*?<\/tr>/s.exec(overview)?.[0] ?? '';
    expect(implRow).toContain(
      '<span class="lease lease-held" data-standing="held"><span class="worker">worker-a</span>',
    );
    const testsRow =
      /<tr class="task-row [^"]*" data-id="tests".*?<\/tr>/s.exec(overview)?.[0] ?? '';
    expect(testsRow).toContain('worker presumed lost');
    expect(testsRow).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    const page = await (await fetch(`${served.url}tasks/impl`)).text();
    expect(page).toMatch(
      /id="lease-line">.*worker-a.*until <time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/time>/s,
    );
    expect(page).toContain('<td class="worker-cell"><span class="text">worker-b</span></td>');
  });

  it('should draw the run timeline: a row per task in order, a bar per attempt coloured by outcome and labelled with its worker', async () => {
    const overview = await (await fetch(served.url)).text();
    const section = /<section id="run-timeline">.*?<\/section>/s.exec(overview)?.[0] ?? '';
    const rows = [...section.matchAll(/<div class="gantt-row status-\w+" data-id="([^"]*)"/g)].map(
      (match) => match[1],
    );
    expect(rows).toEqual(SHARED_RUN_ORDER);
    const bars = [
      ...section.matchAll(
        /<g class="(bar [^"]*)" data-attempt="(\d+)"(?: data-worker="([^"]*)")?/g,
      ),
    ].map(([, cls, attempt, worker]) => [cls, Number(attempt), worker ?? null]);
    const shownWorker = HOSTILE_WORKER.replaceAll('&', '&amp;')
      .replaceAll('<', '&lt;')
      .replaceAll('>', '&gt;')
      .replaceAll('"', '&quot;')
      .replaceAll("'", '&#39;')
      .replace('\u0000', '\u2400')
      .replace('\ud800', '\ufffd');
    expect(bars).toEqual([
      ['bar outcome-failed', 0, 'worker-c'], // lint
      ['bar outcome-failed before-start', 0, null], // release, blocked: a mark
      ['bar outcome-pr_merged', 0, 'worker-a'], // spec
      ['bar outcome-lost', 0, 'worker-b'], // impl
      ['bar outcome-running open', 1, 'worker-a'],
      ['bar outcome-failed', 0, shownWorker], // tests
      ['bar outcome-pr_created open', 1, shownWorker],
    ]);
    expect(section).toContain(`<text class="worker-label" x="4" y="12">${shownWorker}</text>`);
    expect(section).not.toContain('<script>alert');
    expect(section).not.toContain('\u0000');
    expect(section).toMatch(/data-id="docs".*?no attempt yet/s);
  });

  it('should write every time with its zone', async () => {
    for (const path of ['', 'tasks/impl', 'tasks/tests']) {
      const html = await (await fetch(`${served.url}${path}`)).text();
      const times = [...html.matchAll(/<time datetime="([^"]+)">([^<]*)<\/time>/g)];
      expect(times.length).toBeGreaterThan(0);
      for (const [, iso, shown] of times) {
        expect(shown).toBe(`${iso?.slice(0, 10)} ${iso?.slice(11, 19)} UTC`);
      }
      const ticks = [
        ...html.matchAll(
          /<text class="tick"[^>]*>([^<]*)<\/text>|<g class="tick">.*?<text[^>]*>([^<]*)<\/text>/gs,
        ),
      ];
      for (const [, gantt, task] of ticks)
        expect(gantt ?? task).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      expect(html).not.toMatch(/\d\d:\d\d:\d\d(?! UTC)(?!\.\d+Z)(?!Z)/);
    }
  });

  it('should say how soon the page goes stale by the clock: the bars of open attempts grow', async () => {
    const overview = await (await fetch(served.url)).text();
    const refresh = Number(
      /<div id="live" data-page="overview" data-order="run" data-refresh-in-ms="(\d+)"/.exec(
        overview,
      )?.[1],
    );
    // An hour-long axis with open attempts: stale once a bar grew by half a percent, 18 s.
    expect(refresh).toBeGreaterThanOrEqual(17_000);
    expect(refresh).toBeLessThanOrEqual(19_000);
  });
});

describe('task-runtime serve ids that need encoding', () => {
  const IDS = ['a/b', 'q?x=1#frag', '100%', '"quoted"', 'with space', '日本語 🚀', '..', '.'];

  it('should give every id its own page and JSON, however it must be written in a URL', async () => {
    const dir = tempDir();
    const store = await FileTaskStore.open(dir);
    await saveAll(
      store,
      IDS.map((id) => runtimeOf({ id, description: `about ${id}` })),
    );
    await store.close();
    const served = await serve(['--dir', dir, '--port', '0']);
    try {
      for (const id of IDS) {
        const api = await fetch(`${served.url}${taskApiPath(id).slice(1)}`);
        expect({ id, status: api.status }).toEqual({ id, status: 200 });
        expect(((await api.json()) as { id: string }).id).toBe(id);
        const page = await fetch(`${served.url}${taskPagePath(id).slice(1)}`);
        expect({ id, status: page.status }).toEqual({ id, status: 200 });
      }
    } finally {
      await stopServe(served);
    }
  });
});

describe('task-runtime serve options', () => {
  it('should refuse --dir with --pg, a bad --port and a --host with spaces as usage errors', async () => {
    for (const args of [
      ['--dir', tempDir(), '--pg', 'postgresql://x@127.0.0.1/db'],
      ['--port', '70000'],
      ['--port', 'abc'],
      ['--host', 'a b'],
      ['--pg', ' '],
    ]) {
      const result = await runCli(['serve', ...args]);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
    }
  });

  it('should refuse a path that is a file, which no store can appear at', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a store');
    const result = await runCli(['serve', '--dir', file, '--port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('it is not a directory');
  });

  it('should say that a port is in use instead of failing obscurely', async () => {
    const dir = tempDir();
    await (await FileTaskStore.open(dir)).close();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const result = await runCli(['serve', '--dir', dir, '--port', String(port)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Port ${port} on 127.0.0.1 is in use`);
    } finally {
      blocker.close();
    }
  });

  it('should warn that there is no authentication when listening beyond loopback, and not otherwise', async () => {
    const dir = tempDir();
    await (await FileTaskStore.open(dir)).close();
    const open = await serve(['--dir', dir, '--port', '0', '--host', '0.0.0.0']);
    await open.cli.waitFor(() => true);
    expect(await stopServe(open)).toBe(0);
    expect((await open.cli.done).stderr).toMatch(/warning: .*no authentication/);
    const local = await serve(['--dir', dir, '--port', '0']);
    expect(await stopServe(local)).toBe(0);
    expect((await local.cli.done).stderr).toBe('');
  });
});

describe('task-runtime demo', () => {
  it('should end by saying how to open the dashboard on its store, a command that works as printed', async () => {
    const dir = `${tempDir()}/demo store`;
    const demo = await runCli(['demo', '--dir', dir, '--tasks', '3', '--delay-ms', '0']);
    expect(demo.code).toBe(0);
    const last = demo.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(last).toBe(
      `See it live in the browser: task-runtime serve --dir '${dir}', then open http://127.0.0.1:4280/`,
    );
    const served = await serve(['--dir', dir, '--port', '0']);
    const body = (await (await fetch(`${served.url}api/tasks`)).json()) as { tasks: ApiTask[] };
    expect(body.tasks).toHaveLength(3);
    expect(await stopServe(served)).toBe(0);
  });
});

describeWithPostgres('task-runtime serve --pg', () => {
  it('should serve the tasks of a PostgreSQL table and stream a change saved by another process', async () => {
    const url = requirePostgresUrl();
    const table = freshTable();
    const store = await PostgresTaskStore.connect({ connectionString: url, table: table.name });
    try {
      const revisions = await saveAll(store, sampleRuntimes());
      const served = await serve(['--pg', url, '--pg-table', table.name, '--port', '0']);
      try {
        expect(served.cli.stdout()).toContain(`(table ${table.name}) at http://127.0.0.1:`);
        const body = (await (await fetch(`${served.url}api/tasks`)).json()) as { tasks: ApiTask[] };
        expect(body.tasks.map((task) => task.id).sort()).toEqual([...revisions.keys()].sort());
        expect(body.tasks.find((task) => task.id === 'impl')?.blockedBy).toBe('tests');
        const abort = new AbortController();
        const events = await fetch(`${served.url}api/events`, { signal: abort.signal });
        const reader = (events.body as ReadableStream<Uint8Array>).getReader();
        const ready = await readStreamUntil(reader, (text) => text.includes('event: ready'));
        const writer = await startWriter({ url, table: table.name });
        const later = runtimeOf({ id: 'later', dependencies: ['impl', 'docs'] });
        later.addConcern('saved by another process');
        await writer.save('later', later.persist(), revisions.get('later') ?? null);
        await readStreamUntil(reader, (text) => text.includes('event: change'), ready);
        abort.abort();
        const detail = (await (await fetch(`${served.url}api/tasks/later`)).json()) as {
          artifacts: { concerns: string[] };
        };
        expect(detail.artifacts.concerns).toEqual(['saved by another process']);
      } finally {
        await stopServe(served);
      }
    } finally {
      await store.close();
      await table.drop();
    }
  });

  it('should wait for a table that does not exist yet, never create it, and serve it once the orchestrator did', async () => {
    const url = requirePostgresUrl();
    const table = freshTable();
    const served = await serve(['--pg', url, '--pg-table', table.name, '--port', '0']);
    try {
      expect(served.cli.stdout()).toMatch(
        /Waiting for the task store .*: its table does not exist yet\./,
      );
      const waiting = await fetch(`${served.url}api/tasks`);
      expect(waiting.status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 700)); // it has looked again by now
      const probe = await PostgresTaskStore.connect({
        connectionString: url,
        table: table.name,
        migrate: false,
      });
      await expect(probe.list()).rejects.toThrow(); // serve created nothing
      await probe.close();
      const store = await PostgresTaskStore.connect({ connectionString: url, table: table.name });
      try {
        await saveAll(store, [runtimeOf({ id: 'made-later' })]);
        await served.cli.waitFor((stdout) => stdout.includes('is there now'), 5_000);
        const body = (await (await fetch(`${served.url}api/tasks`)).json()) as { tasks: ApiTask[] };
        expect(body.tasks.map((task) => task.id)).toEqual(['made-later']);
      } finally {
        await store.close();
      }
    } finally {
      await stopServe(served);
      await table.drop();
    }
  });

  it('should wait for a server that does not answer yet, then for its table, then serve it', async () => {
    const url = new URL(requirePostgresUrl());
    const table = freshTable();
    // A port where nothing listens yet; later a proxy to the real server listens there (the server "comes up").
    const port = await freePort();
    const late = new URL(url.href);
    late.port = String(port);
    const served = await serve(['--pg', late.href, '--pg-table', table.name, '--port', '0']);
    let proxy: ReturnType<typeof createServer> | null = null;
    try {
      expect(served.cli.stdout()).toMatch(/: the server does not answer yet \(ECONNREFUSED\)\./);
      expect((await fetch(`${served.url}`)).status).toBe(503);
      proxy = createServer((client) => {
        const upstream = connect(Number(url.port), url.hostname);
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close);
        upstream.on('error', close);
      });
      await new Promise<void>((resolve) => proxy?.listen(port, '127.0.0.1', resolve));
      await served.cli.waitFor((stdout) => stdout.includes('its table does not exist yet'), 5_000);
      const store = await PostgresTaskStore.connect({
        connectionString: url.href,
        table: table.name,
      });
      try {
        await saveAll(store, [runtimeOf({ id: 'after-the-server' })]);
        await served.cli.waitFor((stdout) => stdout.includes('is there now'), 5_000);
        const body = (await (await fetch(`${served.url}api/tasks`)).json()) as { tasks: ApiTask[] };
        expect(body.tasks.map((task) => task.id)).toEqual(['after-the-server']);
      } finally {
        await store.close();
      }
    } finally {
      await stopServe(served);
      proxy?.close();
      await table.drop();
    }
  });
});
