import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { taskApiPath, taskPagePath } from '../../src/dashboard/paths.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { PostgresTaskStore } from '../../src/store/PostgresTaskStore.js';
import { killAll, removeTempDirs, runCli, tempDir } from '../cli/cliHarness.js';
import { describeWithPostgres, freshTable, requirePostgresUrl } from '../store/postgres.js';
import {
  HOSTILE,
  HOSTILE_ID,
  hostileRuntime,
  runtimeOf,
  type Served,
  sampleRuntimes,
  saveAll,
  serve,
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
  readonly status: string;
  readonly attemptNum: number | null;
  readonly lastError: string | null;
  readonly prUrl: string | null;
  readonly blockedBy: string | null;
  readonly revision: number | null;
  readonly problem: string | null;
}

const CORRUPT_ID = 'not-a-snapshot';

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
    };
    expect(body.tasks.map((task) => task.id)).toEqual([...revisions.keys()].sort());
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

  it('should refuse a directory that holds no store, saying how to make one', async () => {
    const result = await runCli(['serve', '--dir', `${tempDir()}/missing`, '--port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No task store at');
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
        expect(body.tasks.map((task) => task.id)).toEqual([...revisions.keys()].sort());
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

  it('should refuse a table that does not exist instead of creating it', async () => {
    const table = freshTable();
    const result = await runCli([
      'serve',
      '--pg',
      requirePostgresUrl(),
      '--pg-table',
      table.name,
      '--port',
      '0',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Cannot read the tasks of');
  });
});
