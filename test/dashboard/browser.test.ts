import type { BrowserContext, Page } from 'playwright-core';
import { taskPagePath } from '../../src/dashboard/paths.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { killAll, removeTempDirs, tempDir } from '../cli/cliHarness.js';
import { describeWithChromium, launchChromium, removeProfiles } from '../support/browser.js';
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
  type Writer,
} from './dashboardHarness.js';

jest.setTimeout(90_000);

/** How long a change saved by another process may take to show in an open page. */
const LIVE_WITHIN_MS = 2_000;

/** HOSTILE as the page shows it: U+0000 as ␀, the lone surrogate as U+FFFD. */
const SHOWN = HOSTILE.replace('\u0000', '\u2400').replace('\ud800', '\ufffd');

/** What a page did that it must not: dialogs (alert), errors, requests that left the server. */
interface Incidents {
  readonly dialogs: string[];
  readonly errors: string[];
  readonly foreignRequests: string[];
}

function watch(page: Page, origin: string): Incidents {
  const incidents: Incidents = { dialogs: [], errors: [], foreignRequests: [] };
  page.on('dialog', (dialog) => {
    incidents.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => incidents.errors.push(error.message));
  page.on('request', (request) => {
    if (!request.url().startsWith(origin)) incidents.foreignRequests.push(request.url());
  });
  return incidents;
}

/**
 * Elements a hostile text would have created had it been parsed as HTML: scripts but the dashboard's own, images,
 * event-handler attributes, `javascript:` links. (Run in the page, as text: the tests are typed without the DOM.)
 */
function injectedElements(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const found = [];
    for (const script of document.querySelectorAll('script')) {
      if (script.getAttribute('src') !== '/assets/dashboard.js') found.push(script.outerHTML);
    }
    for (const image of document.querySelectorAll('img')) found.push(image.outerHTML);
    for (const element of document.querySelectorAll('*')) {
      for (const { name } of element.attributes) if (name.startsWith('on')) found.push(element.outerHTML);
    }
    for (const link of document.querySelectorAll('a')) {
      if (/^\\s*javascript:/i.test(link.getAttribute('href') ?? '')) found.push(link.outerHTML);
    }
    return found;
  })()`);
}

/**
 * Resolves once `expression` (run in the page) is true, checking every 50 ms; rejects after `timeoutMs`.
 * (page.waitForFunction evaluates its string with eval, which the dashboard's CSP rightly forbids.)
 */
async function waitUntilTrue(page: Page, expression: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await page.evaluate(expression)) !== true) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How many times the client script swapped a live update in. */
function refreshCount(page: Page): Promise<number> {
  return page.evaluate("Number(document.body.dataset.refreshed ?? '0')");
}

afterAll(removeTempDirs);

describeWithChromium('the dashboard in Chromium', (chromiumPath) => {
  let dir: string;
  let served: Served;
  let browser: BrowserContext;
  let writer: Writer;
  const revisions = new Map<string, number>();

  beforeAll(async () => {
    dir = tempDir();
    const store = await FileTaskStore.open(dir);
    for (const [id, revision] of await saveAll(store, [...sampleRuntimes(), hostileRuntime()])) {
      revisions.set(id, revision);
    }
    await store.close();
    served = await serve(['--dir', dir, '--port', '0']);
    writer = await startWriter({ dir });
    browser = await launchChromium(chromiumPath);
  });

  afterAll(async () => {
    await browser?.close();
    removeProfiles();
    if (served !== undefined) await stopServe(served);
    await killAll();
  });

  /** A new page at `path`, watched for incidents, once its live feed is connected. */
  async function open(path: string): Promise<{ page: Page; incidents: Incidents }> {
    const page = await browser.newPage();
    const incidents = watch(page, served.url.replace(/\/$/, ''));
    await page.goto(`${served.url}${path.replace(/^\//, '')}`);
    await page.waitForSelector('#live-status[data-state="live"]');
    return { page, incidents };
  }

  it('should show every stored task and both diagrams on the overview', async () => {
    const { page, incidents } = await open('/');
    const ids = await page.$$eval('tr.task-row', (rows) => rows.map((row) => row.dataset.id));
    expect(ids).toHaveLength(revisions.size);
    for (const id of ['spec', 'tests', 'impl', 'docs', 'review', 'later'])
      expect(ids).toContain(id);
    expect(await page.locator('#lifecycle svg').isVisible()).toBe(true);
    expect(await page.locator('#dependencies svg').isVisible()).toBe(true);
    expect(await page.locator('#lifecycle svg').textContent()).toContain('failed (3)');
    const dependencyText = (await page.locator('#dependencies svg').textContent()) ?? '';
    for (const id of ['spec', 'tests', 'impl', 'docs', 'review', 'later']) {
      expect(dependencyText).toContain(id);
    }
    expect(await page.locator('tr[data-id="impl"] td').nth(7).textContent()).toBe('tests'); // blocked by
    expect(incidents).toEqual({ dialogs: [], errors: [], foreignRequests: [] });
    await page.close();
  });

  it('should filter the table by status and search it by id as you type', async () => {
    const { page } = await open('/');
    const visibleIds = () =>
      page.$$eval('tr.task-row', (rows) =>
        rows.filter((row) => !row.hidden).map((row) => row.dataset.id),
      );
    await page.selectOption('#filter-status', 'failed');
    expect((await visibleIds()).sort()).toEqual(
      [HOSTILE_ID.replace('\u0000', '\u2400'), 'impl', 'tests'].sort(),
    );
    expect(await page.locator('#shown-count').textContent()).toBe(
      `3 of ${revisions.size} tasks shown`,
    );
    await page.fill('#filter-search', 'TES');
    expect(await visibleIds()).toEqual(['tests']);
    await page.selectOption('#filter-status', 'blocked');
    await page.fill('#filter-search', '');
    expect(await visibleIds()).toEqual(['impl']);
    expect(new URL(page.url()).searchParams.get('status')).toBe('blocked');
    await page.close();
  });

  it("should show a task's spec, state, artifacts, attempt timeline and raw snapshot", async () => {
    const { page, incidents } = await open('/tasks/tests');
    expect(await page.locator('h1').textContent()).toBe('tests');
    const bars = page.locator('#timeline g.bar');
    expect(await bars.count()).toBe(3);
    expect(await bars.evaluateAll((gs) => gs.map((g) => g.getAttribute('class')))).toEqual([
      'bar outcome-failed',
      'bar outcome-failed',
      'bar outcome-failed',
    ]);
    // One bar per attempt, left to right in time, none overlapping.
    const boxes = await page.$$eval('#timeline g.bar rect', (rects) =>
      rects.map((rect) => ({
        x: Number(rect.getAttribute('x')),
        width: Number(rect.getAttribute('width')),
      })),
    );
    for (let i = 1; i < boxes.length; i += 1) {
      const previous = boxes[i - 1] ?? { x: 0, width: 0 };
      expect(boxes[i]?.x ?? 0).toBeGreaterThanOrEqual(previous.x + previous.width - 0.01);
    }
    expect(await page.locator('#attempt-table tbody tr').count()).toBe(3);
    expect(await page.locator('#dependency-links a').getAttribute('href')).toBe('/tasks/spec');
    const raw = JSON.parse((await page.locator('#raw-snapshot').textContent()) ?? '') as {
      status: string;
    };
    expect(raw.status).toBe('failed');
    await page.click('#dependency-links a');
    await page.waitForURL(`${served.url}tasks/spec`);
    expect(await page.locator('#state .pr-link').getAttribute('href')).toBe(
      'https://github.com/acme/app/pull/1',
    );
    expect(incidents).toEqual({ dialogs: [], errors: [], foreignRequests: [] });
    await page.close();
  });

  it('should show a save by another process within 2 s, without a reload', async () => {
    const { page, incidents } = await open('/');
    await page.evaluate('window.notReloaded = true');
    const id = 'added-live';
    const started = Date.now();
    revisions.set(id, await writer.save(id, runtimeOf({ id }).persist(), null));
    await page.waitForSelector(`tr[data-id="${id}"]`, { timeout: LIVE_WITHIN_MS });
    const docs = runtimeOf({ id: 'docs', role: 'generic', dependencies: ['spec'] });
    docs.markRunning();
    docs.markPrCreated('https://github.com/acme/app/pull/3');
    revisions.set('docs', await writer.save('docs', docs.persist(), revisions.get('docs') ?? null));
    await page.waitForSelector('tr[data-id="docs"][data-status="pr_created"]', {
      timeout: LIVE_WITHIN_MS,
    });
    expect(Date.now() - started).toBeLessThan(2 * LIVE_WITHIN_MS);
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    expect(incidents).toEqual({ dialogs: [], errors: [], foreignRequests: [] });
    await page.close();
  });

  it('should keep a task page live too', async () => {
    const { page } = await open('/tasks/later');
    const later = runtimeOf({ id: 'later', dependencies: ['impl', 'docs'] });
    later.addConcern('noted by another process');
    revisions.set(
      'later',
      await writer.save('later', later.persist(), revisions.get('later') ?? null),
    );
    await waitUntilTrue(
      page,
      "document.getElementById('state').textContent.includes('noted by another process')",
      LIVE_WITHIN_MS,
    );
    await page.close();
  });

  it('should show hostile text as text in every field, on first load and after a live update', async () => {
    for (const path of ['/', taskPagePath(HOSTILE_ID)]) {
      const { page, incidents } = await open(path);
      if (path !== '/') {
        const text = (await page.locator('#live').textContent()) ?? '';
        const fields = [
          'description',
          'src',
          'test',
          'spec',
          'dependency',
          'gate',
          'model',
          'session',
        ];
        fields.push('worktree', 'branch', 'signals', 'integration', 'workstream path', 'tmux:%1');
        fields.push('concern', 'error', 'workstream');
        for (const field of fields) {
          expect({ field, shown: text.includes(`${SHOWN} ${field}`) }).toEqual({
            field,
            shown: true,
          });
        }
        expect(await page.locator('h1').textContent()).toBe(HOSTILE_ID.replace('\u0000', '\u2400'));
        expect(await page.locator('#state .unlinked-url').textContent()).toBe(
          `javascript:alert('pr')//${SHOWN}`,
        );
        expect(await page.locator('a.pr-link').count()).toBe(0);
      } else {
        const row = page.locator('tr.task-row.status-failed').filter({ hasText: 'end error' });
        expect(await row.locator('td.error-cell').textContent()).toBe(`${SHOWN} error`);
      }
      // A live update swaps server-rendered fragments in: the hostile text must stay text there too.
      const hostile = hostileRuntime();
      hostile.addConcern(`${HOSTILE} live`);
      const before = await refreshCount(page);
      revisions.set(
        HOSTILE_ID,
        await writer.save(HOSTILE_ID, hostile.persist(), revisions.get(HOSTILE_ID) ?? null),
      );
      await waitUntilTrue(
        page,
        `Number(document.body.dataset.refreshed ?? '0') > ${before}`,
        LIVE_WITHIN_MS,
      );
      if (path !== '/') {
        expect(await page.locator('#state').textContent()).toContain(`${SHOWN} live`);
      }
      await page.waitForTimeout(300); // let an injected onerror fire, if any were there
      expect(await injectedElements(page)).toEqual([]);
      expect(incidents).toEqual({ dialogs: [], errors: [], foreignRequests: [] });
      await page.close();
    }
  });

  it('should show a not-found page for an unknown task', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${served.url}tasks/no-such-task`);
    expect(response?.status()).toBe(404);
    expect(await page.locator('#message').textContent()).toContain(
      "No task 'no-such-task' is stored",
    );
    await page.close();
  });
});
