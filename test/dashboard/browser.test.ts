import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { taskPagePath } from '../../src/dashboard/paths.js';
import { LOST_OUTCOME_COLOUR, STATUS_COLOURS } from '../../src/diagram/palette.js';
import { FileTaskStore } from '../../src/store/FileTaskStore.js';
import { killAll, removeTempDirs, tempDir } from '../cli/cliHarness.js';
import { describeWithChromium, launchChromium, removeProfiles } from '../support/browser.js';
import {
  HOSTILE,
  HOSTILE_ID,
  HOSTILE_LEASE_WORKER,
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

/** `#rrggbb` as the `rgb(r, g, b)` a computed style gives. */
function rgb(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((at) => Number.parseInt(hex.slice(at, at + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}

/** Every text of `selector` in the page, in document order. */
function textsOf(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (elements) => elements.map((element) => element.textContent ?? ''));
}

/** The ids of the visible rows of the task table and of the timeline. */
async function visibleRows(page: Page): Promise<{ table: string[]; timeline: string[] }> {
  const ids = (selector: string) =>
    page.$$eval(selector, (rows) =>
      rows.filter((row) => !row.hidden).map((row) => row.dataset.id ?? ''),
    );
  return { table: await ids('tr.task-row'), timeline: await ids('div.gantt-row[data-id]') };
}

/** A bar of the run timeline as the page lays it out. */
interface DrawnBar {
  readonly row: string;
  readonly class: string;
  readonly label: string | null;
  readonly fill: string;
  readonly left: number;
  readonly right: number;
  readonly trackLeft: number;
  readonly trackRight: number;
  /** Whether the worker's label is wider than its bar. */
  readonly labelLonger: boolean;
  /** Whether the label shows past its bar: what lies just right of the bar is the label. */
  readonly labelShowsPast: boolean;
}

/** Every bar of the run timeline, in document order. (Run in the page, as text: the tests are typed without the DOM.) */
function drawnBars(page: Page): Promise<DrawnBar[]> {
  return page.evaluate(`[...document.querySelectorAll('#gantt g.bar')].map((group) => {
    const shape = group.querySelector('rect, path');
    const box = shape.getBoundingClientRect();
    const track = group.closest('svg.gantt-track').getBoundingClientRect();
    const label = group.querySelector('.worker-label');
    const text = label === null ? null : label.getBoundingClientRect();
    const past = document.elementFromPoint(box.right + 3, box.top + box.height / 2);
    return {
      row: group.closest('.gantt-row').dataset.id,
      class: group.getAttribute('class'),
      label: label === null ? null : label.textContent,
      fill: getComputedStyle(shape).fill,
      left: box.left,
      right: box.right,
      trackLeft: track.left,
      trackRight: track.right,
      labelLonger: text !== null && text.right > box.right + 3,
      labelShowsPast: label !== null && past === label,
    };
  })`);
}

describeWithChromium('the run timeline, order, leases and times in Chromium', (chromiumPath) => {
  /** How long the lease of `tests` lasts after the page opens: it expires while the page is watched. */
  const SHORT_LEASE_MS = 4_000;
  let dir: string;
  let served: Served;
  let browser: BrowserContext;

  beforeAll(async () => {
    dir = tempDir();
    const store = await FileTaskStore.open(dir);
    await saveAll(store, sharedRunRuntimes(Date.now()));
    await store.claim('impl', 'worker-a', { leaseMs: 3_600_000 });
    await store.close();
    served = await serve(['--dir', dir, '--port', '0']);
    browser = await launchChromium(chromiumPath);
  });

  afterAll(async () => {
    await browser?.close();
    removeProfiles();
    if (served !== undefined) await stopServe(served);
    await killAll();
  });

  async function open(path: string): Promise<{ page: Page; incidents: Incidents }> {
    const page = await browser.newPage();
    const incidents = watch(page, served.url.replace(/\/$/, ''));
    await page.goto(`${served.url}${path.replace(/^\//, '')}`);
    await page.waitForSelector('#live-status[data-state="live"]');
    return { page, incidents };
  }

  it("should draw one row per task in the run's order, one bar per attempt coloured by outcome and labelled with its worker", async () => {
    const { page, incidents } = await open('/');
    expect((await visibleRows(page)).timeline).toEqual(SHARED_RUN_ORDER);
    const bars = await drawnBars(page);
    const shownWorker = `${SHOWN} worker`;
    expect(bars.map(({ row, class: cls, label }) => [row, cls, label])).toEqual([
      ['lint', 'bar outcome-failed', 'worker-c'],
      ['release', 'bar outcome-failed before-start', null],
      ['spec', 'bar outcome-pr_merged', 'worker-a'],
      ['impl', 'bar outcome-lost', 'worker-b'],
      ['impl', 'bar outcome-running open', 'worker-a'],
      ['tests', 'bar outcome-failed', shownWorker],
      ['tests', 'bar outcome-pr_created open', shownWorker],
    ]);
    // The colours are the palette's: the diagrams', the CLI's and the task page's.
    const fills = new Map(bars.map((bar) => [bar.class.split(' ')[1], bar.fill]));
    expect(fills.get('outcome-lost')).toBe(rgb(LOST_OUTCOME_COLOUR.fill));
    expect(fills.get('outcome-pr_merged')).toBe(rgb(STATUS_COLOURS.pr_merged.fill));
    expect(fills.get('outcome-running')).toBe(rgb(STATUS_COLOURS.running.fill));
    expect(fills.get('outcome-failed')).toBe(rgb(STATUS_COLOURS.failed.fill));
    // On one time axis: spec ran first (60 to 50 minutes ago); the open attempts reach the right end, now.
    const bar = (cls: string, row: string) =>
      bars.find((each) => each.class === cls && each.row === row) as DrawnBar;
    const spec = bar('bar outcome-pr_merged', 'spec');
    const lost = bar('bar outcome-lost', 'impl');
    const running = bar('bar outcome-running open', 'impl');
    const width = running.trackRight - running.trackLeft;
    expect(spec.left).toBeLessThan(spec.trackLeft + 0.03 * width);
    expect(spec.right).toBeLessThan(lost.left);
    expect(lost.right).toBeLessThanOrEqual(running.left);
    expect(running.right).toBeGreaterThan(running.trackRight - 0.03 * width);
    // Each worker's name is clipped to its bar, even the long one that does not fit.
    expect(bars.some((each) => each.labelLonger)).toBe(true);
    expect(bars.filter((each) => each.labelShowsPast)).toEqual([]);
    expect(await page.locator('#gantt').textContent()).toContain('no attempt yet');
    await page.waitForTimeout(300); // let an injected onerror fire, if any were there
    expect(await injectedElements(page)).toEqual([]);
    expect(incidents).toEqual({ dialogs: [], errors: [], foreignRequests: [] });
    await page.close();
  });

  it('should filter the timeline with the table', async () => {
    const { page } = await open('/');
    await page.selectOption('#filter-status', 'failed');
    expect(await visibleRows(page)).toEqual({
      table: ['lint', 'release'],
      timeline: ['lint', 'release'],
    });
    await page.selectOption('#filter-status', '');
    await page.fill('#filter-search', 'S');
    expect(await visibleRows(page)).toEqual({
      table: ['release', 'spec', 'docs', 'tests'],
      timeline: ['release', 'spec', 'docs', 'tests'],
    });
    await page.close();
  });

  it('should order by the latest change when asked, without a reload, and keep that order in the URL', async () => {
    const { page, incidents } = await open('/');
    expect((await visibleRows(page)).table).toEqual(SHARED_RUN_ORDER);
    await page.evaluate('window.notReloaded = true');
    const before = await refreshCount(page);
    await page.selectOption('#filter-sort', 'recent');
    await waitUntilTrue(
      page,
      `Number(document.body.dataset.refreshed ?? '0') > ${before}`,
      LIVE_WITHIN_MS,
    );
    expect(await visibleRows(page)).toEqual({
      table: SHARED_RUN_RECENT,
      timeline: SHARED_RUN_RECENT,
    });
    expect(new URL(page.url()).searchParams.get('sort')).toBe('recent');
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    await page.reload();
    expect((await visibleRows(page)).table).toEqual(SHARED_RUN_RECENT);
    expect(await page.locator('#filter-sort').inputValue()).toBe('recent');
    await page.selectOption('#filter-sort', 'run');
    await waitUntilTrue(
      page,
      `document.querySelector('tr.task-row')?.dataset.id === ${JSON.stringify(SHARED_RUN_ORDER[0])}`,
      LIVE_WITHIN_MS,
    );
    expect(new URL(page.url()).searchParams.has('sort')).toBe(false);
    expect(incidents.errors).toEqual([]);
    await page.close();
  });

  it('should show every time with its zone: table, ticks, tooltips, task page and the live indicator', async () => {
    for (const path of ['/', '/tasks/impl']) {
      const { page } = await open(path);
      const times = await textsOf(page, 'time');
      expect(times.length).toBeGreaterThan(0);
      for (const time of times) expect(time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      const ticks = await textsOf(page, '#gantt text.tick, #timeline g.tick text');
      expect(ticks.length).toBeGreaterThan(0);
      for (const tick of ticks) expect(tick).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      const tooltips = await textsOf(page, 'g.bar title');
      expect(
        tooltips.some((tooltip) => /started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/.test(tooltip)),
      ).toBe(true);
      await page.close();
    }
    const { page } = await open('/');
    const before = await refreshCount(page);
    await page.selectOption('#filter-sort', 'recent'); // any refresh writes when it was
    await waitUntilTrue(
      page,
      `Number(document.body.dataset.refreshed ?? '0') > ${before}`,
      LIVE_WITHIN_MS,
    );
    expect(await page.locator('#live-status').textContent()).toMatch(
      /^live · updated \d\d:\d\d:\d\d UTC$/,
    );
    await page.close();
  });

  it("should show a task page's lease and each attempt's worker, as text", async () => {
    const { page, incidents } = await open('/tasks/tests');
    expect(await textsOf(page, '#attempt-table td.worker-cell')).toEqual([
      `${SHOWN} worker`,
      `${SHOWN} worker`,
    ]);
    expect(await textsOf(page, '#timeline .worker-label')).toEqual([
      `${SHOWN} worker`,
      `${SHOWN} worker`,
    ]);
    expect(await page.locator('#lease-line').count()).toBe(0);
    await page.close();
    const impl = await open('/tasks/impl');
    expect(await impl.page.locator('#lease-line .lease').getAttribute('data-standing')).toBe(
      'held',
    );
    expect(await impl.page.locator('#lease-line .worker').textContent()).toBe('worker-a');
    expect(await injectedElements(impl.page)).toEqual([]);
    expect(incidents).toEqual({ dialogs: [], errors: [], foreignRequests: [] });
    await impl.page.close();
  });

  it('should say a worker is presumed lost once its lease expires, with nothing saved, and grow the open bars to now', async () => {
    const store = await FileTaskStore.open(dir);
    const lease = await store.claim('tests', HOSTILE_LEASE_WORKER, { leaseMs: SHORT_LEASE_MS });
    await store.close();
    if (lease === null) throw new Error('the claim should succeed');
    const { page, incidents } = await open('/');
    const lastTick = () => page.locator('#gantt text.tick').last().textContent();
    const cell = page.locator('tr[data-id="tests"] td.lease-cell .lease');
    expect(await cell.getAttribute('data-standing')).toBe('held');
    expect(await page.locator('tr[data-id="tests"] td.lease-cell .worker').textContent()).toBe(
      HOSTILE_LEASE_WORKER.replace('\u0000', '\u2400'),
    );
    const tickBefore = await lastTick();
    const revisionBefore = await page.locator('tr[data-id="tests"] td').last().textContent();
    await page.waitForSelector('tr[data-id="tests"] .lease[data-standing="lost"]', {
      timeout: Date.parse(lease.expiresAt) - Date.now() + LIVE_WITHIN_MS,
    });
    expect(await page.locator('tr[data-id="tests"] td.lease-cell').textContent()).toContain(
      'worker presumed lost',
    );
    // Nothing was saved: the revision is the same, and the axis now ends later (the open bars grew to now).
    expect(await page.locator('tr[data-id="tests"] td').last().textContent()).toBe(revisionBefore);
    expect(await lastTick()).not.toBe(tickBefore);
    expect(incidents).toEqual({ dialogs: [], errors: [], foreignRequests: [] });
    await page.close();
  });
});

describeWithChromium(
  "the run's outcome and a store that appears later, in Chromium",
  (chromiumPath) => {
    let browser: BrowserContext;

    beforeAll(async () => {
      browser = await launchChromium(chromiumPath);
    });

    afterAll(async () => {
      await browser?.close();
      removeProfiles();
      await killAll();
    });

    it("should show the run's outcome and follow it live", async () => {
      const dir = tempDir();
      const store = await FileTaskStore.open(dir);
      const merged = runtimeOf({ id: 'merged' });
      merged.markRunning();
      merged.markPrCreated('https://github.com/acme/app/pull/5');
      merged.markPrMerged();
      const revisions = await saveAll(store, [merged, runtimeOf({ id: 'open' })]);
      await store.close();
      const served = await serve(['--dir', dir, '--port', '0']);
      const writer = await startWriter({ dir });
      try {
        const page = await browser.newPage();
        await page.goto(served.url);
        await page.waitForSelector('#live-status[data-state="live"]');
        expect(await page.locator('#outcome').textContent()).toBe('in_progress');
        const failing = runtimeOf({ id: 'open' });
        failing.markRunning();
        failing.markFailed('gave up', { retryable: false });
        await writer.save('open', failing.persist(), revisions.get('open') ?? null);
        await page.waitForSelector('#outcome[data-outcome="completed_with_failures"]', {
          timeout: LIVE_WITHIN_MS,
        });
        expect(await page.locator('#outcome').textContent()).toBe('completed_with_failures');
        expect(
          await page.evaluate(
            "getComputedStyle(document.getElementById('outcome')).backgroundColor",
          ),
        ).toBe(rgb(STATUS_COLOURS.failed.fill));
        await page.close();
      } finally {
        await stopServe(served);
      }
    });

    it('should wait for a store that does not exist yet, and show it once it appears, without a reload by hand', async () => {
      const dir = join(tempDir(), 'made later');
      const served = await serve(['--dir', dir, '--port', '0']);
      try {
        const page = await browser.newPage();
        const response = await page.goto(served.url);
        expect(response?.status()).toBe(503);
        await page.waitForSelector('#live-status[data-state="live"]');
        expect(await page.locator('#waiting').textContent()).toContain(
          'the directory does not exist yet',
        );
        const store = await FileTaskStore.open(dir);
        await saveAll(store, [runtimeOf({ id: 'first-task' })]);
        await store.close();
        await page.waitForSelector('tr[data-id="first-task"]', { timeout: 5_000 });
        expect(await page.locator('h1').textContent()).toBe('Tasks');
        expect(await page.locator('#outcome').textContent()).toBe('in_progress');
        await page.close();
      } finally {
        await stopServe(served);
      }
    });
  },
);
