#!/usr/bin/env node
/*
 * `npm run screenshots`: runs the demo into a temporary store, serves it with `task-runtime serve`, and saves PNG
 * screenshots of the overview and of one task page in docs/, which the README shows. Needs Debian's `chromium`
 * on the PATH (driven by playwright-core) and a build (`npm run screenshots` builds first).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = join(root, 'dist', 'cli', 'main.js');
/** A task with three attempts (two retried failures, then a final one) in the demo's default run. */
const TASK = 'tests-search';

function chromiumPath() {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      "No `chromium` on the PATH: install Debian's package (apt-get install -y chromium).",
    );
  }
}

/** Starts `task-runtime serve` on any free port; resolves with the child and the URL it printed. */
function serve(cwd) {
  const child = spawn(process.execPath, [main, 'serve', '--port', '0'], {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /at (http:\/\/\S+)/.exec(out);
      if (match) resolve({ child, url: match[1] });
    });
    child.on('exit', (code) =>
      reject(new Error(`serve exited (${code}) before it listened:\n${out}`)),
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), 'task-runtime-screenshots-'));
const userDataDir = mkdtempSync(join(tmpdir(), 'task-runtime-chromium-'));
let server;
let context;
try {
  // In a temporary working directory with the default --dir, so the pages show `.task-runtime` as users see it.
  execFileSync(process.execPath, [main, 'demo', '--delay-ms', '0'], { cwd: dir, stdio: 'ignore' });
  server = await serve(dir);
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: JSON.parse(readFileSync(join(root, 'scripts', 'chromium-flags.json'), 'utf8')),
  });
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForSelector('#live-status[data-state="live"]');
  await page.screenshot({ path: join(root, 'docs', 'dashboard-overview.png'), fullPage: true });
  await page.goto(`${server.url}tasks/${TASK}`);
  await page.waitForSelector('#timeline');
  await page.screenshot({ path: join(root, 'docs', 'dashboard-task.png'), fullPage: true });
  console.log('Wrote docs/dashboard-overview.png and docs/dashboard-task.png');
} finally {
  await context?.close();
  server?.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  rmSync(userDataDir, { recursive: true, force: true });
}
