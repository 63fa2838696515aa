import { readFileSync } from 'node:fs';
import { dashboardCss } from './styles.js';

/** A file the dashboard serves under `/assets/`. */
export interface Asset {
  readonly type: string;
  body(): string;
}

/** A green dot on a dark square: the tab icon (and no request for a missing /favicon.ico). */
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f2328"/><circle cx="8" cy="8" r="4" fill="#16a34a"/></svg>';

let clientScript: string | null = null;

/**
 * The hand-written client script, next to this module in dist/ (tsc copies it with allowJs), read once; the
 * source map comment tsc appends is dropped, as the map is not served.
 */
function readClientScript(): string {
  clientScript ??= readFileSync(new URL('./client/dashboard.js', import.meta.url), 'utf8').replace(
    /\n\/\/# sourceMappingURL=\S+\s*$/,
    '\n',
  );
  return clientScript;
}

/**
 * The assets by name. A request names one of these keys or gets a 404: no request path ever reaches the file
 * system, so no encoding of `..` can leave this list.
 */
const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['dashboard.js', { type: 'text/javascript; charset=utf-8', body: readClientScript }],
  ['dashboard.css', { type: 'text/css; charset=utf-8', body: dashboardCss }],
  ['favicon.svg', { type: 'image/svg+xml', body: () => FAVICON }],
]);

/** The asset called `name`, or null. */
export function assetNamed(name: string): Asset | null {
  return ASSETS.get(name) ?? null;
}
