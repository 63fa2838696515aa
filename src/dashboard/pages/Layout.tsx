import type { Child } from 'hono/jsx';
import { visibleText } from '../text.js';

/** Props of {@link Layout}. */
export interface LayoutProps {
  /** The page's title, after "task-runtime". */
  readonly title: string;
  /** What the dashboard serves, e.g. the store directory. */
  readonly storeLabel: string;
  readonly children?: Child;
}

/**
 * The frame of every page: the stylesheet and the client script (both served by the command itself, no inline
 * script), the header with the store and the live indicator, and the page's content.
 */
export function Layout({ title, storeLabel, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${visibleText(title)} · task-runtime`}</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/dashboard.css" />
        <script type="module" src="/assets/dashboard.js" />
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">
            task-runtime
          </a>
          <span class="store" title="the task store this dashboard reads">
            {visibleText(storeLabel)}
          </span>
          <span id="live-status" class="live-status" data-state="connecting">
            connecting…
          </span>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
