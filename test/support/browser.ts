/** A real Chromium for tests: Debian's `chromium` from the PATH, driven by playwright-core. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { tempDirs } from './tempDir.js';

/** The flags every test browser starts with (besides its fresh --user-data-dir); `npm run screenshots` uses them too. */
export const CHROMIUM_FLAGS: readonly string[] = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'scripts', 'chromium-flags.json'), 'utf8'),
) as string[];

const HOW_TO_INSTALL =
  "install Debian's chromium package (`apt-get install -y chromium`; `.ci/run` does)";

/** The `chromium` binary on the PATH, or null when there is none. */
export function chromiumPath(): string | null {
  try {
    const path = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
    return path === '' ? null : path;
  } catch {
    return null;
  }
}

/** Whether the tests run in CI, where the browser tests must not be skipped. */
function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

const profiles = tempDirs('task-runtime-chromium-');

/** Starts Chromium with {@link CHROMIUM_FLAGS} and a fresh profile directory (removed by {@link removeProfiles}). */
export function launchChromium(executablePath: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profiles.make(), {
    executablePath,
    headless: true,
    args: [...CHROMIUM_FLAGS],
    viewport: { width: 1280, height: 900 },
  });
}

/** Removes the profile directories of the browsers started so far (close them first). */
export function removeProfiles(): void {
  profiles.removeAll();
}

/**
 * `describe(name, fn)` when Chromium is on the PATH, with its path. Without it the suite fails in CI (one failing
 * test saying how to install it) and is skipped elsewhere, with a visible warning and a todo in the summary.
 */
export function describeWithChromium(name: string, fn: (executablePath: string) => void): void {
  const path = chromiumPath();
  if (path !== null) {
    describe(name, () => fn(path));
  } else if (inCi()) {
    describe(name, () => {
      it('should run in a real browser', () => {
        throw new Error(
          `The browser tests must run in CI, but there is no chromium on the PATH: ${HOW_TO_INSTALL}.`,
        );
      });
    });
  } else {
    console.warn(
      `Skipped the browser tests of ${name}: no chromium on the PATH; to run them, ${HOW_TO_INSTALL}.`,
    );
    describe(name, () => {
      it.todo(`run the browser tests: ${HOW_TO_INSTALL}`);
    });
  }
}
